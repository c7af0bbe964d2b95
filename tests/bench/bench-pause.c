/*
 * bench-pause - checkpoint pause against a plain TCP transfer of the same
 * bytes, measured in the same run on loopback.
 *
 *   bench-pause [-r REPS] [-m GUEST_MIB] [SIZE_MIB ...]
 *                                  (default: -r 7, sizes 4 64 256, guest
 *                                   16 MiB more than the largest size)
 *
 * A primary engine (this process) and a secondary engine (a forked child)
 * replicate a sim guest over TCP on 127.0.0.1.  For each size the guest
 * writes exactly that many MiB of pages (a job run by the guest itself, so
 * the kernel's dirty log sees it), then one checkpoint is taken; the pause
 * is PVM suspended -> PVM resumed, as the engine measures it.  The peer is a
 * plain TCP transfer, on loopback, of as many bytes as that checkpoint put
 * on the wire, from memory to a reader that acknowledges the last byte:
 * once into memory as large as the transfer ("TCP to RAM", what any real
 * receiver does), once into a reused 1 MiB buffer ("TCP discard", a
 * /dev/null sink that stays in cache).  Prints medians and the ratio of
 * the pause to each (the goal is <= 1.2), and under each size the median
 * of each phase of the pause (colo-engine.h, enum colo_phase) and of the
 * secondary's suspend before it, while the PVM still ran.  With
 * BENCH_DEBUG=1 in the environment the engines log every checkpoint's
 * phases as well.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-engine.h"
#include "colo-log.h"
#include "sim.h"

static int listen_any(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The TCP peer's reader: for each transfer, read 8 bytes of length, then
 * that many bytes, then acknowledge with one byte. */
static void sink_main(int lfd, size_t cap)
{
    int fd = accept(lfd, NULL, NULL);
    char *buf = malloc(cap), ack = 1;

    memset(buf, 0, cap);
    for (;;) {
        uint64_t len, got = 0, mode;

        if (read(fd, &len, 8) != 8 || read(fd, &mode, 8) != 8)
            _exit(0);
        while (got < len) {
            /* mode 0: land the bytes in memory as large as the transfer, as
             * any real receiver must; mode 1: reuse 1 MiB (a discard sink,
             * which stays in cache and so is the faster of the two). */
            size_t off = mode ? 0 : got, room = mode ? (1 << 20) : len - got;
            ssize_t n = read(fd, buf + off, room);

            if (n <= 0)
                _exit(1);
            got += (uint64_t)n;
        }
        if (write(fd, &ack, 1) != 1)
            _exit(1);
    }
}

static uint64_t tcp_transfer(int fd, const uint8_t *src, uint64_t len, uint64_t mode)
{
    uint64_t t0 = colo_now_ns(), off = 0;
    char ack;

    if (write(fd, &len, 8) != 8 || write(fd, &mode, 8) != 8)
        return 0;
    while (off < len) {
        ssize_t n = write(fd, src + off, len - off);

        if (n <= 0)
            return 0;
        off += (uint64_t)n;
    }
    if (read(fd, &ack, 1) != 1)
        return 0;
    return colo_now_ns() - t0;
}

int main(int argc, char **argv)
{
    int reps = 7, nsizes = 0, sizes[16], sport, tport, lfd, tfd, opt;
    struct colo_engine_cfg cfg = { .io_timeout_ms = 30000, .peer_timeout_ms = 0 };
    struct colo_domain_spec sspec = { .name = "bench", .options = "" };
    struct colo_domain_spec pspec = { .name = "bench" };
    struct colo_domain *pvm;
    static struct colo_engine e;
    char opts[128];
    pid_t sec, sink;
    uint8_t *src;
    int maxmib = 0, guestmib = 0, rc = 0;

    while ((opt = getopt(argc, argv, "r:m:")) != -1) {
        if ((opt == 'r' && (reps = atoi(optarg)) >= 1) ||
            (opt == 'm' && (guestmib = atoi(optarg)) >= 1))
            continue;
        fprintf(stderr, "usage: bench-pause [-r REPS] [-m GUEST_MIB] [SIZE_MIB ...]\n");
        return 2;
    }
    for (; optind < argc && nsizes < 16; optind++)
        if ((sizes[nsizes++] = atoi(argv[optind])) < 1)
            return 2;
    if (!nsizes) {
        sizes[0] = 4, sizes[1] = 64, sizes[2] = 256;
        nsizes = 3;
    }
    for (int i = 0; i < nsizes; i++)
        if (sizes[i] > maxmib)
            maxmib = sizes[i];
    if (guestmib && guestmib < maxmib + 1) {
        fprintf(stderr, "bench-pause: a %d MiB guest cannot dirty %d MiB (page 0 is its vCPU)\n",
                guestmib, maxmib);
        return 2;
    }
    if (!guestmib)
        guestmib = maxmib + 16;
    colo_log_init("bench-pause", getenv("BENCH_DEBUG") ? COLO_LOG_DEBUG : COLO_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);

    /* The secondary engine, in its own process as in real use. */
    if ((lfd = listen_any(&sport)) < 0)
        return 1;
    if ((sec = fork()) == 0) {
        static struct colo_engine s;
        int fd = colo_sock_accept(lfd, 5000);  /* as the daemon: TCP_NODELAY */

        colo_secondary_init(&s, &colo_backend_sim, &sspec, fd, &cfg);
        colo_secondary_run(&s, &sspec);
        _exit(0);
    }
    close(lfd);
    /* The TCP peer's reader, likewise. */
    if ((tfd = listen_any(&tport)) < 0)
        return 1;
    if ((sink = fork()) == 0)
        sink_main(tfd, (size_t)(maxmib + 1) << 20);
    close(tfd);

    /* The primary: an idle guest, by default a little larger than the largest size. */
    snprintf(opts, sizeof(opts), "mem=%dM,rate=0", guestmib);
    pspec.options = opts;
    if (colo_backend_sim.open_primary(&pspec, &pvm) < 0)
        return 1;
    snprintf(opts, sizeof(opts), "127.0.0.1:%d", sport);
    if (colo_primary_init(&e, &colo_backend_sim, pvm, colo_sock_connect(opts, 5000), &cfg) < 0 ||
        colo_primary_start(&e) < 0)
        return 1;
    snprintf(opts, sizeof(opts), "127.0.0.1:%d", tport);
    tfd = colo_sock_connect(opts, 5000);
    src = malloc((size_t)(maxmib + 1) << 20);
    memset(src, 0x5a, (size_t)(maxmib + 1) << 20);

    printf("%-9s %13s %13s %13s %12s %7s %7s\n", "dirty", "pause", "TCP to RAM", "TCP discard",
           "bytes/ckpt", "ratio", "ratio/d");
    for (int i = 0; i < nsizes; i++) {
        uint64_t pages = (uint64_t)sizes[i] << 20 >> COLO_PAGE_SHIFT;
        uint64_t pause[64], tcp[64], tcpd[64], phase[COLO_PHASE__MAX][64], svmw[64], bytes = 0;
        int n = reps < 64 ? reps : 64;

        for (int r = 0; r < n; r++) {
            uint64_t before = e.chan.bytes_sent;

            /* The guest dirties `pages` pages (pages 1..N) - plus page 0,
             * which every step of the guest touches. */
            if (sim_domain_touch(pvm, pages) < 0 || colo_primary_checkpoint(&e, COLO_TRIGGER_REQUEST) < 0) {
                rc = 1;
                goto out;
            }
            if (e.stats.pages_last < pages) {
                fprintf(stderr, "bench-pause: checkpoint carried %" PRIu64 " pages, expected %" PRIu64 "\n",
                        e.stats.pages_last, pages);
                rc = 1;
                goto out;
            }
            pause[r] = e.stats.pause_last_ns;
            svmw[r] = e.stats.svm_suspend_last_ns;
            for (int p = 0; p < COLO_PHASE__MAX; p++)
                phase[p][r] = e.stats.phase_last_ns[p];
            bytes = e.chan.bytes_sent - before;
            if (bytes > ((uint64_t)(maxmib + 1) << 20))
                bytes = (uint64_t)(maxmib + 1) << 20;
            tcp[r] = tcp_transfer(tfd, src, bytes, 0);
            tcpd[r] = tcp_transfer(tfd, src, bytes, 1);
            if (!tcp[r] || !tcpd[r]) {
                rc = 1;
                goto out;
            }
        }
        {
            uint64_t pm = median(pause, n), tm = median(tcp, n), td = median(tcpd, n);
            char label[16];

            snprintf(label, sizeof(label), "%d MiB", sizes[i]);
            printf("%-9s %10.2f ms %10.2f ms %10.2f ms %12" PRIu64 " %7.2f %7.2f\n", label,
                   pm / 1e6, tm / 1e6, td / 1e6, bytes, (double)pm / (double)tm, (double)pm / (double)td);
            /* Where the pause went (medians of each phase; they need not
             * add up to the median pause). */
            printf("%-9s", "  phases");
            for (int p = 0; p < COLO_PHASE__MAX; p++)
                printf(" %s %.2f", colo_phase_name((enum colo_phase)p), median(phase[p], n) / 1e6);
            printf(" ms; before it, svm_suspend %.2f ms\n", median(svmw, n) / 1e6);
            fflush(stdout);
        }
    }
out:
    colo_chan_close(&e.chan);
    e.have_chan = false;
    close(tfd);
    waitpid(sink, NULL, 0);
    kill(sec, SIGTERM);
    waitpid(sec, NULL, 0);
    colo_backend_sim.destroy(pvm);
    return rc;
}
