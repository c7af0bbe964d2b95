/* ethgen.c - see ethgen.h. */
#include <string.h>

#include "colo-be.h"
#include "ethgen.h"

/* The Internet checksum's running sum over len bytes. */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t len)
{
    for (; len > 1; p += 2, len -= 2)
        s += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        s += (uint32_t)(p[0] << 8);
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

void ethgen_pair(unsigned n, int same_isn, struct tcp_flow *pvm, struct tcp_flow *svm)
{
    static const uint8_t vm_mac[6] = { 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02 };
    static const uint8_t cl_mac[6] = { 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x09 };
    uint32_t client_isn = 0x10000000u + n * 7919u;

    memset(pvm, 0, sizeof(*pvm));
    memcpy(pvm->vm_mac, vm_mac, 6);
    memcpy(pvm->cl_mac, cl_mac, 6);
    pvm->vm_ip = 0x0a4d0002;                        /* 10.77.0.2 */
    pvm->cl_ip = 0x0a4d0009;                        /* 10.77.0.9 */
    pvm->vm_port = 8080;
    pvm->cl_port = (uint16_t)(40000 + n % 20000);
    pvm->ack = client_isn + 1;
    pvm->ttl = 64;
    pvm->window = 64240;
    *svm = *pvm;
    pvm->seq = 0x01000000u + n * 104729u;           /* each kernel its own ISN */
    svm->seq = same_isn ? pvm->seq : 0xc0000000u + n * 1299709u;
    pvm->ip_id = (uint16_t)(n * 31);                /* and its own IP IDs */
    svm->ip_id = (uint16_t)(n * 31 + 20000);
    svm->window = 65160;                            /* and its own window */
}

size_t ethgen_tcp(uint8_t *out, struct tcp_flow *f, uint8_t flags, const uint8_t *payload, size_t len)
{
    size_t opt = (flags & 0x02) ? 4 : 0, tcplen = 20 + opt + len;
    uint8_t *ip = out + 14, *t = ip + 20;
    uint32_t s;

    memcpy(out, f->cl_mac, 6);
    memcpy(out + 6, f->vm_mac, 6);
    colo_put_be16(out + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    colo_put_be16(ip + 2, (uint16_t)(20 + tcplen));
    colo_put_be16(ip + 4, f->ip_id++);
    colo_put_be16(ip + 6, 0x4000);                           /* don't fragment */
    ip[8] = f->ttl;
    ip[9] = 6;
    colo_put_be32(ip + 12, f->vm_ip);
    colo_put_be32(ip + 16, f->cl_ip);
    colo_put_be16(ip + 10, fold(sum16(0, ip, 20)));
    memset(t, 0, 20 + opt);
    colo_put_be16(t, f->vm_port);
    colo_put_be16(t + 2, f->cl_port);
    colo_put_be32(t + 4, f->seq);
    colo_put_be32(t + 8, (flags & 0x10) ? f->ack : 0);
    t[12] = (uint8_t)((5 + opt / 4) << 4);
    t[13] = flags;
    colo_put_be16(t + 14, f->window);
    if (opt) {
        t[20] = 2, t[21] = 4;                       /* MSS 1460 */
        colo_put_be16(t + 22, 1460);
    }
    if (len)
        memcpy(t + 20 + opt, payload, len);
    /* pseudo-header, then the segment */
    s = sum16(0, ip + 12, 8) + 6 + (uint32_t)tcplen;
    colo_put_be16(t + 16, fold(sum16(s, t, tcplen)));
    f->seq += (uint32_t)len + ((flags & 0x03) ? 1 : 0);
    return 14 + 20 + tcplen;
}

size_t ethgen_arp(uint8_t *out, uint8_t tag)
{
    static const uint8_t head[22] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,       /* Ethernet/IPv4, request */
    };
    static const uint8_t addrs[20] = {
        0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02, 10, 77, 0, 2,   /* sender: the VM */
        0, 0, 0, 0, 0, 0, 10, 77, 0, 9,                     /* who has the client? */
    };

    memset(out, 0, 60);
    memcpy(out, head, sizeof(head));
    memcpy(out + 22, addrs, sizeof(addrs));
    out[59] = tag;
    return 60;
}
