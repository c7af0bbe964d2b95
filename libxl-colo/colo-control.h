/*
 * colo-control.h - the engine's control socket.
 *
 * A unix socket where colo-proxy, blktap-colo, colo-ctl and xl-colo connect
 * and speak the same framed records as the replication stream:
 * CHECKPOINT_REQUEST in, CHECKPOINT_DONE and FAILOVER out (to every
 * client: after each committed checkpoint, and when the peer is lost), and
 * STATUS_REQUEST answered with STATUS (JSON).  colo-proxy serves the same
 * socket the other way round: CHECKPOINT_REQUEST out, CHECKPOINT_DONE in.
 * A record the daemon has no callback for drops the client.
 */
#ifndef COLO_CONTROL_H
#define COLO_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "colo-channel.h"

#define COLO_CTL_MAX_CLIENTS 16

struct colo_ctl_server {
    int lfd;
    struct colo_chan clients[COLO_CTL_MAX_CLIENTS];
    int nclients;
    char path[108];
    /* Called for each request; status returns malloc'd JSON. */
    void *opaque;
    void (*on_checkpoint_request)(void *opaque, uint32_t cause);
    char *(*on_status)(void *opaque);
    void (*on_failover)(void *opaque);
    void (*on_checkpoint_done)(void *opaque, uint64_t seq);
};

int  colo_ctl_open(struct colo_ctl_server *s, const char *addr);
void colo_ctl_close(struct colo_ctl_server *s);
/* Append the server's fds to pfds (capacity cap); returns how many. */
int  colo_ctl_pollfds(struct colo_ctl_server *s, struct pollfd *pfds, int cap);
/* Handle readiness reported in pfds[0..n) (the entries colo_ctl_pollfds gave). */
void colo_ctl_handle(struct colo_ctl_server *s, const struct pollfd *pfds, int n);
/* Send a record to every client; clients that fail are dropped. */
void colo_ctl_broadcast(struct colo_ctl_server *s, const void *rec, size_t len);

/*
 * Client side (colo-ctl, xl-colo): ask the daemon on c for its status.
 * CHECKPOINT_DONE and FAILOVER records the engine broadcasts may arrive
 * first and are skipped.  0 with *json malloc'd and NUL-terminated, or -1 (logged) if
 * no STATUS came within wait_ms.
 */
int colo_ctl_request_status(struct colo_chan *c, char **json, int wait_ms);

#endif
