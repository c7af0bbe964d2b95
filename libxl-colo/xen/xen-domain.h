/*
 * xen-domain.h - the xen backend's private domain state, shared by the
 * files that implement struct colo_backend colo_backend_xen:
 *
 *   xen-domain.c    open/close/destroy, get_info, suspend/resume, the table
 *   xen-memory.c    log-dirty and page copies (xenforeignmemory)
 *   xen-device.c    device state: HVM context + params + qemu-xen via QMP
 *   xen-svm.c       create_secondary: build the SVM with libxl
 *   xen-xlcfg.c     the xl.cfg subset the SVM is built from
 *   xen-xcsave.c    save=libxenguest: the primary on xc_domain_save's loop
 *   xen-xcrestore.c restore=libxenguest: the secondary on xc_domain_restore's
 *
 * See docs/xen-backend.md for the design.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_DOMAIN_H
#define COLO_XEN_DOMAIN_H

#include "xen-sys.h"

#include <stdbool.h>
#include <stdint.h>

#include "colo-backend.h"
#include "colo-bitmap.h"
#include "xen-spec.h"

struct colo_domain {
    struct colo_xen_spec spec;
    char     name[COLO_XEN_NAME_MAX];
    uint32_t domid;
    uint64_t nr_pages;          /* pfns 0 .. nr_pages-1 are replicated */
    bool     secondary;         /* we created it (the SVM) */
    bool     fresh;             /* SVM still holds libxl's creation pause */
    bool     suspended;         /* we shut it down with SHUTDOWN_suspend */
    bool     qemu_stopped;      /* we sent QMP "stop" and no "cont" yet */
    bool     logdirty;          /* Xen log-dirty mode on (by us) */
    bool     qemu_logdirty;     /* qemu-xen global dirty log on (by us) */
    /* SVM: what happens to qemu's device state at checkpoints (LOAD, KEEP, RESTART). */
    enum colo_xen_qemu_state qemu_mode;
    char    *dm_cmdline;        /* RESTART: qemu-xen's argv as libxl built it */
    size_t   dm_cmdline_len;
    char     qmp_path[COLO_XEN_SUN_PATH_MAX];

    xc_interface            *xch;
    xenforeignmemory_handle *fmem;
    libxl_ctx               *ctx;
    xentoollog_logger_stdiostream *logger;

    /*
     * pfns known to be holes (Xen could not map them).  An HVM guest's pfn
     * space reaches the special pages below 4 GiB whatever its RAM, so most
     * pfns are holes, and mapping each one again at every full pass (the
     * initial copy, --verify digests) costs more than the RAM itself.  A
     * hole can only turn into RAM by being populated, and populated pages
     * read as zeros until written - a write shows up in the dirty log,
     * where dirty_read_clear forgets the pfn's hole bit.  So reading a
     * known hole as zeros without asking Xen is exact.  Empty (nbits 0)
     * until the first read or write.
     */
    struct colo_bitmap       hole;
    bool                     holes_scanned;  /* every hole is in it (ram_pfns) */

    /* save=libxenguest: libxenguest's save loop and its shadow (xen-xcsave.c);
     * NULL in the pages mode and before log-dirty is enabled. */
    struct colo_xen_xcsave  *xcs;
    /* restore=libxenguest: libxenguest's restore loop (xen-xcrestore.c);
     * NULL in the pages mode and after a failover. */
    struct colo_xen_xcrestore *xcr;

    /* The log-dirty bitmap Xen fills, in hypercall-safe memory. */
    xc_hypercall_buffer_t    dirty_hbuf;
    unsigned                 dirty_hbuf_pages;
};

/* Allocate a domain with handles open (xc, foreignmemory, libxl); NULL on failure. */
struct colo_domain *colo_xen_domain_new(const struct colo_xen_spec *spec);
/* Close the handles and free the domain (the Xen domain is left alone). */
void colo_xen_domain_free(struct colo_domain *d);
/* Fill d->qmp_path from the spec or the libxl default for d->domid. */
void colo_xen_set_qmp_path(struct colo_domain *d);

/* xen-memory.c */
int  colo_xen_logdirty_enable(struct colo_domain *d);
int  colo_xen_logdirty_disable(struct colo_domain *d);
/* Tell qemu-xen to report (or stop reporting) its writes to guest memory (QMP). */
int  colo_xen_qemu_logdirty(struct colo_domain *d, bool enable);
int  colo_xen_dirty_read_clear(struct colo_domain *d, struct colo_bitmap *into);
/* OR the dirty log into 'into' without restarting it (save=libxenguest). */
int  colo_xen_dirty_peek(struct colo_domain *d, struct colo_bitmap *into);
int  colo_xen_ram_pfns(struct colo_domain *d, struct colo_bitmap *map);
int  colo_xen_read_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf);
int  colo_xen_write_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                          const void *buf);
void colo_xen_dirty_buffer_free(struct colo_domain *d);

/* xen-device.c */
int  colo_xen_save_device(struct colo_domain *d, void **blob, size_t *len);
int  colo_xen_load_device(struct colo_domain *d, const void *blob, size_t len);
int  colo_xen_vcpu_state(struct colo_domain *d, void **buf, size_t *len);
/* QMP "stop" / "cont", tracked in d->qemu_stopped. */
int  colo_xen_qemu_stop(struct colo_domain *d);
int  colo_xen_qemu_cont(struct colo_domain *d);

/* xen-dm.c: qemu-state=restart */
/* Keep the command line of the SVM's qemu-xen, for restarts. */
int  colo_xen_dm_capture(struct colo_domain *d);
/* Start the SVM's qemu-xen again, loading the device state in state_path. */
int  colo_xen_dm_restart(struct colo_domain *d, const char *state_path);

/* xen-xcsave.c: save=libxenguest (the primary's memory and HVM context from
 * xc_domain_save's COLO stream; see the top of that file) */
int  colo_xen_xcs_start(struct colo_domain *d);             /* at logdirty_enable */
void colo_xen_xcs_stop(struct colo_domain *d);              /* let libxenguest go */
int  colo_xen_xcs_suspend_begin(struct colo_domain *d);     /* wait for it to ask */
void colo_xen_xcs_suspended(struct colo_domain *d);         /* ... and let it go on */
void colo_xen_xcs_resumed(struct colo_domain *d);
int  colo_xen_xcs_peer_dirty(struct colo_domain *d, const struct colo_bitmap *svm);
int  colo_xen_xcs_dirty_read_clear(struct colo_domain *d, struct colo_bitmap *into);
int  colo_xen_xcs_dirty_rest(struct colo_domain *d, const struct colo_bitmap *sent,
                             struct colo_bitmap *into);
/* The pages of pfns (ascending) the checkpoint has, waiting for the
 * stream to bring them while it is still coming; got[i] says which.  The
 * rest are the guest's own: map them.  -1 if the stream did not come. */
int  colo_xen_xcs_read_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf,
                             bool *got);
/* The same pages without a copy: ptr[i] NULL where the checkpoint does not
 * have pfns[i]; returns how many it has, or -1. */
int  colo_xen_xcs_page_refs(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                            const void **ptr);
int  colo_xen_xcs_ram_pfns(struct colo_domain *d, struct colo_bitmap *map);
/* The last checkpoint's HVM context (malloc'd); NULL if none (said why). */
uint8_t *colo_xen_xcs_hvm_context(struct colo_domain *d, int *size);

/* xen-xcrestore.c: restore=libxenguest (each checkpoint applied to the SVM
 * by xc_domain_restore's COLO loop; see the top of that file) */
int  colo_xen_xcr_start(struct colo_domain *d);             /* at create_secondary */
void colo_xen_xcr_stop(struct colo_domain *d);              /* let libxenguest go */
int  colo_xen_xcr_write_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                              const void *buf);
/* The HVM context and the params to set (those that differ from the SVM's). */
int  colo_xen_xcr_device(struct colo_domain *d, const void *hvm_ctx, uint32_t hvm_ctx_len,
                         const uint64_t *index, const uint64_t *value, uint32_t n);
int  colo_xen_xcr_commit(struct colo_domain *d);            /* CHECKPOINT, wait until applied */
bool colo_xen_xcr_applied(struct colo_domain *d);           /* ... and not yet resumed */
void colo_xen_xcr_resumed(struct colo_domain *d);
void colo_xen_xcr_suspended(struct colo_domain *d);
int  colo_xen_xcr_dirty(struct colo_domain *d, struct colo_bitmap *into);

/* xen-svm.c */
int  colo_xen_create_secondary(const struct colo_domain_spec *spec,
                               const struct colo_domain_info *info,
                               struct colo_domain **out);

#endif
