/*
 * packet.h - what colo-proxy needs to know about an Ethernet frame.
 *
 * The parser reads Ethernet (with one optional 802.1Q tag), IPv4 and IPv6
 * (no extension headers: a packet that has them is compared whole, as
 * "other"), and TCP, UDP, ICMP and ICMPv6.  It never reads past the frame;
 * a frame whose headers are cut short or inconsistent is reported as
 * malformed with the reason, and the proxy's policy decides what to do.
 */
#ifndef COLO_PACKET_H
#define COLO_PACKET_H

#include <stddef.h>
#include <stdint.h>

enum pkt_kind { PKT_OTHER = 0, PKT_TCP, PKT_UDP, PKT_ICMP };

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* A connection as the VM sees it: its address and port first. */
struct flow_key {
    uint8_t family;             /* 4 or 6; 0 for non-IP frames */
    uint8_t proto;              /* IP protocol number */
    uint16_t vm_port, peer_port;
    uint8_t vm_addr[16], peer_addr[16];
};

struct pkt {
    enum pkt_kind kind;
    struct flow_key key;
    uint32_t seq, ack;          /* TCP */
    uint8_t flags;              /* TCP */
    uint16_t win;               /* TCP: the window field as sent (unscaled) */
    int8_t wscale;              /* TCP SYN: its window-scale option; -1 if it has none */
    const uint8_t *l3, *l4;     /* IP and L4 headers in the frame (NULL if none) */
    const uint8_t *payload;     /* L4 payload (ICMP: the message after its checksum) */
    size_t payload_len;
};

/*
 * Set the window of the TCP header at tcp (at least 20 bytes) to win and
 * fix its checksum to match.  Only for a frame whose checksum is complete:
 * a partial one (see pkt_fill_checksum) would be made wrong.
 */
void pkt_tcp_set_window(uint8_t *tcp, uint16_t win);

/*
 * Write the 32-bit field at offset off of the TCP header tcp (sequence 4,
 * acknowledgement 8, or a timestamp) and fix its checksum to match
 * (RFC 1624).  The same caution as for pkt_tcp_set_window.
 */
void pkt_tcp_set32(uint8_t *tcp, size_t off, uint32_t v);
/* The offset in the TCP header tcp (hlen bytes with its options) of the
 * timestamp option's TSval (TSecr follows it), or 0 if it has none or its
 * options are malformed. */
size_t pkt_tcp_ts_option(const uint8_t *tcp, size_t hlen);
/* The same connection seen from the other side: addresses and ports
 * swapped (a frame towards the VM parses with the peer first). */
void flow_key_reverse(struct flow_key *out, const struct flow_key *in);
/* A hash of the whole key (it has no padding: every byte is set). */
uint32_t flow_key_hash(const struct flow_key *k);

/*
 * Parse a frame sent by a VM (so source = the VM).  Returns 0, or -1 with
 * *why naming the defect.  Non-IP frames and IP protocols other than TCP,
 * UDP and ICMP come back as PKT_OTHER with the whole frame as payload.
 */
int pkt_parse(const uint8_t *frame, size_t len, struct pkt *out, const char **why);

/*
 * Compute and store the TCP or UDP checksum of a frame whose sender left it
 * to the hardware (Linux's CHECKSUM_PARTIAL: AF_PACKET says
 * TP_STATUS_CSUMNOTREADY, and the field holds only a partial sum).  Such a
 * frame is what a local sender with transmit checksum offload hands the
 * switch; re-sent by the proxy through AF_PACKET it would leave as a
 * complete frame with a wrong checksum, and the receiver would drop it.
 * Returns 0 once done, -1 if the frame is not TCP or UDP over IP.
 */
int pkt_fill_checksum(uint8_t *frame, size_t len);

/*
 * Cut a TCP frame whose IP packet is larger than mtu into segments that
 * fit, as the NIC of a sender with segmentation offload would have: each
 * has the frame's headers, the next piece of its payload, the sequence
 * number of that piece, IPv4 identifications counting up from the frame's,
 * FIN and PSH on the last segment only, CWR on the first only, and both
 * checksums computed.  Call with *pos = 0; each call writes the next
 * segment into out (cap bytes) and returns its length, 0 once the payload
 * is used up, or -1 if the frame cannot be cut (not TCP over IP, headers
 * that leave no room for payload within mtu, out too small).
 */
long pkt_tcp_next_segment(const uint8_t *frame, size_t len, size_t mtu, size_t *pos,
                          uint8_t *out, size_t cap);

#endif
