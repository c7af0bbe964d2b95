/*
 * xen-memory.c - the xen backend's dirty logging and page copies.
 *
 * Dirty logging is Xen's log-dirty mode (XEN_DOMCTL_SHADOW_OP_*), which
 * works over HAP and shadow paging alike for HVM.  qemu-xen writes guest
 * memory too (emulated DMA); with QMP xen-set-global-dirty-log it reports
 * those writes to Xen (xendevicemodel_modified_memory), so they land in the
 * same log.
 *
 * Pages are copied through xenforeignmemory mappings of one batch at a
 * time.  A pfn Xen cannot map (the VGA hole, the MMIO hole, a pfn that
 * was never populated) is not RAM to the guest.  The policy:
 *   read   such a page reads as zeros (deterministic, so digests agree);
 *   write  zeros into such a pfn of the SVM are skipped (populating RAM
 *          there could shadow an MMIO range qemu emulates); real data is
 *          written after populating the pfn, because the PVM has RAM
 *          there (hvmloader moves RAM out of the MMIO hole, for one).
 * docs/xen-backend.md discusses what this cannot tell apart.  Holes once
 * found are remembered (struct colo_domain.hole says why that is exact).
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "colo-log.h"
#include "colo-proto.h"
#include "qmp.h"
#include "xen-domain.h"
#include "xen-policy.h"

/* Bytes of a Xen log-dirty bitmap for nr pfns, in whole unsigned longs. */
static size_t bitmap_bytes(uint64_t nr)
{
    const uint64_t bpl = sizeof(unsigned long) * 8;

    return (size_t)((nr + bpl - 1) / bpl) * sizeof(unsigned long);
}

void colo_xen_dirty_buffer_free(struct colo_domain *d)
{
    DECLARE_HYPERCALL_BUFFER_SHADOW(unsigned long, bitmap, &d->dirty_hbuf);

    if (d->xch && d->dirty_hbuf_pages)
        xc_hypercall_buffer_free_pages(d->xch, bitmap, (int)d->dirty_hbuf_pages);
    d->dirty_hbuf_pages = 0;
}

int colo_xen_qemu_logdirty(struct colo_domain *d, bool enable)
{
    struct colo_qmp_arg arg = { .key = "enable", .type = COLO_QMP_BOOL, .b = enable };

    return colo_qmp_oneshot(d->qmp_path, d->spec.timeout_ms, "xen-set-global-dirty-log",
                            &arg, 1);
}

/* The hole cache, allocated on first use (nr_pages is known by then). */
static int hole_cache(struct colo_domain *d)
{
    if (d->hole.nbits == d->nr_pages)
        return 0;
    colo_bitmap_free(&d->hole);
    d->holes_scanned = false;
    if (colo_bitmap_init(&d->hole, d->nr_pages) < 0) {
        colo_log_errno("xen: cannot allocate a hole map for %" PRIu64 " pfns", d->nr_pages);
        return -1;
    }
    return 0;
}

/* A dirty pfn was written, so it is RAM now even if it was a hole. */
static void forget_dirty_holes(struct colo_domain *d, const unsigned long *xbits)
{
    const unsigned bpl = sizeof(unsigned long) * 8;

    if (d->hole.nbits == 0)
        return;
    for (uint64_t w = 0; w * bpl < d->hole.nbits; w++) {
        unsigned long word = xbits[w];

        while (word) {
            colo_bitmap_clear(&d->hole, w * bpl + (unsigned)__builtin_ctzl(word));
            word &= word - 1;
        }
    }
}

/* The hypercall buffer Xen copies the dirty log into, allocated once. */
static int dirty_buffer(struct colo_domain *d)
{
    size_t bytes = bitmap_bytes(d->nr_pages);
    unsigned pages = (unsigned)((bytes + XC_PAGE_SIZE - 1) / XC_PAGE_SIZE);
    DECLARE_HYPERCALL_BUFFER_SHADOW(unsigned long, bitmap, &d->dirty_hbuf);

    if (d->dirty_hbuf_pages)
        return 0;
    bitmap = xc_hypercall_buffer_alloc_pages(d->xch, bitmap, (int)pages);
    if (!bitmap) {
        colo_log_errno("xen: cannot allocate a %zu-byte dirty bitmap", bytes);
        return -1;
    }
    d->dirty_hbuf_pages = pages;
    return 0;
}

int colo_xen_logdirty_enable(struct colo_domain *d)
{
    /* save=libxenguest: its loop enables (and disables) log-dirty itself. */
    if (d->spec.save == COLO_XEN_SAVE_LIBXENGUEST)
        return colo_xen_xcs_start(d);
    if (d->logdirty)
        return 0;
    if (dirty_buffer(d) < 0)
        return -1;
    /*
     * If someone (a failed earlier run, a migration) left log-dirty on,
     * enabling fails; switch it off and start a fresh log, as
     * libxenguest's save code does.
     */
    /*
     * The guest's vCPUs are paused while Xen retypes its whole p2m: in the
     * Xen lab (nested paging emulated by QEMU TCG) a guest running through
     * that change triple-faulted in 2 of 5 runs.  A pause of a few hundred
     * microseconds on hardware; harmless where the change is safe anyway.
     */
    bool paused = !d->suspended && !d->fresh && xc_domain_pause(d->xch, d->domid) == 0;
    int rc = xc_shadow_control(d->xch, d->domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0);

    if (rc < 0)
        rc = xc_shadow_control(d->xch, d->domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0) < 0 ? -1 :
             xc_shadow_control(d->xch, d->domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0);
    if (rc < 0)
        colo_log_errno("xen: cannot enable log-dirty mode on domain %" PRIu32 " (%s)",
                       d->domid, d->name);
    if (paused && xc_domain_unpause(d->xch, d->domid) < 0)
        colo_log_errno("xen: cannot unpause domain %" PRIu32 " after enabling log-dirty",
                       d->domid);
    if (rc < 0)
        return -1;
    d->logdirty = true;
    if (colo_xen_qemu_logdirty(d, true) < 0) {
        colo_err("xen: qemu-xen of domain %" PRIu32 " would not log its writes to guest "
                 "memory; dirty logging not enabled", d->domid);
        colo_xen_logdirty_disable(d);
        return -1;
    }
    d->qemu_logdirty = true;
    return 0;
}

int colo_xen_logdirty_disable(struct colo_domain *d)
{
    int rc = 0;

    colo_xen_xcs_stop(d);

    if (d->qemu_logdirty) {
        if (colo_xen_qemu_logdirty(d, false) < 0) {
            colo_warn("xen: qemu-xen of domain %" PRIu32 " still logs dirty pages", d->domid);
            rc = -1;
        }
        d->qemu_logdirty = false;
    }
    if (d->logdirty) {
        if (xc_shadow_control(d->xch, d->domid, XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0) < 0) {
            colo_log_errno("xen: cannot switch log-dirty mode off on domain %" PRIu32,
                           d->domid);
            rc = -1;
        }
        d->logdirty = false;
    }
    colo_xen_dirty_buffer_free(d);
    return rc;
}

/*
 * Copy Xen's dirty log for pfns [0, nr_pages) into the hypercall buffer:
 * CLEAN restarts the log, PEEK leaves it as it is.  Returns the buffer.
 */
static const unsigned long *logdirty_op(struct colo_domain *d, unsigned op, const char *what)
{
    DECLARE_HYPERCALL_BUFFER_SHADOW(unsigned long, bitmap, &d->dirty_hbuf);
    xc_shadow_op_stats_t stats;
    long long rc;

    memset(bitmap, 0, bitmap_bytes(d->nr_pages));
    rc = xc_logdirty_control(d->xch, d->domid, op, HYPERCALL_BUFFER(bitmap), d->nr_pages, 0,
                             &stats);
    if (rc < 0 || (uint64_t)rc != d->nr_pages) {
        if (rc < 0)
            colo_log_errno("xen: cannot %s the dirty log of domain %" PRIu32, what, d->domid);
        else
            colo_err("xen: Xen returned the dirty log of %lld of %" PRIu64 " pfns of "
                     "domain %" PRIu32, rc, d->nr_pages, d->domid);
        return NULL;
    }
    return bitmap;
}

int colo_xen_dirty_read_clear(struct colo_domain *d, struct colo_bitmap *into)
{
    const unsigned long *bitmap;
    uint64_t ignored = 0, n;

    if (d->xcs)
        return colo_xen_xcs_dirty_read_clear(d, into);
    if (d->xcr)
        return colo_xen_xcr_dirty(d, into);
    if (!d->logdirty || !d->dirty_hbuf_pages) {
        colo_err("xen: dirty log of domain %" PRIu32 " read while log-dirty is off", d->domid);
        errno = EINVAL;
        return -1;
    }
    if (!(bitmap = logdirty_op(d, XEN_DOMCTL_SHADOW_OP_CLEAN, "read")))
        return -1;
    n = colo_xen_dirty_merge(bitmap, d->nr_pages, into, &ignored);
    forget_dirty_holes(d, bitmap);
    if (ignored)
        colo_warn("xen: %" PRIu64 " dirty pfns of domain %" PRIu32 " are beyond the "
                  "engine's bitmap of %" PRIu64 " pages", ignored, d->domid, into->nbits);
    colo_debug("xen: domain %" PRIu32 ": %" PRIu64 " dirty pages", d->domid, n);
    return 0;
}

/*
 * PEEK: OR the dirty log into 'into' without restarting it - for
 * save=libxenguest, whose loop owns the log and CLEANs it itself: the
 * engine learns from it which pages libxenguest is about to send.
 */
int colo_xen_dirty_peek(struct colo_domain *d, struct colo_bitmap *into)
{
    const unsigned long *bitmap;
    uint64_t ignored = 0;

    if (dirty_buffer(d) < 0 || !(bitmap = logdirty_op(d, XEN_DOMCTL_SHADOW_OP_PEEK, "peek at")))
        return -1;
    colo_xen_dirty_merge(bitmap, d->nr_pages, into, &ignored);
    return 0;
}

/* Batch checks shared by read and write: size, range, ascending order. */
static int check_batch(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                       xen_pfn_t *arr)
{
    if (n > COLO_MAX_PAGE_BATCH) {
        colo_err("xen: batch of %" PRIu32 " pages exceeds %u", n, COLO_MAX_PAGE_BATCH);
        errno = EINVAL;
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (pfns[i] >= d->nr_pages || (i > 0 && pfns[i] <= pfns[i - 1])) {
            colo_err("xen: pfn %#" PRIx64 " out of range or order (domain %" PRIu32
                     " has %" PRIu64 " pfns)", pfns[i], d->domid, d->nr_pages);
            errno = EINVAL;
            return -1;
        }
        arr[i] = (xen_pfn_t)pfns[i];
    }
    return 0;
}

/*
 * Map m pfns read-only.  Xen refuses the ones that are not RAM (err[k] set):
 * those go into the hole cache, and *holes counts them.  Slot k of the
 * mapping holds pfn arr[k] only where err[k] is 0.  NULL if nothing could
 * be mapped at all.
 */
static void *map_pfns(struct colo_domain *d, const xen_pfn_t *arr, uint32_t m, int *err,
                      uint32_t *holes)
{
    void *map = xenforeignmemory_map(d->fmem, d->domid, PROT_READ, m, arr, err);

    if (!map) {
        colo_log_errno("xen: cannot map %" PRIu32 " pages of domain %" PRIu32 " from pfn %#"
                       PRIx64, m, d->domid, (uint64_t)arr[0]);
        return NULL;
    }
    for (uint32_t k = 0; k < m; k++)
        if (err[k]) {
            colo_bitmap_set(&d->hole, arr[k]);
            (*holes)++;
        }
    return map;
}

static void unmap_pfns(struct colo_domain *d, void *map, uint32_t m)
{
    if (xenforeignmemory_unmap(d->fmem, map, m) < 0)
        colo_log_errno("xen: unmapping pages of domain %" PRIu32, d->domid);
}

int colo_xen_read_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf)
{
    xen_pfn_t arr[COLO_MAX_PAGE_BATCH];
    int err[COLO_MAX_PAGE_BATCH];
    uint32_t idx[COLO_MAX_PAGE_BATCH];   /* arr[k] is pfns[idx[k]] */
    bool got[COLO_MAX_PAGE_BATCH] = { false };
    unsigned char *out = buf;
    uint32_t holes = 0, m = 0;
    void *map;

    if (n == 0)
        return 0;
    if (check_batch(d, pfns, n, arr) < 0 || hole_cache(d) < 0)
        return -1;
    /* save=libxenguest: the pages of libxenguest's current checkpoint
     * first (xen-xcsave.c says why the rest may come from the guest). */
    if (d->xcs && colo_xen_xcs_read_pages(d, pfns, n, buf, got) < 0)
        return -1;
    /* Known holes read as zeros without a hypercall; map the rest. */
    for (uint32_t i = 0; i < n; i++) {
        if (got[i])
            continue;
        if (colo_bitmap_test(&d->hole, pfns[i]))
            memset(out + (size_t)i * COLO_PAGE_SIZE, 0, COLO_PAGE_SIZE);
        else {
            idx[m] = i;
            arr[m++] = (xen_pfn_t)pfns[i];
        }
    }
    if (m == 0)
        return 0;
    if (!(map = map_pfns(d, arr, m, err, &holes)))
        return -1;
    for (uint32_t k = 0; k < m; k++) {
        unsigned char *dst = out + (size_t)idx[k] * COLO_PAGE_SIZE;

        if (err[k] == 0)
            memcpy(dst, (unsigned char *)map + (size_t)k * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
        else
            memset(dst, 0, COLO_PAGE_SIZE);     /* not RAM: reads as zeros */
    }
    unmap_pfns(d, map, m);
    if (holes)
        colo_debug("xen: %" PRIu32 " of %" PRIu32 " pfns from %#" PRIx64 " of domain %" PRIu32
                   " are not RAM; read as zeros", holes, m, (uint64_t)arr[0], d->domid);
    return 0;
}

/*
 * Find every hole: map all pfns, a batch at a time, and copy nothing.
 * Reading them instead (colo_xen_read_pages) would zero a page for each
 * hole, 4 GiB of memset for a small HVM guest: about 19 s of the ~30 s a
 * first pass took in the lab under TCG, where mapping took about 10 s.
 * Once per domain; the cache stays exact afterwards (xen-domain.h).
 */
static int scan_holes(struct colo_domain *d)
{
    xen_pfn_t arr[COLO_MAX_PAGE_BATCH];
    int err[COLO_MAX_PAGE_BATCH];

    if (d->holes_scanned)
        return 0;
    if (hole_cache(d) < 0)
        return -1;
    for (uint64_t start = 0; start < d->nr_pages; start += COLO_MAX_PAGE_BATCH) {
        uint64_t end = d->nr_pages - start < COLO_MAX_PAGE_BATCH ? d->nr_pages :
                       start + COLO_MAX_PAGE_BATCH;
        uint32_t m = 0, holes = 0;
        void *map;

        for (uint64_t p = start; p < end; p++)
            if (!colo_bitmap_test(&d->hole, p))
                arr[m++] = (xen_pfn_t)p;
        if (m == 0)
            continue;
        if (!(map = map_pfns(d, arr, m, err, &holes)))
            return -1;
        unmap_pfns(d, map, m);
    }
    d->holes_scanned = true;
    return 0;
}

/*
 * The pfns that may hold data: everything but the holes.  The first call
 * scans for them (about 1M pfns for a small HVM guest, nearly all holes);
 * later ones (--verify's digests) read the cache, which stays exact.
 */
int colo_xen_ram_pfns(struct colo_domain *d, struct colo_bitmap *map)
{
    bool first = !d->holes_scanned;
    uint64_t ram = 0;

    if (d->xcs)
        return colo_xen_xcs_ram_pfns(d, map);
    if (scan_holes(d) < 0)
        return -1;
    for (uint64_t p = 0; p < d->nr_pages; p++)
        if (!colo_bitmap_test(&d->hole, p)) {
            colo_bitmap_set(map, p);
            ram++;
        }
    if (first)
        colo_info("xen: domain %" PRIu32 ": %" PRIu64 " of %" PRIu64 " pfns are RAM (%" PRIu64
                  " MiB); the rest are holes", d->domid, ram, d->nr_pages, ram / 256);
    return 0;
}

/*
 * Give the SVM pages at the pfns the PVM has RAM at and the SVM lacks, then
 * write them.  Rare (RAM relocated by hvmloader), so done one by one.
 */
static int populate_and_write(struct colo_domain *d, xen_pfn_t pfn, const void *page)
{
    xen_pfn_t p = pfn;
    int err = 0;
    void *map;

    if (xc_domain_populate_physmap_exact(d->xch, d->domid, 1, 0, 0, &p) < 0) {
        colo_log_errno("xen: cannot populate pfn %#" PRIx64 " of domain %" PRIu32
                       " (SVM maxmem too small?)", (uint64_t)pfn, d->domid);
        return -1;
    }
    p = pfn;
    map = xenforeignmemory_map(d->fmem, d->domid, PROT_READ | PROT_WRITE, 1, &p, &err);
    if (!map || err) {
        if (map) {
            xenforeignmemory_unmap(d->fmem, map, 1);
            errno = err < 0 ? -err : err;   /* the page's own error, an errno value */
        }
        colo_log_errno("xen: cannot map new pfn %#" PRIx64 " of domain %" PRIu32,
                       (uint64_t)pfn, d->domid);
        return -1;
    }
    memcpy(map, page, COLO_PAGE_SIZE);
    xenforeignmemory_unmap(d->fmem, map, 1);
    return 0;
}

int colo_xen_write_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                         const void *buf)
{
    xen_pfn_t arr[COLO_MAX_PAGE_BATCH];
    int err[COLO_MAX_PAGE_BATCH];
    uint32_t idx[COLO_MAX_PAGE_BATCH];          /* arr[k] is pfns[idx[k]] */
    uint32_t missing[COLO_MAX_PAGE_BATCH];      /* indexes into pfns */
    uint32_t nmissing = 0, skipped = 0, m = 0;
    const unsigned char *in = buf;
    void *map = NULL;

    if (n == 0)
        return 0;
    if (check_batch(d, pfns, n, arr) < 0 || hole_cache(d) < 0)
        return -1;
    /* A known hole needs no mapping: zeros stay a hole, data populates it. */
    for (uint32_t i = 0; i < n; i++) {
        if (!colo_bitmap_test(&d->hole, pfns[i])) {
            idx[m] = i;
            arr[m++] = (xen_pfn_t)pfns[i];
        } else if (colo_xen_hole_action(in + (size_t)i * COLO_PAGE_SIZE) == COLO_XEN_HOLE_SKIP) {
            skipped++;
        } else {
            missing[nmissing++] = i;
        }
    }
    if (m > 0) {
        map = xenforeignmemory_map(d->fmem, d->domid, PROT_READ | PROT_WRITE, m, arr, err);
        if (!map) {
            colo_log_errno("xen: cannot map %" PRIu32 " pages of domain %" PRIu32 " from pfn %#"
                           PRIx64 " for writing", m, d->domid, (uint64_t)arr[0]);
            return -1;
        }
    }
    for (uint32_t k = 0; k < m; k++) {
        const unsigned char *src = in + (size_t)idx[k] * COLO_PAGE_SIZE;

        if (err[k] == 0) {
            memcpy((unsigned char *)map + (size_t)k * COLO_PAGE_SIZE, src, COLO_PAGE_SIZE);
        } else if (colo_xen_hole_action(src) == COLO_XEN_HOLE_SKIP) {
            colo_bitmap_set(&d->hole, arr[k]);
            skipped++;
        } else {
            missing[nmissing++] = idx[k];
        }
    }
    if (map && xenforeignmemory_unmap(d->fmem, map, m) < 0)
        colo_log_errno("xen: unmapping pages of domain %" PRIu32, d->domid);
    for (uint32_t k = 0; k < nmissing; k++) {
        uint32_t i = missing[k];

        if (populate_and_write(d, (xen_pfn_t)pfns[i], in + (size_t)i * COLO_PAGE_SIZE) < 0)
            return -1;
        colo_bitmap_clear(&d->hole, pfns[i]);
    }
    if (nmissing)
        colo_debug("xen: domain %" PRIu32 ": %" PRIu32 " zero pages left as holes, %" PRIu32
                   " pfns populated", d->domid, skipped, nmissing);
    return 0;
}
