/*
 * sim-workload.c - the process that "runs" a sim guest.
 *
 * It writes guest pages at a set rate in a set pattern.  Dirty pages are
 * found by the kernel, not reported by this process: before running it
 * registers its view of guest memory with userfaultfd in asynchronous
 * write-protect mode, so the first write to each page after a scan is
 * recorded in the page tables, and the engine reads and re-arms that record
 * from outside with PAGEMAP_SCAN (see sim-domain.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "colo-proto.h"
#include "sim-guest.h"

/* Features newer than Debian 12's headers; values from the kernel ABI. */
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1u << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1u << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1u << 15)
#endif

void sim_futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

int sim_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;

    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    return (int)syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, tsp, NULL, 0);
}

void sim_vcpu_init(struct sim_vcpu *v, uint64_t nr_pages, uint64_t rate,
                   enum sim_pattern p, uint32_t hot_pct, uint64_t seed, bool tsc)
{
    uint64_t hot = (nr_pages - 1) * hot_pct / 100;

    memset(v, 0, sizeof(*v));
    v->magic = SIM_GUEST_MAGIC;
    v->nr_pages = nr_pages;
    v->rate = rate;
    v->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    v->pattern = (uint32_t)p;
    v->tsc = tsc;
    v->hot_pages = (uint32_t)(hot ? hot : 1);
}

static uint64_t next_rand(struct sim_vcpu *v)
{
    uint64_t x = v->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    v->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Page 0 is the vCPU page; the pattern picks among pages 1..nr_pages-1. */
static uint64_t pick_pfn(struct sim_vcpu *v)
{
    uint64_t span = v->nr_pages - 1, r;

    switch (v->pattern) {
    case SIM_PATTERN_SEQUENTIAL:
        return 1 + v->seq_pos++ % span;
    case SIM_PATTERN_HOTSET:
        r = next_rand(v);
        /* 90 % of writes land in the hot set, the rest anywhere. */
        if (r % 10 != 0)
            return 1 + (r >> 8) % v->hot_pages;
        return 1 + (r >> 8) % span;
    default:
        return 1 + next_rand(v) % span;
    }
}

void sim_vcpu_step(struct sim_vcpu *v, uint8_t *mem, uint32_t n)
{
    if (v->tsc) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        v->rng ^= (uint64_t)ts.tv_nsec;
        if (!v->rng)
            v->rng = 1;     /* xorshift must not reach 0 */
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t pfn = pick_pfn(v);
        uint64_t off = (v->counter % (COLO_PAGE_SIZE / 8)) * 8;
        uint64_t val = v->counter ^ (pfn << 32);

        memcpy(mem + pfn * COLO_PAGE_SIZE + off, &val, sizeof(val));
        v->counter++;
    }
}

static void die(struct sim_ctl *ctl, const char *what)
{
    snprintf(ctl->error, sizeof(ctl->error), "%s: %s", what, strerror(errno));
    atomic_store(&ctl->state, SIM_STATE_FAILED);
    sim_futex_wake(&ctl->state);
    _exit(1);
}

/* Arm kernel dirty tracking on this process's view of guest memory. */
static void arm_dirty_tracking(struct sim_ctl *ctl, void *mem, uint64_t len)
{
    int ufd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    struct uffdio_api api = {
        .api = UFFD_API,
        .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
                    UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
    };
    struct uffdio_register reg = {
        .range = { .start = (uint64_t)(uintptr_t)mem, .len = len },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    struct uffdio_writeprotect wp = {
        .range = { .start = (uint64_t)(uintptr_t)mem, .len = len },
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };

    if (ufd < 0)
        die(ctl, "userfaultfd");
    if (ioctl(ufd, UFFDIO_API, &api) < 0)
        die(ctl, "userfaultfd: asynchronous write-protect unsupported (kernel >= 6.7 needed)");
    if (ioctl(ufd, UFFDIO_REGISTER, &reg) < 0)
        die(ctl, "userfaultfd register");
    if (ioctl(ufd, UFFDIO_WRITEPROTECT, &wp) < 0)
        die(ctl, "userfaultfd write-protect");
    /* ufd stays open for the life of the process: closing it would drop
     * the registration and with it the dirty tracking. */
}

/*
 * Sleep until 'timeout_ns' passes or the host asks for something, as a
 * halted vCPU waits for its next interrupt.  Returns false if the host
 * paused the guest while it slept: the caller must go back to the top of
 * its loop, where it sees the request, without touching guest memory.
 */
static bool halt(struct sim_ctl *ctl, int64_t timeout_ns)
{
    uint32_t halted = SIM_STATE_HALTED;

    atomic_store(&ctl->state, SIM_STATE_HALTED);
    /* Read the request after publishing HALTED: the host stores its request
     * before it reads the state, so either the host sees HALTED (and may
     * pause us asleep) or this load sees the request (and we do not sleep). */
    if (atomic_load(&ctl->req) == SIM_REQ_RUN) {
        sim_futex_wait(&ctl->req, SIM_REQ_RUN, timeout_ns);
        atomic_fetch_add(&ctl->wakeups, 1);
    }
    return atomic_compare_exchange_strong(&ctl->state, &halted, SIM_STATE_RUNNING);
}

static void stall(struct sim_ctl *ctl)
{
    uint32_t us = atomic_load(&ctl->stall_us);

    if (us)
        usleep(us);
}

void sim_workload_main(struct sim_ctl *ctl, void *mem, uint64_t nr_pages, uint32_t batch)
{
    struct sim_vcpu *v = mem;
    struct timespec next;

    /* A guest does not outlive its engine (the parent). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);
    arm_dirty_tracking(ctl, mem, nr_pages * COLO_PAGE_SIZE);
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        uint32_t req = atomic_load(&ctl->req), st;
        uint64_t rate;

        if (req == SIM_REQ_EXIT)
            _exit(0);
        if (req == SIM_REQ_PAUSE) {
            /* Safe point: the guest's state is all in memory. */
            stall(ctl);
            atomic_store(&ctl->state, SIM_STATE_PAUSED);
            sim_futex_wake(&ctl->state);
            while (atomic_load(&ctl->req) == SIM_REQ_PAUSE)
                sim_futex_wait(&ctl->req, SIM_REQ_PAUSE, -1);
            atomic_fetch_add(&ctl->wakeups, 1);
            clock_gettime(CLOCK_MONOTONIC, &next);
            continue;
        }
        st = atomic_load(&ctl->state);
        if (st != SIM_STATE_RUNNING) {
            /* Back to RUNNING, then read the request again.  The host
             * stores its request before it reads our state, so either it
             * sees RUNNING and waits for our answer, or we see its request
             * here; a PAUSED it read a moment ago must not let us step.
             * HALTED_PAUSED is the host's claim: only its resume (back to
             * HALTED) releases it. */
            stall(ctl);
            if (st == SIM_STATE_HALTED_PAUSED ||
                !atomic_compare_exchange_strong(&ctl->state, &st, SIM_STATE_RUNNING))
                continue;
            sim_futex_wake(&ctl->state);
            if (atomic_load(&ctl->req) != SIM_REQ_RUN)
                continue;
        }
        if (v->magic != SIM_GUEST_MAGIC || v->nr_pages != nr_pages) {
            /* Like a guest whose memory was never loaded: it cannot run. */
            snprintf(ctl->error, sizeof(ctl->error), "guest state page is not valid");
            atomic_store(&ctl->state, SIM_STATE_CRASHED);
            sim_futex_wake(&ctl->state);
            _exit(2);
        }
        if (atomic_load(&ctl->touch)) {
            /* A job the host injected (benchmarks): write pages 1..n once,
             * as the guest, so the kernel logs them like any guest write. */
            uint64_t n = ctl->touch_pages < nr_pages - 1 ? ctl->touch_pages : nr_pages - 1;

            for (uint64_t pfn = 1; pfn <= n; pfn++)
                ((uint8_t *)mem)[pfn * COLO_PAGE_SIZE + 8] ^= 1;
            atomic_store(&ctl->touch, 0);
            sim_futex_wake(&ctl->touch);
            continue;
        }
        rate = v->rate;
        if (rate == 0) {            /* idle guest: wait for a request */
            halt(ctl, 100 * 1000000ll);
            continue;
        }
        sim_vcpu_step(v, mem, batch);
        atomic_fetch_add(&ctl->batches, 1);
        /* Pace to 'rate' page writes per second; wake early on requests. */
        next.tv_nsec += (long)(1000000000ull * batch / rate);
        while (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        for (;;) {
            struct timespec now;

            int64_t left;

            clock_gettime(CLOCK_MONOTONIC, &now);
            left = (int64_t)(next.tv_sec - now.tv_sec) * 1000000000ll + (next.tv_nsec - now.tv_nsec);
            if (left < -100 * 1000000ll)
                next = now;         /* fell far behind: do not burst to catch up */
            if (left <= 0 || atomic_load(&ctl->req) != SIM_REQ_RUN || !halt(ctl, left))
                break;
        }
    }
}
