# xc-stop: save=libxenguest when protection ends.  libxenguest's loop runs
# in the primary engine and blocks in its callbacks or on its sockets; when
# the engine stops it must let go of it (xen-xcsave.c: the callbacks return
# 0, the sockets shut, libxenguest turns log-dirty off as it leaves) and
# the PVM must run on.  Two ways, on one guest:
#   1. the secondary host dies in the middle of a checkpoint (its engine
#      SIGKILLed, the SVM destroyed): the primary goes on unprotected;
#   2. protected again, the operator stops the primary (SIGTERM): it exits,
#      the secondary stands down.
# The second protection also shows that the first one's libxenguest left
# the domain fit to be saved again.
W=/tmp/xc-stop; mkdir -p $W
XLOG=/var/log/xen/console/guest-pvm.log
protect() {     # protect N: secondary and primary, wait for checkpoint 1
    colo-engine secondary --backend xen --domain svm,config=/lab/guests/svm.cfg \
        --listen 127.0.0.1:912$1 --control unix:$W/sec$1.sock --debug \
        --io-timeout 30000 --peer-timeout 15000 > $W/sec$1.out 2> $W/sec$1.err &
    secpid=$!
    wait_log $W/sec$1.err "waiting for the primary" 60
    colo-engine primary --backend xen --domain pvm,name=pvm,save=libxenguest \
        --peer 127.0.0.1:912$1 --control unix:$W/pri$1.sock --interval 1000 \
        --debug --io-timeout 30000 > $W/pri$1.out 2> $W/pri$1.err &
    pripid=$!
    _i=0
    while ! grep -q "primary: checkpoint 1 (" $W/pri$1.err; do
        _i=$((_i + 1)); [ $_i -gt 240 ] && return 1
        kill -0 $pripid 2>/dev/null && kill -0 $secpid 2>/dev/null || return 1
        sleep 1
    done
}
ticks() {       # the PVM's dirtier, read twice 4 s apart: tk, and _a _b
    _a=$(peek pvm "$xspfn" tick); sleep 4; _b=$(peek pvm "$xspfn" tick)
    tk="tick ${_a:-?} -> ${_b:-?}"
}
if boot_guest pvm 240; then
    xspfn=$(status_pfn $XLOG)
    if protect 1; then
        pass "xc-stop: protected on libxenguest's loop"
        # Die in the middle of a checkpoint: the secondary stopped, the
        # primary has sent CHECKPOINT_NEW and waits for SVM_SUSPENDED with
        # the PVM still running, while libxenguest waits in its
        # checkpoint callbacks for the engine to suspend it (the engine
        # suspends the PVM only once the SVM's dirty list is in, so
        # libxenguest's read of that list on its back channel - the path
        # where libxenguest 4.17 crashes if the read fails; xen-xcsave.c -
        # follows at once).  Then the secondary dies.  It is stopped right
        # after a checkpoint ended, so that it cannot have answered the next
        # one's CHECKPOINT_NEW (one run stopped it just after it had, and
        # the primary lost it in send-state instead).
        n0=$(grep -c 'wait-svm-resumed -> running' $W/pri1.err); _i=0
        while [ $_i -lt 300 ] && [ "$(grep -c 'wait-svm-resumed -> running' $W/pri1.err)" -le "$n0" ]; do
            sleep 0.2; _i=$((_i + 1))
        done
        kill -STOP $secpid; _i=0
        while [ $_i -lt 60 ] && [ "$(grep -c 'running -> wait-svm-suspended' $W/pri1.err)" -le \
                                  "$(grep -c 'primary: checkpoint [0-9]* (' $W/pri1.err)" ]; do
            sleep 1; _i=$((_i + 1))
        done
        kill -9 $secpid; wait $secpid 2>/dev/null
        xl destroy svm--colo-svm 2>/dev/null
        check "xc-stop: with the secondary gone mid-checkpoint the primary goes on unprotected" \
            wait_log $W/pri1.err "lost during wait-svm-suspended; continuing UNPROTECTED" 90 ||
            grep -a "secondary lost during" $W/pri1.err
        colo-ctl -c unix:$W/pri1.sock -t 20000 status --json > $W/st1.json 2>&1
        check "xc-stop: ... its status says so" grep -q '"state":"unprotected"' $W/st1.json
        ticks; check "xc-stop: ... and the PVM runs on ($tk)" test -n "$_a" -a -n "$_b" -a "${_b:-0}" -gt "${_a:-0}"
        kill -TERM $pripid; _i=0
        while kill -0 $pripid 2>/dev/null && [ $_i -lt 30 ]; do sleep 1; _i=$((_i + 1)); done
        check "xc-stop: ... and leaves when told (in ${_i} s)" sh -c "! kill -0 $pripid 2>/dev/null"
    else
        fail "xc-stop: protected on libxenguest's loop" "no checkpoint 1"; show $W/pri1.err 20
    fi
    kill -9 $pripid $secpid 2>/dev/null; xl destroy svm--colo-svm 2>/dev/null
    if protect 2; then
        pass "xc-stop: protected again on libxenguest's loop"
        kill -TERM $pripid; _i=0
        while kill -0 $pripid 2>/dev/null && [ $_i -lt 30 ]; do sleep 1; _i=$((_i + 1)); done
        check "xc-stop: the operator stops the primary: it exits (in ${_i} s)" sh -c "! kill -0 $pripid 2>/dev/null"
        check "xc-stop: ... saying the PVM runs on unprotected" grep -q "stopped by the operator" $W/pri2.err
        check "xc-stop: ... and the secondary stands down" wait_log $W/sec2.err "the primary reports error .*stopped by the operator" 60
        ticks; check "xc-stop: ... and the PVM runs on ($tk)" test -n "$_a" -a -n "$_b" -a "${_b:-0}" -gt "${_a:-0}"
    else
        fail "xc-stop: protected again on libxenguest's loop" "no checkpoint 1"; show $W/pri2.err 20
    fi
    xc=$(peek pvm "$xspfn" corrupt)
    check "xc-stop: the PVM's memory self-check holds (corrupt=${xc:-?})" test "$xc" = 0
    infra_if_triple_fault
fi
kill -9 $pripid $secpid 2>/dev/null
for d in pvm svm--colo-svm; do xl destroy $d 2>/dev/null; done
