/*
 * sim-guest.h - the simulated guest: what lives in its "RAM" and how its
 * workload process is controlled.
 *
 * A sim guest is a memfd of nr_pages pages.  Page 0 holds the guest's whole
 * execution state (the equivalent of a vCPU's registers for this tiny
 * machine): its counter, random-number state and access pattern.  The
 * workload process re-reads that state from memory at every step, so a
 * checkpoint that overwrites the SVM's memory while it is paused makes the
 * SVM continue exactly where the PVM was - as on a real VM.
 *
 * The control block is a separate shared page that is NOT guest memory: it
 * is the host's handle on the "vCPU" (run/pause/exit requests, pacing).
 */
#ifndef SIM_GUEST_H
#define SIM_GUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_GUEST_MAGIC 0x5453455547204d53ull  /* "SM GUEST" */

enum sim_pattern { SIM_PATTERN_UNIFORM = 0, SIM_PATTERN_HOTSET, SIM_PATTERN_SEQUENTIAL };

/* Guest page 0. */
struct sim_vcpu {
    uint64_t magic;
    uint64_t nr_pages;
    uint64_t counter;       /* page writes done: the guest's progress */
    uint64_t rng;           /* xorshift64* state */
    uint64_t seq_pos;       /* next page of the sequential pattern */
    uint64_t rate;          /* page writes per second; 0 = idle */
    uint32_t pattern;
    uint32_t hot_pages;     /* size of the hot set */
    uint32_t tsc;           /* mix the host clock into each step (like a
                             * guest reading its TSC): PVM and SVM diverge */
    uint32_t reserved;
};

enum sim_req { SIM_REQ_RUN = 0, SIM_REQ_PAUSE = 1, SIM_REQ_EXIT = 2 };

/*
 * The vCPU's state.  RUNNING, PAUSED, CRASHED and FAILED are written by the
 * workload.  HALTED is the workload asleep between steps (its timer, or
 * idle): a safe point, all its state in memory.  The host may pause a
 * halted guest without waking it, by changing HALTED to HALTED_PAUSED with
 * a compare-and-swap, as Xen pauses a blocked vCPU without an IPI; the
 * workload leaves HALTED only by the reverse compare-and-swap, so once the
 * host's swap wins, the guest cannot write memory until it is resumed.
 *
 * Both sides order their accesses the same way: the host stores its
 * request, then reads the state; the workload publishes its state (HALTED
 * before it sleeps, RUNNING before it steps), then reads the request.  So
 * either the host sees the state, or the workload sees the request - never
 * neither, which is what would let a step slip past a pause the host
 * thought it had.
 */
enum sim_state { SIM_STATE_STARTING = 0, SIM_STATE_RUNNING, SIM_STATE_PAUSED,
                 SIM_STATE_CRASHED, SIM_STATE_FAILED, SIM_STATE_HALTED,
                 SIM_STATE_HALTED_PAUSED };

/* Host-side control block (shared page). */
struct sim_ctl {
    _Atomic uint32_t req;       /* enum sim_req, written by the host */
    _Atomic uint32_t state;     /* enum sim_state, written by the workload */
    _Atomic uint64_t batches;   /* steps taken (a device-state counter) */
    _Atomic uint32_t touch;     /* host asks: write 'touch_pages' pages now; 0 when done */
    _Atomic uint32_t wakeups;   /* times the workload left a pause or a halt */
    _Atomic uint32_t stall_us;  /* tests: stall this long at the two points where
                                 * the workload changes its state after reading
                                 * the request, as a preempted vCPU thread would */
    uint32_t pad;
    uint64_t touch_pages;
    char error[128];            /* why the workload failed, if it did */
};

/* Body of the workload process: never returns. */
void sim_workload_main(struct sim_ctl *ctl, void *mem, uint64_t nr_pages,
                       uint32_t batch) __attribute__((noreturn));

/* Initialise page 0 for a fresh guest. */
void sim_vcpu_init(struct sim_vcpu *v, uint64_t nr_pages, uint64_t rate,
                   enum sim_pattern p, uint32_t hot_pct, uint64_t seed, bool tsc);

/* One step of the guest: write 'n' pages as the pattern says. */
void sim_vcpu_step(struct sim_vcpu *v, uint8_t *mem, uint32_t n);

/* Thin futex wrappers on shared (non-private) memory. */
void sim_futex_wake(_Atomic uint32_t *addr);
int  sim_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);

#endif
