# proxy-ovs.sh's steps 1-4 with the proxies in-line (ovs-lib.bash,
# OVS_LAYOUT=inline): the PVM's vif and the forward link are the primary
# proxy's own, which passes the client's frames to both VMs untranslated
# (--no-rewrite); the secondary's rewriter joins the forward link and the
# SVM's vif.  Two OVS instances, since a forward link must be a device.
OVS_HOSTS=2 OVS_LAYOUT=inline exec bash "$(dirname "$0")/proxy-ovs.sh"
