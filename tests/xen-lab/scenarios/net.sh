# net: the guest's network service survives failover.
#
# The PVM has an emulated e1000 NIC on dom0's bridge xenbr0 and serves a
# page on 10.9.0.2 (busybox httpd; guest/init).  The SVM is built from
# nsvm.cfg: the same NIC (same MAC) on xenbr1, a bridge with nothing else
# on it - the lab has no colo-proxy yet, so the SVM's packets must reach
# no one while it runs beside the PVM.  At every checkpoint the SVM's
# qemu-xen is started again with the PVM's device state, the e1000's
# included (qemu-state=restart), and its tap put back into xenbr1
# (xen-tap.c).  Then the primary host dies; the secondary fails over and
# its engine's --on-failover command does the network half of failover -
# the SVM's tap moves to xenbr0, the only switching this lab needs without
# a colo-proxy - and the service must answer from the SVM.
W=/tmp/net; mkdir -p $W
PLOG=/var/log/xen/console/guest-npvm.log
# qemu-xen opens /dev/net/tun for the emulated NIC's tap.
modprobe tun; modprobe bridge
[ -c /dev/net/tun ] || infra "dom0 has no /dev/net/tun (modprobe tun)"
ip link add xenbr0 type bridge && ip addr add 10.9.0.1/24 dev xenbr0 && ip link set xenbr0 up
ip link add xenbr1 type bridge && ip link set xenbr1 up
# What dom0's network looks like (after a failed check).
show_net() {
    echo "---- dom0 network"
    { ip -br link; ip -br addr; bridge link; ip neigh; } 2>&1 | sed 's/^/    /'
}
# placed TAP BRIDGE: TAP is in BRIDGE and up.
placed() {
    [ "$(readlink /sys/class/net/$1/master 2>/dev/null | sed 's,.*/,,')" = "$2" ] &&
        [ $(( $(cat /sys/class/net/$1/flags 2>/dev/null || echo 0) & 1 )) -eq 1 ]
}
if boot_guest npvm 240; then
    check "net: the PVM's NIC is up (its console says so)" grep -q "GUEST-NET-UP 10.9.0.2" $PLOG
    check "net: the PVM's service answers on 10.9.0.2" answers 60 || show_net
    spfn=$(status_pfn $PLOG)
    # At failover the engine moves its SVM's tap (vifDOMID.0-emu; the SVM is
    # the domain whose name starts with the engine's domain) to xenbr0.
    switch='t=vif$(xl domid "$(xl list | awk -v n="$COLO_DOMAIN" "index(\$1, n) == 1 { print \$1; exit }")").0-emu
            ip link set "$t" nomaster && ip link set "$t" master xenbr0 && echo "net: $t moved to xenbr0"'
    colo-engine secondary --backend xen --domain nsvm,config=/lab/guests/nsvm.cfg \
        --listen 127.0.0.1:9101 --control unix:$W/sec.sock --io-timeout 30000 \
        --peer-timeout 15000 --run-after-failover 30000 --debug --on-failover "$switch" \
        > $W/sec.out 2> $W/sec.err &
    secpid=$!
    wait_log $W/sec.err "waiting for the primary" 60 || { fail "net: the secondary starts"; show $W/sec.err 20; }
    colo-engine primary --backend xen --domain npvm,name=npvm --peer 127.0.0.1:9101 \
        --control unix:$W/pri.sock --interval 2000 --io-timeout 30000 --debug \
        > $W/pri.out 2> $W/pri.err &
    pripid=$!
    wait_protected "primary: checkpoint 6 (" 240
    check "net: the PVM is protected: 6 checkpoints${why:+ ($why)}" test -z "$why"
    svm=$(svm_domain)
    svmid=$(xl domid "$svm" 2>/dev/null)
    tap=vif$svmid.0-emu
    nrs=$(grep -c "qemu-xen restarted .* with the checkpoint's device state" $W/sec.err)
    check "net: the SVM's tap is back in xenbr1 and up after $nrs qemu restarts ($tap)" \
        sh -c "[ $nrs -ge 6 ] && $(placed "$tap" xenbr1 && echo true || echo false)"
    check "net: the PVM's service answers while protected" answers 30
    # The PVM's tick, then a checkpoint that began after it was read: the
    # SVM resumes from that checkpoint, so its tick after failover is at
    # least this one.  Not the next checkpoint to be logged: it is logged
    # once the SVM has resumed (after its qemu's restart), so it may have
    # been taken before the read (one run failed so: 2293 < 2296).
    ptick=$(peek npvm "$spfn" tick)
    n0=$(grep -c "primary: checkpoint [0-9]* (" $W/pri.err)
    wait_log $W/pri.err "primary: checkpoint $((n0 + 1)) (" 40
    kill -9 $pripid 2>/dev/null; xl destroy npvm; wait $pripid 2>/dev/null
    check "net: the secondary fails over" wait_log $W/sec.err "FAILOVER" 60
    wait_log $W/sec.err "the --on-failover command finished" 20
    check "net: its --on-failover command moved the SVM's tap to xenbr0 ($tap)" placed "$tap" xenbr0
    check "net: the SVM's service answers after failover" answers 90 || show_net
    stick=$(peek "$svm" "$spfn" tick)
    echo "LAB-INFO net: PVM tick before failover $ptick, SVM's after ${stick:-none}"
    check "net: the SVM carries on from the PVM's state (tick ${stick:-none} >= $ptick)" \
        test -n "$stick" -a "${stick:-0}" -ge "${ptick:-1}"
    check "net: the SVM's memory self-check holds" test "$(peek "$svm" "$spfn" corrupt)" = 0
    grep -v 'not RAM\|left as holes' $W/sec.err | tail -8
    kill $secpid 2>/dev/null; wait $secpid 2>/dev/null
    xl destroy "$svm" 2>/dev/null
    infra_if_triple_fault
fi
ip link del xenbr0 2>/dev/null; ip link del xenbr1 2>/dev/null
