# The hotplug scripts (hotplug/) against a private Open vSwitch: what each
# sub-command sets up, that it can be repeated and undone, that bad input is
# refused with an error naming what was wrong (and changes nothing), and
# that under Xen - XENBUS_PATH set - parameters come from xenstore and the
# result goes to hotplug-status / hotplug-error (a stand-in xenstore-read /
# xenstore-write on PATH keeps the store in files).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ovs-lib.bash"
trap 'ovs_cleanup; cleanup' EXIT
if ! ovs_start; then
    fail "a private Open vSwitch starts" "$(cat "$OVS_DIR"/*.err 2> /dev/null | head -3)"
    exit 0
fi
MAC=02:00:0a:4d:00:05
SETUP="$HOTPLUG/colo-ovs-setup" VIF="$HOTPLUG/vif-colo-ovs"
ovs-vsctl add-br br0 -- set bridge br0 datapath_type=netdev
ovs_netns "$NP"
ip -n "$SW" link add vif5.0 type veth peer name eth0 netns "$NP"
ip -n "$SW" link add fwd0 type veth peer name fwd0-peer
cookie_flows() { ovs-ofctl dump-flows br0 | grep -c "cookie=$(printf '0xc010%012x' "$(printf %s vif5.0 | cksum | cut -d' ' -f1)")"; }
no_flood() { ovs-ofctl show br0 | grep -A1 "($1)" | grep -q NO_FLOOD; }

# 1. The vif script plugs the vif; setup protects it; again is harmless;
#    failover re-points; teardown undoes; teardown again is harmless.
check "vif-colo-ovs online plugs the vif into the bridge" sw "$VIF" online vif=vif5.0 bridge=br0
check "... and brings it up" grep -q "UP" <<< "$(ip -n "$SW" link show vif5.0)"
sw "$SETUP" setup mode=primary bridge=br0 vifname=vif5.0 forwarddev=fwd0 mac=$MAC 2> "$WORK/s1.err"
check "setup mode=primary succeeds, adding the forward link to the bridge" test "$(ovs-vsctl port-to-br fwd0)" = br0
check "... the proxy's three internal ports" \
    test "$(ovs-vsctl list-ports br0 | grep -c -- '^vif5.0-x[cps]$')" = 3
check "... seven flows under the vif's cookie ($(cookie_flows))" test "$(cookie_flows)" = 7
check "... the vif, the forward link and the proxy ports never flooded" \
    eval 'no_flood vif5.0 && no_flood fwd0 && no_flood vif5.0-xc && no_flood vif5.0-xp'
check "... the PVM's output goes to the proxy's pvm port only" \
    grep -q "in_port=$(ovs-vsctl get Interface vif5.0 ofport) actions=output:$(ovs-vsctl get Interface vif5.0-xp ofport)$" \
    <<< "$(ovs-ofctl dump-flows br0)"
check "... and the setup is recorded on the vif" \
    test "$(ovs-vsctl get Interface vif5.0 external-ids:colo-role external-ids:colo-mac)" = "primary
\"$MAC\""
COLO_PROXY_ARGS=$WORK/args sw "$SETUP" setup mode=primary bridge=br0 vifname=vif5.0 forwarddev=fwd0 mac=$MAC 2> /dev/null
check "setup with COLO_PROXY_ARGS (xl-colo): the comparator's three ports written there" \
    test "$(tr '\n' ' ' < "$WORK/args")" = "--client vif5.0-xc --pvm vif5.0-xp --svm vif5.0-xs "
check "setup twice: still seven flows, three ports" \
    test "$(cookie_flows)/$(ovs-vsctl list-ports br0 | grep -c -- -x)" = 7/3
check "failover succeeds" sw "$SETUP" failover bridge=br0 vifname=vif5.0
check "... the PVM now goes straight to the bridge" \
    grep -q "in_port=$(ovs-vsctl get Interface vif5.0 ofport) actions=NORMAL" <<< "$(ovs-ofctl dump-flows br0)"
check "... recorded as failed over" test "$(ovs-vsctl get Interface vif5.0 external-ids:colo-state)" = failed-over
check "teardown succeeds" sw "$SETUP" teardown bridge=br0 vifname=vif5.0
check "... no flow, no proxy port left; the vif stays, floodable again" \
    test "$(cookie_flows)/$(ovs-vsctl list-ports br0 | grep -c -- -x)/$(ovs-vsctl port-to-br vif5.0)" = 0/0/br0 -a \
    -z "$(ovs-ofctl show br0 | grep -A1 '(vif5.0)' | grep NO_FLOOD)"
check "... the forward link stays out of flooding (a flooding one would close a loop)" no_flood fwd0
check "teardown twice is harmless" sw "$SETUP" teardown bridge=br0 vifname=vif5.0

# 1b. A vif in a VLAN (bridge=br0.10): an access port; on the primary a
#     patch pair in the VLAN, on the secondary the rewriter's port in it.
#     (proxy-vlan.sh sends traffic through it.)
check "vif-colo-ovs online bridge=br0.10 plugs the vif as an access port of VLAN 10" \
    eval 'sw "$VIF" online vif=vif5.0 bridge=br0.10 && [ "$(ovs-vsctl get Port vif5.0 tag)" = 10 ]'
check "setup mode=primary bridge=br0.10 succeeds" \
    sw "$SETUP" setup mode=primary bridge=br0.10 vifname=vif5.0 forwarddev=fwd0 mac=$MAC
check "... a patch pair: vif5.0-xa in VLAN 10 (flooded), vif5.0-xb (never flooded)" \
    eval '[ "$(ovs-vsctl get Port vif5.0-xa tag)" = 10 ] && ! no_flood vif5.0-xa && no_flood vif5.0-xb'
check "... six flows: no MAC-wide input flow, the VLAN's frames come in at vif5.0-xb ($(cookie_flows))" \
    eval '[ "$(cookie_flows)" = 6 ] && ! ovs-ofctl dump-flows br0 | grep -q dl_dst= &&
        ovs-ofctl dump-flows br0 | grep -q "in_port=$(ovs-vsctl get Interface vif5.0-xb ofport) actions=output:$(ovs-vsctl get Interface vif5.0 ofport),output:$(ovs-vsctl get Interface fwd0 ofport)$"'
check "... released frames enter NORMAL as if from vif5.0-xa" \
    grep -q "in_port=$(ovs-vsctl get Interface vif5.0-xc ofport) actions=load:0x$(printf %x "$(ovs-vsctl get Interface vif5.0-xa ofport)")->NXM_OF_IN_PORT\[\],NORMAL" \
    <<< "$(ovs-ofctl dump-flows br0)"
check "... recorded: colo-vlan=10" test "$(ovs-vsctl get Interface vif5.0 external-ids:colo-vlan)" = '"10"'
check "failover (primary, VLAN): the PVM enters NORMAL as if from vif5.0-xa" eval '
    sw "$SETUP" failover bridge=br0 vifname=vif5.0 &&
    ovs-ofctl dump-flows br0 | grep -q "in_port=$(ovs-vsctl get Interface vif5.0 ofport) actions=load:.*->NXM_OF_IN_PORT\[\],NORMAL"'
check "setup again without the VLAN part takes the vif's tag" \
    eval 'sw "$SETUP" setup mode=primary bridge=br0 vifname=vif5.0 forwarddev=fwd0 mac=$MAC 2> "$WORK/s2.err" &&
        grep -q "(VLAN 10)" "$WORK/s2.err" && [ "$(cookie_flows)" = 6 ]'
check "setup mode=secondary in the VLAN: the rewriter's forward port in VLAN 10, not flooded" eval '
    sw "$SETUP" teardown bridge=br0 vifname=vif5.0 &&
    sw "$SETUP" setup mode=secondary bridge=br0.10 vifname=vif5.0 forwarddev=fwd0 mac=$MAC &&
    [ "$(ovs-vsctl get Port vif5.0-xf tag)" = 10 ] && no_flood vif5.0-xf && [ "$(cookie_flows)" = 6 ]'
check "failover (secondary, VLAN): NORMAL now floods to the rewriter, no MAC-wide flow" eval '
    sw "$SETUP" failover bridge=br0 vifname=vif5.0 && ! no_flood vif5.0-xf && [ "$(cookie_flows)" = 4 ]'
check "teardown removes the patch pair, the proxy ports and the VLAN record" eval '
    sw "$SETUP" teardown bridge=br0 vifname=vif5.0 && [ "$(ovs-vsctl list-ports br0 | grep -c -- -x)" = 0 ] &&
    [ -z "$(ovs-vsctl --if-exists get Interface vif5.0 external-ids:colo-vlan 2> /dev/null)" ]'
ovs-vsctl clear Port vif5.0 tag

# 1c. The in-line layout (layout=inline): the vif and the forward link off
#     the bridge, one stand-in port on it, no flows.  (proxy-inline.sh
#     sends traffic through it.)
on_br() { [ "$(ovs-vsctl port-to-br "$1" 2> /dev/null)" = br0 ]; }
rec() { ovs-vsctl --if-exists get Interface "$1" "external-ids:$2" 2> /dev/null | tr -d '"'; }
I="bridge=br0 vifname=vif5.0 forwarddev=fwd0 mac=$MAC layout=inline"
check "setup mode=primary layout=inline succeeds" sw "$SETUP" setup mode=primary $I
check "... vif5.0-xc on the bridge, flooded; the vif and the forward link off it; no flow, no other proxy port" \
    eval 'on_br vif5.0-xc && ! no_flood vif5.0-xc && ! on_br vif5.0 && ! on_br fwd0 &&
        [ "$(cookie_flows)/$(ovs-vsctl list-ports br0 | grep -c -- -x)" = 0/1 ]'
check "... the record on vif5.0-xc" \
    test "$(rec vif5.0-xc colo-layout)/$(rec vif5.0-xc colo-vif)/$(rec vif5.0-xc colo-role)/$(rec vif5.0-xc colo-forward)" = inline/vif5.0/primary/fwd0
check "... the vif and the forward link are up, for colo-proxy to open" \
    eval 'ip -n "$SW" link show vif5.0 | grep -q ",UP" && ip -n "$SW" link show fwd0 | grep -q ",UP"'
check "... with COLO_PROXY_ARGS set (xl-colo), the proxy's ports written there, one a line" eval '
    COLO_PROXY_ARGS=$WORK/args sw "$SETUP" setup mode=primary $I 2> /dev/null &&
    [ "$(tr "\n" " " < "$WORK/args")" = "--client vif5.0-xc --pvm vif5.0 --svm fwd0 --no-rewrite " ]'
check "setup in-line twice: the same" \
    eval 'sw "$SETUP" setup mode=primary $I && [ "$(ovs-vsctl list-ports br0 | grep -c -- -x)" = 1 ] && ! on_br vif5.0'
check "failover (primary, in-line): the vif back on the bridge in vif5.0-xc's place, recorded" eval '
    sw "$SETUP" failover bridge=br0 vifname=vif5.0 && on_br vif5.0 && ! on_br vif5.0-xc &&
    [ "$(rec vif5.0 colo-state)/$(rec vif5.0 colo-layout)" = failed-over/inline ] && [ "$(cookie_flows)" = 0 ]'
check "failover again is harmless" sw "$SETUP" failover bridge=br0 vifname=vif5.0
check "teardown after failover: the vif an ordinary port, no record; the forward link stays off" eval '
    sw "$SETUP" teardown bridge=br0 vifname=vif5.0 && on_br vif5.0 && ! on_br fwd0 &&
    [ -z "$(rec vif5.0 colo-role)$(rec vif5.0 colo-layout)" ] && ! no_flood vif5.0'
check "in-line in a VLAN: vif5.0-xc an access port of VLAN 10" eval '
    sw "$VIF" online vif=vif5.0 bridge=br0.10 &&
    sw "$SETUP" setup mode=primary $I bridge=br0.10 && [ "$(ovs-vsctl get Port vif5.0-xc tag)" = 10 ]'
check "... teardown puts the vif back in VLAN 10" eval '
    sw "$SETUP" teardown bridge=br0 vifname=vif5.0 && [ "$(ovs-vsctl get Port vif5.0 tag)" = 10 ] && ! on_br vif5.0-xc'
ovs-vsctl clear Port vif5.0 tag
check "setup mode=secondary layout=inline: vif5.0-xf on the bridge, not flooded; the vif off it" eval '
    sw "$SETUP" setup mode=secondary $I && on_br vif5.0-xf && no_flood vif5.0-xf && ! on_br vif5.0 &&
    [ "$(rec vif5.0-xf colo-role)" = secondary ]'
check "... its proxy's ports: the rewriter between the forward link and the vif, vif5.0-xf its uplink" eval '
    COLO_PROXY_ARGS=$WORK/args sw "$SETUP" setup mode=secondary $I 2> /dev/null &&
    [ "$(tr "\n" " " < "$WORK/args")" = "--forward fwd0 --svm vif5.0 --uplink vif5.0-xf " ]'
check "failover (secondary, in-line): vif5.0-xf flooded, recorded; the vif stays the rewriter's" eval '
    sw "$SETUP" failover bridge=br0 vifname=vif5.0 && ! no_flood vif5.0-xf && ! on_br vif5.0 &&
    [ "$(rec vif5.0-xf colo-state)" = failed-over ]'
check "vif-colo-ovs offline, no bridge given, finds the in-line setup and undoes it" eval '
    sw "$VIF" offline vif=vif5.0 && ! on_br vif5.0-xf && ! on_br vif5.0 && sw "$VIF" online vif=vif5.0 bridge=br0'
check "from in-line to the flows layout: setup mode=primary (flows) again" eval '
    sw "$SETUP" setup mode=primary $I && sw "$SETUP" setup mode=primary ${I% layout=inline} &&
    [ "$(cookie_flows)/$(ovs-vsctl list-ports br0 | grep -c -- "^vif5.0-x[cps]$")" = 7/3 ] && on_br vif5.0 && on_br fwd0'
check "... and back: the flows and the flows ports go" eval '
    sw "$SETUP" setup mode=primary $I && [ "$(cookie_flows)/$(ovs-vsctl list-ports br0 | grep -c -- -x)" = 0/1 ] &&
    ! on_br vif5.0 && ! on_br fwd0'
sw "$SETUP" teardown bridge=br0 vifname=vif5.0
ovs-vsctl add-port br0 fwd0
ovs-ofctl mod-port br0 fwd0 no-flood

# 2. Bad input: exit status 1, the culprit named, nothing changed.
ports_before=$(ovs-vsctl list-ports br0)
refused() {     # refused NAME PATTERN COMMAND...
    local name=$1 pat=$2 rc; shift 2
    "$@" > /dev/null 2> "$WORK/bad.err"; rc=$?
    check "refused: $name ($(tail -1 "$WORK/bad.err" | cut -c1-90))" \
        eval '[ $rc = 1 ] && grep -q -- "$pat" "$WORK/bad.err"'
}
P="mode=primary bridge=br0 vifname=vif5.0 forwarddev=fwd0"
refused "no command" "no command" sw "$SETUP"
refused "unknown command" "unknown command 'frobnicate'" sw "$SETUP" frobnicate
refused "no mode" "mode (primary or secondary) is not given" sw "$SETUP" setup bridge=br0 vifname=vif5.0 forwarddev=fwd0 mac=$MAC
refused "unknown mode" "mode 'tertiary' is neither" sw "$SETUP" setup $P mode=tertiary mac=$MAC
refused "missing bridge" "bridge 'nosuch' does not exist" sw "$SETUP" setup $P bridge=nosuch mac=$MAC
refused "unknown vif" "vif 'vif9.9' is not a port" sw "$SETUP" setup $P vifname=vif9.9 mac=$MAC
refused "vif on another bridge" "is a port of bridge 'br1', not of 'br0'" \
    eval 'ovs-vsctl add-br br1 -- set bridge br1 datapath_type=netdev -- add-port br1 vif7 -- set Interface vif7 type=internal; sw "$SETUP" setup $P vifname=vif7 mac=$MAC'
refused "no MAC" "mac (the VM's MAC address) is not given" sw "$SETUP" setup $P
refused "bad MAC" "mac 'zz:1' is not a MAC address" sw "$SETUP" setup $P mac=zz:1
refused "multicast MAC" "multicast" sw "$SETUP" setup $P mac=01:00:5e:00:00:01
refused "missing forward link" "forwarddev 'nosuchdev': no such port or interface" sw "$SETUP" setup $P forwarddev=nosuchdev mac=$MAC
refused "vif name too long for the proxy ports" "longer than 15" sw "$SETUP" setup $P vifname=abcdefghijklm mac=$MAC
refused "a VLAN the vif is not in" "is untagged on 'br0', not in VLAN 10" sw "$SETUP" setup $P bridge=br0.10 mac=$MAC
refused "a trunk vif (bridge=NAME:VLAN:VLAN)" "trunk vifs" sw "$SETUP" setup $P bridge=br0:10:20 mac=$MAC
refused "VLAN out of range" "not between 1 and 4094" sw "$SETUP" setup $P bridge=br0.4095 mac=$MAC
refused "malformed bridge" "is not NAME, NAME.VLAN" sw "$SETUP" setup $P bridge=br0.ten mac=$MAC
refused "a vif that is a trunk port" "is a trunk port" \
    eval '(ovs-vsctl set Port vif5.0 trunks=10,20; sw "$SETUP" setup $P mac=$MAC; rc=$?; ovs-vsctl clear Port vif5.0 trunks; exit $rc)'
refused "failover of an unprotected vif" "was not set up for COLO" sw "$SETUP" failover bridge=br0 vifname=vif5.0
refused "unknown layout" "layout 'sideways' is neither flows nor inline" sw "$SETUP" setup $P mac=$MAC layout=sideways
refused "in-line with a patch port as the forward link" "Open vSwitch patch port" \
    eval '(ovs-vsctl add-port br0 pp0 -- set Interface pp0 type=patch options:peer=pp1; sw "$SETUP" setup $P forwarddev=pp0 mac=$MAC layout=inline; rc=$?; ovs-vsctl del-port pp0; exit $rc)'
refused "in-line with an internal port as the vif" "Open vSwitch internal port" \
    eval '(ovs-vsctl add-port br0 vif8 -- set Interface vif8 type=internal; sw "$SETUP" setup $P vifname=vif8 mac=$MAC layout=inline; rc=$?; ovs-vsctl del-port vif8; exit $rc)'
refused "in-line: a vif that is no device" "vif 'vif9.9': no such network device" sw "$SETUP" setup $P vifname=vif9.9 mac=$MAC layout=inline
refused "unknown NAME=VALUE" "unknown parameter 'PATH'" sw "$SETUP" setup PATH=/tmp $P mac=$MAC
mkdir -p "$WORK/bin"
for t in dirname ip cksum cut tr cat; do ln -s "$(command -v $t)" "$WORK/bin/$t"; done
refused "no ovs-vsctl on PATH" "ovs-vsctl not found" eval 'PATH=$WORK/bin sw "$SETUP" setup $P mac=$MAC'
refused "Open vSwitch not running" "cannot reach Open vSwitch" \
    eval 'OVS_RUNDIR=$WORK/none COLO_OVS_TIMEOUT=2 sw "$SETUP" setup $P mac=$MAC'
refused "vif script: no bridge" "bridge is not given" sw "$VIF" online vif=vif5.0
refused "vif script: no such vif" "vif 'vifX': no such interface" sw "$VIF" online vif=vifX bridge=br0
refused "vif script: unknown interface type" "unknown interface type 'wifi'" sw "$VIF" online vif=vif5.0 type_if=wifi
ovs-vsctl del-br br1
check "nothing was changed by the refused calls" test "$(ovs-vsctl list-ports br0)" = "$ports_before" -a "$(cookie_flows)" = 0

# 3. Under Xen: parameters from xenstore, results into it.
XS=$WORK/xs
mkdir -p "$WORK/xsbin" "$XS"
cat > "$WORK/xsbin/xenstore-read" << EOF
#!/bin/sh
[ -f "$XS\$1" ] && cat "$XS\$1"
EOF
cat > "$WORK/xsbin/xenstore-write" << EOF
#!/bin/sh
while [ \$# -ge 2 ]; do mkdir -p "\$(dirname "$XS\$1")"; printf '%s' "\$2" > "$XS\$1"; shift 2; done
EOF
chmod +x "$WORK/xsbin"/*
BE=/local/domain/0/backend/vif/5/0
xs_put() { mkdir -p "$XS$BE"; printf '%s' "$2" > "$XS$BE/$1"; }
xs_get() { cat "$XS$BE/$1" 2> /dev/null; }
xs_put bridge br0; xs_put mac $MAC; xs_put forwarddev fwd0
xen() { sw env PATH="$WORK/xsbin:$PATH" XENBUS_PATH=$BE "$@"; }
ovs-vsctl del-port vif5.0
check "xen: vif-colo-ovs online takes the bridge from xenstore" xen vif=vif5.0 "$VIF" online
check "... and reports hotplug-status connected" test "$(xs_get hotplug-status)" = connected -a "$(ovs-vsctl port-to-br vif5.0)" = br0
rm -f "$XS$BE/hotplug-status"
check "xen: colo-ovs-setup setup (libxl's environment) takes bridge, mac, forwarddev from xenstore" \
    xen mode=secondary vifname=vif5.0 index=0 "$SETUP" setup
check "... sets up the secondary's rewriter ports and six flows" \
    test "$(ovs-vsctl list-ports br0 | grep -c -- '^vif5.0-x[fv]$')/$(cookie_flows)" = 2/6
check "... and reports hotplug-status connected" test "$(xs_get hotplug-status)" = connected
xs_put bridge nosuch
xen mode=secondary vifname=vif5.0 "$SETUP" setup 2> /dev/null
check "xen: a failure is reported as hotplug-status error with the reason in hotplug-error ($(xs_get hotplug-error))" \
    eval '[ "$(xs_get hotplug-status)" = error ] && grep -q "bridge .nosuch. does not exist" <<< "$(xs_get hotplug-error)"'
xs_put bridge br0
check "xen: vif-colo-ovs offline unplugs the vif and undoes its COLO setup" xen vif=vif5.0 "$VIF" offline
check "... no port, no flow left" test "$(ovs-vsctl list-ports br0 | grep -c vif5.0)/$(cookie_flows)" = 0/0
