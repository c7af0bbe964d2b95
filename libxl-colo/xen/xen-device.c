/*
 * xen-device.c - the xen backend's device state: vCPU and platform state
 * from Xen (the HVM context), the HVM params the guest sets at run time,
 * and qemu-xen's device state, framed by xen-devstate.c.
 *
 * qemu-xen saves and loads its devices only to and from a file it opens
 * itself (QMP xen-save-devices-state / xen-load-devices-state), so the
 * state passes through a file in spec.statedir (default /var/lib/xen,
 * where libxl keeps qemu's save files too); it is removed straight after.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xen/hvm/params.h>

#include "colo-log.h"
#include "qmp.h"
#include "xen-devstate.h"
#include "xen-policy.h"
#include "xen-domain.h"

/*
 * HVM params written by the guest side (hvmloader, the kernel) rather than
 * by libxl at build time.  An SVM that never booted lacks them.  The pfns
 * libxl lays out (xenstore, console, ioreq) are the same for both domains,
 * and each domain keeps its own connections to them, so they stay out.
 */
static const uint32_t guest_params[] = {
    HVM_PARAM_CALLBACK_IRQ,
    HVM_PARAM_IDENT_PT,
    HVM_PARAM_VM86_TSS_SIZED,
    HVM_PARAM_ACPI_IOPORTS_LOCATION,
    HVM_PARAM_VM_GENERATION_ID_ADDR,
};
#define NR_GUEST_PARAMS (sizeof(guest_params) / sizeof(guest_params[0]))

int colo_xen_qemu_stop(struct colo_domain *d)
{
    if (d->qemu_stopped)
        return 0;
    if (colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "stop", NULL, 0) < 0) {
        colo_err("xen: cannot stop qemu-xen of domain %" PRIu32 " (%s)", d->domid, d->name);
        return -1;
    }
    d->qemu_stopped = true;
    return 0;
}

int colo_xen_qemu_cont(struct colo_domain *d)
{
    if (!d->qemu_stopped)
        return 0;
    if (colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "cont", NULL, 0) < 0) {
        colo_err("xen: cannot restart qemu-xen of domain %" PRIu32 " (%s)", d->domid, d->name);
        return -1;
    }
    d->qemu_stopped = false;
    return 0;
}

/* The file qemu-xen writes and reads device state through. */
static void state_path(const struct colo_domain *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/colo-devstate-%" PRIu32 ".%ld", d->spec.state_dir, d->domid,
             (long)getpid());
}

/* Read a whole file of at most max bytes into a malloc'd buffer. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    struct stat st;
    uint8_t *b;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        colo_log_errno("xen: cannot open %s", path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        colo_log_errno("xen: cannot stat %s", path);
        close(fd);
        return -1;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > max) {
        if (st.st_size <= 0)
            colo_err("xen: %s is empty", path);
        else
            colo_err("xen: %s is %lld bytes, more than the %zu allowed", path,
                     (long long)st.st_size, max);
        close(fd);
        return -1;
    }
    b = malloc((size_t)st.st_size);
    if (!b) {
        colo_err("xen: out of memory reading %s", path);
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                colo_log_errno("xen: reading %s", path);
            else
                colo_err("xen: %s shrank while being read", path);
            free(b);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    *out = b;
    *len = got;
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        colo_log_errno("xen: cannot create %s", path);
        return -1;
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            colo_log_errno("xen: writing %s", path);
            close(fd);
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    if (close(fd) < 0) {
        colo_log_errno("xen: closing %s", path);
        return -1;
    }
    return 0;
}

/* qemu-xen's device state, via a file it writes. */
static int save_qemu(struct colo_domain *d, uint8_t **buf, size_t *len)
{
    char path[COLO_XEN_PATH_MAX + 64];
    struct colo_qmp_arg args[] = {
        { .key = "filename", .type = COLO_QMP_STR, .s = path },
        /* Not a migration: qemu must keep its block devices active. */
        { .key = "live", .type = COLO_QMP_BOOL, .b = false },
    };
    int rc;

    state_path(d, path, sizeof(path));
    unlink(path);
    if (colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "xen-save-devices-state",
                         args, 2) < 0) {
        colo_err("xen: qemu-xen of domain %" PRIu32 " could not save its device state to %s",
                 d->domid, path);
        unlink(path);
        return -1;
    }
    rc = read_file(path, COLO_XDS_MAX_QEMU_STATE, buf, len);
    unlink(path);
    return rc;
}

/* The domain's HVM context (malloc'd), its size in *size; NULL on failure (said why). */
static uint8_t *read_hvm_context(struct colo_domain *d, int *size)
{
    uint8_t *ctx;

    /* A NULL buffer asks Xen for the size the context needs. */
    *size = xc_domain_hvm_getcontext(d->xch, d->domid, NULL, 0);
    if (*size <= 0 || (uint32_t)*size > COLO_XDS_MAX_HVM_CONTEXT) {
        colo_log_errno("xen: cannot size the HVM context of domain %" PRIu32, d->domid);
        return NULL;
    }
    if (!(ctx = malloc((size_t)*size))) {
        colo_err("xen: out of memory for the HVM context");
        return NULL;
    }
    *size = xc_domain_hvm_getcontext(d->xch, d->domid, ctx, (uint32_t)*size);
    if (*size <= 0) {
        colo_log_errno("xen: cannot read the HVM context of domain %" PRIu32, d->domid);
        free(ctx);
        return NULL;
    }
    return ctx;
}

int colo_xen_vcpu_state(struct colo_domain *d, void **buf, size_t *len)
{
    const char *why = NULL;
    uint8_t *ctx, *cpu;
    int size, rc;

    if (!(ctx = read_hvm_context(d, &size)))
        return -1;
    rc = colo_xen_cpu_records(ctx, (size_t)size, &cpu, len, &why);
    free(ctx);
    if (rc < 0) {
        colo_err("xen: the HVM context of domain %" PRIu32 " is malformed: %s", d->domid, why);
        return -1;
    }
    *buf = cpu;
    return 0;
}

int colo_xen_save_device(struct colo_domain *d, void **blob, size_t *len)
{
    struct colo_xds_param params[NR_GUEST_PARAMS];
    struct colo_xds_in in;
    uint8_t *ctx, *qemu = NULL;
    size_t qemu_len = 0;
    int size, rc = -1;

    *blob = NULL;
    *len = 0;
    /* save=libxenguest: the HVM context of its stream's checkpoint.  The
     * params stay ours: its HVM_PARAMS record lists the toolstack's pfns
     * (xenstore, console, ioreq), which the SVM keeps its own of. */
    if (!(ctx = d->xcs ? colo_xen_xcs_hvm_context(d, &size) : read_hvm_context(d, &size)))
        return -1;
    for (size_t i = 0; i < NR_GUEST_PARAMS; i++) {
        params[i].index = guest_params[i];
        if (xc_hvm_param_get(d->xch, d->domid, guest_params[i], &params[i].value) < 0) {
            colo_log_errno("xen: cannot read HVM param %" PRIu32 " of domain %" PRIu32,
                           guest_params[i], d->domid);
            goto out;
        }
    }
    if (save_qemu(d, &qemu, &qemu_len) < 0)
        goto out;

    in.hvm_ctx = ctx;
    in.hvm_ctx_len = (uint32_t)size;
    in.params = params;
    in.nr_params = NR_GUEST_PARAMS;
    in.qemu = qemu;
    in.qemu_len = (uint32_t)qemu_len;
    if (colo_xds_encode(&in, blob, len) < 0) {
        colo_log_errno("xen: cannot frame the device state of domain %" PRIu32, d->domid);
        goto out;
    }
    colo_debug("xen: domain %" PRIu32 " device state: HVM %d bytes, qemu %zu bytes",
               d->domid, size, qemu_len);
    rc = 0;
out:
    free(ctx);
    free(qemu);
    return rc;
}

/* The pages mode: the vCPU context and the params, straight into Xen. */
static int set_context_and_params(struct colo_domain *d, const struct colo_xds *ds,
                                  const uint64_t *index, const uint64_t *value, uint32_t n)
{
    /* xc_domain_hvm_setcontext takes a non-const buffer. */
    uint8_t *ctx = malloc(ds->hvm_ctx_len);
    int rc;

    if (!ctx) {
        colo_err("xen: out of memory for the HVM context");
        return -1;
    }
    memcpy(ctx, ds->hvm_ctx, ds->hvm_ctx_len);
    rc = xc_domain_hvm_setcontext(d->xch, d->domid, ctx, ds->hvm_ctx_len);
    free(ctx);
    if (rc < 0) {
        colo_log_errno("xen: Xen rejected the HVM context for domain %" PRIu32
                       " (same vCPU count and config as the PVM?)", d->domid);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (xc_hvm_param_set(d->xch, d->domid, (uint32_t)index[i], value[i]) < 0) {
            colo_log_errno("xen: cannot set HVM param %" PRIu64 " of domain %" PRIu32 " to %#"
                           PRIx64, index[i], d->domid, value[i]);
            return -1;
        }
    }
    return 0;
}

int colo_xen_load_device(struct colo_domain *d, const void *blob, size_t len)
{
    char path[COLO_XEN_PATH_MAX + 64];
    struct colo_qmp_arg arg = { .key = "filename", .type = COLO_QMP_STR, .s = path };
    struct colo_xds ds;
    const char *why = NULL;
    uint64_t index[COLO_XDS_MAX_PARAMS], value[COLO_XDS_MAX_PARAMS];
    uint32_t nset = 0;
    int rc;

    if (colo_xds_decode(blob, len, &ds, &why) < 0) {
        colo_err("xen: refusing device state for domain %" PRIu32 ": %s", d->domid, why);
        errno = EINVAL;
        return -1;
    }
    /* qemu refuses to load state while it runs; the domain is suspended already. */
    if (d->qemu_mode == COLO_XEN_QEMU_LOAD && colo_xen_qemu_stop(d) < 0)
        return -1;

    /* Only the params that differ from the SVM's are set: it spares
     * hypercalls Xen may refuse as no-ops. */
    for (uint32_t i = 0; i < ds.nr_params; i++) {
        struct colo_xds_param p = colo_xds_param_at(&ds, i);
        uint64_t cur = 0;
        bool known = false;

        for (size_t k = 0; k < NR_GUEST_PARAMS; k++)
            known |= guest_params[k] == p.index;
        if (!known) {
            colo_err("xen: device state carries HVM param %" PRIu32 ", which is not one the "
                     "backend transfers", p.index);
            return -1;
        }
        if (xc_hvm_param_get(d->xch, d->domid, p.index, &cur) == 0 && cur == p.value)
            continue;
        index[nset] = p.index;
        value[nset++] = p.value;
    }
    /* restore=libxenguest: libxenguest sets both when it applies the
     * checkpoint (commit); by now the SVM has the last one's params. */
    if (d->xcr ? colo_xen_xcr_device(d, ds.hvm_ctx, ds.hvm_ctx_len, index, value, nset) < 0
               : set_context_and_params(d, &ds, index, value, nset) < 0)
        return -1;
    if (d->qemu_mode == COLO_XEN_QEMU_KEEP)
        return 0;       /* see choose_qemu_state() in xen-svm.c */
    state_path(d, path, sizeof(path));
    if (write_file(path, ds.qemu, ds.qemu_len) < 0) {
        unlink(path);
        return -1;
    }
    if (d->qemu_mode == COLO_XEN_QEMU_RESTART)
        rc = colo_xen_dm_restart(d, path);
    else
        rc = colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "xen-load-devices-state",
                              &arg, 1);
    unlink(path);
    if (rc < 0) {
        colo_err("xen: qemu-xen of domain %" PRIu32 " could not load the device state",
                 d->domid);
        return -1;
    }
    return 0;
}
