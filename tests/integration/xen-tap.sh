#!/usr/bin/env bash
# xen-tap.sh - an SVM's emulated NICs across qemu-xen restarts
# (libxl-colo/xen/xen-tap.c, through the colo-tapplug helper), in a network
# namespace of its own.  The helper notes where each tap is, runs a command
# standing in for qemu's restart (the tap deleted and made again, unplugged
# and down, as a restarted qemu-xen makes it), and puts the taps back:
# into Linux bridges, and into an Open vSwitch bridge (userspace datapath)
# under the same OpenFlow port number.
. "$(dirname "$0")/lib.sh"
PLUG=$COLO_BUILDDIR/tests/integration/colo-tapplug
N=colo-tap-$$
OVSD=$WORK/ovs
stop_all() {
    local p
    for p in $(ip netns pids $N 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del $N 2>/dev/null
}
trap 'stop_all; cleanup' EXIT
ip netns add $N || { fail "network namespaces available" "ip netns add failed"; exit 0; }
in_ns() { ip netns exec $N "$@"; }
# master IF: the bridge IF is in, or "none"; isup IF: whether IF is administratively up.
master() { local m; m=$(in_ns readlink "/sys/class/net/$1/master" 2>/dev/null); if [ -n "$m" ]; then echo "${m##*/}"; else echo none; fi; }
isup() { [ $(( $(in_ns cat "/sys/class/net/$1/flags") & 1 )) -eq 1 ]; }
# placed IF BRIDGE up|down: IF is in BRIDGE ("none": in none) and up or down.
placed() { [ "$(master "$1")" = "$2" ] || return 1; if [ "$3" = up ]; then isup "$1"; else ! isup "$1"; fi; }
# said RC WANT OUT PATTERN: the helper exited RC = WANT and said PATTERN.
said() { [ "$1" -eq "$2" ] && grep -q -- "$4" <<< "$3"; }
remake() {  # the "restart": each tap gone, then made again as a new qemu makes it
    local t
    for t in "$@"; do in_ns ip link del "$t"; done
    for t in "$@"; do in_ns ip tuntap add dev "$t" mode tap || return 1; done
}
export -f remake in_ns; export N

in_ns ip link add br0 type bridge
in_ns ip link add br1 type bridge
for t in vif7.0-emu vif7.1-emu vif7.2-emu; do in_ns ip tuntap add dev $t mode tap; done
in_ns ip link set vif7.0-emu master br0 up
in_ns ip link set vif7.1-emu master br1 up
# vif7.2-emu: in no bridge and down, as it should stay.

# Without the backend a restart loses the bridge: what the test guards against.
remake vif7.0-emu
check "a tap made again is in no bridge and down (bridge $(master vif7.0-emu))" \
    placed vif7.0-emu none down
in_ns ip link set vif7.0-emu master br0 up

out=$(in_ns "$PLUG" "type=tap,id=net0,ifname=vif7.0-emu,br=xenbr0,script=no" \
      "tap,id=net1,ifname=vif7.1-emu,script=no" "user,id=net9" \
      "type=tap,id=net2,ifname=vif7.2-emu,script=no" -- \
      bash -c 'remake vif7.0-emu vif7.1-emu vif7.2-emu' 2>&1); rc=$?
check "the helper finds three taps and notes their bridges" \
    grep -q "remembered vif7.1-emu: up, bridge br1" <<< "$out"
check "after the restart every tap is put back (exit $rc)" test $rc -eq 0
check "vif7.0-emu is back in br0 and up ($(master vif7.0-emu))" placed vif7.0-emu br0 up
check "vif7.1-emu is back in br1 and up ($(master vif7.1-emu))" placed vif7.1-emu br1 up
check "vif7.2-emu stays in no bridge and down ($(master vif7.2-emu))" placed vif7.2-emu none down

# A restart that leaves a tap missing is an error naming it.
out=$(in_ns "$PLUG" "type=tap,ifname=vif7.0-emu" -- \
      bash -c 'in_ns ip link del vif7.0-emu' 2>&1); rc=$?
check "a tap missing after the restart is an error naming it (exit $rc)" \
    said $rc 1 "$out" "has no tap vif7.0-emu"
# A bridge gone meanwhile: the tap cannot go back, and that is said.
in_ns ip tuntap add dev vif7.0-emu mode tap
in_ns ip link set vif7.0-emu master br0 up
out=$(in_ns "$PLUG" "type=tap,ifname=vif7.0-emu" -- \
      bash -c 'remake vif7.0-emu && in_ns ip link del br0' 2>&1); rc=$?
check "a bridge gone during the restart is an error naming it (exit $rc)" \
    said $rc 1 "$out" "cannot put tap vif7.0-emu back into bridge br0: the bridge is gone"
# A command line it cannot use.
out=$("$PLUG" "type=tap,ifname=vif12345.67-emu-x" -- true 2>&1); rc=$?
check "an ifname too long for Linux is refused, named (exit $rc)" \
    said $rc 1 "$out" "ifname is too long"

# ---- Open vSwitch (userspace datapath), which keeps a port by name ----
if ! command -v ovs-vswitchd > /dev/null; then
    fail "Open vSwitch installed (openvswitch-switch)" "no ovs-vswitchd"; exit 0
fi
# The "qemu" of this part: a process that holds a tap (making it, down, as
# qemu-xen does) and writes a frame to it every 50 ms for at most 30 s.
cat > "$WORK/tapholder.py" <<'PY'
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000))
open(sys.argv[2], "w").write(str(os.getpid()))
frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x08\x00" + b"\x88\xb5" + b"COLO-TAP-TEST".ljust(50, b"\0")
end = time.time() + 30
while time.time() < end:
    try:
        os.write(fd, frame)
    except OSError:
        pass            # down: the frame goes nowhere
    time.sleep(0.05)
PY
export OVS_RUNDIR=$OVSD OVS_DBDIR=$OVSD OVS_LOGDIR=$OVSD OVS_SYSCONFDIR=$OVSD WORK
mkdir -p "$OVSD"
ovsdb-tool create "$OVSD/conf.db" /usr/share/openvswitch/vswitch.ovsschema &&
    in_ns ovsdb-server "$OVSD/conf.db" --remote="punix:$OVSD/db.sock" --pidfile --detach --log-file 2> /dev/null &&
    ovs-vsctl --timeout=10 --no-wait init &&
    in_ns ovs-vswitchd --pidfile --detach --log-file 2> /dev/null &&
    ovs-vsctl --timeout=10 add-br ovsbr -- set Bridge ovsbr datapath_type=netdev \
        -- add-port ovsbr other0 -- set Interface other0 type=internal
check "a private Open vSwitch runs in the namespace" test $? -eq 0
# hold TAP: a new holder makes TAP (the old one, if any, killed first:
# its tap goes with it); returns once TAP exists.
hold() {
    local i
    [ -f "$WORK/$1.pid" ] && kill "$(cat "$WORK/$1.pid")" 2> /dev/null
    for i in $(seq 50); do in_ns test -e "/sys/class/net/$1" || break; sleep 0.1; done
    rm -f "$WORK/$1.pid"
    in_ns python3 "$WORK/tapholder.py" "$1" "$WORK/$1.pid" < /dev/null > /dev/null 2>&1 &
    for i in $(seq 50); do [ -s "$WORK/$1.pid" ] && in_ns test -e "/sys/class/net/$1" && return 0; sleep 0.1; done
    return 1
}
export -f hold
# frames TAP: how many frames Open vSwitch has taken in from TAP (its flow's count).
frames() { ovs-ofctl dump-flows ovsbr "in_port=$1" | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' | head -1; }
# grows TAP: Open vSwitch takes in TAP's frames (more than 5 within 2 s).
grows() {
    local a b i
    a=$(frames "$1")
    for i in $(seq 20); do sleep 0.1; b=$(frames "$1"); [ $((b - a)) -gt 5 ] && return 0; done
    return 1
}
stalls() { ! grows "$1"; }
up_and_read() { isup "$1" && grows "$1"; }
ofport() { ovs-vsctl --timeout=10 get Interface "$1" ofport; }
T=vif8.0-emu
hold $T && ovs-vsctl --timeout=10 add-port ovsbr $T -- set Interface $T external_ids:colo-test=kept &&
    in_ns ip link set $T up && ovs-ofctl add-flow ovsbr "priority=100,in_port=$T,actions=drop"
n0=$(ofport $T)
check "the tap is port $n0 of ovsbr, and its frames reach the switch" grows $T

# Without the backend, a tap made again under the same name is never read
# again: what this part guards against.
hold $T && in_ns ip link set $T up
check "a tap made again (and up) is not read by Open vSwitch by itself" stalls $T

out=$(in_ns "$PLUG" "type=tap,id=net0,ifname=$T,script=no" -- bash -c "hold $T" 2>&1); rc=$?
check "the helper notes the tap's Open vSwitch port (exit $rc)" \
    test $rc -eq 0 -a "$(ovs-vsctl --timeout=10 get Interface $T ofport_request)" = "$n0"
check "after the restart the tap is up and Open vSwitch reads it again" up_and_read $T
check "under the same port number ($n0 -> $(ofport $T)) and settings" \
    test "$(ofport $T)" = "$n0" -a "$(ovs-vsctl --timeout=10 get Interface $T external_ids:colo-test)" = kept
# A tap taken out of Open vSwitch while its qemu restarts (the in-line
# layout hands it to colo-proxy): not an error, it is only brought up.
out=$(in_ns "$PLUG" "type=tap,ifname=$T" -- bash -c "ovs-vsctl --timeout=10 del-port $T && hold $T" 2>&1); rc=$?
check "a tap that left Open vSwitch during the restart is only brought up (exit $rc)" \
    eval '[ $rc -eq 0 ] && isup $T && ! ovs-vsctl --timeout=10 port-to-br $T > /dev/null 2>&1 &&
        grep -q "no longer a port of Open vSwitch" <<< "$out"'
ovs-vsctl --timeout=10 add-port ovsbr $T
# A restart whose new tap Open vSwitch cannot open: said, naming the tap.
out=$(in_ns "$PLUG" "type=tap,ifname=$T" -- bash -c "hold $T && ovs-vsctl --timeout=10 set Interface $T type=internal" 2>&1); rc=$?
check "a port Open vSwitch does not take back is an error naming the tap (exit $rc)" \
    said $rc 1 "$out" "Open vSwitch took tap $T back as port"
