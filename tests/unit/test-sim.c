/*
 * test-sim.c - pausing and resuming the sim guest.
 *
 * A halted guest (asleep between steps, or idle) is paused where it sleeps,
 * without being woken; a guest caught running answers the pause at its next
 * safe point.  Either way, while paused the guest must not write a byte of
 * its memory, and after resume it must run on.  These tests pause real
 * workload processes many times at rates that make both paths common, one
 * of them made to stall where a preempted guest would race the host, and
 * check memory and progress stand still over each pause.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "colo-backend.h"
#include "colo-log.h"
#include "colo-proto.h"
#include "sim-guest.h"
#include "sim.h"

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct colo_domain *open_guest(const char *options)
{
    struct colo_domain_spec spec = { .name = "t", .options = options };
    struct colo_domain *d = NULL;

    assert_int_equal(colo_backend_sim.open_primary(&spec, &d), 0);
    return d;
}

/* Hash of the guest's memory, its first 2 MiB at most (the counter on
 * page 0 catches writes anywhere else). */
static uint64_t mem_hash(struct colo_domain *d)
{
    struct colo_domain_info info;
    uint64_t h = 1469598103934665603ull;

    colo_backend_sim.get_info(d, &info);
    for (uint64_t pfn = 0; pfn < info.nr_pages && pfn < 512; pfn++) {
        const uint8_t *p = colo_backend_sim.page_ptr(d, pfn);

        for (size_t i = 0; i < COLO_PAGE_SIZE; i += 8) {
            uint64_t w;

            memcpy(&w, p + i, 8);
            h = (h ^ w) * 1099511628211ull;
        }
    }
    return h;
}

static uint32_t state_of(struct colo_domain *d)
{
    uint32_t st, w;

    sim_domain_peek(d, &st, &w);
    return st;
}

static uint32_t wakeups_of(struct colo_domain *d)
{
    uint32_t st, w;

    sim_domain_peek(d, &st, &w);
    return w;
}

/* After the pauses, the guest runs on: it made progress since 'start'. */
static void assert_runs_on(struct colo_domain *d, uint64_t start)
{
    usleep(5000);
    assert_true(colo_backend_sim.guest_progress(d) > start);
}

/* Bounded wait for the guest to reach 'want'. */
static void wait_for_state(struct colo_domain *d, uint32_t want)
{
    for (int i = 0; i < 2000 && state_of(d) != want; i++)
        usleep(500);
    assert_int_equal(state_of(d), want);
}

/* An idle guest is paused and resumed 200 times without being woken, and
 * still runs a job afterwards.  The pauses and the gaps between them are
 * long enough for a woken guest to run and be counted.  Its own 100 ms
 * idle timer may fire during the loop (a slow or loaded machine): each
 * firing may cost up to two pauses the slow way and three wake-ups, and no
 * more. */
static void test_idle_guest_not_woken(void **state)
{
    struct colo_domain *d = open_guest("mem=512K,rate=0");
    uint32_t w0, w1;
    uint64_t t0, timers;
    int cold = 0;

    (void)state;
    wait_for_state(d, SIM_STATE_HALTED);
    w0 = wakeups_of(d);
    t0 = now_ns();
    for (int i = 0; i < 200; i++) {
        uint32_t st;

        assert_int_equal(colo_backend_sim.suspend(d), 0);
        st = state_of(d);
        assert_true(st == SIM_STATE_HALTED_PAUSED || st == SIM_STATE_PAUSED);
        cold += st == SIM_STATE_HALTED_PAUSED;
        usleep(100);        /* time for a guest we had woken to run */
        assert_int_equal(colo_backend_sim.resume(d), 0);
        usleep(100);
    }
    timers = 1 + (now_ns() - t0) / 100000000;
    w1 = wakeups_of(d);
    /* Had each pause woken it, that would be 200 wake-ups and no cold pause. */
    assert_true(cold >= 200 - 2 * (int)timers);
    assert_true(w1 - w0 <= 3 * timers);
    assert_int_equal(sim_domain_touch(d, 8), 0);
    colo_backend_sim.destroy(d);
}

/*
 * Pause a guest 'rounds' times; over each pause, memory and progress must
 * not move.  Returns how many pauses found it halted (paused asleep).
 */
static int pause_many(struct colo_domain *d, int rounds)
{
    uint64_t start = colo_backend_sim.guest_progress(d);
    int cold = 0;

    for (int i = 0; i < rounds; i++) {
        uint64_t p0, h0;
        uint32_t st;

        assert_int_equal(colo_backend_sim.suspend(d), 0);
        st = state_of(d);
        assert_true(st == SIM_STATE_HALTED_PAUSED || st == SIM_STATE_PAUSED);
        cold += st == SIM_STATE_HALTED_PAUSED;
        p0 = colo_backend_sim.guest_progress(d);
        h0 = mem_hash(d);
        usleep(300);    /* many of the guest's steps, were it running */
        assert_int_equal(colo_backend_sim.guest_progress(d), p0);
        assert_true(mem_hash(d) == h0);
        assert_int_equal(colo_backend_sim.resume(d), 0);
        usleep(100 + (unsigned)(i % 7) * 30);
    }
    assert_runs_on(d, start);
    return cold;
}

/* A guest stepping every 10 us sleeps most of the time: most pauses catch
 * it asleep, and none may let it write. */
static void test_pacing_guest_still_while_paused(void **state)
{
    struct colo_domain *d = open_guest("mem=512K,rate=100000,batch=1");
    int cold;

    (void)state;
    cold = pause_many(d, 300);
    print_message("pacing guest: %d of 300 pauses found it asleep\n", cold);
    assert_true(cold > 0);
    colo_backend_sim.destroy(d);
}

/*
 * Pauses of a guest whose timer is shorter than a pause, so that it often
 * wakes while paused, and which stalls (as a preempted thread) between
 * reading a request and changing its state: the next resume and suspend
 * then land inside its way back to running.  After every suspend, progress
 * must stand still.
 */
static void test_pauses_race_a_slow_guest(void **state)
{
    struct colo_domain *d = open_guest("mem=512K,rate=40000,batch=1");
    uint64_t start = colo_backend_sim.guest_progress(d);
    int bad = 0;

    (void)state;
    sim_domain_set_stall(d, 150);
    for (int i = 0; i < 1000; i++) {
        uint64_t p0, t0;

        assert_int_equal(colo_backend_sim.suspend(d), 0);
        p0 = colo_backend_sim.guest_progress(d);
        t0 = now_ns();
        while (now_ns() - t0 < 60000 && colo_backend_sim.guest_progress(d) == p0)
            ;
        bad += colo_backend_sim.guest_progress(d) != p0;
        assert_int_equal(colo_backend_sim.resume(d), 0);
        if (i % 8)
            usleep((unsigned)(i % 8) * 50);
    }
    print_message("slow guest: %d of 1000 pauses let it step\n", bad);
    assert_int_equal(bad, 0);
    sim_domain_set_stall(d, 0);
    assert_runs_on(d, start);
    colo_backend_sim.destroy(d);
}

/* A guest that (almost) never sleeps answers the pauses itself: its
 * writes, scattered over 64 MiB, miss the caches and take longer than the
 * 10 ns a page the fastest rate allows, so it is always behind. */
static void test_busy_guest_answers_pause(void **state)
{
    struct colo_domain *d = open_guest("mem=64M,rate=100000000,batch=256");
    int cold;

    (void)state;
    cold = pause_many(d, 100);
    print_message("busy guest: %d of 100 pauses found it asleep\n", cold);
    assert_true(cold < 50);
    colo_backend_sim.destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_guest_not_woken),
        cmocka_unit_test(test_pacing_guest_still_while_paused),
        cmocka_unit_test(test_busy_guest_answers_pause),
        cmocka_unit_test(test_pauses_race_a_slow_guest),
    };

    colo_log_init("test-sim", COLO_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
