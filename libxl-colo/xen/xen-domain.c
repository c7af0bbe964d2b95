/*
 * xen-domain.c - the xen domain backend: taking hold of a domain,
 * suspend/resume, destroy/close, and the operations table.
 *
 * Suspend follows what libxl does for an HVM guest without PV drivers:
 * a remote SCHEDOP shutdown with reason "suspend".  Unlike a bare
 * xc_domain_pause(), Xen defers that shutdown while a vCPU waits for the
 * device model to complete an I/O request, so the saved HVM context never
 * holds a half-emulated instruction.  Then qemu-xen is stopped (QMP
 * "stop") so device state and DMA are frozen too.  Resume reverses both:
 * QMP "cont" first (vCPUs may need the device model as soon as they run),
 * then XEN_DOMCTL_resumedomain via xc_domain_resume(..., fast=0), which for
 * HVM touches no guest register.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xen/hvm/params.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "colo-proto.h"
#include "qmp.h"
#include "xen-domain.h"
#include "xen-policy.h"

static int64_t mono_us(void)
{
    return (int64_t)(colo_now_ns() / 1000);
}

struct colo_domain *colo_xen_domain_new(const struct colo_xen_spec *spec)
{
    struct colo_domain *d = calloc(1, sizeof(*d));

    if (!d) {
        colo_err("xen: out of memory");
        return NULL;
    }
    d->spec = *spec;
    /* An empty hypercall buffer, as DECLARE_HYPERCALL_BUFFER makes one. */
    d->dirty_hbuf.hbuf = NULL;
    d->dirty_hbuf.param_shadow = NULL;
    d->dirty_hbuf.dir = 0;
    d->dirty_hbuf.sz = 0;
    d->dirty_hbuf.ubuf = (void *)-1;

    /* libxl, libxc and libxenforeignmemory report their own details here. */
    d->logger = xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
    if (!d->logger) {
        colo_err("xen: cannot create the Xen toolstack logger");
        goto fail;
    }
    d->xch = xc_interface_open((xentoollog_logger *)d->logger, NULL, 0);
    if (!d->xch) {
        colo_log_errno("xen: cannot open the hypervisor interface (is this dom0 of a Xen host?)");
        goto fail;
    }
    d->fmem = xenforeignmemory_open((xentoollog_logger *)d->logger, 0);
    if (!d->fmem) {
        colo_log_errno("xen: cannot open xenforeignmemory");
        goto fail;
    }
    if (libxl_ctx_alloc(&d->ctx, LIBXL_VERSION, 0, (xentoollog_logger *)d->logger) != 0) {
        colo_err("xen: cannot allocate a libxl context (is xenstored running?)");
        d->ctx = NULL;
        goto fail;
    }
    return d;

fail:
    colo_xen_domain_free(d);
    return NULL;
}

void colo_xen_domain_free(struct colo_domain *d)
{
    if (!d)
        return;
    colo_xen_xcs_stop(d);
    colo_xen_xcr_stop(d);
    colo_xen_dirty_buffer_free(d);
    colo_bitmap_free(&d->hole);
    free(d->dm_cmdline);
    if (d->ctx)
        libxl_ctx_free(d->ctx);
    if (d->fmem)
        xenforeignmemory_close(d->fmem);
    if (d->xch)
        xc_interface_close(d->xch);
    if (d->logger)
        xtl_logger_destroy((xentoollog_logger *)d->logger);
    free(d);
}

void colo_xen_set_qmp_path(struct colo_domain *d)
{
    if (d->spec.qmp_path[0])
        snprintf(d->qmp_path, sizeof(d->qmp_path), "%s", d->spec.qmp_path);
    else    /* where libxl tells qemu-xen to listen */
        snprintf(d->qmp_path, sizeof(d->qmp_path), "/var/run/xen/qmp-libxl-%" PRIu32, d->domid);
}

/* Find the domain the primary spec names; fills d->domid and d->name. */
static int find_domain(struct colo_domain *d)
{
    char *name;

    if (d->spec.has_domid) {
        d->domid = d->spec.domid;
    } else if (libxl_name_to_domid(d->ctx, d->spec.name, &d->domid) != 0) {
        colo_err("xen: no domain named '%s'", d->spec.name);
        return -1;
    }
    name = libxl_domid_to_name(d->ctx, d->domid);
    snprintf(d->name, sizeof(d->name), "%s", name ? name : d->spec.name);
    free(name);
    if (!d->name[0])
        snprintf(d->name, sizeof(d->name), "domain-%" PRIu32, d->domid);
    return 0;
}

/* Read the domain's xc info; -1 if it does not exist. */
static int domain_info(struct colo_domain *d, xc_dominfo_t *info)
{
    if (xc_domain_getinfo(d->xch, d->domid, 1, info) != 1 || info->domid != d->domid) {
        colo_err("xen: no domain with id %" PRIu32, d->domid);
        return -1;
    }
    return 0;
}

static int xen_open_primary(const struct colo_domain_spec *spec, struct colo_domain **out)
{
    struct colo_xen_spec xs;
    struct colo_domain *d;
    xc_dominfo_t info;
    xen_pfn_t max_gpfn = 0;
    uint64_t cbirq = 0;
    enum colo_xen_guest_kind kind;
    char err[256];

    *out = NULL;
    if (colo_xen_spec_parse(spec->options, &xs, err, sizeof(err)) < 0 ||
        colo_xen_spec_check_primary(&xs, spec->name, err, sizeof(err)) < 0) {
        colo_err("xen: domain options '%s': %s", spec->options ? spec->options : "", err);
        errno = EINVAL;
        return -1;
    }
    d = colo_xen_domain_new(&xs);
    if (!d)
        return -1;
    if (find_domain(d) < 0 || domain_info(d, &info) < 0)
        goto fail;
    if (info.dying || info.shutdown || info.crashed) {
        colo_err("xen: domain %" PRIu32 " (%s) is %s", d->domid, d->name,
                 info.dying ? "dying" : info.crashed ? "crashed" : "shut down");
        goto fail;
    }
    kind = colo_xen_guest_kind(info.hvm, info.arch_config.emulation_flags);
    if (kind != COLO_XEN_HVM) {
        colo_err("xen: COLO needs an HVM guest; domain %" PRIu32 " (%s) is %s "
                 "(PV rings live in guest memory and would differ between PVM and SVM)",
                 d->domid, d->name, colo_xen_guest_kind_name(kind));
        goto fail;
    }
    /* PV drivers in the guest share rings and event channels with dom0,
     * which a checkpoint cannot carry; upstream COLO forbids them too. */
    if (xc_hvm_param_get(d->xch, d->domid, HVM_PARAM_CALLBACK_IRQ, &cbirq) == 0 && cbirq)
        colo_warn("xen: domain %" PRIu32 " (%s) uses Xen PV features (event channel callback "
                  "set); use xen_platform_pci=0 and boot the guest with xen_nopv, or the SVM "
                  "may misbehave after failover", d->domid, d->name);
    if (xc_domain_maximum_gpfn(d->xch, d->domid, &max_gpfn) < 0) {
        colo_log_errno("xen: cannot read the highest pfn of domain %" PRIu32, d->domid);
        goto fail;
    }
    d->nr_pages = (uint64_t)max_gpfn + 1;
    if (d->nr_pages > COLO_MAX_NR_PAGES) {
        colo_err("xen: domain %" PRIu32 " has %" PRIu64 " pfns, beyond the limit", d->domid,
                 d->nr_pages);
        goto fail;
    }
    colo_xen_set_qmp_path(d);
    /* Prove now that qemu-xen answers; later failures would come mid-checkpoint. */
    if (colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "query-status", NULL, 0) < 0) {
        colo_err("xen: domain %" PRIu32 " (%s): no working qemu-xen QMP at %s "
                 "(COLO needs device_model_version=\"qemu-xen\")", d->domid, d->name,
                 d->qmp_path);
        goto fail;
    }
    colo_info("xen: protecting domain %" PRIu32 " (%s): HVM, %" PRIu64 " pfns",
              d->domid, d->name, d->nr_pages);
    *out = d;
    return 0;

fail:
    colo_xen_domain_free(d);
    return -1;
}

static void xen_get_info(struct colo_domain *d, struct colo_domain_info *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", d->name);
    out->domid = d->domid;
    out->nr_pages = d->nr_pages;
    out->page_size = COLO_PAGE_SIZE;
}

/*
 * Wait until Xen reports the domain shut down for suspend.  Polls with a
 * growing sleep (20 us .. 2 ms): a checkpoint usually suspends in well
 * under a millisecond, and a xenstore watch would add a daemon dependency.
 */
static int wait_suspended(struct colo_domain *d)
{
    int64_t deadline = mono_us() + (int64_t)d->spec.timeout_ms * 1000;
    long sleep_ns = 20000;

    for (;;) {
        xc_dominfo_t info;

        if (domain_info(d, &info) < 0)
            return -1;
        if (info.shutdown) {
            if (info.shutdown_reason == SHUTDOWN_suspend)
                return 0;
            colo_err("xen: domain %" PRIu32 " (%s) shut down (reason %u) instead of suspending",
                     d->domid, d->name, info.shutdown_reason);
            return -1;
        }
        if (info.dying || info.crashed) {
            colo_err("xen: domain %" PRIu32 " (%s) %s while suspending", d->domid, d->name,
                     info.dying ? "is dying" : "crashed");
            return -1;
        }
        if (mono_us() > deadline) {
            colo_err("xen: domain %" PRIu32 " (%s) did not suspend within %u ms", d->domid,
                     d->name, d->spec.timeout_ms);
            errno = ETIMEDOUT;
            return -1;
        }
        struct timespec ts = { 0, sleep_ns };
        nanosleep(&ts, NULL);
        if (sleep_ns < 2000000)
            sleep_ns *= 2;
    }
}

static int xen_suspend(struct colo_domain *d)
{
    if (d->fresh) {
        /* The SVM before its first run: its vCPUs never ran; only qemu runs. */
        return colo_xen_qemu_stop(d);
    }
    if (!d->suspended) {
        /* save=libxenguest: its loop must be at its suspend callback. */
        if (d->xcs && colo_xen_xcs_suspend_begin(d) < 0)
            return -1;
        if (xc_domain_shutdown(d->xch, d->domid, SHUTDOWN_suspend) < 0) {
            colo_log_errno("xen: cannot suspend domain %" PRIu32 " (%s)", d->domid, d->name);
            return -1;
        }
        if (wait_suspended(d) < 0)
            return -1;
        d->suspended = true;
    }
    if (colo_xen_qemu_stop(d) < 0)
        return -1;
    if (d->xcs)
        colo_xen_xcs_suspended(d);
    if (d->xcr)
        colo_xen_xcr_suspended(d);     /* libxenguest CLEANs the log, lists the pfns */
    return 0;
}

static int xen_resume(struct colo_domain *d)
{
    /* restore=libxenguest with no checkpoint applied since the suspend: a
     * failover.  libxenguest lets go of what it buffered; pages mode on. */
    if (d->xcr && !colo_xen_xcr_applied(d)) {
        colo_info("xen: domain %" PRIu32 " resumes without a new checkpoint: "
                  "libxenguest's restore ends", d->domid);
        colo_xen_xcr_stop(d);
    }
    if (colo_xen_qemu_cont(d) < 0)
        return -1;
    if (d->suspended) {
        /* fast=0: for HVM this is XEN_DOMCTL_resumedomain and nothing else. */
        if (xc_domain_resume(d->xch, d->domid, 0) < 0) {
            colo_log_errno("xen: cannot resume domain %" PRIu32 " (%s)", d->domid, d->name);
            return -1;
        }
        d->suspended = false;
    }
    if (d->fresh) {
        /* Drop the pause libxl left on the new domain: the SVM's first run. */
        if (xc_domain_unpause(d->xch, d->domid) < 0) {
            colo_log_errno("xen: cannot unpause domain %" PRIu32 " (%s)", d->domid, d->name);
            return -1;
        }
        d->fresh = false;
    }
    if (d->xcs)
        colo_xen_xcs_resumed(d);
    if (d->xcr)
        colo_xen_xcr_resumed(d);
    return 0;
}

static int xen_peer_dirty(struct colo_domain *d, const struct colo_bitmap *svm_dirty)
{
    return d->xcs ? colo_xen_xcs_peer_dirty(d, svm_dirty) : 0;
}

static int xen_page_refs(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                         const void **ptr)
{
    return d->xcs ? colo_xen_xcs_page_refs(d, pfns, n, ptr) : 0;
}

static int xen_dirty_rest(struct colo_domain *d, const struct colo_bitmap *sent,
                          struct colo_bitmap *into)
{
    return d->xcs ? colo_xen_xcs_dirty_rest(d, sent, into) : 0;
}

static int xen_write_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                           const void *buf)
{
    return d->xcr ? colo_xen_xcr_write_pages(d, pfns, n, buf) : colo_xen_write_pages(d, pfns, n, buf);
}

static int xen_commit(struct colo_domain *d)
{
    return d->xcr ? colo_xen_xcr_commit(d) : 0;
}

static void xen_destroy(struct colo_domain *d)
{
    if (!d)
        return;
    colo_xen_xcr_stop(d);       /* before the domain goes: libxenguest works on it */
    if (d->logdirty)
        colo_xen_logdirty_disable(d);
    colo_info("xen: destroying domain %" PRIu32 " (%s)", d->domid, d->name);
    if (libxl_domain_destroy(d->ctx, d->domid, NULL) != 0)
        colo_err("xen: libxl could not destroy domain %" PRIu32 " (%s)", d->domid, d->name);
    colo_xen_domain_free(d);
}

static void xen_close(struct colo_domain *d)
{
    if (!d)
        return;
    colo_xen_xcr_stop(d);
    /* Dirty tracking is ours, not the domain's: stop it, leave the rest. */
    if (d->logdirty)
        colo_xen_logdirty_disable(d);
    if (d->suspended || d->qemu_stopped || d->fresh)
        colo_warn("xen: letting go of domain %" PRIu32 " (%s) while it is %s", d->domid,
                  d->name, d->fresh ? "paused since creation" : "suspended");
    colo_xen_domain_free(d);
}

static int xen_create_secondary(const struct colo_domain_spec *spec,
                                const struct colo_domain_info *info,
                                struct colo_domain **out)
{
    return colo_xen_create_secondary(spec, info, out);
}

const struct colo_backend colo_backend_xen = {
    .name             = "xen",
    .open_primary     = xen_open_primary,
    .create_secondary = xen_create_secondary,
    .get_info         = xen_get_info,
    .suspend          = xen_suspend,
    .resume           = xen_resume,
    .logdirty_enable  = colo_xen_logdirty_enable,
    .logdirty_disable = colo_xen_logdirty_disable,
    .dirty_read_clear = colo_xen_dirty_read_clear,
    .peer_dirty       = xen_peer_dirty,
    .dirty_rest       = xen_dirty_rest,
    .page_refs        = xen_page_refs,
    .read_pages       = colo_xen_read_pages,
    .ram_pfns         = colo_xen_ram_pfns,
    .write_pages      = xen_write_pages,
    .commit           = xen_commit,
    .save_device      = colo_xen_save_device,
    .load_device      = colo_xen_load_device,
    .vcpu_state       = colo_xen_vcpu_state,
    .destroy          = xen_destroy,
    .close            = xen_close,
};
