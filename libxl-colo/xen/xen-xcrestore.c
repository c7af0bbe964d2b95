/*
 * xen-xcrestore.c - restore=libxenguest: each checkpoint reaches the SVM
 * through libxenguest's own COLO restore loop, xc_domain_restore(...,
 * XC_STREAM_COLO, ..., send_back_fd), instead of page-by-page foreign
 * mappings.  The secondary's counterpart of xen-xcsave.c.
 *
 * The engine keeps its loop, its protocol and its buffering (a checkpoint
 * is only handed over once its end record is in); libxenguest gets a
 * migration stream of its own, written here (xc-stream.c), and the two
 * loops meet at libxenguest's callbacks:
 *
 *   restore thread  runs xc_domain_restore.  Before the first CHECKPOINT
 *                   record it applies what comes at once (the initial
 *                   copy); after it, it buffers a checkpoint's records and
 *                   applies them at its CHECKPOINT.  Then postcopy waits
 *                   until the engine has resumed the SVM, wait_checkpoint
 *                   until it has suspended it again, and libxenguest
 *                   CLEANs Xen's dirty log and writes the SVM's dirty pfns
 *                   on the back channel.
 *   engine thread   write_pages / load_device write PAGE_DATA,
 *                   HVM_CONTEXT and HVM_PARAMS records; commit writes the
 *                   CHECKPOINT record and waits until libxenguest has
 *                   applied it (it is in postcopy); resume lets postcopy
 *                   return; suspend lets wait_checkpoint return;
 *                   dirty_read_clear reads libxenguest's list.
 *
 * The SVM is still built by libxl (xen-svm.c): Debian's libxl has no COLO
 * restore path (docs/xen-backend.md).  So, unlike a migration, the domain
 * libxenguest restores into already has memory, and libxenguest populates
 * every pfn the first time its stream names it - over a page already
 * there, Xen would orphan the old page in the domain.  So the first time
 * a pfn goes to libxenguest, the SVM's own page there is released first
 * (XENMEM_decrease_reservation; the SVM is paused or suspended whenever
 * this runs).  Two kinds of page never go to libxenguest, and are written
 * through foreign mappings as in the pages mode: the xenstore and console
 * rings, which xenstored and xenconsoled hold mapped - a new page there
 * would cut the SVM off from both.  qemu-xen holds the video RAM mapped
 * too; restarting it at each checkpoint (qemu-state=restart) maps it
 * afresh, so restore=libxenguest requires that mode.
 *
 * A resume() with no checkpoint handed over since the suspend is a
 * failover (the primary was lost while the checkpoint came): the stream
 * is shut, libxenguest drops what it buffered and returns ("COLO
 * Failover"), and the SVM runs on from the last checkpoint.  From then on
 * the domain is an ordinary one, served by the pages mode.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xen/hvm/params.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "colo-proto.h"
#include "xc-stream.h"
#include "xen-devstate.h"
#include "xen-domain.h"

/* Pages that never go to libxenguest (above): the SVM's rings. */
#define NR_KEPT 4

struct colo_xen_xcrestore {
    xc_interface   *xch;            /* the restore thread's own handle */
    int             io[2];          /* the engine writes [1], libxenguest reads [0] */
    int             back[2];        /* libxenguest writes [1], the engine reads [0] */
    pthread_t       thread;
    bool            have_thread;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    unsigned        wait_ms;        /* bound on every wait for libxenguest */

    /* Rendezvous, under lock. */
    bool applied;                   /* libxenguest waits in postcopy: applied */
    bool resumed;                   /* the engine resumed the SVM */
    bool want;                      /* the engine suspended it: next checkpoint */
    bool stop;                      /* failover or let go: callbacks say failover */
    bool done;                      /* xc_domain_restore returned ... */
    int  rc;                        /* ... this */

    /* The engine thread's own. */
    unsigned           ckpts;       /* CHECKPOINT records written */
    uint64_t           p2m_size;    /* libxenguest's view of the SVM */
    struct colo_bitmap given;       /* pfns libxenguest has had (and populated) */
    uint64_t           kept[NR_KEPT];
    unsigned           nkept;
    uint64_t           released, unbacked;  /* first sights: page freed, none there */
    uint64_t          *list;        /* the back channel's pfns */
    size_t             list_cap;
};

/* ---- the restore thread and libxenguest's callbacks ---- */

static struct colo_xen_xcrestore *of(void *data)
{
    return ((struct colo_domain *)data)->xcr;
}

static int cb_static_data_done(unsigned int missing, void *data)
{
    (void)data;
    /* libxl set the SVM's CPU policy from the same xl.cfg as the PVM's. */
    colo_debug("xen: libxenguest's restore: static data done (CPUID/MSR policy %s)",
               missing ? "left as libxl set it" : "from the stream");
    return 0;
}

static int cb_checkpoint(void *data)
{
    struct colo_xen_xcrestore *x = of(data);
    int r;

    pthread_mutex_lock(&x->lock);
    r = x->stop ? XGR_CHECKPOINT_FAILOVER : XGR_CHECKPOINT_SUCCESS;
    pthread_mutex_unlock(&x->lock);
    return r;
}

static void cb_restore_results(xen_pfn_t store_gfn, xen_pfn_t console_gfn, void *data)
{
    (void)data;
    colo_debug("xen: libxenguest's restore: xenstore gfn %#" PRIx64 ", console gfn %#" PRIx64,
               (uint64_t)store_gfn, (uint64_t)console_gfn);
}

/* The checkpoint is the SVM's: say so, and wait for the engine's resume. */
static int cb_postcopy(void *data)
{
    struct colo_xen_xcrestore *x = of(data);
    int r;

    pthread_mutex_lock(&x->lock);
    x->applied = true;
    pthread_cond_broadcast(&x->cond);
    while (!x->stop && !x->resumed)
        pthread_cond_wait(&x->cond, &x->lock);
    r = x->stop ? 2 : 1;
    x->applied = x->resumed = false;
    pthread_mutex_unlock(&x->lock);
    return r;
}

static int cb_wait_checkpoint(void *data)
{
    struct colo_xen_xcrestore *x = of(data);
    int r;

    pthread_mutex_lock(&x->lock);
    while (!x->stop && !x->want)
        pthread_cond_wait(&x->cond, &x->lock);
    r = x->stop ? 2 : 1;
    x->want = false;
    pthread_mutex_unlock(&x->lock);
    return r;
}

/* The engine suspended the SVM before it let wait_checkpoint return. */
static int cb_suspend(void *data)
{
    struct colo_xen_xcrestore *x = of(data);
    int r;

    pthread_mutex_lock(&x->lock);
    r = x->stop ? 2 : 1;
    pthread_mutex_unlock(&x->lock);
    return r;
}

struct restore_args {
    struct colo_domain *d;
    unsigned store_evtchn, console_evtchn;
};

static void *restore_main(void *arg)
{
    struct restore_args a = *(struct restore_args *)arg;
    struct colo_domain *d = a.d;
    struct colo_xen_xcrestore *x = d->xcr;
    struct restore_callbacks cb = {
        .static_data_done = cb_static_data_done, .suspend = cb_suspend,
        .postcopy = cb_postcopy, .checkpoint = cb_checkpoint,
        .wait_checkpoint = cb_wait_checkpoint, .restore_results = cb_restore_results,
        .data = d,
    };
    unsigned long store_gfn = 0, console_gfn = 0;
    bool stopped;
    int rc;

    free(arg);
    rc = xc_domain_restore(x->xch, x->io[0], d->domid, a.store_evtchn, &store_gfn, 0,
                           a.console_evtchn, &console_gfn, 0, XC_STREAM_COLO, &cb, x->back[1]);
    shutdown(x->back[1], SHUT_WR);      /* a reader of the list sees the end */
    pthread_mutex_lock(&x->lock);
    x->done = true;
    x->rc = rc;
    stopped = x->stop;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    if (rc != 0 || !stopped)
        colo_err("xen: libxenguest's restore into domain %" PRIu32 " ended (%d)%s", d->domid,
                 rc, stopped ? "" : " while the engine still needed it");
    else
        colo_info("xen: libxenguest's restore into domain %" PRIu32 " let go (failover "
                  "or end of replication)", d->domid);
    return NULL;
}

/* ---- writing the stream ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool restore_done(struct colo_xen_xcrestore *x)
{
    bool done;

    pthread_mutex_lock(&x->lock);
    done = x->done;
    pthread_mutex_unlock(&x->lock);
    return done;
}

/*
 * Write all of iov to libxenguest.  The socket is non-blocking so that a
 * libxenguest that has returned (and reads no more) turns into an error,
 * not a hang; wait_ms bounds a libxenguest that is merely slow.
 */
static int put(struct colo_domain *d, struct iovec *iov, size_t n, const char *what)
{
    struct colo_xen_xcrestore *x = d->xcr;
    int64_t deadline = now_ms() + x->wait_ms;

    while (n > 0) {
        ssize_t w = writev(x->io[1], iov, n > IOV_MAX ? IOV_MAX : (int)n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = { .fd = x->io[1], .events = POLLOUT };

            if (restore_done(x)) {
                colo_err("xen: libxenguest's restore has ended; cannot hand it %s", what);
                return -1;
            }
            if (now_ms() > deadline) {
                colo_err("xen: libxenguest took nothing of %s for %u ms", what, x->wait_ms);
                errno = ETIMEDOUT;
                return -1;
            }
            poll(&p, 1, 100);
            continue;
        }
        if (w < 0) {
            colo_log_errno("xen: cannot hand libxenguest %s", what);
            return -1;
        }
        colo_iov_advance(&iov, &n, (size_t)w);
    }
    return 0;
}

static int put_record(struct colo_domain *d, uint32_t type, const void *body, uint32_t len,
                      const char *what)
{
    static const uint8_t zero[8];
    uint8_t hdr[COLO_XCS_RHDR_SIZE];
    struct iovec iov[3] = {
        { hdr, colo_xcs_enc_rec_header(hdr, sizeof(hdr), type, len) },
        { (void *)body, len },
        { (void *)zero, colo_xcs_padded(len) - len },
    };

    if (!iov[0].iov_len) {
        colo_err("xen: %s (%" PRIu32 " bytes) is too large for a libxenguest record", what, len);
        return -1;
    }
    return put(d, iov, 3, what);
}

static bool kept(const struct colo_xen_xcrestore *x, uint64_t pfn)
{
    for (unsigned i = 0; i < x->nkept; i++)
        if (x->kept[i] == pfn)
            return true;
    return false;
}

/*
 * Free the SVM's own pages at pfns libxenguest is about to see for the
 * first time (it populates them anew).  decrease_reservation stops at the
 * first pfn without a page; such a pfn is skipped.
 */
static int release(struct colo_domain *d, xen_pfn_t *pfns, uint32_t n)
{
    struct colo_xen_xcrestore *x = d->xcr;
    uint32_t i = 0;

    while (i < n) {
        int rc = xc_domain_decrease_reservation(d->xch, d->domid, n - i, 0, pfns + i);

        if (rc < 0) {
            colo_log_errno("xen: cannot release pages of domain %" PRIu32 " from pfn %#"
                           PRIx64, d->domid, (uint64_t)pfns[i]);
            return -1;
        }
        x->released += (uint64_t)rc;
        i += (uint32_t)rc;
        if (i < n) {
            x->unbacked++;      /* no page at pfns[i]: nothing to free */
            i++;
        }
    }
    return 0;
}

int colo_xen_xcr_write_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                             const void *buf)
{
    struct colo_xen_xcrestore *x = d->xcr;
    xen_pfn_t fresh[COLO_MAX_PAGE_BATCH];
    uint64_t mine[COLO_MAX_PAGE_BATCH];
    uint8_t prefix[COLO_XCS_RHDR_SIZE + 8 + 8 * COLO_MAX_PAGE_BATCH];
    struct iovec iov[1 + COLO_MAX_PAGE_BATCH];    /* at most one per page */
    const uint8_t *in = buf;
    uint32_t nfresh = 0, m = 0;
    size_t k = 1;

    if (n == 0)
        return 0;
    if (n > COLO_MAX_PAGE_BATCH || n > COLO_XCS_MAX_PAGES) {
        colo_err("xen: a batch of %" PRIu32 " pages is more than libxenguest's record holds", n);
        errno = EINVAL;
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (pfns[i] >= x->given.nbits) {
            colo_err("xen: pfn %#" PRIx64 " is beyond the SVM's %" PRIu64 " pfns", pfns[i],
                     x->given.nbits);
            errno = EINVAL;
            return -1;
        }
        if (kept(x, pfns[i])) {
            if (colo_xen_write_pages(d, &pfns[i], 1, in + (size_t)i * COLO_PAGE_SIZE) < 0)
                return -1;
            continue;
        }
        if (!colo_bitmap_test(&x->given, pfns[i]))
            fresh[nfresh++] = (xen_pfn_t)pfns[i];
        mine[m] = pfns[i];
        /* Runs of pages that lie next to each other in buf go as one iovec. */
        if (k > 1 && (const uint8_t *)iov[k - 1].iov_base + iov[k - 1].iov_len ==
                         in + (size_t)i * COLO_PAGE_SIZE)
            iov[k - 1].iov_len += COLO_PAGE_SIZE;
        else
            iov[k++] = (struct iovec){ (void *)(in + (size_t)i * COLO_PAGE_SIZE), COLO_PAGE_SIZE };
        m++;
    }
    if (m == 0)
        return 0;
    if (nfresh && release(d, fresh, nfresh) < 0)
        return -1;
    iov[0] = (struct iovec){ prefix, colo_xcs_enc_page_prefix(prefix, sizeof(prefix), mine, m) };
    if (!iov[0].iov_len) {
        colo_err("xen: cannot frame %" PRIu32 " pages for libxenguest", m);
        return -1;
    }
    if (put(d, iov, k, "pages") < 0)
        return -1;
    for (uint32_t i = 0; i < m; i++) {
        colo_bitmap_set(&x->given, mine[i]);
        /* libxenguest populates what was a hole: no longer one. */
        if (d->hole.nbits && mine[i] < d->hole.nbits)
            colo_bitmap_clear(&d->hole, mine[i]);
    }
    return 0;
}

int colo_xen_xcr_device(struct colo_domain *d, const void *hvm_ctx, uint32_t hvm_ctx_len,
                        const uint64_t *index, const uint64_t *value, uint32_t n)
{
    uint8_t rec[COLO_XCS_RHDR_SIZE + 8 + 16 * COLO_XDS_MAX_PARAMS];
    struct iovec iov = { rec, 0 };

    if (put_record(d, COLO_XCS_HVM_CONTEXT, hvm_ctx, hvm_ctx_len, "the HVM context") < 0)
        return -1;
    if (n == 0)
        return 0;
    if (!(iov.iov_len = colo_xcs_enc_params(rec, sizeof(rec), index, value, n))) {
        colo_err("xen: cannot frame %" PRIu32 " HVM params for libxenguest", n);
        return -1;
    }
    return put(d, &iov, 1, "HVM params");
}

/* Wait (locked) until libxenguest waits in postcopy or has returned. */
static int wait_applied(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x = d->xcr;
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += x->wait_ms / 1000;
    until.tv_nsec += (long)(x->wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&x->lock);
    while (!x->applied && !x->done && rc == 0)
        rc = pthread_cond_timedwait(&x->cond, &x->lock, &until);
    rc = x->applied ? 0 : x->done ? -2 : -1;
    pthread_mutex_unlock(&x->lock);
    return rc;
}

int colo_xen_xcr_commit(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x = d->xcr;
    int rc;

    if (put_record(d, COLO_XCS_CHECKPOINT, NULL, 0, "the CHECKPOINT record") < 0)
        return -1;
    x->ckpts++;
    if ((rc = wait_applied(d)) < 0) {
        colo_err("xen: libxenguest did not apply checkpoint %u to domain %" PRIu32 ": %s",
                 x->ckpts, d->domid, rc == -2 ? "its restore ended" : "timed out");
        return -1;
    }
    if (x->ckpts == 1)
        colo_info("xen: domain %" PRIu32 ": libxenguest applied the first checkpoint (%"
                  PRIu64 " pfns populated by it, %" PRIu64 " of the SVM's own pages released)",
                  d->domid, colo_bitmap_count(&x->given), x->released);
    else
        colo_debug("xen: domain %" PRIu32 ": libxenguest applied checkpoint %u", d->domid,
                   x->ckpts);
    return 0;
}

bool colo_xen_xcr_applied(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x = d->xcr;
    bool applied;

    pthread_mutex_lock(&x->lock);
    applied = x->applied;
    pthread_mutex_unlock(&x->lock);
    return applied;
}

void colo_xen_xcr_resumed(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x = d->xcr;

    pthread_mutex_lock(&x->lock);
    x->resumed = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

void colo_xen_xcr_suspended(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x = d->xcr;

    pthread_mutex_lock(&x->lock);
    x->want = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

/* Read exactly len bytes of the back channel, bounded by wait_ms. */
static int get(struct colo_domain *d, void *buf, size_t len)
{
    struct colo_xen_xcrestore *x = d->xcr;
    int64_t deadline = now_ms() + x->wait_ms;
    uint8_t *p = buf;

    while (len > 0) {
        struct pollfd pf = { .fd = x->back[0], .events = POLLIN };
        int64_t left = deadline - now_ms();
        ssize_t r;

        if (left <= 0) {
            colo_err("xen: no dirty pfn list from libxenguest within %u ms", x->wait_ms);
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pf, 1, (int)(left < 1000 ? left : 1000)) <= 0)
            continue;
        r = read(x->back[0], p, len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            if (r == 0)
                colo_err("xen: libxenguest's back channel ended before its dirty pfn list");
            else
                colo_log_errno("xen: cannot read libxenguest's dirty pfn list");
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int colo_xen_xcr_dirty(struct colo_domain *d, struct colo_bitmap *into)
{
    struct colo_xen_xcrestore *x = d->xcr;
    uint8_t hdr[COLO_XCS_RHDR_SIZE];
    const char *why = NULL;
    uint64_t ignored = 0;
    uint32_t count;

    if (get(d, hdr, sizeof(hdr)) < 0)
        return -1;
    if (colo_xcs_dirty_list_header(hdr, x->p2m_size, &count, &why) < 0) {
        colo_err("xen: libxenguest's back channel: %s", why);
        errno = EPROTO;
        return -1;
    }
    if (count > x->list_cap) {
        uint64_t *l = realloc(x->list, (size_t)count * sizeof(*l));

        if (!l) {
            colo_err("xen: out of memory for %" PRIu32 " dirty pfns", count);
            return -1;
        }
        x->list = l;
        x->list_cap = count;
    }
    if (count && get(d, x->list, (size_t)count * 8) < 0)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t pfn = le64toh(x->list[i]);

        if (pfn >= into->nbits) {
            ignored++;
            continue;
        }
        colo_bitmap_set(into, pfn);
        /* A page the guest wrote is RAM, whatever it was (xen-domain.h). */
        if (d->hole.nbits && pfn < d->hole.nbits)
            colo_bitmap_clear(&d->hole, pfn);
    }
    if (ignored)
        colo_warn("xen: %" PRIu64 " dirty pfns of domain %" PRIu32 " are beyond the engine's "
                  "bitmap of %" PRIu64 " pages", ignored, d->domid, into->nbits);
    colo_debug("xen: domain %" PRIu32 ": %" PRIu32 " dirty pages from libxenguest", d->domid,
               count);
    return 0;
}

/* ---- start and stop ---- */

static int param(struct colo_domain *d, uint32_t index, uint64_t *v, const char *what)
{
    if (xc_hvm_param_get(d->xch, d->domid, index, v) < 0) {
        colo_log_errno("xen: cannot read the %s of domain %" PRIu32, what, d->domid);
        return -1;
    }
    return 0;
}

int colo_xen_xcr_start(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x;
    struct restore_args *a = NULL;
    struct colo_xcs_domain dom = { .type = COLO_XCS_DOMAIN_HVM, .version = 3 };
    uint64_t store_pfn, console_pfn, store_ev, console_ev, ioreq, bufioreq;
    uint64_t pidx[2] = { HVM_PARAM_STORE_PFN, HVM_PARAM_CONSOLE_PFN }, pval[2];
    uint8_t hdr[COLO_XCS_IHDR_SIZE + COLO_XCS_DHDR_SIZE + COLO_XCS_RHDR_SIZE];
    uint8_t prm[COLO_XCS_RHDR_SIZE + 8 + 32];
    struct iovec iov[2];
    xen_pfn_t gpfns;
    int ver;

    if (d->qemu_mode != COLO_XEN_QEMU_RESTART) {
        colo_err("xen: restore=libxenguest needs qemu-state=restart: libxenguest gives the "
                 "SVM new pages, and only a restarted qemu-xen maps its video RAM afresh");
        errno = EINVAL;
        return -1;
    }
    if (!(x = calloc(1, sizeof(*x)))) {
        colo_err("xen: out of memory");
        return -1;
    }
    d->xcr = x;
    x->io[0] = x->io[1] = x->back[0] = x->back[1] = -1;
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    /* A whole checkpoint is applied in one go, after the transfer. */
    x->wait_ms = 6 * d->spec.timeout_ms;
    signal(SIGPIPE, SIG_IGN);   /* a write to a stopped stream fails with EPIPE */
    if (xc_domain_nr_gpfns(d->xch, d->domid, &gpfns) < 0 || gpfns == 0) {
        colo_log_errno("xen: cannot size the p2m of domain %" PRIu32, d->domid);
        goto fail;
    }
    x->p2m_size = gpfns;
    if (colo_bitmap_init(&x->given, gpfns > d->nr_pages ? gpfns : d->nr_pages) < 0) {
        colo_log_errno("xen: cannot allocate the pfn map of domain %" PRIu32, d->domid);
        goto fail;
    }
    if (param(d, HVM_PARAM_STORE_PFN, &store_pfn, "xenstore ring pfn") < 0 ||
        param(d, HVM_PARAM_CONSOLE_PFN, &console_pfn, "console ring pfn") < 0 ||
        param(d, HVM_PARAM_STORE_EVTCHN, &store_ev, "xenstore event channel") < 0 ||
        param(d, HVM_PARAM_CONSOLE_EVTCHN, &console_ev, "console event channel") < 0 ||
        param(d, HVM_PARAM_IOREQ_PFN, &ioreq, "ioreq pfn") < 0 ||
        param(d, HVM_PARAM_BUFIOREQ_PFN, &bufioreq, "buffered ioreq pfn") < 0)
        goto fail;
    x->kept[x->nkept++] = store_pfn;
    x->kept[x->nkept++] = console_pfn;
    if (ioreq)
        x->kept[x->nkept++] = ioreq;
    if (bufioreq)
        x->kept[x->nkept++] = bufioreq;
    if ((ver = xc_version(d->xch, XENVER_version, NULL)) < 0) {
        colo_log_errno("xen: cannot read Xen's version");
        goto fail;
    }
    dom.xen_major = (uint32_t)ver >> 16;
    dom.xen_minor = (uint32_t)ver & 0xffff;
    if (!(x->xch = xc_interface_open((xentoollog_logger *)d->logger, NULL, 0)) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->io) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->back) < 0 ||
        fcntl(x->io[1], F_SETFL, O_NONBLOCK) < 0) {
        colo_log_errno("xen: cannot set up libxenguest's restore");
        goto fail;
    }
    /*
     * The stream's start: the headers, the end of static data (no CPU
     * policy: libxl set the SVM's from the same xl.cfg), and the ring
     * pfns, once.  libxenguest clears those two pages now, while nothing
     * uses them, and keeps their pfns for the grant entries it seeds at
     * each checkpoint; it is never given their contents (above).
     */
    if (!colo_xcs_enc_headers(hdr, sizeof(hdr), &dom) ||
        !colo_xcs_enc_rec_header(hdr + 40, 8, COLO_XCS_STATIC_DATA_END, 0))
        goto fail;
    pval[0] = store_pfn;
    pval[1] = console_pfn;
    iov[0] = (struct iovec){ hdr, sizeof(hdr) };
    iov[1] = (struct iovec){ prm, colo_xcs_enc_params(prm, sizeof(prm), pidx, pval, 2) };
    if (!(a = malloc(sizeof(*a))))
        goto fail;
    *a = (struct restore_args){ d, (unsigned)store_ev, (unsigned)console_ev };
    if (pthread_create(&x->thread, NULL, restore_main, a) != 0) {
        free(a);
        goto fail;
    }
    x->have_thread = true;
    if (put(d, iov, 2, "the stream's headers") < 0)
        goto fail;
    colo_info("xen: domain %" PRIu32 " (%s): libxenguest's COLO restore runs (p2m %#" PRIx64
              " pfns; xenstore pfn %#" PRIx64 ", console pfn %#" PRIx64 " kept out of it)",
              d->domid, d->name, x->p2m_size, store_pfn, console_pfn);
    return 0;
fail:
    colo_err("xen: cannot start libxenguest's restore into domain %" PRIu32, d->domid);
    colo_xen_xcr_stop(d);
    return -1;
}

void colo_xen_xcr_stop(struct colo_domain *d)
{
    struct colo_xen_xcrestore *x = d->xcr;

    if (!x)
        return;
    pthread_mutex_lock(&x->lock);
    x->stop = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    /* The stream's end: libxenguest, buffering, drops the checkpoint and
     * returns; a list it writes that nobody reads fails instead of
     * blocking. */
    for (int i = 0; i < 2; i++) {
        if (x->io[i] >= 0)
            shutdown(x->io[i], SHUT_RDWR);
        if (x->back[i] >= 0)
            shutdown(x->back[i], SHUT_RDWR);
    }
    if (x->have_thread)
        pthread_join(x->thread, NULL);
    for (int i = 0; i < 2; i++) {
        if (x->io[i] >= 0)
            close(x->io[i]);
        if (x->back[i] >= 0)
            close(x->back[i]);
    }
    if (x->xch)
        xc_interface_close(x->xch);
    if (x->ckpts)
        colo_info("xen: domain %" PRIu32 ": libxenguest applied %u checkpoints; %" PRIu64
                  " of the SVM's own pages released, %" PRIu64 " pfns had none", d->domid,
                  x->ckpts, x->released, x->unbacked);
    colo_bitmap_free(&x->given);
    free(x->list);
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    free(x);
    d->xcr = NULL;
}
