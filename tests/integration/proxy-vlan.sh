# A COLO vif in a VLAN (bridge=NAME.VLAN: an access port): the layout of
# proxy-ovs.sh with the VMs in VLAN 10, the hosts' uplinks trunks, the
# client in VLAN 10 on the LAN bridge (its frames cross the uplink tagged),
# a neighbour in VLAN 10 on the primary host's own bridge (untagged in the
# OpenFlow pipeline: only NORMAL knows its VLAN), and two outsiders in VLAN
# 20 with addresses in the VM's subnet, one on the primary host's bridge
# (an access port: its frames too are untagged in the pipeline) and one on
# the LAN.  The hotplug scripts protect both
# vifs with bridge=brp.10 / brs.10; real kernels, real proxies.  The checks:
# both VLAN-10 hosts are answered through the comparator and the SVM gets
# their frames; the outsider never reaches the VM, before or after
# failover; primary failover and secondary failover keep the VM in VLAN 10.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
NL=$COLO_BUILDDIR/tests/integration/colo-netload
OVS_HOSTS=1
. "$(dirname "$0")/ovs-lib.bash"
NB=colo-b$id NX=colo-x$id NY=colo-y$id      # the neighbour and the outsiders
NB_IP=10.77.0.7 NX_IP=10.77.0.20 NY_IP=10.77.0.21
OVS_CLIENTS="$NC $NB"                       # their sockets reset at each step too
trap 'for n in $NB $NX $NY; do ip netns del "$n" 2> /dev/null; done; ovs_cleanup; cleanup' EXIT

ovs_begin "the layout is set up: LAN, primary and secondary bridges, vifs plugged"
check "the client and both vifs are in VLAN 10; a neighbour (VLAN 10, primary host), outsiders (VLAN 20, primary host and LAN)" eval '
    ovs-vsctl set Port client tag=10 -- set Port vif1.0 tag=10 -- set Port vif2.0 tag=10 &&
    ovs_vm "$NB" brp nb0 "$NB_IP" "" 1500 && ovs-vsctl set Port nb0 tag=10 &&
    ovs_vm "$NX" brp nx0 "$NX_IP" "" 1500 && ovs-vsctl set Port nx0 tag=20 &&
    ovs_vm "$NY" brn ny0 "$NY_IP" "" 1500 && ovs-vsctl set Port ny0 tag=20'
# The VMs know the neighbour's MAC for good, as they know the client's
# (ovs_layout says why).
nmac=$(ip -n "$NB" -br link show nb0 | awk '{ print $3 }')
ip -n "$NP" neigh replace "$NB_IP" lladdr "$nmac" nud permanent dev vif1.0
ip -n "$NS" neigh replace "$NB_IP" lladdr "$nmac" nud permanent dev vif2.0

in_ns() { local n=$1; shift; ip netns exec "$n" timeout 100 "$@"; }
setup() {       # setup HOST-BRIDGE MODE VIF FWD
    ovs_on "$1" "$HOTPLUG/colo-ovs-setup" setup "mode=$2" "bridge=$1.10" "vifname=$3" "forwarddev=$4" "mac=$VM_MAC"
}
check "the hotplug script protects vif1.0 on brp.10" setup brp primary vif1.0 p-fwd
check "... and vif2.0 on brs.10" setup brs secondary vif2.0 s-fwd
check "... the primary's patch pair: vif1.0-xa in VLAN 10, vif1.0-xb its peer" \
    test "$(ovs-vsctl get Port vif1.0-xa tag)/$(ovs-vsctl get Interface vif1.0-xb options:peer)" = '10/vif1.0-xa'
check "... the setup is recorded with its VLAN" test "$(ovs-vsctl get Interface vif1.0 external-ids:colo-vlan)" = '"10"'

# An outsider sends to the VM's address in VLAN 20 (a UDP datagram: its
# kernel asks for the address by ARP first): nobody may answer.  The
# neighbour's request shows that the probe works.
arp_probe() {   # arp_probe NS: true if the VM's address was resolved
    local i
    ip -n "$1" neigh flush all
    for i in 1 2 3 4 5 6; do
        ip netns exec "$1" timeout 2 bash -c "echo probe > /dev/udp/$VM_IP/9" 2> /dev/null
        sleep 0.25
        ip -n "$1" neigh show "$VM_IP" | grep -q lladdr && return 0
    done
    return 1
}
shut_out() { ! arp_probe "$1"; }    # shut_out NS
# An outsider's ARP request would leave its address in the VM's neighbour
# table (Linux notes the sender of a request for its own address).
seen_outsiders() { ip -n "$1" neigh show | grep -q -E "^($NX_IP|$NY_IP) "; }

# 1. Both VLAN-10 hosts answered through the comparator, nothing diverges,
#    the SVM serves the same connections (the rewriter translates them).
ovs_servers 8090
ovs_proxies v1 --svm-lag 2000
out=$(in_ns "$NC" "$NL" requests $VM_IP 8090 100 20 20 60)
check "the client (VLAN 10, across the trunk uplink) is answered through the comparator ($out)" \
    grep -q "^ok 2000 " <<< "$out"
out=$(in_ns "$NB" "$NL" requests $VM_IP 8090 50 20 10 60)
check "the neighbour (VLAN 10, an access port of the primary's bridge) is answered ($out)" \
    grep -q "^ok 1000 " <<< "$out"
check "the neighbour in VLAN 10 resolves the VM's address by ARP" arp_probe "$NB"
check "the outsiders in VLAN 20 get no answer from the VM's address" eval 'shut_out "$NX" && shut_out "$NY"'
check "... their ARP requests reached neither the PVM nor the SVM" eval '! seen_outsiders "$NP" && ! seen_outsiders "$NS"'
sleep 0.5
ovs_stop_proxies
check "no false divergence, no checkpoint asked for" \
    eval 'grep -q "\"divergences\":0" "$WORK/v1.out" && grep -q "\"checkpoints\":0," "$WORK/v1.out"'
rel=$(json_num "$WORK/v1.out" released) tr=$(json_num "$WORK/v1.sec.out" translated)
check "the comparator released the PVM's output ($rel frames) and the SVM served the same 150 connections ($tr translated)" \
    test "${rel:-0}" -gt 3000 -a "${tr:-0}" -ge 140

# 2. The secondary lost: the PVM talks to VLAN 10 directly.
ovs_servers 8091
check "primary failover in a VLAN" sw "$HOTPLUG/colo-ovs-setup" failover bridge=brp.10 vifname=vif1.0
out=$(in_ns "$NC" "$NL" requests $VM_IP 8091 10 10 5 30)
check "... the client is answered by the PVM, no proxy running ($out)" grep -q "^ok 100 " <<< "$out"
out=$(in_ns "$NB" "$NL" requests $VM_IP 8091 10 10 5 30)
check "... and the neighbour ($out)" grep -q "^ok 100 " <<< "$out"
check "... the outsiders still not" eval 'shut_out "$NX" && shut_out "$NY" && ! seen_outsiders "$NP"'
sw "$HOTPLUG/colo-ovs-setup" teardown bridge=brp.10 vifname=vif1.0
check "teardown removes the patch pair and the proxy ports" \
    eval '! ovs-vsctl list-ports brp | grep -q -- "vif1.0-x"'
check "the vif can be protected again" setup brp primary vif1.0 p-fwd

# 3. The primary host dies: the secondary fails over; a connection opened
#    before carries on with the SVM in VLAN 10, new ones too.
ovs_servers 8092
ovs_proxies v3 --svm-lag 2000
ovs_keep_open 8092
ovs-vsctl del-port brn n-p -- del-port brp nb0          # the primary host is gone
ovs_stop_pid "$PRI"
ovs_secondary_failover "$WORK/v3.sctl" brs.10 "in a VLAN"
fdb=$(ovs-appctl fdb/show brn | awk -v m=$VM_MAC '$2 == 10 && $3 == m { print $1 }')
check "the announce taught the LAN, in VLAN 10, that the VM is behind the secondary (port $fdb)" \
    test -n "$fdb" -a "$fdb" = "$(ovs-vsctl get Interface n-s ofport)"
ovs_keep_check
out=$(in_ns "$NC" "$NL" requests $VM_IP 8092 20 10 10 30)
check "new connections are answered by the SVM in VLAN 10 ($out)" grep -q "^ok 200 " <<< "$out"
ip -n "$NY" neigh flush all
check "the outsider on the LAN in VLAN 20 still gets no answer" shut_out "$NY"
check "... nor did its ARP requests reach the SVM" eval '! seen_outsiders "$NS"'
ovs_stop_pid "$SEC"
check "the rewriter went on translating after failover" grep -q '"failed_over":true' "$WORK/v3.sec.out"
check "no sanitizer report from any proxy" \
    test -z "$(grep -l -E 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' "$WORK"/v*.err)"
echo "proxy-vlan.sh: ${SECONDS}s"
