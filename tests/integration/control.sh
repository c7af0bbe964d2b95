# The control socket: colo-ctl asks for checkpoints and reads status.
. "$(dirname "$0")/lib.sh"
free_port port
sock=$WORK/primary.sock
bg sec 60 "$ENGINE" secondary --backend sim --domain vm1 --listen 127.0.0.1:$port --run-after-failover 100
wait_for "$WORK/sec.err" "waiting for the primary" 10
bg pri 60 "$ENGINE" primary --backend sim --domain vm1,mem=8M,rate=5000 --peer 127.0.0.1:$port \
    --interval 0 --control unix:$sock
wait_for "$WORK/pri.err" "protected" 20 || fail "primary protected the domain"
# Requests closer together than --min-interval are merged (rate limit), so
# space them out: each must then give one checkpoint.
for i in 1 2 3; do "$CTL" -c unix:$sock checkpoint; sleep 0.2; done
"$CTL" -c unix:$sock checkpoint divergence
sleep 0.5
"$CTL" -c unix:$sock status --json > "$WORK/status.json"
check "status is JSON with the primary's state" grep -q '"role":"primary","state":"running"' "$WORK/status.json"
check "requested checkpoints are counted by cause" grep -q '"request":3' "$WORK/status.json"
check "checkpoints: initial + 4 requested" test "$(json_num "$WORK/status.json" checkpoints)" = 5
check "divergence trigger counted" grep -q '"divergence":1' "$WORK/status.json"
"$CTL" -c unix:$sock status > "$WORK/human.txt"
check "human status line shows state and checkpoints" grep -q "primary *running *ckpts 5" "$WORK/human.txt"
"$CTL" -c unix:$sock checkpoint whim 2> "$WORK/ctl.err"; rc=$?
check "colo-ctl names an unknown checkpoint cause" test "$rc" -ne 0 -a -n "$(grep "unknown checkpoint cause 'whim'" "$WORK/ctl.err")"
"$CTL" -c unix:$sock -t 10s status 2> "$WORK/ctl.err"; rc=$?
check "colo-ctl refuses a wait that is not milliseconds" test "$rc" -eq 2 -a -n "$(grep "wait in milliseconds.*'10s'" "$WORK/ctl.err")"
"$CTL" -c unix:$sock -t 30000 status --json > "$WORK/status-t.json"
check "colo-ctl -t MS waits for status" grep -q '"role":"primary"' "$WORK/status-t.json"
# A client that sends garbage is dropped; the engine keeps going.
timeout 5 python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('$sock'); s.send(b'\x52\x00\x00\x00\xff\xff\x00\x00')" 2>/dev/null
sleep 0.3
"$CTL" -c unix:$sock status --json > "$WORK/status2.json"
check "engine still answers after a garbage control client" grep -q '"state":"running"' "$WORK/status2.json"
