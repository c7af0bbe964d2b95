#!/usr/bin/env bash
# xen-tap.sh - an SVM's emulated NICs across qemu-xen restarts
# (libxl-colo/xen/xen-tap.c, through the colo-tapplug helper), in a network
# namespace of its own.  The helper notes where each tap is, runs a command
# standing in for qemu's restart (the tap deleted and made again, unplugged
# and down, as a restarted qemu-xen makes it), and puts the taps back.
. "$(dirname "$0")/lib.sh"
PLUG=$COLO_BUILDDIR/tests/integration/colo-tapplug
N=colo-tap-$$
trap 'ip netns del $N 2>/dev/null; cleanup' EXIT
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
