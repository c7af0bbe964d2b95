/*
 * test-engine.c - the primary and secondary state machines, end to end in
 * one process: primary (this thread) <-> cutter (thread) <-> secondary
 * (thread), over socketpairs, with an in-memory domain backend.
 *
 * It checks the exact sequence of states of a good run, then breaks the
 * stream at every protocol point (each leaves one side in a different
 * state) and makes every backend operation fail, and checks the outcome
 * against shared/colo-semantics.md:
 *   - primary: secondary gone -> UNPROTECTED, PVM running; own fault -> FAILED
 *   - secondary: primary gone before commit -> ACTIVE, SVM memory exactly as
 *     at that checkpoint's suspension; after commit -> ACTIVE with the PVM's
 *     checkpoint state; before any commit -> FAILED, SVM destroyed;
 *     primary alive but erring -> FAILED, never ACTIVE.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "colo-engine.h"
#include "colo-log.h"
#include "cutter.h"

#define NR_PAGES 300u

/* ------------------------------------------------------------------------
 * The "mem" test backend: RAM in a heap buffer, dirty log kept by the test's
 * own guest_write(), and any operation made to fail on its n-th call.
 */
enum fake_op { OP_NONE, OP_SUSPEND, OP_RESUME, OP_DIRTY, OP_READ, OP_WRITE, OP_SAVE, OP_LOAD, OP_PTR,
               OP_COMMIT };

struct colo_domain {
    uint64_t nr_pages;
    uint8_t *mem;
    uint8_t *snap;              /* memory at the last suspend */
    struct colo_bitmap log;
    bool logdirty, paused, destroyed;
    bool is_svm;                /* set before the secondary's thread shares it */
    uint64_t devctr;
    /* fake_backend_commit: what write_pages/load_device handed over, made
     * the domain's by commit() only */
    uint8_t *stage;
    struct colo_bitmap staged;
    uint64_t stage_dev;
    bool stage_dev_set, committed;
    enum fake_op fail_op;
    int fail_countdown;         /* the n-th call of fail_op fails */
    uint64_t pages_read;        /* by read_pages, all told */
};

static struct { enum fake_op op; int nth; } fail_primary, fail_secondary;
static struct colo_domain *the_svm;    /* set by create_secondary */

static bool should_fail(struct colo_domain *d, enum fake_op op)
{
    return d->fail_op == op && --d->fail_countdown == 0;
}

static struct colo_domain *fake_new(uint64_t nr_pages)
{
    struct colo_domain *d = calloc(1, sizeof(*d));

    d->nr_pages = nr_pages;
    d->mem = calloc(nr_pages, COLO_PAGE_SIZE);
    d->snap = calloc(nr_pages, COLO_PAGE_SIZE);
    d->stage = calloc(nr_pages, COLO_PAGE_SIZE);
    colo_bitmap_init(&d->log, nr_pages);
    colo_bitmap_init(&d->staged, nr_pages);
    return d;
}

static bool fake_is_hole(uint64_t pfn);
static const struct colo_backend *be;
static struct colo_bitmap rest_log;     /* fake_backend_rest: the odd pfns held back */

static int fake_open_primary(const struct colo_domain_spec *s, struct colo_domain **out)
{
    struct colo_domain *d = fake_new(NR_PAGES);

    (void)s;
    for (uint64_t p = 0; p < NR_PAGES; p++)
        if (!be->ram_pfns || !fake_is_hole(p))
            memset(d->mem + p * COLO_PAGE_SIZE, (int)(p * 7 + 1), COLO_PAGE_SIZE);
    d->fail_op = fail_primary.op;
    d->fail_countdown = fail_primary.nth;
    if (be->dirty_rest) {
        colo_bitmap_free(&rest_log);
        colo_bitmap_init(&rest_log, NR_PAGES);
    }
    *out = d;
    return 0;
}

static int fake_create_secondary(const struct colo_domain_spec *s, const struct colo_domain_info *i,
                                 struct colo_domain **out)
{
    struct colo_domain *d = fake_new(i->nr_pages);

    (void)s;
    d->paused = true;
    d->is_svm = true;
    d->fail_op = fail_secondary.op;
    d->fail_countdown = fail_secondary.nth;
    the_svm = d;
    *out = d;
    return 0;
}

static void fake_info(struct colo_domain *d, struct colo_domain_info *o)
{
    memset(o, 0, sizeof(*o));
    strcpy(o->name, "fake");
    o->nr_pages = d->nr_pages;
    o->page_size = COLO_PAGE_SIZE;
}

/* Was the PVM paused when the SVM was?  (The primary lets it run until the
 * SVM's dirty list is in: colo-primary.c.)  Threads share these. */
static atomic_int pvm_paused_now, svm_suspends, svm_suspends_under_paused_pvm;

static int fake_suspend(struct colo_domain *d)
{
    if (should_fail(d, OP_SUSPEND))
        return -1;
    if (d->is_svm) {
        atomic_fetch_add(&svm_suspends, 1);
        atomic_fetch_add(&svm_suspends_under_paused_pvm, atomic_load(&pvm_paused_now));
    } else {
        atomic_store(&pvm_paused_now, 1);
    }
    d->paused = true;
    d->committed = false;
    memcpy(d->snap, d->mem, d->nr_pages * COLO_PAGE_SIZE);
    return 0;
}

static unsigned commit_calls, commits_dropped;

static int fake_resume(struct colo_domain *d)
{
    if (should_fail(d, OP_RESUME))
        return -1;
    if (be->commit && d == the_svm && !d->committed) {
        /* No commit since the suspend: a failover drops what came. */
        commits_dropped += d->stage_dev_set || colo_bitmap_count(&d->staged) > 0;
        colo_bitmap_clear_all(&d->staged);
        d->stage_dev_set = false;
    }
    d->committed = false;
    d->paused = false;
    if (!d->is_svm)
        atomic_store(&pvm_paused_now, 0);
    return 0;
}

static int fake_ld_on(struct colo_domain *d) { d->logdirty = true; colo_bitmap_clear_all(&d->log); return 0; }
static int fake_ld_off(struct colo_domain *d) { d->logdirty = false; return 0; }

/* The optional peer_dirty op (a backend whose own save loop merges the
 * SVM's pages): counted, and the primary's dirty log must not be read in a
 * checkpoint before it came. */
static unsigned peer_calls, dirty_before_peer;
static uint64_t peer_pfns;
static bool peer_pending;

static int fake_peer_dirty(struct colo_domain *d, const struct colo_bitmap *svm_dirty)
{
    (void)d;
    peer_calls++;
    peer_pfns += colo_bitmap_count(svm_dirty);
    peer_pending = true;
    return 0;
}

static int fake_dirty(struct colo_domain *d, struct colo_bitmap *into)
{
    if (be->peer_dirty && d != the_svm) {
        dirty_before_peer += !peer_pending;
        peer_pending = false;
    }
    if (should_fail(d, OP_DIRTY) || !d->logdirty)
        return -1;
    if (be->dirty_rest && d != the_svm) {     /* fake_backend_rest: even pfns now */
        for (uint64_t p = 0; p < d->nr_pages; p++)
            if (colo_bitmap_test(&d->log, p))
                colo_bitmap_set(p % 2 ? &rest_log : into, p);
    } else {
        colo_bitmap_or(into, &d->log);
    }
    colo_bitmap_clear_all(&d->log);
    return 0;
}

static int fake_read(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf)
{
    if (should_fail(d, OP_READ))
        return -1;
    d->pages_read += n;
    for (uint32_t i = 0; i < n; i++)
        memcpy((uint8_t *)buf + (size_t)i * COLO_PAGE_SIZE, d->mem + pfns[i] * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
    return 0;
}

static int fake_write(struct colo_domain *d, const uint64_t *pfns, uint32_t n, const void *buf)
{
    if (should_fail(d, OP_WRITE))
        return -1;
    assert_true(d->paused);         /* never write under a running guest */
    if (be->commit) {
        for (uint32_t i = 0; i < n; i++) {
            memcpy(d->stage + pfns[i] * COLO_PAGE_SIZE, (const uint8_t *)buf + (size_t)i * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
            colo_bitmap_set(&d->staged, pfns[i]);
        }
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        memcpy(d->mem + pfns[i] * COLO_PAGE_SIZE, (const uint8_t *)buf + (size_t)i * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
    return 0;
}

static int fake_save(struct colo_domain *d, void **blob, size_t *len)
{
    if (should_fail(d, OP_SAVE))
        return -1;
    *blob = malloc(8);
    memcpy(*blob, &d->devctr, 8);
    *len = 8;
    return 0;
}

static int fake_load(struct colo_domain *d, const void *blob, size_t len)
{
    if (should_fail(d, OP_LOAD) || len != 8)
        return -1;
    if (be->commit) {
        memcpy(&d->stage_dev, blob, 8);
        d->stage_dev_set = true;
        return 0;
    }
    memcpy(&d->devctr, blob, 8);
    return 0;
}

/* The optional commit op (restore=libxenguest's shape): only here do the
 * pages and the device state handed over become the SVM's. */
static int fake_commit(struct colo_domain *d)
{
    assert_true(d->paused);
    assert_true(d->stage_dev_set);      /* a checkpoint always has device state */
    if (should_fail(d, OP_COMMIT))
        return -1;
    commit_calls++;
    for (uint64_t p = colo_bitmap_next(&d->staged, 0); p < d->nr_pages;
         p = colo_bitmap_next(&d->staged, p + 1))
        memcpy(d->mem + p * COLO_PAGE_SIZE, d->stage + p * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
    colo_bitmap_clear_all(&d->staged);
    d->devctr = d->stage_dev;
    d->stage_dev_set = false;
    d->committed = true;
    return 0;
}

static void fake_destroy(struct colo_domain *d)
{
    /* Kept allocated so the test can check it was destroyed. */
    d->destroyed = true;
}

static void *fake_page_ptr(struct colo_domain *d, uint64_t pfn)
{
    if (should_fail(d, OP_PTR))
        return NULL;
    return pfn < d->nr_pages ? d->mem + pfn * COLO_PAGE_SIZE : NULL;
}

#define FAKE_OPS \
    .name = "fake", .open_primary = fake_open_primary, .create_secondary = fake_create_secondary, \
    .get_info = fake_info, .suspend = fake_suspend, .resume = fake_resume, \
    .logdirty_enable = fake_ld_on, .logdirty_disable = fake_ld_off, .dirty_read_clear = fake_dirty, \
    .read_pages = fake_read, .write_pages = fake_write, .save_device = fake_save, \
    .load_device = fake_load, .destroy = fake_destroy, .close = fake_destroy

/* Two variants: pages copied through read_pages, and RAM mapped here
 * (page_ptr: the primary sends straight from guest memory).  The
 * secondary buffers each checkpoint and applies it with write_pages in
 * both.  Every test runs on both. */
static const struct colo_backend fake_backend = { FAKE_OPS };
static const struct colo_backend fake_backend_mapped = { FAKE_OPS, .page_ptr = fake_page_ptr };
static const struct colo_backend *be = &fake_backend;

/* A third: a guest whose every fourth pfn is a hole (no RAM; reads zero),
 * which the backend reports through ram_pfns, as the xen backend does. */
static bool fake_is_hole(uint64_t pfn) { return pfn % 4 == 3; }
static int fake_ram_pfns(struct colo_domain *d, struct colo_bitmap *map)
{
    for (uint64_t p = 0; p < d->nr_pages; p++)
        if (!fake_is_hole(p))
            colo_bitmap_set(map, p);
    return 0;
}
static const struct colo_backend fake_backend_holes = { FAKE_OPS, .ram_pfns = fake_ram_pfns };
/* A fourth: with peer_dirty. */
static const struct colo_backend fake_backend_peer = { FAKE_OPS, .peer_dirty = fake_peer_dirty };

/* A fifth, with dirty_rest, shaped like save=libxenguest's: dirty_read_clear
 * (fake_dirty) names only the even pfns of the log, the odd ones come
 * after the first send, together with one page already sent (sent again:
 * harmless).  A late page the engine failed to send would leave the SVM
 * unequal. */
static uint64_t rest_pfns;
static unsigned rest_calls;

static int fake_dirty_rest(struct colo_domain *d, const struct colo_bitmap *sent,
                           struct colo_bitmap *into)
{
    uint64_t first = colo_bitmap_next(sent, 0);

    if (should_fail(d, OP_DIRTY))
        return -1;
    rest_calls++;
    rest_pfns += colo_bitmap_count(&rest_log);
    colo_bitmap_or(into, &rest_log);
    colo_bitmap_clear_all(&rest_log);
    if (first < sent->nbits)
        colo_bitmap_set(into, first);
    return 0;
}
/* Like save=libxenguest it also gives most pages by reference (page_refs):
 * every third pfn it does not have, so the engine reads those; and for a
 * batch that starts at an odd pfn it has none and leaves ptr alone, as
 * the xen backend does with save=pages. */
static int fake_page_refs(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                          const void **ptr)
{
    int found = 0;

    if (pfns[0] % 2) {
        for (uint32_t i = 0; i < n; i++)
            ptr[i] = (const void *)(uintptr_t)0xbad;    /* must not be looked at */
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        ptr[i] = NULL;
        if (pfns[i] % 3 == 0)
            continue;
        if (should_fail(d, OP_PTR))
            return -1;
        ptr[i] = d->mem + pfns[i] * COLO_PAGE_SIZE;
        found++;
    }
    return found;
}
static const struct colo_backend fake_backend_rest = {
    FAKE_OPS, .dirty_rest = fake_dirty_rest, .page_refs = fake_page_refs };
/* A sixth, with commit (above): a secondary that forgot to call it would
 * leave the SVM as it was. */
static const struct colo_backend fake_backend_commit = { FAKE_OPS, .commit = fake_commit };


static void fake_free(struct colo_domain *d)
{
    if (!d)
        return;
    free(d->mem);
    free(d->snap);
    free(d->stage);
    colo_bitmap_free(&d->log);
    colo_bitmap_free(&d->staged);
    free(d);
}

/* A guest write: changes memory and, if logging, the dirty log. */
static void guest_write(struct colo_domain *d, uint64_t pfn, uint8_t val)
{
    assert_false(d->paused);
    memset(d->mem + pfn * COLO_PAGE_SIZE, val, 64);
    if (d->logdirty)
        colo_bitmap_set(&d->log, pfn);
    d->devctr++;
}

/* ------------------------------------------------------------------------
 * The harness.
 */
#define MAX_TRACE 256

struct side {
    struct colo_engine e;
    enum colo_state trace[MAX_TRACE];
    int ntrace;
    int hooks[7];               /* calls per hook */
    uint8_t *pvm_at_ckpt[8];    /* primary: PVM memory at each checkpoint */
};

static struct side P, S;
static int sfd_sec;
static struct colo_domain_spec spec = { .name = "fake", .options = "" };

enum { H_BARRIER, H_DONE, H_COMMIT, H_LOST, H_FAILOVER, H_IDLE, H_DONE_RUNNING };

static void guest_write(struct colo_domain *d, uint64_t pfn, uint8_t val);

static void on_state(void *o, enum colo_state from, enum colo_state to)
{
    struct side *s = o;

    (void)from;
    if (s->ntrace < MAX_TRACE)
        s->trace[s->ntrace++] = to;
    /* The PVM runs while the secondary suspends (colo-primary.c): it writes
     * then too, and the checkpoint taken when it stops must carry that. */
    if (s == &P && to == COLO_P_RECV_SVM_DIRTY)
        guest_write(s->e.dom, 150 + s->e.seq % 40, (uint8_t)(0xa0 + s->e.seq));
}

static int h_barrier(void *o, uint64_t epoch, uint64_t *w) { (void)epoch; ((struct side *)o)->hooks[H_BARRIER]++; *w = 3; return 0; }
/* Output held for a checkpoint is released while the VM is still paused:
 * what it sends once it runs again belongs to the next epoch. */
static int h_done(void *o, uint64_t seq)
{
    struct side *s = o;

    (void)seq;
    s->hooks[H_DONE]++;
    if (s->e.dom && !s->e.dom->paused)
        s->hooks[H_DONE_RUNNING]++;
    return 0;
}
static int h_commit(void *o, uint64_t epoch, uint64_t w) { (void)epoch; assert_int_equal(w, 3); ((struct side *)o)->hooks[H_COMMIT]++; return 0; }
static void h_lost(void *o) { ((struct side *)o)->hooks[H_LOST]++; }
static void h_failover(void *o) { ((struct side *)o)->hooks[H_FAILOVER]++; }

/* Between checkpoints the SVM runs too and dirties pages of its own (as a
 * real SVM does), which the primary must overwrite. */
static int h_idle(void *o)
{
    struct side *s = o;

    s->hooks[H_IDLE]++;
    if (s->e.svm_started && !s->e.suspended && the_svm)
        guest_write(the_svm, 200 + (uint64_t)(s->hooks[H_IDLE] % 50), 0xee);
    return 0;
}

static void *secondary_thread(void *arg)
{
    struct colo_engine_cfg cfg = { .io_timeout_ms = 2000, .peer_timeout_ms = 0 };

    (void)arg;
    assert_int_equal(colo_secondary_init(&S.e, be, &spec, sfd_sec, &cfg), 0);
    S.e.hooks = (struct colo_hooks){ .opaque = &S, .on_state = on_state, .disk_commit = h_commit,
                                     .failover = h_failover, .idle = h_idle, .checkpoint_done = h_done };
    colo_secondary_run(&S.e, &spec);
    return NULL;
}

struct cut_args { int a, b; struct cut_rule rule; struct cut_result res; };

static void *cutter_thread(void *arg)
{
    struct cut_args *c = arg;

    cutter_run(c->a, c->b, &c->rule, &c->res);
    return NULL;
}

/*
 * Run a session: initial copy + `nckpt` more checkpoints, with PVM writes
 * before each, through a cutter with `rule`.  Leaves P and S for checks.
 */
static void run_session(const struct cut_rule *rule, int nckpt)
{
    int ps[2], ss[2];
    pthread_t ts, tc;
    struct cut_args ca;
    struct colo_domain *pvm;
    struct colo_engine_cfg cfg = { .io_timeout_ms = 2000 };

    memset(&P, 0, sizeof(P));
    memset(&S, 0, sizeof(S));
    the_svm = NULL;
    atomic_store(&pvm_paused_now, 0);
    atomic_store(&svm_suspends, 0);
    atomic_store(&svm_suspends_under_paused_pvm, 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ps), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ss), 0);
    ca = (struct cut_args){ .a = ps[1], .b = ss[0], .rule = *rule };
    sfd_sec = ss[1];
    pthread_create(&tc, NULL, cutter_thread, &ca);
    pthread_create(&ts, NULL, secondary_thread, NULL);

    assert_int_equal(fake_open_primary(&spec, &pvm), 0);
    assert_int_equal(colo_primary_init(&P.e, be, pvm, ps[0], &cfg), 0);
    P.e.hooks = (struct colo_hooks){ .opaque = &P, .on_state = on_state, .disk_barrier = h_barrier,
                                     .checkpoint_done = h_done, .secondary_lost = h_lost };
    if (colo_primary_start(&P.e) == 0) {
        for (int k = 1; k <= nckpt && P.e.state == COLO_P_RUNNING; k++) {
            for (uint64_t p = 0; p < 20; p++)
                guest_write(pvm, (p * 13 + (uint64_t)k * 5) % NR_PAGES, (uint8_t)(k + p));
            usleep(120000);         /* let the SVM run: at least two idle hooks */
            colo_primary_checkpoint(&P.e, COLO_TRIGGER_REQUEST);
            /* The PVM as it was suspended (on_state wrote to it just before). */
            P.pvm_at_ckpt[k] = malloc(NR_PAGES * COLO_PAGE_SIZE);
            memcpy(P.pvm_at_ckpt[k], pvm->snap, NR_PAGES * COLO_PAGE_SIZE);
        }
    }
    /* The primary's host "dies" (or the test ends): close its end. */
    if (P.e.have_chan) {
        colo_chan_close(&P.e.chan);
        P.e.have_chan = false;
    }
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
    close(ps[1]);
    close(ss[0]);
}

static void end_session(void)
{
    for (int k = 0; k < 8; k++)
        free(P.pvm_at_ckpt[k]);
    fake_free(P.e.dom);
    colo_engine_fini(&P.e);
    fake_free(the_svm);
    the_svm = NULL;
    colo_engine_fini(&S.e);
    fail_primary.op = fail_secondary.op = OP_NONE;
    colo_bitmap_free(&rest_log);
}

static bool svm_equals(const uint8_t *ref)
{
    return memcmp(the_svm->mem, ref, NR_PAGES * COLO_PAGE_SIZE) == 0;
}

/* Pages below 200: the ones the SVM's own run (h_idle) never writes. */
static bool svm_equals_low(const uint8_t *ref)
{
    return memcmp(the_svm->mem, ref, 200 * COLO_PAGE_SIZE) == 0;
}

/* ------------------------------------------------------------------------ */

static void test_good_run_state_sequence(void **state)
{
    be = *state;
    static const enum colo_state ckpt_p[] = {
        COLO_P_WAIT_SVM_SUSPENDED, COLO_P_RECV_SVM_DIRTY, COLO_P_SUSPENDING, COLO_P_SEND_STATE,
        COLO_P_WAIT_SVM_READY, COLO_P_COMMIT_DEVICES, COLO_P_RESUMING, COLO_P_WAIT_SVM_RESUMED,
        COLO_P_RUNNING,
    };
    static const enum colo_state ckpt_s[] = {
        COLO_S_SUSPENDING, COLO_S_SEND_DIRTY, COLO_S_RECV_CHECKPOINT, COLO_S_SEND_READY,
        COLO_S_COMMIT, COLO_S_RESUMING, COLO_S_SEND_RESUMED, COLO_S_RUNNING,
    };
    struct cut_rule none = { 0 };
    int i = 0;

    (void)state;
    run_session(&none, 3);
    /* primary: INITIAL_COPY, RUNNING, then 4 checkpoints' worth of states */
    assert_int_equal(P.trace[i++], COLO_P_INITIAL_COPY);
    assert_int_equal(P.trace[i++], COLO_P_RUNNING);
    for (int k = 0; k < 4; k++)
        for (size_t j = 0; j < sizeof(ckpt_p) / sizeof(ckpt_p[0]); j++)
            assert_int_equal(P.trace[i++], ckpt_p[j]);
    assert_int_equal(P.ntrace, i);
    i = 0;
    assert_int_equal(S.trace[i++], COLO_S_INITIAL_RECV);
    assert_int_equal(S.trace[i++], COLO_S_RUNNING);
    for (int k = 0; k < 4; k++)
        for (size_t j = 0; j < sizeof(ckpt_s) / sizeof(ckpt_s[0]); j++)
            assert_int_equal(S.trace[i++], ckpt_s[j]);
    /* then the primary closed: failover from RUNNING */
    assert_int_equal(S.trace[i++], COLO_S_ACTIVE);
    assert_int_equal(S.ntrace, i);

    assert_int_equal(P.e.stats.checkpoints, 4);
    assert_int_equal(P.e.stats.triggers[COLO_TRIGGER_INITIAL], 1);
    assert_int_equal(P.e.stats.triggers[COLO_TRIGGER_REQUEST], 3);
    assert_int_equal(P.hooks[H_BARRIER], 4);
    assert_int_equal(P.hooks[H_DONE], 4);
    assert_int_equal(P.hooks[H_DONE_RUNNING], 0);   /* released before the PVM resumed */
    assert_int_equal(S.hooks[H_DONE], 4);
    assert_int_equal(S.hooks[H_DONE_RUNNING], 0);   /* reset before the SVM resumed */
    assert_int_equal(S.hooks[H_COMMIT], 4);
    assert_int_equal(S.hooks[H_FAILOVER], 1);
    assert_true(P.e.stats.svm_dirty_last > 0);  /* SVM's own writes came back */
    /* Each checkpoint suspended the SVM while the PVM still ran. */
    assert_true(atomic_load(&svm_suspends) >= 3);
    assert_int_equal(atomic_load(&svm_suspends_under_paused_pvm), 0);
    assert_true(P.e.stats.svm_suspend_last_ns > 0);
    {
        /* The phases of the last pause account for all of it. */
        uint64_t sum = 0;

        for (int p = 0; p < COLO_PHASE__MAX; p++)
            sum += P.e.stats.phase_last_ns[p];
        assert_int_equal(sum, P.e.stats.pause_last_ns);
        assert_true(P.e.stats.pause_last_ns > 0);
        assert_string_equal(colo_phase_name(COLO_PHASE_SVM_READY), "svm_ready");
        assert_string_equal(colo_phase_name(COLO_PHASE__MAX), "unknown");
    }
    /* After the last checkpoint the SVM equalled the PVM; then it ran on
     * alone (idle writes), so compare the checkpointed pages only. */
    assert_false(P.e.dom->paused);
    assert_false(the_svm->paused);
    assert_int_equal(the_svm->devctr >= P.e.dom->devctr - 0, 1);
    end_session();
}

/* After every committed checkpoint the SVM equals the PVM byte for byte. */
static void test_svm_equals_pvm_at_each_checkpoint(void **state)
{
    be = *state;
    for (int k = 1; k <= 3; k++) {
        /* Cut right after SVM_RESUMED of checkpoint k would let the SVM run;
         * instead cut before SVM_READY leaves it: the SVM committed, and is
         * then resumed by failover without running in between. */
        struct cut_rule r = { .dir = CUT_B_TO_A, .cut_type = COLO_REC_SVM_READY, .cut_nth = (unsigned)k + 1 };

        run_session(&r, 3);
        assert_int_equal(S.e.state, COLO_S_ACTIVE);
        assert_true(svm_equals(P.pvm_at_ckpt[k]));
        assert_int_equal(P.e.state, COLO_P_UNPROTECTED);
        assert_false(P.e.dom->paused);
        end_session();
    }
}

struct cut_case {
    const char *name;
    struct cut_rule rule;
    enum colo_state sec_state;      /* final */
    enum colo_state sec_failed_in;  /* state the secondary was in when the stream broke */
    int svm_mem;                    /* 0: any, 1: = its memory at suspension, 2: = PVM at checkpoint 2 */
};

#define P2S CUT_A_TO_B
#define S2P CUT_B_TO_A
#define ARM_CK2 .arm_type = COLO_REC_CHECKPOINT_NEW, .arm_nth = 3   /* seq 2 */

static const struct cut_case cut_cases[] = {
    { "p2s HELLO", { P2S, 0, 0, COLO_REC_HELLO, 1, false }, COLO_FAILED, COLO_S_WAIT_HELLO, 0 },
    { "p2s initial pages", { P2S, 0, 0, COLO_REC_MEMORY_PAGES, 1, true }, COLO_FAILED, COLO_S_INITIAL_RECV, 0 },
    { "p2s INITIAL_DONE", { P2S, 0, 0, COLO_REC_INITIAL_DONE, 1, false }, COLO_FAILED, COLO_S_INITIAL_RECV, 0 },
    { "p2s first CHECKPOINT_END", { P2S, 0, 0, COLO_REC_CHECKPOINT_END, 1, false }, COLO_FAILED, COLO_S_RECV_CHECKPOINT, 0 },
    { "p2s CHECKPOINT_NEW 2", { P2S, 0, 0, COLO_REC_CHECKPOINT_NEW, 3, false }, COLO_S_ACTIVE, COLO_S_RUNNING, 0 },
    { "p2s pages of 2", { P2S, ARM_CK2, COLO_REC_MEMORY_PAGES, 1, false }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "p2s after pages of 2", { P2S, ARM_CK2, COLO_REC_MEMORY_PAGES, 1, true }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "p2s DEVICE_STATE of 2", { P2S, ARM_CK2, COLO_REC_DEVICE_STATE, 1, false }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "p2s DISK_BARRIER of 2", { P2S, ARM_CK2, COLO_REC_DISK_BARRIER, 1, false }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "p2s CHECKPOINT_END of 2", { P2S, ARM_CK2, COLO_REC_CHECKPOINT_END, 1, false }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "p2s after CHECKPOINT_END of 2", { P2S, ARM_CK2, COLO_REC_CHECKPOINT_END, 1, true }, COLO_S_ACTIVE, COLO_S_SEND_READY, 2 },
    { "s2p HELLO", { S2P, 0, 0, COLO_REC_HELLO, 1, false }, COLO_FAILED, COLO_S_INITIAL_RECV, 0 },
    { "s2p SVM_SUSPENDED 2", { S2P, 0, 0, COLO_REC_SVM_SUSPENDED, 3, false }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "s2p DIRTY_PFNS 2", { S2P, .arm_type = COLO_REC_SVM_SUSPENDED, .arm_nth = 3, COLO_REC_DIRTY_PFNS, 1, false }, COLO_S_ACTIVE, COLO_S_RECV_CHECKPOINT, 1 },
    { "s2p SVM_READY 2", { S2P, 0, 0, COLO_REC_SVM_READY, 3, false }, COLO_S_ACTIVE, COLO_S_RUNNING, 2 },
    { "s2p SVM_RESUMED 2", { S2P, 0, 0, COLO_REC_SVM_RESUMED, 3, false }, COLO_S_ACTIVE, COLO_S_RUNNING, 0 },
};

static void test_cut_everywhere(void **state)
{
    be = *state;
    for (size_t i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
        const struct cut_case *c = &cut_cases[i];
        enum colo_state before;

        print_message("cut: %s\n", c->name);
        run_session(&c->rule, 3);
        /* The primary always survives, running, unprotected. */
        assert_int_equal(P.e.state, COLO_P_UNPROTECTED);
        assert_false(P.e.dom->paused);
        assert_int_equal(P.hooks[H_LOST], 1);
        /* The secondary ends as the semantics say, from the state expected. */
        assert_int_equal(S.e.state, c->sec_state);
        assert_true(S.ntrace >= 1);
        before = S.ntrace >= 2 ? S.trace[S.ntrace - 2] : COLO_S_WAIT_HELLO;
        if (c->sec_failed_in == COLO_S_SEND_READY)   /* committed; applied before a failed send counts */
            assert_true(before == COLO_S_COMMIT || before == COLO_S_SEND_RESUMED || before == COLO_S_RUNNING);
        else if (c->sec_failed_in == COLO_S_RECV_CHECKPOINT && c->rule.dir == S2P)
            assert_true(before == COLO_S_RECV_CHECKPOINT || before == COLO_S_SEND_DIRTY);
        else if (c->sec_failed_in == COLO_S_RUNNING && c->rule.cut_type == COLO_REC_SVM_READY)
            assert_true(before == COLO_S_RUNNING || before == COLO_S_SEND_RESUMED);
        else
            assert_int_equal(before, c->sec_failed_in);
        if (c->sec_state == COLO_FAILED) {
            if (the_svm)
                assert_true(the_svm->destroyed);
            assert_int_equal(S.hooks[H_FAILOVER], 0);
        } else {
            assert_false(the_svm->destroyed);
            assert_false(the_svm->paused);      /* it runs on */
            assert_int_equal(S.hooks[H_FAILOVER], 1);
            if (c->svm_mem == 1)
                assert_true(svm_equals(the_svm->snap));
            if (c->svm_mem == 2)
                assert_true(svm_equals(P.pvm_at_ckpt[2]));
        }
        end_session();
    }
}

struct fault_case {
    const char *name;
    int only;                   /* 0: all variants, 1: copying only, 2: mapped only,
                                   3: page_refs only, 4: commit only */
    bool primary;
    enum fake_op op;
    int nth;
    enum colo_state pri_state, sec_state;
};

static const struct fault_case fault_cases[] = {
    /* PVM-side faults: replication stops, the PVM runs on; the secondary is
     * told, and must not take over. */
    { "pvm suspend", 0, true, OP_SUSPEND, 3, COLO_P_UNPROTECTED, COLO_FAILED },
    { "pvm dirty log", 0, true, OP_DIRTY, 2, COLO_P_UNPROTECTED, COLO_FAILED },
    { "pvm read (initial)", 1, true, OP_READ, 1, COLO_P_UNPROTECTED, COLO_FAILED },
    { "pvm read (checkpoint)", 1, true, OP_READ, 3, COLO_P_UNPROTECTED, COLO_FAILED },
    { "pvm device save", 0, true, OP_SAVE, 2, COLO_P_UNPROTECTED, COLO_FAILED },
    /* ... except a PVM that cannot be resumed: the primary fails and hands
     * the VM to the secondary, which has just committed the checkpoint. */
    { "pvm resume", 0, true, OP_RESUME, 2, COLO_FAILED, COLO_S_ACTIVE },
    /* SVM faults: secondary stops, primary carries on unprotected. */
    { "svm suspend", 0, false, OP_SUSPEND, 2, COLO_P_UNPROTECTED, COLO_FAILED },
    { "svm dirty log", 0, false, OP_DIRTY, 1, COLO_P_UNPROTECTED, COLO_FAILED },
    { "svm write (initial)", 0, false, OP_WRITE, 1, COLO_P_UNPROTECTED, COLO_FAILED },
    { "svm write (commit)", 0, false, OP_WRITE, 3, COLO_P_UNPROTECTED, COLO_FAILED },
    { "svm device load", 0, false, OP_LOAD, 2, COLO_P_UNPROTECTED, COLO_FAILED },
    { "svm resume", 0, false, OP_RESUME, 2, COLO_P_UNPROTECTED, COLO_FAILED },
    /* RAM mapped in the engine (or pages held by the backend, page_refs):
     * the page address itself cannot be had. */
    { "pvm page map (initial)", 2, true, OP_PTR, 1, COLO_P_UNPROTECTED, COLO_FAILED },
    { "pvm page map (checkpoint)", 2, true, OP_PTR, 301, COLO_P_UNPROTECTED, COLO_FAILED },
    /* page_refs: 200 pages by reference in the initial copy, so the 205th
     * is in checkpoint 1. */
    { "pvm page refs (initial)", 3, true, OP_PTR, 1, COLO_P_UNPROTECTED, COLO_FAILED },
    { "pvm page refs (checkpoint)", 3, true, OP_PTR, 205, COLO_P_UNPROTECTED, COLO_FAILED },
    /* commit: the SVM cannot take the checkpoint (libxenguest failed). */
    { "svm commit (first)", 4, false, OP_COMMIT, 1, COLO_P_UNPROTECTED, COLO_FAILED },
    { "svm commit (later)", 4, false, OP_COMMIT, 3, COLO_P_UNPROTECTED, COLO_FAILED },
};

static void test_backend_faults(void **state)
{
    be = *state;
    struct cut_rule none = { 0 };

    (void)state;
    for (size_t i = 0; i < sizeof(fault_cases) / sizeof(fault_cases[0]); i++) {
        const struct fault_case *f = &fault_cases[i];

        if ((f->only == 1 && be->page_ptr) || (f->only == 2 && !be->page_ptr) ||
            (f->only == 3 && !be->page_refs) || (f->only == 4 && !be->commit))
            continue;
        print_message("fault: %s\n", f->name);
        if (f->primary)
            fail_primary.op = f->op, fail_primary.nth = f->nth;
        else
            fail_secondary.op = f->op, fail_secondary.nth = f->nth;
        run_session(&none, 3);
        assert_int_equal(P.e.state, f->pri_state);
        assert_int_equal(S.e.state, f->sec_state);
        if (f->sec_state == COLO_S_ACTIVE) {
            assert_int_equal(S.hooks[H_FAILOVER], 1);
            assert_true(svm_equals_low(P.pvm_at_ckpt[1]));
        } else {
            assert_int_equal(S.hooks[H_FAILOVER], 0);   /* never two active VMs */
            if (the_svm)
                assert_true(the_svm->destroyed);
        }
        if (f->pri_state == COLO_P_UNPROTECTED)
            assert_false(P.e.dom->paused);
        end_session();
    }
}

/* The initial copy sends RAM only; holes stay zero on both sides. */
static void test_initial_copy_skips_holes(void **state)
{
    struct cut_rule none = { 0 };

    be = *state;
    run_session(&none, 3);
    assert_int_equal(P.e.stats.initial_total, NR_PAGES - NR_PAGES / 4);
    assert_int_equal(P.e.stats.checkpoints, 4);
    end_session();
}

/* --verify's digest reads only the pfns ram_pfns names (a hole reads as
 * zeros, which the digest skips anyway), and comes out as if it had read
 * every pfn; a changed RAM byte still changes it. */
static void test_digest_reads_ram_only(void **state)
{
    struct colo_backend all = fake_backend_holes;
    struct colo_domain *d;
    char ram[65], every[65], changed[65];

    be = *state;
    all.ram_pfns = NULL;
    assert_int_equal(fake_open_primary(NULL, &d), 0);
    assert_int_equal(colo_domain_digest(be, d, NR_PAGES, "t", 0, ram), 0);
    assert_int_equal(d->pages_read, NR_PAGES - NR_PAGES / 4);
    assert_int_equal(colo_domain_digest(&all, d, NR_PAGES, "t", 0, every), 0);
    assert_int_equal(d->pages_read, NR_PAGES - NR_PAGES / 4 + NR_PAGES);
    assert_string_equal(ram, every);
    d->mem[(NR_PAGES - 2) * COLO_PAGE_SIZE + 100] ^= 1;
    assert_int_equal(colo_domain_digest(be, d, NR_PAGES, "t", 0, changed), 0);
    assert_string_not_equal(ram, changed);
    fake_free(d);
}

/* COLO_VERIFY_DUMP: one line "pfn hash" per page the digest hashed (not
 * the zero ones), pfns ascending; equal pages hash alike, others not. */
static void test_digest_dump(void **state)
{
    char dir[] = "/tmp/test-engine-dumpXXXXXX", path[64], hex[65];
    uint64_t pfn, hash, prev = 0, h[NR_PAGES] = { 0 };
    unsigned lines = 0, want = 0;
    struct colo_domain *d;
    FILE *f;

    be = *state;
    assert_non_null(mkdtemp(dir));
    setenv("COLO_VERIFY_DUMP", dir, 1);
    assert_int_equal(fake_open_primary(NULL, &d), 0);
    assert_int_equal(colo_domain_digest(be, d, NR_PAGES, "pvm", 7, hex), 0);
    unsetenv("COLO_VERIFY_DUMP");
    for (uint64_t p = 0; p < NR_PAGES; p++)
        want += !colo_page_is_zero(d->mem + p * COLO_PAGE_SIZE);
    snprintf(path, sizeof(path), "%s/pvm-7.txt", dir);
    assert_non_null(f = fopen(path, "r"));
    while (fscanf(f, "%" SCNu64 " %" SCNx64, &pfn, &hash) == 2) {
        assert_true(pfn < NR_PAGES && (lines == 0 || pfn > prev));
        assert_false(colo_page_is_zero(d->mem + pfn * COLO_PAGE_SIZE));
        h[pfn] = hash;
        prev = pfn;
        lines++;
    }
    fclose(f);
    unlink(path);
    rmdir(dir);
    assert_int_equal(lines, want);
    /* pfns 0 and 256 hold the same bytes (fake_open_primary), pfn 1 others */
    assert_true(h[0] != 0 && h[0] == h[256] && h[1] != h[0]);
    fake_free(d);
}

/* With peer_dirty the SVM's list reaches the backend in every checkpoint,
 * before the primary's dirty log is read, and the SVM still equals the
 * PVM at each checkpoint (the engine's own union is unchanged). */
static void test_peer_dirty_before_dirty_log(void **state)
{
    struct cut_rule none = { 0 };

    be = *state;
    peer_calls = dirty_before_peer = 0;
    peer_pfns = 0;
    peer_pending = false;
    run_session(&none, 3);
    assert_int_equal(P.e.stats.checkpoints, 4);
    assert_int_equal(peer_calls, 4);
    assert_int_equal(dirty_before_peer, 0);
    assert_true(peer_pfns > 0);         /* the SVM's own writes were handed over */
    end_session();
}

/* With dirty_rest the late pages go out in the same checkpoint (the SVM
 * equals the PVM at each: test_svm_equals_pvm_at_each_checkpoint) and
 * count in its page total. */
static void test_dirty_rest_sent(void **state)
{
    struct cut_rule none = { 0 };
    uint64_t pages = 0;

    be = *state;
    rest_calls = 0;
    rest_pfns = 0;
    run_session(&none, 3);
    assert_int_equal(P.e.stats.checkpoints, 4);
    assert_int_equal(rest_calls, 4);
    assert_true(rest_pfns > 0);         /* some pages did come late */
    pages = P.e.stats.pages_total;
    end_session();
    /* Every checkpoint sent one page twice, and nothing was left out. */
    assert_true(pages >= rest_pfns + 4);
}

/* commit comes once per checkpoint, after its pages and device state;
 * a cut before the end record drops what came (the SVM is then what it
 * was at suspension: test_cut_everywhere). */
static void test_commit_per_checkpoint(void **state)
{
    struct cut_rule none = { 0 };
    struct cut_rule cut = { P2S, ARM_CK2, COLO_REC_DEVICE_STATE, 1, true };

    be = *state;
    commit_calls = commits_dropped = 0;
    run_session(&none, 3);
    assert_int_equal(S.e.stats.checkpoints, 4);
    assert_int_equal(commit_calls, 4);
    assert_int_equal(commits_dropped, 0);
    end_session();
    commit_calls = 0;
    run_session(&cut, 3);
    assert_int_equal(S.e.state, COLO_S_ACTIVE);
    assert_int_equal(commit_calls, 2);          /* checkpoints 0 and 1 */
    assert_true(svm_equals(the_svm->snap));
    end_session();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define BOTH(t) cmocka_unit_test_prestate(t, (void *)&fake_backend), \
                cmocka_unit_test_prestate(t, (void *)&fake_backend_mapped)
        BOTH(test_good_run_state_sequence),
        BOTH(test_svm_equals_pvm_at_each_checkpoint),
        BOTH(test_cut_everywhere),
        BOTH(test_backend_faults),
        cmocka_unit_test_prestate(test_initial_copy_skips_holes, (void *)&fake_backend_holes),
        cmocka_unit_test_prestate(test_svm_equals_pvm_at_each_checkpoint, (void *)&fake_backend_holes),
        cmocka_unit_test_prestate(test_digest_reads_ram_only, (void *)&fake_backend_holes),
        cmocka_unit_test_prestate(test_digest_dump, (void *)&fake_backend_holes),
        cmocka_unit_test_prestate(test_peer_dirty_before_dirty_log, (void *)&fake_backend_peer),
        cmocka_unit_test_prestate(test_svm_equals_pvm_at_each_checkpoint, (void *)&fake_backend_peer),
        cmocka_unit_test_prestate(test_good_run_state_sequence, (void *)&fake_backend_peer),
        cmocka_unit_test_prestate(test_dirty_rest_sent, (void *)&fake_backend_rest),
        cmocka_unit_test_prestate(test_svm_equals_pvm_at_each_checkpoint, (void *)&fake_backend_rest),
        cmocka_unit_test_prestate(test_backend_faults, (void *)&fake_backend_rest),
        cmocka_unit_test_prestate(test_cut_everywhere, (void *)&fake_backend_rest),
        cmocka_unit_test_prestate(test_commit_per_checkpoint, (void *)&fake_backend_commit),
        cmocka_unit_test_prestate(test_svm_equals_pvm_at_each_checkpoint, (void *)&fake_backend_commit),
        cmocka_unit_test_prestate(test_cut_everywhere, (void *)&fake_backend_commit),
        cmocka_unit_test_prestate(test_backend_faults, (void *)&fake_backend_commit),
    };

    colo_log_init("test-engine", getenv("COLO_TEST_DEBUG") ? COLO_LOG_DEBUG : COLO_LOG_ERROR);
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
