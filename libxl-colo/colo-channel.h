/*
 * colo-channel.h - framed records over a stream socket.
 *
 * A channel owns one connected socket (TCP between hosts, unix locally) and
 * one receive buffer big enough for the largest record.  Receiving is
 * all-or-nothing: colo_chan_recv() returns a whole, decoded record or an
 * error; a record that stops arriving half-way counts as a dead peer after
 * the channel's I/O timeout, which is what lets the secondary tell "primary
 * gone mid-checkpoint" from "primary idle".
 */
#ifndef COLO_CHANNEL_H
#define COLO_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "colo-proto.h"

struct colo_chan {
    int fd;
    int io_timeout_ms;      /* max wait for the rest of a started record */
    int nonblock;           /* fd is O_NONBLOCK (control clients) */
    uint8_t *buf;           /* receive buffer */
    size_t cap;             /* its size: the largest record body accepted */
    uint64_t bytes_sent;
    uint64_t bytes_recv;
    char what[48];          /* "replication", "control", ... for messages */
};

int  colo_chan_init(struct colo_chan *c, int fd, const char *what);
/* A channel for small records only (control sockets): bodies up to cap. */
int  colo_chan_init_sized(struct colo_chan *c, int fd, const char *what, size_t cap);
void colo_chan_close(struct colo_chan *c);
/* Bound every wait inside a record (and every send) to ms milliseconds. */
void colo_chan_set_io_timeout(struct colo_chan *c, int ms);

/* Send bytes (whole records) completely or fail: 0 / -1 (logged). */
int  colo_chan_send(struct colo_chan *c, const void *buf, size_t len);
int  colo_chan_sendv(struct colo_chan *c, struct iovec *iov, int iovcnt);
/* Step *iov / *cnt past 'done' bytes that a writev/readv moved: the
 * vectors it finished are dropped, the one it stopped in is shortened.
 * For loops that write or read until every vector is through. */
void colo_iov_advance(struct iovec **iov, size_t *cnt, size_t done);
/* Send an ERROR record ("alive, and giving up: why"); code is an errno. */
int  colo_chan_send_error(struct colo_chan *c, int code, const char *text);

/*
 * Receive one record.  wait_ms bounds the wait for its first byte (-1: no
 * bound).  Returns 1 with *rec filled (valid until the next recv), 0 if
 * wait_ms passed with nothing arriving, COLO_CHAN_BROKEN on EOF, error or
 * timeout inside a record (the peer is gone), COLO_CHAN_BAD when a record
 * does not decode (the peer is alive but wrong).  Each failure is logged.
 */
#define COLO_CHAN_BROKEN (-1)
#define COLO_CHAN_BAD    (-2)
int  colo_chan_recv(struct colo_chan *c, struct colo_rec *rec, int wait_ms);

/*
 * Like colo_chan_recv, but a record of type `type` whose body fits in cap
 * bytes is received straight into buf (and *rec points into buf): the
 * secondary uses it to land pages where they will stay, without a copy.
 */
int  colo_chan_recv_into(struct colo_chan *c, struct colo_rec *rec, int wait_ms,
                         uint32_t type, uint8_t *buf, size_t cap);

/* Receive and insist on one type: 0, COLO_CHAN_BROKEN (also for a timeout)
 * or COLO_CHAN_BAD (another type, or an ERROR record from the peer). */
int  colo_chan_expect(struct colo_chan *c, uint32_t type, struct colo_rec *rec, int wait_ms);

/*
 * Addresses: "HOST:PORT" (TCP, IPv4 or [IPv6]) or "unix:/path".
 * listen returns a listening fd, connect a connected one, or -1 (logged).
 */
int  colo_sock_listen(const char *addr);
int  colo_sock_connect(const char *addr, int timeout_ms);
int  colo_sock_accept(int lfd, int timeout_ms);

/* Nanoseconds on CLOCK_MONOTONIC: the one clock of every timeout and pause. */
uint64_t colo_now_ns(void);

#endif
