/* compare.c - see compare.h. */
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "packet.h"

#define NBUCKETS 4096u
#define WINDOW (64u << 20)          /* stream data accepted this far past the match point */

/* A PVM frame waiting for the SVM. */
struct held {
    struct held *next;
    uint64_t t;
    uint32_t start, end;            /* TCP: stream offsets of its data */
    uint32_t ack;
    uint32_t fin_off;
    uint8_t flags;                  /* TCP flags; for packet flows 0 */
    uint16_t win;                   /* TCP: the window field as the PVM sent it */
    size_t tcp_off;                 /* TCP: its header within the frame; 0 if none */
    size_t off, plen;               /* packet flows: payload within the frame */
    size_t len;
    uint8_t frame[];
};

/* An SVM payload waiting for its PVM twin (packet flows). */
struct blob {
    struct blob *next;
    size_t len;
    uint8_t data[];
};

/* A segment that arrived ahead of the contiguous data. */
struct seg {
    struct seg *next;
    uint32_t off;
    size_t len;
    uint8_t data[];
};

/* One side's byte stream, in offsets from its own origin. */
struct stream {
    bool origin;                    /* isn known */
    uint32_t isn;
    uint32_t hi;                    /* contiguous data known up to here */
    uint8_t *buf;                   /* bytes [conn->base, hi) at buf + start */
    size_t start, cap;
    struct seg *pending;
    bool syn, fin, rst, overflow;
    uint32_t fin_off;
};

struct conn {
    struct conn *next;
    struct flow_key key;
    enum pkt_kind kind;
    uint64_t last_t;
    uint64_t s_data_t;              /* TCP: when the SVM's stream last grew */
    struct stream p, s;
    uint32_t base;                  /* stream offset matched on both sides */
    uint32_t s_ack, p_next, p_ack;
    uint32_t s_right;               /* the right edge of the SVM's receive window */
    int8_t p_wscale, s_wscale;      /* window scales in use; -1 unknown */
    bool s_has_ack, p_next_known, p_ack_known, s_right_known, diverged;
    struct held *hhead, *htail;
    struct blob *shead, *stail;
};

struct cmp {
    struct cmp_cfg cfg;
    struct cmp_ops ops;
    struct cmp_stats st;
    struct conn *buckets[NBUCKETS];
    struct conn other;              /* every frame that is not IP TCP/UDP/ICMP */
    bool requested, passthrough;
};

static bool seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

static void request(struct cmp *c, enum colo_trigger why)
{
    if (c->requested)
        return;
    c->requested = true;
    c->st.requests[why]++;
    c->ops.request(c->ops.opaque, why);
}

struct cmp *cmp_new(const struct cmp_cfg *cfg, const struct cmp_ops *ops)
{
    struct cmp *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->cfg = *cfg;
    c->ops = *ops;
    c->other.kind = PKT_OTHER;
    return c;
}

static struct conn *lookup(struct cmp *c, const struct pkt *p, bool create)
{
    struct conn **b, *k;

    if (p->kind == PKT_OTHER)
        return &c->other;
    b = &c->buckets[flow_key_hash(&p->key) % NBUCKETS];
    for (k = *b; k; k = k->next)
        if (!memcmp(&k->key, &p->key, sizeof(p->key)))
            return k;
    if (!create)
        return NULL;
    if (c->st.conns >= c->cfg.max_conns) {
        request(c, COLO_TRIGGER_QUEUE_FULL);
        return NULL;
    }
    if (!(k = calloc(1, sizeof(*k))))
        return NULL;
    k->key = p->key;
    k->kind = p->kind;
    k->p_wscale = k->s_wscale = -1;
    k->next = *b;
    *b = k;
    c->st.conns++;
    return k;
}

/* --- releasing ------------------------------------------------------------- */

/*
 * The client's bytes go to both VMs, but only the PVM's window reaches the
 * client.  When the SVM's is the smaller (its host is busier, it reads
 * later, its buffers are set smaller - and then already in its SYN-ACK,
 * which the client's first flight overruns), the client sends past it, the SVM's
 * kernel drops what lies beyond (BeyondWindow), and the PVM's
 * acknowledgement of those bytes is held until the SVM acknowledges them
 * too (tcp_ready), which it cannot: the client's own retransmission
 * timeout (200 ms at least) or a checkpoint for SVM lag is all that moves
 * the connection on.  So the window the client is shown ends where the
 * SVM's does.  Both right edges only move forwards, so the lesser of them
 * does too: the client never sees the window shrink.  Released at a match
 * only: after a checkpoint the SVM has the PVM's state, its window too.
 */
static void clamp_window(struct cmp *c, const struct conn *k, struct held *h)
{
    uint32_t room;
    int shift = (h->flags & TCP_SYN) ? 0 : k->p_wscale;     /* a SYN's window is never scaled */

    if (!c->cfg.clamp_window || k->kind != PKT_TCP || !h->tcp_off || !(h->flags & TCP_ACK) ||
        k->p_wscale < 0 || !k->s_right_known)
        return;
    room = (int32_t)(k->s_right - h->ack) > 0 ? k->s_right - h->ack : 0;
    if ((room >> shift) >= h->win)
        return;
    pkt_tcp_set_window(h->frame + h->tcp_off, (uint16_t)(room >> shift));
    c->st.window_clamped++;
}

static void release_head(struct cmp *c, struct conn *k, bool matched)
{
    struct held *h = k->hhead;

    if (matched)
        clamp_window(c, k, h);
    k->hhead = h->next;
    if (!k->hhead)
        k->htail = NULL;
    c->ops.release(c->ops.opaque, h->frame, h->len);
    c->st.released++;
    c->st.released_bytes += h->len;
    c->st.held_frames--;
    c->st.held_bytes -= h->len;
    free(h);
}

/* May this TCP frame go out?  See compare.h for the rule. */
static bool tcp_ready(const struct conn *k, const struct held *h)
{
    uint32_t matched = k->base;

    /* A FIN takes a sequence number of its own.  Once both sides' FINs
     * stand at the match point, a frame after it (the VM closed first and
     * now acknowledges the client's FIN) is past no unmatched data. */
    if (k->p.fin && k->s.fin && k->p.fin_off == k->s.fin_off && k->base == k->p.fin_off)
        matched++;
    if ((h->flags & TCP_SYN) && !k->s.syn)
        return false;
    if (h->end > matched && h->end - matched < WINDOW)  /* data not yet matched */
        return false;
    if ((h->flags & TCP_FIN) &&
        !(k->s.fin && k->s.fin_off == h->fin_off && k->base >= h->fin_off))
        return false;
    if ((h->flags & TCP_RST) && !k->s.rst)
        return false;
    if ((h->flags & TCP_ACK) && !(k->s_has_ack && seq_ge(k->s_ack, h->ack)))
        return false;
    return true;
}

static void release_ready(struct cmp *c, struct conn *k)
{
    while (k->hhead && !k->diverged) {
        if (k->kind == PKT_TCP) {
            if (!tcp_ready(k, k->hhead))
                return;
        } else {
            struct held *h = k->hhead;
            struct blob *b = k->shead;

            if (!b)
                return;
            if (b->len != h->plen || memcmp(b->data, h->frame + h->off, b->len)) {
                k->diverged = true;
                c->st.divergences++;
                request(c, COLO_TRIGGER_DIVERGENCE);
                return;
            }
            k->shead = b->next;
            if (!k->shead)
                k->stail = NULL;
            free(b);
        }
        release_head(c, k, true);
    }
}

/* --- TCP streams ----------------------------------------------------------- */

/* Put data at stream offset off into st (bytes from base).  Returns -1 on
 * memory failure; data outside the window is ignored. */
static int stream_put(struct stream *st, uint32_t base, uint32_t off, const uint8_t *d, size_t len,
                      size_t limit)
{
    if (st->overflow)
        return 0;                                       /* dropped until the checkpoint */
    if (len == 0 || off + len - base > WINDOW || (int32_t)(off + (uint32_t)len - base) <= 0)
        return 0;                                       /* nothing new, or garbage */
    if ((int32_t)(off - st->hi) > 0) {                  /* ahead of a gap: keep for later */
        struct seg *s = malloc(sizeof(*s) + len);

        if (!s)
            return -1;
        s->off = off;
        s->len = len;
        memcpy(s->data, d, len);
        s->next = st->pending;
        st->pending = s;
        return 0;
    }
    if ((int32_t)(st->hi - off) > 0) {                  /* overlaps what we have: skip that part */
        size_t skip = st->hi - off;

        if (skip >= len)
            return 0;
        d += skip;
        len -= skip;
        off = st->hi;
    }
    if (st->hi - base + len > limit) {
        st->overflow = true;
        return 0;
    }
    if (st->start + (st->hi - base) + len > st->cap) {
        size_t used = st->hi - base, ncap = st->cap ? st->cap : 4096;
        uint8_t *n;

        /* Matched bytes are dropped from the front by moving the start
         * (tcp_match); they are reclaimed here, and only once they are at
         * least as many as the bytes kept, so that each byte is moved a
         * bounded number of times however far one side runs ahead. */
        if (st->start && st->start >= used) {
            memmove(st->buf, st->buf + st->start, used);
            st->start = 0;
        }
        while (ncap < st->start + used + len)
            ncap *= 2;
        if (ncap > st->cap) {
            if (!(n = realloc(st->buf, ncap)))
                return -1;
            st->buf = n;
            st->cap = ncap;
        }
    }
    memcpy(st->buf + st->start + (st->hi - base), d, len);
    st->hi += (uint32_t)len;
    /* Segments that now join the contiguous data. */
    for (bool again = true; again;) {
        again = false;
        for (struct seg **pp = &st->pending; *pp; pp = &(*pp)->next) {
            struct seg *s = *pp;

            if ((int32_t)(s->off - st->hi) <= 0) {
                *pp = s->next;
                if (stream_put(st, base, s->off, s->data, s->len, limit) < 0) {
                    free(s);
                    return -1;
                }
                free(s);
                again = true;
                break;
            }
        }
    }
    return 0;
}

static void stream_reset(struct stream *st)
{
    while (st->pending) {
        struct seg *s = st->pending;

        st->pending = s->next;
        free(s);
    }
    free(st->buf);
    memset(st, 0, sizeof(*st));
}

/* Compare what both sides have; advance the match point. */
static void tcp_match(struct cmp *c, struct conn *k)
{
    uint32_t n;

    if (k->diverged || !k->p.origin || !k->s.origin)
        return;
    /* A side whose data starts past the match point (its origin was taken
     * mid-stream, the other's from a SYN) has nothing to compare yet. */
    if ((int32_t)(k->p.hi - k->base) <= 0 || (int32_t)(k->s.hi - k->base) <= 0)
        return;
    n = (int32_t)(k->p.hi - k->s.hi) < 0 ? k->p.hi - k->base : k->s.hi - k->base;
    if (n == 0)
        return;
    if (memcmp(k->p.buf + k->p.start, k->s.buf + k->s.start, n)) {
        k->diverged = true;
        c->st.divergences++;
        request(c, COLO_TRIGGER_DIVERGENCE);
        return;
    }
    k->base += n;
    k->p.start = k->p.hi == k->base ? 0 : k->p.start + n;
    k->s.start = k->s.hi == k->base ? 0 : k->s.start + n;
}

/* Where a segment's data starts in its side's stream (fixing the origin
 * from a SYN, or from the first segment seen). */
static uint32_t tcp_offset(struct conn *k, struct stream *st, const struct pkt *p)
{
    if (p->flags & TCP_SYN) {
        if (!st->origin) {
            const struct stream *other = st == &k->p ? &k->s : &k->p;

            st->origin = true;
            if (!other->origin && k->base == 0) {
                st->isn = p->seq;
                st->hi = k->base = 1;                   /* the SYN takes offset 0 */
            } else {
                /* The other side is numbered already (from its SYN, or
                 * mid-stream): data after this SYN starts at the match
                 * point, so both buffers keep starting there. */
                st->isn = p->seq + 1 - k->base;
                st->hi = k->base;
            }
        }
        st->syn = true;
        return p->seq + 1 - st->isn;
    }
    if (!st->origin) {
        st->origin = true;
        st->isn = p->seq - k->base;
        st->hi = k->base;
    }
    return p->seq - st->isn;
}

static int tcp_frame(struct cmp *c, struct conn *k, const struct pkt *p, bool pvm, uint64_t now)
{
    struct stream *st = pvm ? &k->p : &k->s;
    uint32_t off = tcp_offset(k, st, p), hi = st->hi;
    size_t limit = pvm ? SIZE_MAX : c->cfg.max_svm_ahead;

    if (stream_put(st, k->base, off, p->payload, p->payload_len, limit) < 0)
        return -1;
    /* New SVM bytes (a retransmission of matched ones is not progress). */
    if (!pvm && st->hi != hi)
        k->s_data_t = now;
    if (st->overflow)
        request(c, COLO_TRIGGER_QUEUE_FULL);
    if (p->flags & TCP_FIN) {
        st->fin = true;
        st->fin_off = off + (uint32_t)p->payload_len;
    }
    if (p->flags & TCP_RST) {
        st->rst = true;
        /* The PVM accepted a connection the SVM refuses (its service is
         * not there, or not yet): that is different output, not lag. */
        if (!pvm && k->p.syn && !k->s.syn && !k->diverged) {
            k->diverged = true;
            c->st.divergences++;
            request(c, COLO_TRIGGER_DIVERGENCE);
        }
    }
    if (pvm) {
        uint32_t end = p->seq + (uint32_t)p->payload_len + ((p->flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);

        if (!k->p_next_known || seq_ge(end, k->p_next))
            k->p_next = end, k->p_next_known = true;
        if (p->flags & TCP_ACK)
            if (!k->p_ack_known || seq_ge(p->ack, k->p_ack))
                k->p_ack = p->ack, k->p_ack_known = true;
    } else if (p->flags & TCP_ACK) {
        if (!k->s_has_ack || seq_ge(p->ack, k->s_ack))
            k->s_ack = p->ack, k->s_has_ack = true;
    }
    /* A SYN-ACK settles the scale of its sender's windows: a server may
     * offer the option only if the client's SYN did (RFC 7323), so without
     * it there is no scaling.  (When the VM opened the connection, the
     * peer's SYN-ACK, which the proxy does not see, would decide: unknown,
     * and that connection's window is left alone.) */
    if ((p->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
        *(pvm ? &k->p_wscale : &k->s_wscale) = p->wscale < 0 ? 0 : p->wscale;
    /* The SVM's right edge; its SYN-ACK's window counts too (unscaled):
     * the client's first flight must fit what the SVM offered first. */
    if (!pvm && (p->flags & TCP_ACK) && k->s_wscale >= 0) {
        uint32_t right = p->ack + ((uint32_t)p->win << ((p->flags & TCP_SYN) ? 0 : k->s_wscale));

        if (!k->s_right_known || seq_ge(right, k->s_right))
            k->s_right = right, k->s_right_known = true;
    }
    tcp_match(c, k);
    return 0;
}

/* --- frames ------------------------------------------------------------------ */

/* Policy: a frame we cannot parse is still the VM's output - compare it
 * whole, like any frame we do not look into. */
static void parse(struct cmp *c, const uint8_t *frame, size_t len, struct pkt *p)
{
    const char *why;

    if (pkt_parse(frame, len, p, &why) == 0)
        return;
    c->st.malformed++;
    memset(p, 0, sizeof(*p));
    p->kind = PKT_OTHER;
    p->payload = frame;
    p->payload_len = len;
}

int cmp_pvm_frame(struct cmp *c, const uint8_t *frame, size_t len, uint64_t now)
{
    return cmp_pvm_frame_lead(c, frame, len, 0, now);
}

int cmp_pvm_frame_lead(struct cmp *c, const uint8_t *frame, size_t len, size_t lead, uint64_t now)
{
    struct pkt p;
    struct conn *k;
    struct held *h;

    if (c->passthrough) {
        c->ops.release(c->ops.opaque, frame, len);
        c->st.released++;
        c->st.released_bytes += len;
        return 0;
    }
    if (lead > len)
        lead = len;
    parse(c, frame + lead, len - lead, &p);
    if (!(h = malloc(sizeof(*h) + len)))
        return -1;
    memset(h, 0, sizeof(*h));
    h->t = now;
    h->len = len;
    memcpy(h->frame, frame, len);
    h->off = (size_t)(p.payload - frame);
    h->plen = p.payload_len;
    if (!(k = lookup(c, &p, true))) {
        /* no room for another connection: hold it with the other frames
         * (compared whole); the checkpoint asked for will release it */
        k = &c->other;
    }
    k->last_t = now;
    if (k->kind == PKT_TCP) {
        if (tcp_frame(c, k, &p, true, now) < 0) {
            free(h);
            return -1;
        }
        h->flags = p.flags;
        h->ack = p.ack;
        h->start = p.seq - k->p.isn + ((p.flags & TCP_SYN) ? 1 : 0);
        h->end = h->start + (uint32_t)p.payload_len;
        h->fin_off = k->p.fin_off;
        h->win = p.win;
        h->tcp_off = p.l4 ? (size_t)(p.l4 - frame) : 0;
    }
    if (k->htail)
        k->htail->next = h;
    else
        k->hhead = h;
    k->htail = h;
    c->st.held_frames++;
    c->st.held_bytes += len;
    if (c->st.held_bytes > c->cfg.max_held_bytes)
        request(c, COLO_TRIGGER_QUEUE_FULL);
    release_ready(c, k);
    return 0;
}

int cmp_svm_frame(struct cmp *c, const uint8_t *frame, size_t len, uint64_t now)
{
    struct pkt p;
    struct conn *k;

    c->st.svm_frames++;
    if (c->passthrough) {
        c->st.svm_dropped++;
        return 0;
    }
    parse(c, frame, len, &p);
    if (!(k = lookup(c, &p, true)))
        k = &c->other;
    k->last_t = now;
    if (k->diverged)
        return 0;                   /* nothing to compare until the checkpoint */
    if (k->kind == PKT_TCP) {
        if (tcp_frame(c, k, &p, false, now) < 0)
            return -1;
    } else {
        struct blob *b = malloc(sizeof(*b) + p.payload_len);

        if (!b)
            return -1;
        b->next = NULL;
        b->len = p.payload_len;
        memcpy(b->data, p.payload, p.payload_len);
        if (k->stail)
            k->stail->next = b;
        else
            k->shead = b;
        k->stail = b;
    }
    release_ready(c, k);
    return 0;
}

/*
 * The SVM matched the head of this PVM frame and then fell silent.  That is
 * how a lost SVM segment looks when the SVM segments more finely than the
 * PVM: it retransmits only up to its own segment boundary, inside the held
 * frame, and then waits for the client's acknowledgement of the rest -
 * which cannot come, since the frame is held.  Nothing but a checkpoint
 * moves it on, so ask for one sooner than the SVM-lag timeout would.
 */
static bool tcp_stalled(const struct cmp *c, const struct conn *k, uint64_t now)
{
    const struct held *h = k->hhead;
    uint64_t quiet_since;

    if (!c->cfg.svm_stall_ns || k->kind != PKT_TCP || k->diverged)
        return false;
    if ((int32_t)(k->base - h->start) <= 0 || (int32_t)(h->end - k->base) <= 0)
        return false;                                   /* not matched part way */
    quiet_since = h->t > k->s_data_t ? h->t : k->s_data_t;
    return now - quiet_since > c->cfg.svm_stall_ns;
}

void cmp_tick(struct cmp *c, uint64_t now)
{
    if (c->requested || c->passthrough)
        return;
    if (c->other.hhead && now - c->other.hhead->t > c->cfg.svm_lag_ns) {
        request(c, COLO_TRIGGER_SVM_LAG);
        return;
    }
    for (size_t i = 0; i < NBUCKETS; i++)
        for (struct conn *k = c->buckets[i]; k; k = k->next) {
            if (!k->hhead)
                continue;
            if (now - k->hhead->t > c->cfg.svm_lag_ns) {
                request(c, COLO_TRIGGER_SVM_LAG);
                return;
            }
            if (tcp_stalled(c, k, now)) {
                c->st.svm_stalls++;
                request(c, COLO_TRIGGER_SVM_LAG);
                return;
            }
        }
}

/* After a checkpoint: release, drop, and restart the streams at the PVM's
 * current position, which is now the SVM's too. */
static void conn_reset(struct cmp *c, struct conn *k)
{
    while (k->hhead)
        release_head(c, k, false);
    while (k->shead) {
        struct blob *b = k->shead;

        k->shead = b->next;
        free(b);
        c->st.svm_dropped++;
    }
    k->stail = NULL;
    k->diverged = false;
    if (k->kind == PKT_TCP) {
        bool pfin = k->p.fin, prst = k->p.rst;

        stream_reset(&k->p);
        stream_reset(&k->s);
        k->base = 0;
        if (k->p_next_known) {
            k->p.origin = k->s.origin = true;
            k->p.isn = k->s.isn = k->p_next;
        }
        /* the SVM has the PVM's TCP state: its FIN/RST and acks too */
        k->p.fin = k->s.fin = pfin;
        k->p.rst = k->s.rst = prst;
        k->s_ack = k->p_ack;
        k->s_has_ack = k->p_ack_known;
        k->s_wscale = k->p_wscale;
        k->s_right_known = false;       /* until the SVM's next acknowledgement */
    }
}

void cmp_checkpoint_done(struct cmp *c)
{
    c->st.checkpoints++;
    conn_reset(c, &c->other);
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct conn **pp = &c->buckets[i];

        while (*pp) {
            struct conn *k = *pp;

            conn_reset(c, k);
            /* a connection closed on the PVM's side is gone for good */
            if (k->kind != PKT_TCP || k->p.rst || k->p.fin) {
                *pp = k->next;
                free(k);
                c->st.conns--;
            } else {
                pp = &k->next;
            }
        }
    }
    c->requested = false;
}

void cmp_passthrough(struct cmp *c)
{
    cmp_checkpoint_done(c);
    c->passthrough = true;
}

const struct cmp_stats *cmp_stats(const struct cmp *c)
{
    return &c->st;
}

/* Free everything a connection holds, without releasing anything. */
static void conn_free_lists(struct conn *k)
{
    while (k->hhead) {
        struct held *h = k->hhead;

        k->hhead = h->next;
        free(h);
    }
    while (k->shead) {
        struct blob *b = k->shead;

        k->shead = b->next;
        free(b);
    }
    stream_reset(&k->p);
    stream_reset(&k->s);
}

void cmp_free(struct cmp *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        while (c->buckets[i]) {
            struct conn *k = c->buckets[i];

            c->buckets[i] = k->next;
            conn_free_lists(k);
            free(k);
        }
    conn_free_lists(&c->other);
    free(c);
}

const char *cmp_state(const struct cmp *c)
{
    return c->passthrough ? "passthrough" : c->requested ? "checkpoint-requested" : "comparing";
}
