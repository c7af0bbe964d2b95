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

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct port;

typedef void port_frame_fn(void *opaque, uint8_t *frame, size_t len);

struct port_ops {
    /* 0 when nothing more is waiting, -1 when the port has failed (said why).
     * Called whenever poll reported anything on fd. */
    int  (*recv)(struct port *p, port_frame_fn *fn, void *opaque);
    /* 0, or -1 when the frame could not be sent (said why).  A port may
     * only queue the frame (copied: the caller's buffer may go) until
     * flush, which the main loops call before each poll. */
    int  (*send)(struct port *p, const uint8_t *frame, size_t len);
    /* Optional: send what send() queued, one system call for the batch;
     * 0, or -1 when the port failed (said why). */
    int  (*flush)(struct port *p);
    void (*close)(struct port *p);
    /* Optional - a port on a stream socket has more to do than read:
     * events: before each poll, write what waits, retry a connection, and
     *         say what to poll fd for (NULL: POLLIN);
     * lead:   bytes in front of the Ethernet header of one of its frames
     *         (QEMU's vnet header and its length; NULL: none), never compared;
     * backlog: bytes sent but not yet written out (NULL: none). */
    short  (*events)(struct port *p, uint64_t now);
    size_t (*lead)(const struct port *p, const uint8_t *frame, size_t len);
    size_t (*backlog)(const struct port *p);
};

/* What went through a port (a stream port also counts its peers and the
 * defects of their streams). */
struct port_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t connects, disconnects, malformed, truncated;
    /* Frames the kernel could not hand to an AF_PACKET port (its ring or
     * queue was full: PACKET_STATISTICS tp_drops): frames one VM's side
     * lost, which the other side may have had. */
    uint64_t drops;
    /* Frames whose sender left the TCP/UDP checksum to the hardware
     * (transmit checksum offload of a local sender: another VM's netback,
     * dom0's own stack), completed by the proxy before use (packet.h). */
    uint64_t csum_filled;
    /* TCP frames larger than the interface's MTU (a local sender's
     * segmentation offload) cut into segments before sending; and frames
     * the interface refused all the same as too large (EMSGSIZE). */
    uint64_t segmented, oversize;
    /* An interface's device replaced (the SVM's tap of a restarted
     * qemu-xen): times the port found it again, and frames sent while it
     * had none. */
    uint64_t reopened, lost_gone;
    /* Frames the kernel refused to send for want of room (ENOBUFS, EAGAIN:
     * the device's queue full).  Lost like a frame on the wire, which TCP
     * repairs - but on the forward link that is a frame only the SVM lost,
     * so it must show. */
    uint64_t tx_refused;
};

struct port {
    const struct port_ops *ops;
    int fd;                 /* what to poll; -1 while there is none */
    char name[160];         /* for messages: "pvm (vif1.0)" */
    struct port_stats st;
};

/* How an AF_PACKET port receives (port-packet.c says what each is;
 * docs/performance.md why the default is the default). */
enum port_ring { PORT_RING_NONE, PORT_RING_V2, PORT_RING_V3 };
#define PORT_RING_DEFAULT PORT_RING_NONE

/* "none", "v2" or "v3" (NULL or "": the default) into *out; -1 if s is
 * none of these. */
int port_ring_parse(const char *s, enum port_ring *out);
/* How a port of that kind reads and sends, for messages: "recv(), one send
 * a frame", "a TPACKET_V2 ring, batched sends"... */
const char *port_io_name(enum port_ring ring, bool txbatch);
/* The same for the environment's COLO_PROXY_RING (the benchmark's way to
 * choose); -1, said why, if it is set wrong. */
int port_ring_env(enum port_ring *out);
/* Whether AF_PACKET ports batch what they send (sendmmsg at each flush):
 * COLO_PROXY_TXBATCH=1 turns it on (off by default: docs/performance.md).
 * colo-proxy's --ring and --tx-batch win over both variables. */
bool port_txbatch_env(void);

/* An interface, through AF_PACKET: every frame it carries, none we sent. */
struct port *port_open_packet(const char *ifname, const char *role, enum port_ring ring, bool txbatch);

/*
 * A stream socket in QEMU colo-compare's chardev framing (chardev-frame.h),
 * listening or connecting as addr says (stream-addr.h), one peer at a time.
 * A stream whose framing is wrong is counted, logged and dropped (it cannot
 * be resynchronised); a listener then waits for the peer to come back, a
 * client reconnects.  What is sent while there is no peer waits for one.
 * With vnet, frames are handed out and taken as QEMU's vnet header length
 * (4 bytes, big-endian), the vnet header, then the Ethernet frame: what
 * lead() skips.  max_frame bounds what a peer may send (a notify channel's
 * messages are short).
 */
struct port *port_open_stream(const char *addr, const char *role, bool vnet, uint32_t max_frame);

static inline int port_recv(struct port *p, port_frame_fn *fn, void *opaque)
{
    return p->ops->recv(p, fn, opaque);
}

static inline int port_send(struct port *p, const uint8_t *frame, size_t len)
{
    return p->ops->send(p, frame, len);
}

static inline int port_flush(struct port *p)
{
    return p && p->ops->flush ? p->ops->flush(p) : 0;
}

static inline short port_events(struct port *p, uint64_t now)
{
    return p->ops->events ? p->ops->events(p, now) : POLLIN;
}

static inline size_t port_lead(const struct port *p, const uint8_t *frame, size_t len)
{
    return p->ops->lead ? p->ops->lead(p, frame, len) : 0;
}

static inline size_t port_backlog(const struct port *p)
{
    return p->ops->backlog ? p->ops->backlog(p) : 0;
}

static inline void port_close(struct port *p)
{
    if (p)
        p->ops->close(p);
}

#endif
