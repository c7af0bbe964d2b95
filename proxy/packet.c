/* packet.c - see packet.h. */
#include <string.h>

#include "colo-be.h"
#include "packet.h"

uint32_t flow_key_hash(const struct flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint32_t h = 2166136261u;       /* FNV-1a */

    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int bad(const char **why, const char *msg)
{
    *why = msg;
    return -1;
}

/* The whole frame, compared byte for byte (ARP, IPv6 with extension
 * headers, other protocols). */
static int other(const uint8_t *frame, size_t len, struct pkt *out)
{
    out->kind = PKT_OTHER;
    out->payload = frame;
    out->payload_len = len;
    return 0;
}

/* The window-scale option among a SYN's options, or -1.  A malformed
 * option list ends the search: the segment is still compared. */
static int8_t syn_wscale(const uint8_t *o, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (o[i] == 0)                          /* end of options */
            break;
        if (o[i] == 1) {                        /* no-op */
            i++;
            continue;
        }
        if (len - i < 2 || o[i + 1] < 2 || o[i + 1] > len - i)
            break;
        if (o[i] == 3 && o[i + 1] == 3)
            return (int8_t)(o[i + 2] > 14 ? 14 : o[i + 2]);    /* RFC 7323: at most 14 */
        i += o[i + 1];
    }
    return -1;
}

static int l4(const uint8_t *p, size_t len, struct pkt *out, const char **why)
{
    out->l4 = p;
    switch (out->key.proto) {
    case 6: {                                   /* TCP */
        size_t hl;

        if (len < 20)
            return bad(why, "TCP header truncated");
        hl = (size_t)(p[12] >> 4) * 4;
        if (hl < 20 || hl > len)
            return bad(why, "TCP data offset outside the segment");
        out->kind = PKT_TCP;
        out->key.vm_port = colo_get_be16(p);
        out->key.peer_port = colo_get_be16(p + 2);
        out->seq = colo_get_be32(p + 4);
        out->ack = colo_get_be32(p + 8);
        out->flags = p[13];
        out->win = colo_get_be16(p + 14);
        out->wscale = -1;
        if (out->flags & TCP_SYN)
            out->wscale = syn_wscale(p + 20, hl - 20);
        out->payload = p + hl;
        out->payload_len = len - hl;
        return 0;
    }
    case 17:                                    /* UDP */
        if (len < 8)
            return bad(why, "UDP header truncated");
        if (colo_get_be16(p + 4) < 8 || colo_get_be16(p + 4) > len)
            return bad(why, "UDP length outside the packet");
        out->kind = PKT_UDP;
        out->key.vm_port = colo_get_be16(p);
        out->key.peer_port = colo_get_be16(p + 2);
        out->payload = p + 8;
        out->payload_len = colo_get_be16(p + 4) - 8u;
        return 0;
    case 1:                                     /* ICMP */
    case 58:                                    /* ICMPv6 */
        if (len < 4)
            return bad(why, "ICMP header truncated");
        out->kind = PKT_ICMP;
        /* type and code are compared too: keep them, skip the checksum */
        out->key.vm_port = (uint16_t)(p[0] << 8 | p[1]);
        out->payload = p + 4;
        out->payload_len = len - 4;
        return 0;
    default:
        return 1;                               /* compared as OTHER */
    }
}

int pkt_parse(const uint8_t *f, size_t len, struct pkt *out, const char **why)
{
    size_t off = 14;
    uint16_t type;
    int r;

    memset(out, 0, sizeof(*out));
    if (len < 14)
        return bad(why, "frame shorter than an Ethernet header");
    type = colo_get_be16(f + 12);
    if (type == 0x8100) {                       /* 802.1Q */
        if (len < 18)
            return bad(why, "VLAN tag truncated");
        type = colo_get_be16(f + 16);
        off = 18;
    }
    if (type == 0x0800) {                       /* IPv4 */
        const uint8_t *ip = f + off;
        size_t ihl, tot;

        if (len - off < 20 || (ip[0] >> 4) != 4)
            return bad(why, "IPv4 header truncated or wrong version");
        ihl = (size_t)(ip[0] & 15) * 4;
        tot = colo_get_be16(ip + 2);
        if (ihl < 20 || tot < ihl || tot > len - off)
            return bad(why, "IPv4 header or total length outside the frame");
        if ((colo_get_be16(ip + 6) & 0x3fff) != 0)       /* a fragment: no L4 header to trust */
            return other(f, len, out);
        out->key.family = 4;
        out->key.proto = ip[9];
        out->l3 = ip;
        memcpy(out->key.vm_addr, ip + 12, 4);
        memcpy(out->key.peer_addr, ip + 16, 4);
        r = l4(ip + ihl, tot - ihl, out, why);
    } else if (type == 0x86dd) {                /* IPv6 */
        const uint8_t *ip = f + off;
        size_t plen;

        if (len - off < 40 || (ip[0] >> 4) != 6)
            return bad(why, "IPv6 header truncated or wrong version");
        plen = colo_get_be16(ip + 4);
        if (plen > len - off - 40)
            return bad(why, "IPv6 payload length outside the frame");
        out->key.family = 6;
        out->key.proto = ip[6];
        out->l3 = ip;
        memcpy(out->key.vm_addr, ip + 8, 16);
        memcpy(out->key.peer_addr, ip + 24, 16);
        r = l4(ip + 40, plen, out, why);
    } else {
        return other(f, len, out);
    }
    if (r > 0) {                                /* an IP protocol we do not look into */
        struct flow_key k = out->key;

        other(f, len, out);
        out->key = k;
        out->l3 = out->l4 = NULL;
        return 0;
    }
    return r;
}

/*
 * Write a 32-bit field at offset o of a TCP segment t and keep its checksum
 * right (RFC 1624: HC' = ~(~HC + ~m + m') for each 16-bit word m that
 * changes).  Word by word from the segment's start, because a timestamp
 * option need not be 16-bit aligned.
 */
void pkt_tcp_set32(uint8_t *t, size_t o, uint32_t v)
{
    size_t w0 = o & ~(size_t)1, w1 = (o + 4 + 1) & ~(size_t)1;
    uint16_t old[3];
    uint32_t s = (uint16_t)~(t[16] << 8 | t[17]);

    for (size_t w = w0; w < w1; w += 2)
        old[(w - w0) / 2] = (uint16_t)(t[w] << 8 | t[w + 1]);
    colo_put_be32(t + o, v);
    for (size_t w = w0; w < w1; w += 2) {
        s += (uint16_t)~old[(w - w0) / 2];
        s += (uint32_t)(t[w] << 8 | t[w + 1]);
    }
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = (uint16_t)~s;
    t[16] = (uint8_t)(s >> 8);
    t[17] = (uint8_t)s;
}

/* The offset of the timestamp option's TSval in the TCP header t of hlen
 * bytes (TSecr follows it), or 0 if there is none. */
size_t pkt_tcp_ts_option(const uint8_t *t, size_t hlen)
{
    size_t i = 20;

    while (i < hlen) {
        if (t[i] == 0)                  /* end of options */
            return 0;
        if (t[i] == 1) {                /* no-op */
            i++;
            continue;
        }
        if (i + 1 >= hlen || t[i + 1] < 2 || i + t[i + 1] > hlen)
            return 0;                   /* malformed: leave the frame alone */
        if (t[i] == 8 && t[i + 1] == 10)
            return i + 2;
        i += t[i + 1];
    }
    return 0;
}

void flow_key_reverse(struct flow_key *out, const struct flow_key *in)
{
    *out = *in;
    memcpy(out->vm_addr, in->peer_addr, sizeof(out->vm_addr));
    memcpy(out->peer_addr, in->vm_addr, sizeof(out->peer_addr));
    out->vm_port = in->peer_port;
    out->peer_port = in->vm_port;
}

void pkt_tcp_set_window(uint8_t *t, uint16_t win)
{
    uint32_t s;

    /* RFC 1624: the new checksum from the old one and the one 16-bit word
     * that changed, HC' = ~(~HC + ~m + m'). */
    s = (uint16_t)~colo_get_be16(t + 16) + (uint32_t)(uint16_t)~colo_get_be16(t + 14) + win;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    t[14] = (uint8_t)(win >> 8);
    t[15] = (uint8_t)win;
    t[16] = (uint8_t)(~s >> 8);
    t[17] = (uint8_t)~s;
}

int pkt_fill_checksum(uint8_t *frame, size_t len)
{
    struct pkt p;
    const char *why;
    uint8_t *seg, *field;
    size_t tl, alen;
    uint32_t s = 0;

    if (pkt_parse(frame, len, &p, &why) < 0 || (p.kind != PKT_TCP && p.kind != PKT_UDP))
        return -1;
    seg = frame + (p.l4 - frame);   /* our own frame: writable */
    tl = (size_t)(p.payload + p.payload_len - p.l4);
    field = seg + (p.kind == PKT_TCP ? 16 : 6);
    field[0] = field[1] = 0;
    alen = p.key.family == 4 ? 4 : 16;
    /* The pseudo-header: both addresses, the protocol, the L4 length. */
    for (size_t i = 0; i < alen; i += 2)
        s += colo_get_be16(p.key.vm_addr + i) + (uint32_t)colo_get_be16(p.key.peer_addr + i);
    s += p.key.proto + (uint32_t)tl;
    for (size_t i = 0; i + 1 < tl; i += 2)
        s += colo_get_be16(seg + i);
    if (tl & 1)
        s += (uint32_t)seg[tl - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = ~s & 0xffff;
    if (s == 0 && p.kind == PKT_UDP)
        s = 0xffff;                 /* UDP: 0 would mean "no checksum" */
    field[0] = (uint8_t)(s >> 8);
    field[1] = (uint8_t)s;
    return 0;
}

long pkt_tcp_next_segment(const uint8_t *frame, size_t len, size_t mtu, size_t *pos,
                          uint8_t *out, size_t cap)
{
    struct pkt p;
    const char *why;
    size_t l3off, l3hl, hdrs, mss, chunk, seglen, idx;
    uint8_t *ip, *tcp;
    uint32_t seq;

    if (pkt_parse(frame, len, &p, &why) < 0 || p.kind != PKT_TCP)
        return -1;
    l3off = (size_t)(p.l3 - frame);
    l3hl = p.key.family == 4 ? (size_t)(p.l3[0] & 15) * 4 : 40;
    hdrs = (size_t)(p.payload - frame);             /* link, IP and TCP headers */
    if (hdrs - l3off >= mtu)
        return -1;
    mss = mtu - (hdrs - l3off);
    if (*pos >= p.payload_len)
        return 0;
    chunk = p.payload_len - *pos < mss ? p.payload_len - *pos : mss;
    seglen = hdrs + chunk;
    if (seglen > cap)
        return -1;
    idx = *pos / mss;
    memcpy(out, frame, hdrs);
    memcpy(out + hdrs, p.payload + *pos, chunk);
    ip = out + l3off;
    tcp = out + (p.l4 - frame);
    if (p.key.family == 4) {
        uint16_t tot = (uint16_t)(hdrs - l3off + chunk), id = (uint16_t)(colo_get_be16(ip + 4) + idx);
        uint32_t s = 0;

        ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
        ip[4] = (uint8_t)(id >> 8), ip[5] = (uint8_t)id;
        ip[10] = ip[11] = 0;
        for (size_t i = 0; i < l3hl; i += 2)
            s += colo_get_be16(ip + i);
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        s = ~s & 0xffff;
        ip[10] = (uint8_t)(s >> 8), ip[11] = (uint8_t)s;
    } else {
        uint16_t plen = (uint16_t)(hdrs - l3off - 40 + chunk);

        ip[4] = (uint8_t)(plen >> 8), ip[5] = (uint8_t)plen;
    }
    seq = p.seq + (uint32_t)*pos;
    tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16);
    tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
    if (*pos + chunk < p.payload_len)
        tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (*pos > 0)
        tcp[13] &= (uint8_t)~0x80;                  /* CWR */
    *pos += chunk;
    if (pkt_fill_checksum(out, seglen) < 0)
        return -1;
    return (long)seglen;
}
