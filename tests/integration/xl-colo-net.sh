# xl-colo wires a protected domain's vifs: `xl-colo remus -c -N SCRIPT`
# runs the COLO proxy script per vif and starts the comparator on the
# primary; the secondary engine's --on-svm command does the same for the
# SVM (script setup, the rewriter) before the SVM runs; failover switches
# the flows from the engines' --on-failover; a clean stop undoes it all.
#
# Real pieces: a private Open vSwitch (the layout of ovs-lib.bash, both
# hosts' bridges in one ovs-vswitchd), the client, PVM and SVM as network
# namespaces with kernel TCP, colo-proxy, the engines.  The domains are sim
# domains (vm1 has domid 1, so its vif is vif1.0; the SVM is given domid 2,
# vif2.0); their "network" is the namespaces'.  The site's script maps the
# xl.cfg's bridge and forward link to this machine's names (two hosts would
# have the same names) and calls the project's colo-ovs-setup.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ovs-lib.bash"
# The daemons xl-colo leaves running by design (the secondary engine, the
# proxies) name $WORK on their command lines.
trap 'pkill -f -- "$WORK/"; ovs_cleanup; cleanup' EXIT
X=$COLO_BUILDDIR/tools/xl-colo
NL=$COLO_BUILDDIR/tests/integration/colo-netload

if ! ovs_start; then
    fail "a private Open vSwitch starts" "$(cat "$OVS_DIR"/*.err 2> /dev/null | head -3)"
    exit 0
fi
check "the layout is set up: LAN, primary and secondary bridges, the VMs' ports" ovs_layout

mkdir -p "$WORK/log" "$WORK/pri" "$WORK/sec"
cat > "$WORK/site-script" <<EOF
#!/bin/bash
# What xl-colo passed, then the project's script with this machine's names.
echo "\$1 mode=\$mode vifname=\$vifname bridge=\$bridge forwarddev=\$forwarddev mac=\$mac index=\$index" >> "$WORK/script.log"
case \$mode in
primary) bridge=brp forwarddev=p-fwd ;;
secondary) bridge=brs forwarddev=s-fwd ;;
esac
export bridge forwarddev
exec "$HOTPLUG/colo-ovs-setup" "\$@"
EOF
chmod +x "$WORK/site-script"
printf 'name = "vm1"\ntype = "hvm"\nmemory = 24\nvif = [ '"'"'mac=%s, bridge=xenbr0, forwarddev=eth1'"'"' ]\n' \
    "$VM_MAC" > "$WORK/vm1.cfg"
export XL_COLO_BACKEND=sim XL_COLO_SIM_DOMAINS=vm1 XL_COLO_SIM_SVM_DOMID=2 \
    XL_COLO_LOGDIR=$WORK/log XL_COLO_ENGINE=$ENGINE XL_COLO_PROXY=$COLO_BUILDDIR/proxy/colo-proxy \
    XL_COLO_RUNDIR=$WORK/pri
RECV="XL_COLO_RUNDIR=$WORK/sec $X migrate-receive --colo --coloft-script $WORK/site-script --listen 127.0.0.1:0 --peer-timeout 1000"

cookie_flows() {    # cookie_flows BR: the COLO flows on a bridge
    sw ovs-ofctl dump-flows "$1" | grep -c "cookie=0xc010"
}
in_ns() { local n=$1; shift; ip netns exec "$n" timeout 60 "$@"; }
servers() {     # the same server in both VMs
    in_ns "$NP" "$NL" serve 8080 > /dev/null 2>&1 & PIDS+=($!)
    in_ns "$NS" "$NL" serve 8080 > /dev/null 2>&1 & PIDS+=($!)
    ovs_listening "$NP" 8080 && ovs_listening "$NS" 8080
}
ask() { in_ns "$NC" "$NL" ask "$VM_IP" 8080 "$1" 5 2>&1 | tr '\n' ' '; }
proxy_pid() { cat "$WORK/$1/vm1.vif0.pid" 2> /dev/null; }
status() { "$CTL" -c "unix:$WORK/$1/vm1.vif0.ctl" status --json 2> /dev/null; }
remus() {       # remus LOG: xl-colo remus -c in the switch's namespace
    ip netns exec "$SW" timeout 120 "$X" remus -c -i 500 -N "$WORK/site-script" -C "$WORK/vm1.cfg" \
        -s '' vm1 "$RECV" > "$WORK/$1.out" 2> "$WORK/$1.err" &
    REMUS=$!; PIDS+=($REMUS)
}
servers || fail "the VMs' servers listen"

# 1. Protection wires both hosts.
remus r1
if wait_for "$WORK/r1.err" "is protected by COLO" 30; then pass "vm1 protected, vif wired"
else fail "vm1 protected, vif wired" "$(tail -5 "$WORK/r1.err" | tr '\n' ' ')"; fi
check "the script ran setup for the PVM with libxl's environment: $(grep -m1 "^setup mode=primary" "$WORK/script.log")" \
    grep -q "^setup mode=primary vifname=vif1.0 bridge=xenbr0 forwarddev=eth1 mac=$VM_MAC index=0$" "$WORK/script.log"
check "... and, from the secondary engine's --on-svm, for the SVM: $(grep -m1 "^setup mode=secondary" "$WORK/script.log")" \
    grep -q "^setup mode=secondary vifname=vif2.0 bridge=xenbr0 forwarddev=eth1 mac=$VM_MAC index=0$" "$WORK/script.log"
slog=$WORK/log/colo-vm1-secondary.log
fin=$(grep -n -m1 "the --on-svm command finished" "$slog" | cut -d: -f1)
run=$(grep -n -m1 "the SVM runs for the first time" "$slog" | cut -d: -f1)
check "the SVM's setup was done before the SVM first ran (its log, lines ${fin:-?} and ${run:-?})" \
    test "${fin:-0}" -gt 0 -a "${run:-0}" -gt "${fin:-0}"
check "COLO flows on both bridges (brp $(cookie_flows brp), brs $(cookie_flows brs))" \
    test "$(cookie_flows brp)" -ge 5 -a "$(cookie_flows brs)" -ge 4
# A proxy subscribes once its engine answers on the control socket, which
# an engine busy with a checkpoint does a little later (once in four runs
# the rewriter was not subscribed yet when the check came): up to 5 s.
subscribed() {  # subscribed pri|sec ROLE: wait for it, then say
    local i
    for i in $(seq 50); do
        grep -q "\"role\":\"$2\".*\"subscribed\":true" <<<"$(status "$1")" && return 0
        sleep 0.1
    done
    return 1
}
subscribed pri proxy
check "the comparator runs, subscribed to the primary engine: $(status pri | head -c 120)" \
    grep -q '"role":"proxy".*"subscribed":true' <<<"$(status pri)"
subscribed sec proxy-secondary
check "the rewriter runs, subscribed to the secondary engine: $(status sec | head -c 120)" \
    grep -q '"role":"proxy-secondary","subscribed":true' <<<"$(status sec)"
# xl-colo blocks SIGTERM for itself (a signalfd); the proxies it starts must
# not inherit that, or a stop could only kill them.
blk=$(awk '/^SigBlk:/ { print $2 }' "/proc/$(proxy_pid pri)/status" 2> /dev/null)
check "the comparator does not inherit xl-colo's blocked signals (SigBlk ${blk:-?})" \
    test -n "$blk" -a "$(( 0x${blk:-0} & 0x4000 ))" -eq 0
ans=$(ask hello)
check "a client request is answered through the comparator: $ans" grep -q "answer .* RESP 0 hello" <<<"$ans"
rel=$(status pri | sed -n 's/.*"released":\([0-9]*\).*/\1/p')
check "... which released the PVM's answer (released $rel frames)" test "${rel:-0}" -gt 0
sleep 1.2      # a few periodic checkpoints (-i 500)
ck=$(status pri | sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p')
check "the comparator took part in the periodic checkpoints ($ck)" test "${ck:-0}" -ge 2
check "... none went unanswered" eval '! grep -q "did not answer" "$WORK/log/colo-vm1-primary.log"'

# 2. A clean stop undoes everything on both hosts.
kill -TERM "$REMUS"
for _ in $(seq 100); do kill -0 "$REMUS" 2> /dev/null || break; sleep 0.1; done
wait "$REMUS"; rc=$?
check "stop: xl-colo exits 0" test "$rc" -eq 0
wait_for "$WORK/script.log" "^teardown mode=secondary" 15
for _ in $(seq 100); do pgrep -f "colo-engine secondary .*$WORK/sec/" > /dev/null || break; sleep 0.1; done
check "stop: the script tore down the PVM's vif" grep -q "^teardown mode=primary vifname=vif1.0" "$WORK/script.log"
check "stop: ... and the SVM's, from the secondary engine's svm-destroyed" \
    grep -q "^teardown mode=secondary vifname=vif2.0" "$WORK/script.log"
sleep 0.5
check "stop: no COLO flow left (brp $(cookie_flows brp), brs $(cookie_flows brs))" \
    test "$(cookie_flows brp)" -eq 0 -a "$(cookie_flows brs)" -eq 0
check "stop: the comparator ended with its final status, not killed" \
    eval '! grep -q "did not stop" "$WORK/r1.err" && grep -q "\"role\":\"proxy\"" "$WORK/log/colo-vm1-primary-vif0.log"'
left=$(pgrep -f "colo-proxy.*vif[12].0-x" | tr '\n' ' ')$(find "$WORK/pri" "$WORK/sec" -mindepth 1 | tr '\n' ' ')
check "stop: no proxy, pid file, socket or plan left${left:+ (left: $left)}" test -z "$left"
ip -n "$NS" link set vif2.0 down   # the SVM was destroyed (the sim's "VM" is a namespace)
ans=$(ask after-stop)
check "stop: the PVM answers on the bridge directly: $ans" grep -q "answer .* RESP 0 after-stop" <<<"$ans"

# 3. Failover: the primary host dies; the secondary takes over and its
#    --on-failover switches the rewriter, then the flows.
: > "$WORK/script.log"
ip -n "$NS" link set vif2.0 up     # a new SVM
remus r2
wait_for "$WORK/r2.err" "is protected by COLO" 30 || fail "vm1 protected again" "$(tail -3 "$WORK/r2.err")"
pp=$(proxy_pid pri)
kill -9 "$REMUS" $(pgrep -f "colo-engine primary .*$WORK/pri/") $pp 2> /dev/null   # the whole host
ip -n "$NP" link set vif1.0 down                                            # ... and its VM
wait_for "$WORK/script.log" "^failover mode=secondary" 15
check "failover: the secondary's command switched the SVM's flows: $(grep "^failover" "$WORK/script.log")" \
    grep -q "^failover mode=secondary vifname=vif2.0" "$WORK/script.log"
check "failover: the rewriter was told first and translates: $(status sec | head -c 100)" \
    grep -q '"failed_over":true' <<<"$(status sec)"
ans=$(ask after-failover)
check "failover: the client is answered, by the SVM now: $ans" grep -q "answer .* RESP 0 after-failover" <<<"$ans"

# 4. Bad use: a script that refuses the vif stops protection before the
#    engine starts, says why, and leaves nothing.
cat > "$WORK/refusing-script" <<'EOF'
#!/bin/sh
echo "colo-ovs-setup: bridge 'xenbr0' does not exist" >&2
exit 1
EOF
chmod +x "$WORK/refusing-script"
ip netns exec "$SW" timeout 60 "$X" remus -c -N "$WORK/refusing-script" -C "$WORK/vm1.cfg" -s '' vm1 \
    "XL_COLO_RUNDIR=$WORK/sec3 $X migrate-receive --colo --coloft-script $WORK/refusing-script --listen 127.0.0.1:0" \
    > /dev/null 2> "$WORK/r3.err"; rc=$?
check "a script that fails at setup: protection refused (exit $rc), its message and the vif named" \
    eval 'test "$rc" -eq 1 && grep -q "bridge .xenbr0. does not exist" "$WORK/r3.err" &&
          grep -q "refusing-script setup (vif 0: vif1.0 on xenbr0) exited with status 1" "$WORK/r3.err"'
check "... and nothing of it is left running" test -z "$(pgrep -f "colo-engine .*sec3")"
ip netns exec "$SW" timeout 60 "$X" remus -c -N "$WORK/site-script" -C "$WORK/vm1.cfg" -s '' vm1 \
    "XL_COLO_RUNDIR=$WORK/sec4 $X migrate-receive --colo --listen 127.0.0.1:0" > /dev/null 2> "$WORK/r4.err"; rc=$?
check "a receiving side without the script refuses to build an SVM it could not wire (exit $rc)" \
    eval 'test "$rc" -eq 1 && grep -q "no --coloft-script came with it: the SVM.s vifs would not be wired" "$WORK/r4.err"'
left=$(find "$WORK/pri" "$WORK/sec4" -mindepth 1 2> /dev/null | tr '\n' ' ')
check "... and the sending side undid its own wiring${left:+ (left: $left)}" \
    test -z "$left" -a "$(cookie_flows brp)" -eq 0
