/*
 * port-stream.c - a port on a stream socket in QEMU colo-compare's chardev
 * framing: primary_in, secondary_in and outdev of the compatibility mode,
 * and (with short frames) Xen's notify channel.
 *
 * One peer at a time, as QEMU's socket chardevs.  Nothing here blocks: a
 * listener accepts when poll says so, a client connects in the background
 * and retries, and output is queued and written before each poll, many
 * frames per write.  A frame only ever leaves whole: if a connection is lost
 * half-way through one, the rest of it is dropped from the queue, so the
 * next peer starts at a frame boundary.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chardev-frame.h"
#include "colo-be.h"
#include "colo-channel.h"
#include "colo-log.h"
#include "port.h"
#include "stream-addr.h"

#define READ_CHUNK  (256u << 10)    /* one read per recv call: fairness between ports */

struct port_stream {
    struct port port;
    struct stream_addr addr;
    bool vnet;
    int lfd, cfd;                   /* listener (or -1); the connection (or -1) */
    bool connecting, quiet;         /* quiet: a failed connect was logged already */
    uint64_t retry_at;              /* ns: a client's next connect */
    struct cf_decoder dec;
    port_frame_fn *fn;              /* during recv: where frames go */
    void *opaque;
    uint8_t *rbuf;
    uint8_t *out;                   /* wire bytes to write: [head, len) */
    size_t out_head, out_len, out_cap;
    size_t head_left;               /* bytes of the frame at head still to write */
};

static void set_fd(struct port_stream *ps)
{
    ps->port.fd = ps->cfd >= 0 ? ps->cfd : ps->lfd;
}

static void nodelay(struct port_stream *ps, int fd)
{
    if (ps->addr.sa.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
}

/* --- the peer ---------------------------------------------------------------- */

static void close_conn(struct port_stream *ps)
{
    close(ps->cfd);
    ps->cfd = -1;
    ps->connecting = false;
    ps->retry_at = colo_now_ns() + ps->addr.reconnect_ms * 1000000ull;
    set_fd(ps);
}

static void drop_peer(struct port_stream *ps, const char *why)
{
    if (ps->cfd < 0)
        return;
    if (cf_decoder_pending(&ps->dec)) {
        ps->port.st.truncated++;
        colo_warn("%s: %s in the middle of a frame (%zu bytes of it dropped)", ps->port.name,
                  why, cf_decoder_pending(&ps->dec));
    } else {
        colo_info("%s: %s", ps->port.name, why);
    }
    ps->port.st.disconnects++;
    cf_decoder_reset(&ps->dec);
    /* The peer got part of the frame at the head: the next peer must not
     * get the rest of it. */
    ps->out_head += ps->head_left;
    ps->head_left = 0;
    close_conn(ps);
}

static void peer_up(struct port_stream *ps)
{
    ps->connecting = false;
    ps->quiet = false;
    ps->port.st.connects++;
    nodelay(ps, ps->cfd);
    colo_info("%s: connected", ps->port.name);
}

static void try_connect(struct port_stream *ps)
{
    int fd = socket(ps->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    ps->retry_at = colo_now_ns() + ps->addr.reconnect_ms * 1000000ull;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&ps->addr.sa, ps->addr.salen) == 0) {
        ps->cfd = fd;
        peer_up(ps);
    } else if (fd >= 0 && errno == EINPROGRESS) {
        ps->cfd = fd;
        ps->connecting = true;
    } else {
        if (!ps->quiet)
            colo_log_errno("%s: cannot connect (retrying every %u ms)", ps->port.name,
                           ps->addr.reconnect_ms);
        ps->quiet = true;
        if (fd >= 0)
            close(fd);
    }
    set_fd(ps);
}

static int open_listener(struct port_stream *ps)
{
    int fd = socket(ps->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd >= 0 && ps->addr.sa.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)&ps->addr.sa)->sun_path);   /* a stale socket file */
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
    if (fd < 0 || bind(fd, (struct sockaddr *)&ps->addr.sa, ps->addr.salen) < 0 || listen(fd, 4) < 0) {
        colo_log_errno("%s: cannot listen", ps->port.name);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    ps->lfd = fd;
    return 0;
}

/* --- output ------------------------------------------------------------------- */

/* n bytes from the head were written: keep head_left on frame boundaries. */
static void written(struct port_stream *ps, size_t n)
{
    size_t hs = ps->vnet ? 8 : 4;

    while (n > 0) {
        size_t k;

        if (ps->head_left == 0)
            ps->head_left = hs + colo_get_be32(ps->out + ps->out_head);
        k = n < ps->head_left ? n : ps->head_left;
        ps->out_head += k;
        ps->head_left -= k;
        n -= k;
    }
}

static void flush(struct port_stream *ps)
{
    while (ps->cfd >= 0 && !ps->connecting && ps->out_head < ps->out_len) {
        ssize_t n = send(ps->cfd, ps->out + ps->out_head, ps->out_len - ps->out_head, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                drop_peer(ps, "connection lost while writing");
            break;
        }
        written(ps, (size_t)n);
    }
    if (ps->out_head == ps->out_len)
        ps->out_head = ps->out_len = 0;
}

static int stream_send(struct port *p, const uint8_t *frame, size_t len)
{
    struct port_stream *ps = (struct port_stream *)p;
    /* with vnet, frame starts with the vnet header length: the wire's too */
    size_t body = ps->vnet ? len - 4 : len, need = 4 + len;

    if ((ps->vnet && len < 4) || body > CF_MAX_FRAME) {
        colo_err("%s: refusing to send a malformed frame of %zu bytes", p->name, len);
        return -1;
    }
    if (ps->out_len + need > ps->out_cap) {
        size_t live = ps->out_len - ps->out_head, ncap = ps->out_cap ? ps->out_cap : 1 << 16;
        uint8_t *n;

        if (live)
            memmove(ps->out, ps->out + ps->out_head, live); /* written bytes go first */
        ps->out_len = live, ps->out_head = 0;
        while (ncap < live + need)
            ncap *= 2;
        if (ncap != ps->out_cap) {
            if (!(n = realloc(ps->out, ncap))) {
                colo_err("%s: out of memory queueing output", p->name);
                return -1;
            }
            ps->out = n, ps->out_cap = ncap;
        }
    }
    ps->out[ps->out_len] = (uint8_t)(body >> 24);
    ps->out[ps->out_len + 1] = (uint8_t)(body >> 16);
    ps->out[ps->out_len + 2] = (uint8_t)(body >> 8);
    ps->out[ps->out_len + 3] = (uint8_t)body;
    memcpy(ps->out + ps->out_len + 4, frame, len);
    ps->out_len += need;
    p->st.frames_out++;
    p->st.bytes_out += len;
    return 0;
}

static size_t stream_backlog(const struct port *p)
{
    const struct port_stream *ps = (const struct port_stream *)p;

    return ps->out_len - ps->out_head;
}

/* --- input -------------------------------------------------------------------- */

static void on_frame(void *opaque, uint8_t *data, size_t len, uint32_t vnet_hdr_len)
{
    struct port_stream *ps = opaque;

    (void)vnet_hdr_len;                 /* it is in the 4 bytes before data */
    ps->port.st.frames_in++;
    ps->port.st.bytes_in += len;
    if (ps->vnet)
        ps->fn(ps->opaque, data - 4, len + 4);
    else
        ps->fn(ps->opaque, data, len);
}

static int stream_recv(struct port *p, port_frame_fn *fn, void *opaque)
{
    struct port_stream *ps = (struct port_stream *)p;
    ssize_t n;

    if (ps->cfd < 0 && ps->lfd >= 0) {
        if ((ps->cfd = accept4(ps->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
            peer_up(ps);
        set_fd(ps);
        return 0;
    }
    if (ps->cfd < 0)
        return 0;
    if (ps->connecting) {
        int err = 0;

        getsockopt(ps->cfd, SOL_SOCKET, SO_ERROR, &err, &(socklen_t){ sizeof(err) });
        if (err) {
            errno = err;
            if (!ps->quiet)
                colo_log_errno("%s: cannot connect (retrying every %u ms)", p->name, ps->addr.reconnect_ms);
            ps->quiet = true;
            close_conn(ps);
            return 0;
        }
        peer_up(ps);
    }
    flush(ps);
    if (ps->cfd < 0)
        return 0;
    n = recv(ps->cfd, ps->rbuf, READ_CHUNK, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop_peer(ps, n == 0 ? "the peer closed the connection" : "connection lost");
        return 0;
    }
    if (n < 0)
        return 0;
    ps->fn = fn, ps->opaque = opaque;
    if (cf_decode(&ps->dec, ps->rbuf, (size_t)n, on_frame, ps) < 0) {
        ps->port.st.malformed++;
        colo_err("%s: malformed framing: %s; dropping the connection (a stream cannot be "
                 "resynchronised)", p->name, ps->dec.error);
        cf_decoder_reset(&ps->dec);     /* what was cut off is not a truncation */
        drop_peer(ps, "connection dropped");
    }
    return 0;
}

/* --- the port ------------------------------------------------------------------- */

static short stream_events(struct port *p, uint64_t now)
{
    struct port_stream *ps = (struct port_stream *)p;

    if (ps->cfd < 0 && ps->lfd < 0 && now >= ps->retry_at)
        try_connect(ps);
    if (ps->cfd < 0)
        return ps->lfd >= 0 ? POLLIN : 0;
    if (ps->connecting)
        return POLLOUT;
    flush(ps);
    if (ps->cfd < 0)
        return ps->lfd >= 0 ? POLLIN : 0;
    return POLLIN | (ps->out_head < ps->out_len ? POLLOUT : 0);
}

static size_t stream_lead(const struct port *p, const uint8_t *frame, size_t len)
{
    const struct port_stream *ps = (const struct port_stream *)p;
    size_t lead;

    if (!ps->vnet || len < 4)
        return 0;
    lead = 4 + (size_t)colo_get_be32(frame);     /* the decoder checked it fits */
    return lead < len ? lead : len;
}

static void stream_close(struct port *p)
{
    struct port_stream *ps = (struct port_stream *)p;

    if (ps->cfd >= 0)
        close(ps->cfd);
    if (ps->lfd >= 0) {
        close(ps->lfd);
        if (ps->addr.sa.ss_family == AF_UNIX)
            unlink(((struct sockaddr_un *)&ps->addr.sa)->sun_path);
    }
    cf_decoder_free(&ps->dec);
    free(ps->rbuf);
    free(ps->out);
    free(ps);
}

static const struct port_ops stream_ops = {
    .recv = stream_recv, .send = stream_send, .close = stream_close,
    .events = stream_events, .lead = stream_lead, .backlog = stream_backlog,
};

struct port *port_open_stream(const char *addr, const char *role, bool vnet, uint32_t max_frame)
{
    struct port_stream *ps = calloc(1, sizeof(*ps));
    char err[160];

    if (!ps || !(ps->rbuf = malloc(READ_CHUNK)) || cf_decoder_init(&ps->dec, vnet, max_frame) < 0) {
        colo_err("--%s: out of memory", role);
        goto fail;
    }
    if (stream_addr_parse(addr, &ps->addr, err, sizeof(err)) < 0) {
        colo_err("--%s %s: %s", role, addr, err);
        goto fail;
    }
    ps->port.ops = &stream_ops;
    ps->vnet = vnet;
    ps->lfd = ps->cfd = -1;
    snprintf(ps->port.name, sizeof(ps->port.name), "%.24s (%s)", role, ps->addr.text);
    if (ps->addr.server ? open_listener(ps) < 0 : (try_connect(ps), 0))
        goto fail;
    set_fd(ps);
    return &ps->port;
fail:
    if (ps) {
        cf_decoder_free(&ps->dec);
        free(ps->rbuf);
    }
    free(ps);
    return NULL;
}
