/*
 * port-packet.c - a port on a network interface, through AF_PACKET.
 *
 * The proxy sits on Open vSwitch ports (or veths in the tests) and must see
 * every frame the VM side sends, and none of those it injects itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo-log.h"
#include "port.h"

#define BATCH       64              /* frames per recv call: fairness between ports */
#define FRAME_MAX   (65536 + 64)    /* a GSO frame of 64 KiB and its link header */

struct port_packet {
    struct port port;
    uint8_t buf[FRAME_MAX];
};

static int packet_recv(struct port *p, port_frame_fn *fn, void *opaque)
{
    struct port_packet *pp = (struct port_packet *)p;

    for (int i = 0; i < BATCH; i++) {
        ssize_t n = recv(p->fd, pp->buf, sizeof(pp->buf), MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            colo_log_errno("%s: receive failed", p->name);
            return -1;
        }
        p->st.frames_in++;
        p->st.bytes_in += (uint64_t)n;
        fn(opaque, pp->buf, (size_t)n);
    }
    return 0;
}

static int packet_send(struct port *p, const uint8_t *frame, size_t len)
{
    /* ENOBUFS: the device queue is full - the same as a loss on the wire,
     * which TCP repairs; not a reason to give up the port. */
    if (send(p->fd, frame, len, 0) < 0 && errno != ENOBUFS) {
        colo_log_errno("%s: send failed", p->name);
        return -1;
    }
    p->st.frames_out++;
    p->st.bytes_out += len;
    return 0;
}

static void packet_close(struct port *p)
{
    close(p->fd);
    free(p);
}

static const struct port_ops packet_ops = { .recv = packet_recv, .send = packet_send, .close = packet_close };

struct port *port_open_packet(const char *ifname, const char *role)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    struct port_packet *pp;
    int one = 1, fd;

    sll.sll_ifindex = (int)if_nametoindex(ifname);
    if (!sll.sll_ifindex) {
        colo_err("--%s %s: no such interface", role, ifname);
        return NULL;
    }
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    /* A frame the kernel drops for want of buffer is a frame one VM lost and
     * the other did not - the SVM's SYN-ACK, say, which the rewriter needs.
     * Give the sockets room (FORCE: past rmem_max, as root). */
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 8 << 20 }, sizeof(int)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 8 << 20 }, sizeof(int));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
        colo_log_errno("--%s %s: cannot open a packet socket", role, ifname);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!(pp = calloc(1, sizeof(*pp)))) {
        colo_err("--%s %s: out of memory", role, ifname);
        close(fd);
        return NULL;
    }
    pp->port.ops = &packet_ops;
    pp->port.fd = fd;
    snprintf(pp->port.name, sizeof(pp->port.name), "%s (%s)", role, ifname);
    return &pp->port;
}
