/*
 * xen-tap.h - an SVM's emulated NICs across restarts of its qemu-xen.
 *
 * For a vif with an emulated model libxl starts qemu-xen with
 * "-netdev type=tap,id=netN,ifname=vifD.N-emu,script=no,...": qemu opens
 * the tap itself and libxl's vif hotplug script then plugs it into the
 * vif's bridge and brings it up.  When qemu-state=restart makes the old
 * qemu quit (xen-dm.c), its tap goes with it; the new qemu creates one of
 * the same name, unplugged and down, and no hotplug script runs for it.
 * So the backend notes where each tap was before the old qemu quits and
 * puts the new one back: into the same Linux bridge, and up if it was.
 *
 * An Open vSwitch bridge keeps the port in its database by name, but
 * ovs-vswitchd does not always open the new tap: its userspace datapath
 * keeps reading the old one's (dead) socket, and nothing reopens it.  The
 * COLO flows name the port by its OpenFlow number, so that number must
 * also stay the same.  So for a tap that was an Open vSwitch port (its
 * master is "ovs-system" - the kernel datapath - or none, and
 * "ovs-vsctl port-to-br" finds it) the backend notes its number N and,
 * after the restart, makes ovs-vswitchd re-add the port with
 * ofport_request set to another number and then to N: two database
 * changes, each of which makes it close and reopen the port, and the row
 * with every other setting (external_ids, VLAN tag, mirrors) stays as it
 * was.  The number is then checked; ofport_request=N stays set.
 *
 * No Xen library is needed: tests/integration/xen-tap.sh checks this in
 * a network namespace on any Linux machine.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_TAP_H
#define COLO_XEN_TAP_H

#include <stdbool.h>
#include <stddef.h>

#define COLO_XEN_IFNAMSIZ 16      /* IFNAMSIZ, without pulling in <net/if.h> */
#define COLO_XEN_MAX_TAPS 32

struct colo_xen_tap {
    char ifname[COLO_XEN_IFNAMSIZ];
    char master[COLO_XEN_IFNAMSIZ];   /* "" if it was in no bridge */
    char ovs_bridge[COLO_XEN_IFNAMSIZ]; /* its Open vSwitch bridge, "" if none */
    long ofport;                      /* its OpenFlow port number there */
    bool up;
    bool seen;                        /* remember found the interface */
};

/*
 * The tap interfaces of a qemu command line (argv, NULL-terminated): the
 * ifname of each "-netdev" whose type is tap ("type=tap,..." or
 * "tap,...").  Fills at most max entries; returns how many there are, or
 * -1 with *why for an ifname that is empty or too long.
 */
int colo_xen_taps_in_argv(char *const *argv, struct colo_xen_tap *taps, size_t max,
                          const char **why);

/* Note each tap's bridge (Linux or Open vSwitch, with its port number) and
 * up state, before its qemu quits.  0, or -1 logged. */
int colo_xen_taps_remember(struct colo_xen_tap *taps, size_t n);

/*
 * Put each tap that remember saw back into its Linux bridge, or make Open
 * vSwitch re-add it under its old port number, and bring it up if it was
 * (after the new qemu created them).  0, or -1 logged: a tap missing, a
 * bridge gone, an ioctl or ovs-vsctl refused, a port number not kept.
 */
int colo_xen_taps_replug(const struct colo_xen_tap *taps, size_t n);

#endif
