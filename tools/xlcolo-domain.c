/*
 * xlcolo-domain.c - see xlcolo-domain.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-log.h"
#include "xlcolo-domain.h"

const char *xlc_guest_name(enum xlc_guest t)
{
    switch (t) {
    case XLC_GUEST_HVM: return "HVM";
    case XLC_GUEST_PV: return "PV";
    case XLC_GUEST_PVH: return "PVH";
    default: return "unknown";
    }
}

/* A domid as xl takes one: all digits. */
static bool parse_domid(const char *s, uint32_t *out)
{
    unsigned long v = 0;

    if (!*s || strlen(s) > 5)
        return false;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    *out = (uint32_t)v;
    return true;
}

/* --- sim: a list in the environment --- */

static int sim_find(const char *spec, struct xlc_domain *out)
{
    const char *list = getenv("XL_COLO_SIM_DOMAINS");
    char buf[4096], *save = NULL, *tok;
    uint32_t want = 0, id = 0;
    bool by_id = parse_domid(spec, &want);

    snprintf(buf, sizeof(buf), "%s", list ? list : "");
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *colon = strchr(tok, ':');
        const char *type = colon ? colon + 1 : "hvm";

        id++;
        if (colon)
            *colon = '\0';
        if (by_id ? id != want : strcmp(tok, spec) != 0)
            continue;
        snprintf(out->name, sizeof(out->name), "%s", tok);
        out->domid = id;
        out->type = !strcmp(type, "hvm") ? XLC_GUEST_HVM : !strcmp(type, "pv") ? XLC_GUEST_PV
                  : !strcmp(type, "pvh") ? XLC_GUEST_PVH : XLC_GUEST_UNKNOWN;
        return 0;
    }
    colo_err("no domain '%s' (sim backend: the domains are XL_COLO_SIM_DOMAINS='%s')", spec,
             list ? list : "");
    return -1;
}

/* --- xen: libxl --- */

struct xen {
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx;
};

static int xen_open(struct xen *x)
{
    x->ctx = NULL;
    x->logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!x->logger) {
        colo_err("cannot create the Xen toolstack logger");
        return -1;
    }
    if (libxl_ctx_alloc(&x->ctx, LIBXL_VERSION, 0, (xentoollog_logger *)x->logger) != 0) {
        colo_err("cannot talk to Xen (no libxl context): is this dom0 of a Xen host, with "
                 "xenstored running?  (Tests without Xen: XL_COLO_BACKEND=sim)");
        x->ctx = NULL;
        xtl_logger_destroy((xentoollog_logger *)x->logger);
        x->logger = NULL;
        return -1;
    }
    return 0;
}

static void xen_close(struct xen *x)
{
    if (x->ctx)
        libxl_ctx_free(x->ctx);
    if (x->logger)
        xtl_logger_destroy((xentoollog_logger *)x->logger);
}

static int xen_find(const char *spec, struct xlc_domain *out)
{
    struct xen x;
    libxl_dominfo info;
    uint32_t domid;
    char *name;
    int rc = -1;

    if (xen_open(&x) < 0)
        return -1;
    if (!parse_domid(spec, &domid) && libxl_name_to_domid(x.ctx, spec, &domid) != 0) {
        colo_err("no domain named '%s' (xl list shows the domains)", spec);
        goto out;
    }
    if (domid == 0) {
        colo_err("domain 0 is the control domain: it cannot be protected by COLO");
        goto out;
    }
    libxl_dominfo_init(&info);
    if (libxl_domain_info(x.ctx, &info, domid) != 0) {
        colo_err("no domain with id %u (xl list shows the domains)", domid);
        libxl_dominfo_dispose(&info);
        goto out;
    }
    out->domid = domid;
    out->type = info.domain_type == LIBXL_DOMAIN_TYPE_HVM ? XLC_GUEST_HVM
              : info.domain_type == LIBXL_DOMAIN_TYPE_PV ? XLC_GUEST_PV
              : info.domain_type == LIBXL_DOMAIN_TYPE_PVH ? XLC_GUEST_PVH : XLC_GUEST_UNKNOWN;
    if (info.dying || info.shutdown) {
        colo_err("domain %u is %s", domid, info.dying ? "dying" : "shut down");
        libxl_dominfo_dispose(&info);
        goto out;
    }
    libxl_dominfo_dispose(&info);
    name = libxl_domid_to_name(x.ctx, domid);
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    free(name);
    rc = 0;
out:
    xen_close(&x);
    return rc;
}

int xlc_domain_find(const char *backend, const char *spec, struct xlc_domain *out)
{
    memset(out, 0, sizeof(*out));
    return strcmp(backend, "sim") == 0 ? sim_find(spec, out) : xen_find(spec, out);
}

int xlc_domain_exists(const char *backend, const char *name)
{
    struct xen x;
    uint32_t domid;
    int rc;

    if (strcmp(backend, "sim") == 0)
        return 0;
    if (xen_open(&x) < 0)
        return -1;
    rc = libxl_name_to_domid(x.ctx, name, &domid) == 0;
    xen_close(&x);
    return rc;
}

void xlc_domain_destroy_name(const char *backend, const char *name)
{
    struct xen x;
    uint32_t domid;

    if (strcmp(backend, "sim") == 0 || xen_open(&x) < 0)
        return;
    if (libxl_name_to_domid(x.ctx, name, &domid) == 0 && domid != 0) {
        colo_warn("destroying the leftover SVM %s (domain %u)", name, domid);
        if (libxl_domain_destroy(x.ctx, domid, NULL) != 0)
            colo_err("could not destroy %s (domain %u): use xl destroy", name, domid);
    }
    xen_close(&x);
}
