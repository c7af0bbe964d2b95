# Held output is released while the VM is still paused: the engines wait
# for every subscribed control client (the proxies) to answer
# CHECKPOINT_DONE before they resume their VM, so that output of the next
# epoch cannot go out with this checkpoint's.  A subscription is echoed.
# A proxy that does not answer within 500 ms is dropped, and since what it
# held may then go out unmatched, the primary ends the protection: the
# secondary stands down, the PVM runs on.
. "$(dirname "$0")/lib.sh"
SUB="python3 $COLO_SRCDIR/tests/integration/subscriber.py"
free_port port
psock=$WORK/primary.sock ssock=$WORK/secondary.sock
bg sec 60 "$ENGINE" secondary --backend sim --domain vm1 --listen 127.0.0.1:$port \
    --control unix:$ssock --run-after-failover 100
wait_for "$WORK/sec.err" "waiting for the primary" 10
bg pri 60 "$ENGINE" primary --backend sim --domain vm1,mem=8M,rate=5000 --peer 127.0.0.1:$port \
    --interval 0 --control unix:$psock
wait_for "$WORK/pri.err" "protected" 20 || fail "primary protected the domain"

pause() {       # pause SOCKET: the last pause in ms
    "$CTL" -c "unix:$1" status --json > "$WORK/st.json" && printf "%.1f" "$(json_num "$WORK/st.json" last)"
}
checkpoint() {  # one requested checkpoint, finished
    local n
    "$CTL" -c unix:$psock status --json > "$WORK/st.json"
    n=$(json_num "$WORK/st.json" checkpoints)
    "$CTL" -c unix:$psock checkpoint
    for _ in $(seq 1 50); do
        "$CTL" -c unix:$psock status --json > "$WORK/st.json"
        [ "$(json_num "$WORK/st.json" checkpoints)" -gt "$n" ] && return 0
        sleep 0.1
    done
    return 1
}
ge() { [ "$(echo "$1 >= $2" | bc)" = 1 ]; }
lt() { [ "$(echo "$1 < $2" | bc)" = 1 ]; }

# 1. A subscriber that takes 300 ms to answer holds the PVM paused that long.
bg slow 20 $SUB "$psock" 300 15
wait_for "$WORK/slow.out" acknowledged 5
check "the engine echoes a subscription" grep -q "^acknowledged" "$WORK/slow.out"
checkpoint
p=$(pause "$psock")
check "the PVM stays paused until the subscriber answered (pause $p ms >= 300)" ge "${p:-0}" 300
check "... and no longer than that (pause $p ms < 500)" lt "${p:-9999}" 500
check "the subscriber was sent CHECKPOINT_DONE" grep -q "^done " "$WORK/slow.out"
kill "${PIDS[-1]}" 2>/dev/null; sleep 0.3

# 2. Plain clients (colo-ctl, status tools) are never waited for.
checkpoint
p=$(pause "$psock")
check "without a subscriber the pause is short again ($p ms < 100)" lt "${p:-9999}" 100

# 3. On the secondary, the SVM resumes only once the rewriter has answered.
bg rw 20 $SUB "$ssock" 300 15
wait_for "$WORK/rw.out" acknowledged 5
checkpoint
sleep 0.5
p=$(pause "$ssock")
check "the SVM stays paused until the secondary's subscriber answered ($p ms >= 300)" ge "${p:-0}" 300
check "the secondary's subscriber was sent CHECKPOINT_DONE" grep -q "^done " "$WORK/rw.out"

# 4. A subscriber that never answers is dropped after 500 ms, and the
#    protection ends: the PVM runs on, the secondary stands down.
bg mute 20 $SUB "$psock" never 15
wait_for "$WORK/mute.out" acknowledged 5
"$CTL" -c unix:$psock checkpoint
wait_for "$WORK/pri.err" "replication stops" 5
"$CTL" -c unix:$psock status --json > "$WORK/st.json"
check "a subscriber that never answers ends the protection: the primary is unprotected" \
    grep -q '"state":"unprotected"' "$WORK/st.json"
check "the engine says which checkpoint went unanswered, and why it stops" \
    eval 'grep -q "did not answer CHECKPOINT_DONE .* within 500 ms; dropping it" "$WORK/pri.err" &&
          grep -q "releasing the output this checkpoint covers (a proxy did not answer) failed" "$WORK/pri.err"'
wait_for "$WORK/sec.err" "stopping without taking over" 5
check "... and the secondary stands down instead of taking over" \
    eval 'grep -q "stopping without taking over" "$WORK/sec.err" && ! grep -q FAILOVER "$WORK/sec.err"'
wait_for "$WORK/mute.out" "^closed" 5
check "the silent subscriber's connection is closed" grep -q "^closed" "$WORK/mute.out"
