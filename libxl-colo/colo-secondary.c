/*
 * colo-secondary.c - the secondary's (restore side's) checkpoint loop.
 *
 *   WAIT_HELLO --HELLO, SVM created--> INITIAL_RECV --pages..INITIAL_DONE-->
 *   RUNNING --CHECKPOINT_NEW--> SUSPENDING --SVM paused--> SEND_DIRTY
 *     --SVM_SUSPENDED, DIRTY_PFNS--> RECV_CHECKPOINT --pages, DEVICE_STATE,
 *     DISK_BARRIER, CHECKPOINT_END--> SEND_READY --SVM_READY--> COMMIT
 *     --applied--> RESUMING --SVM runs--> SEND_RESUMED --> RUNNING
 *
 * A checkpoint is applied whole or not at all: everything of it is buffered
 * until CHECKPOINT_END, and only then written into the SVM.  So if the
 * primary disappears at any point before the end record, the SVM still
 * holds its own state from the start of the checkpoint, which is
 * consistent with every output released so far (each released packet was
 * matched by the SVM or covered by an earlier commit), and it can take over.
 *
 * The end record is the commit point (colo-semantics: "P4, the secondary
 * has the end record").  SVM_READY goes out at once, so the primary
 * resumes the PVM while the buffer is applied here: the PVM's pause holds
 * one copy of each page (socket -> buffer), not two.  From SVM_READY on
 * the buffer is applied, unconditionally and before anything else -
 * before the SVM resumes, before SVM_RESUMED lets the primary release
 * held output, and before a lost primary is acted on - so whatever
 * happens next, the SVM that runs holds this checkpoint.
 *
 * "Disappears" means the stream broke or went silent.  A primary that is
 * alive but sends something malformed or out of order is NOT grounds for
 * failover - two running VMs with one identity is the worst outcome - so
 * then the secondary reports the error, destroys the SVM and stops.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-engine.h"
#include "colo-log.h"

/*
 * One MEMORY_PAGES record, kept as it arrived: the channel receives record
 * bodies straight into the next free chunk (colo_chan_recv_into), so a page
 * is copied once on its way in (socket -> chunk) and once at commit
 * (chunk -> SVM).  Chunks stay allocated from one checkpoint to the next.
 */
#define CHUNK_CAP (8 + (8 + COLO_PAGE_SIZE) * (size_t)COLO_MAX_PAGE_BATCH)

struct ckchunk {
    uint8_t *body;                  /* a MEMORY_PAGES body, CHUNK_CAP bytes */
    struct colo_pages pages;        /* decoded: points into body */
};

struct colo_ckpt_buf {
    struct ckchunk *chunks;
    size_t used, alloc;
    uint64_t pages;
    void *dev;
    size_t dev_len, dev_cap;
    bool have_dev, have_barrier;
    uint64_t barrier_writes;
};

static void set_state(struct colo_engine *e, enum colo_state s)
{
    colo_debug("secondary: %s -> %s", colo_state_name(e->state), colo_state_name(s));
    if (e->hooks.on_state)
        e->hooks.on_state(e->hooks.opaque, e->state, s);
    e->state = s;
}

static void ckbuf_reset(struct colo_ckpt_buf *b)
{
    b->used = 0;
    b->pages = 0;
    b->dev_len = 0;
    b->have_dev = b->have_barrier = false;
    b->barrier_writes = 0;
}

void colo_ckpt_buf_free(struct colo_ckpt_buf *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->alloc; i++)
        free(b->chunks[i].body);
    free(b->chunks);
    free(b->dev);
    free(b);
}

/* The buffer the next record should be received into (NULL: no memory). */
static uint8_t *ckbuf_next(struct colo_ckpt_buf *b)
{
    struct ckchunk *c;

    if (b->used == b->alloc) {
        size_t na = b->alloc ? b->alloc * 2 : 16;
        struct ckchunk *nc = realloc(b->chunks, na * sizeof(*nc));

        if (!nc)
            return NULL;
        for (size_t i = b->alloc; i < na; i++)
            nc[i].body = NULL;
        b->chunks = nc;
        b->alloc = na;
    }
    c = &b->chunks[b->used];
    if (!c->body)
        c->body = malloc(CHUNK_CAP);
    return c->body;
}

/* The record just received into ckbuf_next() is pages: keep it. */
static void ckbuf_keep_pages(struct colo_ckpt_buf *b, const struct colo_pages *p)
{
    b->chunks[b->used].pages = *p;
    b->used++;
    b->pages += p->count;
}

static int ckbuf_set_dev(struct colo_ckpt_buf *b, const struct colo_blob *blob)
{
    if (blob->len > b->dev_cap) {
        void *n = realloc(b->dev, blob->len);

        if (!n)
            return -1;
        b->dev = n;
        b->dev_cap = blob->len;
    }
    if (blob->len)
        memcpy(b->dev, blob->data, blob->len);
    b->dev_len = blob->len;
    b->have_dev = true;
    return 0;
}

static void verify_digest(struct colo_engine *e, const char *what)
{
    char hex[65];

    if (!e->cfg.verify)
        return;
    if (colo_domain_digest(e->be, e->dom, e->info.nr_pages, what, e->seq, hex) == 0)
        colo_info("verify: checkpoint %" PRIu64 " %s digest %s", e->seq, what, hex);
    if (colo_vcpu_digest(e->be, e->dom, hex) == 0)
        colo_info("verify: checkpoint %" PRIu64 " %s vcpu digest %s", e->seq, what, hex);
}

/* The SVM is about to run for the first time: whatever was started for it
 * at creation (its network wiring) must be in place. */
static int before_first_run(struct colo_engine *e)
{
    if (e->svm_started || !e->hooks.svm_first_run)
        return 0;
    return e->hooks.svm_first_run(e->hooks.opaque);
}

static void destroy_svm(struct colo_engine *e)
{
    if (!e->dom)
        return;
    e->be->destroy(e->dom);
    e->dom = NULL;
    if (e->hooks.svm_destroyed)
        e->hooks.svm_destroyed(e->hooks.opaque);
}

/*
 * The primary is gone.  Take over if a committed checkpoint (or the SVM's
 * own run since) gives a consistent SVM; otherwise there is nothing to save.
 */
static int primary_lost(struct colo_engine *e)
{
    colo_err("secondary: primary lost during %s (checkpoint %" PRIu64 ")",
             colo_state_name(e->state), e->seq);
    if (e->have_chan) {
        colo_chan_close(&e->chan);
        e->have_chan = false;
    }
    if (e->ckbuf)
        ckbuf_reset(e->ckbuf);      /* a partial checkpoint is never applied */
    if (!e->committed) {
        colo_err("secondary: no checkpoint was ever committed: no consistent SVM to run");
        destroy_svm(e);
        set_state(e, COLO_FAILED);
        return -1;
    }
    if (e->suspended) {
        verify_digest(e, "failover");
        if (!e->svm_started) {
            before_first_run(e);    /* failover runs the SVM whatever it says */
            e->be->logdirty_enable(e->dom);
        }
        if (e->be->resume(e->dom) < 0) {
            set_state(e, COLO_FAILED);
            return -1;
        }
        e->suspended = false;
        e->svm_started = true;
    }
    e->stats.failovers++;
    set_state(e, COLO_S_ACTIVE);
    colo_info("secondary: FAILOVER: the SVM of %s now runs as the VM", e->info.name);
    if (e->hooks.failover)
        e->hooks.failover(e->hooks.opaque);
    return 0;
}

/* The primary is alive but said something wrong, or we broke locally. */
static int give_up(struct colo_engine *e, const char *why)
{
    colo_err("secondary: %s during %s; stopping without taking over", why, colo_state_name(e->state));
    if (e->have_chan)
        colo_chan_send_error(&e->chan, EPROTO, why);    /* best effort: we are giving up */
    destroy_svm(e);
    set_state(e, COLO_FAILED);
    return -1;
}

#define FAILOVER_ASKED (-5)

/*
 * The stream broke.  Before concluding the primary is dead, read what it
 * may have said last and is still buffered: an ERROR means it is alive and
 * gave up (we must not take over), FAILOVER means it asks us to take over.
 * Without this a send that fails first would hide the primary's verdict.
 */
static int last_words(struct colo_engine *e)
{
    struct colo_rec r;

    for (int i = 0; i < 64 && e->have_chan; i++) {
        if (colo_chan_recv(&e->chan, &r, 0) != 1)
            break;
        if (r.type == COLO_REC_ERROR)
            return COLO_CHAN_BAD;
        if (r.type == COLO_REC_FAILOVER)
            return FAILOVER_ASKED;
    }
    return COLO_CHAN_BROKEN;
}

/* Map a channel result to the right reaction. */
static int chan_failure(struct colo_engine *e, int rc)
{
    if (rc == COLO_CHAN_BROKEN)
        rc = last_words(e);
    if (rc == COLO_CHAN_BAD)
        return give_up(e, "protocol error or error report from the primary");
    if (rc == FAILOVER_ASKED)
        colo_info("secondary: the primary asked for failover");
    return primary_lost(e);
}

/* A FAILOVER or ERROR record from the primary, wherever it arrives, is a
 * verdict rather than data: FAILOVER_ASKED or COLO_CHAN_BAD; else 1. */
static int verdict(const struct colo_rec *r)
{
    if (r->type == COLO_REC_FAILOVER)
        return FAILOVER_ASKED;
    if (r->type == COLO_REC_ERROR) {
        colo_err("secondary: the primary reports error %u: %.*s", r->u.error.code,
                 (int)r->u.error.text.len, (const char *)r->u.error.text.data);
        return COLO_CHAN_BAD;
    }
    return 1;
}

/* colo_chan_recv(_into), with a FAILOVER record from the primary turned
 * into FAILOVER_ASKED wherever it arrives.  Pages go into `pages_buf` if
 * one is given. */
static int recv_rec(struct colo_engine *e, struct colo_rec *r, int wait_ms, uint8_t *pages_buf)
{
    int rc = colo_chan_recv_into(&e->chan, r, wait_ms, COLO_REC_MEMORY_PAGES, pages_buf,
                                 pages_buf ? CHUNK_CAP : 0);

    return rc == 1 ? verdict(r) : rc;
}

/* The next record of a sequence the primary is in the middle of sending
 * (initial copy, checkpoint): silence past the I/O timeout is death. */
static int recv_next(struct colo_engine *e, struct colo_rec *r, uint8_t *pages_buf)
{
    int rc = recv_rec(e, r, e->cfg.io_timeout_ms, pages_buf);

    return rc == 0 ? COLO_CHAN_BROKEN : rc < 0 ? rc : 0;
}

/* A MEMORY_PAGES record whose pfns all lie inside the guest?  (They are
 * ascending, so the last one decides.) */
static bool pages_in_guest(const struct colo_engine *e, const struct colo_pages *p)
{
    if (colo_pfn_at(p->pfns, p->count - 1) < e->info.nr_pages)
        return true;
    colo_err("secondary: page %" PRIu64 " is beyond the guest's %" PRIu64,
             colo_pfn_at(p->pfns, p->count - 1), e->info.nr_pages);
    return false;
}

int colo_secondary_init(struct colo_engine *e, const struct colo_backend *be,
                        const struct colo_domain_spec *spec, int fd,
                        const struct colo_engine_cfg *cfg)
{
    memset(e, 0, sizeof(*e));
    e->state = COLO_S_WAIT_HELLO;
    e->be = be;
    e->cfg = *cfg;
    snprintf(e->info.name, sizeof(e->info.name), "%s", spec->name);
    if (colo_chan_init(&e->chan, fd, "replication") < 0)
        return -1;
    e->have_chan = true;
    colo_chan_set_io_timeout(&e->chan, cfg->io_timeout_ms);
    e->pfns = calloc(COLO_MAX_PFN_LIST, sizeof(uint64_t));
    e->ckbuf = calloc(1, sizeof(*e->ckbuf));
    return e->pfns && e->ckbuf ? 0 : -1;
}

static int hello(struct colo_engine *e, const struct colo_domain_spec *spec)
{
    uint8_t buf[256];
    struct colo_rec r;
    struct colo_hello h = { .version = COLO_PROTO_VERSION, .role = COLO_ROLE_SECONDARY,
                            .caps = COLO_CAP_ALL, .page_size = COLO_PAGE_SIZE };
    int rc = colo_chan_expect(&e->chan, COLO_REC_HELLO, &r, e->cfg.io_timeout_ms);

    if (rc < 0)
        return rc;
    if (r.u.hello.version != COLO_PROTO_VERSION || r.u.hello.role != COLO_ROLE_PRIMARY ||
        r.u.hello.nr_pages < 2) {
        colo_err("secondary: peer speaks protocol %u as role %u with %" PRIu64
                 " pages; need protocol %u from a primary", r.u.hello.version, r.u.hello.role,
                 r.u.hello.nr_pages, COLO_PROTO_VERSION);
        return COLO_CHAN_BAD;
    }
    e->caps = r.u.hello.caps & COLO_CAP_ALL;
    snprintf(e->peer_domain, sizeof(e->peer_domain), "%s", r.u.hello.domain);
    e->info.nr_pages = r.u.hello.nr_pages;
    e->stats.initial_total = r.u.hello.nr_pages;
    e->info.page_size = COLO_PAGE_SIZE;
    if (e->be->create_secondary(spec, &e->info, &e->dom) < 0)
        return -3;
    e->be->get_info(e->dom, &e->info);
    e->suspended = true;            /* created paused */
    if (colo_bitmap_init(&e->dirty, e->info.nr_pages) < 0)
        return -3;
    snprintf(h.domain, sizeof(h.domain), "%s", e->info.name);
    if (colo_chan_send(&e->chan, buf, colo_enc_hello(buf, sizeof(buf), &h)) < 0)
        return COLO_CHAN_BROKEN;
    colo_info("secondary: replicating %s (%" PRIu64 " MiB) from the primary",
              e->peer_domain, e->info.nr_pages * COLO_PAGE_SIZE >> 20);
    if (e->hooks.svm_created && e->hooks.svm_created(e->hooks.opaque) < 0)
        return -3;
    return 0;
}

/* Pages of the initial copy go straight into the (never yet run) SVM. */
static int initial_copy(struct colo_engine *e)
{
    struct colo_rec r;
    uint64_t got = 0;

    for (;;) {
        int rc = recv_next(e, &r, NULL);

        if (rc < 0)
            return rc;
        if (r.type == COLO_REC_INITIAL_DONE) {
            if (r.u.initial.nr_pages != got) {
                colo_err("secondary: initial copy announced %" PRIu64 " pages, %" PRIu64 " arrived",
                         r.u.initial.nr_pages, got);
                return COLO_CHAN_BAD;
            }
            /* The primary skips holes (ram_pfns), so the total is what it sent. */
            e->stats.initial_done = e->stats.initial_total = got;
            return 0;
        }
        if (r.type != COLO_REC_MEMORY_PAGES) {
            colo_err("secondary: %s during the initial copy", colo_rec_name(r.type));
            return COLO_CHAN_BAD;
        }
        if (!pages_in_guest(e, &r.u.pages))
            return COLO_CHAN_BAD;
        for (uint32_t i = 0; i < r.u.pages.count; i++)
            e->pfns[i] = colo_pfn_at(r.u.pages.pfns, i);
        if (e->be->write_pages(e->dom, e->pfns, r.u.pages.count, r.u.pages.data) < 0)
            return -3;
        got += r.u.pages.count;
    }
}

/* Suspend the SVM and send its dirty pfns (none before its first run). */
static int suspend_and_report(struct colo_engine *e)
{
    uint8_t buf[64], hdr[16];
    struct iovec iov[3];
    uint64_t nr = 0, pfn;
    int k;

    set_state(e, COLO_S_SUSPENDING);
    if (e->svm_started && !e->suspended) {
        if (e->be->suspend(e->dom) < 0)
            return -3;
        e->suspended = true;
    }
    verify_digest(e, "suspended");
    set_state(e, COLO_S_SEND_DIRTY);
    colo_bitmap_clear_all(&e->dirty);
    if (e->svm_started && e->be->dirty_read_clear(e->dom, &e->dirty) < 0)
        return -3;
    nr = colo_bitmap_count(&e->dirty);
    /* SVM_SUSPENDED goes out in one send with the first list record: the
     * primary waits for both, and one segment wakes it once. */
    iov[0] = (struct iovec){ buf, colo_enc_svm_suspended(buf, sizeof(buf), e->seq, nr) };
    k = 1;
    pfn = colo_bitmap_next(&e->dirty, 0);
    do {
        uint32_t n = 0;

        while (pfn < e->dirty.nbits && n < COLO_MAX_PFN_LIST) {
            e->pfns[n++] = pfn;
            pfn = colo_bitmap_next(&e->dirty, pfn + 1);
        }
        if (n) {
            /* Encode in place: the list body is the pfns, little-endian. */
            iov[k++] = (struct iovec){ hdr, colo_enc_pfn_list_prefix(hdr, sizeof(hdr), n) };
            for (uint32_t i = 0; i < n; i++)
                e->pfns[i] = htole64(e->pfns[i]);
            iov[k++] = (struct iovec){ e->pfns, (size_t)n * 8 };
        }
        if (colo_chan_sendv(&e->chan, iov, k) < 0)
            return COLO_CHAN_BROKEN;
        k = 0;
    } while (pfn < e->dirty.nbits);
    e->stats.svm_dirty_last = nr;
    return 0;
}

/*
 * Receive one checkpoint up to its end record and check it is complete.
 * Page records are received straight into the buffer's chunks; nothing
 * touches the SVM before the end record.
 */
static int receive_checkpoint(struct colo_engine *e)
{
    struct colo_ckpt_buf *b = e->ckbuf;
    struct colo_rec r;

    set_state(e, COLO_S_RECV_CHECKPOINT);
    ckbuf_reset(b);
    for (;;) {
        uint8_t *into = ckbuf_next(b);
        int rc;

        if (!into) {
            colo_err("secondary: out of memory buffering checkpoint %" PRIu64, e->seq);
            return -3;
        }
        if ((rc = recv_next(e, &r, into)) < 0)
            return rc;
        switch (r.type) {
        case COLO_REC_MEMORY_PAGES:
            if (!pages_in_guest(e, &r.u.pages))
                return COLO_CHAN_BAD;
            ckbuf_keep_pages(b, &r.u.pages);
            break;
        case COLO_REC_DEVICE_STATE:
            if (b->have_dev) {
                colo_err("secondary: two DEVICE_STATE records in one checkpoint");
                return COLO_CHAN_BAD;
            }
            if (ckbuf_set_dev(b, &r.u.blob) < 0)
                return -3;
            break;
        case COLO_REC_DISK_BARRIER:
            if (b->have_barrier || r.u.disk.epoch != e->seq) {
                colo_err("secondary: DISK_BARRIER repeated or for the wrong epoch");
                return COLO_CHAN_BAD;
            }
            b->have_barrier = true;
            b->barrier_writes = r.u.disk.writes;
            break;
        case COLO_REC_CHECKPOINT_END:
            if (r.u.end.seq != e->seq || r.u.end.nr_pages != b->pages ||
                !b->have_dev || r.u.end.dev_len != b->dev_len ||
                ((e->caps & COLO_CAP_DISK) && !b->have_barrier)) {
                colo_err("secondary: CHECKPOINT_END %" PRIu64 " (%" PRIu64 " pages) does not match"
                         " what arrived for checkpoint %" PRIu64 " (%" PRIu64 " pages%s%s)",
                         r.u.end.seq, r.u.end.nr_pages, e->seq, b->pages,
                         b->have_dev ? "" : ", no device state",
                         (e->caps & COLO_CAP_DISK) && !b->have_barrier ? ", no disk barrier" : "");
                return COLO_CHAN_BAD;
            }
            return 0;
        default:
            colo_err("secondary: %s in the middle of checkpoint %" PRIu64,
                     colo_rec_name(r.type), e->seq);
            return COLO_CHAN_BAD;
        }
    }
}

/* Apply the buffered checkpoint: SVM := PVM at this checkpoint. */
static int commit(struct colo_engine *e)
{
    struct colo_ckpt_buf *b = e->ckbuf;

    set_state(e, COLO_S_COMMIT);
    if (e->be->load_device(e->dom, b->dev, b->dev_len) < 0)
        return -1;
    for (size_t i = 0; i < b->used; i++) {
        const struct colo_pages *p = &b->chunks[i].pages;

        for (uint32_t j = 0; j < p->count; j++)
            e->pfns[j] = colo_pfn_at(p->pfns, j);
        if (e->be->write_pages(e->dom, e->pfns, p->count, p->data) < 0)
            return -1;
    }
    if (e->be->commit && e->be->commit(e->dom) < 0)
        return -1;
    if (e->hooks.disk_commit && e->hooks.disk_commit(e->hooks.opaque, e->seq, b->barrier_writes) < 0)
        return -1;
    e->committed = true;
    e->stats.pages_last = b->pages;
    e->stats.pages_total += b->pages;
    verify_digest(e, "svm");
    return 0;
}

static int one_checkpoint(struct colo_engine *e)
{
    uint8_t buf[64];
    struct colo_rec r;
    uint64_t t0;
    int rc;

    /* Wait for the next checkpoint; heartbeats say the primary lives.  The
     * idle hook lets the daemon serve its control socket meanwhile. */
    uint64_t heard = colo_now_ns();

    for (;;) {
        rc = recv_rec(e, &r, e->hooks.idle ? 50 : e->cfg.peer_timeout_ms > 0 ? e->cfg.peer_timeout_ms : -1,
                      NULL);
        if (rc == 0) {
            if (e->cfg.peer_timeout_ms <= 0 ||
                colo_now_ns() - heard < (uint64_t)e->cfg.peer_timeout_ms * 1000000ull) {
                if (e->hooks.idle && e->hooks.idle(e->hooks.opaque) < 0)
                    return -4;
                continue;
            }
            colo_err("secondary: nothing from the primary for %d ms", e->cfg.peer_timeout_ms);
            return COLO_CHAN_BROKEN;
        }
        if (rc < 0)
            return rc;
        heard = colo_now_ns();
        if (r.type == COLO_REC_HEARTBEAT)
            continue;
        if (r.type != COLO_REC_CHECKPOINT_NEW || r.u.seq.seq != e->seq) {
            colo_err("secondary: expected CHECKPOINT_NEW %" PRIu64 ", got %s", e->seq,
                     colo_rec_name(r.type));
            return COLO_CHAN_BAD;
        }
        break;
    }
    t0 = colo_now_ns();
    if ((rc = suspend_and_report(e)) < 0)
        return rc;
    if ((rc = receive_checkpoint(e)) < 0)
        return rc;

    /* The end record is in: the checkpoint is committed.  Let the PVM run
     * on, then apply - even if the primary is already gone, so that a
     * failover runs the SVM from this checkpoint (see the top). */
    set_state(e, COLO_S_SEND_READY);
    rc = colo_chan_send(&e->chan, buf, colo_enc_seq(buf, sizeof(buf), COLO_REC_SVM_READY, e->seq));
    /* The SVM's wiring (svm_created) is done before the first commit, not
     * only before the first run: on Xen the commit restarts qemu-xen, and
     * the wiring must not race the new qemu for its tap (the in-line
     * layout takes the tap off the bridge that the restart puts it back
     * on). */
    if (!e->svm_started && before_first_run(e) < 0)
        return -3;
    if (!e->svm_started)
        colo_info("secondary: applying the first checkpoint (%" PRIu64 ") to the SVM", e->seq);
    if (commit(e) < 0)
        return -3;
    if (rc < 0)
        return COLO_CHAN_BROKEN;

    if (e->hooks.checkpoint_done && e->hooks.checkpoint_done(e->hooks.opaque, e->seq) < 0)
        colo_warn("secondary: a control client did not confirm checkpoint %" PRIu64
                  "; its SVM frames may diverge until the next", e->seq);
    set_state(e, COLO_S_RESUMING);
    if (before_first_run(e) < 0)
        return -3;
    if (!e->svm_started && e->be->logdirty_enable(e->dom) < 0)
        return -3;
    if (!e->svm_started)
        colo_info("secondary: the SVM runs for the first time (checkpoint %" PRIu64 ")", e->seq);
    if (e->be->resume(e->dom) < 0)
        return -3;
    e->suspended = false;
    e->svm_started = true;

    set_state(e, COLO_S_SEND_RESUMED);
    if (colo_chan_send(&e->chan, buf, colo_enc_seq(buf, sizeof(buf), COLO_REC_SVM_RESUMED, e->seq)) < 0)
        return COLO_CHAN_BROKEN;
    colo_stats_record_pause(&e->stats, colo_now_ns() - t0);
    e->stats.checkpoints++;
    e->seq++;
    set_state(e, COLO_S_RUNNING);
    return 0;
}

int colo_secondary_run(struct colo_engine *e, const struct colo_domain_spec *spec)
{
    int rc = hello(e, spec);

    if (rc == 0) {
        set_state(e, COLO_S_INITIAL_RECV);
        rc = initial_copy(e);
    }
    if (rc == 0)
        set_state(e, COLO_S_RUNNING);
    while (rc == 0)
        rc = one_checkpoint(e);
    if (rc == -3)
        return give_up(e, "a local fault of the SVM");
    if (rc == -4)
        return give_up(e, "the secondary was stopped by the operator");
    return chan_failure(e, rc);
}
