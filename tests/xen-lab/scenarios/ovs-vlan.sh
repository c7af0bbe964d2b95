# ovs-vlan: the ovs scenario with the guest's vif in VLAN 10
# (bridge=brp.10, an access port): docs/networking.md, "A vif in a VLAN".
# The primary runs on libxenguest's own COLO loop (xl-colo remus --save
# libxenguest), so xl-colo's --save is run here; ovs keeps the default.
# Not in scenarios.list: tests/xen-lab/run-lab BUILDDIR ovs ovs-vlan
OVS_SCENARIO=ovs-vlan OVS_VLAN=10 OVS_SAVE=libxenguest
. /lab/scenarios/ovs.sh
