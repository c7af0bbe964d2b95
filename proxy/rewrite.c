/* rewrite.c - see rewrite.h. */
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "rewrite.h"

#define NBUCKETS 1024u

struct rw_conn {
    struct rw_conn *next;
    struct flow_key key;            /* the VM's side first */
    uint32_t s_isn, off;
    bool have_s_isn, have_off;
};

struct rewriter {
    struct rw_conn *buckets[NBUCKETS];
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* RFC 1624: the checksum after a 32-bit field changed from old to new. */
static void csum_replace32(uint8_t *csum, uint32_t old, uint32_t new)
{
    uint32_t s = (uint16_t)~(csum[0] << 8 | csum[1]);

    s += (uint16_t)~(old >> 16);
    s += (uint16_t)~old;
    s += new >> 16;
    s += new & 0xffff;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = (uint16_t)~s;
    csum[0] = (uint8_t)(s >> 8);
    csum[1] = (uint8_t)s;
}

static void set32(uint8_t *field, uint8_t *csum, uint32_t v)
{
    csum_replace32(csum, be32(field), v);
    put_be32(field, v);
}

struct rewriter *rw_new(void)
{
    return calloc(1, sizeof(struct rewriter));
}

static void drop_all(struct rewriter *r)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        while (r->buckets[i]) {
            struct rw_conn *k = r->buckets[i];

            r->buckets[i] = k->next;
            free(k);
        }
}

void rw_free(struct rewriter *r)
{
    if (r)
        drop_all(r);
    free(r);
}

static struct rw_conn *find(struct rewriter *r, const struct flow_key *key, bool create)
{
    struct rw_conn **b = &r->buckets[flow_key_hash(key) % NBUCKETS], *k;

    for (k = *b; k; k = k->next)
        if (!memcmp(&k->key, key, sizeof(*key)))
            return k;
    if (!create || !(k = calloc(1, sizeof(*k))))
        return NULL;
    k->key = *key;
    k->next = *b;
    *b = k;
    return k;
}

/* The frame's TCP header if it is a TCP frame (writable: it is ours). */
static uint8_t *tcp_of(uint8_t *frame, size_t len, struct pkt *p)
{
    const char *why;

    if (pkt_parse(frame, len, p, &why) < 0 || p->kind != PKT_TCP)
        return NULL;
    return frame + (p->l4 - frame);
}

int rw_svm_out(struct rewriter *r, uint8_t *frame, size_t len, bool out)
{
    struct pkt p;
    uint8_t *t = tcp_of(frame, len, &p);
    struct rw_conn *k;

    if (!t)
        return -1;
    if (p.flags & TCP_SYN) {
        /* The SVM's initial sequence number (SYN-ACK as a server, SYN as
         * a client): the offset follows from the client's first ack. */
        if (!(k = find(r, &p.key, true)))
            return -1;
        if (!k->have_off) {
            k->s_isn = p.seq;
            k->have_s_isn = true;
        }
    }
    if (!out || !(k = find(r, &p.key, false)) || !k->have_off || !k->off)
        return 0;
    set32(t + 4, t + 16, p.seq - k->off);
    return 1;
}

int rw_client_to_svm(struct rewriter *r, uint8_t *frame, size_t len)
{
    struct pkt p;
    uint8_t *t = tcp_of(frame, len, &p);
    struct flow_key key;
    struct rw_conn *k;

    if (!t)
        return -1;
    /* Parsed as if the VM sent it: turn the key around. */
    key = p.key;
    memcpy(key.vm_addr, p.key.peer_addr, sizeof(key.vm_addr));
    memcpy(key.peer_addr, p.key.vm_addr, sizeof(key.peer_addr));
    key.vm_port = p.key.peer_port;
    key.peer_port = p.key.vm_port;
    if (!(p.flags & TCP_ACK) || !(k = find(r, &key, false)))
        return 0;
    if (!k->have_off) {
        if (!k->have_s_isn)
            return 0;
        /* The client acknowledges the PVM's ISN + 1. */
        k->off = k->s_isn - (p.ack - 1);
        k->have_off = true;
    }
    if (!k->off)
        return 0;
    set32(t + 8, t + 16, p.ack + k->off);
    return 1;
}

void rw_checkpoint_done(struct rewriter *r)
{
    /* The SVM now has the PVM's TCP state: every offset is 0, which is
     * what a connection the rewriter does not know has. */
    drop_all(r);
}

size_t rw_translated(const struct rewriter *r)
{
    size_t n = 0;

    for (size_t i = 0; i < NBUCKETS; i++)
        for (const struct rw_conn *k = r->buckets[i]; k; k = k->next)
            n += k->have_off && k->off;
    return n;
}

bool rw_tcp_checksum_ok(const uint8_t *frame, size_t len)
{
    struct pkt p;
    const char *why;
    uint32_t s = 0;
    size_t tl, alen;
    const uint8_t *seg;

    if (pkt_parse(frame, len, &p, &why) < 0 || p.kind != PKT_TCP)
        return false;
    seg = p.l4;
    tl = (size_t)(p.payload + p.payload_len - seg);
    alen = p.key.family == 4 ? 4 : 16;
    /* pseudo-header: addresses, protocol, TCP length */
    for (size_t i = 0; i < alen; i += 2) {
        s += (uint32_t)(p.key.vm_addr[i] << 8 | p.key.vm_addr[i + 1]);
        s += (uint32_t)(p.key.peer_addr[i] << 8 | p.key.peer_addr[i + 1]);
    }
    s += 6 + (uint32_t)tl;
    for (size_t i = 0; i + 1 < tl; i += 2)
        s += (uint32_t)(seg[i] << 8 | seg[i + 1]);
    if (tl & 1)
        s += (uint32_t)(seg[tl - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s == 0xffff;
}
