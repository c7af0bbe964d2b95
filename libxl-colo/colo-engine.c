/* colo-engine.c - state names, statistics and teardown shared by both loops. */
#include <stdlib.h>
#include <string.h>

#include "colo-engine.h"

static const char *const state_names[COLO_STATE__MAX] = {
    [COLO_P_CONNECTING] = "connecting",
    [COLO_P_INITIAL_COPY] = "initial-copy",
    [COLO_P_RUNNING] = "running",
    [COLO_P_SUSPENDING] = "suspending",
    [COLO_P_WAIT_SVM_SUSPENDED] = "wait-svm-suspended",
    [COLO_P_RECV_SVM_DIRTY] = "recv-svm-dirty",
    [COLO_P_SEND_STATE] = "send-state",
    [COLO_P_WAIT_SVM_READY] = "wait-svm-ready",
    [COLO_P_RESUMING] = "resuming",
    [COLO_P_WAIT_SVM_RESUMED] = "wait-svm-resumed",
    [COLO_P_COMMIT_DEVICES] = "commit-devices",
    [COLO_P_UNPROTECTED] = "unprotected",
    [COLO_S_WAIT_HELLO] = "wait-hello",
    [COLO_S_INITIAL_RECV] = "initial-recv",
    [COLO_S_RUNNING] = "running",
    [COLO_S_SUSPENDING] = "suspending",
    [COLO_S_SEND_DIRTY] = "send-dirty",
    [COLO_S_RECV_CHECKPOINT] = "recv-checkpoint",
    [COLO_S_COMMIT] = "commit",
    [COLO_S_SEND_READY] = "send-ready",
    [COLO_S_RESUMING] = "resuming",
    [COLO_S_SEND_RESUMED] = "send-resumed",
    [COLO_S_ACTIVE] = "active",
    [COLO_FAILED] = "failed",
};

const char *colo_state_name(enum colo_state s)
{
    return (unsigned)s < COLO_STATE__MAX && state_names[s] ? state_names[s] : "unknown";
}

static const char *const phase_names[COLO_PHASE__MAX] = {
    [COLO_PHASE_SUSPEND] = "suspend",
    [COLO_PHASE_SEND] = "send",
    [COLO_PHASE_SVM_READY] = "svm_ready",
    [COLO_PHASE_RELEASE] = "release",
    [COLO_PHASE_RESUME] = "resume",
};

const char *colo_phase_name(enum colo_phase p)
{
    return (unsigned)p < COLO_PHASE__MAX ? phase_names[p] : "unknown";
}

void colo_stats_record_pause(struct colo_stats *s, uint64_t ns)
{
    s->pauses[s->checkpoints % COLO_PAUSE_RING] = ns;
    s->pause_last_ns = ns;
    if (ns > s->pause_max_ns)
        s->pause_max_ns = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Median over the last COLO_PAUSE_RING pauses (call after checkpoints++). */
uint64_t colo_stats_median_pause(const struct colo_stats *s)
{
    uint64_t n = s->checkpoints < COLO_PAUSE_RING ? s->checkpoints : COLO_PAUSE_RING;
    uint64_t tmp[COLO_PAUSE_RING];

    if (n == 0)
        return 0;
    memcpy(tmp, s->pauses, n * sizeof(tmp[0]));
    qsort(tmp, n, sizeof(tmp[0]), cmp_u64);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

void colo_engine_fini(struct colo_engine *e)
{
    if (e->have_chan)
        colo_chan_close(&e->chan);
    e->have_chan = false;
    colo_bitmap_free(&e->dirty);
    colo_bitmap_free(&e->svm_dirty);
    colo_bitmap_free(&e->rest);
    free(e->pfns);
    free(e->pages);
    colo_ckpt_buf_free(e->ckbuf);
    e->ckbuf = NULL;
    e->pfns = NULL;
    e->pages = NULL;
}
