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
# The client ($NC), the PVM ($NP) and the SVM ($NS) are namespaces (see
# ovs_vm); PVM and SVM have the same MAC and address ($VM_MAC, $VM_IP), the
# SVM a smaller MTU (SVM_MTU, default 1000) so that it segments differently.
# OVS_PVM_VETH=1 puts the PVM on a veth pair rather than a tap (ovs_vm_veth),
# OVS_SVM_VETH=1 the SVM.
#
# OVS_HOSTS says how the hosts are modelled:
#   1 (default)  one ovs-vswitchd holds all three bridges; the uplinks and
#                the forward link are patch-port pairs.
#   2            two hosts: brs (with the SVM's port and the secondary's
#                proxy ports) is in a second OVS instance - its own
#                ovsdb-server, ovs-vswitchd, run directory ($WORK/ovs2) and
#                namespace ($SW2); the secondary's uplink (n-s/s-up) and
#                the forward link (p-fwd/s-fwd) are veth pairs between the
#                two switch namespaces, the hosts' NICs (ovs_wire).
# Whatever runs against the secondary host's switch (its hotplug script, its
# proxy) goes through ovs_on brs CMD, or the command prefix "${SEC_SW[@]}"
# where $! must be the command's own pid.
#
# OVS_LAYOUT says where the proxies sit:
#   flows (default)  docs/networking.md: VM vifs, forward links and the
#                    proxies' internal ports on the bridges, OpenFlow rules
#                    steering frames between them (ovs_protect: the hotplug
#                    script);
#   inline           each proxy between its bridge and its VM: the hotplug
#                    script's layout=inline (colo-ovs-inline.sh).  The
#                    VM's vif (a veth) and the forward link are the
#                    proxy's own, off the bridges; on the primary VIF-xc
#                    stands for the VM on the bridge while protected
#                    (ovs_inline_attach) and the vif is back on the bridge
#                    after failover (ovs_inline_detach); on the secondary
#                    VIF-xf waits on the bridge for failover (the
#                    rewriter's --uplink).  The primary proxy passes the
#                    client's frames to both VMs itself, untranslated
#                    (--no-rewrite); the secondary's rewriter translates.
#                    A forward link must be a network device, not a patch
#                    port: with OVS_HOSTS=1 it is a veth pair within the
#                    one switch namespace.
: "${id:=$$}"
: "${OVS_HOSTS:=1}"
: "${OVS_LAYOUT:=flows}"
if [ "$OVS_LAYOUT" = inline ]; then OVS_PVM_VETH=1 OVS_SVM_VETH=1; fi
SW=colo-sw$id SW2=colo-sx$id NC=colo-c$id NP=colo-p$id NS=colo-s$id
VM_MAC=02:00:0a:4d:00:02 VM_IP=10.77.0.2 CLIENT_IP=10.77.0.9
OVS_DIR=$WORK/ovs OVS_DIR2=$WORK/ovs2
HOTPLUG=${COLO_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/hotplug
export OVS_RUNDIR=$OVS_DIR OVS_DBDIR=$OVS_DIR OVS_LOGDIR=$OVS_DIR OVS_SYSCONFDIR=$OVS_DIR
# A command in the second instance's namespace, its ovs-* commands pointed
# at it (ip netns exec and env both exec: the pid stays the command's).
SW2_RUN=(ip netns exec "$SW2" env "OVS_RUNDIR=$OVS_DIR2" "OVS_DBDIR=$OVS_DIR2"
    "OVS_LOGDIR=$OVS_DIR2" "OVS_SYSCONFDIR=$OVS_DIR2")
if [ "$OVS_HOSTS" = 2 ]; then SEC_SW=("${SW2_RUN[@]}"); else SEC_SW=(ip netns exec "$SW"); fi
# The receive buffer ovs_wire_buffers gives ovs-vswitchd's sockets on the
# wires (0: leave the kernel's default).
: "${OVS_WIRE_RMEM:=4194304}"
sw() { ip netns exec "$SW" "$@"; }
sw2() { "${SW2_RUN[@]}" "$@"; }
ovs_on() {      # BR CMD...: CMD against (and in the namespace of) the switch holding BR
    local br=$1; shift
    if [ "$br" = brs ]; then "${SEC_SW[@]}" "$@"; else sw "$@"; fi
}

# Kill every process left in our namespaces, then remove them (the switch's
# tap devices go with $SW).
ovs_cleanup() {
    local n p
    for n in $NC $NP $NS $SW $SW2; do
        for p in $(ip netns pids "$n" 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
    done
    for n in $NC $NP $NS $SW $SW2; do ip netns del "$n" 2> /dev/null; done
}

ovs_netns() {   # NAME: a namespace with loopback up and no IPv6 chatter
    ip netns add "$1" || return 1
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$1" link set lo up
}

# One OVS instance: ovsdb-server and ovs-vswitchd in namespace NS, their
# files in DIR; returns non-zero if either fails.
ovs_instance() {    # NS DIR
    local i
    mkdir -p "$2" && ovs_netns "$1" || return 1
    (
        export OVS_RUNDIR=$2 OVS_DBDIR=$2 OVS_LOGDIR=$2 OVS_SYSCONFDIR=$2
        ovsdb-tool create "$2/conf.db" /usr/share/openvswitch/vswitch.ovsschema || exit 1
        ip netns exec "$1" ovsdb-server "$2/conf.db" --remote="punix:$2/db.sock" --pidfile --detach \
            --log-file 2> "$2/ovsdb-server.err" || exit 1
        ovs-vsctl --timeout=10 --no-wait init || exit 1
        ip netns exec "$1" ovs-vswitchd --pidfile --detach --log-file 2> "$2/ovs-vswitchd.err" || exit 1
        for i in $(seq 50); do ovs-appctl --timeout=2 version > /dev/null 2>&1 && exit 0; sleep 0.1; done
        exit 1
    )
}

# A test's first steps: a private OVS (or a failure and the end of the
# test), then the layout checked; with "protect", the vifs protected too.
ovs_begin() {   # ovs_begin LAYOUT-CHECK-NAME [protect]
    if ! ovs_start; then
        fail "a private Open vSwitch starts" "$(cat "$OVS_DIR"/*.err 2> /dev/null | head -3)"
        exit 0
    fi
    check "$1" ovs_layout
    [ "${2:-}" != protect ] ||
        check "the hotplug script protects the vif on both hosts (layout=$OVS_LAYOUT)" ovs_protect
}

# The switch ($SW), and with OVS_HOSTS=2 the secondary host's too ($SW2).
ovs_start() {
    command -v ovs-vswitchd > /dev/null || { echo "ovs-vswitchd not installed (openvswitch-switch)" >&2; return 1; }
    case $OVS_HOSTS in 1 | 2) ;; *) echo "OVS_HOSTS=$OVS_HOSTS: 1 or 2" >&2; return 1 ;; esac
    ovs_instance "$SW" "$OVS_DIR" || return 1
    [ "$OVS_HOSTS" = 1 ] || ovs_instance "$SW2" "$OVS_DIR2"
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
    ovs_on "$2" ovs-vsctl --timeout=20 add-port "$2" "$3" -- set Interface "$3" type=internal || return 1
    ovs_on "$2" ip link set "$3" netns "$1" || return 1
    [ -n "$5" ] && ip -n "$1" link set "$3" address "$5"
    ip -n "$1" link set "$3" mtu "$6" txqueuelen 10000
    ip -n "$1" addr add "$4/24" dev "$3"
    ip -n "$1" link set "$3" up
}

# The same VM on a veth pair instead: IFNAME at both ends, one in the VM's
# namespace and one in the switch's, added to BR.  A netback vif is such a
# device: the guest at one end, a network device in dom0 at the other,
# which the switch - or colo-proxy, in-line (OVS_LAYOUT=inline) -
# opens.  Transmit checksum offload off (see ovs_wire), and ovs-vswitchd's
# receive buffer on it raised as on the wires (OVS_WIRE_RMEM).
ovs_vm_veth() { # NS BR IFNAME ADDR MAC MTU
    ovs_netns "$1" || return 1
    local swns=$SW dir=$OVS_DIR
    [ "$2" = brs ] && [ "$OVS_HOSTS" = 2 ] && swns=$SW2 dir=$OVS_DIR2
    ip link add "$3" netns "$swns" type veth peer name "$3" netns "$1" || return 1
    ip netns exec "$swns" ethtool -K "$3" tx off > /dev/null &&
        ip netns exec "$1" ethtool -K "$3" tx off > /dev/null || return 1
    ip -n "$1" link set "$3" address "$5" mtu "$6" txqueuelen 10000 &&
        ip -n "$swns" link set "$3" mtu "$6" up || return 1
    ip -n "$1" addr add "$4/24" dev "$3" && ip -n "$1" link set "$3" up || return 1
    ovs_on "$2" ovs-vsctl --timeout=20 add-port "$2" "$3" || return 1
    [ "${OVS_WIRE_RMEM:-0}" = 0 ] || ovs_rcvbuf "$swns" "$dir" "$3" > /dev/null
}

ovs_patch() {   # BR1 PORT1 BR2 PORT2: a patch-port pair (a wire between bridges)
    ovs-vsctl --timeout=20 add-port "$1" "$2" -- set Interface "$2" type=patch "options:peer=$4" \
        -- add-port "$3" "$4" -- set Interface "$4" type=patch "options:peer=$2"
}

# A wire between the two instances: a veth pair, PORT1 a port of BR1 in
# $SW, PORT2 of BR2 in $SW2 - the two hosts' NICs and the cable.  Transmit
# checksum offload off at both ends: a frame the kernel itself sends into a
# veth leaves with its checksum still to be filled in, and ovs-vswitchd's
# AF_PACKET socket on the peer would pass it on so (a bad checksum at the
# far end, TCP stalls).  Here only ovs-vswitchd writes into the wires, and
# the taps it reads give it complete frames, so this did not show (a
# bench-net round with it on ran the same); off is the safe setting.
ovs_wire() {    # BR1 PORT1 BR2 PORT2 [NS2]: NS2 (default $SW2) holds PORT2
    local ns2=${5:-$SW2}
    ip link add "$2" netns "$SW" type veth peer name "$4" netns "$ns2" || return 1
    sw ethtool -K "$2" tx off > /dev/null && ip netns exec "$ns2" ethtool -K "$4" tx off > /dev/null || return 1
    ip -n "$SW" link set "$2" up && ip -n "$ns2" link set "$4" up || return 1
    ovs_on "$1" ovs-vsctl --timeout=20 add-port "$1" "$2" && ovs_on "$3" ovs-vsctl --timeout=20 add-port "$3" "$4"
}

# ovs-vswitchd reads each end of a wire through an AF_PACKET socket.  OVS
# 3.1 sets no receive buffer size on it (and its database has no setting
# for one), so it gets net.core.rmem_default: 208 KiB, about 90 full-size
# frames, less than a NIC's receive ring.  An upload through the proxy
# overflowed it on s-fwd (the client's frames for the SVM; `ss -0 -m`,
# skmem d) and stalled until an SVM-lag checkpoint request.  That sysctl is
# read-only in a network namespace on this kernel, and raising it for the
# whole machine would change every other test's sockets; instead the
# sockets themselves get OVS_WIRE_RMEM bytes: a copy of ovs-vswitchd's
# descriptor (pidfd_getfd, as root) and SO_RCVBUFFORCE on it.  Call after
# the ports exist; prints "PORT BYTES" per socket (the kernel doubles the
# value); OVS_WIRE_RMEM=0 does nothing.
ovs_wire_buffers() {
    [ "$OVS_HOSTS" = 2 ] && [ "${OVS_WIRE_RMEM:-0}" != 0 ] || return 0
    ovs_rcvbuf "$SW" "$OVS_DIR" n-s p-fwd && ovs_rcvbuf "$SW2" "$OVS_DIR2" s-up s-fwd
}
# Frames each wire socket of ovs-vswitchd dropped for want of buffer space
# so far: "PORT N" per socket.
ovs_wire_drops() {
    [ "$OVS_HOSTS" = 2 ] || return 0
    { sw ss -0 -m; sw2 ss -0 -m; } | awk '$4 ~ /^\*:(n-s|p-fwd|s-up|s-fwd)$/ {
        d = $0; sub(/.*,d/, "", d); sub(/\).*/, "", d); print substr($4, 3), d }'
}
ovs_rcvbuf() {  # NS RUNDIR IFNAME...
    local ns=$1 pid
    pid=$(cat "$2/ovs-vswitchd.pid") || return 1
    shift 2
    ip netns exec "$ns" timeout 10 python3 - "$pid" "$OVS_WIRE_RMEM" "$@" << 'EOF'
import ctypes, os, socket, sys
pid, size, names = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd, SO_RCVBUFFORCE = 438, 33   # Linux: one syscall number on all architectures
# /proc/net/packet (this namespace's packet sockets): ... Iface ... Inode
by_ifindex = {}
with open("/proc/net/packet") as f:
    next(f)
    for col in (line.split() for line in f):
        by_ifindex.setdefault(int(col[4]), []).append("socket:[%s]" % col[8])
fds = {}
for fd in os.listdir("/proc/%d/fd" % pid):
    try:
        fds[os.readlink("/proc/%d/fd/%s" % (pid, fd))] = int(fd)
    except OSError:
        pass
pidfd = os.pidfd_open(pid)
status = 0
for name in names:
    links = [l for l in by_ifindex.get(socket.if_nametoindex(name), []) if l in fds]
    if not links:
        print("%s: no packet socket of ovs-vswitchd" % name, file=sys.stderr)
        status = 1
    for link in links:
        mine = libc.syscall(SYS_pidfd_getfd, pidfd, fds[link], 0)
        if mine < 0:
            print("%s: pidfd_getfd: %s" % (name, os.strerror(ctypes.get_errno())), file=sys.stderr)
            status = 1
            continue
        s = socket.socket(fileno=mine)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        print(name, s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        s.close()
sys.exit(status)
EOF
}

ovs_layout() {
    local b
    for b in brn brp brs; do
        ovs_on $b ovs-vsctl --timeout=20 add-br $b -- set bridge $b datapath_type=netdev || return 1
        ovs_on $b ip link set $b up
    done
    ovs_patch brn n-p brp p-up || return 1
    if [ "$OVS_HOSTS" = 2 ]; then
        ovs_wire brn n-s brs s-up && ovs_wire brp p-fwd brs s-fwd && ovs_wire_buffers > /dev/null || return 1
    elif [ "$OVS_LAYOUT" = inline ]; then
        # In-line the proxies open the forward link: a device, even here.
        ovs_patch brn n-s brs s-up && ovs_wire brp p-fwd brs s-fwd "$SW" || return 1
    else
        ovs_patch brn n-s brs s-up && ovs_patch brp p-fwd brs s-fwd || return 1
    fi
    ovs_vm "$NC" brn client "$CLIENT_IP" "" 1500 &&
        "ovs_vm${OVS_PVM_VETH:+_veth}" "$NP" brp vif1.0 "$VM_IP" "$VM_MAC" 1500 &&
        "ovs_vm${OVS_SVM_VETH:+_veth}" "$NS" brs vif2.0 "$VM_IP" "$VM_MAC" "${SVM_MTU:-1000}" || return 1
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

# The proxies' ports, as arguments: PRI_PORTS for colo-proxy, SEC_PORTS for
# colo-proxy secondary.
if [ "$OVS_LAYOUT" = inline ]; then
    PRI_PORTS=(--client vif1.0-xc --pvm vif1.0 --svm p-fwd --no-rewrite)
    SEC_PORTS=(--forward s-fwd --svm vif2.0 --uplink vif2.0-xf)
    # The I/O xl-colo gives in-line proxies, unless the environment chooses.
    [ -n "${COLO_PROXY_RING:-}" ] || { PRI_PORTS+=(--ring v2); SEC_PORTS+=(--ring v2); }
    [ -n "${COLO_PROXY_TXBATCH:-}" ] || { PRI_PORTS+=(--tx-batch); SEC_PORTS+=(--tx-batch); }
else
    PRI_PORTS=(--client vif1.0-xc --pvm vif1.0-xp --svm vif1.0-xs)
    SEC_PORTS=(--forward vif2.0-xf --svm vif2.0-xv)
fi

# The COLO setup of both hosts by the hotplug script, in OVS_LAYOUT.
ovs_protect() {
    sw "$HOTPLUG/colo-ovs-setup" setup mode=primary bridge=brp vifname=vif1.0 forwarddev=p-fwd \
        mac=$VM_MAC layout=$OVS_LAYOUT &&
        ovs_on brs "$HOTPLUG/colo-ovs-setup" setup mode=secondary bridge=brs vifname=vif2.0 \
            forwarddev=s-fwd mac=$VM_MAC layout=$OVS_LAYOUT
}
# In-line, the primary alone and protected again: the script's failover
# puts the PVM's vif back on the bridge, setup takes it off again.
ovs_inline_attach() {
    sw "$HOTPLUG/colo-ovs-setup" setup mode=primary bridge=brp vifname=vif1.0 forwarddev=p-fwd \
        mac=$VM_MAC layout=inline
}
ovs_inline_detach() {
    sw "$HOTPLUG/colo-ovs-setup" failover bridge=brp vifname=vif1.0 || return 1
    [ "${OVS_WIRE_RMEM:-0}" = 0 ] || ovs_rcvbuf "$SW" "$OVS_DIR" vif1.0 > /dev/null
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

# A connection that spans a failover (colo-netload keep, $NL): 20 requests
# before, then - once ovs_keep_check says go - 20 more on the same one.
ovs_keep_open() {   # PORT
    rm -f "$WORK/go"
    ip netns exec "$NC" timeout 100 "$NL" keep "$VM_IP" "$1" 20 "$WORK/go" 60 > "$WORK/keep.out" 2>&1 &
    PIDS+=($!)
    wait_for "$WORK/keep.out" "first 20" 20
}
ovs_keep_check() {
    touch "$WORK/go"
    for _ in $(seq 200); do grep -q -E "^(ok|FAIL)" "$WORK/keep.out" && break; sleep 0.1; done
    check "a connection opened before failover carries on with the SVM ($(tail -1 "$WORK/keep.out"))" \
        grep -q "^ok 40" "$WORK/keep.out"
}

# The secondary takes over: its rewriter must acknowledge FAILOVER (it then
# translates) before the hotplug script sends the SVM's output to clients.
ovs_secondary_failover() {  # REWRITER-CONTROL-SOCKET BRIDGE-SPEC [WHAT]
    local ack
    ack=$("$COLO_BUILDDIR/tests/integration/colo-rec" "unix:$1" FAILOVER)
    check "the secondary's rewriter acknowledges FAILOVER ($ack)" test "$ack" = FAILOVER
    check "secondary failover${3:+ $3}: the hotplug script re-points the flows" \
        ovs_on brs "$HOTPLUG/colo-ovs-setup" failover "bridge=$2" vifname=vif2.0
}

# The scenarios' servers and proxies ($NL, $PROXY: colo-netload, colo-proxy).
# Each step starts afresh: the earlier step's servers killed and every TCP
# socket left in the kernels aborted (ss -K) while no proxy runs, so that
# nothing of an earlier step (a FIN the PVM retransmits, held because the
# tests' "checkpoints" cannot really copy kernel state) reaches this step's
# proxy; and the servers listen on a port of the step's own.  OVS_CLIENTS:
# the client namespaces whose sockets are aborted too (default $NC).
ovs_servers() {     # PORT [SVM-DIVERGE-WORD]: (re)start the VM servers
    local n p
    for n in $NP $NS; do for p in $(ip netns pids "$n"); do kill -9 "$p"; done; done
    for n in ${OVS_CLIENTS:-$NC} $NP $NS; do ip netns exec "$n" ss -K -tn state all > /dev/null 2>&1; done
    ip netns exec "$NP" timeout 170 "$NL" serve "$1" > /dev/null 2>&1 & PIDS+=($!)
    ip netns exec "$NS" timeout 170 "$NL" serve "$1" ${2:-} > /dev/null 2>&1 & PIDS+=($!)
    # Both must listen before a client connects: a SYN only the PVM
    # accepts is (rightly) a divergence.
    ovs_listening "$NP" "$1" && ovs_listening "$NS" "$1"
}
ovs_proxies() {     # LOG PROXY-ARGS...: both proxies, fresh (pids PRI, SEC); SEC_ARGS: the secondary's own
    local log=$1; shift
    # (not through a shell function: $! must be timeout's own pid, which
    # passes the SIGINT of ovs_stop_pid on to the daemon)
    ip netns exec "$SW" timeout 170 "$PROXY" "${PRI_PORTS[@]}" "$@" \
        > "$WORK/$log.out" 2> "$WORK/$log.err" & PRI=$!; PIDS+=($PRI)
    "${SEC_SW[@]}" timeout 170 "$PROXY" secondary "${SEC_PORTS[@]}" \
        --control "unix:$WORK/$log.sctl" ${SEC_ARGS:-} > "$WORK/$log.sec.out" 2> "$WORK/$log.sec.err" & SEC=$!; PIDS+=($SEC)
    wait_for "$WORK/$log.err" "comparing" 5 && wait_for "$WORK/$log.sec.err" "rewriting" 5
}
ovs_stop_pid() {    # PID: SIGINT, and wait (bounded) until it has written its statistics
    # A proxy prints its statistics to a file, so they sit in stdio's
    # buffer until it exits.  Under ASan, on a busy CI machine, leaving has
    # taken more than 5 s; allow 30, and say so when it takes more than 2.
    local i
    kill -INT "$1" 2> /dev/null
    for i in $(seq 300); do
        kill -0 "$1" 2> /dev/null || { [ "$i" -le 20 ] || echo "(pid $1 took $((i / 10)) s to stop)"; return 0; }
        sleep 0.1
    done
    echo "(pid $1 still runs 30 s after SIGINT)"
}
ovs_stop_proxies() { ovs_stop_pid "$PRI"; ovs_stop_pid "$SEC"; }
