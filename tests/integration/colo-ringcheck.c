/*
 * colo-ringcheck - does an AF_PACKET port (proxy/port-packet.c) hand over
 * every frame whole, none of its own, and count what the kernel dropped?
 * (tests only; proxy-ring.sh runs it in a namespace on a veth pair)
 *
 *   colo-ringcheck RX-IF TX-IF none|v2|v3 FRAMES BURST
 *
 * Sends FRAMES test frames of mixed sizes (60 bytes to TX-IF's MTU) from
 * TX-IF, a few at a time, receiving on RX-IF's port between them; sends
 * frames out of the port itself, which it must not see; then BURST frames
 * without receiving, more than the ring holds, and a last one after them.
 * Prints "seen N bad N own N truncated N drops N" for each phase and exits
 * 1 if a frame came back changed, out of order or not at all, or if
 * seen + dropped (+ truncated) is not what was sent.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "colo-log.h"
#include "port.h"

#define ETYPE_TEST 0x88b5           /* IEEE local experimental */
#define ETYPE_OWN  0x88b6

struct seen {
    uint32_t next;                  /* the sequence number expected */
    unsigned frames, bad, own;
    unsigned mtu;
};

/* A frame's size and contents follow from its sequence number. */
static size_t frame_len(uint32_t seq, unsigned mtu)
{
    static const unsigned sizes[] = { 60, 1514, 200, 999, 1200, 64, 1500, 513, 1024, 700 };
    size_t len = sizes[seq % 10];

    return len > mtu + 14 ? mtu + 14 : len;
}

static void make_frame(uint8_t *f, uint32_t seq, uint16_t etype, size_t len)
{
    memset(f, 0xff, 6);                                         /* broadcast */
    memcpy(f + 6, (const uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
    f[12] = (uint8_t)(etype >> 8);
    f[13] = (uint8_t)etype;
    memcpy(f + 14, &seq, 4);
    for (size_t i = 18; i < len; i++)
        f[i] = (uint8_t)(seq * 7 + i);
}

static void on_frame(void *opaque, uint8_t *f, size_t len)
{
    struct seen *s = opaque;
    uint8_t want[2048];
    uint32_t seq;

    if (len < 18)
        return;
    if (f[12] == (ETYPE_OWN >> 8) && f[13] == (uint8_t)ETYPE_OWN) {
        s->own++;
        return;
    }
    if (f[12] != (ETYPE_TEST >> 8) || f[13] != (uint8_t)ETYPE_TEST)
        return;                     /* the kernel's own chatter */
    memcpy(&seq, f + 14, 4);
    s->frames++;
    if (seq < s->next) {
        s->bad++;
        fprintf(stderr, "frame %u again or out of order (expected %u)\n", seq, s->next);
        return;
    }
    s->next = seq + 1;
    make_frame(want, seq, ETYPE_TEST, frame_len(seq, s->mtu));
    /* A frame may be padded on the way (to 60 bytes), never cut short. */
    if (len < frame_len(seq, s->mtu) || memcmp(f, want, frame_len(seq, s->mtu))) {
        s->bad++;
        fprintf(stderr, "frame %u: %zu bytes, changed or cut short (sent %zu)\n", seq, len, frame_len(seq, s->mtu));
    }
}

/* Receive until nothing came for ms milliseconds. */
static int drain(struct port *p, struct seen *s, int ms)
{
    for (int rounds = 0; rounds < 100000; rounds++) {
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
        int n = poll(&pfd, 1, ms);

        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (port_recv(p, on_frame, s) < 0)
            return -1;
    }
    return 0;
}

static int open_tx(const char *ifname, unsigned *mtu)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETYPE_TEST) };
    struct ifreq ifr = { 0 };
    int fd = socket(AF_PACKET, SOCK_RAW, 0);

    sll.sll_ifindex = (int)if_nametoindex(ifname);
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (fd < 0 || !sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
        ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
        perror(ifname);
        return -1;
    }
    *mtu = (unsigned)ifr.ifr_mtu;
    return fd;
}

static int send_seq(int fd, uint32_t seq, unsigned mtu)
{
    uint8_t f[2048];
    size_t len = frame_len(seq, mtu);

    make_frame(f, seq, ETYPE_TEST, len);
    if (send(fd, f, len, 0) == (ssize_t)len)
        return 0;
    perror("send");
    return -1;
}

int main(int argc, char **argv)
{
    struct seen s = { 0 };
    enum port_ring ring;
    struct port *p;
    unsigned frames, burst, sent = 0;
    uint64_t drops0, trunc0, lost;
    int tx, rc = 0;

    colo_log_init("colo-ringcheck", COLO_LOG_ERROR);  /* truncations are counted */
    if (argc != 6 || port_ring_parse(argv[3], &ring) < 0) {
        fprintf(stderr, "usage: colo-ringcheck RX-IF TX-IF none|v2|v3 FRAMES BURST\n");
        return 2;
    }
    frames = (unsigned)strtoul(argv[4], NULL, 10);
    burst = (unsigned)strtoul(argv[5], NULL, 10);
    if (!(p = port_open_packet(argv[1], "rx", ring, true)) || (tx = open_tx(argv[2], &s.mtu)) < 0)
        return 2;
    if (s.mtu > 1500)
        s.mtu = 1500;

    /* 1: every frame, whole and in order, a few at a time; and our own
     * frames, sent out of the port, never seen by it. */
    for (unsigned i = 0; i < frames; i++) {
        if (send_seq(tx, sent++, s.mtu) < 0)
            return 2;
        if (i % 10 == 9) {
            uint8_t f[100];

            make_frame(f, i, ETYPE_OWN, sizeof(f));
            port_send(p, f, sizeof(f));
            port_flush(p);
        }
        if (i % 16 == 15 && drain(p, &s, 0) < 0)
            return 2;
    }
    if (drain(p, &s, 200) < 0)
        return 2;
    printf("steady: sent %u seen %u bad %u own %u truncated %" PRIu64 " drops %" PRIu64 "\n", sent, s.frames,
           s.bad, s.own, p->st.truncated, p->st.drops);
    if (s.frames != sent || s.bad || s.own || p->st.truncated || p->st.drops)
        rc = 1;

    /* 2: more than the ring holds, unread; then one more frame, which
     * tells the port that the kernel dropped some. */
    drops0 = p->st.drops;
    trunc0 = p->st.truncated;
    s.frames = 0;
    for (unsigned i = 0; i < burst; i++)
        if (send_seq(tx, sent++, s.mtu) < 0)
            return 2;
    if (drain(p, &s, 200) < 0 || send_seq(tx, sent++, s.mtu) < 0 || drain(p, &s, 200) < 0)
        return 2;
    /* Lost: dropped by the kernel, or too long for a slot when there was no
     * room for the copy either. */
    lost = p->st.drops - drops0 + p->st.truncated - trunc0;
    printf("burst: sent %u seen %u bad %u drops %" PRIu64 " truncated %" PRIu64 "\n", burst + 1, s.frames, s.bad,
           p->st.drops - drops0, p->st.truncated - trunc0);
    if (s.bad || !lost || s.frames + lost != burst + 1)
        rc = 1;
    port_close(p);
    close(tx);
    return rc;
}
