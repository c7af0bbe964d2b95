/*
 * bench-compare - output comparison rate: colo-proxy's colo-compare
 * compatible mode against QEMU 7.2's colo-compare, on the same streams from
 * the same harness in the same run.
 *
 *   bench-compare [-r RUNS] [-n PACKETS] [-c CONNS] [-w WINDOW] [-p PEER,...]
 *                 [--proxy PATH] [--qemu PATH] [PAYLOAD_BYTES ...]
 *                                         (default: -r 5 -c 16 -w 2048, 100 1400)
 *
 * For each payload size the harness builds one stream of TCP segments
 * (Ethernet/IPv4/TCP from a VM, CONNS connections round robin) and writes
 * it, in QEMU's chardev framing, to primary_in and - identical - to
 * secondary_in, while it reads outdev and counts what comes out.  At most
 * WINDOW packets are in flight (written but not yet out), so no peer is
 * pushed past its queues (QEMU drops a packet when a connection holds more
 * than 1024).  The rate is packets out per second, from the first byte
 * written to the last frame read.  Peers, each started afresh for every
 * run and reached over unix sockets:
 *
 *   null        a do-nothing comparator (a child of the harness): primary_in
 *               copied to outdev, secondary_in read and dropped - the
 *               harness's own ceiling
 *   colo-proxy  colo-proxy --primary-in ... --secondary-in ... --outdev ...
 *   qemu        qemu-system-x86_64 -machine none with socket chardevs, an
 *               iothread and -object colo-compare
 *
 * Prints the median of the runs for each, and the ratio colo-proxy/QEMU
 * (the goal is >= 3).  -p runs only the peers named (to profile one).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chardev-frame.h"
#include "ethgen.h"

enum { PIN, SIN, OUT, NSOCK };
static const char *const sock_names[NSOCK] = { "pin", "sin", "out" };
enum { PEER_NULL, PEER_PROXY, PEER_QEMU, NPEERS };
static const char *const peer_names[NPEERS] = { "null", "colo-proxy", "qemu" };

static char dir[64];
static const char *proxy_bin = "proxy/colo-proxy", *qemu_bin = "qemu-system-x86_64";

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sock_path(char *out, size_t cap, int s)
{
    snprintf(out, cap, "%s/%s.sock", dir, sock_names[s]);
}

/* --- the streams ---------------------------------------------------------------- */

struct stream {
    uint8_t *buf;               /* N records of rec bytes each */
    size_t rec, n;
};

static int build(struct stream *st, size_t payload, size_t n, unsigned conns)
{
    struct tcp_flow *flows = calloc(conns, sizeof(*flows)), unused;
    uint8_t *data = malloc(payload);

    st->rec = 4 + ETHGEN_HDR + payload;
    st->n = n;
    st->buf = malloc(st->rec * n);
    if (!flows || !data || !st->buf)
        return -1;
    for (unsigned c = 0; c < conns; c++)
        ethgen_pair(c, 1, &flows[c], &unused);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = st->buf + i * st->rec;

        for (size_t k = 0; k < payload; k++)
            data[k] = (uint8_t)(i * 7 + k);
        cf_encode_header(r, (uint32_t)(ETHGEN_HDR + payload), false, 0);
        ethgen_tcp(r + 4, &flows[i % conns], 0x18, data, payload);
    }
    free(flows);
    free(data);
    return 0;
}

/* --- peers -------------------------------------------------------------------------- */

static int listen_unix(int s)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    sock_path(a.sun_path, sizeof(a.sun_path), s);
    unlink(a.sun_path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0)
        return -1;
    return fd;
}

/* The do-nothing comparator: primary_in to outdev, secondary_in dropped. */
static void null_peer(int lfd[NSOCK])
{
    static uint8_t buf[256 << 10];
    int fd[NSOCK];

    for (int s = 0; s < NSOCK; s++)
        if ((fd[s] = accept(lfd[s], NULL, NULL)) < 0)
            _exit(1);
    for (;;) {
        struct pollfd p[2] = { { .fd = fd[PIN], .events = POLLIN }, { .fd = fd[SIN], .events = POLLIN } };

        if (poll(p, 2, -1) < 0)
            _exit(1);
        for (int i = 0; i < 2; i++) {
            ssize_t n;

            if (!p[i].revents)
                continue;
            if ((n = read(fd[i], buf, sizeof(buf))) <= 0)
                _exit(0);
            for (ssize_t o = 0, w; i == 0 && o < n; o += w)
                if ((w = write(fd[OUT], buf + o, (size_t)(n - o))) <= 0)
                    _exit(0);
        }
    }
}

static pid_t start_peer(int peer)
{
    char path[NSOCK][108], arg[NSOCK][400];
    int lfd[NSOCK];
    pid_t pid;

    for (int s = 0; s < NSOCK; s++) {
        sock_path(path[s], sizeof(path[s]), s);
        unlink(path[s]);
    }
    if (peer == PEER_NULL)
        for (int s = 0; s < NSOCK; s++)
            if ((lfd[s] = listen_unix(s)) < 0)
                return -1;
    if ((pid = fork()) != 0) {
        if (peer == PEER_NULL)
            for (int s = 0; s < NSOCK; s++)
                close(lfd[s]);
        return pid;
    }
    if (peer == PEER_NULL)
        null_peer(lfd);
    if (peer == PEER_PROXY) {
        int dn = open("/dev/null", O_WRONLY);

        dup2(dn, 1), dup2(dn, 2);               /* its connection log and statistics */
        for (int s = 0; s < NSOCK; s++)
            snprintf(arg[s], sizeof(arg[s]), "unix:%s,server=on", path[s]);
        execl(proxy_bin, proxy_bin, "--primary-in", arg[PIN], "--secondary-in", arg[SIN],
              "--outdev", arg[OUT], "--svm-lag", "3000", (char *)NULL);
    } else {
        char obj[256];

        for (int s = 0; s < NSOCK; s++)
            snprintf(arg[s], sizeof(arg[s]), "socket,id=%s,path=%s,server=on,wait=off", sock_names[s], path[s]);
        snprintf(obj, sizeof(obj), "colo-compare,id=c0,primary_in=pin,secondary_in=sin,outdev=out,iothread=io1");
        execlp(qemu_bin, qemu_bin, "-machine", "none", "-nodefaults", "-display", "none",
               "-object", "iothread,id=io1", "-chardev", arg[PIN], "-chardev", arg[SIN],
               "-chardev", arg[OUT], "-object", obj, (char *)NULL);
    }
    fprintf(stderr, "bench-compare: cannot run %s: %s\n", peer == PEER_PROXY ? proxy_bin : qemu_bin,
            strerror(errno));
    _exit(127);
}

static int connect_unix(int s)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };

    sock_path(a.sun_path, sizeof(a.sun_path), s);
    for (int i = 0; i < 200; i++) {               /* up to 10 s for the peer to listen */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
        close(fd);
        usleep(50000);
    }
    return -1;
}

/* --- one run ------------------------------------------------------------------------- */

struct result {
    double pps, mbps;
    bool ok;
};

/* Count frames in outdev's bytes: the 4-byte lengths are all we read. */
struct counter {
    uint8_t hdr[4];
    size_t hgot, left;
    uint64_t frames, bytes;
};

static void count(struct counter *c, const uint8_t *b, size_t n)
{
    while (n > 0) {
        if (c->left == 0) {
            c->hdr[c->hgot++] = *b++, n--;
            if (c->hgot == 4) {
                c->left = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 | (size_t)c->hdr[2] << 8 | c->hdr[3];
                c->hgot = 0;
                c->bytes += c->left;
                c->frames++;
            }
            continue;
        }
        size_t k = n < c->left ? n : c->left;

        b += k, n -= k, c->left -= k;
    }
}

/* A peer may take a moment to accept all three, and QEMU drops what it
 * releases while outdev is not accepted yet: send one ARP request as both
 * VMs until it comes out (then forget it was counted). */
static int sync_outdev(const int fd[NSOCK], struct counter *cnt)
{
    uint8_t rec[4 + 60], buf[4096];

    for (int i = 0; i < 50 && !cnt->frames; i++) {
        cf_encode_header(rec, 60, false, 0);
        ethgen_arp(rec + 4, (uint8_t)i);
        if (send(fd[PIN], rec, sizeof(rec), MSG_NOSIGNAL) != (ssize_t)sizeof(rec) ||
            send(fd[SIN], rec, sizeof(rec), MSG_NOSIGNAL) != (ssize_t)sizeof(rec))
            return -1;
        for (uint64_t end = now_ns() + (i ? 200 : 400) * 1000000ull; now_ns() < end;) {
            struct pollfd p = { .fd = fd[OUT], .events = POLLIN };
            ssize_t n;

            if (poll(&p, 1, 20) == 1 && (n = recv(fd[OUT], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
                count(cnt, buf, (size_t)n);
            if (cnt->frames && cnt->left == 0 && cnt->hgot == 0)
                break;
        }
    }
    if (!cnt->frames)
        return -1;
    memset(cnt, 0, sizeof(*cnt));
    return 0;
}

static struct result run(int peer, const struct stream *st, size_t window)
{
    static uint8_t rbuf[1 << 20];
    struct result r = { 0 };
    struct counter cnt = { 0 };
    size_t off[2] = { 0, 0 }, total = st->rec * st->n;
    int fd[NSOCK], status;
    uint64_t t0 = 0, t1, deadline;
    pid_t pid = start_peer(peer);

    if (pid < 0)
        return r;
    for (int s = 0; s < NSOCK; s++)
        if ((fd[s] = connect_unix(s)) < 0) {
            fprintf(stderr, "bench-compare: %s: cannot connect to its %s\n", peer_names[peer], sock_names[s]);
            goto out;
        }
    if (sync_outdev(fd, &cnt) < 0) {
        fprintf(stderr, "bench-compare: %s: nothing ever came out of outdev\n", peer_names[peer]);
        goto out;
    }
    t0 = now_ns();
    deadline = t0 + 120 * 1000000000ull;
    while (cnt.frames < st->n && now_ns() < deadline) {
        size_t limit = (size_t)(cnt.frames + window < st->n ? cnt.frames + window : st->n) * st->rec;
        struct pollfd p[NSOCK];

        for (int s = 0; s < 2; s++)
            p[s] = (struct pollfd){ .fd = fd[s], .events = off[s] < limit ? POLLOUT : 0 };
        p[OUT] = (struct pollfd){ .fd = fd[OUT], .events = POLLIN };
        if (poll(p, NSOCK, 1000) < 0)
            break;
        for (int s = 0; s < 2; s++)
            if (p[s].revents & POLLOUT) {
                ssize_t n = send(fd[s], st->buf + off[s], limit - off[s], MSG_NOSIGNAL);

                if (n > 0)
                    off[s] += (size_t)n;
            }
        if (p[OUT].revents) {
            ssize_t n = recv(fd[OUT], rbuf, sizeof(rbuf), MSG_DONTWAIT);

            if (n == 0)
                break;
            if (n > 0)
                count(&cnt, rbuf, (size_t)n);
        }
    }
    t1 = now_ns();
    r.ok = cnt.frames == st->n && cnt.bytes == (uint64_t)st->n * (st->rec - 4) && off[PIN] == total;
    if (!r.ok)
        fprintf(stderr, "bench-compare: %s: %llu of %zu frames came out\n", peer_names[peer],
                (unsigned long long)cnt.frames, st->n);
    r.pps = (double)cnt.frames / ((double)(t1 - t0) / 1e9);
    r.mbps = (double)cnt.bytes / ((double)(t1 - t0) / 1e3);   /* bytes/us = MB/s */
out:
    for (int s = 0; s < NSOCK; s++)
        if (fd[s] >= 0)
            close(fd[s]);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    return r;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int runs = 5, i;
    size_t npkt = 0, window = 2048, sizes[8] = { 100, 1400 };
    unsigned conns = 16;
    int nsizes = 0;
    bool use[NPEERS] = { true, true, true };

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            npkt = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            conns = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-w") && i + 1 < argc)
            window = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc) {
            const char *l = argv[++i];

            for (int k = 0; k < NPEERS; k++)
                use[k] = strstr(l, peer_names[k]) != NULL;
        } else if (!strcmp(argv[i], "--proxy") && i + 1 < argc)
            proxy_bin = argv[++i];
        else if (!strcmp(argv[i], "--qemu") && i + 1 < argc)
            qemu_bin = argv[++i];
        else if (argv[i][0] != '-' && nsizes < 8 && atoi(argv[i]) > 0 && atoi(argv[i]) <= 1460)
            sizes[nsizes++] = (size_t)atoi(argv[i]);
        else {
            fprintf(stderr, "usage: bench-compare [-r RUNS] [-n PACKETS] [-c CONNS] [-w WINDOW] "
                    "[-p PEER,...] [--proxy PATH] [--qemu PATH] [PAYLOAD_BYTES (1..1460) ...]\n");
            return 2;
        }
    }
    if (!nsizes)
        nsizes = 2;
    if (runs < 1 || runs > 99 || conns < 1 || window < 1) {
        fprintf(stderr, "bench-compare: -r 1..99, -c and -w at least 1\n");
        return 2;
    }
    snprintf(dir, sizeof(dir), "/tmp/bench-compare.%d", (int)getpid());
    if (mkdir(dir, 0700) < 0) {
        perror(dir);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("%-8s %-11s %12s %10s  (median of %d runs; %u connections, window %zu)\n", "payload", "peer",
           "packets/s", "MB/s", runs, conns, window);
    for (int z = 0; z < nsizes; z++) {
        struct stream st;
        size_t n = npkt ? npkt : sizes[z] <= 200 ? 400000 : 150000;
        double pps[NPEERS][99], mb[NPEERS][99], med[NPEERS];
        bool all_ok = true;

        if (build(&st, sizes[z], n, conns) < 0) {
            fprintf(stderr, "bench-compare: out of memory\n");
            return 1;
        }
        for (int k = 0; k < runs; k++)
            for (int peer = 0; peer < NPEERS; peer++) {     /* interleaved: load hits all alike */
                struct result r = use[peer] ? run(peer, &st, window) : (struct result){ .ok = true };

                all_ok &= r.ok;
                pps[peer][k] = r.pps, mb[peer][k] = r.mbps;
            }
        for (int peer = 0; peer < NPEERS; peer++) {
            med[peer] = median(pps[peer], runs);
            if (use[peer])
                printf("%-8zu %-11s %12.0f %10.1f\n", sizes[z], peer_names[peer], med[peer], median(mb[peer], runs));
        }
        printf("%-8zu ratio colo-proxy/qemu %.2f   null/colo-proxy %.2f   (%zu packets per run%s)\n",
               sizes[z], med[PEER_PROXY] / med[PEER_QEMU], med[PEER_NULL] / med[PEER_PROXY], n,
               all_ok ? "" : "; SOME RUNS INCOMPLETE, see above");
        fflush(stdout);
        free(st.buf);
    }
    for (int s = 0; s < NSOCK; s++) {
        char p[108];

        sock_path(p, sizeof(p), s);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}
