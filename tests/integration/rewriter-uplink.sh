# colo-proxy secondary --uplink (the in-line layout's secondary): before
# failover the SVM talks only over the forward link and what the uplink
# brings is ignored; after FAILOVER only over the uplink, and what the
# forward link still brings (a primary that is gone - or split from us and
# still talking) is ignored.  Real kernels talk TCP across it:
#   F (the forward link's far end) --yf--.
#                                         Y: colo-proxy secondary --ys-- S (the SVM)
#   U (the bridge, after failover) --yu--'
# F and U have the same address and MAC: one client, two ways to the SVM.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
REC=$COLO_BUILDDIR/tests/integration/colo-rec
NL=$COLO_BUILDDIR/tests/integration/colo-netload
id=$$
F=colo-uf$id U=colo-uu$id S=colo-us$id Y=colo-uy$id
netns_setup $F $U $S $Y || exit 0
ip link add ef netns $F type veth peer name yf netns $Y
ip link add eu netns $U type veth peer name yu netns $Y
ip link add es netns $S type veth peer name ys netns $Y
for d in "$F ef" "$U eu"; do
    set -- $d
    ip -n $1 link set $2 address 02:00:0a:4f:00:09
    ip -n $1 addr add 10.79.0.9/24 dev $2
done
ip -n $S addr add 10.79.0.2/24 dev es
for pair in "$F ef" "$U eu" "$S es" "$Y yf" "$Y yu" "$Y ys"; do
    set -- $pair
    ip netns exec $1 ethtool -K $2 tx off > /dev/null 2>&1
    ip -n $1 link set $2 up
done
ip netns exec $S timeout 60 "$NL" serve 8080 > /dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do ip netns exec $S ss -ltnH "sport = :8080" | grep -q . && break; sleep 0.1; done
# A request from namespace $1 answered within $2 seconds (a new connection
# each time: ARP and the handshake go the same way).
asks() { ip netns exec "$1" timeout 10 "$NL" ask 10.79.0.2 8080 hello "$2" 2> /dev/null | grep -q "^answer"; }
status() { "$CTL" -c "unix:$WORK/rw.ctl" status --json 2> /dev/null; }
num() { grep -o "\"$1\":[0-9]*" <<< "$(status)" | cut -d: -f2; }

ip netns exec $Y timeout 60 "$PROXY" secondary --forward yf --svm ys --uplink yu \
    --control "unix:$WORK/rw.ctl" > "$WORK/rw.out" 2> "$WORK/rw.err" &
PIDS+=($!)
RW=$!
check "the rewriter starts with an uplink and says where the SVM goes after failover" \
    wait_for "$WORK/rw.err" "after failover between yu (uplink) and the SVM" 5
check "before failover: the SVM answers over the forward link" asks $F 5
check "... not over the uplink" eval '! asks $U 2'
check "... whose frames were ignored and counted (ignored_uplink $(num ignored_uplink))" \
    test "$(num ignored_uplink)" -gt 0
ack=$("$REC" "unix:$WORK/rw.ctl" FAILOVER)
check "the rewriter acknowledges FAILOVER ($ack)" test "$ack" = FAILOVER
check "after failover: the SVM answers over the uplink" asks $U 5
before=$(num ignored_forward)
check "... not over the forward link any more" eval '! asks $F 2'
check "... whose frames are ignored and counted (ignored_forward ${before:-?} -> $(num ignored_forward))" \
    test "$(num ignored_forward)" -gt "${before:-0}"
kill -INT $RW
for _ in $(seq 100); do kill -0 $RW 2> /dev/null || break; sleep 0.1; done
check "it ends with its statistics, uplink true" grep -q '"uplink":true' "$WORK/rw.out"
check "no sanitizer report" eval '! grep -q -E "Sanitizer|runtime error" "$WORK/rw.err"'

# Bad command lines: refused, naming what was wrong.
refused() {     # refused NAME STATUS PATTERN ARGS...
    local name=$1 want=$2 pat=$3 rc; shift 3
    ip netns exec $Y timeout 10 "$PROXY" secondary "$@" > /dev/null 2> "$WORK/bad.err"; rc=$?
    check "refused: $name (exit $rc: $(grep -m1 -v '^usage' "$WORK/bad.err" | cut -c1-80))" \
        eval '[ $rc = $want ] && grep -q -- "$pat" "$WORK/bad.err"'
}
refused "the uplink is the SVM's port" 2 "are both 'ys'" --forward yf --svm ys --uplink ys
refused "the uplink is the forward link" 2 "are both 'yf'" --forward yf --svm ys --uplink yf
refused "no such uplink" 1 "nosuch" --forward yf --svm ys --uplink nosuch
refused "an unknown --ring" 2 "--ring 'v4' is not none, v2 or v3" --forward yf --svm ys --ring v4
# --ring and --tx-batch choose the ports' I/O, over the environment's choice.
ip netns exec $Y env COLO_PROXY_RING=v3 timeout 10 "$PROXY" secondary --forward yf --svm ys \
    --ring v2 --tx-batch > /dev/null 2> "$WORK/io.err" &
PIDS+=($!)
check "--ring v2 --tx-batch over COLO_PROXY_RING=v3: the rewriter says so" \
    wait_for "$WORK/io.err" "ports: a TPACKET_V2 ring, batched sends" 5
kill -INT $! 2> /dev/null
p=$(ip netns exec $Y timeout 10 "$PROXY" --client yf --pvm ys --svm yu --ring 2q 2>&1)
check "the comparator refuses an unknown --ring too ($p)" grep -q -- "--ring '2q' is not none, v2 or v3" <<< "$p"
