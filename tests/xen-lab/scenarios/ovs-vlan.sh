# ovs-vlan: the ovs scenario with the guest's vif in VLAN 10
# (bridge=brp.10, an access port): docs/networking.md, "A vif in a VLAN".
# Both engines run on libxenguest's own COLO loops (xl-colo remus --save
# libxenguest, migrate-receive --restore libxenguest), so xl-colo's --save
# and --restore are run here; ovs keeps the defaults.
# Not in scenarios.list: tests/xen-lab/run-lab BUILDDIR ovs ovs-vlan
OVS_SCENARIO=ovs-vlan OVS_VLAN=10 OVS_SAVE=libxenguest OVS_RESTORE=libxenguest
. /lab/scenarios/ovs.sh
