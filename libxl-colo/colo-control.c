/* colo-control.c - see colo-control.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo-control.h"
#include "colo-log.h"

#define CTL_MAX_BODY 4096     /* control requests are tiny */
#define CTL_IO_TIMEOUT_MS 100 /* a stalled client must not stall checkpoints */

int colo_ctl_open(struct colo_ctl_server *s, const char *addr)
{
    memset(s, 0, sizeof(*s));
    if (strncmp(addr, "unix:", 5) != 0) {
        colo_err("control socket '%s' must be unix:PATH", addr);
        return -1;
    }
    snprintf(s->path, sizeof(s->path), "%s", addr + 5);
    s->lfd = colo_sock_listen(addr);
    return s->lfd < 0 ? -1 : 0;
}

static void drop(struct colo_ctl_server *s, int i)
{
    colo_chan_close(&s->clients[i]);
    --s->nclients;
    s->clients[i] = s->clients[s->nclients];
    s->subscribed[i] = s->subscribed[s->nclients];
    s->answered[i] = s->answered[s->nclients];
}

void colo_ctl_close(struct colo_ctl_server *s)
{
    while (s->nclients)
        drop(s, 0);
    if (s->lfd >= 0) {
        close(s->lfd);
        unlink(s->path);
    }
    s->lfd = -1;
}

int colo_ctl_pollfds(struct colo_ctl_server *s, struct pollfd *pfds, int cap)
{
    int n = 0;

    if (s->lfd < 0 || cap < 1 + s->nclients)
        return 0;
    pfds[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
    for (int i = 0; i < s->nclients; i++)
        pfds[n++] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
    return n;
}

static void reply_status(struct colo_ctl_server *s, struct colo_chan *c)
{
    char *json = s->on_status ? s->on_status(s->opaque) : NULL;
    uint8_t hdr[COLO_REC_HDR_SIZE];
    size_t len = json ? strlen(json) : 0;
    struct iovec iov[2] = { { hdr, colo_enc_hdr(hdr, sizeof(hdr), COLO_REC_STATUS, (uint32_t)len) },
                            { json, len } };

    colo_chan_sendv(c, iov, 2);
    free(json);
}

/* One record from client i; returns -1 if the client must be dropped. */
static int handle_client(struct colo_ctl_server *s, int i)
{
    struct colo_chan *c = &s->clients[i];
    struct colo_rec r;
    uint8_t ack[16];

    if (colo_chan_recv(c, &r, 0) <= 0)
        return -1;
    switch (r.type) {
    case COLO_REC_CHECKPOINT_REQUEST:
        if (!s->on_checkpoint_request)
            break;
        s->on_checkpoint_request(s->opaque, r.u.request.cause);
        return 0;
    case COLO_REC_STATUS_REQUEST:
        reply_status(s, c);
        return 0;
    case COLO_REC_FAILOVER:
        if (!s->on_failover)
            break;
        s->on_failover(s->opaque);
        /* The acknowledgement: failover is in force, so the caller may
         * go on (switch the flows that send this side's output to clients). */
        return colo_chan_send(c, ack, colo_enc_failover(ack, sizeof(ack), r.u.failover.reason)) < 0 ? -1 : 0;
    case COLO_REC_CHECKPOINT_SUBSCRIBE:
        s->subscribed[i] = true;
        /* The echo: from here every CHECKPOINT_DONE waits for this client. */
        return colo_chan_send(c, ack, colo_enc_empty(ack, sizeof(ack), COLO_REC_CHECKPOINT_SUBSCRIBE)) < 0 ? -1 : 0;
    case COLO_REC_CHECKPOINT_DONE:
        if (s->subscribed[i]) {         /* an answer, not a request */
            s->answered[i] = r.u.seq.seq + 1;
            return 0;
        }
        if (!s->on_checkpoint_done)
            break;
        s->on_checkpoint_done(s->opaque, r.u.seq.seq);
        return 0;
    }
    colo_warn("control: %s is not a request this daemon takes; dropping the client", colo_rec_name(r.type));
    return -1;
}

void colo_ctl_handle(struct colo_ctl_server *s, const struct pollfd *pfds, int n)
{
    /* Clients first, from the back, so that drop() does not disturb the
     * indices still to visit; pfds[1 + i] is client i. */
    for (int i = n - 2; i >= 0; i--)
        if (i < s->nclients && pfds[1 + i].revents && handle_client(s, i) < 0)
            drop(s, i);
    if (n > 0 && (pfds[0].revents & POLLIN)) {
        int fd = colo_sock_accept(s->lfd, 0);

        if (fd < 0)
            return;
        /* Non-blocking: a client that stops reading or writing half a
         * record costs at most CTL_IO_TIMEOUT_MS, never the checkpoint loop. */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (s->nclients == COLO_CTL_MAX_CLIENTS ||
            colo_chan_init_sized(&s->clients[s->nclients], fd, "control", CTL_MAX_BODY) < 0) {
            colo_warn("control: too many clients, refusing one");
            close(fd);
            return;
        }
        s->subscribed[s->nclients] = false;
        s->answered[s->nclients] = 0;
        colo_chan_set_io_timeout(&s->clients[s->nclients++], CTL_IO_TIMEOUT_MS);
    }
}

void colo_ctl_broadcast(struct colo_ctl_server *s, const void *rec, size_t len)
{
    for (int i = s->nclients - 1; i >= 0; i--)
        if (colo_chan_send(&s->clients[i], rec, len) < 0)
            drop(s, i);
}

int colo_ctl_checkpoint_done(struct colo_ctl_server *s, uint64_t seq, int wait_ms)
{
    uint8_t buf[32];
    uint64_t deadline = colo_now_ns() + (uint64_t)wait_ms * 1000000u;
    int answered = 0, dropped = 0;

    /* A proxy whose subscription is still unread is not waited for; it
     * releases nothing before the echo, so that is safe.  (Other clients'
     * requests wait for the main loop: a status asked for now would report
     * a checkpoint half done.) */
    colo_ctl_broadcast(s, buf, colo_enc_seq(buf, sizeof(buf), COLO_REC_CHECKPOINT_DONE, seq));
    for (;;) {
        struct pollfd p[COLO_CTL_MAX_CLIENTS];
        int who[COLO_CTL_MAX_CLIENTS], n = 0;
        uint64_t now = colo_now_ns();

        for (int i = 0; i < s->nclients; i++)
            if (s->subscribed[i] && s->answered[i] != seq + 1) {
                who[n] = i;
                p[n++] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
            }
        if (n == 0)
            break;
        if (now >= deadline) {
            /* Resuming the VM without its answer could let output of the
             * next epoch out as if this checkpoint covered it: the client
             * is taken out (it sees the connection close) instead. */
            for (int k = n - 1; k >= 0; k--) {
                colo_err("control: a subscribed client did not answer CHECKPOINT_DONE %" PRIu64
                         " within %d ms; dropping it", seq, wait_ms);
                drop(s, who[k]);
            }
            dropped = 1;
            break;
        }
        if (poll(p, (nfds_t)n, (int)((deadline - now) / 1000000u) + 1) < 0 && errno != EINTR) {
            colo_log_errno("control: waiting for the answers to CHECKPOINT_DONE %" PRIu64, seq);
            deadline = now;     /* drop the ones that have not answered */
            continue;
        }
        /* From the back: drop() moves the last client into the hole, and
         * every index above who[k] has been visited already. */
        for (int k = n - 1; k >= 0; k--)
            if (p[k].revents && handle_client(s, who[k]) < 0) {
                colo_err("control: a subscribed client went away before answering "
                         "CHECKPOINT_DONE %" PRIu64, seq);
                drop(s, who[k]);
                dropped = 1;
            }
    }
    for (int i = 0; i < s->nclients; i++)
        answered += s->subscribed[i] && s->answered[i] == seq + 1;
    return dropped ? -1 : answered;
}

int colo_ctl_subscribe(struct colo_chan *c)
{
    uint8_t buf[16];

    return colo_chan_send(c, buf, colo_enc_empty(buf, sizeof(buf), COLO_REC_CHECKPOINT_SUBSCRIBE));
}

int colo_ctl_request_status(struct colo_chan *c, char **json, int wait_ms)
{
    uint8_t buf[16];
    struct colo_rec r;

    if (colo_chan_send(c, buf, colo_enc_empty(buf, sizeof(buf), COLO_REC_STATUS_REQUEST)) < 0)
        return -1;
    do {
        if (colo_chan_recv(c, &r, wait_ms) != 1) {
            colo_err("no status from the daemon on the %s socket", c->what);
            return -1;
        }
    } while (r.type == COLO_REC_CHECKPOINT_DONE || r.type == COLO_REC_FAILOVER);
    if (r.type != COLO_REC_STATUS) {
        colo_err("the daemon answered %s instead of STATUS", colo_rec_name(r.type));
        return -1;
    }
    *json = strndup((const char *)r.u.blob.data, r.u.blob.len);
    return *json ? 0 : -1;
}
