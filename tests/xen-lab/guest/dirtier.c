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
 * Output: "DIRTIER start mib=.. pages=.. status-pfn=0xP", then once a
 * second "DIRTIER tick=T round=R ok" (or "DIRTIER CORRUPT page=P ...", and
 * the dirtier stops dirtying).  T never goes backwards on one machine;
 * after a failover the survivor's first T is above the last one the PVM
 * printed before the last checkpoint.
 *
 * The same figures live in a status page (magic, tick, round, corrupt)
 * at guest frame P, locked in memory, which dom0 reads through a foreign
 * mapping (tests/xen-lab/dom0/lab-peek.c).  The serial console is not
 * enough on its own: with qemu-state=keep the SVM keeps its own emulated
 * UART state while its memory comes from the PVM (docs/xen-backend.md,
 * qemu-state), so after a failover its console may stall while the guest
 * runs on.  For the same reason the console is written without blocking:
 * a stalled UART must not stop the workload.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / sizeof(uint64_t))
#define STATUS_MAGIC 0x5441545354524944ull     /* "DIRTSTAT", little-endian */

struct status {             /* what lab-peek reads; keep the two in step */
    volatile uint64_t magic, tick, round, corrupt;
};

/* One line on the console, never blocking (see the top comment). */
static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0 && write(1, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
        /* EAGAIN: the console is stalled; the status page still counts */
    }
}

/* The guest frame behind a virtual address (root: /proc/self/pagemap). */
static uint64_t frame_of(const void *va)
{
    uint64_t entry = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);

    if (fd < 0 || pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)va / PAGE * sizeof(entry))) !=
                  (ssize_t)sizeof(entry))
        entry = 0;
    if (fd >= 0)
        close(fd);
    return entry >> 63 ? entry & ((1ull << 55) - 1) : 0;
}

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
    struct status *st = aligned_alloc(PAGE, PAGE);
    if (!st) {
        fprintf(stderr, "dirtier: out of memory\n");
        return 2;
    }
    for (size_t p = 0; p < npages; p++)
        fill(mem + p * WORDS, p, 0);
    memset((void *)st, 0, PAGE);
    st->magic = STATUS_MAGIC;
    /* Locked, so the status page stays at the frame announced below. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        perror("dirtier: mlockall");
    fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
    say("DIRTIER start mib=%zu pages=%zu status-pfn=%#llx\n", mib, npages,
        (unsigned long long)frame_of((const void *)st));

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
                    say("DIRTIER CORRUPT page=%zu expect-tick=%llu found index=%llu tick=%llu\n",
                        p, (unsigned long long)expect[p],
                        (unsigned long long)mem[p * WORDS],
                        (unsigned long long)mem[p * WORDS + 1]);
                    st->corrupt = p + 1;
                    for (;;)        /* stop dirtying; the status page stays readable */
                        pause();
                }
        }
        st->tick = tick;
        st->round = round;
        if (now() - last_print >= 1.0) {
            last_print = now();
            say("DIRTIER tick=%llu round=%llu ok\n", (unsigned long long)tick, (unsigned long long)round);
        }
        /* A steady pace, not a spin: about 100 ticks a second. */
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}
