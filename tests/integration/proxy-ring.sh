# colo-proxy's AF_PACKET ports (proxy/port-packet.c) in each receive mode:
# every frame handed over whole and in order (mixed sizes up to the MTU,
# and in v2 with slots smaller than most frames, so that the long ones take
# the copy path), none of the port's own frames, and the kernel's drops
# counted so that what was seen plus what was dropped is what was sent.
. "$(dirname "$0")/lib.sh"
CHECK=$COLO_BUILDDIR/tests/integration/colo-ringcheck
N=colo-r$$
trap 'ip netns del $N 2>/dev/null; cleanup' EXIT
ip netns add $N || { fail "network namespaces available" "ip netns add failed"; exit 0; }
ip netns exec $N sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n $N link add ra type veth peer name rb
for d in ra rb; do
    ip netns exec $N ethtool -K $d tx off > /dev/null 2>&1
    ip -n $N link set $d up
done
# A burst more than any ring or socket buffer holds (v2: 32 MiB, 16,384
# slots; v3: 8 MiB, ~5,500-6,600 frames of these sizes in its blocks; the
# socket queue about 9,500).
BURST=20000
ringcheck() {   # ringcheck NAME MODE [ENV...]
    local name=$1 mode=$2 out
    shift 2
    out=$(ip netns exec $N env "$@" timeout 60 "$CHECK" ra rb "$mode" 1000 $BURST 2>&1)
    if [ $? -eq 0 ]; then
        pass "$name: $(echo $out)"
    else
        fail "$name" "$(echo $out | tail -c 600)"
    fi
}
ringcheck "recv() port: 1000 mixed frames whole, none of its own; burst drops counted" none
ringcheck "TPACKET_V2 ring: 1000 mixed frames whole, none of its own; burst drops counted" v2
ringcheck "TPACKET_V2 ring with 512-byte slots: long frames whole through the copy path" v2 COLO_PROXY_RING_FRAME=512
ringcheck "TPACKET_V3 ring: 1000 mixed frames whole, none of its own; burst drops counted" v3
