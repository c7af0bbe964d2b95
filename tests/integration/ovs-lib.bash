# ovs-lib.bash - a private Open vSwitch and the COLO network layout of
# docs/networking.md on one machine (sourced after lib.sh by the OVS tests
# and by tests/bench/bench-net).
#
# The switch runs in a network namespace of its own ($SW), so its tap
# devices (ovs-netdev, the bridges' local ports, the proxy's internal ports)
# can never clash with another test's; its database, sockets and logs are in
# $WORK/ovs, and the ovs-* commands find it through OVS_RUNDIR and friends.
# Userspace datapath (datapath_type=netdev): no kernel module needed.
#
# The layout (ovs_layout):
#   brn  "the LAN": the client's port, and the uplink of each host
#   brp  the primary host:   uplink p-up, PVM vif vif1.0, forward link p-fwd
#   brs  the secondary host: uplink s-up, SVM vif vif2.0, forward link s-fwd
# Uplinks and the forward link are patch-port pairs.  The client ($NC),
# the PVM ($NP) and the SVM ($NS) are namespaces (see ovs_vm); PVM and SVM
# have the same MAC and address ($VM_MAC, $VM_IP), the SVM a smaller MTU
# (SVM_MTU, default 1000) so that it segments differently.
: "${id:=$$}"
SW=colo-sw$id NC=colo-c$id NP=colo-p$id NS=colo-s$id
VM_MAC=02:00:0a:4d:00:02 VM_IP=10.77.0.2 CLIENT_IP=10.77.0.9
OVS_DIR=$WORK/ovs
HOTPLUG=${COLO_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/hotplug
export OVS_RUNDIR=$OVS_DIR OVS_DBDIR=$OVS_DIR OVS_LOGDIR=$OVS_DIR OVS_SYSCONFDIR=$OVS_DIR

sw() { ip netns exec "$SW" "$@"; }

# Kill every process left in our namespaces, then remove them (the switch's
# tap devices go with $SW).
ovs_cleanup() {
    local n p
    for n in $NC $NP $NS $SW; do
        for p in $(ip netns pids "$n" 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
    done
    for n in $NC $NP $NS $SW; do ip netns del "$n" 2> /dev/null; done
}

ovs_netns() {   # NAME: a namespace with loopback up and no IPv6 chatter
    ip netns add "$1" || return 1
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$1" link set lo up
}

# ovsdb-server and ovs-vswitchd in $SW; returns non-zero if either fails.
ovs_start() {
    local i
    command -v ovs-vswitchd > /dev/null || { echo "ovs-vswitchd not installed (openvswitch-switch)" >&2; return 1; }
    mkdir -p "$OVS_DIR"
    ovs_netns "$SW" || return 1
    ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema || return 1
    sw ovsdb-server "$OVS_DIR/conf.db" --remote="punix:$OVS_DIR/db.sock" --pidfile --detach \
        --log-file 2> "$OVS_DIR/ovsdb-server.err" || return 1
    ovs-vsctl --no-wait init || return 1
    sw ovs-vswitchd --pidfile --detach --log-file 2> "$OVS_DIR/ovs-vswitchd.err" || return 1
    for i in $(seq 50); do ovs-appctl version > /dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

# A "VM" (or client) namespace whose interface IFNAME is a port of bridge
# BR: an OVS internal port (a tap device in the userspace datapath) moved
# into the namespace, as QEMU's tap backend of an HVM guest's nic is a tap.
# Not a veth: ovs-vswitchd reads a veth through an AF_PACKET socket with the
# kernel's default 208 KiB receive buffer, which overflows under the SVM's
# bursts on this shared machine, and a lost SVM frame can stall a
# connection until a checkpoint (docs/networking.md).  A tap queues up to
# txqueuelen frames instead.
ovs_vm() {      # NS BR IFNAME ADDR MAC MTU
    ovs_netns "$1" || return 1
    ovs-vsctl add-port "$2" "$3" -- set Interface "$3" type=internal || return 1
    sw ip link set "$3" netns "$1" || return 1
    [ -n "$5" ] && ip -n "$1" link set "$3" address "$5"
    ip -n "$1" link set "$3" mtu "$6" txqueuelen 10000
    ip -n "$1" addr add "$4/24" dev "$3"
    ip -n "$1" link set "$3" up
}

ovs_patch() {   # BR1 PORT1 BR2 PORT2: a patch-port pair (a wire between bridges)
    ovs-vsctl add-port "$1" "$2" -- set Interface "$2" type=patch "options:peer=$4" \
        -- add-port "$3" "$4" -- set Interface "$4" type=patch "options:peer=$2"
}

ovs_layout() {
    local b
    for b in brn brp brs; do
        ovs-vsctl add-br $b -- set bridge $b datapath_type=netdev || return 1
        sw ip link set $b up
    done
    ovs_patch brn n-p brp p-up && ovs_patch brn n-s brs s-up && ovs_patch brp p-fwd brs s-fwd || return 1
    ovs_vm "$NC" brn client "$CLIENT_IP" "" 1500 &&
        ovs_vm "$NP" brp vif1.0 "$VM_IP" "$VM_MAC" 1500 &&
        ovs_vm "$NS" brs vif2.0 "$VM_IP" "$VM_MAC" "${SVM_MTU:-1000}" || return 1
    # The VMs know the client's MAC for good.  Each guest kernel would
    # otherwise re-validate its neighbour entry (a unicast ARP probe) on its
    # own schedule; the proxy compares ARP frame for frame, so two probes at
    # different moments cost a checkpoint (docs/networking.md) - a real
    # cost, but one whose timing would make these runs flaky.  The client
    # still resolves the VM's address by ARP through the proxy.
    local cmac
    cmac=$(ip -n "$NC" -br link show client | awk '{ print $3 }')
    ip -n "$NP" neigh replace "$CLIENT_IP" lladdr "$cmac" nud permanent dev vif1.0 &&
        ip -n "$NS" neigh replace "$CLIENT_IP" lladdr "$cmac" nud permanent dev vif2.0
}

# The COLO setup of both hosts by the hotplug script.
ovs_protect() {
    sw "$HOTPLUG/colo-ovs-setup" setup mode=primary bridge=brp vifname=vif1.0 forwarddev=p-fwd mac=$VM_MAC &&
        sw "$HOTPLUG/colo-ovs-setup" setup mode=secondary bridge=brs vifname=vif2.0 forwarddev=s-fwd mac=$VM_MAC
}

# Wait (bounded) until a TCP port listens in a namespace.
ovs_listening() {   # NS PORT
    local i
    for i in $(seq 100); do
        ip netns exec "$1" ss -ltnH "sport = :$2" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
