# colo-xc: the colo scenario's protection and failover with both engines
# on libxenguest's own COLO loops.  The primary runs xc_domain_save
# (XC_STREAM_COLO) (--domain ...,save=libxenguest; xen-xcsave.c), each
# checkpoint's pages sent from its stream, the SVM's dirty pfns handed to
# it on its back channel; the secondary hands each committed checkpoint to
# xc_domain_restore(XC_STREAM_COLO) (restore=libxenguest; xen-xcrestore.c),
# which applies it and lists the SVM's dirty pfns.  Three checkpoints 2 s
# apart with --verify, then the primary host "dies" and the SVM must carry
# on from the last one.  colo-xcr (not in CI) runs the secondary's side
# alone, with the primary on save=pages.
W=/tmp/colo-xc; mkdir -p $W/dump
export COLO_VERIFY_DUMP=$W/dump
PLOG=/var/log/xen/console/guest-pvm.log SLOG=/var/log/xen/console/guest-svm.log
if boot_guest pvm 240; then
    spfn=$(status_pfn $PLOG)
    colo-engine secondary --backend xen --domain svm,config=/lab/guests/svm.cfg,restore=libxenguest \
        --listen 127.0.0.1:9110 --control unix:$W/sec.sock --verify --debug \
        --io-timeout 30000 --peer-timeout 15000 --run-after-failover 30000 \
        > $W/sec.out 2> $W/sec.err &
    secpid=$!
    wait_log $W/sec.err "waiting for the primary" 60 || { fail "colo-xc: secondary starts"; show $W/sec.err 40; }
    t0=$(now)
    # Not under timeout(1): the SIGKILL below must reach the engine itself.
    colo-engine primary --backend xen --domain pvm,name=pvm,save=libxenguest \
        --peer 127.0.0.1:9110 --control unix:$W/pri.sock --interval 2000 \
        --verify --debug --io-timeout 30000 > $W/pri.out 2> $W/pri.err &
    pripid=$!
    wait_protected "verify: checkpoint 3 pvm digest" 300
    if [ -z "$why" ]; then
        pass "colo-xc: the primary protects the PVM on libxenguest's loop: 3 checkpoints in $(($(now) - t0)) s"
    else
        fail "colo-xc: the primary protects the PVM on libxenguest's loop: 3 checkpoints" "$why"
        show $W/pri.err 30
    fi
    check "colo-xc: ... libxenguest's COLO save is what runs" grep -q "libxenguest's COLO save runs" $W/pri.err
    check "colo-xc: ... and libxenguest's COLO restore keeps the SVM" \
        grep -q "libxenguest applied the first checkpoint" $W/sec.err
    nb=$(grep -c "[1-9][0-9]* SVM dirty pfns onto libxenguest's back channel" $W/pri.err)
    check "colo-xc: the SVM's dirty pfns went to libxenguest at every checkpoint after the first ($nb)" \
        test "$nb" -ge 2
    # dom0 holds one checkpoint's pages, not a copy of the guest: the
    # engine's peak resident memory stays under the guest's RAM.
    hwm=$(awk '/^VmHWM:/ { print int($2 / 1024) }' /proc/$pripid/status 2>/dev/null)
    ram=$(sed -n "s/.* pfns are RAM (\([0-9]*\) MiB) in libxenguest's first pass.*/\1/p" $W/pri.err | head -1)
    held=$(sed -n "s/.*libxenguest's checkpoint [0-9]*: [0-9]* pfns, \([0-9]*\) pages held.*/\1/p" $W/pri.err | sort -n | tail -1)
    echo "LAB-INFO colo-xc: primary engine peak RSS ${hwm:-?} MiB; guest RAM ${ram:-?} MiB; largest checkpoint held ${held:-?} pages"
    check "colo-xc: the primary's peak memory (${hwm:-?} MiB) is below the guest's RAM (${ram:-?} MiB)" \
        test -n "$hwm" -a -n "$ram" -a "${hwm:-0}" -lt "${ram:-0}"
    ptick=$(peek pvm "$spfn" tick)
    kill -9 $pripid 2>/dev/null; xl destroy pvm; wait $pripid 2>/dev/null
    echo "LAB-INFO colo-xc: primary killed and PVM destroyed at $(now)s; PVM's tick: $ptick"
    check "colo-xc: the secondary fails over" wait_log $W/sec.err "FAILOVER" 60
    svm=$(svm_domain)
    sleep 5
    stick=$(peek "$svm" "$spfn" tick)
    sleep 8
    slast=$(peek "$svm" "$spfn" tick)
    echo "LAB-INFO colo-xc: SVM ($svm) ticks after failover: ${stick:-none}, 8 s later ${slast:-none}"
    check "colo-xc: the SVM runs on after failover (tick ${stick:-none} -> ${slast:-none})" \
        test -n "$stick" -a "${slast:-0}" -gt "${stick:-0}"
    check "colo-xc: the SVM's memory self-check holds" test "$(peek "$svm" "$spfn" corrupt)" = 0
    check "colo-xc: the SVM never rebooted" test -z "$(grep 'DIRTIER start' $SLOG)"
    wait $secpid
    xl destroy "$svm" 2>/dev/null
    # As in colo (lib.sh).  The PVM's side is the checkpoint's pages from
    # libxenguest's stream and the suspended guest's own for the rest (the
    # xcsave scenario checks the stream against the guest); the SVM's is
    # what libxenguest's restore wrote.
    compare_dumps 3
    check "colo-xc: SVM RAM equals the PVM's, as libxenguest streamed it, at checkpoints 0-3 ($ncmp compared)" \
        test "$ncmp" -eq 4 -a "$nother" -eq 0
    compare_vcpus 3
    check "colo-xc: the SVM's vCPU context equals the PVM's at checkpoints 0-3 ($nv compared${vbad:+; differ at$vbad})" \
        test "$nv" -eq 4 -a -z "$vbad"
    check "colo-xc: no memory corruption seen by either guest" \
        test -z "$(grep CORRUPT $SLOG $PLOG)"
    infra_if_triple_fault
fi
pkill -f "colo-engine .*$W/" 2>/dev/null
for d in pvm svm--colo-svm; do xl destroy $d 2>/dev/null; done
