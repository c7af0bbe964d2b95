# colo-ovs-common.sh - Open vSwitch plumbing for COLO vifs (a library: source it).
#
# The layout, every port and every flow, and why, are in docs/networking.md.
# In short, for one protected vif:
#
#   primary host    clients -> PVM vif and (forward link) -> secondary;
#                   PVM vif -> colo-proxy "pvm" port; forward link -> "svm" port;
#                   colo-proxy "client" port (released output) -> the bridge as usual
#   secondary host  forward link <-> colo-proxy secondary (the rewriter) <-> SVM vif
#   failover        the survivor's vif talks to the bridge again (on the
#                   secondary still through the rewriter); the secondary
#                   announces the VM's MAC
#
# The functions work the same whether libxl runs the scripts (XENBUS_PATH
# set: parameters come from xenstore, results go to hotplug-status /
# hotplug-error as Xen's own scripts do) or a test or an operator runs them
# with the parameters in the environment and no Xen at all.  OVS is reached
# through ovs-vsctl / ovs-ofctl / ovs-appctl defaults, so OVS_RUNDIR points
# them at a private switch.
#
# Every OpenFlow rule for a vif carries one cookie derived from the vif's
# name, so replacing or removing them never touches anything else, and is
# done in one OpenFlow bundle (atomic: no frame sees half a layout).  What
# the scripts set up is recorded in the vif's external-ids (colo-role,
# colo-state, colo-mac, colo-forward, colo-vlan), so failover and teardown
# need only the bridge and the vif.
#
# A vif in a VLAN (bridge=xenbr0.10: an access port, tag 10) gets flows of
# its own: OVS applies a port's tag only in NORMAL, so the VM's place in its
# VLAN is a patch-port pair, VIF-xa (tag 10) and VIF-xb.  NORMAL delivers
# the VLAN's frames for the VM to VIF-xa, they come back in at VIF-xb, and
# a flow copies them to the vif and the forward link (docs/networking.md).
#
# The in-line layout (layout=inline: colo-proxy between the VM and the
# bridge, no flows) is in colo-ovs-inline.sh; failover and teardown find
# which layout a vif was set up in from the record.

COLO_OVS_TIMEOUT=${COLO_OVS_TIMEOUT:-30}

colo_log() {        # colo_log LEVEL MESSAGE...
    local level=$1; shift
    echo "${0##*/}: $level: $*" >&2
    if [ -n "${XENBUS_PATH:-}" ] && command -v logger > /dev/null 2>&1; then
        logger -p "daemon.$level" -t "${0##*/}" -- "$*" 2> /dev/null || true
    fi
}

# Xen's fatal: the reason in hotplug-error, "error" in hotplug-status (libxl
# reports both), then exit non-zero.  Without Xen: the message and the exit.
colo_fatal() {
    if [ -n "${XENBUS_PATH:-}" ] && command -v xenstore-write > /dev/null 2>&1; then
        xenstore-write "$XENBUS_PATH/hotplug-error" "$*" "$XENBUS_PATH/hotplug-status" error 2> /dev/null
    fi
    colo_log err "$*"
    exit 1
}

# Xen's success: tell the toolstack the device is connected.
colo_success() {
    if [ -n "${XENBUS_PATH:-}" ]; then
        xenstore-write "$XENBUS_PATH/hotplug-status" connected ||
            colo_fatal "cannot write $XENBUS_PATH/hotplug-status"
    fi
}

# colo_param VAR KEY: VAR keeps its value from the environment (or a
# NAME=VALUE argument) unless the device's xenstore directory has KEY, which
# wins - the order Xen's vif scripts use.
colo_param() {
    local v
    [ -n "${XENBUS_PATH:-}" ] || return 0
    command -v xenstore-read > /dev/null 2>&1 ||
        colo_fatal "XENBUS_PATH is set but xenstore-read is not installed"
    if v=$(xenstore-read "$XENBUS_PATH/$2" 2> /dev/null) && [ -n "$v" ]; then
        printf -v "$1" '%s' "$v"
    fi
}

# NAME=VALUE arguments into variables (Xen scripts accept both forms);
# the first word without '=' is the command.  Only the parameters the
# scripts know: an argument must not be able to set PATH or the like.
COLO_PARAMS="mode bridge vifname vif forwarddev mac index layout type_if INTERFACE XENBUS_PATH"
colo_args() {
    local a k
    command=
    for a in "$@"; do
        case $a in
        *=*)
            k=${a%%=*}
            case " $COLO_PARAMS " in
            *" $k "*) printf -v "$k" '%s' "${a#*=}" ;;
            *) colo_fatal "unknown parameter '$k' in '$a' (known: $COLO_PARAMS)" ;;
            esac ;;
        *)  [ -n "$command" ] || command=$a ;;
        esac
    done
}

colo_check_tools() {
    local t
    for t in ovs-vsctl ovs-ofctl ovs-appctl ip; do
        command -v "$t" > /dev/null 2>&1 || colo_fatal "$t not found: install openvswitch-switch (ovs-*) and iproute2 (ip)"
    done
}

colo_require() {    # colo_require VAR WHAT: a clear error if VAR is empty
    [ -n "${!1:-}" ] || colo_fatal "$2 is not given (set $1=..., or in xenstore)"
}

colo_check_ifname() {   # NAME WHAT: a Linux interface name (1-15 chars, no / or space)
    case $1 in
    "" | *[/\ :]* | . | ..) colo_fatal "$2 '$1' is not a valid interface name" ;;
    esac
    [ ${#1} -le 15 ] || colo_fatal "$2 '$1' is longer than 15 characters (an interface name)"
}

colo_check_mac() {
    local m=${1,,}
    [[ $m =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] || colo_fatal "mac '$1' is not a MAC address (xx:xx:xx:xx:xx:xx)"
    (( 0x${m:0:2} & 1 )) && colo_fatal "mac '$1' is a multicast address, not a VM's"
    return 0
}

vsctl() { ovs-vsctl --timeout="$COLO_OVS_TIMEOUT" "$@"; }

# A bridge as Xen's vif scripts write it: NAME, NAME.VLAN (the vif an access
# port of that VLAN) or NAME:VLAN:VLAN... (a trunk).  Sets bridge (the name)
# and vlan (the tag, or empty).  Trunks are refused: the guest then tags its
# own frames, and neither the comparator nor the rewriter looks inside a tag.
colo_bridge_spec() {    # SPEC
    local spec=$1
    [[ $spec =~ ^([^.:]+)(\.([0-9]+))?(:([0-9]+(:[0-9]+)*))?$ ]] ||
        colo_fatal "bridge '$spec' is not NAME, NAME.VLAN or NAME:VLAN[:VLAN...]"
    bridge=${BASH_REMATCH[1]} vlan=${BASH_REMATCH[3]}
    [ -z "${BASH_REMATCH[5]}" ] ||
        colo_fatal "bridge '$spec': trunk vifs (:VLAN...) are not supported for COLO (the guest would tag its own frames, which the proxy does not parse); give the vif one VLAN, NAME.VLAN"
    if [ -n "$vlan" ]; then
        [ ${#vlan} -le 4 ] && [ $((10#$vlan)) -ge 1 ] && [ $((10#$vlan)) -le 4094 ] ||
            colo_fatal "bridge '$spec': VLAN '$vlan' is not between 1 and 4094"
        vlan=$((10#$vlan))
    fi
}

# The bridge= parameter (from xenstore or the command line), split by
# colo_bridge_spec into bridge and vlan; both empty when none was given.
colo_bridge_param() {
    colo_param bridge bridge
    vlan=
    [ -z "${bridge:-}" ] || colo_bridge_spec "$bridge"
}

# The VLAN a port is an access port of (its tag), or nothing; a trunk or a
# port in another VLAN mode is refused.
colo_port_vlan() {      # PORT
    local out tag trunks mode
    out=$(vsctl get Port "$1" tag trunks vlan_mode 2> /dev/null) || colo_fatal "no port '$1' in Open vSwitch"
    { read -r tag; read -r trunks; read -r mode; } <<< "$out"
    [ "$trunks" = "[]" ] || colo_fatal "vif '$1' is a trunk port (trunks $trunks): not supported for COLO"
    case $mode in "[]" | access) ;; *)
        [ "$tag" = "[]" ] && [ "$mode" = trunk ] ||
            colo_fatal "vif '$1' has vlan_mode $mode: only untagged vifs and access ports (tag=N) are supported for COLO" ;;
    esac
    [ "$tag" = "[]" ] || echo "$tag"
}

colo_check_bridge() {
    case $1 in *[.:]*) colo_fatal "bridge '$1': internal error, a bridge name with a VLAN part" ;; esac
    vsctl br-exists "$1" 2> /dev/null || {
        vsctl show > /dev/null 2>&1 || colo_fatal "cannot reach Open vSwitch (is ovsdb-server running? OVS_RUNDIR=${OVS_RUNDIR:-default})"
        colo_fatal "bridge '$1' does not exist in Open vSwitch"
    }
}

colo_check_port() {     # BRIDGE PORT WHAT
    local br
    br=$(vsctl port-to-br "$2" 2> /dev/null) || colo_fatal "$3 '$2' is not a port of any Open vSwitch bridge"
    [ "$br" = "$1" ] || colo_fatal "$3 '$2' is a port of bridge '$br', not of '$1'"
}

colo_ofport() {         # PORT: its OpenFlow port number
    local n
    n=$(vsctl get Interface "$1" ofport 2> /dev/null) || colo_fatal "no interface '$1' in Open vSwitch"
    [ "$n" -gt 0 ] 2> /dev/null || colo_fatal "interface '$1' has no OpenFlow port number ($n): $(vsctl get Interface "$1" error 2> /dev/null)"
    echo "$n"
}

# One cookie per vif (a hash of its name), high bits "c010".
colo_cookie() {
    printf '0xc010%012x' "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"
}

# An internal port for colo-proxy.  No IPv6 on it (the host's own stack
# would otherwise send router solicitations into the bridge), up, and never
# a flood target.  A long transmit queue: in the userspace datapath the port
# is a tap, and what the proxy releases in one burst waits there for
# ovs-vswitchd; a frame dropped there is one the client must wait for.
colo_add_proxy_port() { # BRIDGE NAME
    vsctl --may-exist add-port "$1" "$2" -- set Interface "$2" type=internal \
        external-ids:colo-proxy-port=true || colo_fatal "cannot add port '$2' to bridge '$1'"
    [ -w "/proc/sys/net/ipv6/conf/$2/disable_ipv6" ] && echo 1 > "/proc/sys/net/ipv6/conf/$2/disable_ipv6"
    ip link set "$2" txqueuelen 10000 up || colo_fatal "cannot bring '$2' up"
    colo_no_flood "$1" "$2"
}

# NORMAL's flooding must not reach ports whose traffic the flows route
# themselves (the vif, the forward link, the proxy's ports).
colo_no_flood() { ovs-ofctl mod-port "$1" "$2" no-flood || colo_fatal "cannot set no-flood on '$2'"; }
colo_flood()    { ovs-ofctl mod-port "$1" "$2" flood 2> /dev/null || true; }

# Replace every flow of this vif's cookie with FLOWS (one per line), in one
# bundle.  Each flow gets the cookie.
colo_replace_flows() {  # BRIDGE COOKIE FLOWS
    local f out
    out="delete cookie=$2/-1"$'\n'
    while read -r f; do
        [ -n "$f" ] && out+="add cookie=$2,$f"$'\n'
    done <<< "$3"
    printf '%s' "$out" | ovs-ofctl -O OpenFlow14 --bundle add-flows "$1" - ||
        colo_fatal "cannot install the COLO flows on bridge '$1'"
}

# The proxy's port arguments, one a line, into the file COLO_PROXY_ARGS
# names (xl-colo sets it at setup: the script knows this host's names of
# the devices, the forward link's above all); nothing without it.
colo_proxy_args() {     # ARG...
    [ -n "${COLO_PROXY_ARGS:-}" ] || return 0
    printf '%s\n' "$@" > "$COLO_PROXY_ARGS" || colo_fatal "cannot write the proxy's ports to $COLO_PROXY_ARGS"
}

colo_set_ids() {        # VIF KEY=VALUE...
    local v=$1 kv args=(); shift
    for kv in "$@"; do args+=(-- set Interface "$v" "external-ids:$kv"); done
    vsctl "${args[@]}" || colo_fatal "cannot record the COLO state of '$v' in Open vSwitch"
}

colo_get_id() {         # VIF KEY: the value, or nothing
    vsctl --if-exists get Interface "$1" "external-ids:$2" 2> /dev/null | tr -d '"'
}

# The OpenFlow port numbers the flows name, looked up (and checked) in this
# shell, before any flow is written: OF_VIF, OF_FWD, OF_X<suffix>.
colo_ofports() {        # ROLE VIF FWD PROXY-PREFIX (and $vlan)
    local s
    OF_VIF=$(colo_ofport "$2") || exit 1
    OF_FWD=$(colo_ofport "$3") || exit 1
    for s in $(colo_port_suffixes "$1" "$vlan"); do
        printf -v "OF_X$s" '%s' "$(colo_ofport "$4$s")" || exit 1
    done
}

# Frames for the VM (its MAC, and every broadcast/multicast frame) from
# anywhere not routed explicitly go to OUTPUTS; broadcasts also to NORMAL.
colo_input_flows() {    # MAC OUTPUTS
    echo "priority=100,dl_dst=$1,actions=$2"
    echo "priority=100,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=$2,NORMAL"
}

# NORMAL, for a frame of the VM's: untagged, NORMAL itself; in a VLAN, as
# if the frame came in at VIF-xa, so that NORMAL tags it for the VLAN and
# learns the VM's MAC there.
colo_vm_normal() {
    if [ -n "$vlan" ]; then echo "load:$OF_Xa->NXM_OF_IN_PORT[],NORMAL"; else echo NORMAL; fi
}

# Frames for the VM to OUTPUTS: untagged, every frame for its MAC and every
# broadcast (colo_input_flows); in a VLAN, what NORMAL delivers to VIF-xa,
# which comes back in at VIF-xb - only the VLAN's frames.
colo_vm_input() {       # MAC OUTPUTS
    if [ -n "$vlan" ]; then echo "priority=200,in_port=$OF_Xb,actions=$2"; else colo_input_flows "$@"; fi
}

# The primary: input to the PVM and (forward link) to the SVM; the PVM's
# output to the proxy only; the SVM's (from the forward link) to the proxy
# only; what the proxy releases goes into the bridge as if the PVM sent it.
colo_primary_flows() {          # MAC
    echo "priority=200,in_port=$OF_VIF,actions=output:$OF_Xp"
    echo "priority=200,in_port=$OF_FWD,actions=output:$OF_Xs"
    echo "priority=200,in_port=$OF_Xp,actions=drop"
    echo "priority=200,in_port=$OF_Xs,actions=drop"
    echo "priority=200,in_port=$OF_Xc,actions=$(colo_vm_normal)"
    colo_vm_input "$1" "output:$OF_VIF,output:$OF_FWD"
}

# The primary after failover (the secondary is gone): the PVM talks to the
# bridge directly; what the proxy still releases goes out too.
colo_primary_alone_flows() {    # MAC
    echo "priority=200,in_port=$OF_VIF,actions=$(colo_vm_normal)"
    echo "priority=200,in_port=$OF_FWD,actions=drop"
    echo "priority=200,in_port=$OF_Xp,actions=drop"
    echo "priority=200,in_port=$OF_Xs,actions=drop"
    echo "priority=200,in_port=$OF_Xc,actions=$(colo_vm_normal)"
    colo_vm_input "$1" "output:$OF_VIF"
}

# The secondary: what comes over the forward link reaches the SVM only
# through the rewriter (its "forward" port, then its "svm" port).  The
# SVM's output needs no rewriting before failover - the comparator counts
# offsets - but the rewriter must see the SVM's SYNs (initial sequence
# number and clock) before the client's first ACK: those go through it, in
# order, and everything else straight to the forward link.
colo_secondary_flows() {        # MAC
    echo "priority=200,in_port=$OF_FWD,actions=output:$OF_Xf"
    echo "priority=200,in_port=$OF_Xf,actions=output:$OF_FWD"
    echo "priority=200,in_port=$OF_Xv,actions=output:$OF_VIF"
    echo "priority=210,in_port=$OF_VIF,tcp,tcp_flags=+syn,actions=output:$OF_Xv"
    echo "priority=210,in_port=$OF_VIF,tcp6,tcp_flags=+syn,actions=output:$OF_Xv"
    echo "priority=200,in_port=$OF_VIF,actions=output:$OF_FWD"
}

# The secondary after failover: the rewriter's forward port now faces the
# bridge (clients know the PVM's sequence numbers: the rewriter keeps
# translating connections opened before failover).  In a VLAN that port is
# an access port of it, which NORMAL learns the VM's MAC on and floods to.
colo_secondary_alone_flows() {  # MAC
    echo "priority=200,in_port=$OF_FWD,actions=drop"
    echo "priority=200,in_port=$OF_Xf,actions=NORMAL"
    echo "priority=200,in_port=$OF_Xv,actions=output:$OF_VIF"
    echo "priority=200,in_port=$OF_VIF,actions=output:$OF_Xv"
    [ -n "$vlan" ] || colo_input_flows "$1" "output:$OF_Xf"
}

# The proxy's ports are named after the vif: VIF-xc, -xp, -xs (primary:
# client, pvm, svm), VIF-xf, -xv (secondary: forward, svm); a VLAN vif's
# patch pair on the primary is VIF-xa, -xb.
colo_proxy_prefix() { echo "$1-x"; }
colo_proxy_suffixes() {
    case $1 in
    primary) echo c p s ;;
    secondary) echo f v ;;
    *) colo_fatal "mode '$1' is neither primary nor secondary" ;;
    esac
}
colo_port_suffixes() {  # ROLE VLAN: the proxy's ports, and the patch pair
    colo_proxy_suffixes "$1"
    [ "$1" = primary ] && [ -n "$2" ] && echo a b
    return 0
}

# The primary's patch pair for a vif in VLAN TAG: VIF-xa an access port of
# the VLAN that NORMAL floods and learns the VM's MAC on; VIF-xb, its peer,
# never a NORMAL target - what arrives there the flows route.
colo_add_vlan_pair() {  # BRIDGE PREFIX TAG
    vsctl --may-exist add-port "$1" "${2}a" -- set Interface "${2}a" type=patch "options:peer=${2}b" \
        external-ids:colo-proxy-port=true -- set Port "${2}a" "tag=$3" \
        -- --may-exist add-port "$1" "${2}b" -- set Interface "${2}b" type=patch "options:peer=${2}a" \
        external-ids:colo-proxy-port=true || colo_fatal "cannot add the patch ports ${2}a/${2}b to bridge '$1'"
    colo_no_flood "$1" "${2}b"
}

# Everything checked before anything changes.  Sets vlan: the vif's access
# VLAN, which its port's tag says (bridge=NAME.VLAN must agree with it).
colo_validate() {       # MODE BRIDGE VIF FWD MAC
    local mode=$1 pv; shift
    colo_proxy_suffixes "$mode" > /dev/null
    colo_check_tools
    colo_check_ifname "$2" "vif"
    colo_check_ifname "$(colo_proxy_prefix "$2")c" "vif name + proxy suffix"
    colo_check_mac "$4"
    colo_check_bridge "$1"
    colo_check_port "$1" "$2" "vif"
    pv=$(colo_port_vlan "$2") || exit 1
    [ -z "$vlan" ] || [ "$vlan" = "$pv" ] ||
        colo_fatal "vif '$2' is ${pv:+in VLAN $pv}${pv:-untagged} on '$1', not in VLAN $vlan as the bridge '$1.$vlan' says"
    vlan=$pv
    [ "$3" != "$2" ] || colo_fatal "forwarddev '$3' is the vif itself"
    if ! vsctl port-to-br "$3" > /dev/null 2>&1; then
        # A dedicated interface not yet on the bridge (e.g. eth1): add it.
        ip link show "$3" > /dev/null 2>&1 || colo_fatal "forwarddev '$3': no such port or interface"
        vsctl add-port "$1" "$3" || colo_fatal "cannot add forwarddev '$3' to bridge '$1'"
    fi
    colo_check_port "$1" "$3" "forwarddev"
}

# colo_ovs_setup MODE BRIDGE VIF FWD MAC (and $vlan from the bridge spec)
colo_ovs_setup() {
    local mode=$1 br=$2 vif=$3 fwd=$4 mac=${5,,} px cookie s
    # Set up in-line before: the vif goes back on the bridge first.
    colo_check_tools
    colo_check_ifname "$vif" "vif"
    colo_check_bridge "$br"
    if colo_inline_find "$br" "$vif"; then colo_inline_teardown "$br" "$vif"; fi
    colo_validate "$mode" "$br" "$vif" "$fwd" "$mac"
    px=$(colo_proxy_prefix "$vif")
    cookie=$(colo_cookie "$vif")
    for s in $(colo_proxy_suffixes "$mode"); do colo_add_proxy_port "$br" "$px$s"; done
    if [ -n "$vlan" ]; then
        if [ "$mode" = primary ]; then
            colo_add_vlan_pair "$br" "$px" "$vlan"
        else
            vsctl set Port "${px}f" "tag=$vlan" || colo_fatal "cannot put '${px}f' in VLAN $vlan"
        fi
    else
        # Set up again without a VLAN: nothing of an earlier one may stay.
        vsctl -- --if-exists del-port "$br" "${px}a" -- --if-exists del-port "$br" "${px}b" ||
            colo_fatal "cannot remove the patch ports ${px}a/${px}b"
        if [ "$mode" = secondary ]; then
            vsctl clear Port "${px}f" tag || colo_fatal "cannot clear the VLAN of '${px}f'"
        fi
    fi
    colo_no_flood "$br" "$vif"
    colo_no_flood "$br" "$fwd"
    colo_ofports "$mode" "$vif" "$fwd" "$px"
    colo_set_ids "$vif" "colo-role=$mode" colo-state=protecting "colo-mac=$mac" "colo-forward=$fwd" "colo-vlan=${vlan:-none}"
    colo_replace_flows "$br" "$cookie" "$("colo_${mode}_flows" "$mac")"
    # NORMAL may know the VM's MAC on the vif (from before protection): it
    # must learn it anew on VIF-xa, from the first frame the proxy releases.
    if [ -n "$vlan" ]; then ovs-appctl fdb/del "$br" "$vlan" "$mac" > /dev/null 2>&1; fi
    if [ "$mode" = primary ]; then
        colo_proxy_args --client "${px}c" --pvm "${px}p" --svm "${px}s"
    else
        colo_proxy_args --forward "${px}f" --svm "${px}v"
    fi
    colo_log info "$mode: $vif on $br${vlan:+ (VLAN $vlan)} protected (forward link $fwd, proxy ports ${px}*, cookie $cookie)"
}

# The recorded setup of a vif: sets role, mac, fwd, or fails clearly.
colo_recorded() {       # BRIDGE VIF
    colo_check_tools
    colo_check_ifname "$2" "vif"
    colo_check_bridge "$1"
    colo_check_port "$1" "$2" "vif"
    role=$(colo_get_id "$2" colo-role)
    mac=$(colo_get_id "$2" colo-mac)
    fwd=$(colo_get_id "$2" colo-forward)
    vlan=$(colo_get_id "$2" colo-vlan)
    [ "$vlan" != none ] || vlan=
    [ -n "$role" ] || colo_fatal "vif '$2' on '$1' was not set up for COLO (no colo-role in its external-ids)"
}

# colo_ovs_failover BRIDGE VIF: this host's VM carries on alone.
colo_ovs_failover() {
    local br=$1 vif=$2 role mac fwd px
    colo_check_tools
    colo_check_ifname "$vif" "vif"
    colo_check_bridge "$br"
    if colo_inline_find "$br" "$vif"; then
        colo_inline_failover "$br" "$vif"
        return
    fi
    colo_recorded "$br" "$vif"
    px=$(colo_proxy_prefix "$vif")
    colo_ofports "$role" "$vif" "$fwd" "$px"
    # In a VLAN the rewriter's port is now where NORMAL finds the VM.
    [ "$role" = secondary ] && [ -n "$vlan" ] && colo_flood "$br" "${px}f"
    colo_replace_flows "$br" "$(colo_cookie "$vif")" "$("colo_${role}_alone_flows" "$mac")"
    colo_set_ids "$vif" colo-state=failed-over
    # NORMAL may have learnt the VM's MAC on a port that no longer carries it.
    ovs-appctl fdb/flush "$br" > /dev/null 2>&1 || true
    [ "$role" = secondary ] && colo_announce "$br" "${px}f" "$mac"
    colo_log info "$role: $vif on $br failed over: the VM talks to the network directly"
}

# A RARP "announce" from the VM's MAC (what a migrated VM's host sends), as
# if the VM sent it through PORT: the network's switches learn where the
# MAC lives now, and nothing in the VM's addresses needs to be known.
colo_announce() {       # BRIDGE PORT MAC
    local m n hex
    m=${3//:/}
    n=$(colo_ofport "$2")
    # dst broadcast, src MAC, ethertype RARP; htype 1, ptype IPv4, 6, 4,
    # op 3 (reverse request); sender = target = the MAC, addresses 0.
    hex="ffffffffffff${m}8035""0001080006040003${m}00000000${m}00000000"
    hex+=$(printf '%036d' 0)    # pad to the 60-byte minimum frame
    ovs-ofctl packet-out "$1" "in_port=$n,packet=$hex,actions=NORMAL" ||
        colo_log warning "could not announce $3 on $1 (the network will learn it from the VM's next frame)"
}

# colo_ovs_teardown BRIDGE VIF: remove flows, proxy ports and the record;
# the vif stays on the bridge as an ordinary port.  Quiet about what is
# already gone, so that it can run after a failed setup or twice.
colo_ovs_teardown() {
    local br=$1 vif=$2 px p
    colo_check_tools
    colo_check_ifname "$vif" "vif"
    colo_check_bridge "$br"
    px=$(colo_proxy_prefix "$vif")
    if colo_inline_find "$br" "$vif"; then colo_inline_teardown "$br" "$vif"; fi
    ovs-ofctl del-flows "$br" "cookie=$(colo_cookie "$vif")/-1" ||
        colo_fatal "cannot remove the COLO flows of '$vif' from '$br'"
    for p in "${px}c" "${px}p" "${px}s" "${px}f" "${px}v" "${px}a" "${px}b"; do
        vsctl --if-exists del-port "$br" "$p" || colo_fatal "cannot remove port '$p'"
    done
    if vsctl port-to-br "$vif" > /dev/null 2>&1; then
        colo_flood "$br" "$vif"
        vsctl remove Interface "$vif" external-ids colo-role -- remove Interface "$vif" external-ids colo-state \
            -- remove Interface "$vif" external-ids colo-mac -- remove Interface "$vif" external-ids colo-forward \
            -- remove Interface "$vif" external-ids colo-vlan -- remove Interface "$vif" external-ids colo-layout \
            -- remove Interface "$vif" external-ids colo-vif ||
            colo_fatal "cannot clear the COLO record of '$vif'"
    fi
    # The forward link stays no-flood: it is dedicated to this vif, and a
    # forward link that floods joins the two hosts' bridges a second time
    # besides the LAN - a loop (docs/networking.md).
    ovs-appctl fdb/flush "$br" > /dev/null 2>&1 || true
    colo_log info "$vif on $br: COLO flows and proxy ports removed"
}

# The vif itself, as Xen's vif-openvswitch plugs it: on the bridge (an
# access port of $vlan if the bridge named one), up.
colo_vif_online() {     # BRIDGE VIF
    colo_check_tools
    colo_check_ifname "$2" "vif"
    colo_check_bridge "$1"
    ip link show "$2" > /dev/null 2>&1 || colo_fatal "vif '$2': no such interface"
    vsctl -- --if-exists del-port "$2" -- add-port "$1" "$2" ${vlan:+"tag=$vlan"} ||
        colo_fatal "cannot add vif '$2' to bridge '$1'"
    ip link set "$2" up || colo_fatal "cannot bring vif '$2' up"
}

colo_vif_offline() {    # BRIDGE VIF: also undoes any COLO setup of the vif
    local br=$1
    colo_check_tools
    colo_check_ifname "$2" "vif"
    # In-line, the vif is off the bridge: its stand-in port says where.
    [ -n "$br" ] || br=$(vsctl port-to-br "$2" 2> /dev/null) ||
        br=$(vsctl port-to-br "$(colo_proxy_prefix "$2")c" 2> /dev/null) ||
        br=$(vsctl port-to-br "$(colo_proxy_prefix "$2")f" 2> /dev/null) || true
    if [ -n "$br" ] && vsctl br-exists "$br" 2> /dev/null; then
        colo_ovs_teardown "$br" "$2"
    fi
    vsctl --if-exists del-port "$2" 2> /dev/null || true
    ip link set "$2" down 2> /dev/null || true
}

. "$(dirname "${BASH_SOURCE[0]}")/colo-ovs-inline.sh"
