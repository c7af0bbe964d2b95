# colo-ovs-inline.sh - the in-line layout (a library: colo-ovs-common.sh
# sources it).
#
# In the flows layout (colo-ovs-common.sh) colo-proxy sits beside the
# bridge, and OpenFlow rules carry every frame of the VM to it and back:
# two or three extra trips through ovs-vswitchd per frame.  In-line, the
# proxy sits between the VM and the bridge: it opens the VM's vif and the
# forward link itself, and the bridge sees one internal port of the proxy's
# where the VM was.  No OpenFlow rule: the bridge's own switching (NORMAL)
# does the rest, a VLAN tag included.  docs/networking.md has the picture
# and the measurements (docs/performance.md) that made it worth having.
#
#   primary    VIF-xc on the bridge stands for the VM (flooded, learnt; an
#              access port of the vif's VLAN); the vif and the forward link
#              leave the bridge: they are the comparator's (colo-proxy
#              --client VIF-xc --pvm VIF --svm FWD --no-rewrite)
#   secondary  VIF-xf on the bridge, never flooded, unused until failover;
#              the vif and the forward link leave the bridge: they are the
#              rewriter's (colo-proxy secondary --forward FWD --svm VIF
#              --uplink VIF-xf)
#   failover   primary: the comparator is stopped first (xl-colo does it),
#              then the vif goes back on the bridge in VIF-xc's place;
#              secondary: the rewriter is told first (it then sends the
#              SVM's translated output to VIF-xf), then VIF-xf is flooded
#              and the VM's MAC announced from it
#   teardown   the vif back on the bridge as an ordinary port, VIF-xc/-xf
#              gone; the forward link stays off the bridge (it is
#              dedicated to this vif, and one that floods would join the
#              two hosts' bridges a second time: a loop)
#
# The vif and the forward link must be network devices of their own (a
# netback vif, a tap, a NIC, a veth): an OVS patch or internal port would
# not outlive leaving the bridge.  The record - what the flows layout keeps
# on the vif - lives in the stand-in port's external-ids, with colo-layout
# =inline and colo-vif=VIF, and on the vif's again once it is back on the
# bridge after a primary's failover.

colo_inline_suffix() {  # ROLE: the stand-in port's suffix
    case $1 in
    primary) echo c ;;
    secondary) echo f ;;
    *) colo_fatal "mode '$1' is neither primary nor secondary" ;;
    esac
}

# An in-line record for VIF on BRIDGE: sets r_port (where it is kept),
# r_role, r_mac, r_fwd, r_vlan, r_state; status 1 if there is none.
colo_inline_find() {    # BRIDGE VIF
    local px p
    px=$(colo_proxy_prefix "$2")
    for p in "${px}c" "${px}f" "$2"; do
        [ "$(vsctl port-to-br "$p" 2> /dev/null)" = "$1" ] || continue
        [ "$(colo_get_id "$p" colo-layout)" = inline ] || continue
        [ "$(colo_get_id "$p" colo-vif)" = "$2" ] || continue
        r_port=$p
        r_role=$(colo_get_id "$p" colo-role)
        r_mac=$(colo_get_id "$p" colo-mac)
        r_fwd=$(colo_get_id "$p" colo-forward)
        r_vlan=$(colo_get_id "$p" colo-vlan)
        r_state=$(colo_get_id "$p" colo-state)
        [ "$r_vlan" != none ] || r_vlan=
        return 0
    done
    return 1
}

# A device the proxy can open once it is off the bridge: it exists, and if
# it is an OVS port, it is an ordinary one ("system") of BRIDGE.
colo_inline_device() {  # BRIDGE DEV WHAT
    local br type
    if br=$(vsctl port-to-br "$2" 2> /dev/null); then
        [ "$br" = "$1" ] || colo_fatal "$3 '$2' is a port of bridge '$br', not of '$1'"
        type=$(vsctl get Interface "$2" type 2> /dev/null | tr -d '"')
        case $type in
        "" | system) ;;
        *) colo_fatal "$3 '$2' is an Open vSwitch $type port: in the in-line layout colo-proxy opens it itself, so it must be a network device of its own (a vif, a tap, a NIC, a veth)" ;;
        esac
    fi
    ip link show "$2" > /dev/null 2>&1 || colo_fatal "$3 '$2': no such network device"
}

# Everything checked before anything changes; sets vlan (the vif's access
# VLAN: its port's tag while it is on the bridge, the record's once set up
# in-line, else what bridge=NAME.VLAN said).
colo_inline_validate() {    # MODE BRIDGE VIF FWD MAC
    local mode=$1 br=$2 vif=$3 fwd=$4 pv
    colo_inline_suffix "$mode" > /dev/null
    colo_check_tools
    colo_check_ifname "$vif" "vif"
    colo_check_ifname "$(colo_proxy_prefix "$vif")c" "vif name + proxy suffix"
    colo_check_mac "$5"
    colo_check_bridge "$br"
    [ "$fwd" != "$vif" ] || colo_fatal "forwarddev '$fwd' is the vif itself"
    colo_inline_device "$br" "$vif" "vif"
    colo_inline_device "$br" "$fwd" "forwarddev"
    if vsctl port-to-br "$vif" > /dev/null 2>&1; then
        pv=$(colo_port_vlan "$vif") || exit 1
    elif colo_inline_find "$br" "$vif"; then
        pv=$r_vlan
    else
        pv=$vlan
    fi
    [ -z "$vlan" ] || [ "$vlan" = "$pv" ] ||
        colo_fatal "vif '$vif' is ${pv:+in VLAN $pv}${pv:-untagged} on '$br', not in VLAN $vlan as the bridge '$br.$vlan' says"
    vlan=$pv
}

# colo_inline_setup MODE BRIDGE VIF FWD MAC (and $vlan from the bridge spec)
colo_inline_setup() {
    local mode=$1 br=$2 vif=$3 fwd=$4 mac=${5,,} px port p
    colo_inline_validate "$mode" "$br" "$vif" "$fwd" "$mac"
    px=$(colo_proxy_prefix "$vif")
    port=$px$(colo_inline_suffix "$mode")
    # What an earlier setup of this vif left - the other role's stand-in,
    # the flows layout's ports, flows and record - goes.
    for p in "${px}c" "${px}p" "${px}s" "${px}f" "${px}v" "${px}a" "${px}b"; do
        [ "$p" = "$port" ] || vsctl --if-exists del-port "$br" "$p" || colo_fatal "cannot remove port '$p'"
    done
    ovs-ofctl del-flows "$br" "cookie=$(colo_cookie "$vif")/-1" ||
        colo_fatal "cannot remove the COLO flows of '$vif' from '$br'"
    colo_add_proxy_port "$br" "$port"
    if [ -n "$vlan" ]; then
        vsctl set Port "$port" "tag=$vlan" || colo_fatal "cannot put '$port' in VLAN $vlan"
    else
        vsctl clear Port "$port" tag || colo_fatal "cannot clear the VLAN of '$port'"
    fi
    # The primary's stand-in is the VM on the bridge; the secondary's must
    # not be, until failover.
    [ "$mode" = primary ] && colo_flood "$br" "$port"
    colo_set_ids "$port" colo-layout=inline "colo-vif=$vif" "colo-role=$mode" colo-state=protecting \
        "colo-mac=$mac" "colo-forward=$fwd" "colo-vlan=${vlan:-none}"
    # One transaction: the vif and the forward link leave together.
    vsctl -- --if-exists del-port "$br" "$vif" -- --if-exists del-port "$br" "$fwd" ||
        colo_fatal "cannot take '$vif' and '$fwd' off bridge '$br'"
    ip link set "$vif" up && ip link set "$fwd" up || colo_fatal "cannot bring '$vif' and '$fwd' up"
    # NORMAL may know the VM's MAC on the vif: it must learn it anew on
    # the stand-in, from the first frame the proxy sends there.
    ovs-appctl fdb/flush "$br" > /dev/null 2>&1 || true
    if [ "$mode" = primary ]; then
        colo_proxy_args --client "$port" --pvm "$vif" --svm "$fwd" --no-rewrite
    else
        colo_proxy_args --forward "$fwd" --svm "$vif" --uplink "$port"
    fi
    colo_log info "$mode: $vif on $br${vlan:+ (VLAN $vlan)} protected in-line (forward link $fwd, $port on the bridge)"
}

# The vif back on the bridge as an ordinary port (an access port of its
# VLAN), in place of PORT, in one transaction; nothing if it is gone.
colo_inline_replug() {  # BRIDGE VIF PORT VLAN
    ip link show "$2" > /dev/null 2>&1 || {
        vsctl --if-exists del-port "$1" "$3" || colo_fatal "cannot remove port '$3'"
        return 0
    }
    vsctl -- --if-exists del-port "$1" "$3" -- --may-exist add-port "$1" "$2" ${4:+"tag=$4"} ||
        colo_fatal "cannot put vif '$2' back on bridge '$1'"
    ip link set "$2" up 2> /dev/null || true
}

colo_inline_failover() {    # BRIDGE VIF (after colo_inline_find)
    local br=$1 vif=$2
    if [ "$r_state" = failed-over ]; then
        colo_log info "$r_role: $vif on $br has failed over already"
        return 0
    fi
    if [ "$r_role" = primary ]; then
        colo_inline_replug "$br" "$vif" "$r_port" "$r_vlan"
        colo_set_ids "$vif" colo-layout=inline "colo-vif=$vif" colo-role=primary colo-state=failed-over \
            "colo-mac=$r_mac" "colo-forward=$r_fwd" "colo-vlan=${r_vlan:-none}"
    else
        colo_flood "$br" "$r_port"
        colo_set_ids "$r_port" colo-state=failed-over
    fi
    ovs-appctl fdb/flush "$br" > /dev/null 2>&1 || true
    [ "$r_role" = secondary ] && colo_announce "$br" "$r_port" "$r_mac"
    if [ "$r_role" = primary ]; then
        colo_log info "primary: $vif on $br failed over (in-line): the PVM is on the bridge again"
    else
        colo_log info "secondary: $vif on $br failed over (in-line): the SVM reaches the network through the rewriter and $r_port"
    fi
}

# Undo an in-line setup, whatever state it is in: the vif back on the
# bridge, the stand-in gone.  (colo_ovs_teardown then removes the rest.)
colo_inline_teardown() {    # BRIDGE VIF (after colo_inline_find)
    [ "$r_port" = "$2" ] || colo_inline_replug "$1" "$2" "$r_port" "$r_vlan"
    colo_log info "$2 on $1: back on the bridge; the forward link $r_fwd stays off it"
}
