/*
 * lab-fpu-check - do a process's vector registers survive while it runs?
 *
 * Usage: lab-fpu-check avx|sse|selftest SECONDS CPU
 *
 * Each round loads the 16 vector registers with a pattern unique to the
 * round, spins on integer instructions only, stores the registers and
 * compares them with the pattern; all of it in one asm block, so the
 * compiler cannot touch the registers in between.  Nothing in a correct
 * machine may change them: dom0's kernel saves and restores them around
 * its own task switches, Xen around its vCPU switches.  A round whose
 * registers came back different means the machine lost this process's
 * register state - the emulated host's fault the lab looks for
 * (docs/xen-lab.md, "Findings").
 *
 * Prints one line:
 *   FPU-CHECK mode=avx cpu=1 seconds=60 rounds=N bad=M [first=ROUND/REG]
 * and exits 0 when bad=0, 1 when not, 2 on bad use.  "selftest" is the
 * avx mode with one register overwritten in the middle of every round: it
 * must report every round bad, which shows the check can see a loss.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NREG 16

/* 32 bytes per register; the sse mode uses the first 16. */
static uint8_t in[NREG][32] __attribute__((aligned(32)));
static uint8_t out[NREG][32] __attribute__((aligned(32)));

#define LD_AVX(n) "vmovdqu " #n "*32(%[i]), %%ymm" #n "\n\t"
#define ST_AVX(n) "vmovdqu %%ymm" #n ", " #n "*32(%[o])\n\t"
#define LD_SSE(n) "movdqu " #n "*32(%[i]), %%xmm" #n "\n\t"
#define ST_SSE(n) "movdqu %%xmm" #n ", " #n "*32(%[o])\n\t"
#define ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) \
               M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define CLOBBERS "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", \
    "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",  \
    "xmm13", "xmm14", "xmm15"

static void round_avx(unsigned long spins)
{
    __asm__ volatile(ALL(LD_AVX) "1: dec %[n]\n\tjnz 1b\n\t" ALL(ST_AVX) "vzeroupper\n\t"
                     : [n] "+r"(spins) : [i] "r"(in), [o] "r"(out) : CLOBBERS);
}

static void round_broken(unsigned long spins)
{
    __asm__ volatile(ALL(LD_AVX) "1: dec %[n]\n\tjnz 1b\n\t"
                     "vpcmpeqb %%ymm7, %%ymm7, %%ymm7\n\t" ALL(ST_AVX) "vzeroupper\n\t"
                     : [n] "+r"(spins) : [i] "r"(in), [o] "r"(out) : CLOBBERS);
}

static void round_sse(unsigned long spins)
{
    __asm__ volatile(ALL(LD_SSE) "1: dec %[n]\n\tjnz 1b\n\t" ALL(ST_SSE)
                     : [n] "+r"(spins) : [i] "r"(in), [o] "r"(out) : CLOBBERS);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "avx") && strcmp(argv[1], "sse") &&
                      strcmp(argv[1], "selftest"))) {
        fprintf(stderr, "usage: lab-fpu-check avx|sse|selftest SECONDS CPU\n");
        return 2;
    }
    int selftest = !strcmp(argv[1], "selftest");
    int avx = selftest || !strcmp(argv[1], "avx");
    char *end;
    long secs = strtol(argv[2], &end, 10);
    if (*end || secs < 1 || secs > 3600) {
        fprintf(stderr, "lab-fpu-check: SECONDS must be 1..3600, not '%s'\n", argv[2]);
        return 2;
    }
    long cpu = strtol(argv[3], &end, 10);
    if (*end || cpu < 0 || cpu >= CPU_SETSIZE) {
        fprintf(stderr, "lab-fpu-check: CPU must be a CPU number, not '%s'\n", argv[3]);
        return 2;
    }
    if (avx && !__builtin_cpu_supports("avx")) {
        fprintf(stderr, "lab-fpu-check: this CPU has no AVX\n");
        return 2;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("lab-fpu-check: sched_setaffinity");
        return 2;
    }

    size_t width = avx ? 32 : 16;
    unsigned long rounds = 0, bad = 0, first_round = 0;
    int first_reg = -1;
    double stop = now() + (double)secs;
    while (now() < stop) {
        /* A pattern no earlier round used: stale registers show. */
        for (int r = 0; r < NREG; r++)
            for (size_t b = 0; b < width; b++)
                in[r][b] = (uint8_t)(rounds * 131u + (unsigned)r * 17u + b * 7u + 1u);
        memset(out, 0, sizeof out);
        if (selftest)
            round_broken(200000);
        else if (avx)
            round_avx(200000);
        else
            round_sse(200000);
        int wrong = -1;
        for (int r = 0; r < NREG && wrong < 0; r++)
            if (memcmp(in[r], out[r], width) != 0)
                wrong = r;
        if (wrong >= 0) {
            if (bad++ == 0) {
                first_round = rounds;
                first_reg = wrong;
            }
        }
        rounds++;
    }
    printf("FPU-CHECK mode=%s cpu=%ld seconds=%ld rounds=%lu bad=%lu", argv[1], cpu, secs,
           rounds, bad);
    if (bad)
        printf(" first=%lu/%s%d", first_round, avx ? "ymm" : "xmm", first_reg);
    printf("\n");
    return bad ? 1 : 0;
}
