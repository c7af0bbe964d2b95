/*
 * colo-engine.h - the COLO checkpoint engine: primary (save) and secondary
 * (restore) loops as explicit state machines over a domain backend.
 *
 * The states are named after where a checkpoint is; each transition is
 * logged at debug level and every failure is handled according to the state
 * it happened in (docs/architecture.md has the table, derived from
 * shared/colo-semantics.md):
 *
 *   primary loses the secondary in any state -> PVM resumed if suspended,
 *       state UNPROTECTED, devices told to stop holding output;
 *   secondary loses the primary before commit -> checkpoint buffer dropped,
 *       SVM resumed with its own state, state ACTIVE (failover);
 *   secondary loses the primary after commit  -> SVM has the checkpoint,
 *       resumed, state ACTIVE (failover);
 *   secondary loses the primary before the first commit -> there is no
 *       consistent SVM: it is destroyed, state FAILED.
 */
#ifndef COLO_ENGINE_H
#define COLO_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "colo-backend.h"
#include "colo-bitmap.h"
#include "colo-channel.h"
#include "colo-proto.h"

enum colo_state {
    /* primary */
    COLO_P_CONNECTING = 0,
    COLO_P_INITIAL_COPY,
    COLO_P_RUNNING,
    COLO_P_SUSPENDING,
    COLO_P_WAIT_SVM_SUSPENDED,
    COLO_P_RECV_SVM_DIRTY,
    COLO_P_SEND_STATE,
    COLO_P_WAIT_SVM_READY,
    COLO_P_RESUMING,
    COLO_P_WAIT_SVM_RESUMED,
    COLO_P_COMMIT_DEVICES,
    COLO_P_UNPROTECTED,     /* secondary lost: PVM runs alone */
    /* secondary */
    COLO_S_WAIT_HELLO,
    COLO_S_INITIAL_RECV,
    COLO_S_RUNNING,         /* SVM runs, waiting for CHECKPOINT_NEW */
    COLO_S_SUSPENDING,
    COLO_S_SEND_DIRTY,
    COLO_S_RECV_CHECKPOINT,
    COLO_S_COMMIT,
    COLO_S_SEND_READY,
    COLO_S_RESUMING,
    COLO_S_SEND_RESUMED,
    COLO_S_ACTIVE,          /* failed over: the SVM is the VM now */
    /* both */
    COLO_FAILED,            /* a local fault: nothing left to protect */
    COLO_STATE__MAX
};

const char *colo_state_name(enum colo_state s);

/* Pause statistics keep the last COLO_PAUSE_RING pauses for the median. */
#define COLO_PAUSE_RING 1024

/*
 * Where the primary's last pause went, phase by phase (they add up to the
 * pause): an operator asking "why is my pause long" and the pause benchmark
 * both read these.
 */
enum colo_phase {
    COLO_PHASE_SUSPEND,         /* PVM paused, dirty log read */
    COLO_PHASE_SEND,            /* pages, device state, barrier, CHECKPOINT_END */
    COLO_PHASE_SVM_READY,       /* waiting for the secondary's commit */
    COLO_PHASE_RELEASE,         /* the proxies release the output held for it */
    COLO_PHASE_RESUME,          /* PVM resumed */
    COLO_PHASE__MAX
};

const char *colo_phase_name(enum colo_phase p);

struct colo_stats {
    uint64_t checkpoints;
    uint64_t pause_last_ns, pause_max_ns;
    uint64_t phase_last_ns[COLO_PHASE__MAX];
    uint64_t pauses[COLO_PAUSE_RING];
    uint64_t pages_last, pages_total;
    uint64_t svm_dirty_last;
    uint64_t svm_suspend_last_ns;   /* CHECKPOINT_NEW out -> SVM's dirty list in,
                                     * the PVM still running (not in the pause) */
    uint64_t triggers[COLO_TRIGGER__MAX];
    uint64_t initial_done, initial_total;   /* pages of the initial copy */
    uint64_t failovers;
    uint64_t bytes_initial;                 /* replication bytes of the initial copy */
};

uint64_t colo_stats_median_pause(const struct colo_stats *s);
void colo_stats_record_pause(struct colo_stats *s, uint64_t ns);

/*
 * Devices that take part in checkpoints (disk, proxy) plug in here; every
 * hook is optional.  Return -1 to fail the checkpoint (logged by the hook).
 */
struct colo_hooks {
    void *opaque;
    /* primary, PVM suspended: all disk writes of 'epoch' are acknowledged
     * by the secondary; report how many there were. */
    int  (*disk_barrier)(void *opaque, uint64_t epoch, uint64_t *writes);
    /* primary, after SVM_READY and before the PVM resumes: release output
     * held for checkpoint 'seq' (return once it is released; -1 if it may
     * not have been: protection then ends).  secondary, after the commit
     * and before the SVM resumes: the SVM now has the PVM's state (the
     * rewriter resets its offsets; a failure only costs a divergence). */
    int  (*checkpoint_done)(void *opaque, uint64_t seq);
    /* secondary: the SVM has just been created, paused, with its devices,
     * and the initial copy is about to begin.  Where the SVM's network
     * ports get wired: started here, so that it runs beside the copy.
     * Returning -1 refuses the replication (the SVM is destroyed). */
    int  (*svm_created)(void *opaque);
    /* secondary: the first checkpoint is about to be applied to the SVM
     * (or failover runs it from its initial state): what svm_created
     * started must be done by now.  -1 refuses the replication. */
    int  (*svm_first_run)(void *opaque);
    /* secondary: the SVM has been destroyed (the secondary stood down or
     * failed before any failover). */
    void (*svm_destroyed)(void *opaque);
    /* secondary, at commit: apply speculation(epoch) to the base image. */
    int  (*disk_commit)(void *opaque, uint64_t epoch, uint64_t writes);
    /* primary: the secondary is gone, stop holding and forwarding. */
    void (*secondary_lost)(void *opaque);
    /* secondary: failover, the SVM carries on alone. */
    void (*failover)(void *opaque);
    /* secondary: called about every 50 ms while waiting between checkpoints
     * (the daemon serves its control socket here).  Returning -1 stops the
     * secondary: it tells the primary and destroys the SVM. */
    int  (*idle)(void *opaque);
    /* every state transition (tests, tracing) */
    void (*on_state)(void *opaque, enum colo_state from, enum colo_state to);
};

struct colo_engine_cfg {
    int io_timeout_ms;      /* a record in progress must finish within this */
    int peer_timeout_ms;    /* secondary: silence from the primary = death */
    bool verify;            /* log a SHA-256 of guest RAM at each checkpoint */
};

struct colo_engine {
    enum colo_state state;
    const struct colo_backend *be;
    struct colo_domain *dom;
    struct colo_domain_info info;
    struct colo_chan chan;
    bool have_chan;
    struct colo_engine_cfg cfg;
    struct colo_hooks hooks;
    struct colo_stats stats;
    uint64_t seq;           /* next (primary) / current (secondary) checkpoint */
    uint64_t caps;          /* negotiated capabilities */
    bool suspended;         /* the domain is paused by us */
    bool svm_started;       /* secondary: the SVM has run at least once */
    bool committed;         /* secondary: a checkpoint has been committed */
    uint64_t last_end_ns;   /* primary: when the last checkpoint finished */
    char peer_domain[64];

    /* scratch, allocated once */
    struct colo_bitmap dirty, svm_dirty;
    struct colo_bitmap rest;            /* primary: be->dirty_rest's pages */
    uint64_t *pfns;
    uint8_t *pages;

    /* secondary: the checkpoint being received, applied whole at its end */
    struct colo_ckpt_buf *ckbuf;
};

/* --- primary (colo-primary.c) --- */
int  colo_primary_init(struct colo_engine *e, const struct colo_backend *be,
                       struct colo_domain *dom, int fd, const struct colo_engine_cfg *cfg);
/* HELLO, live initial copy, first checkpoint.  0: running protected. */
int  colo_primary_start(struct colo_engine *e);
/* One whole checkpoint.  0: done; -1: it failed and e->state says how. */
int  colo_primary_checkpoint(struct colo_engine *e, enum colo_trigger cause);
/* Something arrived on the replication channel while running. */
int  colo_primary_handle_input(struct colo_engine *e);

/* --- secondary (colo-secondary.c) --- */
int  colo_secondary_init(struct colo_engine *e, const struct colo_backend *be,
                         const struct colo_domain_spec *spec, int fd,
                         const struct colo_engine_cfg *cfg);
/* Run until failover (returns 0, state ACTIVE) or failure (-1). */
int  colo_secondary_run(struct colo_engine *e, const struct colo_domain_spec *spec);

void colo_engine_fini(struct colo_engine *e);
void colo_ckpt_buf_free(struct colo_ckpt_buf *b);

/* Status as JSON (colo-status.c); *out is malloc'd, NUL-terminated. */
int  colo_status_json(const struct colo_engine *e, const char *role, char **out, size_t *len);

/* SHA-256 of all guest RAM, hex, for --verify (colo-verify.c); label and
 * seq name the optional per-page dump (COLO_VERIFY_DUMP). */
int  colo_domain_digest(const struct colo_backend *be, struct colo_domain *d,
                        uint64_t nr_pages, const char *label, uint64_t seq, char hex[65]);
/* SHA-256 of the backend's vcpu_state: 0, 1 when the backend has none, -1. */
int  colo_vcpu_digest(const struct colo_backend *be, struct colo_domain *d, char hex[65]);

#endif
