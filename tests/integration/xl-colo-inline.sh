# xl-colo-net.sh with xl-colo's default layout, in-line: the hotplug
# script builds the in-line layout on both hosts (ovs-lib.bash,
# OVS_LAYOUT=inline; the VMs on veths, the forward link a veth pair) and
# writes down the proxies' ports, which xl-colo starts the proxies with.
OVS_LAYOUT=inline exec bash "$(dirname "$0")/xl-colo-net.sh"
