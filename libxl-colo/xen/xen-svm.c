/*
 * xen-svm.c - create_secondary: build the SVM with libxl from the guest's
 * xl.cfg, paused, to be filled page by page and started at the first
 * resume().  docs/xen-backend.md weighs this against building the SVM
 * with xc_domain_restore(); with restore=libxenguest, xc_domain_restore()
 * then fills the SVM built here (xen-xcrestore.c).
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "colo-log.h"
#include "colo-proto.h"
#include "qmp.h"
#include "xen-domain.h"
#include "xen-policy.h"
#include "xen-xlcfg.h"

/*
 * Let the SVM take a page at every pfn the primary may send: pfns the PVM
 * populated beyond what libxl gave the SVM (see write_pages) must not fail
 * on the domain's memory limit.  It is a limit, not an allocation.
 */
static int raise_maxmem(struct colo_domain *d)
{
    xc_dominfo_t info;
    uint64_t want;

    if (xc_domain_getinfo(d->xch, d->domid, 1, &info) != 1 || info.domid != d->domid) {
        colo_log_errno("xen: cannot read the new SVM's info");
        return -1;
    }
    want = (uint64_t)info.max_memkb + d->nr_pages * (COLO_PAGE_SIZE / 1024);
    if (xc_domain_setmaxmem(d->xch, d->domid, want) < 0) {
        colo_log_errno("xen: cannot raise the SVM's memory limit to %" PRIu64 " KiB", want);
        return -1;
    }
    return 0;
}

/*
 * How the SVM's qemu-xen gets the PVM's device state at each checkpoint:
 * by QMP while it runs (load), by being started again with it (restart:
 * QEMU >= 6.0, which aborts on the QMP way, xen-policy.h), or not at all
 * (keep, only when asked for).
 */
static int choose_qemu_state(struct colo_domain *d)
{
    struct colo_qmp *q = NULL;
    struct colo_qmp_reply *r = NULL;
    long long major = -1, minor = -1;

    if (d->spec.qemu_state != COLO_XEN_QEMU_AUTO) {
        d->qemu_mode = d->spec.qemu_state;
        return d->qemu_mode == COLO_XEN_QEMU_RESTART ? colo_xen_dm_capture(d) : 0;
    }
    if (colo_qmp_connect(d->qmp_path, d->spec.timeout_ms, &q) == 0 &&
        colo_qmp_execute(q, "query-version", NULL, 0, &r) == 0) {
        const char *pmaj[] = { "qemu", "major", NULL }, *pmin[] = { "qemu", "minor", NULL };
        yajl_val v = colo_qmp_reply_value(r);
        yajl_val ma = v ? yajl_tree_get(v, pmaj, yajl_t_number) : NULL;
        yajl_val mi = v ? yajl_tree_get(v, pmin, yajl_t_number) : NULL;

        if (ma && YAJL_IS_INTEGER(ma) && mi && YAJL_IS_INTEGER(mi)) {
            major = YAJL_GET_INTEGER(ma);
            minor = YAJL_GET_INTEGER(mi);
        }
    }
    colo_qmp_reply_free(r);
    colo_qmp_close(q);
    if (major < 0) {
        colo_err("xen: cannot read the SVM's qemu-xen version (QMP query-version on %s); "
                 "say qemu-state=load, restart or keep", d->qmp_path);
        return -1;
    }
    if (colo_xen_qemu_loads_state(major, minor)) {
        d->qemu_mode = COLO_XEN_QEMU_LOAD;
        return 0;
    }
    d->qemu_mode = COLO_XEN_QEMU_RESTART;
    colo_info("xen: the SVM's qemu-xen %lld.%lld cannot load device state while it runs "
              "(QEMU >= 6.0 aborts on xen-load-devices-state), so it is started again with "
              "the PVM's device state at every checkpoint (qemu-state=restart; see "
              "docs/xen-backend.md)", major, minor);
    if (colo_xen_dm_capture(d) < 0)
        return -1;
    return 0;
}

int colo_xen_create_secondary(const struct colo_domain_spec *spec,
                              const struct colo_domain_info *info,
                              struct colo_domain **out)
{
    struct colo_xen_spec xs;
    struct colo_domain *d = NULL;
    libxl_domain_config dc;
    uint32_t domid, existing;
    char err[256];

    *out = NULL;
    if (colo_xen_spec_parse(spec->options, &xs, err, sizeof(err)) < 0 ||
        colo_xen_spec_check_secondary(&xs, err, sizeof(err)) < 0) {
        colo_err("xen: domain options '%s': %s", spec->options ? spec->options : "", err);
        errno = EINVAL;
        return -1;
    }
    if (info->page_size != COLO_PAGE_SIZE || info->nr_pages == 0 ||
        info->nr_pages > COLO_MAX_NR_PAGES) {
        colo_err("xen: primary announced %" PRIu64 " pages of %" PRIu32 " bytes: not a "
                 "guest this backend can hold", info->nr_pages, info->page_size);
        errno = EINVAL;
        return -1;
    }

    libxl_domain_config_init(&dc);
    if (colo_xen_xlcfg_load(xs.config, xs.name, &dc) < 0)
        goto fail;
    d = colo_xen_domain_new(&xs);
    if (!d)
        goto fail;
    snprintf(d->name, sizeof(d->name), "%s", dc.c_info.name);
    if (libxl_name_to_domid(d->ctx, d->name, &existing) == 0) {
        colo_err("xen: a domain named '%s' (id %" PRIu32 ") already exists; a leftover SVM? "
                 "(xl destroy %s)", d->name, existing, d->name);
        goto fail;
    }

    colo_info("xen: creating the SVM '%s' from %s", d->name, xs.config);
    /* Synchronous (no ao_how); libxl leaves the new domain paused. */
    if (libxl_domain_create_new(d->ctx, &dc, &domid, NULL, NULL) != 0) {
        colo_err("xen: libxl could not create the SVM '%s' from %s", d->name, xs.config);
        goto fail;
    }
    d->domid = domid;
    d->secondary = true;
    d->fresh = true;
    d->nr_pages = info->nr_pages;
    colo_xen_set_qmp_path(d);
    if (raise_maxmem(d) < 0)
        goto fail_destroy;
    if (colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "query-status", NULL, 0) < 0) {
        colo_err("xen: the SVM's qemu-xen does not answer on %s", d->qmp_path);
        goto fail_destroy;
    }
    if (choose_qemu_state(d) < 0)
        goto fail_destroy;
    if (xs.restore == COLO_XEN_RESTORE_LIBXENGUEST && colo_xen_xcr_start(d) < 0)
        goto fail_destroy;
    libxl_domain_config_dispose(&dc);
    colo_info("xen: SVM '%s' is domain %" PRIu32 ", paused, %" PRIu64 " pfns to fill",
              d->name, d->domid, d->nr_pages);
    *out = d;
    return 0;

fail_destroy:
    if (libxl_domain_destroy(d->ctx, d->domid, NULL) != 0)
        colo_err("xen: could not destroy the half-built SVM %" PRIu32, d->domid);
fail:
    libxl_domain_config_dispose(&dc);
    colo_xen_domain_free(d);
    return -1;
}
