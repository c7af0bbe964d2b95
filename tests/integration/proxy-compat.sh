# colo-proxy standing in for QEMU's colo-compare: driven exactly the way
# QEMU's filter-mirror / filter-redirector and Xen's libxl drive colo-compare
# (colo-compat-drive), over unix and TCP chardevs, listening and connecting,
# with and without vnet headers; and the same driver against QEMU 7.2's own
# colo-compare (-machine none, socket chardevs, an iothread), which shows the
# driver drives it as QEMU and Xen do.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
DRIVE=$COLO_BUILDDIR/tests/integration/colo-compat-drive
W=$WORK
# In the sanitizer build, LeakSanitizer's stop-the-world at exit now and
# then hangs for good (google/sanitizers#1330: seen here about once in ten
# runs, the process spinning in sched_yield under its own tracer).  Leaks
# are checked by the unit tests of the same code; here AddressSanitizer and
# UBSan still check every access.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

start_proxy() {     # start_proxy LOG ARGS...
    local log=$1; shift
    timeout 120 "$PROXY" --svm-lag 300 "$@" > "$W/$log.out" 2> "$W/$log.err" &
    PROXY_PID=$!
    PIDS+=($!)
    wait_for "$W/$log.err" "comparing" 10
}
stop_proxy() {      # stop_proxy LOG: a clean exit with its final statistics
    local rc
    kill -INT "$PROXY_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PROXY_PID" 2>/dev/null && kill -9 "$PROXY_PID"     # did not end within 10 s
    wait "$PROXY_PID"; rc=$?
    check "$1: colo-proxy ended cleanly (exit $rc) with its final statistics" \
        test "$rc" = 0 -a -n "$(grep '"framing_errors"' "$W/$1.out")"
}
# --no-rewrite belongs to the interface mode: refused here, by name.
out=$("$PROXY" --primary-in "unix:$W/x1" --secondary-in "unix:$W/x2" --outdev "unix:$W/x3" --no-rewrite 2>&1)
rc=$?
check "--no-rewrite with QEMU's chardevs is refused, naming the option (exit $rc: $out)" \
    eval '[ "$rc" = 2 ] && grep -q -- "--no-rewrite is for interfaces" <<< "$out"'
out=$("$PROXY" --primary-in "unix:$W/x1" --secondary-in "unix:$W/x2" --outdev "unix:$W/x3" --ring v2 2>&1)
rc=$?
check "--ring with QEMU's chardevs is refused, naming the option (exit $rc: $out)" \
    eval '[ "$rc" = 2 ] && grep -q -- "--ring and --tx-batch are for interfaces" <<< "$out"'
out=$("$PROXY" --primary-in "unix:$W/x1" --secondary-in "unix:$W/x2" --outdev "unix:$W/x3" --no-window-clamp 2>&1)
rc=$?
check "--no-window-clamp with QEMU's chardevs is refused, naming the option (exit $rc: $out)" \
    eval '[ "$rc" = 2 ] && grep -q -- "--no-window-clamp is for interfaces" <<< "$out"'
# Framing defects the proxy counted must be those the driver sent.
check_defects() {   # check_defects LOG DRIVER-LOG
    local sent counted
    sent=$(sed -n 's/^INFO: .*framing defects sent: \([0-9]*\)$/\1/p' "$W/$2")
    counted=$(json_num "$W/$1.out" framing_errors)
    check "$1: every framing defect counted (sent ${sent:-?}, counted ${counted:-?})" \
        test -n "$sent" -a "$sent" = "$counted"
}
drive() {           # drive LOG ARGS...: run the driver, its PASS/FAIL lines are ours
    local log=$1; shift
    timeout 120 "$DRIVE" "$@" > "$W/$log" 2> "$W/$log.err"
    cat "$W/$log"
    grep -q '^PASS: ' "$W/$log" || fail "$log: the driver ran" "$(tail -1 "$W/$log.err")"
}

# 1. Unix chardevs, the compare listening (one given in QEMU's -chardev
#    syntax), Xen's notify channel: identical streams with different ISNs,
#    a divergence, a silent SVM, broken framing everywhere.
start_proxy u --primary-in "unix:$W/pin.sock,server=on,wait=off" --secondary-in "unix:$W/sin.sock,server" \
    --outdev "socket,id=compare_out,path=$W/out.sock,server=on,wait=off" --notify-dev "unix:$W/nfy.sock,server=on"
drive u.drive --label "unix" --primary-in "unix:$W/pin.sock" --secondary-in "unix:$W/sin.sock" \
    --outdev "unix:$W/out.sock" --notify "unix:$W/nfy.sock" xen-init identical diverge silent malformed
stop_proxy u
check_defects u u.drive

# 2. TCP chardevs with vnet headers (QEMU's vnet_hdr_support), Xen on TCP as libxl is.
free_port p1; free_port p2; free_port p3; free_port p4
start_proxy t --vnet-hdr --primary-in "tcp:127.0.0.1:$p1,server=on" --secondary-in "tcp:127.0.0.1:$p2,server=on" \
    --outdev "tcp:127.0.0.1:$p3,server=on" --notify-dev "tcp:127.0.0.1:$p4,server=on"
drive t.drive --label "tcp+vnet" --vnet --primary-in "tcp:127.0.0.1:$p1" --secondary-in "tcp:127.0.0.1:$p2" \
    --outdev "tcp:127.0.0.1:$p3" --notify "tcp:127.0.0.1:$p4" xen-init identical diverge malformed
stop_proxy t
check_defects t t.drive

# 3. The compare connecting, as in QEMU's documented layout (primary_in and
#    outdev are client chardevs): the peers come, go, and come back.
start_proxy c --primary-in "unix:$W/c-pin.sock,reconnect=1" --secondary-in "unix:$W/c-sin.sock,server" \
    --outdev "unix:$W/c-out.sock,reconnect=1"
for round in 1 2; do
    drive c$round.drive --label "client, peers up (round $round)" --first-conn $((round * 1000)) \
        --primary-in "unix:$W/c-pin.sock,server" \
        --secondary-in "unix:$W/c-sin.sock" --outdev "unix:$W/c-out.sock,server" identical
done
stop_proxy c
check "c: colo-proxy reconnected to its peers after they went away" \
    test "$(grep -c 'primary-in.*: connected' "$W/c.err")" -ge 2 -a "$(grep -c 'outdev.*: connected' "$W/c.err")" -ge 2
check "no crash or sanitizer report from colo-proxy" \
    test -z "$(grep -l -E 'ERROR: (Address|Undefined)|runtime error' "$W"/*.err)"

# 4. The same driver against QEMU 7.2's colo-compare.  Its SVM frames carry
#    the PVM's sequence numbers (--same-isn: QEMU expects the secondary's
#    filter-rewriter to have translated them), and its output is accepted in
#    any order: colo-compare writes outdev last-in first-out when its writes
#    back up (the driver says when that happened).
QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ]; then
    fail "QEMU's colo-compare run" "qemu-system-x86_64 is not installed (scripts/install-deps)"
    exit 0
fi
start_qemu() {      # start_qemu LOG EXTRA-COLO-COMPARE-PROPERTIES
    local log=$1 extra=$2 n
    rm -f "$W"/q-*.sock
    timeout 120 "$QEMU" -machine none -nodefaults -display none -object iothread,id=io1 \
        -chardev "socket,id=pin,path=$W/q-pin.sock,server=on,wait=off" \
        -chardev "socket,id=sin,path=$W/q-sin.sock,server=on,wait=off" \
        -chardev "socket,id=out,path=$W/q-out.sock,server=on,wait=off" \
        -chardev "socket,id=nfy,path=$W/q-nfy.sock,server=on,wait=off" \
        -object "colo-compare,id=c0,primary_in=pin,secondary_in=sin,outdev=out,iothread=io1$extra" \
        > "$W/$log.out" 2> "$W/$log.err" &
    QEMU_PID=$!
    PIDS+=($!)
    for n in $(seq 50); do [ -S "$W/q-nfy.sock" ] && return 0; sleep 0.1; done
    return 1
}
QARGS=(--same-isn --any-order --primary-in "unix:$W/q-pin.sock" --secondary-in "unix:$W/q-sin.sock"
       --outdev "unix:$W/q-out.sock")
if start_qemu q ",notify_dev=nfy,compare_timeout=300,expired_scan_cycle=100"; then
    drive q.drive --label "QEMU 7.2 colo-compare" "${QARGS[@]}" --notify "unix:$W/q-nfy.sock" \
        xen-init identical diverge silent
    # A bogus length: QEMU buffers what follows up to its 69,632-byte
    # buffer, then reports it and stops reading that chardev for good.
    # The sender retries a refused connect for a few seconds and stays
    # connected until QEMU has spoken, so that neither a listener that is
    # busy with the driver's hang-up nor our own hang-up can hide the
    # bytes; it writes down what it did, for the failure message.
    python3 -c '
import socket, sys, time
for i in range(50):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError as e:
        err = e; s.close(); time.sleep(0.1)
else:
    print("connect failed:", err); sys.exit(1)
s.sendall(b"\x7f\xff\xff\xff" + bytes(70000))
print("sent 70004 bytes", flush=True)
time.sleep(15)' "$W/q-sin.sock" > "$W/q.sender" 2>&1 &
    SENDER=$!
    # QEMU reports it once it has read past its buffer: on a loaded machine
    # that took longer than half a second (CI, once), so wait, bounded.
    wait_for "$W/q.err" 'secondary_in error' 10
    kill "$SENDER" 2>/dev/null; wait "$SENDER" 2>/dev/null
    if grep -q 'secondary_in error' "$W/q.err" && [ -d "/proc/$QEMU_PID" ]; then
        pass "QEMU 7.2 colo-compare: a 2 GiB length on secondary_in - QEMU survives and says so"
    else
        fail "QEMU 7.2 colo-compare: a 2 GiB length on secondary_in - QEMU survives and says so" \
            "QEMU $([ -d "/proc/$QEMU_PID" ] && echo running || echo gone); sender: $(tr '\n' ' ' < "$W/q.sender"); QEMU said: $(tail -2 "$W/q.err" | tr '\n' ' ')"
    fi
    grep -h -E 'oversized|secondary_in error' "$W/q.err" | sed 's/^/INFO: QEMU said: /'
    kill "$QEMU_PID"; wait "$QEMU_PID" 2>/dev/null
else
    fail "QEMU 7.2 colo-compare starts with -machine none" "$(tail -1 "$W/q.err")"
fi
# With vnet_hdr_support QEMU also expects a vnet length field in libxl's
# notify messages, which libxl never sends: streams only.
if start_qemu qv ",vnet_hdr_support=on"; then
    drive qv.drive --label "QEMU 7.2 colo-compare, vnet" "${QARGS[@]}" --vnet identical
    kill "$QEMU_PID"; wait "$QEMU_PID" 2>/dev/null
else
    fail "QEMU 7.2 colo-compare with vnet_hdr_support starts" "$(tail -1 "$W/qv.err")"
fi
