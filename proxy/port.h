/*
 * port.h - where colo-proxy's frames come from and where they go.
 *
 * The comparator does not care how a frame reached it: from a network
 * interface (an Open vSwitch port or a veth, read with AF_PACKET), or from a
 * stream socket in QEMU colo-compare's chardev framing.  A port hides which.
 * Each has a file descriptor to poll, a receive that hands every frame now
 * waiting to a callback (a bounded batch, so one busy port cannot starve the
 * others), and a send.  Frames handed to the callback are writable and valid
 * only during the call: the rewriter edits them in place before they are
 * sent on.
 */
#ifndef COLO_PORT_H
#define COLO_PORT_H

#include <stddef.h>
#include <stdint.h>

struct port;

typedef void port_frame_fn(void *opaque, uint8_t *frame, size_t len);

struct port_ops {
    /* 0 when nothing more is waiting, -1 when the port has failed (said why). */
    int  (*recv)(struct port *p, port_frame_fn *fn, void *opaque);
    /* 0, or -1 when the frame could not be sent (said why). */
    int  (*send)(struct port *p, const uint8_t *frame, size_t len);
    void (*close)(struct port *p);
};

struct port {
    const struct port_ops *ops;
    int fd;                 /* what to poll for input; -1 while there is none */
    char name[64];          /* for messages: "pvm (vif1.0)" */
};

/* An interface, through AF_PACKET: every frame it carries, none we sent. */
struct port *port_open_packet(const char *ifname, const char *role);

static inline int port_recv(struct port *p, port_frame_fn *fn, void *opaque)
{
    return p->ops->recv(p, fn, opaque);
}

static inline int port_send(struct port *p, const uint8_t *frame, size_t len)
{
    return p->ops->send(p, frame, len);
}

static inline void port_close(struct port *p)
{
    if (p)
        p->ops->close(p);
}

#endif
