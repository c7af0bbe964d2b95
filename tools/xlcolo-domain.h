/*
 * xlcolo-domain.h - the domain xl-colo is asked to protect, looked up the
 * way xl looks one up (a name or a domid), and the little xl-colo itself
 * does to domains: refuse the wrong kind, remove a leftover SVM.
 *
 * Backend "xen" asks libxl.  Backend "sim" (XL_COLO_BACKEND=sim, for tests
 * on machines without Xen) knows the domains listed in XL_COLO_SIM_DOMAINS,
 * "NAME[:TYPE] ..." with TYPE hvm (default), pv or pvh; the Nth has domid N.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_DOMAIN_H
#define XLCOLO_DOMAIN_H

#include <stdint.h>

#include "xlcolo-opts.h"

enum xlc_guest { XLC_GUEST_HVM, XLC_GUEST_PV, XLC_GUEST_PVH, XLC_GUEST_UNKNOWN };

struct xlc_domain {
    char name[XLC_NAME_MAX];
    uint32_t domid;
    enum xlc_guest type;
};

const char *xlc_guest_name(enum xlc_guest t);

/* Find DOMAIN (a name or a domid).  0, or -1 logged ("no domain ...",
 * "cannot talk to Xen ..."). */
int xlc_domain_find(const char *backend, const char *spec, struct xlc_domain *out);

/*
 * Does a domain with this name exist?  1 yes, 0 no, -1 cannot tell
 * (logged).  Sim: never (its SVMs live inside the engine).
 */
int xlc_domain_exists(const char *backend, const char *name);

/* Destroy the domain with this name if there is one (a leftover SVM). */
void xlc_domain_destroy_name(const char *backend, const char *name);

#endif
