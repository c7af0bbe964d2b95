# 100 checkpoints under a dirtying workload, primary and secondary engines
# as separate processes over TCP loopback; after every checkpoint the SVM's
# RAM must equal the PVM's byte for byte (SHA-256 of the whole region on
# each side, taken with both suspended).
. "$(dirname "$0")/lib.sh"
free_port port
bg sec 120 env COLO_LOG_TIME=1 "$ENGINE" secondary --backend sim --domain vm1 --listen 127.0.0.1:$port \
    --verify --run-after-failover 300
wait_for "$WORK/sec.err" "waiting for the primary" 10 || fail "secondary started"
timeout 180 "$ENGINE" primary --backend sim --domain vm1,mem=16M,rate=30000,pattern=hotset,hot=20 \
    --peer 127.0.0.1:$port --interval 20 --min-interval 0 --checkpoints 100 --verify \
    > "$WORK/pri.out" 2> "$WORK/pri.err"
rc=$?
wait "${PIDS[0]}"
check "primary ran 100 checkpoints and exited cleanly" test "$rc" -eq 0
digests "$WORK/pri.err" pvm > "$WORK/pvm.txt"
digests "$WORK/sec.err" svm > "$WORK/svm.txt"
n=$(wc -l < "$WORK/pvm.txt")
check "101 checkpoints digested on the primary (initial + 100)" test "$n" -eq 101
check "SVM RAM equals PVM RAM after every checkpoint" cmp -s "$WORK/pvm.txt" "$WORK/svm.txt"
# COLO_LOG_TIME: the secondary's lines carry the monotonic clock, in order;
# the primary's (not set) carry none.
check "COLO_LOG_TIME=1: every secondary line starts with its time, in order" \
    awk '!/^\[[0-9]+\.[0-9][0-9][0-9]\] colo-secondary\[[0-9]+\]: / { bad = 1 }
         { t = substr($1, 2, length($1) - 2) + 0; if (t < last) bad = 1; last = t }
         END { exit bad || NR < 10 }' "$WORK/sec.err"
check "without it the primary's lines start with the program" \
    awk '!/^colo-primary\[[0-9]+\]: / { bad = 1 } END { exit bad || NR < 1 }' "$WORK/pri.err"
check "the checkpoints carried the workload's changes (digests all differ)" \
    test "$(cut -d' ' -f2 "$WORK/pvm.txt" | sort -u | wc -l)" -eq "$n"
check "primary status counts 101 checkpoints" test "$(json_num "$WORK/pri.out" checkpoints)" = 101
dirty=$(json_num "$WORK/pri.out" svm_dirty_last)
check "the SVM's own dirty pages were sent back (svm_dirty_last=$dirty)" test "${dirty:-0}" -gt 0
phases=$(sed -n 's/.*"last_pause_phases_ms":{\([^}]*\)}.*/\1/p' "$WORK/pri.out" | tail -1)
last=$(sed -n 's/.*"pause_ms":{"last":\([0-9.]*\).*/\1/p' "$WORK/pri.out" | tail -1)
check "status: the last pause's five phases add up to it ($phases = $last ms)" \
    awk -v p="$phases" -v l="$last" 'BEGIN { n = split(p, kv, ","); s = 0
        for (i = 1; i <= n; i++) { split(kv[i], x, ":"); s += x[2] }
        exit !(n == 5 && l > 0 && s - l < 0.01 && l - s < 0.01) }'
svmw=$(sed -n 's/.*"last_svm_suspend_ms":\([0-9.]*\).*/\1/p' "$WORK/pri.out" | tail -1)
check "status: the secondary's suspend before the pause is reported ($svmw ms)" \
    awk -v w="$svmw" 'BEGIN { exit !(w > 0) }'
check "the secondary failed over when the primary left" grep -q FAILOVER "$WORK/sec.err"
# Byte counters are cumulative: still there after the channel closed
# (the secondary's final status comes after failover).
check "secondary status keeps the bytes it received after failover" \
    test "$(json_num "$WORK/sec.out" bytes_received | cut -d. -f1)" -gt 1000000
check "secondary status: initial copy total is what was sent" \
    test "$(sed -n 's/.*"initial_copy":{"pages_done":\([0-9]*\),"pages_total":\([0-9]*\)}.*/\1 \2/p' "$WORK/sec.out" | tail -1 | awk '{print ($1 == $2)}')" = 1
