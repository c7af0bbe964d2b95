/* resend.c - see resend.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "colo-be.h"
#include "packet.h"
#include "resend.h"

#define NBUCKETS 1024u
#define MAX_CONNS 65536u        /* past this, new connections are not repaired */
#define BURST 64                /* copies sent at most per SVM frame */
#define NS_PER_MS 1000000ull
/* A segment of an ordinary frame fits a slot of this size (its header and
 * a 1500-byte frame with VLAN tag).  Slots are kept for reuse rather than
 * freed: every client segment of a bulk transfer passes through here, and
 * handing megabytes a round trip back to the allocator, which gives the top
 * of its heap back to the kernel, made an upload through the proxies
 * about a third slower (page faults and zeroing, measured with bench-net). */
#define SLOT_BYTES 1664u

/* One client segment as it went to the SVM. */
struct seg {
    struct seg *next;
    uint32_t seq, dend, end;    /* first byte, end of its data, end with its FIN */
    uint16_t l4off, tsoff;      /* TCP header in frame; its TSval in the header (0: none) */
    bool beyond;                /* sent past the SVM's right edge: dropped, send once it fits */
    unsigned copies;            /* sent again this many times, the last at resent_ns */
    uint64_t resent_ns;
    size_t len;
    uint8_t frame[];
};

struct rs_conn {
    struct rs_conn *next;
    struct flow_key key;        /* the VM's side first */
    struct seg *head, *tail, *beyond_from;  /* held, by sequence; the first marked beyond */
    uint32_t svm_ack, svm_right;            /* what the SVM acknowledged, its right edge */
    uint16_t svm_win;
    bool have_ack, have_right;
    int8_t c_ws, s_ws;          /* window scales in the two SYNs (-1: none) */
    bool c_syn, s_syn;          /* those SYNs seen */
    bool fin_held;              /* the client's FIN is among what we hold or held */
    uint32_t c_ack, c_tsval;    /* the client's latest acknowledgement (translated), TSval */
    bool have_c_ack, have_c_ts;
    unsigned dups;              /* duplicate ACKs in a row */
    bool recovering;            /* a copy went out for a gap: until the SVM has all to `recover` */
    uint32_t recover;
    uint64_t last_ns;           /* the last progress or copy sent */
    uint32_t rto_ms;
};

struct resend {
    struct rs_conn *buckets[NBUCKETS];
    struct seg *free_slots;     /* kept while they and what is held stay within max_bytes */
    size_t max_bytes, free_bytes;
    uint64_t next_scan_ns;
    struct rs_stats st;
};

/* Sequence-space order (RFC 793 arithmetic, modulo 2^32). */
static bool after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

struct resend *rs_new(size_t max_bytes)
{
    struct resend *r;

    if (!max_bytes || !(r = calloc(1, sizeof(*r))))
        return NULL;
    r->max_bytes = max_bytes;
    r->next_scan_ns = UINT64_MAX;
    return r;
}

/* Does a segment of a len-byte frame live in a slot (or is it allocated
 * to size)? */
static bool in_slot(size_t len)
{
    return sizeof(struct seg) + len <= SLOT_BYTES;
}

static struct seg *seg_alloc(struct resend *r, size_t len)
{
    struct seg *s;

    if (!in_slot(len))
        s = malloc(sizeof(*s) + len);
    else if ((s = r->free_slots)) {
        r->free_slots = s->next;
        r->free_bytes -= SLOT_BYTES;
    } else
        s = malloc(SLOT_BYTES);
    if (s)
        memset(s, 0, sizeof(*s));
    return s;
}

static void seg_free(struct resend *r, struct seg *s)
{
    r->st.held_frames--;
    r->st.held_bytes -= s->len;
    if (in_slot(s->len) && r->st.held_bytes + r->free_bytes + SLOT_BYTES <= r->max_bytes) {
        s->next = r->free_slots;
        r->free_slots = s;
        r->free_bytes += SLOT_BYTES;
    } else
        free(s);
}

static void conn_free(struct resend *r, struct rs_conn *k)
{
    struct rs_conn **pp = &r->buckets[flow_key_hash(&k->key) % NBUCKETS];

    while (*pp != k)
        pp = &(*pp)->next;
    *pp = k->next;
    while (k->head) {
        struct seg *s = k->head;

        k->head = s->next;
        seg_free(r, s);
    }
    r->st.conns--;
    free(k);
}

void rs_clear(struct resend *r)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        while (r->buckets[i])
            conn_free(r, r->buckets[i]);
    r->next_scan_ns = UINT64_MAX;
}

void rs_free(struct resend *r)
{
    if (r) {
        rs_clear(r);
        while (r->free_slots) {
            struct seg *s = r->free_slots;

            r->free_slots = s->next;
            free(s);
        }
    }
    free(r);
}

void rs_stats(const struct resend *r, struct rs_stats *out)
{
    *out = r->st;
    out->spare_bytes = r->free_bytes;
}

static struct rs_conn *find(struct resend *r, const struct flow_key *key, bool create)
{
    struct rs_conn **b = &r->buckets[flow_key_hash(key) % NBUCKETS], *k;

    for (k = *b; k; k = k->next)
        if (!memcmp(&k->key, key, sizeof(*key)))
            return k;
    if (!create)
        return NULL;
    if (r->st.conns >= MAX_CONNS || !(k = calloc(1, sizeof(*k)))) {
        r->st.overflow++;
        return NULL;
    }
    k->key = *key;
    k->c_ws = k->s_ws = -1;
    k->rto_ms = RS_RTO_FIRST_MS;
    k->next = *b;
    *b = k;
    r->st.conns++;
    return k;
}

/* Does the segment's data fit in the SVM's window as last heard?  Unknown
 * (no window scale seen, e.g. after a checkpoint) counts as yes. */
static bool fits(const struct rs_conn *k, const struct seg *s)
{
    return !k->have_right || !after(s->dend, k->svm_right);
}

/* The shift of the SVM's window field: RFC 7323 scales it only when both
 * SYNs offered the option; the SYN's own window is never scaled.  -1: not
 * known (the handshake was not seen). */
static int win_shift(const struct rs_conn *k, bool syn)
{
    if (syn)
        return 0;
    if (!k->c_syn || !k->s_syn)
        return -1;
    return k->c_ws >= 0 && k->s_ws >= 0 ? k->s_ws : 0;
}

/* Send a held segment again, as the client's retransmission would look
 * now: its latest acknowledgement and timestamp. */
static void send_again(struct resend *r, struct rs_conn *k, struct seg *s, uint64_t now,
                       uint64_t *cause, rs_send_fn *send, void *opaque)
{
    uint8_t *t = s->frame + s->l4off;

    if ((t[13] & TCP_ACK) && k->have_c_ack && colo_get_be32(t + 8) != k->c_ack)
        pkt_tcp_set32(t, 8, k->c_ack);
    if (s->tsoff && k->have_c_ts && colo_get_be32(t + s->tsoff) != k->c_tsval)
        pkt_tcp_set32(t, s->tsoff, k->c_tsval);
    send(opaque, s->frame, s->len);
    s->copies++;
    s->resent_ns = now;
    r->st.resent++;
    (*cause)++;
    k->last_ns = now;
}

static void insert(struct rs_conn *k, struct seg *s)
{
    struct seg **pp;

    if (!k->tail || !after(k->tail->seq, s->seq)) {
        /* in order: the usual case */
        if (k->tail)
            k->tail->next = s;
        else
            k->head = s;
        k->tail = s;
        return;
    }
    for (pp = &k->head; *pp && !after((*pp)->seq, s->seq); pp = &(*pp)->next)
        ;
    s->next = *pp;
    *pp = s;
}

void rs_client(struct resend *r, const uint8_t *frame, size_t len, uint64_t now)
{
    struct pkt p;
    const char *why;
    struct flow_key key;
    struct rs_conn *k;
    struct seg *s;
    size_t hlen, ts;
    uint32_t dend, end;
    bool fin;

    if (pkt_parse(frame, len, &p, &why) < 0 || p.kind != PKT_TCP)
        return;
    flow_key_reverse(&key, &p.key);     /* parsed as if the VM sent it */
    fin = p.flags & TCP_FIN;
    if (!(k = find(r, &key, (p.flags & TCP_SYN) || p.payload_len || fin)))
        return;
    if (p.flags & TCP_RST) {
        conn_free(r, k);
        return;
    }
    hlen = (size_t)(p.payload - p.l4);
    ts = pkt_tcp_ts_option(p.l4, hlen);
    if ((p.flags & TCP_ACK) && (!k->have_c_ack || after(p.ack, k->c_ack)))
        k->c_ack = p.ack, k->have_c_ack = true;
    if (ts && (!k->have_c_ts || after(colo_get_be32(p.l4 + ts), k->c_tsval)))
        k->c_tsval = colo_get_be32(p.l4 + ts), k->have_c_ts = true;
    if (p.flags & TCP_SYN) {
        /* Not held: a lost SYN is the client's to send again. */
        k->c_syn = true;
        k->c_ws = p.wscale;
        return;
    }
    dend = p.seq + (uint32_t)p.payload_len;
    end = dend + fin;
    if (end == p.seq || (k->have_ack && !after(end, k->svm_ack)))
        return;                         /* nothing the SVM still needs */
    if (k->tail && k->tail->seq == p.seq && k->tail->end == end)
        return;                         /* the client sent it again: ours is there */
    if (r->st.held_bytes + len > r->max_bytes || !(s = seg_alloc(r, len))) {
        r->st.overflow++;
        return;
    }
    memcpy(s->frame, frame, len);
    s->len = len;
    s->seq = p.seq, s->dend = dend, s->end = end;
    s->l4off = (uint16_t)(p.l4 - frame);
    s->tsoff = (uint16_t)ts;
    s->beyond = !fits(k, s);
    if (!k->head) {
        k->last_ns = now;
        k->rto_ms = RS_RTO_FIRST_MS;
        if (now + RS_RTO_FIRST_MS * NS_PER_MS < r->next_scan_ns)
            r->next_scan_ns = now + RS_RTO_FIRST_MS * NS_PER_MS;
    }
    insert(k, s);
    if (s->beyond && (!k->beyond_from || after(k->beyond_from->seq, s->seq)))
        k->beyond_from = s;
    k->fin_held |= fin;
    r->st.held_frames++;
    r->st.held_bytes += len;
}

/* The head again, for a gap the SVM showed at its acknowledgement.  Until
 * the SVM has everything held when it did, each acknowledgement that moves
 * but stops short of that point shows the next gap (a partial ACK, as in
 * NewReno, RFC 6582): without sending there too, a flight with two losses
 * would wait for the timer. */
static void repair_gap(struct resend *r, struct rs_conn *k, uint64_t now, uint64_t *cause,
                       rs_send_fn *send, void *opaque)
{
    if (!k->recovering) {
        k->recovering = true;
        k->recover = k->tail->end;
    }
    send_again(r, k, k->head, now, cause, send, opaque);
    k->head->beyond = false;            /* sent: the window need not bring it again */
    k->dups = 0;
}

/* Let go of what the SVM acknowledged: from the head, while covered. */
static void trim(struct resend *r, struct rs_conn *k)
{
    while (k->head && !after(k->head->end, k->svm_ack)) {
        struct seg *s = k->head;

        k->head = s->next;
        if (k->beyond_from == s)
            k->beyond_from = s->next;
        if (k->tail == s)
            k->tail = NULL;
        seg_free(r, s);
    }
}

/* Send the segments sent past the SVM's right edge that now fit. */
static void send_beyond(struct resend *r, struct rs_conn *k, uint64_t now, rs_send_fn *send, void *opaque)
{
    struct seg *s = k->beyond_from;
    int n = 0;

    for (; s && n < BURST && !after(s->seq, k->svm_right); s = s->next) {
        if (!s->beyond)
            continue;
        if (!fits(k, s))
            break;
        send_again(r, k, s, now, &r->st.resent_window, send, opaque);
        s->beyond = false;
        n++;
    }
    while (s && !s->beyond)
        s = s->next;
    k->beyond_from = s;
}

void rs_svm(struct resend *r, const uint8_t *frame, size_t len, uint64_t now,
            rs_send_fn *send, void *opaque)
{
    struct pkt p;
    const char *why;
    struct rs_conn *k;
    bool syn, dup = false, partial = false;
    int shift;

    if (pkt_parse(frame, len, &p, &why) < 0 || p.kind != PKT_TCP)
        return;
    syn = p.flags & TCP_SYN;
    if (!(k = find(r, &p.key, syn)))
        return;
    if (p.flags & TCP_RST) {
        conn_free(r, k);
        return;
    }
    if (syn) {
        k->s_syn = true;
        k->s_ws = p.wscale;
    }
    if (!(p.flags & TCP_ACK))
        return;
    if (!k->have_ack || after(p.ack, k->svm_ack)) {
        k->svm_ack = p.ack;
        k->have_ack = true;
        k->dups = 0;
        k->last_ns = now;
        k->rto_ms = RS_RTO_FIRST_MS;
        trim(r, k);
        if (!k->head && k->fin_held) {  /* all the client sent, FIN included, is in */
            conn_free(r, k);
            return;
        }
        if (k->recovering && !(partial = after(k->recover, p.ack)))
            k->recovering = false;
    } else if (p.ack == k->svm_ack && !p.payload_len && !(p.flags & (TCP_SYN | TCP_FIN)) &&
               p.win <= k->svm_win && k->head) {
        /* The same acknowledgement, no data, the window no larger (a
         * window update is not a duplicate; the out-of-order data a
         * duplicate reports may make the window smaller). */
        dup = true;
        k->dups++;
    }
    k->svm_win = p.win;
    if ((shift = win_shift(k, syn)) >= 0) {
        uint32_t right = p.ack + ((uint32_t)p.win << shift);

        /* A right edge does not move left (RFC 7323 2.4); keep the furthest. */
        if (!k->have_right || after(right, k->svm_right))
            k->svm_right = right;
        k->have_right = true;
    }
    if (!k->head)
        return;
    if (k->beyond_from)
        send_beyond(r, k, now, send, opaque);
    /* Two duplicate ACKs, or a partial one: the SVM has a gap where the
     * head is. */
    if (!after(k->head->seq, k->svm_ack) && after(k->head->end, k->svm_ack) && fits(k, k->head) &&
        (partial || (dup && k->dups >= 2 &&
          (!k->head->copies || now - k->head->resent_ns >= RS_DUPACK_GAP_MS * NS_PER_MS))))
        repair_gap(r, k, now, &r->st.resent_dupack, send, opaque);
}

static int ms_until(uint64_t now, uint64_t t)
{
    uint64_t ms;

    if (t == UINT64_MAX)
        return -1;
    if (t <= now)
        return 0;
    ms = (t - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > 1000 ? 1000 : (int)ms;
}

int rs_tick(struct resend *r, uint64_t now, rs_send_fn *send, void *opaque)
{
    uint64_t next = UINT64_MAX;

    if (!r->st.held_frames) {
        r->next_scan_ns = UINT64_MAX;
        return -1;
    }
    if (now < r->next_scan_ns)
        return ms_until(now, r->next_scan_ns);
    for (size_t i = 0; i < NBUCKETS; i++)
        for (struct rs_conn *k = r->buckets[i]; k; k = k->next) {
            uint64_t due;

            if (!k->head)
                continue;
            due = k->last_ns + k->rto_ms * NS_PER_MS;
            if (now >= due) {
                /* Silence: send the head again if the SVM has room for it;
                 * if not, its window opening will. */
                if (fits(k, k->head)) {
                    repair_gap(r, k, now, &r->st.resent_timer, send, opaque);
                } else {
                    k->head->beyond = true;
                    k->beyond_from = k->head;
                }
                k->last_ns = now;
                k->rto_ms = k->rto_ms * 2 > RS_RTO_MAX_MS ? RS_RTO_MAX_MS : k->rto_ms * 2;
                due = now + k->rto_ms * NS_PER_MS;
            }
            if (due < next)
                next = due;
        }
    r->next_scan_ns = next;
    return ms_until(now, next);
}
