/*
 * xlcolo-cfg.h - is this xl.cfg fit for COLO?  Read with libxlutil
 * (xlu_cfg_* for the file, xlu_disk_parse for each disk), no hypervisor
 * needed.
 *
 * Checked, each error naming the domain and the key:
 *   name      present and equal to the domain being protected
 *   type      "hvm" (or builder="hvm"): COLO needs an HVM guest
 *   disk      every DISKSPEC parses; a disk with 'colo' has colo-host,
 *             colo-port (1-65535), colo-export, active-disk and hidden-disk
 *             (absolute paths, distinct, neither the disk's own target);
 *             COLO keys without 'colo' (or with 'no-colo') are a
 *             contradiction; 'colo' needs backendtype=qdisk if a backend
 *             is named; no two disks share a colo-export, active-disk or
 *             hidden-disk; a writable disk without 'colo' would let the
 *             SVM's disk drift from the PVM's: refused (a warning with -F)
 *   vif       mac= (PVM and SVM must share it); forwarddev= a plausible
 *             interface name, not the vif's bridge; required on every vif
 *             unless the userspace proxy is used (-p) (a warning with -F);
 *             bridge= and vifname= interface names; at most XLC_VIFS_MAX
 *   the rest  whatever the SVM builder (libxl-colo/xen/xen-xlcfg.c) needs,
 *             by running it
 *
 * The receiving side re-checks the structure (it must not trust what
 * arrives on its pipe) but not the policy (writable disks, forwarddev),
 * which is the sending side's call: policy = false.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_CFG_H
#define XLCOLO_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "xlcolo-opts.h"

#define XLC_CFG_MAX (1u << 20)      /* an xl.cfg larger than this is not one */

struct xlc_cfg_policy {
    bool policy;            /* check writable disks and forwarddev */
    bool unsafe;            /* -F: policy problems are warnings */
    bool userspace_proxy;   /* -p: vifs need no forwarddev */
};

#define XLC_VIFS_MAX 8              /* vifs of one COLO domain */
#define XLC_IFNAME_MAX 16           /* IFNAMSIZ, with the NUL */
#define XLC_BRIDGE_MAX 21           /* an interface name, ".4094", the NUL */

/* A vif as the xl.cfg describes it; what xl-colo wires for it. */
struct xlc_vif {
    int index;                      /* its place in the list: libxl's devid */
    char mac[18];
    char bridge[XLC_BRIDGE_MAX];    /* NAME or NAME.VLAN; xl's default: xenbr0 */
    char forwarddev[XLC_IFNAME_MAX];/* empty if none (-p) */
    char vifname[XLC_IFNAME_MAX];   /* empty: libxl names it vifDOMID.INDEX */
    bool pv;                        /* type=vif: no emulated NIC, the PV vif carries it */
};

struct xlc_cfg_info {
    char name[XLC_NAME_MAX];
    long memory_mib;
    int disks, colo_disks;
    int vifs;
    struct xlc_vif vif[XLC_VIFS_MAX];
};

/*
 * Check xl.cfg text for domain `domain`; label names the file in messages.
 * Returns 0, or -1 with the first problem in err.  Warnings (and libxlutil's
 * and the SVM builder's own messages) go to stderr through colo_log.
 */
int xlc_cfg_check(const char *data, size_t len, const char *label, const char *domain,
                  const struct xlc_cfg_policy *p, struct xlc_cfg_info *info,
                  char *err, size_t errlen);

/* Read a whole xl.cfg (at most XLC_CFG_MAX bytes) into a malloc'd buffer,
 * NUL-terminated; -1 with err. */
int xlc_cfg_read(const char *path, char **data, size_t *len, char *err, size_t errlen);

#endif
