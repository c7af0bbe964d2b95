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
 * An Open vSwitch bridge keeps the port in its database by name; its
 * kernel datapath shows as master "ovs-system", which cannot be joined
 * with the bridge ioctl, so such a tap is only brought up again, and
 * re-attaching it is left to ovs-vswitchd (not tested here).
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

/* Note each tap's bridge and up state (before its qemu quits).  0, or -1 logged. */
int colo_xen_taps_remember(struct colo_xen_tap *taps, size_t n);

/*
 * Put each tap that remember saw back into its Linux bridge, and up if it
 * was (after the new qemu created them).  0, or -1 logged: a tap missing,
 * a bridge gone, an ioctl refused.
 */
int colo_xen_taps_replug(const struct colo_xen_tap *taps, size_t n);

#endif
