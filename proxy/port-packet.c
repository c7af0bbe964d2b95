/*
 * port-packet.c - a port on a network interface, through AF_PACKET.
 *
 * The proxy sits on Open vSwitch ports (or veths in the tests) and must see
 * every frame the VM side sends, and none of those it injects itself
 * (PACKET_IGNORE_OUTGOING, which holds for the rings as for recv()).
 *
 * Frames arrive in one of three ways, chosen when the port opens
 * (port_ring_parse(), COLO_PROXY_RING; docs/proxy.md says which is the
 * default and why):
 *   none  one recv() per frame: a system call and a copy each;
 *   v2    a TPACKET_V2 receive ring: fixed-size slots in memory shared with
 *         the kernel, read without a system call or a copy.  A frame longer
 *         than a slot is copied whole to the socket's queue as well
 *         (PACKET_COPY_THRESH; the slot says TP_STATUS_COPY) and read from
 *         there, so a large frame is never compared cut short;
 *   v3    a TPACKET_V3 ring: variable-size frames packed into blocks that
 *         the kernel hands over when full or when the retire timeout
 *         expires - fewer wake-ups at high rates, up to that timeout of added
 *         latency at low ones.
 * The frames handed to the callback are in the ring itself (writable: the
 * rewriter edits them in place); the slot or block is given back after it.
 *
 * A frame from a sender on this host with transmit checksum offload
 * (another VM's netback, dom0's stack, an internal port) reaches the socket
 * with its TCP/UDP checksum not yet computed: the kernel says so in the
 * ring slot's status or, for recv(), in PACKET_AUXDATA, and the checksum
 * is computed here before the frame is used (packet.h).  Seen on Open
 * vSwitch's kernel datapath in the Xen lab; the userspace datapath reads
 * its ports through sockets that get complete frames.
 *
 * A port is its interface's name, not the device of the moment.  On Xen a
 * VM's emulated NIC is qemu-xen's tap, and the SVM's qemu is restarted at
 * every checkpoint: the tap goes and a new one of the same name comes
 * (docs/xen-backend.md).  In the in-line layout the proxy owns that tap, so
 * a port whose device went away closes its socket, drops what is sent to
 * it (counted: lost like frames on a wire that was unplugged) and opens the
 * name again once a device has it and is up - from the main loop's events
 * call, every few milliseconds until then.  A device that only went down
 * keeps its socket: the kernel feeds it again when the device comes up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo-log.h"
#include "packet.h"
#include "port.h"

#define BATCH       64              /* frames per recv call: fairness between ports */
#define FRAME_MAX   (65536 + 64)    /* a GSO frame of 64 KiB and its link header */
#define RING_BYTES  (8u << 20)      /* v3: as much as the socket buffer of the recv() path */
/* v2: 16,384 slots of 2 KiB (MTU 1500), more frames than that buffer holds
 * (about 9,500 small ones): with 8 MiB the in-line proxy lost SVM frames in
 * proxy-inline.sh's burst of 1,000 connections (docs/proxy.md). */
#define V2_RING_BYTES (32u << 20)
#define V2_BLOCK    (64u << 10)
#define V3_BLOCK    (256u << 10)    /* holds a 64 KiB GSO frame */
#define V3_RETIRE_MS 1              /* the shortest the kernel offers */
#define TX_FRAMES   64              /* frames queued for one sendmmsg */
#define TX_BYTES    (256u << 10)
#define REOPEN_NS   5000000ull      /* how often a port that lost its device looks for it */

struct port_packet {
    struct port port;
    enum port_ring ring;
    char ifname[IF_NAMESIZE];
    unsigned ifindex;               /* the device the socket is bound to */
    uint64_t retry_at;              /* fd < 0: when to look for the device again */
    uint8_t *map;                   /* the ring (NULL: none) */
    size_t map_len;
    unsigned nslots, slot_size;     /* v2: frames; v3: blocks */
    unsigned cur;                   /* the next slot or block to read */
    /* v3: where we are in the current block (pending == 0: not started). */
    struct tpacket3_hdr *v3_next;
    unsigned v3_left;
    /* Batched sends: copies of the frames queued since the last flush. */
    bool txbatch;
    unsigned tx_n;
    size_t tx_used;
    struct mmsghdr tx_msg[TX_FRAMES];
    struct iovec tx_iov[TX_FRAMES];
    uint8_t tx_buf[TX_BYTES];
    uint8_t buf[FRAME_MAX];         /* recv() path, and v2's copies of large frames */
    unsigned mtu;                   /* the interface's, for cutting offloaded TCP frames */
    uint8_t seg[FRAME_MAX];         /* the segment being cut from such a frame */
};

int port_ring_parse(const char *s, enum port_ring *out)
{
    if (!s || !*s) {
        *out = PORT_RING_DEFAULT;
        return 0;
    }
    static const char *const names[] = { [PORT_RING_NONE] = "none", [PORT_RING_V2] = "v2", [PORT_RING_V3] = "v3" };

    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (!strcmp(s, names[i])) {
            *out = (enum port_ring)i;
            return 0;
        }
    return -1;
}

const char *port_io_name(enum port_ring ring, bool txbatch)
{
    static const char *const names[3][2] = {
        [PORT_RING_NONE] = { "recv(), one send a frame", "recv(), batched sends" },
        [PORT_RING_V2] = { "a TPACKET_V2 ring, one send a frame", "a TPACKET_V2 ring, batched sends" },
        [PORT_RING_V3] = { "a TPACKET_V3 ring, one send a frame", "a TPACKET_V3 ring, batched sends" },
    };

    return (unsigned)ring < 3 ? names[ring][txbatch] : "?";
}

int port_ring_env(enum port_ring *out)
{
    const char *v = getenv("COLO_PROXY_RING");

    if (port_ring_parse(v, out) == 0)
        return 0;
    colo_err("COLO_PROXY_RING=%s: not none, v2 or v3", v);
    return -1;
}

bool port_txbatch_env(void)
{
    const char *v = getenv("COLO_PROXY_TXBATCH");

    return v && strcmp(v, "1") == 0;
}

/* The frames the kernel could not give us since the last look: each one is
 * a frame one VM's side lost and the other's may not have. */
static void read_drops(struct port_packet *pp)
{
    struct tpacket_stats_v3 ts = { 0 };
    socklen_t len = sizeof(ts);

    if (getsockopt(pp->port.fd, SOL_PACKET, PACKET_STATISTICS, &ts, &len) == 0)
        pp->port.st.drops += ts.tp_drops;
}

/* A frame of len bytes of which the ring holds snap: hand it on whole or
 * not at all. */
static void deliver(struct port_packet *pp, uint8_t *frame, unsigned snap, unsigned len, unsigned status,
                    port_frame_fn *fn, void *opaque)
{
    struct port *p = &pp->port;

    if (status & TP_STATUS_LOSING)
        read_drops(pp);
    if (snap < len && (status & TP_STATUS_COPY)) {
        /* The whole frame waits on the socket's queue, in ring order -
         * unless the queue was full then, and what comes is a later frame:
         * only one that starts with the bytes the ring holds is this one. */
        ssize_t n = recv(p->fd, pp->buf, sizeof(pp->buf), MSG_DONTWAIT);

        if (n == (ssize_t)len && memcmp(pp->buf, frame, snap) == 0) {
            frame = pp->buf;
            snap = len;
        }
    }
    if (snap < len) {
        /* Logged the 1st, 2nd, 4th, 8th... time: a burst must not flood. */
        uint64_t n = ++p->st.truncated;

        if (!(n & (n - 1)))
            colo_warn("%s: dropped a frame of %u bytes the ring held only %u of (%" PRIu64 " so far)", p->name,
                      len, snap, p->st.truncated);
        return;
    }
    p->st.frames_in++;
    p->st.bytes_in += len;
    if ((status & TP_STATUS_CSUMNOTREADY) && pkt_fill_checksum(frame, len) == 0)
        p->st.csum_filled++;
    fn(opaque, frame, len);
}

static int open_socket(struct port_packet *pp, const char *role);

static void close_socket(struct port_packet *pp)
{
    if (pp->map)
        munmap(pp->map, pp->map_len);
    pp->map = NULL;
    if (pp->port.fd >= 0)
        close(pp->port.fd);
    pp->port.fd = -1;
    pp->cur = 0;
    pp->v3_next = NULL;
    pp->v3_left = 0;
    pp->tx_n = 0;
    pp->tx_used = 0;
}

/* The errors a socket gets when its device goes down or away. */
static bool device_error(int err)
{
    return err == ENETDOWN || err == ENODEV || err == ENXIO;
}

/*
 * The socket reported err, a device error: if the name now means another
 * device, or none, give the socket up until it is back (0); if it is the
 * same device, only down, keep it (0).  The port has not failed either way.
 */
static int device_lost(struct port_packet *pp, int err)
{
    unsigned now_index = if_nametoindex(pp->ifname);

    if (now_index && now_index == pp->ifindex) {
        colo_warn("%s: %s (the device is down?): frames resume when it is up", pp->port.name,
                  strerror(err));
        return 0;
    }
    colo_warn("%s: its device went away (%s): lost until a device of that name is back and up",
              pp->port.name, strerror(err));
    close_socket(pp);
    pp->retry_at = 0;
    return 0;
}

/* An error waiting on a ring's socket (poll said something, the ring had
 * nothing): a device error is handled, any other fails the port. */
static int ring_error(struct port_packet *pp)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(pp->port.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0)
        return 0;
    if (device_error(err))
        return device_lost(pp, err);
    colo_err("%s: receive failed: %s", pp->port.name, strerror(err));
    return -1;
}

/* Before each poll: a port without its device looks for it again. */
static short packet_events(struct port *p, uint64_t now)
{
    struct port_packet *pp = (struct port_packet *)p;
    struct ifreq ifr = { 0 };
    int fd;

    if (p->fd >= 0 || now < pp->retry_at)
        return POLLIN;
    pp->retry_at = now + REOPEN_NS;
    /* Up first: a socket bound to a device that is down gets ENETDOWN at
     * once, and would be given up again. */
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", pp->ifname);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return POLLIN;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) &&
        open_socket(pp, NULL) == 0) {
        p->st.reopened++;
        colo_warn("%s: its device is back (index %u): frames flow again", p->name, pp->ifindex);
    }
    close(fd);
    return POLLIN;
}

static int recv_plain(struct port *p, port_frame_fn *fn, void *opaque)
{
    struct port_packet *pp = (struct port_packet *)p;

    for (int i = 0; i < BATCH; i++) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        } cm;
        struct iovec iov = { pp->buf, sizeof(pp->buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm,
                              .msg_controllen = sizeof(cm) };
        ssize_t n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
        unsigned status = 0;

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            if (device_error(errno))
                return device_lost(pp, errno);
            colo_log_errno("%s: receive failed", p->name);
            return -1;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
                c->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
                struct tpacket_auxdata aux;

                memcpy(&aux, CMSG_DATA(c), sizeof(aux));
                status = aux.tp_status;
            }
        }
        p->st.frames_in++;
        p->st.bytes_in += (uint64_t)n;
        if ((status & TP_STATUS_CSUMNOTREADY) && pkt_fill_checksum(pp->buf, (size_t)n) == 0)
            p->st.csum_filled++;
        fn(opaque, pp->buf, (size_t)n);
    }
    /* A full batch: busy, when the queue may overflow - look at the drops
     * (one system call per BATCH frames at most). */
    read_drops(pp);
    return 0;
}

static int recv_v2(struct port *p, port_frame_fn *fn, void *opaque)
{
    struct port_packet *pp = (struct port_packet *)p;

    if (p->fd < 0)
        return 0;
    for (int i = 0; i < BATCH; i++) {
        struct tpacket2_hdr *h = (struct tpacket2_hdr *)(pp->map + (size_t)pp->cur * pp->slot_size);
        unsigned status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

        if (!(status & TP_STATUS_USER))
            return i == 0 ? ring_error(pp) : 0;
        deliver(pp, (uint8_t *)h + h->tp_mac, h->tp_snaplen, h->tp_len, status, fn, opaque);
        __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        pp->cur = (pp->cur + 1) % pp->nslots;
    }
    return 0;
}

static int recv_v3(struct port *p, port_frame_fn *fn, void *opaque)
{
    struct port_packet *pp = (struct port_packet *)p;

    if (p->fd < 0)
        return 0;
    for (int i = 0; i < BATCH; i++) {
        struct tpacket_block_desc *b = (struct tpacket_block_desc *)(pp->map + (size_t)pp->cur * pp->slot_size);
        struct tpacket3_hdr *h;

        if (!pp->v3_next) {
            if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
                return i == 0 ? ring_error(pp) : 0;
            pp->v3_left = b->hdr.bh1.num_pkts;
            pp->v3_next = (struct tpacket3_hdr *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
        }
        if (pp->v3_left) {
            h = pp->v3_next;
            deliver(pp, (uint8_t *)h + h->tp_mac, h->tp_snaplen, h->tp_len, h->tp_status, fn, opaque);
            pp->v3_next = (struct tpacket3_hdr *)((uint8_t *)h + h->tp_next_offset);
            pp->v3_left--;
        } else {
            i--;                    /* an empty block is no frame */
        }
        if (!pp->v3_left) {
            /* v3 marks the block, not its frames, when frames were lost. */
            if (b->hdr.bh1.block_status & TP_STATUS_LOSING)
                read_drops(pp);
            __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
            pp->v3_next = NULL;
            pp->cur = (pp->cur + 1) % pp->nslots;
        }
    }
    return 0;
}

/* A frame larger than the device takes: a sender's segmentation offload
 * (a "frame" of up to 64 KiB the NIC was to cut into segments, docs/proxy.md).
 * Lost like a frame on the wire, and said so (the 1st, 2nd, 4th... time). */
static void too_long(struct port *p, size_t len)
{
    uint64_t n = ++p->st.oversize;

    if (!(n & (n - 1)))
        colo_warn("%s: a frame of %zu bytes is larger than the interface takes (a local "
                  "sender's segmentation offload?): not sent (%" PRIu64 " so far)", p->name, len, n);
}

/* ENOBUFS (or EAGAIN): the device queue is full - the same as a loss on the wire,
 * which TCP repairs; not a reason to give up the port.  So a frame refused
 * with it is counted as sent, and as refused (tx_refused), and never
 * retried (docs/proxy.md). */
static int send_now(struct port *p, const uint8_t *frame, size_t len)
{
    if (send(p->fd, frame, len, 0) < 0) {
        if (errno == ENOBUFS || errno == EAGAIN) {
            p->st.tx_refused++;
            return 0;
        }
        if (errno == EMSGSIZE) {
            too_long(p, len);
            return 0;
        }
        if (device_error(errno)) {
            p->st.lost_gone++;
            return device_lost((struct port_packet *)p, errno);
        }
        colo_log_errno("%s: send failed", p->name);
        return -1;
    }
    return 0;
}

static int packet_flush(struct port *p)
{
    struct port_packet *pp = (struct port_packet *)p;
    unsigned done = 0;

    while (done < pp->tx_n) {
        int n = sendmmsg(p->fd, pp->tx_msg + done, pp->tx_n - done, 0);

        if (n > 0) {
            done += (unsigned)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EMSGSIZE) {
            too_long(p, pp->tx_iov[done].iov_len);
            done++;
        } else if (n < 0 && device_error(errno)) {
            p->st.lost_gone += pp->tx_n - done;
            return device_lost(pp, errno);      /* which empties the queue */
        } else if (n < 0 && errno != ENOBUFS && errno != EAGAIN) {
            colo_log_errno("%s: send failed", p->name);
            pp->tx_n = 0;
            pp->tx_used = 0;
            return -1;
        } else {
            p->st.tx_refused++;
            done++;             /* the first frame left was refused: lost on the wire */
        }
    }
    pp->tx_n = 0;
    pp->tx_used = 0;
    return 0;
}

static int queue_or_send(struct port *p, const uint8_t *frame, size_t len)
{
    struct port_packet *pp = (struct port_packet *)p;

    if (p->fd < 0) {                /* no device: a frame onto an unplugged wire */
        p->st.lost_gone++;
        return 0;
    }
    p->st.frames_out++;
    p->st.bytes_out += len;
    if (!pp->txbatch || len > TX_BYTES)
        return pp->tx_n && packet_flush(p) < 0 ? -1 : send_now(p, frame, len);
    if ((pp->tx_n == TX_FRAMES || pp->tx_used + len > TX_BYTES) && packet_flush(p) < 0)
        return -1;
    memcpy(pp->tx_buf + pp->tx_used, frame, len);
    pp->tx_iov[pp->tx_n] = (struct iovec){ .iov_base = pp->tx_buf + pp->tx_used, .iov_len = len };
    pp->tx_msg[pp->tx_n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &pp->tx_iov[pp->tx_n], .msg_iovlen = 1 } };
    pp->tx_n++;
    pp->tx_used += len;
    return 0;
}

/*
 * A TCP frame larger than the interface's MTU is a local sender's
 * segmentation offload (a "frame" its NIC was to cut up): cut it here, as
 * that NIC would have, and send the segments.  Anything else that large is
 * left to the device, which refuses it (too_long).
 */
static int packet_send(struct port *p, const uint8_t *frame, size_t len)
{
    struct port_packet *pp = (struct port_packet *)p;
    size_t pos = 0;
    long n;

    if (len <= (size_t)pp->mtu + 14)
        return queue_or_send(p, frame, len);
    while ((n = pkt_tcp_next_segment(frame, len, pp->mtu, &pos, pp->seg, sizeof(pp->seg))) > 0)
        if (queue_or_send(p, pp->seg, (size_t)n) < 0)
            return -1;
    if (n < 0 && pos == 0)
        return queue_or_send(p, frame, len);
    p->st.segmented++;
    return 0;
}

static void packet_close(struct port *p)
{
    struct port_packet *pp = (struct port_packet *)p;

    if (p->fd >= 0)
        packet_flush(p);
    close_socket(pp);
    free(p);
}

static const struct port_ops ops[] = {
    [PORT_RING_NONE] = { .recv = recv_plain, .send = packet_send, .flush = packet_flush,
                         .close = packet_close, .events = packet_events },
    [PORT_RING_V2] = { .recv = recv_v2, .send = packet_send, .flush = packet_flush,
                       .close = packet_close, .events = packet_events },
    [PORT_RING_V3] = { .recv = recv_v3, .send = packet_send, .flush = packet_flush,
                       .close = packet_close, .events = packet_events },
};

/* A v2 slot: the frame header, the link header and the interface's MTU
 * (and a VLAN tag), rounded up to a power of two; or COLO_PROXY_RING_FRAME
 * (the tests' way to make frames that do not fit). */
/* The interface's MTU (1500 if it cannot be read). */
static unsigned iface_mtu(int fd, const char *ifname)
{
    struct ifreq ifr = { 0 };

    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    return ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0 ? (unsigned)ifr.ifr_mtu : 1500;
}

static unsigned v2_slot(int fd, const char *ifname)
{
    const char *env = getenv("COLO_PROXY_RING_FRAME");
    unsigned need, slot = 256;

    if (env && *env) {
        unsigned long v = strtoul(env, NULL, 0);

        if (v >= TPACKET2_HDRLEN + 64 && v <= V2_BLOCK && v % TPACKET_ALIGNMENT == 0)
            return (unsigned)v;
        colo_warn("COLO_PROXY_RING_FRAME=%s: not a multiple of %d between %zu and %u; ignored", env,
                  TPACKET_ALIGNMENT, (size_t)TPACKET2_HDRLEN + 64, V2_BLOCK);
    }
    need = iface_mtu(fd, ifname) + (unsigned)TPACKET_ALIGN(TPACKET2_HDRLEN) + 16 + 18;
    while (slot < need && slot < V2_BLOCK)
        slot *= 2;
    return slot;
}

static int setup_ring(struct port_packet *pp, const char *ifname)
{
    int fd = pp->port.fd, one = 1;
    int version = pp->ring == PORT_RING_V2 ? TPACKET_V2 : TPACKET_V3;
    struct tpacket_req3 req = { 0 };

    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0)
        return -1;
    if (pp->ring == PORT_RING_V2) {
        pp->slot_size = v2_slot(fd, ifname);
        req.tp_block_size = V2_BLOCK;
        req.tp_block_nr = V2_RING_BYTES / V2_BLOCK;
        req.tp_frame_size = pp->slot_size;
        req.tp_frame_nr = req.tp_block_nr * (V2_BLOCK / pp->slot_size);
        pp->nslots = req.tp_frame_nr;
        /* A frame longer than a slot: a whole copy on the socket queue. */
        if (setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof(one)) < 0)
            return -1;
    } else {
        req.tp_block_size = V3_BLOCK;
        req.tp_block_nr = RING_BYTES / V3_BLOCK;
        req.tp_frame_size = TPACKET_ALIGNMENT << 7;     /* only checked, for V3 */
        req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
        req.tp_retire_blk_tov = V3_RETIRE_MS;
        pp->slot_size = V3_BLOCK;
        pp->nslots = req.tp_block_nr;
    }
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
        return -1;
    pp->map_len = (size_t)req.tp_block_size * req.tp_block_nr;
    pp->map = mmap(NULL, pp->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, 0);
    if (pp->map == MAP_FAILED)
        pp->map = mmap(NULL, pp->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (pp->map == MAP_FAILED) {
        pp->map = NULL;
        return -1;
    }
    return 0;
}

/*
 * The socket (and ring) on pp->ifname, bound to the device that has the
 * name now.  At start role names the option for messages; on a reopen it is
 * NULL, and a failure is only logged (the port keeps looking).  0 or -1.
 */
static int open_socket(struct port_packet *pp, const char *role)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    int one = 1, fd;

    sll.sll_ifindex = (int)if_nametoindex(pp->ifname);
    if (!sll.sll_ifindex) {
        if (role)
            colo_err("--%s %s: no such interface", role, pp->ifname);
        return -1;
    }
    /* Protocol 0: nothing arrives until bind() names the interface, so
     * neither the ring nor the queue ever holds another interface's frame. */
    pp->port.fd = fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    /* A frame the kernel drops for want of buffer is a frame one VM lost and
     * the other did not - the SVM's SYN-ACK, say, which the rewriter needs.
     * Give the sockets room (FORCE: past rmem_max, as root); with a ring it
     * is what holds v2's copies of large frames. */
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 8 << 20 }, sizeof(int)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 8 << 20 }, sizeof(int));
    if (fd >= 0)
        pp->mtu = iface_mtu(fd, pp->ifname);
    /* The ring and the checksum status before bind: no frame arrives
     * before they are there. */
    if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
        (pp->ring != PORT_RING_NONE && setup_ring(pp, pp->ifname) < 0) ||
        bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
        if (role)
            colo_log_errno("--%s %s: cannot open a packet socket", role, pp->ifname);
        else
            colo_log_errno("%s: cannot open a packet socket again", pp->port.name);
        close_socket(pp);
        return -1;
    }
    pp->ifindex = (unsigned)sll.sll_ifindex;
    return 0;
}

struct port *port_open_packet(const char *ifname, const char *role, enum port_ring ring, bool txbatch)
{
    struct port_packet *pp;

    if (strlen(ifname) >= sizeof(pp->ifname)) {
        colo_err("--%s %s: not an interface name (longer than %d characters)", role, ifname,
                 IF_NAMESIZE - 1);
        return NULL;
    }
    if (!(pp = calloc(1, sizeof(*pp)))) {
        colo_err("--%s %s: out of memory", role, ifname);
        return NULL;
    }
    pp->ring = ring;
    pp->txbatch = txbatch;
    pp->port.fd = -1;
    snprintf(pp->ifname, sizeof(pp->ifname), "%s", ifname);
    snprintf(pp->port.name, sizeof(pp->port.name), "%s (%s)", role, ifname);
    if (open_socket(pp, role) < 0) {
        free(pp);
        return NULL;
    }
    pp->port.ops = &ops[ring];
    return &pp->port;
}
