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

ovs_begin "the layout is set up: LAN, primary and secondary bridges, the VMs' ports"

mkdir -p "$WORK/log" "$WORK/pri" "$WORK/sec"
cat > "$WORK/site-script" <<EOF
#!/bin/bash
# What xl-colo passed, then the project's script with this machine's names.
echo "\$1 mode=\$mode vifname=\$vifname bridge=\$bridge forwarddev=\$forwarddev mac=\$mac index=\$index layout=\$layout" >> "$WORK/script.log"
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
# (inline is xl-colo's default: xl-colo-inline.sh gives no option)
LAYOUT_OPT=()
[ "$OVS_LAYOUT" = inline ] || LAYOUT_OPT=(--net-layout "$OVS_LAYOUT")
RECV="XL_COLO_RUNDIR=$WORK/sec $X migrate-receive --colo --coloft-script $WORK/site-script --listen 127.0.0.1:0 --peer-timeout 1000 ${LAYOUT_OPT[*]}"

cookie_flows() {    # cookie_flows BR: the COLO flows on a bridge
    sw ovs-ofctl dump-flows "$1" | grep -c "cookie=0xc010"
}
in_ns() { local n=$1; shift; ip netns exec "$n" timeout 60 "$@"; }
servers() {     # the same server in both VMs
    in_ns "$NP" "$NL" serve 8080 > /dev/null 2>&1 & PIDS+=($!)
    in_ns "$NS" "$NL" serve 8080 > /dev/null 2>&1 & PIDS+=($!)
    ovs_listening "$NP" 8080 && ovs_listening "$NS" 8080
}
# (15 s: a client whose SYNs go nowhere must fail this check, not outlive
# the servers' 60 s and fail the next ones too)
ask() { ip netns exec "$NC" timeout 15 "$NL" ask "$VM_IP" 8080 "$1" 5 2>&1 | tr '\n' ' '; }
# The SVM is destroyed.  A real one is gone before its host's teardown; the
# sim's is a namespace that lives on, and anything it sent once its vif was
# an ordinary port again (an ARP probe of a TCP timer) taught the switches
# the VM's MAC on the secondary's side, where the client's frames would then
# go for the 300 s a MAC entry lives.  Once (in CI, 2026-12-04) the client's
# connection after the stop hung, probably so (not reproduced).  Down, and
# forgotten by the switches; what the LAN bridge had learned is logged first.
svm_destroyed() {
    ip -n "$NS" link set vif2.0 down
    echo "INFO: brn's MAC table as the SVM goes: $(sw ovs-appctl fdb/show brn 2>&1 | tr -s ' \n' ' ')"
    for br in brn brs; do ovs_on "$br" ovs-appctl fdb/flush "$br" > /dev/null || echo "INFO: could not flush $br"; done
}
proxy_pid() { cat "$WORK/$1/vm1.vif0.pid" 2> /dev/null; }
status() { "$CTL" -c "unix:$WORK/$1/vm1.vif0.ctl" status --json 2> /dev/null; }
remus() {       # remus LOG: xl-colo remus -c in the switch's namespace
    ip netns exec "$SW" timeout 120 "$X" remus -c -i 500 -N "$WORK/site-script" -C "$WORK/vm1.cfg" \
        "${LAYOUT_OPT[@]}" -s '' vm1 "$RECV" > "$WORK/$1.out" 2> "$WORK/$1.err" &
    REMUS=$!; PIDS+=($REMUS)
}
servers || fail "the VMs' servers listen"

# 1. Protection wires both hosts.
remus r1
if wait_for "$WORK/r1.err" "is protected by COLO" 30; then pass "vm1 protected, vif wired"
else fail "vm1 protected, vif wired" "$(tail -5 "$WORK/r1.err" | tr '\n' ' ')"; fi
check "the script ran setup for the PVM with libxl's environment: $(grep -m1 "^setup mode=primary" "$WORK/script.log")" \
    grep -q "^setup mode=primary vifname=vif1.0 bridge=xenbr0 forwarddev=eth1 mac=$VM_MAC index=0 layout=$OVS_LAYOUT$" "$WORK/script.log"
check "... and, from the secondary engine's --on-svm, for the SVM: $(grep -m1 "^setup mode=secondary" "$WORK/script.log")" \
    grep -q "^setup mode=secondary vifname=vif2.0 bridge=xenbr0 forwarddev=eth1 mac=$VM_MAC index=0 layout=$OVS_LAYOUT$" "$WORK/script.log"
slog=$WORK/log/colo-vm1-secondary.log
fin=$(grep -n -m1 "the --on-svm command finished" "$slog" | cut -d: -f1)
run=$(grep -n -m1 "the SVM runs for the first time" "$slog" | cut -d: -f1)
check "the SVM's setup was done before the SVM first ran (its log, lines ${fin:-?} and ${run:-?})" \
    test "${fin:-0}" -gt 0 -a "${run:-0}" -gt "${fin:-0}"
on_br() { [ "$(ovs-vsctl port-to-br "$2" 2> /dev/null)" = "$1" ]; }
if [ "$OVS_LAYOUT" = inline ]; then
    check "in-line on both bridges: the stand-ins vif1.0-xc and vif2.0-xf, the vifs and forward links off" \
        eval 'on_br brp vif1.0-xc && on_br brs vif2.0-xf && ! on_br brp vif1.0 && ! on_br brs vif2.0 &&
            ! on_br brp p-fwd && ! on_br brs s-fwd && [ "$(cookie_flows brp)$(cookie_flows brs)" = 00 ]'
    check "... and the proxies were given this host's devices, which only the script knew: $(tr '\n' ' ' < "$WORK/sec/vm1.vif0.args")" \
        eval 'grep -qx s-fwd "$WORK/sec/vm1.vif0.args" && grep -qx p-fwd "$WORK/pri/vm1.vif0.args"'
else
    check "COLO flows on both bridges (brp $(cookie_flows brp), brs $(cookie_flows brs))" \
        test "$(cookie_flows brp)" -ge 5 -a "$(cookie_flows brs)" -ge 4
fi
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
if [ "$OVS_LAYOUT" = inline ]; then io="a TPACKET_V2 ring, batched sends"; else io="recv(), one send a frame"; fi
check "the proxies read and send as the layout wants: $io" \
    eval 'grep -q "ports: $io" "$WORK/log/colo-vm1-primary-vif0.log" && grep -q "ports: $io" "$WORK/log/colo-vm1-secondary-vif0.log"'
check "the comparator does not inherit xl-colo's blocked signals (SigBlk ${blk:-?})" \
    test -n "$blk" -a "$(( 0x${blk:-0} & 0x4000 ))" -eq 0
nice_of() { awk '{ print $19 }' "/proc/$(proxy_pid "$1")/stat" 2> /dev/null; }   # (comm has no space)
check "the proxies run at ovs-vswitchd's niceness, -10 (the comparator $(nice_of pri), the rewriter $(nice_of sec))" \
    test "$(nice_of pri)" = -10 -a "$(nice_of sec)" = -10
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
check "stop: no proxy port left, the PVM's vif on its bridge" \
    eval '! sw ovs-vsctl list-ports brp | grep -q -- -x && ! sw ovs-vsctl list-ports brs | grep -q -- -x && on_br brp vif1.0'
check "stop: the comparator ended with its final status, not killed" \
    eval '! grep -q "did not stop" "$WORK/r1.err" && grep -q "\"role\":\"proxy\"" "$WORK/log/colo-vm1-primary-vif0.log"'
left=$(pgrep -f "colo-proxy.*vif[12].0-x" | tr '\n' ' ')$(find "$WORK/pri" "$WORK/sec" -mindepth 1 | tr '\n' ' ')
check "stop: no proxy, pid file, socket or plan left${left:+ (left: $left)}" test -z "$left"
# (the other way a client's frames would go to the secondary: it took the
# stop for the primary's death and announced the VM from its side)
check "stop: the secondary stood down, it did not fail over" eval '! grep -q "^failover" "$WORK/script.log"'
svm_destroyed
ans=$(ask after-stop)
check "stop: the PVM answers on the bridge directly: $ans" grep -q "answer .* RESP 0 after-stop" <<<"$ans"

# 2b. The secondary host dies: the primary engine's --on-failover runs the
#     script's failover (in-line: the comparator told FAILOVER and stopped
#     first, the PVM's vif back on the bridge), and the PVM answers alone.
: > "$WORK/script.log"
ip -n "$NS" link set vif2.0 up
COLO_PROXY_NICE=3 remus r2b      # (and another niceness, which both hosts' proxies inherit)
wait_for "$WORK/r2b.err" "is protected by COLO" 30 || fail "vm1 protected for 2b" "$(tail -3 "$WORK/r2b.err")"
pp=$(proxy_pid pri)
check "COLO_PROXY_NICE=3: the proxies run at niceness 3 (the comparator $(nice_of pri), the rewriter $(nice_of sec))" \
    test "$(nice_of pri)" = 3 -a "$(nice_of sec)" = 3
kill -9 $(pgrep -f "colo-engine secondary .*$WORK/sec/") "$(proxy_pid sec)" 2> /dev/null   # the whole host
svm_destroyed                                                                          # ... and its SVM
wait_for "$WORK/script.log" "^failover mode=primary" 15
check "secondary lost: the primary's command ran the script's failover: $(grep "^failover" "$WORK/script.log")" \
    grep -q "^failover mode=primary vifname=vif1.0" "$WORK/script.log"
if [ "$OVS_LAYOUT" = inline ]; then
    # (the script logs its call as it starts: give it time to finish)
    for _ in $(seq 100); do on_br brp vif1.0 && break; sleep 0.1; done
    # (stopped by the engine's command; xl-colo remus, its parent, reaps it later)
    gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null)" = Z ]; }
    check "... in-line: the comparator was stopped (pid ${pp:-?}) and the PVM's vif is back on brp" \
        eval '[ -n "$pp" ] && gone "$pp" && on_br brp vif1.0 && ! on_br brp vif1.0-xc'
    check "... after it had released what it held (its log)" \
        grep -q "failover: releasing everything held" "$WORK/log/colo-vm1-primary-vif0.log"
fi
ans=$(ask after-secondary-lost)
check "secondary lost: the PVM answers alone: $ans" grep -q "answer .* RESP 0 after-secondary-lost" <<<"$ans"
# xl-colo remus ends by itself once its engine says protection is over,
# undoing this side's wiring (or, if the stop is quicker, at the stop).
for _ in $(seq 150); do kill -0 "$REMUS" 2> /dev/null || break; sleep 0.1; done
kill -TERM "$REMUS" 2> /dev/null
for _ in $(seq 100); do kill -0 "$REMUS" 2> /dev/null || break; sleep 0.1; done
wait "$REMUS"; rc=$?
left=$(find "$WORK/pri" -mindepth 1 | tr '\n' ' ')
check "... xl-colo remus ends (exit $rc), says why, and undoes the primary's side${left:+ (left: $left)}" \
    eval '[ "$rc" -le 1 ] && grep -q "the secondary was lost" "$WORK/r2b.err" && [ -z "$left" ] &&
        on_br brp vif1.0 && ! sw ovs-vsctl list-ports brp | grep -q -- -x && [ "$(cookie_flows brp)" = 0 ]'
# The dead secondary's wiring, as its host's reboot would leave it: none.
pkill -9 -f -- "$WORK/sec/"
ovs_on brs "$HOTPLUG/colo-ovs-setup" teardown bridge=brs vifname=vif2.0 2> /dev/null
rm -rf "$WORK/sec"; mkdir -p "$WORK/sec"

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
# A script that writes down a port xl-colo must not pass on to the proxy.
cat > "$WORK/bad-args-script" <<EOF
#!/bin/bash
"$WORK/site-script" "\$@" || exit
[ "\$1" != setup ] || [ -z "\$COLO_PROXY_ARGS" ] || printf -- '--pvm\n../x\n' >> "\$COLO_PROXY_ARGS"
EOF
chmod +x "$WORK/bad-args-script"
ip netns exec "$SW" timeout 60 "$X" remus -c -N "$WORK/bad-args-script" -C "$WORK/vm1.cfg" "${LAYOUT_OPT[@]}" -s '' vm1 \
    "XL_COLO_RUNDIR=$WORK/sec5 $X migrate-receive --colo --coloft-script $WORK/bad-args-script --listen 127.0.0.1:0 ${LAYOUT_OPT[*]}" \
    > /dev/null 2> "$WORK/r5.err"; rc=$?
left=$(find "$WORK/pri" -mindepth 1 2> /dev/null | tr '\n' ' ')
check "a script's bad proxy port: protection refused (exit $rc), the file and line named: $(grep -o "vm1.vif0.args, line.*" "$WORK/r5.err" | head -1 | cut -c1-120)" \
    eval 'test "$rc" -ne 0 && grep -q "vm1.vif0.args, line [0-9]*.*: not an interface name" "$WORK/r5.err"'
check "... and the primary's side undone${left:+ (left: $left)}" \
    eval '[ -z "$left" ] && [ "$(cookie_flows brp)" = 0 ] && ! sw ovs-vsctl list-ports brp | grep -q -- -x'
pkill -9 -f -- "$WORK/sec5/"
COLO_PROXY_NICE=fast ip netns exec "$SW" timeout 60 "$X" remus -c -N "$WORK/site-script" -C "$WORK/vm1.cfg" \
    "${LAYOUT_OPT[@]}" -s '' vm1 "XL_COLO_RUNDIR=$WORK/sec6 $X migrate-receive --colo --coloft-script $WORK/site-script \
    --listen 127.0.0.1:0 ${LAYOUT_OPT[*]}" > /dev/null 2> "$WORK/r6.err"; rc=$?
left=$(find "$WORK/pri" -mindepth 1 2> /dev/null | tr '\n' ' ')
check "COLO_PROXY_NICE=fast: protection refused (exit $rc), the variable named: $(grep -o "COLO_PROXY_NICE=fast:.*" "$WORK/r6.err" | head -1)" \
    eval 'test "$rc" -ne 0 && grep -q "COLO_PROXY_NICE=fast: not a niceness" "$WORK/r6.err"'
check "... and the primary's side undone${left:+ (left: $left)}" \
    eval '[ -z "$left" ] && [ "$(cookie_flows brp)" = 0 ] && ! sw ovs-vsctl list-ports brp | grep -q -- -x'
pkill -9 -f -- "$WORK/sec6/"
# ... and the receiving host's own, checked when it plans the SVM's wiring.
ip netns exec "$SW" timeout 60 "$X" remus -c -N "$WORK/site-script" -C "$WORK/vm1.cfg" "${LAYOUT_OPT[@]}" -s '' vm1 \
    "COLO_PROXY_NICE=99 XL_COLO_RUNDIR=$WORK/sec7 $X migrate-receive --colo --coloft-script $WORK/site-script \
    --listen 127.0.0.1:0 ${LAYOUT_OPT[*]}" > /dev/null 2> "$WORK/r7.err"; rc=$?
left=$(find "$WORK/pri" "$WORK/sec7" -mindepth 1 2> /dev/null | tr '\n' ' ')
check "COLO_PROXY_NICE=99 on the receiving host: protection refused (exit $rc), the variable named: $(grep -o "COLO_PROXY_NICE=99:.*" "$WORK/r7.err" | head -1)" \
    eval 'test "$rc" -ne 0 && grep -q "COLO_PROXY_NICE=99: not a niceness" "$WORK/r7.err"'
check "... and both sides undone${left:+ (left: $left)}" \
    eval '[ -z "$left" ] && [ "$(cookie_flows brp)" = 0 ] && ! sw ovs-vsctl list-ports brp | grep -q -- -x'
pkill -9 -f -- "$WORK/sec7/"
ip netns exec "$SW" timeout 60 "$X" remus -c -N "$WORK/site-script" -C "$WORK/vm1.cfg" -s '' vm1 \
    "XL_COLO_RUNDIR=$WORK/sec4 $X migrate-receive --colo --listen 127.0.0.1:0" > /dev/null 2> "$WORK/r4.err"; rc=$?
check "a receiving side without the script refuses to build an SVM it could not wire (exit $rc)" \
    eval 'test "$rc" -eq 1 && grep -q "no --coloft-script came with it: the SVM.s vifs would not be wired" "$WORK/r4.err"'
left=$(find "$WORK/pri" "$WORK/sec4" -mindepth 1 2> /dev/null | tr '\n' ' ')
check "... and the sending side undid its own wiring${left:+ (left: $left)}" \
    test -z "$left" -a "$(cookie_flows brp)" -eq 0
