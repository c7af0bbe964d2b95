# Bad input gets a clear error naming what was wrong - never a crash.
. "$(dirname "$0")/lib.sh"

# expect_error NAME EXPECTED-EXIT PATTERN CMD...
expect_error() {
    local name=$1 want=$2 pat=$3 rc; shift 3
    timeout 20 "$@" > "$WORK/out" 2> "$WORK/err"; rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$WORK/err"; then pass "$name"
    else fail "$name" "exit $rc, stderr: $(head -c 300 "$WORK/err")"; fi
}

expect_error "unknown backend is named" 2 "unknown backend 'kvm'" \
    "$ENGINE" primary --backend kvm --domain vm --peer 127.0.0.1:1
expect_error "missing --peer is named" 2 "needs --backend, --domain and --peer" \
    "$ENGINE" primary --backend sim --domain vm
expect_error "bad sim size is named" 1 "sim option mem=12Q" \
    "$ENGINE" primary --backend sim --domain vm,mem=12Q --peer 127.0.0.1:1
expect_error "unknown sim option is named" 1 "sim option 'colour' unknown" \
    "$ENGINE" primary --backend sim --domain vm,colour=red --peer 127.0.0.1:1
expect_error "bad pattern is named" 1 "sim option pattern=zigzag" \
    "$ENGINE" primary --backend sim --domain vm,pattern=zigzag --peer 127.0.0.1:1
expect_error "bad interval is named" 2 "option --interval: 'soon'" \
    "$ENGINE" primary --backend sim --domain vm --peer 127.0.0.1:1 --interval soon
expect_error "malformed address is named" 1 "not HOST:PORT" \
    "$ENGINE" primary --backend sim --domain vm,mem=1M --peer nonsense
free_port port
expect_error "unreachable secondary is reported" 1 "cannot connect to '127.0.0.1:$port'" \
    "$ENGINE" primary --backend sim --domain vm,mem=1M --peer 127.0.0.1:$port

# Garbage on the replication port: the secondary says what it got and exits
# with an error status (not a signal), and no SVM is left behind.
garbage() {     # garbage NAME BYTES-PRINTF PATTERN
    local port; free_port port
    # Generous bounds: under the sanitizers on a loaded 2-core machine the
    # engine has taken seconds to start listening.
    timeout 60 "$ENGINE" secondary --backend sim --domain vm --listen 127.0.0.1:$port \
        > "$WORK/g.out" 2> "$WORK/g.err" &
    local pid=$!; PIDS+=($pid)
    wait_for "$WORK/g.err" "waiting for the primary" 40
    # shellcheck disable=SC2059
    printf "$2" | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$port" 2>/dev/null
    wait "$pid"; local rc=$?
    if [ "$rc" -eq 1 ] && grep -q -- "$3" "$WORK/g.err"; then pass "$1"
    else fail "$1" "exit $rc: $(head -c 300 "$WORK/g.err")"; fi
}
garbage "secondary refuses an oversized record" '\x01\x00\x00\x00\xff\xff\xff\x7f' "longer than the protocol allows"
garbage "secondary refuses a non-HELLO first record" '\x20\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' "expected HELLO, got CHECKPOINT_NEW"
garbage "secondary refuses a bad HELLO" "\x01\x00\x00\x00\x68\x00\x00\x00$(printf '\\x41%.0s' $(seq 1 104))" "HELLO magic is wrong"
garbage "secondary refuses an unknown record" '\x99\x99\x00\x00\x00\x00\x00\x00' "unknown record type"
garbage "secondary reports a truncated record" '\x01\x00\x00\x00\x68\x00\x00\x00\x78\x65' "closed the connection in the middle of a record"

