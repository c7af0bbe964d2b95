# colo-proxy on Open vSwitch: the layout of docs/networking.md, set up by
# the hotplug scripts in a private OVS (userspace datapath), with real
# kernels in namespaces as client, PVM and SVM.  The client talks to the VM
# through the LAN bridge; OVS delivers its frames to the PVM and, over the
# forward link and through the secondary's rewriter, to the SVM; the PVM's
# output reaches the client only through the proxy.  OVS_HOSTS=2 runs it
# with the secondary host in an OVS instance of its own (ovs-lib.bash);
# with OVS_LAYOUT=inline too (proxy-inline.sh), the proxies sit between the
# bridges and the VMs (the hotplug script's layout=inline).
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
NL=$COLO_BUILDDIR/tests/integration/colo-netload
FAKE="/usr/bin/python3 $COLO_SRCDIR/tests/integration/fake-engine.py"
. "$(dirname "$0")/ovs-lib.bash"
trap 'ovs_cleanup; cleanup' EXIT

ovs_begin "the layout is set up: LAN, primary and secondary bridges, vifs plugged" protect

in_ns() { local n=$1; shift; ip netns exec "$n" timeout 170 "$@"; }
svm_stop() { local p; for p in $(ip netns pids "$NS"); do kill -"$1" "$p"; done; }
port_count() {  # port_count PORT rx|tx: frames OVS counted on a port of brp
    ovs-ofctl dump-ports brp "$(ovs-vsctl get Interface "$1" ofport)" |
        sed -n "s/.*$2 pkts=\([0-9]*\).*/\1/p"
}
pvm_frames() {  # frames the PVM has sent towards the proxy so far
    if [ "$OVS_LAYOUT" = inline ]; then
        sw cat /sys/class/net/vif1.0/statistics/rx_packets
    else
        port_count vif1.0-xp tx
    fi
}
# The end of the run: each of the N proxies steps 1-LAST started ended with
# its statistics, and no sanitizer spoke.
proxies_ended() {   # LAST N
    local nostats
    nostats=$(cd "$WORK" && grep -L '{' p[1-$1].out p[1-$1].sec.out | tr '\n' ' ')
    check "no crash: every proxy ended with its statistics (${nostats:+none from }${nostats:-all $2 did})" \
        test -z "$nostats" -a "$(ls "$WORK"/p[1-$1].out "$WORK"/p[1-$1].sec.out | wc -l)" = "$2"
    check "no sanitizer report from either proxy" \
        test -z "$(grep -l -E 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' "$WORK"/p*.err)"
}
engine() {      # engine NAME DELAY-MS [early]: a fake engine's control socket
    bg "$1" 170 $FAKE "$WORK/$1.ctl" "$2" ${3:-}
    for _ in $(seq 50); do [ -S "$WORK/$1.ctl" ] && return 0; sleep 0.1; done
    return 1
}
elapsed() { echo "$2 - $1" | bc; }     # elapsed FROM TO (seconds)

# 1. 10,000 requests over 200 connections (50 at a time), then 1,000
#    connections open at once: everything answered, no divergence, no
#    checkpoint, although the SVM's MTU (1000) makes it segment differently
#    and each kernel picks its own initial sequence numbers.
ovs_servers 8080
ovs_proxies p1 --svm-lag 2000
out=$(in_ns "$NC" "$NL" requests $VM_IP 8080 200 50 50 120)
check "10,000 requests over 200 connections answered through OVS and the proxy ($out)" grep -q "^ok 10000 " <<< "$out"
out=$(in_ns "$NC" "$NL" requests $VM_IP 8080 1000 2 1000 120 hold)
check "1,000 concurrent connections, all established at once and answered ($out)" \
    test "$out" = "ok 2000 max-open 1000"
out=$(in_ns "$NC" "$NL" download $VM_IP 8080 20000000)
check "a 20 MB download, the VM closing first ($out)" grep -q "bytes 20000000 " <<< "$out"
sleep 0.5
ovs_stop_proxies
check "... and its last acknowledgement released too: nothing left held" grep -q '"held":0,' "$WORK/p1.out"
check "no false divergence (different MSS, segmentation and ISNs)" grep -q '"divergences":0' "$WORK/p1.out"
check "no checkpoint was asked for" eval 'grep -q "\"checkpoints\":0," "$WORK/p1.out" &&
    ! grep -q "asking for a checkpoint" "$WORK/p1.err"'
tr=$(json_num "$WORK/p1.sec.out" translated)
check "the SVM's ISNs differed: the rewriter translated $tr of 1,200 connections" test "${tr:-0}" -ge 1000

echo "(${SECONDS}s)"
# 2. The SVM answers one request differently: a checkpoint is asked for at
#    once (long before the SVM-lag timeout), and no byte of the answer leaves
#    before the checkpoint is done; then the PVM's answer does.
ovs_servers 8081 secret
engine e2 1500 early
ovs_proxies p2 --engine "unix:$WORK/e2.ctl" --svm-lag 5000
ans=$(in_ns "$NC" "$NL" ask $VM_IP 8081 tell-secret 10)
sent=$(sed -n 's/^sent //p' <<< "$ans")
got=$(sed -n 's/^answer \([0-9.]*\) .*/\1/p' <<< "$ans")
req=$(sed -n 's/^request divergence //p' "$WORK/e2.out" | head -1)
done_at=$(sed -n 's/^done //p' "$WORK/e2.out" | head -1)
check "divergence: a checkpoint request within the timeout ($(elapsed "$sent" "${req:-0}") s after the request)" \
    test -n "$req" -a "$(echo "${req:-99999} - $sent < 1.0" | bc)" = 1
check "divergence: nothing released before checkpoint-done ($(elapsed "${done_at:-0}" "${got:-0}") s after it)" \
    test -n "$got" -a -n "$done_at" -a "$(echo "${got:-0} >= ${done_at:-99999}" | bc)" = 1
check "divergence: then the PVM's answer, not the SVM's" grep -q "answer .* RESP 0 tell-secret tell-secret" <<< "$ans"
check "the proxy subscribed to checkpoints and answered CHECKPOINT_DONE 1 once it had released" \
    grep -q "^answer 1 " "$WORK/e2.out"
check "a CHECKPOINT_DONE sent before the subscription took was neither acted on nor answered" \
    eval 'grep -q "committed before our subscription took" "$WORK/p2.err" && ! grep -q "^answer 0 " "$WORK/e2.out"'
ovs_stop_proxies

echo "(${SECONDS}s)"
# 3. A silent SVM (its server stopped; its kernel still acknowledges): a
#    checkpoint request once the SVM-lag timeout (500 ms) has passed.
ovs_servers 8082
engine e3 200
ovs_proxies p3 --engine "unix:$WORK/e3.ctl" --svm-lag 500
svm_stop STOP
ans=$(in_ns "$NC" "$NL" ask $VM_IP 8082 hello 10)
sent=$(sed -n 's/^sent //p' <<< "$ans")
req=$(sed -n 's/^request svm-lag //p' "$WORK/e3.out" | head -1)
check "SVM silent: a checkpoint request after the timeout ($(elapsed "$sent" "${req:-0}") s)" \
    test -n "$req" -a "$(echo "${req:-0} - $sent >= 0.5 && ${req:-0} - $sent < 2.5" | bc)" = 1
check "SVM silent: the PVM's answer released after the checkpoint" grep -q "answer .* RESP 0 hello hello" <<< "$ans"
ovs_stop_proxies

echo "(${SECONDS}s)"
# 4. The held-bytes cap: 2 MB from the PVM while the SVM stays silent; the
#    proxy asks (queue-full) each time it holds 8 KiB - less than TCP's
#    first flight, so that every flight reaches it - and drops nothing:
#    every frame OVS gave the proxy was released or is still held, every
#    frame released reached OVS, every byte reached the client.  The cap
#    drives the checkpoints: the first request is queue-full, and most are.
#    One svm-lag request may follow a TCP timeout of the PVM, whose flight
#    then shrinks below the cap while the SVM says nothing: the lag timer
#    (10 s here) is what frees it then, as it should (seen once in CI,
#    under ASan: 26 queue-full, 1 svm-lag, 10.6 s).
ovs_servers 8083
engine e4 20
ovs_proxies p4 --engine "unix:$WORK/e4.ctl" --svm-lag 10000 --max-held 8192
svm_stop STOP
xp0=$(pvm_frames)
out=$(in_ns "$NC" "$NL" download $VM_IP 8083 2000000)
xp1=$(pvm_frames)
ovs_stop_proxies
svm_stop CONT
n=$(grep -c "^request queue-full" "$WORK/e4.out")
l=$(grep -c "^request svm-lag" "$WORK/e4.out")
first=$(sed -n 's/^request \([a-z-]*\).*/\1/p' "$WORK/e4.out" | head -1)
check "queue cap: checkpoint requests for queue-full ($n, the first), svm-lag $l (0, or 1 after a TCP timeout)" \
    test "$n" -ge 1 -a "$first" = queue-full -a "$l" -le 1
check "queue cap: all 2,000,000 bytes reached the client ($out)" grep -q "bytes 2000000 " <<< "$out"
rel=$(json_num "$WORK/p4.out" released) held=$(json_num "$WORK/p4.out" held)
check "queue cap: no frame dropped in the proxy ($rel released + $held held >= $((xp1 - xp0)) received)" \
    test "$((${rel:-0} + ${held:-0}))" -ge "$((xp1 - xp0))" -a "$((xp1 - xp0))" -gt 100

echo "(${SECONDS}s)"
# 5. The secondary lost: failover on the primary puts the PVM straight on
#    the bridge, no proxy in the path; then the vif is protected again.
ovs_servers 8084
sw "$HOTPLUG/colo-ovs-setup" failover bridge=brp vifname=vif1.0
out=$(in_ns "$NC" "$NL" requests $VM_IP 8084 10 10 5 30)
check "primary failover: the PVM answers with no proxy running ($out)" grep -q "^ok 100 " <<< "$out"
sw "$HOTPLUG/colo-ovs-setup" teardown bridge=brp vifname=vif1.0
ports=$(ovs-vsctl list-ports brp) flows=$(ovs-ofctl dump-flows brp)
check "teardown removes the proxy ports and every flow of the vif" \
    eval '[ -n "$ports" ] && [ -n "$flows" ] && ! grep -q -- -x <<< "$ports" && ! grep -q c0100000 <<< "$flows"'
check "... and the vif can be protected again" sw "$HOTPLUG/colo-ovs-setup" setup mode=primary bridge=brp \
    vifname=vif1.0 forwarddev=p-fwd mac=$VM_MAC layout=$OVS_LAYOUT

echo "(${SECONDS}s)"
# 6. The primary host dies: its uplink is cut, the secondary fails over.  A
#    connection opened before (the client knows the PVM's sequence numbers)
#    carries on with the SVM; new ones too; the LAN learns where the MAC is.
ovs_servers 8085
ovs_proxies p6 --svm-lag 2000
ovs_keep_open 8085
ovs-vsctl del-port brn n-p                              # the primary host is gone
ovs_stop_pid "$PRI"
ovs_secondary_failover "$WORK/p6.sctl" brs
fdb=$(ovs-appctl fdb/show brn | awk -v m=$VM_MAC '$3 == m { print $1 }')
check "the announce taught the LAN that the VM's MAC is behind the secondary now (port $fdb)" \
    test -n "$fdb" -a "$fdb" = "$(ovs-vsctl get Interface n-s ofport)"
ovs_keep_check
out=$(in_ns "$NC" "$NL" requests $VM_IP 8085 20 10 10 30)
check "new connections are answered by the SVM ($out)" grep -q "^ok 200 " <<< "$out"
ovs_stop_pid "$SEC"
check "the rewriter went on translating after failover" grep -q '"failed_over":true' "$WORK/p6.sec.out"
if [ "$OVS_LAYOUT" = inline ]; then
    check "in-line: the rewriter ran with its uplink, the SVM's way to the bridge after failover" \
        grep -q '"uplink":true' "$WORK/p6.sec.out"
fi
proxies_ended 6 10     # (step 5 runs none)
echo "proxy-ovs.sh: ${SECONDS}s"
