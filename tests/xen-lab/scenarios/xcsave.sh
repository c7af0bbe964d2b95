# xcsave: libxenguest's own COLO save, xc_domain_save(XCFLAGS_LIVE,
# XC_STREAM_COLO), on a real HVM guest, its stream read back by xen-colo's
# reader (libxl-colo/xen/xc-stream.c) in lab-xcsave: the first step of the
# route in docs/xen-backend.md.  Three checkpoints, 2 s apart.  At each,
# with the guest suspended, the memory rebuilt from the stream must equal
# the guest's page for page and the HVM context Xen's (but for the TSC,
# HPET and PM-timer counts, which Xen computes when read); the dirty pfns
# lab-xcsave answers with must come back in the next checkpoint; and the
# guest must run on, its memory self-check intact, when the save ends.
# Not in scenarios.list: tests/run-all runs it in the ovs boot.
W=/tmp/xcsave; mkdir -p $W
XLOG=/var/log/xen/console/guest-pvm.log
if boot_guest pvm 240; then
    xspfn=$(status_pfn $XLOG)
    t0=$(now)
    timeout 600 lab-xcsave "$(xl domid pvm)" 3 2000 > $W/out 2> $W/err; rc=$?
    echo "LAB-INFO xcsave: exit $rc after $(($(now) - t0)) s (emulated time)"
    sed 's/^/LAB-INFO   /' $W/out | head -30
    check "xcsave: libxenguest's COLO save runs 3 checkpoints with our callbacks and stops when told (exit $rc)" \
        grep -q "^XCSAVE done: xc_domain_save 0, 3 checkpoints (3 compared)" $W/out
    check "xcsave: our reader took all of libxenguest's stream, to its close" \
        grep -q "; stream ended cleanly (" $W/out
    n=$(grep -c "^XCSAVE checkpoint [0-9]*: .* [1-9][0-9]* RAM pages compared, 0 differ;" $W/out)
    check "xcsave: at each checkpoint the memory rebuilt from the stream equals the guest's ($n of 3)" test "$n" = 3
    check "xcsave: ... a comparison that can fail: a byte altered on purpose in the rebuilt image is found" \
        grep -q "^XCSAVE self-test: pfn 0x[0-9a-f]* altered in the image, compare finds 1 page$" $W/out
    n=$(grep -c "^XCSAVE checkpoint [0-9]*: .*HVM context ([1-9][0-9]* bytes) same but for the clocks;" $W/out)
    check "xcsave: ... and so does the HVM context, all but the clocks Xen computes when read ($n of 3)" test "$n" = 3
    n=$(grep -c "^XCSAVE checkpoint [23]: .*listed pfns sent again: 3 of 3" $W/out)
    check "xcsave: the dirty pfns we answered with were merged: sent again in the next checkpoint ($n of 2)" \
        test "$n" = 2
    x1=$(peek pvm "$xspfn" tick); sleep 4; x2=$(peek pvm "$xspfn" tick)
    check "xcsave: the guest runs on after the save (tick ${x1:-?} -> ${x2:-?})" \
        test -n "$x1" -a -n "$x2" -a "${x2:-0}" -gt "${x1:-0}"
    xc=$(peek pvm "$xspfn" corrupt)
    check "xcsave: ... its memory self-check intact (corrupt=${xc:-?})" \
        sh -c "test '$xc' = 0 && ! grep -q CORRUPT $XLOG"
    [ $rc = 0 ] || { show $W/err 30; infra_if_triple_fault; }
    xl destroy pvm 2>/dev/null
fi
