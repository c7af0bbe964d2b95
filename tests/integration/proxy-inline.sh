# proxy-ovs.sh with the proxies in-line (ovs-lib.bash, OVS_LAYOUT=inline:
# the hotplug script's layout=inline): the PVM's vif and the forward link
# are the primary proxy's own, which passes the client's frames to both
# VMs untranslated (--no-rewrite); the secondary's rewriter joins the
# forward link and the SVM's vif, and after failover its uplink and the
# SVM's vif.  Two OVS instances, since a forward link must be a device.
OVS_HOSTS=2 OVS_LAYOUT=inline exec bash "$(dirname "$0")/proxy-ovs.sh"
