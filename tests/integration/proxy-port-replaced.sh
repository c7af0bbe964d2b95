# A proxy port whose device is replaced under it, as the SVM's tap is on
# Xen: qemu-xen is restarted at every checkpoint, its tap goes and a new one
# of the same name comes (docs/xen-backend.md), and in the in-line layout
# the rewriter owns that tap.  The port must find the new device and carry
# frames again; a device that only goes down and up keeps its socket.  For
# each receive path (recv(), the v2 and v3 rings):
#   F (the forward link's far end) --yf-- Y: colo-proxy secondary --ys-- S (the SVM)
# with kernel TCP from F to a server in S.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
NL=$COLO_BUILDDIR/tests/integration/colo-netload
id=$$
F=colo-rf$id S=colo-rs$id Y=colo-ry$id
netns_setup $F $S $Y || exit 0
ip link add ef netns $F type veth peer name yf netns $Y
ip -n $F addr add 10.80.0.9/24 dev ef
for pair in "$F ef" "$Y yf"; do
    set -- $pair
    ip netns exec $1 ethtool -K $2 tx off > /dev/null 2>&1
    ip -n $1 link set $2 up
done
# The SVM's side: made again each time, with the VM's MAC (a guest keeps
# its MAC when its host-side device is replaced).
svm_link() {
    ip link add ys netns $Y type veth peer name es netns $S &&
        ip -n $S link set es address 02:00:0a:50:00:02 &&
        ip -n $S addr add 10.80.0.2/24 dev es &&
        ip netns exec $S ethtool -K es tx off > /dev/null 2>&1 &&
        ip netns exec $Y ethtool -K ys tx off > /dev/null 2>&1 &&
        ip -n $S link set es up && ip -n $Y link set ys up
}
svm_link
ip netns exec $S timeout 100 "$NL" serve 8080 > /dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do ip netns exec $S ss -ltnH "sport = :8080" | grep -q . && break; sleep 0.1; done
asks() { ip netns exec $F timeout 10 "$NL" ask 10.80.0.2 8080 "$1" 5 2> /dev/null | grep -q "^answer"; }
num() { grep -o "\"$1\":[0-9]*" <<< "$("$CTL" -c "unix:$WORK/$2.ctl" status --json 2> /dev/null)" | cut -d: -f2; }

for ring in none v2 v3; do
    COLO_PROXY_RING=$ring ip netns exec $Y timeout 60 "$PROXY" secondary --forward yf --svm ys \
        --control "unix:$WORK/$ring.ctl" > "$WORK/$ring.out" 2> "$WORK/$ring.err" &
    PIDS+=($!)
    RW=$!
    wait_for "$WORK/$ring.err" "rewriting between" 5
    check "$ring: the SVM answers through the rewriter" asks before
    ip -n $Y link del ys                    # the old tap goes ...
    sleep 0.3
    check "$ring: the rewriter lives on without its device, says so" \
        eval 'kill -0 $RW && grep -q "svm (ys): its device went away" "$WORK/$ring.err"'
    svm_link                                # ... and a new one of its name comes
    check "$ring: the SVM answers again through the new device" asks after
    check "$ring: the port found it again (reopened $(num reopened $ring))" test "$(num reopened $ring)" = 1
    ip -n $Y link set ys down
    sleep 0.2
    ip -n $Y link set ys up
    check "$ring: a device that only went down and up: answers, the socket kept (reopened $(num reopened $ring))" \
        eval 'asks downup && [ "$(num reopened $ring)" = 1 ]'
    kill -INT $RW
    for _ in $(seq 100); do kill -0 $RW 2> /dev/null || break; sleep 0.1; done
    check "$ring: it ends with its statistics" grep -q '"reopened":1' "$WORK/$ring.out"
    check "$ring: no sanitizer report" eval '! grep -q -E "Sanitizer|runtime error" "$WORK/$ring.err"'
done
