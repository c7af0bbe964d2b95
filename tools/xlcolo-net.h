/*
 * xlcolo-net.h - a protected domain's network: for each vif, the COLO proxy
 * script (libxl's interface: setup, teardown, and our failover) and one
 * colo-proxy - the comparator on the primary, the rewriter on the
 * secondary.
 *
 * When things happen, and why then (docs/xl-colo.md, "The network"):
 *   primary    script setup before the engine starts (from then on the
 *              PVM's output reaches clients only through the comparator),
 *              the comparator once the engine's control socket exists;
 *              teardown when xl-colo remus ends
 *   secondary  script setup and the rewriter from the engine's --on-svm
 *              command at svm-created (the SVM exists and has never run),
 *              teardown at svm-destroyed
 *   both       the engine's --on-failover command: the rewriter told first
 *              (secondary), then script failover
 * The engines' commands run `xl-colo colo-net ACTION ROLE NAME`, which
 * finds what to do in RUNDIR/NAME.net, written by xl-colo before the
 * engine starts:
 *   role ROLE
 *   script PATH
 *   layout flows|inline                      (where the proxies sit)
 *   domid N                                  (once known)
 *   vif INDEX BRIDGE FORWARDDEV MAC VIFNAME pv|emu
 *                         (VIFNAME "-": libxl's name; emu: the emulated NIC)
 * and per vif RUNDIR/NAME.vifI.pid and .ctl (the proxy's pid and control
 * socket), .args (the proxy's port arguments, one a line, which the script
 * writes at setup to the file COLO_PROXY_ARGS names - it knows the devices'
 * names on this host; a script that writes none gets the project's names
 * for the layout) and LOGDIR/colo-NAME-ROLE-vifI.log (the proxy's log).
 *
 * In-line (docs/networking.md) the proxy owns the vif: at failover the
 * primary's comparator is told FAILOVER and stopped before the script puts
 * the vif back on the bridge, and at teardown the proxies stop first.  Its
 * proxies read through a TPACKET_V2 ring and batch their sends (--ring v2
 * --tx-batch: docs/performance.md), unless COLO_PROXY_RING or
 * COLO_PROXY_TXBATCH in xl-colo's environment - which the proxies inherit -
 * choose otherwise.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_NET_H
#define XLCOLO_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "xlcolo-cfg.h"

/* Where the proxies sit unless --net-layout says (docs/networking.md: the
 * in-line layout carries twice the traffic of the flows layout). */
#define XLC_NET_LAYOUT_DEFAULT "inline"

struct xlc_net {
    char name[XLC_NAME_MAX];
    char role[16];                  /* primary | secondary */
    char script[1024];
    char layout[8];                 /* flows | inline */
    long domid;                     /* -1: not known yet */
    const char *backend;            /* xen | sim */
    int nvif;
    struct xlc_vif vif[XLC_VIFS_MAX];
};

/*
 * n for domain name in role, from what its xl.cfg says: the vifs that have
 * a forwarddev= (one without passed the sending side's checks only with -F;
 * it is not wired, with a warning).  script may be NULL (none yet); layout
 * NULL is XLC_NET_LAYOUT_DEFAULT.  Returns how many vifs are to be wired.
 */
int xlc_net_init(struct xlc_net *n, const char *name, const char *role, const char *script,
                 const char *layout, const char *backend, long domid,
                 const struct xlc_cfg_info *info);

/* The niceness the proxies are started at (-10, or COLO_PROXY_NICE; the
 * reason in xlcolo-net.c) into *out: NULL, or what is wrong with the
 * variable, for the caller to report (a static string). */
const char *xlc_net_proxy_nice(int *out);

/* The script xl-colo runs when -N does not name one. */
const char *xlc_net_default_script(void);

/* A script path xl-colo will pass on and run: shorter than the plan's
 * field, and only characters that need no quoting in the receiving side's
 * command (which goes through ssh's shell).  0, or -1 logged. */
int xlc_net_check_script(const char *path);

/* RUNDIR/NAME.net: write (0600), read (the role must match), remove.
 * 0 or -1 logged. */
int  xlc_net_plan_write(const struct xlc_net *n);
int  xlc_net_plan_read(const char *name, const char *role, const char *backend, struct xlc_net *n);
void xlc_net_plan_remove(const char *name);

/*
 * The host interface that carries vif i of the domain: xen, an HVM guest's
 * emulated NIC: VIFNAME-emu, or vifDOMID.INDEX-emu (libxl's names), or
 * without the -emu for type=vif (no emulated NIC); sim: VIFNAME or
 * vifDOMID.INDEX.  -1 (logged) if the domid is not known.
 */
int  xlc_net_ifname(const struct xlc_net *n, int i, char *out, size_t cap);

/* Script setup for every vif (and, with proxies, its colo-proxy); on a
 * failure what was done is undone.  0 or -1 logged. */
int  xlc_net_setup(const struct xlc_net *n, bool proxies);
/* The colo-proxy of every vif (after setup). */
int  xlc_net_start_proxies(const struct xlc_net *n);
/* This side carries the VM on alone.  0 or -1 logged. */
int  xlc_net_failover(const struct xlc_net *n);
/* Proxies stopped, script teardown for every vif (best effort, logged). */
void xlc_net_teardown(const struct xlc_net *n);

/*
 * One wiring action at a time on this host (the run directory locked): a
 * failover command the engine left running must not interleave with the
 * teardown xl-colo does as it ends.  The lock's fd, or -1 (logged, and the
 * action goes on unlocked).
 */
int  xlc_net_lock(void);
void xlc_net_unlock(int fd);

/* The engine command for ACTION (malloc'd; NULL on ENOMEM):
 *   'PATH-OF-XL-COLO' colo-net ACTION ROLE NAME */
char *xlc_net_command(const char *action, const char *role, const char *name);

#endif
