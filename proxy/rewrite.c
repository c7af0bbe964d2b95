/* rewrite.c - see rewrite.h. */
#include <stdlib.h>
#include <string.h>

#include "colo-be.h"
#include "packet.h"
#include "rewrite.h"

#define NBUCKETS 1024u

struct rw_conn {
    struct rw_conn *next;
    struct flow_key key;            /* the VM's side first */
    uint32_t s_isn, off;
    bool have_s_isn, have_off;
    /* TCP timestamps (RFC 7323) the same way: the SVM's clock value in its
     * SYN, the PVM's as the peer echoes it.  A Linux SVM drops a handshake
     * ACK whose echoed timestamp it never sent, so without this the SVM's
     * connection never leaves SYN-RECV when the two SYN-ACKs were sent in
     * different milliseconds. */
    uint32_t s_tsval, ts_off;
    bool have_s_ts, have_ts_off;
};

struct rewriter {
    struct rw_conn *buckets[NBUCKETS];
};

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

/* The frame's TCP header if it is a TCP frame (writable: it is ours), and
 * the offset of its timestamp option (0: none). */
static uint8_t *tcp_of(uint8_t *frame, size_t len, struct pkt *p, size_t *ts)
{
    const char *why;
    uint8_t *t;

    if (pkt_parse(frame, len, p, &why) < 0 || p->kind != PKT_TCP)
        return NULL;
    t = frame + (p->l4 - frame);
    *ts = pkt_tcp_ts_option(t, (size_t)(p->payload - p->l4));
    return t;
}

int rw_svm_out(struct rewriter *r, uint8_t *frame, size_t len, bool out)
{
    struct pkt p;
    size_t ts;
    uint8_t *t = tcp_of(frame, len, &p, &ts);
    struct rw_conn *k;

    if (!t)
        return -1;
    if (p.flags & TCP_SYN) {
        /* The SVM's initial sequence number and clock (SYN-ACK as a server,
         * SYN as a client): the offsets follow from the peer's first ack.
         * A different ISN on a known connection is a new one on the same
         * addresses and ports: start again. */
        if (!(k = find(r, &p.key, true)))
            return -1;
        if (k->have_off && k->s_isn != p.seq)
            k->have_off = k->have_ts_off = false, k->off = k->ts_off = 0;
        if (!k->have_off) {
            k->s_isn = p.seq;
            k->have_s_isn = true;
            k->have_s_ts = ts != 0;
            k->s_tsval = ts ? colo_get_be32(t + ts) : 0;
        }
    }
    if (!out || !(k = find(r, &p.key, false)) || !k->have_off || (!k->off && !k->ts_off))
        return 0;
    pkt_tcp_set32(t, 4, p.seq - k->off);
    if (ts && k->have_ts_off)
        pkt_tcp_set32(t, ts, colo_get_be32(t + ts) - k->ts_off);
    return 1;
}

int rw_client_to_svm(struct rewriter *r, uint8_t *frame, size_t len)
{
    struct pkt p;
    size_t ts;
    uint8_t *t = tcp_of(frame, len, &p, &ts);
    struct flow_key key;
    struct rw_conn *k;

    if (!t)
        return -1;
    /* Parsed as if the VM sent it: turn the key around. */
    flow_key_reverse(&key, &p.key);
    if (!(p.flags & TCP_ACK) || !(k = find(r, &key, false)))
        return 0;
    if (!k->have_off) {
        if (!k->have_s_isn)
            return 0;
        /* The client acknowledges the PVM's ISN + 1, and echoes the
         * timestamp of the PVM's SYN-ACK. */
        k->off = k->s_isn - (p.ack - 1);
        k->have_off = true;
        k->have_ts_off = ts && k->have_s_ts;
        k->ts_off = k->have_ts_off ? k->s_tsval - colo_get_be32(t + ts + 4) : 0;
    }
    if (!k->off && !k->ts_off)
        return 0;
    pkt_tcp_set32(t, 8, p.ack + k->off);
    if (ts && k->have_ts_off)
        pkt_tcp_set32(t, ts + 4, colo_get_be32(t + ts + 4) + k->ts_off);
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
