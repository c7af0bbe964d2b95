/* colo-channel.c - see colo-channel.h. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-le.h"
#include "colo-log.h"

uint64_t colo_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int colo_chan_init(struct colo_chan *c, int fd, const char *what)
{
    return colo_chan_init_sized(c, fd, what, COLO_REC_MAX_BODY);
}

int colo_chan_init_sized(struct colo_chan *c, int fd, const char *what, size_t cap)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->cap = cap;
    c->nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
    colo_chan_set_io_timeout(c, 5000);
    snprintf(c->what, sizeof(c->what), "%s", what);
    c->buf = malloc(cap ? cap : 1);
    if (!c->buf) {
        colo_err("%s channel: cannot allocate the receive buffer", what);
        return -1;
    }
    return 0;
}

/*
 * The socket stays blocking (the kernel waits best), with send and receive
 * timeouts: a read or write that makes no progress for ms milliseconds
 * fails with EAGAIN, which the I/O loops below take as a dead peer.  A
 * non-blocking socket (control clients) gets the same bound through poll().
 */
void colo_chan_set_io_timeout(struct colo_chan *c, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

    c->io_timeout_ms = ms;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void colo_chan_close(struct colo_chan *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

/* Wait until fd is ready for 'events' or the deadline passes. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    int r;

    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r;
}

int colo_chan_sendv(struct colo_chan *c, struct iovec *iov, int iovcnt)
{
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };

    while (m.msg_iovlen > 0) {
        /* sendmsg takes at most IOV_MAX (1024) vectors at a time. */
        size_t all = m.msg_iovlen;
        ssize_t n;

        m.msg_iovlen = all < 1024 ? all : 1024;
        n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        m.msg_iovlen = all;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && c->nonblock && wait_fd(c->fd, POLLOUT, c->io_timeout_ms) > 0)
                continue;
            colo_log_errno("%s channel: send failed", c->what);
            return -1;
        }
        c->bytes_sent += (uint64_t)n;
        colo_iov_advance(&m.msg_iov, &m.msg_iovlen, (size_t)n);
    }
    return 0;
}

void colo_iov_advance(struct iovec **iov, size_t *cnt, size_t done)
{
    while (*cnt > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

int colo_chan_send(struct colo_chan *c, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    return colo_chan_sendv(c, &iov, 1);
}

static int readv_full(struct colo_chan *c, struct iovec *iov, int iovcnt);

int colo_chan_send_error(struct colo_chan *c, int code, const char *text)
{
    uint8_t hdr[32];
    size_t n = strnlen(text, COLO_MAX_TEXT);
    struct iovec iov[2] = { { hdr, colo_enc_error_prefix(hdr, sizeof(hdr), (uint32_t)code, (uint32_t)n) },
                            { (void *)text, n } };

    return colo_chan_sendv(c, iov, 2);
}

/* Read exactly len bytes; each wait bounded by the I/O timeout. */
static int read_full(struct colo_chan *c, uint8_t *p, size_t len)
{
    struct iovec iov = { p, len };

    return readv_full(c, &iov, 1);
}

int colo_chan_recv(struct colo_chan *c, struct colo_rec *rec, int wait_ms)
{
    return colo_chan_recv_into(c, rec, wait_ms, 0, NULL, 0);
}

/* Wait (up to wait_ms) for a record and read its header: 1, 0 (nothing
 * came), or a COLO_CHAN_* failure. */
static int recv_hdr(struct colo_chan *c, int wait_ms, uint32_t *type, uint32_t *len)
{
    uint8_t hdr[COLO_REC_HDR_SIZE];
    const char *why = NULL;
    ssize_t n;
    int r;

    /* The first byte may take as long as the caller allows ... */
    r = wait_fd(c->fd, POLLIN, wait_ms);
    if (r == 0)
        return 0;
    if (r < 0) {
        colo_log_errno("%s channel: poll failed", c->what);
        return COLO_CHAN_BROKEN;
    }
    do
        n = read(c->fd, hdr, 1);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        colo_info("%s channel: peer closed the connection", c->what);
        return COLO_CHAN_BROKEN;
    }
    if (n < 0) {
        if (errno == EAGAIN)
            return 0;
        colo_log_errno("%s channel: receive failed", c->what);
        return COLO_CHAN_BROKEN;
    }
    c->bytes_recv++;
    /* ... the rest of the record must follow within the I/O timeout. */
    if (read_full(c, hdr + 1, sizeof(hdr) - 1) < 0)
        return COLO_CHAN_BROKEN;
    if (colo_rec_parse_hdr(hdr, type, len, &why) < 0) {
        colo_err("%s channel: bad record header (type 0x%x, %u bytes): %s",
                 c->what, *type, *len, why);
        return COLO_CHAN_BAD;
    }
    return 1;
}

/* Read and decode a body of len bytes into body (capacity cap). */
static int recv_body(struct colo_chan *c, struct colo_rec *rec, uint32_t type, uint32_t len,
                     uint8_t *body, size_t cap)
{
    const char *why = NULL;

    if (len > cap) {
        colo_err("%s channel: %s record of %u bytes is larger than this channel accepts",
                 c->what, colo_rec_name(type), len);
        return COLO_CHAN_BAD;
    }
    if (read_full(c, body, len) < 0)
        return COLO_CHAN_BROKEN;
    if (colo_rec_decode(type, body, len, rec, &why) < 0) {
        colo_err("%s channel: bad %s record (type 0x%x, %u bytes): %s",
                 c->what, colo_rec_name(type), type, len, why);
        return COLO_CHAN_BAD;
    }
    return 1;
}

int colo_chan_recv_into(struct colo_chan *c, struct colo_rec *rec, int wait_ms,
                        uint32_t into_type, uint8_t *into, size_t into_cap)
{
    uint32_t type, len;
    int r = recv_hdr(c, wait_ms, &type, &len);

    if (r <= 0)
        return r;
    if (into && type == into_type && len <= into_cap)
        return recv_body(c, rec, type, len, into, into_cap);
    return recv_body(c, rec, type, len, c->buf, c->cap);
}

/* readv until every vector is full, each wait bounded by the I/O timeout;
 * an empty vector is fine. */
static int readv_full(struct colo_chan *c, struct iovec *iov, int iovcnt)
{
    size_t left = (size_t)iovcnt;

    for (;;) {
        ssize_t n;

        while (left > 0 && iov->iov_len == 0)       /* 0 from readv must mean EOF */
            iov++, left--;
        if (left == 0)
            return 0;
        n = readv(c->fd, iov, left < 1024 ? (int)left : 1024);

        if (n > 0) {
            c->bytes_recv += (uint64_t)n;
            colo_iov_advance(&iov, &left, (size_t)n);
            continue;
        }
        if (n == 0) {
            colo_err("%s channel: peer closed the connection in the middle of a record", c->what);
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* blocking socket: SO_RCVTIMEO already waited the full time */
            if (c->nonblock && wait_fd(c->fd, POLLIN, c->io_timeout_ms) > 0)
                continue;
            colo_err("%s channel: record stalled for %d ms: peer presumed dead",
                     c->what, c->io_timeout_ms);
            return -1;
        }
        colo_log_errno("%s channel: receive failed", c->what);
        return -1;
    }
}

int colo_chan_expect(struct colo_chan *c, uint32_t type, struct colo_rec *rec, int wait_ms)
{
    int r = colo_chan_recv(c, rec, wait_ms);

    if (r == 0) {
        colo_err("%s channel: no %s within %d ms", c->what, colo_rec_name(type), wait_ms);
        return -1;
    }
    if (r < 0)
        return r;
    if (rec->type == COLO_REC_ERROR) {
        /* The peer is alive and gave up: not the same as the peer dying. */
        colo_err("%s channel: peer reported error %u: %.*s", c->what, rec->u.error.code,
                 (int)rec->u.error.text.len, (const char *)rec->u.error.text.data);
        return COLO_CHAN_BAD;
    }
    if (rec->type != type) {
        colo_err("%s channel: protocol error: expected %s, got %s", c->what,
                 colo_rec_name(type), colo_rec_name(rec->type));
        return COLO_CHAN_BAD;
    }
    return 0;
}

/* --- addresses -------------------------------------------------------------- */

static int split_hostport(const char *addr, char *host, size_t hcap, const char **port)
{
    const char *colon;
    size_t hl;

    if (addr[0] == '[') {           /* [v6addr]:port */
        const char *end = strchr(addr, ']');

        if (!end || end[1] != ':')
            return -1;
        hl = (size_t)(end - addr - 1);
        if (hl >= hcap)
            return -1;
        memcpy(host, addr + 1, hl);
        host[hl] = '\0';
        *port = end + 2;
        return **port ? 0 : -1;
    }
    colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1])
        return -1;
    hl = (size_t)(colon - addr);
    if (hl >= hcap)
        return -1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    *port = colon + 1;
    return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path))
        return -1;
    strcpy(sun->sun_path, path);
    return 0;
}

static void tune_tcp(int fd)
{
    int one = 1;

    /* Control records are small and latency-critical (they are on the
     * checkpoint's critical path): no Nagle delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int colo_sock_listen(const char *addr)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai, *p;
    int fd = -1, one = 1, e;

    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un sun;

        if (unix_addr(addr + 5, &sun) < 0) {
            colo_err("listen address '%s': unix socket path too long", addr);
            return -1;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(sun.sun_path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0) {
            colo_log_errno("cannot listen on '%s'", addr);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return fd;
    }
    if (split_hostport(addr, host, sizeof(host), &port) < 0) {
        colo_err("listen address '%s' is not HOST:PORT, [V6ADDR]:PORT or unix:PATH", addr);
        return -1;
    }
    if ((e = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0) {
        colo_err("listen address '%s': %s", addr, gai_strerror(e));
        return -1;
    }
    for (p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 && listen(fd, 16) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        colo_log_errno("cannot listen on '%s'", addr);
    return fd;
}

/* Non-blocking connect bounded by timeout_ms, then back to blocking. */
static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL), err = 0;
    socklen_t el = sizeof(err);

    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS)
            return -1;
        if (wait_fd(fd, POLLOUT, timeout_ms) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
            errno = err ? err : errno;
            return -1;
        }
    }
    fcntl(fd, F_SETFL, fl);
    return 0;
}

int colo_sock_connect(const char *addr, int timeout_ms)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
    int fd = -1, e;

    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un sun;

        if (unix_addr(addr + 5, &sun) < 0) {
            colo_err("address '%s': unix socket path too long", addr);
            return -1;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect_bounded(fd, (struct sockaddr *)&sun, sizeof(sun), timeout_ms) < 0) {
            colo_log_errno("cannot connect to '%s'", addr);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return fd;
    }
    if (split_hostport(addr, host, sizeof(host), &port) < 0) {
        colo_err("address '%s' is not HOST:PORT, [V6ADDR]:PORT or unix:PATH", addr);
        return -1;
    }
    if ((e = getaddrinfo(host, port, &hints, &ai)) != 0) {
        colo_err("address '%s': %s", addr, gai_strerror(e));
        return -1;
    }
    for (p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect_bounded(fd, p->ai_addr, p->ai_addrlen, timeout_ms) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        colo_log_errno("cannot connect to '%s'", addr);
        return -1;
    }
    tune_tcp(fd);
    return fd;
}

int colo_sock_accept(int lfd, int timeout_ms)
{
    int fd, r = wait_fd(lfd, POLLIN, timeout_ms);

    if (r <= 0) {
        if (r == 0)
            errno = ETIMEDOUT;
        return -1;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        tune_tcp(fd);       /* harmless on unix sockets: it just fails */
    return fd;
}
