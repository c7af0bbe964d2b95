/*
 * dirtier - the lab guests' workload: dirties memory at a steady pace,
 * counts its progress, and checks its own memory for consistency.
 *
 * It runs as the guest's only program (from a busybox initramfs) and
 * writes to the serial console, which the lab reads from a file in dom0.
 *
 * Each of NPAGES pages holds its own index and the tick at which it was
 * last written, repeated over the page; a separate table (in other pages)
 * records the tick every page should hold.  A checkpoint that copied some
 * pages from one moment and some from another, or a page torn half-way,
 * breaks that agreement, and the full scan done once per round finds it.
 * So a guest that keeps printing "ok" lines after checkpoints and after a
 * failover is evidence that its memory was carried over whole.
 *
 *   dirtier [MIB [PAGES-PER-TICK]]     (defaults 16 MiB, 64 pages)
 * Output: "DIRTIER start mib=.. pages=..", then once a second
 * "DIRTIER tick=T round=R ok" (or "DIRTIER CORRUPT page=P ..." and a
 * non-zero exit).  T never goes backwards on one machine; after a
 * failover the survivor's first T is above the last one the PVM printed
 * before the last checkpoint.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096
#define WORDS (PAGE / sizeof(uint64_t))

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(uint64_t *page, uint64_t index, uint64_t tick)
{
    for (size_t w = 0; w < WORDS; w += 2) {
        page[w] = index;
        page[w + 1] = tick;
    }
}

/* 0 if the page is whole and holds the tick the table says. */
static int check(const uint64_t *page, uint64_t index, uint64_t tick)
{
    for (size_t w = 0; w < WORDS; w += 2)
        if (page[w] != index || page[w + 1] != tick)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    size_t per_tick = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
    if (mib == 0 || mib > 1024 || per_tick == 0) {
        fprintf(stderr, "dirtier: usage: dirtier [MIB 1..1024 [PAGES-PER-TICK]]\n");
        return 2;
    }
    size_t npages = mib * 1024 * 1024 / PAGE;
    uint64_t *mem = aligned_alloc(PAGE, npages * PAGE);
    uint64_t *expect = calloc(npages, sizeof(*expect));
    if (!mem || !expect) {
        fprintf(stderr, "dirtier: out of memory for %zu MiB\n", mib);
        return 2;
    }
    for (size_t p = 0; p < npages; p++)
        fill(mem + p * WORDS, p, 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("DIRTIER start mib=%zu pages=%zu\n", mib, npages);

    uint64_t tick = 0, round = 0;
    size_t next = 0;
    uint64_t seed = 88172645463325252ull;
    double last_print = now();
    for (;;) {
        /* Dirty PER_TICK pages: half in a sweep, half scattered. */
        tick++;
        for (size_t i = 0; i < per_tick; i++) {
            size_t p;
            if (i & 1) {
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
                p = seed % npages;
            } else {
                p = next;
                next = (next + 1) % npages;
            }
            fill(mem + p * WORDS, p, tick);
            expect[p] = tick;
        }
        if (next < per_tick) {      /* the sweep wrapped: scan everything */
            round++;
            for (size_t p = 0; p < npages; p++)
                if (check(mem + p * WORDS, p, expect[p]) != 0) {
                    printf("DIRTIER CORRUPT page=%zu expect-tick=%llu found index=%llu tick=%llu\n",
                           p, (unsigned long long)expect[p],
                           (unsigned long long)mem[p * WORDS],
                           (unsigned long long)mem[p * WORDS + 1]);
                    return 1;
                }
        }
        if (now() - last_print >= 1.0) {
            last_print = now();
            printf("DIRTIER tick=%llu round=%llu ok\n",
                   (unsigned long long)tick, (unsigned long long)round);
        }
        /* A steady pace, not a spin: about 100 ticks a second. */
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}
