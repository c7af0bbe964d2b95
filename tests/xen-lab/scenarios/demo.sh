# demo: the README's first command (tools/colo-demo), on a real Xen.
#
# The colo scenario's story told for a person: an HVM guest is booted and
# protected, checkpoints are shown live, an operator asks for one, the
# primary "host" dies (engine SIGKILLed, PVM destroyed) and the SVM carries
# on from the PVM's last checkpoint.  Lines for the person start "DEMO:"
# (tools/colo-demo shows them as they come); the facts the story claims
# are also checks, so a demo that goes wrong says so.  No --verify: the
# pauses are the engine's own (the colo scenario hashes every page, which
# makes them 40 times longer under emulation).
W=/tmp/demo; mkdir -p $W
PLOG=/var/log/xen/console/guest-pvm.log
say() { echo "DEMO: $*"; }
status() { colo-ctl -c unix:$1 -t 60000 status ${2:-}; }
ckpts() { status $1 --json 2>/dev/null | sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p'; }

say "dom0 of Xen $(xl info | sed -n 's/^xen_version *: //p') is up (emulated by QEMU TCG: every time below is slow)"
say "Booting the PVM: an HVM guest, 128 MiB, 1 vCPU, Debian's kernel and a busybox running a memory dirtier"
if boot_guest pvm 240; then
    spfn=$(status_pfn $PLOG)
    say "PVM up: $(xl list pvm | awk 'NR == 2 {print "domid " $2 ", " $3 " MiB"}'); its dirtier's tick, read from its RAM: $(peek pvm "$spfn" tick)"
    say "Starting the secondary engine: it builds the SVM from the guest's xl.cfg and waits for the primary"
    colo-engine secondary --backend xen --domain svm,config=/lab/guests/svm.cfg \
        --listen 127.0.0.1:9100 --control unix:$W/sec.sock \
        --io-timeout 30000 --peer-timeout 15000 --run-after-failover 30000 \
        > $W/sec.out 2> $W/sec.err &
    secpid=$!
    wait_log $W/sec.err "waiting for the primary" 60 || { fail "demo: the secondary starts"; show $W/sec.err 20; }
    say "Starting the primary engine: live copy of the PVM's RAM, then a checkpoint every 2 s"
    t0=$(now)
    colo-engine primary --backend xen --domain pvm,name=pvm --peer 127.0.0.1:9100 \
        --control unix:$W/pri.sock --interval 2000 --io-timeout 30000 \
        > $W/pri.out 2> $W/pri.err &
    pripid=$!
    if wait_log $W/pri.err "protected" 300; then
        pass "demo: the PVM is protected by COLO in $(($(now) - t0)) s"
        grep 'protected' $W/pri.err | sed 's/^[^:]*: [a-z]*: /DEMO:   /'
        say "Both domains run: the PVM and the SVM, which runs in parallel between checkpoints"
        xl list | sed 's/^/DEMO:   /'
        say "Live status of the primary (pause = PVM suspended -> resumed):"
        for _ in 1 2 3 4 5 6; do status $W/pri.sock | sed 's/^/DEMO:   /'; sleep 3; done
        n0=$(ckpts $W/pri.sock)
        check "demo: checkpoints are taken periodically (${n0:-none} so far)" test "${n0:-0}" -ge 3
        ptick=$(peek pvm "$spfn" tick)
        say "An operator (or colo-proxy, on a divergence) asks for a checkpoint now; the PVM's tick is $ptick"
        colo-ctl -c unix:$W/pri.sock checkpoint
        # (The next checkpoint may be a periodic one already under way:
        # wait for the requested one to be counted.)
        i=0
        while status $W/pri.sock --json > $W/pri.json; ! grep -q '"request":[1-9]' $W/pri.json && [ $i -lt 60 ]; do
            sleep 1; i=$((i + 1))
        done
        check "demo: the requested checkpoint is taken and counted" grep -q '"request":[1-9]' $W/pri.json
        status $W/pri.sock | sed 's/^/DEMO:   /'
        say "The secondary's view:"
        status $W/sec.sock | sed 's/^/DEMO:   /'
        say "The primary host dies: its engine gets SIGKILL and the PVM is destroyed"
        kill -9 $pripid 2>/dev/null; xl destroy pvm; wait $pripid 2>/dev/null
        check "demo: the secondary notices and fails over" wait_log $W/sec.err "FAILOVER" 60
        grep -E 'lost|FAILOVER|failover' $W/sec.err | head -4 | sed 's/^[^:]*: [a-z]*: /DEMO:   /'
        svm=$(svm_domain)
        xl list | sed 's/^/DEMO:   /'
        say "The SVM ($svm) is now the VM; its dirtier keeps counting, read from its RAM:"
        first=""
        for _ in 1 2 3 4; do
            t=$(peek "$svm" "$spfn" tick); first=${first:-$t}
            say "  tick ${t:-unreadable}"
            sleep 4
        done
        check "demo: the SVM runs on (tick $first -> $t)" test -n "$first" -a "${t:-0}" -gt "${first:-0}"
        check "demo: from the PVM's checkpointed state (tick $first >= $ptick, the PVM's before the last checkpoint)" \
            test -n "$first" -a "${first:-0}" -ge "${ptick:-1}"
        check "demo: the SVM's memory self-check holds" test "$(peek "$svm" "$spfn" corrupt)" = 0
    else
        fail "demo: the PVM is protected by COLO" "not within 300 s"
        show $W/pri.err 20; show $W/sec.err 20
    fi
    kill $secpid 2>/dev/null; kill -9 $pripid 2>/dev/null
    infra_if_triple_fault
fi
