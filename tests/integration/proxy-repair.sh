# The secondary's repair of the client's bytes the SVM lost (resend.h).
# An nftables rule in the SVM's namespace drops one in 25 of the client's
# data-carrying TCP segments (a lossy forward link, a full vif queue: the
# client never hears of it, since it only talks to the PVM).
#   1. With the repair (the default): 2,000 requests over 100 connections
#      and a bulk upload all go through, no checkpoint asked for, and the
#      client hardly ever times out.  The
#      secondary sends the lost segments again: after silence (a request
#      that nothing follows) and on duplicate ACKs (the upload).
#   2. With --repair-buffer 0: the upload stalls until the proxy asks for
#      a checkpoint for SVM lag - what such a loss cost before.  (Requests
#      mostly get through without the repair too, more slowly: the client's
#      tail-loss probe resends a lost request to both VMs.)
# The comparator's SVM-lag timeout is 1 s here: a repair slower than that
# would show up as a checkpoint request.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
NL=$COLO_BUILDDIR/tests/integration/colo-netload
OVS_HOSTS=${OVS_HOSTS:-2} OVS_LAYOUT=${OVS_LAYOUT:-inline}
. "$(dirname "$0")/ovs-lib.bash"
trap 'ovs_cleanup; cleanup' EXIT
command -v nft > /dev/null || { echo "FAIL: nft (Debian package nftables) is not installed"; exit 1; }

ovs_begin "the layout is set up: LAN, primary and secondary bridges, vifs plugged" protect
# Data-carrying segments only (IP length over 100): the repair keeps data
# and FINs, not the handshake (resend.h).
check "the SVM's namespace drops 1 in 25 of the client's data segments (nftables)" \
    sh -c "ip netns exec $NS nft add table inet lossy &&
           ip netns exec $NS nft add chain inet lossy in '{ type filter hook input priority 0; }' &&
           ip netns exec $NS nft add rule inet lossy in tcp dport { 8094, 8095 } ip length gt 100 numgen random mod 25 == 0 counter drop"
dropped() { ip netns exec "$NS" nft list chain inet lossy in | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }

in_ns() { local n=$1; shift; ip netns exec "$n" timeout 120 "$@"; }
requests() { sed -n 's/.*"requests":{\([^}]*\)}.*/\1/p' "$1"; }

# Retransmission timeouts the client's kernel took: each is a stall of
# 200 ms or more (Linux's minimum RTO), here always because the PVM's
# acknowledgement was held while the SVM missed the bytes.
timeouts() { ip netns exec "$NC" nstat -asz TcpExtTCPTimeouts | awk '$1 == "TcpExtTCPTimeouts" { print $2 }'; }

# 1. With the repair.
ovs_servers 8094
ovs_proxies r1 --svm-lag 1000
d0=$(dropped) t0=$(timeouts)
out=$(in_ns "$NC" "$NL" requests $VM_IP 8094 100 20 20 90)
d1=$(dropped) t1=$(timeouts)
up=$(in_ns "$NC" "$NL" upload $VM_IP 8094 2)
d2=$(dropped) t2=$(timeouts)
sleep 0.5
ovs_stop_proxies
lost=$((d1 - d0)) rto=$((t1 - t0))
check "2,000 requests over 100 connections answered although the SVM lost $lost of their segments ($out)" \
    grep -q "^ok 2000 " <<< "$out"
check "... the loss was real: segments dropped ($lost)" test "$lost" -gt 0
check "... the client hardly ever had to retransmit ($rto timeouts for $lost losses)" \
    test $((rto * 10)) -le "$lost"
mb=$(awk '$1 == "MBps" { print int($4 / 1000000) }' <<< "$up")
check "a 2 s upload went through while the SVM lost $((d2 - d1)) segments ($up; $((t2 - t1)) client timeouts)" \
    test "${mb:-0}" -ge 1 -a $((d2 - d1)) -gt 0
check "no checkpoint was asked for ($(requests "$WORK/r1.out"))" \
    grep -q '"requests":{"divergence":0,"svm-lag":0,"queue-full":0}' "$WORK/r1.out"
rt=$(json_num "$WORK/r1.sec.out" repair_resent_timer)
rd=$(json_num "$WORK/r1.sec.out" repair_resent_dupack)
check "the secondary sent segments again after silence ($rt) and on duplicate ACKs ($rd)" \
    test "${rt:-0}" -gt 0 -a "${rd:-0}" -gt 0
check "nothing overflowed the repair's buffer, no divergence" \
    sh -c "grep -q '\"repair_overflow\":0' '$WORK/r1.sec.out' && grep -q '\"divergences\":0,' '$WORK/r1.out'"

# 2. Without it the upload stalls: the SVM misses a segment in the middle
#    of a flight, the PVM's acknowledgements wait for it, and the client -
#    which sees no duplicate ACK, the SVM's stay with the comparator - has
#    only its retransmission timeout, backing off, until the proxy asks
#    for a checkpoint (which, with no engine here, never comes).
ovs_servers 8095
SEC_ARGS="--repair-buffer 0" ovs_proxies r2 --svm-lag 1000
d0=$(dropped) t0=$(timeouts)
# (6 s: a stalled upload would otherwise wait 20 s for its socket timeout)
up=$(ip netns exec "$NC" timeout 6 "$NL" upload $VM_IP 8095 2 2> /dev/null)
d1=$(dropped) t1=$(timeouts)
ovs_stop_proxies
mb=$(awk '$1 == "MBps" { print int($4 / 1000000) }' <<< "$up")
check "--repair-buffer 0: the upload stalled after $((d1 - d0)) losses (${up:-no byte count}; $((t1 - t0)) client timeouts)" \
    test "${mb:-0}" -lt 1 -a $((d1 - d0)) -gt 0
check "... and the proxy asked for a checkpoint for SVM lag ($(requests "$WORK/r2.out"))" \
    grep -q '"svm-lag":[1-9]' "$WORK/r2.out"
check "... nothing was sent again" grep -q '"repair":false,.*"repair_resent":0,' "$WORK/r2.sec.out"

check "no crash: both proxies of both runs ended with their statistics" \
    test "$(grep -l '{' "$WORK"/r[12].out "$WORK"/r[12].sec.out | wc -l)" = 4
check "no sanitizer report from either proxy" \
    test -z "$(grep -l -E 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' "$WORK"/r*.err)"
echo "(${SECONDS}s)"
