# colo-proxy and frames whose checksum the sender left to the hardware.
#
# A sender on the same host with transmit checksum offload (another VM's
# netback, dom0's own stack, an Open vSwitch internal port) hands the
# switch TCP segments whose checksum is not computed yet (Linux's
# CHECKSUM_PARTIAL).  On Open vSwitch's kernel datapath the proxy's
# AF_PACKET sockets see them so; re-sent unchanged they would leave as
# complete frames with a wrong checksum and the receiver would drop them
# (found in the Xen lab: the SVM never answered the client through the
# rewriter).  Here the client's, the PVM's and the SVM's veths keep
# transmit checksum offload on (segmentation off, so that frames stay
# MTU-sized), and everything must still be answered, in each receive mode;
# then with segmentation offload on at the client as well.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
VM="/usr/bin/python3 $COLO_SRCDIR/tests/integration/netvm.py"
id=$$
C=colo-c$id P=colo-p$id S=colo-s$id X=colo-x$id
netns_setup $C $P $S $X || exit 0
proxy_veths $C $P $S $X $id || { fail "veth pairs for the proxy"; exit 0; }
for pair in "$C vc$id" "$P vp$id" "$S vs$id"; do
    set -- $pair
    ip netns exec $1 ethtool -K $2 tx on tso off gso off > /dev/null 2>&1
    ip -n $1 link set $2 up
done
for d in xc xp xs; do ip netns exec $X ethtool -K $d tx off > /dev/null 2>&1; ip -n $X link set $d up; done
offload=$(ip netns exec $C ethtool -k vc$id | sed -n 's/^tx-checksumming: //p')
check "the client's veth keeps transmit checksum offload ($offload)" test "$offload" = on

ip netns exec $P timeout 120 $VM serve 8080 > /dev/null 2>&1 & PIDS+=($!)
ip netns exec $S timeout 120 $VM serve 8080 > /dev/null 2>&1 & PIDS+=($!)
for n in $P $S; do
    for _ in $(seq 100); do ip netns exec $n ss -ltnH "sport = :8080" | grep -q . && break; sleep 0.1; done
done
# csum PORT OUT: the csum_filled count of the port named PORT in a final status.
csum() { grep -o "\"name\":\"$1 ([a-z]*)\"[^}]*" "$2" | sed -n 's/.*"csum_filled":\([0-9]*\).*/\1/p'; }
for ring in none v2; do
    ip netns exec $X env COLO_PROXY_RING=$ring timeout 120 "$PROXY" --client xc --pvm xp --svm xs \
        --svm-lag 2000 > "$WORK/$ring.out" 2> "$WORK/$ring.err" &
    ppid=$!
    wait_for "$WORK/$ring.err" "comparing" 5
    out=$(ip netns exec $C timeout 60 $VM client 10.77.0.2 8080 10 20 20)
    check "ring $ring: 200 requests over 10 connections all answered ($out)" test "$out" = "ok 200"
    kill -INT $ppid; wait $ppid
    check "ring $ring: no divergence, no checkpoint asked for" \
        sh -c "grep -q '\"divergences\":0' '$WORK/$ring.out' && ! grep -q 'asking for a checkpoint' '$WORK/$ring.err'"
    c=$(csum client "$WORK/$ring.out") p=$(csum pvm "$WORK/$ring.out") s=$(csum svm "$WORK/$ring.out")
    check "ring $ring: the proxy completed the checksums on all three ports (client $c, pvm $p, svm $s)" \
        test "${c:-0}" -gt 0 -a "${p:-0}" -gt 0 -a "${s:-0}" -gt 0
done
# Segmentation offload too: the client's 20 KB request reaches the proxy as
# one TCP frame larger than the VMs' interfaces take; the proxy cuts it into
# segments, as the client's NIC would have, and the request is answered.
ip netns exec $C ethtool -K vc$id tso on gso on > /dev/null 2>&1
ip netns exec $X timeout 60 "$PROXY" --client xc --pvm xp --svm xs --svm-lag 2000 \
    --control unix:$WORK/proxy.ctl > "$WORK/gso.out" 2> "$WORK/gso.err" &
ppid=$!
wait_for "$WORK/gso.err" "comparing" 5
big=$(head -c 20000 /dev/zero | tr '\0' x)
ans=$(ip netns exec $C timeout 10 $VM ask 10.77.0.2 8080 "$big" 5 | head -c 20)
st=$("$CTL" -c unix:$WORK/proxy.ctl status --json)
field() { grep -o "\"name\":\"$1 ([a-z]*)\"[^}]*" <<<"$st" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }
sg=$(field pvm segmented) ov=$(field pvm oversize)
check "a 20 KB request sent with segmentation offload is answered: $ans" grep -q "^RESP 0 xxxx" <<<"$ans"
check "... the proxy cut the large frames for both VMs (segmented $sg / $(field svm segmented), too large $ov)" \
    test "${sg:-0}" -gt 0 -a "$(field svm segmented)" -gt 0 -a "${ov:-1}" -eq 0
# A UDP datagram the client's kernel left to the NIC to cut (UDP_SEGMENT):
# not TCP, so the proxy does not cut it; the VMs' interfaces refuse it as
# too large, and the proxy counts that, says so, and runs on.
ip netns exec $C timeout 5 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 103, 1000)     # UDP_SEGMENT: 1000-byte datagrams
s.sendto(b"u" * 5000, ("10.77.0.2", 9999))'
sleep 0.3
st=$("$CTL" -c unix:$WORK/proxy.ctl status --json)
ov=$(field pvm oversize)
check "a UDP frame too large to send is counted ($ov), said, and the proxy runs on" \
    test "${ov:-0}" -gt 0 -a -n "$(grep 'larger than the interface takes' "$WORK/gso.err")" -a -n "$st"
kill -INT $ppid; wait $ppid
check "no crash or sanitizer report from the proxy" \
    test -z "$(grep -l -E 'ERROR: (Address|Undefined)|runtime error' "$WORK"/*.err)"
