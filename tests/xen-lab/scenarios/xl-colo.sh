# xl-colo: the operator's front end on a real Xen 4.17 (the xen backend,
# libxl lookups, the SVM built from the xl.cfg that xl-colo sends).  Not in
# scenarios.list; run it with  tests/xen-lab/run-lab BUILDDIR xl-colo
#
# Both "hosts" are this dom0, over loopback, as in the colo scenario: the
# receiving side is started through -s "" with its own XL_COLO_RUNDIR.
# Checks: pass-through to the real xl; refusals of a domain that does not
# exist, of a PV guest, of a receiving side that cannot be reached; then a
# good run: protected, checkpoints counted by colo-status on both sides,
# and a clean stop (SIGTERM): the SVM is destroyed, the PVM runs on, no
# engine or socket is left.
W=/tmp/xlc; rm -rf $W; mkdir -p $W/log
export XL_COLO_RUNDIR=$W/pri XL_COLO_LOGDIR=$W/log
# TCG is 10-50 times slower than hardware: the colo scenario's timeouts.
TMO="--io-timeout 30000 --peer-timeout 15000"
RECV="XL_COLO_RUNDIR=$W/sec xl-colo migrate-receive --colo -d --listen 127.0.0.1:0 $TMO"

nothing_left() {
    _left=$( (pgrep -f "colo-engine .*$W/"; find $W/pri $W/sec -mindepth 1 2>/dev/null
              xl list | awk '/--colo-svm/ {print $1}') | tr '\n' ' ')
    check "xl-colo: $1: no engine, socket or SVM left${_left:+ ($_left)}" test -z "$_left"
}
cpu_time() { xl list "$1" 2>/dev/null | awk 'NR == 2 {print int($6)}'; }

# Pass-through: what xl says, xl-colo says.
xl list | awk '{print $1, $2}' > $W/xl.txt 2>&1
xl-colo list | awk '{print $1, $2}' > $W/xlc.txt 2>&1
check "xl-colo: 'xl-colo list' is 'xl list'" cmp -s $W/xl.txt $W/xlc.txt

if boot_guest xlc 240; then
    refused "a domain that does not exist" "no domain named 'nosuch'" \
        xl-colo remus -c -C /lab/guests/xlc.cfg -s '' nosuch "$RECV"
    if xl create -p /lab/guests/pvg.cfg > $W/pvg.log 2>&1; then
        refused "a PV guest" "is a PV guest: COLO needs an HVM guest" \
            xl-colo remus -c -C /lab/guests/pvg.cfg -s '' pvg "$RECV"
        xl destroy pvg
    else
        fail "xl-colo: a PV guest to refuse" "xl create -p pvg failed"; show $W/pvg.log
    fi
    # A receiving side that cannot be reached (TEST-NET-1: dom0 has no route,
    # so the connect fails at once; were there one, the 60 s banner wait ends it).
    if command -v ssh > /dev/null; then
        refused "an unreachable host (ssh)" "the receiving side" \
            xl-colo remus -c -C /lab/guests/xlc.cfg -s 'ssh -o BatchMode=yes -o ConnectTimeout=10' xlc 192.0.2.1
    else
        refused "an unreachable host" "the receiving side" \
            xl-colo remus -c -C /lab/guests/xlc.cfg -s '' xlc "exec bash -c 'exec 3<>/dev/tcp/192.0.2.1/22'"
    fi
    nothing_left "after the refusals"

    t0=$(now)
    # shellcheck disable=SC2086
    xl-colo remus -c -i 2000 $TMO -C /lab/guests/xlc.cfg -s '' xlc "$RECV" > $W/remus.out 2> $W/remus.err &
    rpid=$!
    if wait_log $W/remus.err "is protected by COLO" 300; then
        pass "xl-colo: xlc protected in $(($(now) - t0)) s"
        i=0
        while [ $i -lt 120 ]; do
            xl-colo colo-status --json xlc > $W/p.json 2> $W/p.err
            n=$(sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p' $W/p.json)
            [ "${n:-0}" -ge 3 ] && break
            kill -0 $rpid 2>/dev/null || break
            sleep 1; i=$((i + 1))
        done
        echo "LAB-INFO xl-colo primary status: $(cat $W/p.json)"
        check "xl-colo: colo-status --json (primary): running, 3+ checkpoints" \
            test -n "$(grep '"role":"primary","state":"running"' $W/p.json)" -a "${n:-0}" -ge 3
        xl-colo colo-status xlc > $W/p.txt 2>&1
        check "xl-colo: colo-status (primary, human)" grep -q "domain xlc: primary, running" $W/p.txt
        XL_COLO_RUNDIR=$W/sec xl-colo colo-status --json xlc > $W/s.json 2>&1
        check "xl-colo: colo-status --json (secondary): running" \
            grep -q '"role":"secondary","state":"running"' $W/s.json
        check "xl-colo: the SVM is a domain of its own" sh -c "xl list xlc--colo-svm > /dev/null 2>&1"
        kill -TERM $rpid; wait $rpid; rc=$?
        check "xl-colo: a clean stop (SIGTERM) exits 0" test "$rc" -eq 0
        # Xen lists a destroyed domain until it has given back all its
        # pages, which under TCG took over 30 s once (a later look found
        # it gone): wait up to 90 s, and say how long it took.
        i=0; while xl list xlc--colo-svm > /dev/null 2>&1 && [ $i -lt 180 ]; do sleep 0.5; i=$((i + 1)); done
        check "xl-colo: the stop destroyed the SVM (gone after $((i / 2)) s)" sh -c "! xl list xlc--colo-svm > /dev/null 2>&1"
        c1=$(cpu_time xlc); sleep 5; c2=$(cpu_time xlc)
        check "xl-colo: the PVM runs on after the stop (cpu ${c1:-?} s -> ${c2:-?} s)" \
            test -n "$c1" -a "${c2:-0}" -gt "${c1:-0}"
        check "xl-colo: the secondary stood down (did not fail over)" \
            test -n "$(grep 'stopping without taking over' $W/log/colo-xlc-secondary.log)" \
                 -a -z "$(grep FAILOVER $W/log/colo-xlc-secondary.log)"
        sleep 1
        nothing_left "after the stop"
    else
        fail "xl-colo: xlc protected" "not within 300 s"
        kill -TERM $rpid 2>/dev/null; wait $rpid
    fi
    show $W/remus.err 20
    tail -8 $W/log/colo-xlc-primary.log; tail -8 $W/log/colo-xlc-secondary.log
    infra_if_triple_fault
fi
