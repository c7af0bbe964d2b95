/*
 * colo-backend.h - the domain backend interface.
 *
 * The checkpoint engine (colo-primary.c, colo-secondary.c) never talks to a
 * hypervisor.  It drives a domain through these operations, in the spirit of
 * libxenguest's save/restore callbacks: the backend knows how to stop, start,
 * read and write one kind of domain; the engine knows when.
 *
 *   xen  - a real Xen domain (libxenctrl, libxenforeignmemory, libxenguest,
 *          libxl, QMP to qemu-xen).  See xen/ and docs/architecture.md.
 *   sim  - a simulated guest for machines without Xen: a memfd of guest RAM
 *          written by a workload process, dirty pages logged by the kernel
 *          (userfaultfd write-protect + PAGEMAP_SCAN).  See sim/.
 *
 * All operations return 0 on success and -1 on failure, after logging what
 * failed with colo_log(); errno is preserved where it means something.
 */
#ifndef COLO_BACKEND_H
#define COLO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colo-bitmap.h"

struct colo_domain;                 /* backend-private */

/* What the engine needs to know about a domain to replicate it. */
struct colo_domain_info {
    char     name[64];
    int64_t  domid;                 /* the hypervisor's id (xen); -1: none (sim) */
    uint64_t nr_pages;              /* pfns 0 .. nr_pages-1 are replicated */
    uint32_t page_size;             /* always COLO_PAGE_SIZE today */
};

/*
 * A domain specification as the operator wrote it: backend-specific
 * "key=value,key=value" options (sim: mem=64M,rate=20000,pattern=hotset;
 * xen: domid or name).  Parsed by the backend, which names a bad key.
 */
struct colo_domain_spec {
    const char *name;
    const char *options;
};

struct colo_backend {
    const char *name;

    /* Primary: take hold of the running domain to protect (sim: start it). */
    int  (*open_primary)(const struct colo_domain_spec *spec, struct colo_domain **out);
    /*
     * Secondary: create the domain that will become the SVM, with room for
     * info->nr_pages pages, paused and not yet runnable.  It is filled by
     * write_pages() and load_device() and first runs at resume().
     */
    int  (*create_secondary)(const struct colo_domain_spec *spec,
                             const struct colo_domain_info *info,
                             struct colo_domain **out);
    void (*get_info)(struct colo_domain *d, struct colo_domain_info *out);

    /* Stop / continue the vCPUs at a point where their state is complete. */
    int  (*suspend)(struct colo_domain *d);
    int  (*resume)(struct colo_domain *d);

    /* Dirty logging.  dirty_read_clear ORs the pages written since the last
     * call (or since enable) into 'into' and restarts the log. */
    int  (*logdirty_enable)(struct colo_domain *d);
    int  (*logdirty_disable)(struct colo_domain *d);
    int  (*dirty_read_clear)(struct colo_domain *d, struct colo_bitmap *into);

    /* Optional, primary: the SVM's dirty pfns for this checkpoint, handed
     * over before dirty_read_clear, for a backend whose own save loop
     * merges them (xen with save=libxenguest: libxenguest reads them on its
     * back channel before it sends the checkpoint's pages).  When set, the
     * engine reads the dirty log only after the SVM's list has come. */
    int  (*peer_dirty)(struct colo_domain *d, const struct colo_bitmap *svm_dirty);

    /* Optional, primary: called once the pages dirty_read_clear named
     * (with the SVM's) are sent; sets in 'into' (cleared by the caller)
     * the pages the checkpoint must send as well.  For a backend that
     * names pages before its set is final (xen with save=libxenguest:
     * what Xen's log showed at suspend, sent while libxenguest streams;
     * the rest once its stream has the whole checkpoint).  'sent' is what
     * went out.  A pfn may be named again: the secondary applies the
     * last copy. */
    int  (*dirty_rest)(struct colo_domain *d, const struct colo_bitmap *sent,
                       struct colo_bitmap *into);

    /* Copy pages out of / into guest memory; pfns ascending, n <= COLO_MAX_PAGE_BATCH. */
    int  (*read_pages)(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf);
    int  (*write_pages)(struct colo_domain *d, const uint64_t *pfns, uint32_t n, const void *buf);

    /* Optional, secondary: every page and the device state of a committed
     * checkpoint have been handed over (write_pages, load_device); make
     * them the SVM's before returning, for a backend that applies a
     * checkpoint as a whole (xen with restore=libxenguest: libxenguest
     * buffers it and applies it at its CHECKPOINT record).  The SVM stays
     * suspended until resume().  A resume() with no commit() since the
     * last suspend() is a failover: what was handed over is dropped. */
    int  (*commit)(struct colo_domain *d);

    /* Optional: the address of page pfn in this process, for backends whose
     * guest RAM is mapped here (sim); NULL for a pfn outside the guest.  The
     * primary then sends pages straight from guest memory (the secondary
     * buffers a checkpoint and applies it with write_pages). */
    void *(*page_ptr)(struct colo_domain *d, uint64_t pfn);

    /* Optional, primary: pages the backend holds in memory of its own that
     * stays put until the PVM resumes (xen with save=libxenguest: the
     * stream's records), to send without a copy.  Sets ptr[i] to page
     * pfns[i] or to NULL where it has none (the engine then reads those
     * with read_pages); pfns ascending, n <= COLO_MAX_PAGE_BATCH.  Returns
     * how many it has, or -1; when 0, ptr need not be set at all (xen with
     * save=pages holds none). */
    int  (*page_refs)(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                      const void **ptr);

    /* Optional: set in 'map' (cleared by the caller) every pfn that may
     * hold guest data.  The others are holes - never RAM, read as zeros -
     * and the initial copy skips them.  For a guest whose pfn space is
     * mostly holes (an HVM guest spans up to the 4 GiB special pages
     * whatever its RAM) this is the difference between copying the RAM and
     * copying 4 GiB of zeros.  NULL: every pfn is copied.  --verify's
     * digests call it again, at any checkpoint: the map must then cover
     * every pfn that holds data at that moment (more is harmless). */
    int  (*ram_pfns)(struct colo_domain *d, struct colo_bitmap *map);

    /* vCPU and device-model state as one opaque blob (malloc'd by save). */
    int  (*save_device)(struct colo_domain *d, void **blob, size_t *len);
    int  (*load_device)(struct colo_domain *d, const void *blob, size_t len);

    /* Optional, for --verify: the vCPU registers as the hypervisor holds
     * them now (malloc'd), leaving out what legitimately differs between
     * two domains in the same state (xen: the TSC, read off the clock).
     * Equal bytes on PVM and SVM at a checkpoint = the same vCPU context.
     * NULL where the backend has no vCPU state of its own (sim). */
    int  (*vcpu_state)(struct colo_domain *d, void **buf, size_t *len);

    /* Optional: a guest-visible progress counter, for tests and the demo
     * (sim: page writes done).  NULL where the backend has none. */
    uint64_t (*guest_progress)(struct colo_domain *d);

    /* Destroy the domain (secondary after a failed start; tests). */
    void (*destroy)(struct colo_domain *d);
    /* Let go of the domain, leaving it as it is (running, if it runs). */
    void (*close)(struct colo_domain *d);
};

extern const struct colo_backend colo_backend_sim;
extern const struct colo_backend colo_backend_xen;

/* Look a backend up by name ("sim", "xen"); NULL if there is none. */
const struct colo_backend *colo_backend_find(const char *name);

/* True if the page (COLO_PAGE_SIZE bytes) is all zeros: what a hole reads
 * as, so digests skip such pages and the xen backend leaves them holes. */
bool colo_page_is_zero(const void *page);

#endif
