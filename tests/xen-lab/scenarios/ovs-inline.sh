# ovs-inline: the ovs scenario with xl-colo remus --net-layout inline
# (docs/networking.md, "The in-line layout"): the comparator owns the PVM's
# tap, the rewriter the SVM's, which every qemu-xen restart replaces.
# Not in scenarios.list: tests/xen-lab/run-lab BUILDDIR ovs-inline
OVS_SCENARIO=ovs-inline OVS_LAYOUT=inline
. /lab/scenarios/ovs.sh
