# colo-xcr: the colo scenario's protection and failover with the secondary
# on libxenguest's own COLO restore loop (--domain ...,restore=libxenguest;
# xen-xcrestore.c): xc_domain_restore(XC_STREAM_COLO) runs in the engine,
# fed a migration stream the engine writes from each committed checkpoint;
# it populates and writes the SVM's pages, sets its vCPU context and
# params, and hands back the SVM's dirty pfns on its back channel.  The
# primary stays on the pages mode.  Three checkpoints 2 s apart with
# --verify, then the primary host "dies" and the SVM carries on.
W=/tmp/colo-xcr; mkdir -p $W/dump
export COLO_VERIFY_DUMP=$W/dump
PLOG=/var/log/xen/console/guest-pvm.log SLOG=/var/log/xen/console/guest-svm.log
if boot_guest pvm 240; then
    spfn=$(status_pfn $PLOG)
    colo-engine secondary --backend xen --domain svm,config=/lab/guests/svm.cfg,restore=libxenguest \
        --listen 127.0.0.1:9120 --control unix:$W/sec.sock --verify --debug \
        --io-timeout 30000 --peer-timeout 15000 --run-after-failover 30000 \
        > $W/sec.out 2> $W/sec.err &
    secpid=$!
    wait_log $W/sec.err "waiting for the primary" 60 || { fail "colo-xcr: secondary starts"; show $W/sec.err 40; }
    t0=$(now)
    # Not under timeout(1): the SIGKILL below must reach the engine itself.
    colo-engine primary --backend xen --domain pvm,name=pvm \
        --peer 127.0.0.1:9120 --control unix:$W/pri.sock --interval 2000 \
        --verify --debug --io-timeout 30000 > $W/pri.out 2> $W/pri.err &
    pripid=$!
    wait_protected "verify: checkpoint 3 pvm digest" 300
    if [ -z "$why" ]; then
        pass "colo-xcr: the SVM is kept by libxenguest's restore loop: 3 checkpoints in $(($(now) - t0)) s"
    else
        fail "colo-xcr: the SVM is kept by libxenguest's restore loop: 3 checkpoints" "$why"
        show $W/sec.err 40
    fi
    check "colo-xcr: ... libxenguest's COLO restore is what runs" \
        grep -q "libxenguest's COLO restore runs" $W/sec.err
    check "colo-xcr: ... and it applied the first checkpoint" \
        grep -q "libxenguest applied the first checkpoint" $W/sec.err
    nd=$(grep -c "dirty pages from libxenguest" $W/sec.err)
    check "colo-xcr: the SVM's dirty pfns came from libxenguest at every checkpoint after the first ($nd)" \
        test "$nd" -ge 2
    ptick=$(peek pvm "$spfn" tick)
    kill -9 $pripid 2>/dev/null; xl destroy pvm; wait $pripid 2>/dev/null
    echo "LAB-INFO colo-xcr: primary killed and PVM destroyed at $(now)s; PVM's tick: $ptick"
    check "colo-xcr: the secondary fails over" wait_log $W/sec.err "FAILOVER" 60
    svm=$(svm_domain)
    sleep 5
    stick=$(peek "$svm" "$spfn" tick)
    sleep 8
    slast=$(peek "$svm" "$spfn" tick)
    echo "LAB-INFO colo-xcr: SVM ($svm) ticks after failover: ${stick:-none}, 8 s later ${slast:-none}"
    check "colo-xcr: the SVM runs on after failover (tick ${stick:-none} -> ${slast:-none})" \
        test -n "$stick" -a "${slast:-0}" -gt "${stick:-0}"
    check "colo-xcr: the SVM's memory self-check holds" test "$(peek "$svm" "$spfn" corrupt)" = 0
    check "colo-xcr: the SVM never rebooted" test -z "$(grep 'DIRTIER start' $SLOG)"
    wait $secpid
    check "colo-xcr: libxenguest's restore let go when the engine ended" \
        grep -q "libxenguest's restore into domain [0-9]* let go" $W/sec.err
    xl destroy "$svm" 2>/dev/null
    # As in colo (lib.sh): the SVM's side is what libxenguest wrote.
    compare_dumps 3
    check "colo-xcr: SVM RAM, as libxenguest restored it, equals the PVM's at checkpoints 0-3 ($ncmp compared)" \
        test "$ncmp" -eq 4 -a "$nother" -eq 0
    compare_vcpus 3
    check "colo-xcr: the SVM's vCPU context, as libxenguest set it, equals the PVM's at checkpoints 0-3 ($nv compared${vbad:+; differ at$vbad})" \
        test "$nv" -eq 4 -a -z "$vbad"
    check "colo-xcr: no memory corruption seen by either guest" \
        test -z "$(grep CORRUPT $SLOG $PLOG)"
    infra_if_triple_fault
fi
pkill -f "colo-engine .*$W/" 2>/dev/null
for d in pvm svm--colo-svm; do xl destroy $d 2>/dev/null; done
