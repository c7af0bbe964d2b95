/*
 * colo-netload - the "VM" server and the load clients of the network tests
 * and the network benchmark (tests/integration/proxy-ovs.sh,
 * tests/bench/bench-net).
 *
 *   colo-netload serve PORT [DIVERGE-WORD]
 *       One thread, epoll, any number of connections.  A line
 *       "REQ n TEXT" is answered "RESP n " + (TEXT + " ") x 8 - the
 *       protocol of netvm.py - or, if TEXT contains DIVERGE-WORD,
 *       "RESP n DIVERGED ..." (a divergent SVM).  "SINK" makes the
 *       connection a sink: everything after it is counted, and at the
 *       client's end of stream the server answers "GOT bytes".
 *       "SOURCE bytes" sends that many bytes, then closes.
 *   colo-netload requests HOST PORT CONNS REQS PARALLEL SECONDS [hold]
 *       CONNS connections with REQS requests each (sizes vary up to ~1 KiB,
 *       answers up to ~8 KiB), PARALLEL at a time; every answer checked.
 *       With "hold", all PARALLEL connections are established before any
 *       sends a request (so that many really are open at once).
 *       Prints "ok N max-open M" or "FAIL: why (N answered)"; exit 0 if ok.
 *   colo-netload latency HOST PORT COUNT
 *       COUNT small requests one after another on one connection; prints
 *       "p50 US p99 US mean US".
 *   colo-netload upload HOST PORT SECONDS | download HOST PORT BYTES
 *       Bulk TCP throughput; prints "MBps X bytes N seconds S".
 *   colo-netload ask HOST PORT TEXT SECONDS
 *       One request; prints "sent T" and then "answer T LINE" or "timeout"
 *       (T: CLOCK_MONOTONIC seconds, to order against other processes).
 *   colo-netload keep HOST PORT N FILE SECONDS
 *       N requests on one connection, "first N", then - on the same
 *       connection - N more once FILE exists; "ok 2N" or "FAIL: why".
 *
 * Every wait is bounded; nothing here trusts the network to behave.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 16384

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "colo-netload: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long num(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < 0) {
        fprintf(stderr, "colo-netload: %s '%s' is not a number\n", what, s);
        exit(2);
    }
    return v;
}

static void raise_nofile(void)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* A growable byte buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;

        while (cap < b->len + n)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap)))
            die("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* The answer to "REQ n TEXT": "RESP n " + (TEXT + " ") x 8 + "\n". */
static void answer(struct buf *out, const char *id, size_t idlen, const char *text, size_t tlen,
                   bool diverge)
{
    buf_add(out, "RESP ", 5);
    buf_add(out, id, idlen);
    buf_add(out, " ", 1);
    if (diverge)
        buf_add(out, "DIVERGED ", 9);
    for (int i = 0; i < 8; i++) {
        buf_add(out, text, tlen);
        buf_add(out, " ", 1);
    }
    buf_add(out, "\n", 1);
}

/* ---- server ---- */

struct sconn {
    int fd;
    struct buf in, out;
    size_t out_off;
    enum { S_LINES, S_SINK, S_SOURCE } mode;
    uint64_t count;         /* SINK: bytes received; SOURCE: bytes still to send */
    bool closing;
};

static const char *diverge_word;

/* Handle the complete lines in c->in; false if the connection must close. */
static bool serve_lines(struct sconn *c)
{
    char *nl;

    while (c->mode == S_LINES && (nl = memchr(c->in.p, '\n', c->in.len))) {
        size_t n = (size_t)(nl - c->in.p);
        char *line = c->in.p, *sp;

        *nl = 0;
        if (n >= 4 && !strncmp(line, "REQ ", 4) && (sp = strchr(line + 4, ' '))) {
            bool div = diverge_word && strstr(sp + 1, diverge_word);

            answer(&c->out, line + 4, (size_t)(sp - line - 4), sp + 1, (size_t)(line + n - sp - 1), div);
        } else if (!strcmp(line, "SINK")) {
            c->mode = S_SINK;
            c->count = c->in.len - n - 1;
        } else if (!strncmp(line, "SOURCE ", 7)) {
            c->mode = S_SOURCE;
            c->count = strtoull(line + 7, NULL, 10);
        } else {
            return false;
        }
        buf_drop(&c->in, n + 1);
    }
    if (c->mode != S_LINES)
        c->in.len = 0;
    return c->in.len < LINE_MAX_LEN;
}

/* Write what is pending; false on a broken connection. */
static bool serve_flush(struct sconn *c)
{
    static char pattern[65536];

    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);

        if (w < 0)
            return errno == EAGAIN;
        c->out_off += (size_t)w;
    }
    c->out.len = c->out_off = 0;
    while (c->mode == S_SOURCE && c->count) {
        size_t n = c->count < sizeof(pattern) ? c->count : sizeof(pattern);
        ssize_t w = send(c->fd, pattern, n, MSG_NOSIGNAL);

        if (w < 0)
            return errno == EAGAIN;
        c->count -= (uint64_t)w;
    }
    if (c->mode == S_SOURCE || c->closing)
        return false;       /* all sent: close */
    return true;
}

static void serve_close(int ep, struct sconn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c);
}

static _Noreturn void serve(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

    raise_nofile();
    if (lfd < 0 || ep < 0)
        die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0)
        die("bind/listen");
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, -1);

        for (int i = 0; i < n; i++) {
            struct sconn *c = evs[i].data.ptr;
            char rb[65536];
            ssize_t r;

            if (!c) {
                int fd;

                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (!(c = calloc(1, sizeof(*c))))
                        die("out of memory");
                    c->fd = fd;
                    ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            while ((r = recv(c->fd, rb, sizeof(rb), 0)) > 0) {
                if (c->mode == S_SINK)
                    c->count += (uint64_t)r;
                else if (c->mode == S_LINES)
                    buf_add(&c->in, rb, (size_t)r);
            }
            if (r < 0 && errno != EAGAIN) {
                serve_close(ep, c);
                continue;
            }
            if (r == 0 && c->mode == S_SINK) {      /* the client's end: the count */
                char got[48];
                int gl = snprintf(got, sizeof(got), "GOT %llu\n", (unsigned long long)c->count);

                buf_add(&c->out, got, (size_t)gl);
                c->mode = S_LINES;
                c->closing = true;
            } else if (r == 0 && !c->closing) {
                serve_close(ep, c);
                continue;
            }
            if (!serve_lines(c) || !serve_flush(c)) {
                serve_close(ep, c);
                continue;
            }
            ev = (struct epoll_event){ .events = EPOLLIN | (c->out.len || c->mode == S_SOURCE ? EPOLLOUT : 0),
                                       .data.ptr = c };
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
}

/* ---- clients ---- */

static int connect_to(const char *host, int port, bool nonblock)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        die("socket / address");
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

struct cconn {
    int fd, id, req;
    bool established;
    struct buf in, want;
};

/* Send the request a connection sends next, and note the answer it must
 * get; false if it could not be sent. */
static bool next_request(struct cconn *c)
{
    char text[1200], line[1300];
    int tl = snprintf(text, sizeof(text), "c%d-r%d-", c->id, c->req);
    int fill = (c->req * 37 + c->id * 11) % 900;
    char id[16];
    int il = snprintf(id, sizeof(id), "%d", c->req);

    memset(text + tl, 'x', (size_t)fill);
    tl += fill;
    c->want.len = 0;
    answer(&c->want, id, (size_t)il, text, (size_t)tl, false);
    int ll = snprintf(line, sizeof(line), "REQ %d %.*s\n", c->req, tl, text);

    /* A request is at most ~1 KiB: the socket buffer takes it whole. */
    return send(c->fd, line, (size_t)ll, MSG_NOSIGNAL) == ll;
}

static int requests(const char *host, int port, int conns, int reqs, int parallel, double secs, bool hold)
{
    struct cconn *cs = calloc((size_t)parallel, sizeof(*cs));
    struct pollfd *p = calloc((size_t)parallel, sizeof(*p));
    double deadline = now_s() + secs;
    int started = 0, finished = 0, open = 0, max_open = 0, answered = 0, nest = 0;
    bool go = !hold;
    const char *fail = NULL;

    raise_nofile();
    if (!cs || !p)
        die("out of memory");
    for (int i = 0; i < parallel; i++)
        cs[i].fd = -1;
    while (finished < conns && !fail) {
        /* Start connections into free slots (in hold mode: one wave). */
        for (int i = 0; i < parallel && started < conns && (!hold || !go); i++) {
            if (cs[i].fd >= 0)
                continue;
            cs[i] = (struct cconn){ .fd = connect_to(host, port, true), .id = started++ };
            if (cs[i].fd < 0) {
                fail = "connect failed";
                break;
            }
            open++;
        }
        if (hold && !go && (open == parallel || started == conns) && nest == open) {
            go = true;
            for (int i = 0; i < parallel && !fail; i++)
                if (cs[i].fd >= 0 && !next_request(&cs[i]))
                    fail = "a request could not be sent";
        }
        for (int i = 0; i < parallel; i++)
            p[i] = (struct pollfd){ .fd = cs[i].fd,
                                    .events = cs[i].established ? POLLIN : POLLOUT };
        if (now_s() > deadline) {
            fail = "timed out";
            break;
        }
        if (poll(p, (nfds_t)parallel, 100) < 0 && errno != EINTR)
            die("poll");
        for (int i = 0; i < parallel && !fail; i++) {
            struct cconn *c = &cs[i];
            char rb[16384], *nl;
            ssize_t r;

            if (c->fd < 0 || !p[i].revents)
                continue;
            if (!c->established) {
                int err = 0;
                socklen_t el = sizeof(err);

                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    errno = err;
                    fail = "connection refused or reset while connecting";
                    break;
                }
                c->established = true;
                if (++nest > max_open)
                    max_open = nest;
                if (go && !next_request(c))
                    fail = "a request could not be sent";
                continue;
            }
            r = recv(c->fd, rb, sizeof(rb), 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                fail = r == 0 ? "the server closed a connection" : "a connection broke";
                break;
            }
            buf_add(&c->in, rb, (size_t)r);
            if (!(nl = memchr(c->in.p, '\n', c->in.len)))
                continue;
            if ((size_t)(nl - c->in.p) + 1 != c->want.len || memcmp(c->in.p, c->want.p, c->want.len)) {
                fprintf(stderr, "connection %d request %d: got %.60s\n", c->id, c->req, c->in.p);
                fail = "a wrong answer";
                break;
            }
            buf_drop(&c->in, c->want.len);
            answered++;
            if (++c->req < reqs) {
                if (!next_request(c))
                    fail = "a request could not be sent";
                continue;
            }
            close(c->fd);
            free(c->in.p);
            free(c->want.p);
            *c = (struct cconn){ .fd = -1 };
            open--, nest--, finished++;
        }
    }
    if (fail)
        printf("FAIL: %s (%d answered, %d of %d connections done, max-open %d)\n", fail, answered,
               finished, conns, max_open);
    else
        printf("ok %d max-open %d\n", answered, max_open);
    for (int i = 0; i < parallel; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].in.p);
        free(cs[i].want.p);
    }
    free(cs);
    free(p);
    return fail ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int latency(const char *host, int port, int count)
{
    double *t = calloc((size_t)count, sizeof(double)), sum = 0;
    int fd = connect_to(host, port, false);
    char line[64], rb[256];

    if (!t || fd < 0 || count < 1)
        die("latency: connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 10 }, sizeof(struct timeval));
    for (int i = 0; i < count; i++) {
        int ll = snprintf(line, sizeof(line), "REQ %d x\n", i);
        double t0 = now_s();
        size_t got = 0;

        if (send(fd, line, (size_t)ll, MSG_NOSIGNAL) != ll)
            die("latency: send");
        /* The answer "RESP i x x x x x x x x \n" */
        do {
            ssize_t r = recv(fd, rb + got, sizeof(rb) - got, 0);

            if (r <= 0) {
                fprintf(stderr, "colo-netload: latency: no answer to request %d\n", i);
                free(t);
                return 1;
            }
            got += (size_t)r;
        } while (rb[got - 1] != '\n' && got < sizeof(rb));
        t[i] = (now_s() - t0) * 1e6;
        sum += t[i];
    }
    qsort(t, (size_t)count, sizeof(double), cmp_double);
    printf("p50 %.1f p99 %.1f mean %.1f\n", t[count / 2], t[(int)(count * 0.99)], sum / count);
    close(fd);
    free(t);
    return 0;
}

static int bulk(const char *host, int port, bool up, long arg)
{
    static char chunk[65536];
    int fd = connect_to(host, port, false);
    char rb[65536];
    uint64_t bytes = 0;
    double t0, t;
    ssize_t r;

    if (fd < 0)
        die("bulk: connect");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 20 }, sizeof(struct timeval));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 20 }, sizeof(struct timeval));
    t0 = now_s();
    if (up) {
        size_t got = 0;

        if (send(fd, "SINK\n", 5, MSG_NOSIGNAL) != 5)
            die("bulk: send");
        while (now_s() - t0 < (double)arg)
            if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
                die("bulk: send");
        shutdown(fd, SHUT_WR);
        while (got < sizeof(rb) - 1 && (r = recv(fd, rb + got, sizeof(rb) - 1 - got, 0)) > 0)
            got += (size_t)r;
        rb[got] = 0;
        if (sscanf(rb, "GOT %llu", (unsigned long long *)&bytes) != 1) {
            fprintf(stderr, "colo-netload: upload: no byte count from the server\n");
            return 1;
        }
    } else {
        char req[48];
        int rl = snprintf(req, sizeof(req), "SOURCE %ld\n", arg);

        if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl)
            die("bulk: send");
        while ((r = recv(fd, rb, sizeof(rb), 0)) > 0)
            bytes += (uint64_t)r;
        if (r < 0 || bytes != (uint64_t)arg) {
            fprintf(stderr, "colo-netload: download: %llu of %ld bytes\n", (unsigned long long)bytes, arg);
            return 1;
        }
    }
    t = now_s() - t0;
    printf("MBps %.1f bytes %llu seconds %.2f\n", (double)bytes / t / 1e6, (unsigned long long)bytes, t);
    close(fd);
    return 0;
}

/* Read one line into buf (NUL-terminated, without the newline) within the
 * socket's receive timeout; false on timeout, end or error. */
static bool read_line(int fd, char *buf, size_t cap)
{
    size_t got = 0;

    while (got + 1 < cap) {
        ssize_t r = recv(fd, buf + got, 1, 0);

        if (r <= 0)
            return false;
        if (buf[got] == '\n')
            break;
        got++;
    }
    buf[got] = 0;
    return true;
}

static int ask(const char *host, int port, const char *text, long secs)
{
    int fd = connect_to(host, port, false);
    char line[LINE_MAX_LEN];
    int ll;

    if (fd < 0)
        die("ask: connect");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = secs }, sizeof(struct timeval));
    ll = snprintf(line, sizeof(line), "REQ 0 %s\n", text);
    printf("sent %.6f\n", now_s());
    fflush(stdout);
    if (send(fd, line, (size_t)ll, MSG_NOSIGNAL) != ll)
        die("ask: send");
    if (read_line(fd, line, sizeof(line)))
        printf("answer %.6f %.60s\n", now_s(), line);
    else
        printf("timeout\n");
    close(fd);
    return 0;
}

static int keep(const char *host, int port, int n, const char *file, long secs)
{
    struct cconn c = { .fd = connect_to(host, port, false) };
    char line[LINE_MAX_LEN];
    double deadline = now_s() + (double)secs;
    int rc = 1;

    if (c.fd < 0)
        die("keep: connect");
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = secs }, sizeof(struct timeval));
    for (c.req = 0; c.req < 2 * n; c.req++) {
        if (c.req == n) {
            printf("first %d\n", n);
            fflush(stdout);
            while (access(file, F_OK) != 0 && now_s() < deadline)
                usleep(20000);
        }
        if (!next_request(&c) || !read_line(c.fd, line, sizeof(line))) {
            printf("FAIL: no answer to request %d\n", c.req);
            goto out;
        }
        if (strlen(line) + 1 != c.want.len || memcmp(line, c.want.p, c.want.len - 1)) {
            size_t d = 0;

            while (line[d] && line[d] == c.want.p[d])
                d++;
            printf("FAIL: request %d: %zu bytes, not %zu, differing from byte %zu: %.40s\n", c.req,
                   strlen(line), c.want.len - 1, d, line + d);
            goto out;
        }
    }
    printf("ok %d\n", 2 * n);
    rc = 0;
out:
    close(c.fd);
    free(c.want.p);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "serve")) {
        diverge_word = argc == 4 ? argv[3] : NULL;
        serve((int)num(argv[2], "port"));
    }
    if ((argc == 8 || argc == 9) && !strcmp(argv[1], "requests"))
        return requests(argv[2], (int)num(argv[3], "port"), (int)num(argv[4], "connections"),
                        (int)num(argv[5], "requests"), (int)num(argv[6], "parallel"),
                        (double)num(argv[7], "seconds"), argc == 9 && !strcmp(argv[8], "hold"));
    if (argc == 5 && !strcmp(argv[1], "latency"))
        return latency(argv[2], (int)num(argv[3], "port"), (int)num(argv[4], "count"));
    if (argc == 5 && (!strcmp(argv[1], "upload") || !strcmp(argv[1], "download")))
        return bulk(argv[2], (int)num(argv[3], "port"), argv[1][0] == 'u', num(argv[4], "amount"));
    if (argc == 6 && !strcmp(argv[1], "ask"))
        return ask(argv[2], (int)num(argv[3], "port"), argv[4], num(argv[5], "seconds"));
    if (argc == 7 && !strcmp(argv[1], "keep"))
        return keep(argv[2], (int)num(argv[3], "port"), (int)num(argv[4], "count"), argv[5],
                    num(argv[6], "seconds"));
    fprintf(stderr, "usage: colo-netload serve PORT [DIVERGE-WORD]\n"
            "       colo-netload requests HOST PORT CONNS REQS PARALLEL SECONDS [hold]\n"
            "       colo-netload latency HOST PORT COUNT\n"
            "       colo-netload upload HOST PORT SECONDS | download HOST PORT BYTES\n"
            "       colo-netload ask HOST PORT TEXT SECONDS\n"
            "       colo-netload keep HOST PORT N FILE SECONDS\n");
    return 2;
}
