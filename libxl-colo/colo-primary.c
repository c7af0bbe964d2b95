/*
 * colo-primary.c - the primary's (save side's) checkpoint loop.
 *
 *   RUNNING --trigger, CHECKPOINT_NEW--> WAIT_SVM_SUSPENDED --SVM_SUSPENDED-->
 *     RECV_SVM_DIRTY --DIRTY_PFNS...--> SUSPENDING --PVM paused, dirty log read-->
 *     SEND_STATE --pages, DEVICE_STATE, DISK_BARRIER, CHECKPOINT_END--> WAIT_SVM_READY
 *     --SVM_READY--> COMMIT_DEVICES --output held for the checkpoint released-->
 *     RESUMING --PVM resumed--> WAIT_SVM_RESUMED --SVM_RESUMED--> RUNNING
 *
 * The held output is released while the PVM is still paused, and the
 * checkpoint_done hook returns only once the proxies have released it
 * (colo_ctl_checkpoint_done): a frame the PVM sends after it resumes
 * belongs to the next epoch and must be compared, not released with this
 * checkpoint's.  SVM_READY means committed, so the release is covered.
 *
 * The PVM runs on until the SVM is suspended and its dirty list is in (as
 * QEMU's COLO orders it): its pause then holds only its own suspend, the
 * transfer and the commit, not the secondary's wake-up, suspend and scan.
 * That is safe because nothing of a checkpoint is final on the secondary
 * before CHECKPOINT_END, and what the PVM sends meanwhile is held by the
 * proxy like any output the SVM has not matched; the checkpoint, taken
 * when the PVM stops, covers it.  The epoch's disk writes end at the
 * barrier, which goes after the PVM has stopped.
 *
 * Losing the secondary in any of these states leaves the PVM running alone
 * (UNPROTECTED): nothing the PVM produced depends on the secondary, so the
 * only duty is to resume the PVM if we paused it and tell the devices to
 * stop holding output.  A fault on our own side (cannot read the dirty log
 * or memory, save device state) ends replication too: the secondary is told
 * with an ERROR record, so it stops instead of taking over, and the PVM runs
 * on UNPROTECTED.  Only a PVM that cannot be resumed is FAILED.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-engine.h"
#include "colo-log.h"

static void set_state(struct colo_engine *e, enum colo_state s)
{
    colo_debug("primary: %s -> %s", colo_state_name(e->state), colo_state_name(s));
    if (e->hooks.on_state)
        e->hooks.on_state(e->hooks.opaque, e->state, s);
    e->state = s;
}

/*
 * Stop replicating and let the PVM run alone.  The secondary is told why
 * with an ERROR record, so that if it is alive it stops instead of taking
 * over (if it is dead or cut off, the send fails and nothing is lost).  If
 * we paused the PVM, resume it: protection is lost, the VM must not be.
 * Only a PVM that cannot be resumed is FAILED.
 */
static int go_unprotected(struct colo_engine *e, const char *why)
{
    if (e->have_chan) {
        colo_chan_send_error(&e->chan, EIO, why);
        colo_chan_close(&e->chan);
        e->have_chan = false;
    }
    if (e->suspended) {
        if (e->be->resume(e->dom) < 0) {
            colo_err("primary: cannot resume the PVM: it stays paused");
            set_state(e, COLO_FAILED);
            return -1;
        }
        e->suspended = false;
    }
    if (e->dom)
        e->be->logdirty_disable(e->dom);
    set_state(e, COLO_P_UNPROTECTED);
    if (e->hooks.secondary_lost)
        e->hooks.secondary_lost(e->hooks.opaque);
    return -1;
}

/* The replication channel failed or the secondary misbehaved. */
static int lose_secondary(struct colo_engine *e)
{
    colo_err("primary: secondary lost during %s; continuing UNPROTECTED", colo_state_name(e->state));
    return go_unprotected(e, "the primary dropped the secondary");
}

/* A fault on our side (the PVM or its host): replication cannot go on. */
static int local_fault(struct colo_engine *e, const char *what)
{
    colo_err("primary: %s failed during %s; replication stops", what, colo_state_name(e->state));
    return go_unprotected(e, what);
}

static int send_rec(struct colo_engine *e, const uint8_t *buf, size_t len)
{
    return len && colo_chan_send(&e->chan, buf, len) == 0 ? 0 : -1;
}

int colo_primary_init(struct colo_engine *e, const struct colo_backend *be,
                      struct colo_domain *dom, int fd, const struct colo_engine_cfg *cfg)
{
    memset(e, 0, sizeof(*e));
    e->state = COLO_P_CONNECTING;
    e->be = be;
    e->dom = dom;
    e->cfg = *cfg;
    be->get_info(dom, &e->info);
    if (colo_chan_init(&e->chan, fd, "replication") < 0)
        return -1;
    e->have_chan = true;
    colo_chan_set_io_timeout(&e->chan, cfg->io_timeout_ms);
    e->pfns = calloc(COLO_MAX_PFN_LIST, sizeof(uint64_t));
    e->pages = malloc((size_t)COLO_MAX_PAGE_BATCH * COLO_PAGE_SIZE);
    if (!e->pfns || !e->pages || colo_bitmap_init(&e->dirty, e->info.nr_pages) < 0 ||
        colo_bitmap_init(&e->svm_dirty, e->info.nr_pages) < 0 ||
        (be->dirty_rest && colo_bitmap_init(&e->rest, e->info.nr_pages) < 0)) {
        colo_err("primary: out of memory for %" PRIu64 " pages of bookkeeping", e->info.nr_pages);
        return -1;
    }
    return 0;
}

/* Page p as the next iovec after the k built so far, merged into the last
 * one when it follows it in memory; returns the new count. */
static int iov_push(struct iovec *iov, int k, const void *p)
{
    if (k > 0 && (const uint8_t *)iov[k - 1].iov_base + iov[k - 1].iov_len == p) {
        iov[k - 1].iov_len += COLO_PAGE_SIZE;
        return k;
    }
    iov[k] = (struct iovec){ (void *)p, COLO_PAGE_SIZE };
    return k + 1;
}

/* iovecs for pages e->pfns[0..n) straight from guest memory (page_ptr).
 * Returns how many, or -1 if the backend cannot give a page's address. */
static int page_iovecs(struct colo_engine *e, uint32_t n, struct iovec *iov)
{
    int k = 0;

    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = e->be->page_ptr(e->dom, e->pfns[i]);

        if (!p)
            return -1;
        k = iov_push(iov, k, p);
    }
    return k;
}

/* iovecs for pages e->pfns[0..n) where the backend holds them (page_refs),
 * the others read into e->pages.  Returns how many, or -1. */
static int ref_iovecs(struct colo_engine *e, uint32_t n, struct iovec *iov)
{
    const void *ref[COLO_MAX_PAGE_BATCH];
    uint64_t miss[COLO_MAX_PAGE_BATCH];
    uint32_t m = 0;
    int got = e->be->page_refs(e->dom, e->pfns, n, ref), k = 0;

    if (got < 0)
        return -1;
    if (got == 0) {             /* none held: ref[] is not set */
        if (e->be->read_pages(e->dom, e->pfns, n, e->pages) < 0)
            return -1;
        iov[0] = (struct iovec){ e->pages, (size_t)n * COLO_PAGE_SIZE };
        return 1;
    }
    if ((uint32_t)got < n) {
        for (uint32_t i = 0; i < n; i++)
            if (!ref[i])
                miss[m++] = e->pfns[i];
        if (e->be->read_pages(e->dom, miss, m, e->pages) < 0)
            return -1;
        for (uint32_t i = 0, j = 0; i < n; i++)
            if (!ref[i])
                ref[i] = e->pages + (size_t)j++ * COLO_PAGE_SIZE;
    }
    for (uint32_t i = 0; i < n; i++)
        k = iov_push(iov, k, ref[i]);
    return k;
}

/* Send every page set in 'map' (ascending), in batches.  Returns pages sent,
 * or -1: *chan_failed tells a channel failure from a local one. */
static int64_t send_pages(struct colo_engine *e, const struct colo_bitmap *map,
                          bool *chan_failed, bool live)
{
    uint8_t prefix[COLO_REC_HDR_SIZE + 8 + 8 * COLO_MAX_PAGE_BATCH];
    uint64_t pfn = colo_bitmap_next(map, 0), sent = 0;

    *chan_failed = false;
    while (pfn < map->nbits) {
        uint32_t n = 0;
        struct iovec iov[1 + COLO_MAX_PAGE_BATCH];
        size_t plen;
        int niov;

        while (pfn < map->nbits && n < COLO_MAX_PAGE_BATCH) {
            e->pfns[n++] = pfn;
            pfn = colo_bitmap_next(map, pfn + 1);
        }
        plen = colo_enc_pages_prefix(prefix, sizeof(prefix), e->pfns, n);
        iov[0] = (struct iovec){ prefix, plen };
        if (e->be->page_ptr || e->be->page_refs) {
            niov = e->be->page_ptr ? page_iovecs(e, n, iov + 1) : ref_iovecs(e, n, iov + 1);
            if (niov < 0)
                return -1;
            niov++;
        } else {
            if (e->be->read_pages(e->dom, e->pfns, n, e->pages) < 0)
                return -1;
            iov[1] = (struct iovec){ e->pages, (size_t)n * COLO_PAGE_SIZE };
            niov = 2;
        }
        if (colo_chan_sendv(&e->chan, iov, niov) < 0) {
            *chan_failed = true;
            return -1;
        }
        sent += n;
        if (live) {
            e->stats.initial_done = sent;
            if ((sent / COLO_MAX_PAGE_BATCH) % 64 == 0 || pfn >= map->nbits)
                colo_info("primary: initial copy %" PRIu64 "/%" PRIu64 " pages (%" PRIu64 "%%)",
                          sent, e->stats.initial_total, sent * 100 / (e->stats.initial_total ? e->stats.initial_total : 1));
        }
    }
    return (int64_t)sent;
}

static int hello(struct colo_engine *e)
{
    uint8_t buf[256];
    struct colo_hello h = {
        .version = COLO_PROTO_VERSION, .role = COLO_ROLE_PRIMARY, .caps = COLO_CAP_ALL,
        .nr_pages = e->info.nr_pages, .page_size = COLO_PAGE_SIZE,
    };
    struct colo_rec r;

    snprintf(h.domain, sizeof(h.domain), "%s", e->info.name);
    if (send_rec(e, buf, colo_enc_hello(buf, sizeof(buf), &h)) < 0 ||
        colo_chan_expect(&e->chan, COLO_REC_HELLO, &r, e->cfg.io_timeout_ms) < 0)
        return -1;
    if (r.u.hello.version != COLO_PROTO_VERSION || r.u.hello.role != COLO_ROLE_SECONDARY) {
        colo_err("primary: peer speaks protocol %u as role %u; need %u as secondary",
                 r.u.hello.version, r.u.hello.role, COLO_PROTO_VERSION);
        return -1;
    }
    e->caps = r.u.hello.caps & COLO_CAP_ALL;
    snprintf(e->peer_domain, sizeof(e->peer_domain), "%s", r.u.hello.domain);
    return 0;
}

int colo_primary_start(struct colo_engine *e)
{
    uint8_t buf[64];
    bool chan_failed;
    int64_t n;

    if (hello(e) < 0)
        return lose_secondary(e);
    set_state(e, COLO_P_INITIAL_COPY);
    /* Live copy: the PVM keeps running; what it writes meanwhile is in the
     * dirty log and goes out again with the first checkpoint. */
    if (e->be->logdirty_enable(e->dom) < 0)
        return local_fault(e, "enabling log-dirty");
    if (e->be->ram_pfns) {
        colo_bitmap_clear_all(&e->dirty);
        if (e->be->ram_pfns(e->dom, &e->dirty) < 0)
            return local_fault(e, "finding the guest's RAM");
    } else {
        colo_bitmap_set_all(&e->dirty);
    }
    e->stats.initial_total = colo_bitmap_count(&e->dirty);
    n = send_pages(e, &e->dirty, &chan_failed, true);
    if (n < 0)
        return chan_failed ? lose_secondary(e) : local_fault(e, "reading guest memory");
    if (send_rec(e, buf, colo_enc_initial_done(buf, sizeof(buf), (uint64_t)n)) < 0)
        return lose_secondary(e);
    e->stats.bytes_initial = e->chan.bytes_sent;
    set_state(e, COLO_P_RUNNING);
    return colo_primary_checkpoint(e, COLO_TRIGGER_INITIAL);
}

/* Receive the SVM's dirty pfns into e->svm_dirty. */
static int recv_svm_dirty(struct colo_engine *e, uint64_t nr_dirty)
{
    struct colo_rec r;
    uint64_t got = 0;

    colo_bitmap_clear_all(&e->svm_dirty);
    while (got < nr_dirty) {
        if (colo_chan_expect(&e->chan, COLO_REC_DIRTY_PFNS, &r, e->cfg.io_timeout_ms) < 0)
            return -1;
        if (r.u.pfns.count == 0 || got + r.u.pfns.count > nr_dirty) {
            colo_err("primary: secondary sent %" PRIu64 " dirty pfns after announcing %" PRIu64,
                     got + r.u.pfns.count, nr_dirty);
            return -1;
        }
        for (uint32_t i = 0; i < r.u.pfns.count; i++)
            if (colo_bitmap_set(&e->svm_dirty, colo_pfn_at(r.u.pfns.pfns, i)) < 0) {
                colo_err("primary: secondary reported dirty pfn %" PRIu64 " beyond the guest",
                         colo_pfn_at(r.u.pfns.pfns, i));
                return -1;
            }
        got += r.u.pfns.count;
    }
    return 0;
}

/* Device state, disk barrier and end record, in one send: the secondary
 * acts on none of them before the end record, so there is no reason to
 * wake it three times. */
static int send_tail(struct colo_engine *e, uint64_t pages, bool *chan_failed)
{
    uint8_t dhdr[16], bar[64], endrec[64];
    void *blob = NULL;
    size_t len = 0;
    uint64_t writes = 0;
    struct colo_checkpoint_end end = { .seq = e->seq, .nr_pages = pages };
    struct iovec iov[4];
    int k = 0;

    *chan_failed = false;
    if (e->be->save_device(e->dom, &blob, &len) < 0)
        return -1;
    if (len > COLO_REC_MAX_BODY) {
        colo_err("primary: device state of %zu bytes exceeds the record limit", len);
        free(blob);
        return -1;
    }
    end.dev_len = len;
    iov[k++] = (struct iovec){ dhdr, colo_enc_hdr(dhdr, sizeof(dhdr), COLO_REC_DEVICE_STATE, (uint32_t)len) };
    iov[k++] = (struct iovec){ blob, len };
    if (e->caps & COLO_CAP_DISK) {
        if (e->hooks.disk_barrier && e->hooks.disk_barrier(e->hooks.opaque, e->seq, &writes) < 0) {
            free(blob);
            return -1;
        }
        iov[k++] = (struct iovec){ bar, colo_enc_disk(bar, sizeof(bar), COLO_REC_DISK_BARRIER, e->seq, writes) };
    }
    iov[k++] = (struct iovec){ endrec, colo_enc_checkpoint_end(endrec, sizeof(endrec), &end) };
    *chan_failed = colo_chan_sendv(&e->chan, iov, k) < 0;
    free(blob);
    return *chan_failed ? -1 : 0;
}

static int expect_seq(struct colo_engine *e, uint32_t type, struct colo_rec *r)
{
    if (colo_chan_expect(&e->chan, type, r, e->cfg.io_timeout_ms) < 0)
        return -1;
    if (r->u.seq.seq != e->seq) {
        colo_err("primary: %s for checkpoint %" PRIu64 ", expected %" PRIu64,
                 colo_rec_name(type), r->u.seq.seq, e->seq);
        return -1;
    }
    return 0;
}

int colo_primary_checkpoint(struct colo_engine *e, enum colo_trigger cause)
{
    uint8_t buf[64];
    struct colo_rec r;
    uint64_t tw, t0, t1, mark[COLO_PHASE__MAX];
    bool chan_failed;
    int64_t pages;

    if (e->state != COLO_P_RUNNING) {
        colo_err("primary: checkpoint requested in state %s", colo_state_name(e->state));
        return -1;
    }
    /* The SVM first, the PVM still running (see the top). */
    set_state(e, COLO_P_WAIT_SVM_SUSPENDED);
    tw = colo_now_ns();
    if (send_rec(e, buf, colo_enc_seq(buf, sizeof(buf), COLO_REC_CHECKPOINT_NEW, e->seq)) < 0)
        return lose_secondary(e);
    if (colo_chan_expect(&e->chan, COLO_REC_SVM_SUSPENDED, &r, e->cfg.io_timeout_ms) < 0 ||
        r.u.suspended.seq != e->seq)
        return lose_secondary(e);
    set_state(e, COLO_P_RECV_SVM_DIRTY);
    if (recv_svm_dirty(e, r.u.suspended.nr_dirty) < 0)
        return lose_secondary(e);
    e->stats.svm_dirty_last = r.u.suspended.nr_dirty;

    set_state(e, COLO_P_SUSPENDING);
    t0 = colo_now_ns();
    e->stats.svm_suspend_last_ns = t0 - tw;
    if (e->be->suspend(e->dom) < 0)
        return local_fault(e, "suspending the PVM");
    e->suspended = true;
    colo_bitmap_clear_all(&e->dirty);
    /* A backend that merges the SVM's pages itself gets them first. */
    if (e->be->peer_dirty && e->be->peer_dirty(e->dom, &e->svm_dirty) < 0)
        return local_fault(e, "handing over the SVM's dirty pages");
    if (e->be->dirty_read_clear(e->dom, &e->dirty) < 0)
        return local_fault(e, "reading the dirty log");
    colo_bitmap_or(&e->dirty, &e->svm_dirty);
    if (cause == COLO_TRIGGER_INITIAL)
        colo_bitmap_set(&e->dirty, 0);  /* harmless; keeps the first checkpoint non-empty */
    mark[COLO_PHASE_SUSPEND] = colo_now_ns();

    set_state(e, COLO_P_SEND_STATE);
    pages = send_pages(e, &e->dirty, &chan_failed, false);
    if (pages < 0)
        return chan_failed ? lose_secondary(e) : local_fault(e, "reading guest memory");
    if (e->be->dirty_rest) {
        int64_t more;

        colo_bitmap_clear_all(&e->rest);
        if (e->be->dirty_rest(e->dom, &e->dirty, &e->rest) < 0)
            return local_fault(e, "reading the dirty log");
        if ((more = send_pages(e, &e->rest, &chan_failed, false)) < 0)
            return chan_failed ? lose_secondary(e) : local_fault(e, "reading guest memory");
        pages += more;
    }
    if (send_tail(e, (uint64_t)pages, &chan_failed) < 0)
        return chan_failed ? lose_secondary(e) : local_fault(e, "saving device state");
    if (e->cfg.verify) {
        char hex[65];

        if (colo_domain_digest(e->be, e->dom, e->info.nr_pages, "pvm", e->seq, hex) == 0)
            colo_info("verify: checkpoint %" PRIu64 " pvm digest %s", e->seq, hex);
        if (colo_vcpu_digest(e->be, e->dom, hex) == 0)
            colo_info("verify: checkpoint %" PRIu64 " pvm vcpu digest %s", e->seq, hex);
    }
    mark[COLO_PHASE_SEND] = colo_now_ns();

    set_state(e, COLO_P_WAIT_SVM_READY);
    if (expect_seq(e, COLO_REC_SVM_READY, &r) < 0)
        return lose_secondary(e);
    mark[COLO_PHASE_SVM_READY] = colo_now_ns();

    /* The secondary has committed: from here the checkpoint holds even if
     * the secondary dies, so releasing what it covers and resuming the PVM
     * are always right - in that order (see the top). */
    set_state(e, COLO_P_COMMIT_DEVICES);
    /* A proxy that did not confirm its release may yet release with the
     * next epoch's output mixed in: the network is no longer protected, so
     * neither is the VM - the secondary is told to stand down (ERROR)
     * rather than left to take over from a state clients may not have seen. */
    if (e->hooks.checkpoint_done && e->hooks.checkpoint_done(e->hooks.opaque, e->seq) < 0)
        return local_fault(e, "releasing the output this checkpoint covers (a proxy did not answer)");
    mark[COLO_PHASE_RELEASE] = colo_now_ns();

    set_state(e, COLO_P_RESUMING);
    if (e->be->resume(e->dom) < 0) {
        /* The PVM cannot run, and the secondary has just committed this
         * checkpoint: hand the VM over rather than leave it dead. */
        uint8_t fo[16];

        colo_err("primary: cannot resume the PVM; asking the secondary to take over");
        colo_chan_send(&e->chan, fo, colo_enc_failover(fo, sizeof(fo), COLO_FAILOVER_REQUEST));
        colo_chan_close(&e->chan);
        e->have_chan = false;
        set_state(e, COLO_FAILED);
        return -1;
    }
    e->suspended = false;
    t1 = colo_now_ns();

    set_state(e, COLO_P_WAIT_SVM_RESUMED);
    if (expect_seq(e, COLO_REC_SVM_RESUMED, &r) < 0)
        return lose_secondary(e);

    colo_stats_record_pause(&e->stats, t1 - t0);
    mark[COLO_PHASE_RESUME] = t1;
    for (int p = 0; p < COLO_PHASE__MAX; p++)
        e->stats.phase_last_ns[p] = mark[p] - (p ? mark[p - 1] : t0);
    e->stats.pages_last = (uint64_t)pages;
    e->stats.pages_total += (uint64_t)pages;
    e->stats.triggers[cause]++;
    e->stats.checkpoints++;
    /* "svm dirtied" is what the SVM wrote since the checkpoint before: it
     * shows the SVM ran in between (the lab's soak reads it). */
    colo_debug("primary: checkpoint %" PRIu64 " (%s): %" PRId64 " pages, svm dirtied %" PRIu64
               ", pause %.3f ms (suspend %.3f, send %.3f, svm_ready %.3f, release %.3f,"
               " resume %.3f), after the SVM's suspend %.3f ms", e->seq, colo_trigger_name(cause),
               pages, e->stats.svm_dirty_last, (double)(t1 - t0) / 1e6,
               (double)e->stats.phase_last_ns[COLO_PHASE_SUSPEND] / 1e6,
               (double)e->stats.phase_last_ns[COLO_PHASE_SEND] / 1e6,
               (double)e->stats.phase_last_ns[COLO_PHASE_SVM_READY] / 1e6,
               (double)e->stats.phase_last_ns[COLO_PHASE_RELEASE] / 1e6,
               (double)e->stats.phase_last_ns[COLO_PHASE_RESUME] / 1e6,
               (double)e->stats.svm_suspend_last_ns / 1e6);
    e->seq++;
    e->last_end_ns = colo_now_ns();
    set_state(e, COLO_P_RUNNING);
    return 0;
}

int colo_primary_handle_input(struct colo_engine *e)
{
    struct colo_rec r;
    int rc = colo_chan_recv(&e->chan, &r, 0);

    if (rc == 0)
        return 0;
    if (rc < 0)
        return lose_secondary(e);
    switch (r.type) {
    case COLO_REC_HEARTBEAT:
        return 0;
    case COLO_REC_ERROR:
        colo_err("primary: secondary reported error %u: %.*s", r.u.error.code,
                 (int)r.u.error.text.len, (const char *)r.u.error.text.data);
        return lose_secondary(e);
    default:
        colo_err("primary: unexpected %s from the secondary while running", colo_rec_name(r.type));
        return lose_secondary(e);
    }
}
