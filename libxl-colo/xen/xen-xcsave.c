/*
 * xen-xcsave.c - save=libxenguest: the PVM's memory and vCPU state come
 * from libxenguest's own COLO loop, xc_domain_save(XCFLAGS_LIVE,
 * XC_STREAM_COLO), instead of page-by-page foreign mappings.
 *
 * libxenguest owns a checkpoint loop, and so does the engine.  They meet
 * here (docs/xen-backend.md, "save=libxenguest"):
 *
 *   saver thread   runs xc_domain_save.  Its callbacks are rendezvous
 *                  points: suspend waits until the engine has suspended
 *                  the domain, postcopy until it has resumed it,
 *                  wait_checkpoint until it wants the next checkpoint.
 *   reader thread  reads the stream (xc-stream.c).  Before the first
 *                  CHECKPOINT record it keeps no page data: it learns the
 *                  guest's RAM from libxenguest's first pass, and which
 *                  pfns libxenguest sent again after it.  Each later
 *                  checkpoint's pages are buffered as they come (the
 *                  engine may already send from them) and, at its
 *                  CHECKPOINT record, sealed as the checkpoint; they are
 *                  dropped when the PVM resumes.
 *   engine thread  suspend/resume do what the pages mode does, then let
 *                  libxenguest go on; peer_dirty writes the SVM's dirty
 *                  pfns onto libxenguest's back channel; save_device
 *                  takes the stream's HVM context.  The pages go out while
 *                  libxenguest still streams them (below).
 *
 * Sending while libxenguest streams.  libxenguest reads the whole
 * checkpoint before its CHECKPOINT record says which pages it holds; in
 * the lab that was half the pause, with the engine idle.  So at suspend,
 * before libxenguest runs on and CLEANs Xen's dirty log, the engine PEEKs
 * at it: those pages (and the SVM's) are what libxenguest is about to
 * send, and dirty_read_clear hands them over at once.  read_pages of a
 * batch waits only until the stream has come past the batch's last pfn -
 * libxenguest sends pfns in ascending order, and xc-ckpt.c checks that it
 * did - and takes the pages it has from there (the rest from the guest,
 * as below).  dirty_rest, after those are sent, waits for the CHECKPOINT
 * record and names what the stream sent that the engine has not: pages
 * dirtied between the PEEK and the CLEAN, or, if the order did not hold,
 * the whole checkpoint again (the secondary applies the last copy).  The
 * PEEK only decides what can go early; what goes at all is still the
 * stream's.
 *
 * Why the engine may map pages from the guest: every read outside a
 * checkpoint's pages is either the initial copy (the guest runs; any page
 * it writes after the engine read it, libxenguest sends again, and the
 * reader marks it changed, so it goes out again at the first checkpoint)
 * or happens while the PVM is suspended, when the guest's memory is what
 * libxenguest's stream says it is (the lab's xcsave scenario checks that,
 * page for page).  So dom0 holds one checkpoint's pages at a time, not a
 * copy of the guest.
 *
 * Only the engine thread suspends and resumes the domain; libxenguest only
 * checks that it is suspended.  Stopping (the engine lets go, or fails)
 * makes every callback return 0, hands libxenguest an empty list if it
 * waits for one (colo_xen_xcs_stop says why) and shuts the stream, so
 * libxenguest returns wherever it blocks, and turns log-dirty off as it
 * leaves.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "colo-log.h"
#include "colo-proto.h"
#include "xc-ckpt.h"
#include "xc-stream.h"
#include "xen-domain.h"

struct colo_xen_xcsave {
    xc_interface   *xch;            /* the saver's own handle */
    int             io[2];          /* libxenguest writes [0], the reader reads [1] */
    int             back[2];        /* libxenguest reads [0], peer_dirty writes [1] */
    pthread_t       saver, reader;
    bool            have_saver, have_reader;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    unsigned        wait_ms;        /* bound on every wait for the other threads */

    /* Rendezvous, under lock. */
    bool     paused;                /* paused across libxenguest's log-dirty enable */
    bool     want_suspend;          /* engine: take the next checkpoint */
    bool     at_suspend;            /* libxenguest waits in its suspend callback */
    bool     suspended, resumed;    /* engine: done; the callback may return */
    bool     stop;                  /* engine: let go */
    bool     saver_done;
    unsigned engine_ckpts;          /* checkpoints the engine has taken */
    bool     list_owed;             /* libxenguest reads (or will) a dirty list */

    /* What the stream said, under lock. */
    uint64_t           p2m_size;
    struct colo_bitmap seen;        /* pfns the stream named at least once */
    uint64_t           nseen;       /* ... how many: p2m_size after the first pass */
    struct colo_bitmap have;        /* ... last with data (RAM) */
    struct colo_bitmap changed;     /* ... that came since the engine last took them */
    struct colo_xcs_ckpt cur;       /* the applied checkpoint, until the resume */
    struct colo_xcs_ckpt retired;   /* ... then here, until the reader frees it */
    size_t             peak;        /* most pages one checkpoint brought */
    struct colo_xcs_ckpt pend;      /* the one being read, read from while it comes */
    struct colo_bitmap early;       /* Xen's dirty log at suspend (PEEK) ... */
    bool               early_ok;    /* ... taken for this checkpoint */
    unsigned           streaming;   /* the checkpoint (epoch) sent as it comes; 0: none */
    uint8_t           *ctx, *pctx;  /* HVM context: applied, pending */
    uint32_t           ctx_len, pctx_len;
    unsigned           epoch;       /* CHECKPOINT records applied */
    bool               ended;       /* the stream ended, or could not be read */
    const char        *why;
    bool               ram_told;    /* ram_pfns has logged the guest's RAM */
};

/* Wait on x->cond (locked) until done() or the deadline; done()'s last word. */
static bool wait_until(struct colo_xen_xcsave *x, const struct timespec *deadline,
                       bool (*done)(struct colo_xen_xcsave *, void *), void *arg)
{
    while (!done(x, arg))
        if (pthread_cond_timedwait(&x->cond, &x->lock, deadline) == ETIMEDOUT)
            return done(x, arg);
    return true;
}

static struct timespec deadline_ms(unsigned ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* ---- the reader thread ---- */

/*
 * The stream named pfn, with or without data (under lock).  Before the
 * first pass is over a page is only counted: the engine's initial copy
 * reads the guest after that pass.  Anything the stream sends after it
 * is news: the guest wrote it since libxenguest last read it.
 */
static void note_page(struct colo_xen_xcsave *x, uint64_t pfn, bool data)
{
    bool had = colo_bitmap_test(&x->have, pfn);
    bool first_pass = x->nseen < x->p2m_size;

    if (!colo_bitmap_test(&x->seen, pfn)) {
        colo_bitmap_set(&x->seen, pfn);
        x->nseen++;
    }
    if (data)
        colo_bitmap_set(&x->have, pfn);
    else
        colo_bitmap_clear(&x->have, pfn);
    /* A hole that stays a hole is no news; 4 GiB of them come first. */
    if (!first_pass && (data || had))
        colo_bitmap_set(&x->changed, pfn);
}

/* One PAGE_DATA record: before the first CHECKPOINT only noted; after it
 * kept whole - the record's buffer, not a copy of its pages (the reader
 * reads the next one into a new buffer) - and indexed as it came.  Under
 * the lock: the engine may be sending from the checkpoint already. */
static int take_pages(struct colo_xen_xcsave *x, struct colo_xcs_reader *r,
                      const struct colo_xcs_pages *p)
{
    struct colo_xcs_ckpt old = { 0 };
    int rc = 0;

    pthread_mutex_lock(&x->lock);
    if (x->epoch > 0 && p->count > 0) {
        if (x->pend.nent == 0) {    /* a new checkpoint: free the one sent before */
            old = x->retired;
            x->retired = (struct colo_xcs_ckpt){ 0 };
        }
        rc = colo_xcs_ckpt_adopt(&x->pend, colo_xcs_reader_take(r));
    }
    for (uint32_t i = 0, d = 0; rc == 0 && i < p->count; i++) {
        uint64_t e = colo_xcs_entry(p, i), pfn = colo_xcs_entry_pfn(e);
        const uint8_t *data = NULL;

        if (colo_xcs_type_has_data(colo_xcs_entry_type(e)) == 1)
            data = p->data + (size_t)d++ * COLO_PAGE_SIZE;
        if (x->epoch == 0)
            note_page(x, pfn, data != NULL);
        else
            rc = colo_xcs_ckpt_add_ref(&x->pend, pfn, data);
    }
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    colo_xcs_ckpt_free(&old);
    return rc;
}

/* The checkpoint's CHECKPOINT record: what was read becomes current. */
static int apply_checkpoint(struct colo_xen_xcsave *x)
{
    struct colo_xcs_ckpt *c = &x->pend;
    size_t npfns, npages = c->npages;

    pthread_mutex_lock(&x->lock);
    if (colo_xcs_ckpt_seal(c) < 0) {
        pthread_mutex_unlock(&x->lock);
        return -1;
    }
    for (size_t i = 0; i < c->nslot; i++)
        note_page(x, c->slot[i].pfn, c->slot[i].idx != UINT64_MAX);
    colo_xcs_ckpt_free(&x->cur);
    x->cur = *c;
    *c = (struct colo_xcs_ckpt){ 0 };
    npfns = x->cur.nslot;
    if (npages > x->peak)
        x->peak = npages;
    if (x->pctx) {
        free(x->ctx);
        x->ctx = x->pctx, x->ctx_len = x->pctx_len;
        x->pctx = NULL;
    }
    x->epoch++;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    colo_debug("xen: libxenguest's checkpoint %u: %zu pfns, %zu pages held until the resume",
               x->epoch, npfns, npages);
    return 0;
}

static int take_record(struct colo_xen_xcsave *x, struct colo_xcs_reader *r, uint32_t type,
                       const uint8_t *body, uint32_t len, const char **why)
{
    struct colo_xcs_pages p;

    switch (type) {
    case COLO_XCS_PAGE_DATA:
        if (colo_xcs_page_data(body, len, x->p2m_size, &p, why) < 0)
            return -1;
        if (take_pages(x, r, &p) < 0) {
            *why = "out of memory for a checkpoint's pages";
            return -1;
        }
        return 0;
    case COLO_XCS_HVM_CONTEXT:
        free(x->pctx);
        if (!(x->pctx = malloc(len))) {
            *why = "out of memory for the HVM context";
            return -1;
        }
        memcpy(x->pctx, body, len);
        x->pctx_len = len;
        return 0;
    case COLO_XCS_CHECKPOINT:
        if (apply_checkpoint(x) < 0) {
            *why = "out of memory for a checkpoint's index";
            return -1;
        }
        return 0;
    case COLO_XCS_END:
        *why = "an END record in a COLO stream";
        return -1;
    default:    /* TSC_INFO, HVM_PARAMS, the policies: see the top of the file */
        return 0;
    }
}

static void *reader_main(void *arg)
{
    struct colo_xen_xcsave *x = arg;
    struct colo_xcs_reader r;
    const char *why = NULL;
    const uint8_t *body;
    uint32_t type, len;
    int rc;

    colo_xcs_reader_init(&r, x->io[1]);
    rc = colo_xcs_read_headers(&r, &why) < 0 ? -1 : 1;
    if (rc > 0 && r.dom.type != COLO_XCS_DOMAIN_HVM) {
        why = "not an HVM guest's stream";
        rc = -1;
    }
    while (rc > 0 && (rc = colo_xcs_read_record(&r, &type, &body, &len, &why)) > 0)
        if (take_record(x, &r, type, body, len, &why) < 0)
            rc = -1;
    if (rc < 0) {
        colo_err("xen: libxenguest's stream, record %" PRIu64 " (byte %" PRIu64 "): %s",
                 r.records, r.offset, why ? why : "unreadable");
        shutdown(x->io[1], SHUT_RDWR);      /* libxenguest's next write fails */
    }
    colo_xcs_reader_free(&r);
    pthread_mutex_lock(&x->lock);
    x->ended = true;
    x->why = rc < 0 ? "libxenguest's stream could not be read" : "libxenguest's stream ended";
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    return NULL;
}

/* ---- the saver thread and libxenguest's callbacks ---- */

static int cb_qemu_logdirty(uint32_t domid, unsigned enable, void *data)
{
    struct colo_domain *d = data;

    (void)domid;
    if (colo_xen_qemu_logdirty(d, enable != 0) < 0) {
        colo_err("xen: cannot switch qemu-xen's dirty log %s for libxenguest", enable ? "on" : "off");
        return -1;
    }
    return 0;
}

static int cb_precopy(struct precopy_stats s, void *data)
{
    struct colo_domain *d = data;
    struct colo_xen_xcsave *x = d->xcs;
    bool want;

    pthread_mutex_lock(&x->lock);
    /* The first call comes right after libxenguest switched log-dirty on. */
    if (x->paused) {
        xc_domain_unpause(x->xch, d->domid);
        x->paused = false;
    }
    want = x->want_suspend || x->stop;
    pthread_mutex_unlock(&x->lock);
    colo_debug("xen: libxenguest precopy pass %u: %ld dirty", s.iteration, s.dirty_count);
    /* libxenguest's own rule (at most 4 passes, or under 50 pages dirty),
     * and at once when the engine wants its first checkpoint. */
    if (want || (s.dirty_count >= 0 && s.dirty_count < 50) || s.iteration >= 4)
        return XGS_POLICY_STOP_AND_COPY;
    return XGS_POLICY_CONTINUE_PRECOPY;
}

static int cb_suspend(void *data)
{
    struct colo_xen_xcsave *x = ((struct colo_domain *)data)->xcs;
    int ok;

    pthread_mutex_lock(&x->lock);
    x->at_suspend = true;
    pthread_cond_broadcast(&x->cond);
    while (!x->stop && !x->suspended)
        pthread_cond_wait(&x->cond, &x->lock);
    ok = !x->stop;
    x->at_suspend = x->suspended = false;
    pthread_mutex_unlock(&x->lock);
    return ok;
}

static int cb_checkpoint(void *data)
{
    struct colo_xen_xcsave *x = ((struct colo_domain *)data)->xcs;
    int ok;

    pthread_mutex_lock(&x->lock);
    ok = !x->stop;
    pthread_mutex_unlock(&x->lock);
    return ok;
}

static int cb_postcopy(void *data)
{
    struct colo_xen_xcsave *x = ((struct colo_domain *)data)->xcs;
    int ok;

    pthread_mutex_lock(&x->lock);
    while (!x->stop && !x->resumed)
        pthread_cond_wait(&x->cond, &x->lock);
    ok = !x->stop;
    x->resumed = false;
    pthread_mutex_unlock(&x->lock);
    return ok;
}

static int cb_wait_checkpoint(void *data)
{
    struct colo_xen_xcsave *x = ((struct colo_domain *)data)->xcs;
    int ok;

    pthread_mutex_lock(&x->lock);
    while (!x->stop && !x->want_suspend)
        pthread_cond_wait(&x->cond, &x->lock);
    ok = !x->stop;
    pthread_mutex_unlock(&x->lock);
    return ok;
}

static void *saver_main(void *arg)
{
    struct colo_domain *d = arg;
    struct colo_xen_xcsave *x = d->xcs;
    struct save_callbacks cb = {
        .suspend = cb_suspend, .precopy_policy = cb_precopy, .postcopy = cb_postcopy,
        .checkpoint = cb_checkpoint, .wait_checkpoint = cb_wait_checkpoint,
        .switch_qemu_logdirty = cb_qemu_logdirty, .data = d,
    };
    int rc = xc_domain_save(x->xch, x->io[0], d->domid, XCFLAGS_LIVE, &cb, XC_STREAM_COLO, x->back[0]);
    bool stopped;

    shutdown(x->io[0], SHUT_WR);        /* a COLO stream ends by closing */
    pthread_mutex_lock(&x->lock);
    if (x->paused) {
        xc_domain_unpause(x->xch, d->domid);
        x->paused = false;
    }
    x->saver_done = true;
    stopped = x->stop;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    if (rc != 0 || !stopped)
        colo_err("xen: libxenguest's save of domain %" PRIu32 " ended (%d)%s", d->domid, rc,
                 stopped ? "" : " while the engine still needed it");
    return NULL;
}

/* ---- what the engine calls ---- */

/* Whether libxenguest can still serve the engine; says why not. */
static bool alive(struct colo_domain *d, const char *what)
{
    struct colo_xen_xcsave *x = d->xcs;
    const char *why = NULL;

    pthread_mutex_lock(&x->lock);
    if (x->saver_done || x->ended)
        why = x->ended && x->why ? x->why : "libxenguest's save has ended";
    pthread_mutex_unlock(&x->lock);
    if (why)
        colo_err("xen: %s: %s", what, why);
    return !why;
}

int colo_xen_xcs_start(struct colo_domain *d)
{
    struct colo_xen_xcsave *x;
    xen_pfn_t gpfns;

    if (d->xcs)
        return 0;
    if (!(x = calloc(1, sizeof(*x)))) {
        colo_err("xen: out of memory");
        return -1;
    }
    d->xcs = x;
    x->io[0] = x->io[1] = x->back[0] = x->back[1] = -1;
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    /* libxenguest's passes over all of an HVM guest's pfns outlast a QMP
     * exchange; give it six of them. */
    x->wait_ms = 6 * d->spec.timeout_ms;
    signal(SIGPIPE, SIG_IGN);   /* a write to a stopped stream fails with EPIPE */
    if (xc_domain_nr_gpfns(d->xch, d->domid, &gpfns) < 0 || gpfns == 0) {
        colo_log_errno("xen: cannot size the p2m of domain %" PRIu32, d->domid);
        goto fail;
    }
    x->p2m_size = gpfns;
    if (colo_bitmap_init(&x->seen, x->p2m_size) < 0 ||
        colo_bitmap_init(&x->have, x->p2m_size) < 0 ||
        colo_bitmap_init(&x->changed, x->p2m_size) < 0 ||
        colo_bitmap_init(&x->early, d->nr_pages) < 0) {
        colo_log_errno("xen: cannot allocate the pfn maps of domain %" PRIu32, d->domid);
        goto fail;
    }
    if (!(x->xch = xc_interface_open((xentoollog_logger *)d->logger, NULL, 0)) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->io) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->back) < 0) {
        colo_log_errno("xen: cannot set up libxenguest's save");
        goto fail;
    }
    /* Paused until libxenguest's first precopy_policy call, which comes
     * right after it enabled log-dirty ("Log-dirty enable"). */
    x->paused = xc_domain_pause(d->xch, d->domid) == 0;
    if (pthread_create(&x->reader, NULL, reader_main, x) != 0)
        goto fail;
    x->have_reader = true;
    if (pthread_create(&x->saver, NULL, saver_main, d) != 0)
        goto fail;
    x->have_saver = true;
    colo_info("xen: domain %" PRIu32 " (%s): libxenguest's COLO save runs (p2m %#" PRIx64 " pfns)",
              d->domid, d->name, x->p2m_size);
    return 0;
fail:
    colo_xen_xcs_stop(d);
    return -1;
}

void colo_xen_xcs_stop(struct colo_domain *d)
{
    struct colo_xen_xcsave *x = d->xcs;

    if (!x)
        return;
    pthread_mutex_lock(&x->lock);
    x->stop = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    /*
     * libxenguest 4.17 must never fail to read the SVM's list: on that
     * path it frees a record buffer it never set (xg_sr_save.c,
     * colo_merge_secondary_dirty_bitmap) and the process dies - seen in
     * the lab's xc-stop scenario when the engine still suspended the PVM
     * before the SVM's list was in.  So a list it waits for is given
     * (empty), and the back channel stays open until it has returned.
     * Shutting the stream makes its next write fail instead, a path that
     * cleans up.  (Now the list is handed over right after the suspend,
     * so this is needed only if peer_dirty fails in between.)
     */
    if (x->list_owed && x->back[1] >= 0) {
        uint8_t empty[COLO_XCS_RHDR_SIZE];

        colo_xcs_enc_dirty_list(empty, sizeof(empty), NULL, 0);
        if (write(x->back[1], empty, sizeof(empty)) != (ssize_t)sizeof(empty))
            colo_log_errno("xen: cannot give libxenguest the empty list it waits for");
        x->list_owed = false;
    }
    for (int i = 0; i < 2; i++)
        if (x->io[i] >= 0)
            shutdown(x->io[i], SHUT_RDWR);
    if (x->have_saver)
        pthread_join(x->saver, NULL);
    if (x->have_reader)
        pthread_join(x->reader, NULL);
    if (x->paused)
        xc_domain_unpause(d->xch, d->domid);
    for (int i = 0; i < 2; i++) {
        if (x->io[i] >= 0)
            close(x->io[i]);
        if (x->back[i] >= 0)
            close(x->back[i]);
    }
    if (x->xch)
        xc_interface_close(x->xch);
    if (x->peak)
        colo_info("xen: domain %" PRIu32 ": libxenguest's largest checkpoint held %zu pages "
                  "(%zu MiB) in dom0", d->domid, x->peak, x->peak / 256);
    colo_bitmap_free(&x->seen);
    colo_bitmap_free(&x->have);
    colo_bitmap_free(&x->changed);
    colo_bitmap_free(&x->early);
    colo_xcs_ckpt_free(&x->cur);
    colo_xcs_ckpt_free(&x->retired);
    colo_xcs_ckpt_free(&x->pend);
    free(x->ctx);
    free(x->pctx);
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    free(x);
    d->xcs = NULL;
}

static bool at_suspend(struct colo_xen_xcsave *x, void *arg)
{
    (void)arg;
    return x->at_suspend || x->saver_done || x->ended;
}

int colo_xen_xcs_suspend_begin(struct colo_domain *d)
{
    struct colo_xen_xcsave *x = d->xcs;
    struct timespec t = deadline_ms(x->wait_ms);
    bool ok;

    pthread_mutex_lock(&x->lock);
    x->want_suspend = true;
    pthread_cond_broadcast(&x->cond);
    ok = wait_until(x, &t, at_suspend, NULL) && x->at_suspend;
    pthread_mutex_unlock(&x->lock);
    if (!ok) {
        if (alive(d, "suspending for libxenguest"))
            colo_err("xen: libxenguest did not ask to suspend domain %" PRIu32 " within %u ms",
                     d->domid, x->wait_ms);
        return -1;
    }
    return 0;
}

void colo_xen_xcs_suspended(struct colo_domain *d)
{
    struct colo_xen_xcsave *x = d->xcs;
    bool early;

    /* What libxenguest will send, before it CLEANs the log (top of file).
     * From the second checkpoint on: the first ends libxenguest's live
     * phase, whose pages the log no longer shows. */
    colo_bitmap_clear_all(&x->early);
    early = x->engine_ckpts > 0 && colo_xen_dirty_peek(d, &x->early) == 0;
    pthread_mutex_lock(&x->lock);
    x->early_ok = early;
    x->want_suspend = false;
    x->resumed = false;         /* a resume before this checkpoint is not its resume */
    x->suspended = true;
    /* Past its live phase libxenguest now reads the SVM's list. */
    x->list_owed = x->engine_ckpts > 0;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

void colo_xen_xcs_resumed(struct colo_domain *d)
{
    struct colo_xen_xcsave *x = d->xcs;

    pthread_mutex_lock(&x->lock);
    /* The engine has sent this checkpoint: its pages are no longer needed.
     * The reader frees them, off the PVM's pause (16 MiB in 1 MiB chunks
     * took tens of milliseconds in the lab). */
    colo_xcs_ckpt_free(&x->retired);
    x->retired = x->cur;
    x->cur = (struct colo_xcs_ckpt){ 0 };
    x->resumed = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

int colo_xen_xcs_peer_dirty(struct colo_domain *d, const struct colo_bitmap *svm)
{
    struct colo_xen_xcsave *x = d->xcs;
    uint64_t n = 0, *pfns;
    uint8_t *rec;
    size_t len, off = 0;
    int rc = 0;

    /* libxenguest reads a list from the second checkpoint on: the first
     * ends its live phase, and the SVM has not run yet. */
    if (x->engine_ckpts == 0)
        return 0;
    for (uint64_t p = colo_bitmap_next(svm, 0); p < svm->nbits; p = colo_bitmap_next(svm, p + 1))
        n += p < x->p2m_size;
    if (n > COLO_XCS_MAX_BODY / 8) {
        colo_err("xen: %" PRIu64 " SVM dirty pfns are more than one record holds", n);
        return -1;
    }
    len = colo_xcs_dirty_list_size((uint32_t)n);
    pfns = malloc((n ? n : 1) * sizeof(*pfns));
    rec = malloc(len);
    if (!pfns || !rec) {
        colo_err("xen: out of memory for the SVM's dirty list");
        rc = -1;
        goto out;
    }
    n = 0;
    for (uint64_t p = colo_bitmap_next(svm, 0); p < svm->nbits; p = colo_bitmap_next(svm, p + 1))
        if (p < x->p2m_size)
            pfns[n++] = p;
    colo_xcs_enc_dirty_list(rec, len, pfns, (uint32_t)n);
    colo_debug("xen: %" PRIu64 " SVM dirty pfns onto libxenguest's back channel", n);
    x->list_owed = false;       /* a failed write below is no less final */
    while (off < len) {
        ssize_t w = write(x->back[1], rec + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            colo_log_errno("xen: cannot hand the SVM's dirty pfns to libxenguest");
            rc = -1;
            goto out;
        }
        off += (size_t)w;
    }
out:
    free(pfns);
    free(rec);
    return rc;
}

static bool reached(struct colo_xen_xcsave *x, void *target)
{
    return x->epoch >= *(unsigned *)target || x->ended;
}

/*
 * Wait for libxenguest's CHECKPOINT record and take the pfns the stream
 * brought since the engine last took them - all but those in 'skip' -
 * into 'into' (under lock).
 */
static bool take_checkpoint(struct colo_domain *d, unsigned target, const struct colo_bitmap *skip,
                            struct colo_bitmap *into)
{
    struct colo_xen_xcsave *x = d->xcs;
    struct timespec t = deadline_ms(x->wait_ms);

    if (!wait_until(x, &t, reached, &target) || x->epoch < target)
        return false;
    for (uint64_t p = colo_bitmap_next(&x->changed, 0); p < x->changed.nbits;
         p = colo_bitmap_next(&x->changed, p + 1))
        if (p < d->nr_pages) {
            /* Sent again: it may be RAM now, whatever the hole cache says. */
            if (p < d->hole.nbits)
                colo_bitmap_clear(&d->hole, p);
            if (!skip || !colo_bitmap_test(skip, p))
                colo_bitmap_set(into, p);
        }
    colo_bitmap_clear_all(&x->changed);
    x->engine_ckpts = target;
    return true;
}

static int checkpoint_missed(struct colo_domain *d, unsigned target)
{
    struct colo_xen_xcsave *x = d->xcs;

    if (alive(d, "reading libxenguest's checkpoint"))
        colo_err("xen: libxenguest's checkpoint %u of domain %" PRIu32 " did not come within %u ms",
                 target, d->domid, x->wait_ms);
    return -1;
}

int colo_xen_xcs_dirty_read_clear(struct colo_domain *d, struct colo_bitmap *into)
{
    struct colo_xen_xcsave *x = d->xcs;
    unsigned target = x->engine_ckpts + 1;
    bool ok = true;

    pthread_mutex_lock(&x->lock);
    if (x->early_ok) {
        /* Send as the stream comes; dirty_rest takes the CHECKPOINT. */
        for (uint64_t p = colo_bitmap_next(&x->early, 0); p < x->early.nbits && p < d->nr_pages;
             p = colo_bitmap_next(&x->early, p + 1))
            colo_bitmap_set(into, p);
        x->streaming = target;
        x->early_ok = false;
    } else {
        ok = take_checkpoint(d, target, NULL, into);
    }
    pthread_mutex_unlock(&x->lock);
    return ok ? 0 : checkpoint_missed(d, target);
}

int colo_xen_xcs_dirty_rest(struct colo_domain *d, const struct colo_bitmap *sent,
                            struct colo_bitmap *into)
{
    struct colo_xen_xcsave *x = d->xcs;
    unsigned target;
    bool ok;

    pthread_mutex_lock(&x->lock);
    if (!(target = x->streaming)) {
        pthread_mutex_unlock(&x->lock);
        return 0;
    }
    /* A page sent early is final only if the stream kept its order: else
     * a later copy of it may have come, so all of it goes again. */
    ok = take_checkpoint(d, target, x->cur.unordered ? NULL : sent, into);
    if (ok && x->cur.unordered)
        colo_warn("xen: libxenguest sent checkpoint %u's pfns out of order; sending all of it again",
                  target);
    x->streaming = 0;
    pthread_mutex_unlock(&x->lock);
    return ok ? 0 : checkpoint_missed(d, target);
}

/* The stream has brought the checkpoint being sent up to *last (or all of
 * it, or will bring no more). */
static bool came_past(struct colo_xen_xcsave *x, void *last)
{
    return x->epoch >= x->streaming || x->ended ||
           colo_xcs_ckpt_reached(&x->pend, *(uint64_t *)last);
}

/* A hole in a checkpoint reads as zeros. */
static const uint8_t zero_page[COLO_PAGE_SIZE];

/*
 * Where the checkpoint being sent has pfns[0..n) (ascending): ptr[i] is the
 * page, zero_page for a hole, NULL where the checkpoint does not have it.
 * While the stream still brings the checkpoint, waits until it has come
 * past pfns[n-1].  The pages stay where they are until the reader frees
 * them, after the PVM resumed.
 */
static int find_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                      const uint8_t **ptr)
{
    struct colo_xen_xcsave *x = d->xcs;
    const struct colo_xcs_ckpt *c = &x->cur;
    uint64_t last = pfns[n - 1];
    size_t from = 0;

    pthread_mutex_lock(&x->lock);
    if (x->streaming && x->epoch < x->streaming) {
        struct timespec t = deadline_ms(x->wait_ms);

        if (!wait_until(x, &t, came_past, &last) || (x->ended && x->epoch < x->streaming)) {
            unsigned target = x->streaming;

            pthread_mutex_unlock(&x->lock);
            return checkpoint_missed(d, target);
        }
        if (x->epoch < x->streaming)
            c = &x->pend;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *page = NULL;
        int has = colo_xcs_ckpt_find(c, pfns[i], &from, &page);

        ptr[i] = has == 1 ? page : has == 0 ? zero_page : NULL;
    }
    pthread_mutex_unlock(&x->lock);
    return 0;
}

int colo_xen_xcs_read_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf,
                            bool *got)
{
    const uint8_t *ptr[COLO_MAX_PAGE_BATCH];

    if (find_pages(d, pfns, n, ptr) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if ((got[i] = ptr[i] != NULL))
            memcpy((uint8_t *)buf + (size_t)i * COLO_PAGE_SIZE, ptr[i], COLO_PAGE_SIZE);
    return 0;
}

int colo_xen_xcs_page_refs(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                           const void **ptr)
{
    const uint8_t *p[COLO_MAX_PAGE_BATCH];
    int found = 0;

    if (find_pages(d, pfns, n, p) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        found += (ptr[i] = p[i]) != NULL;
    return found;
}

static bool first_pass_done(struct colo_xen_xcsave *x, void *arg)
{
    (void)arg;
    return x->nseen == x->p2m_size || x->ended;
}

int colo_xen_xcs_ram_pfns(struct colo_domain *d, struct colo_bitmap *map)
{
    struct colo_xen_xcsave *x = d->xcs;
    struct timespec t = deadline_ms(x->wait_ms);
    uint64_t ram = 0;
    bool ok;

    /* libxenguest's first pass names every pfn, holes as XTAB: after it,
     * "have" is the guest's RAM. */
    pthread_mutex_lock(&x->lock);
    ok = wait_until(x, &t, first_pass_done, NULL) && x->nseen == x->p2m_size;
    if (ok)
        for (uint64_t p = colo_bitmap_next(&x->have, 0); p < x->have.nbits && p < d->nr_pages;
             p = colo_bitmap_next(&x->have, p + 1), ram++)
            colo_bitmap_set(map, p);
    pthread_mutex_unlock(&x->lock);
    if (!ok) {
        if (alive(d, "finding the guest's RAM in libxenguest's stream"))
            colo_err("xen: libxenguest's first pass over domain %" PRIu32 " did not end within %u ms",
                     d->domid, x->wait_ms);
        return -1;
    }
    if (!x->ram_told)
        colo_info("xen: domain %" PRIu32 ": %" PRIu64 " of %" PRIu64 " pfns are RAM (%" PRIu64
                  " MiB) in libxenguest's first pass; the rest are holes", d->domid, ram,
                  d->nr_pages, ram / 256);
    x->ram_told = true;
    return 0;
}

uint8_t *colo_xen_xcs_hvm_context(struct colo_domain *d, int *size)
{
    struct colo_xen_xcsave *x = d->xcs;
    uint8_t *ctx = NULL;

    pthread_mutex_lock(&x->lock);
    if (x->ctx && (ctx = malloc(x->ctx_len))) {
        memcpy(ctx, x->ctx, x->ctx_len);
        *size = (int)x->ctx_len;
    }
    pthread_mutex_unlock(&x->lock);
    if (!ctx)
        colo_err("xen: no HVM context from libxenguest for domain %" PRIu32 " yet", d->domid);
    return ctx;
}
