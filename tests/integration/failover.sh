# The replication stream cut at exact protocol points (colo-cutproxy sits
# between the engines): a cut before commit leaves the SVM's RAM exactly as
# it was when that checkpoint began (digest at suspension = digest at
# failover); a cut after commit leaves it equal to the PVM's checkpoint;
# either way the SVM then runs on - its progress counter keeps counting.
. "$(dirname "$0")/lib.sh"

# run_cut NAME CUTPROXY-ARGS...
run_cut() {
    local name=$1; shift
    local sport pport pre="$WORK/$name"
    free_port sport; free_port pport
    timeout 60 "$ENGINE" secondary --backend sim --domain vm1 --listen 127.0.0.1:$sport \
        --verify --run-after-failover 400 > "$pre.sec.out" 2> "$pre.sec.err" &
    local spid=$!; PIDS+=($spid)
    wait_for "$pre.sec.err" "waiting for the primary" 10
    timeout 60 "$CUTPROXY" 127.0.0.1:$pport 127.0.0.1:$sport "$@" > /dev/null 2> "$pre.cut.err" &
    local cpid=$!; PIDS+=($cpid)
    sleep 0.2
    timeout 60 "$ENGINE" primary --backend sim --domain vm1,mem=32M,rate=40000,tsc=1 \
        --peer 127.0.0.1:$pport --interval 60 --min-interval 0 --checkpoints 12 --verify \
        > "$pre.pri.out" 2> "$pre.pri.err"
    wait "$spid" "$cpid"
    check "$name: the stream was cut where asked" grep -q "cut after" "$pre.cut.err"
    check "$name: the primary carried on unprotected" grep -q '"state":"unprotected"' "$pre.pri.out"
    check "$name: the secondary failed over" grep -q '"state":"active"' "$pre.sec.out"
    local at_failover final
    at_failover=$(sed -n 's/.*guest progress at failover: \([0-9]*\)/\1/p' "$pre.sec.err")
    final=$(json_num "$pre.sec.out" guest_progress)
    check "$name: the SVM runs on after failover ($at_failover -> $final)" \
        test "${final:-0}" -gt "${at_failover:-0}"
}

# 1. In the middle of checkpoint 5's pages: SVM keeps its own state.
run_cut mid-pages --arm CHECKPOINT_NEW:6 --cut MEMORY_PAGES:2
s=$(digests "$WORK/mid-pages.sec.err" suspended | awk '$1==5{print $2}')
f=$(digests "$WORK/mid-pages.sec.err" failover | awk '$1==5{print $2}')
check "mid-pages: SVM RAM at failover equals SVM RAM at suspension" test -n "$s" -a "$s" = "$f"
p=$(digests "$WORK/mid-pages.pri.err" pvm | awk '$1==5{print $2}')
check "mid-pages: ... and differs from the PVM's uncommitted checkpoint" test "$s" != "$p"

# 2. Before the end record of checkpoint 5 (device state already sent).
run_cut before-end --arm CHECKPOINT_NEW:6 --cut CHECKPOINT_END:1
s=$(digests "$WORK/before-end.sec.err" suspended | awk '$1==5{print $2}')
f=$(digests "$WORK/before-end.sec.err" failover | awk '$1==5{print $2}')
check "before-end: SVM RAM at failover equals SVM RAM at suspension" test -n "$s" -a "$s" = "$f"

# 3. Just after the end record: the secondary commits, then loses the primary.
run_cut after-end --arm CHECKPOINT_NEW:6 --cut CHECKPOINT_END:1 --after
p=$(digests "$WORK/after-end.pri.err" pvm | awk '$1==5{print $2}')
v=$(digests "$WORK/after-end.sec.err" svm | awk '$1==5{print $2}')
check "after-end: the committed SVM equals the PVM at checkpoint 5" test -n "$p" -a "$p" = "$v"

# 4. The secondary's SVM_SUSPENDED never reaches the primary.
run_cut svm-suspended --dir s2p --cut CHECKPOINT_SVM_SUSPENDED:6
s=$(digests "$WORK/svm-suspended.sec.err" suspended | awk '$1==5{print $2}')
f=$(digests "$WORK/svm-suspended.sec.err" failover | awk '$1==5{print $2}')
check "svm-suspended: SVM RAM at failover equals SVM RAM at suspension" test -n "$s" -a "$s" = "$f"
