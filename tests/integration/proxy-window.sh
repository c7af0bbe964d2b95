# The window the client is offered ends where the SVM's does (compare.c,
# clamp_window).  The client's bytes go to both VMs, but it sees only the
# PVM's window.  Here the SVM's receive buffer is at most 32 KB (tcp_rmem in
# its namespace) while the PVM's grows to 6 MB, as when the SVM's host is
# busier: a client sending by the PVM's window would send past the SVM's,
# the SVM would drop those bytes, and the PVM's acknowledgement of them would
# be held until the SVM had them, which only the client's retransmission
# timeout or a checkpoint brings about.  With the clamp (the default) an
# upload runs without one checkpoint request.  With --no-window-clamp the
# SVM drops, and the secondary's repair (resend.h) sends the dropped
# segments again: still no request.  With neither, the same upload makes
# the proxy ask for a checkpoint - the fault both exist for, shown on the
# same machine.  In-line layout (xl-colo's default), two OVS instances.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
NL=$COLO_BUILDDIR/tests/integration/colo-netload
OVS_HOSTS=${OVS_HOSTS:-2} OVS_LAYOUT=${OVS_LAYOUT:-inline}
. "$(dirname "$0")/ovs-lib.bash"
trap 'ovs_cleanup; cleanup' EXIT

ovs_begin "the layout is set up: LAN, primary and secondary bridges, vifs plugged" protect
check "the SVM's TCP receive buffer is at most 32 KB (tcp_rmem in its namespace)" \
    ip netns exec "$NS" sysctl -q -w net.ipv4.tcp_rmem="4096 16384 32768"

in_ns() { local n=$1; shift; ip netns exec "$n" timeout 60 "$@"; }
# Segments the SVM's kernel dropped for lying past its receive window.
beyond() { ip netns exec "$NS" nstat -asz TcpExtBeyondWindow | awk '$1 == "TcpExtBeyondWindow" { print $2 }'; }
requests() { sed -n 's/.*"requests":{\([^}]*\)}.*/\1/p' "$1"; }

# 1. The clamp: a 3 s upload, no checkpoint asked for, nothing left held.
ovs_servers 8090
ovs_proxies w1 --svm-lag 500
b0=$(beyond)
out=$(in_ns "$NC" "$NL" upload $VM_IP 8090 3)
b1=$(beyond)
sleep 0.5
ovs_stop_proxies
mb=$(awk '$1 == "MBps" { print int($4 / 1000000) }' <<< "$out")
check "a 3 s upload through the proxies reached the PVM ($out)" test "${mb:-0}" -ge 1
check "no checkpoint was asked for ($(requests "$WORK/w1.out"))" \
    grep -q '"requests":{"divergence":0,"svm-lag":0,"queue-full":0}' "$WORK/w1.out"
cl=$(json_num "$WORK/w1.out" window_clamped)
check "the proxy lowered the PVM's window to the SVM's ($cl frames)" test "${cl:-0}" -gt 0
check "no divergence, and nothing left held" \
    grep -q '"held":0,.*"divergences":0,' "$WORK/w1.out"
echo "(SVM: $((b1 - b0)) segments past its window with the clamp)"

# 2. Without it: the SVM drops what lies past its window.  The secondary's
#    repair (resend.c) sends those segments again once the SVM's window
#    opens over them, so the SVM catches up without a checkpoint.
ovs_servers 8091
ovs_proxies w2 --svm-lag 500 --no-window-clamp
b0=$(beyond)
out=$(in_ns "$NC" "$NL" upload $VM_IP 8091 2)
b1=$(beyond)
sleep 0.5
ovs_stop_proxies
mb=$(awk '$1 == "MBps" { print int($4 / 1000000) }' <<< "$out")
check "--no-window-clamp: the SVM dropped segments past its window ($((b1 - b0)))" test $((b1 - b0)) -gt 0
rs=$(json_num "$WORK/w2.sec.out" repair_resent)
check "... the secondary sent the client's segments to the SVM again ($rs)" test "${rs:-0}" -gt 0
check "... the upload went through ($out)" test "${mb:-0}" -ge 1
check "... and no checkpoint was asked for ($(requests "$WORK/w2.out"))" \
    grep -q '"requests":{"divergence":0,"svm-lag":0,"queue-full":0}' "$WORK/w2.out"
check "... its window was left alone" grep -q '"window_clamped":0,' "$WORK/w2.out"

# 3. Neither clamp nor repair: the PVM's acknowledgements wait for bytes
#    the SVM dropped until the proxy asks for a checkpoint.
ovs_servers 8092
SEC_ARGS="--repair-buffer 0" ovs_proxies w3 --svm-lag 500 --no-window-clamp
b0=$(beyond)
# (6 s: a stalled upload would otherwise wait 20 s for its socket timeout)
out=$(ip netns exec "$NC" timeout 6 "$NL" upload $VM_IP 8092 2 2> /dev/null)
b1=$(beyond)
ovs_stop_proxies
check "--no-window-clamp, --repair-buffer 0: the SVM dropped segments past its window ($((b1 - b0)))" \
    test $((b1 - b0)) -gt 0
check "... nothing was sent again" grep -q '"repair":false,.*"repair_resent":0,' "$WORK/w3.sec.out"
check "... and the proxy asked for a checkpoint for SVM lag ($(requests "$WORK/w3.out"))" \
    grep -q '"svm-lag":[1-9]' "$WORK/w3.out"

check "no crash: both proxies of all three runs ended with their statistics" \
    test "$(grep -l '{' "$WORK"/w[123].out "$WORK"/w[123].sec.out | wc -l)" = 6
check "no sanitizer report from either proxy" \
    test -z "$(grep -l -E 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' "$WORK"/w*.err)"
echo "(${SECONDS}s)"
