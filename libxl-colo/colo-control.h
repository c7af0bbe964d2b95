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
 *
 * A client that releases or translates the VM's output at CHECKPOINT_DONE
 * (the proxies) sends CHECKPOINT_SUBSCRIBE once; from then on the daemon
 * waits for it to answer each CHECKPOINT_DONE with the same record before
 * the VM runs again, so that output the VM produces after a checkpoint can
 * never be taken for output the checkpoint covers.
 */
#ifndef COLO_CONTROL_H
#define COLO_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colo-channel.h"

#define COLO_CTL_MAX_CLIENTS 16

struct colo_ctl_server {
    int lfd;
    struct colo_chan clients[COLO_CTL_MAX_CLIENTS];
    bool subscribed[COLO_CTL_MAX_CLIENTS];  /* sent CHECKPOINT_SUBSCRIBE */
    uint64_t answered[COLO_CTL_MAX_CLIENTS]; /* last CHECKPOINT_DONE seq answered + 1 */
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
 * Send CHECKPOINT_DONE(seq) to every client, then wait until each
 * subscribed client has answered it, serving their other records
 * meanwhile.  A subscribed client that has not answered within wait_ms is
 * dropped, with an error naming the checkpoint.  Returns how many answered,
 * or -1 if one was dropped: the output it held may then go out with the
 * next epoch's.
 */
int  colo_ctl_checkpoint_done(struct colo_ctl_server *s, uint64_t seq, int wait_ms);

/*
 * Client side (the proxies): subscribe on a connection to a daemon's
 * control socket; 0 or -1 (logged).  The daemon echoes the record once it
 * waits for the client; a CHECKPOINT_DONE that arrives before the echo was
 * sent before the subscription took, and must not release anything.
 */
int  colo_ctl_subscribe(struct colo_chan *c);

/*
 * Client side (colo-ctl, xl-colo): ask the daemon on c for its status.
 * CHECKPOINT_DONE and FAILOVER records the engine broadcasts may arrive
 * first and are skipped.  0 with *json malloc'd and NUL-terminated, or -1 (logged) if
 * no STATUS came within wait_ms.
 */
int colo_ctl_request_status(struct colo_chan *c, char **json, int wait_ms);

#endif
