/*
 * test-compare.c - colo-proxy's comparator on synthetic frames: what is
 * released when, what triggers a checkpoint, and that nothing the SVM has
 * not matched ever goes out before a checkpoint is done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compare.h"
#include "packet.h"

/* --- frames ------------------------------------------------------------------ */

static uint8_t frame[2048];
static uint16_t ip_id;

/* Ethernet + IPv4 (or IPv6) + TCP from the VM (10.0.0.2:80) to the client. */
static size_t tcp4(uint32_t seq, uint32_t ack, uint8_t flags, const char *data, bool v6)
{
    size_t dl = data ? strlen(data) : 0, ipl = v6 ? 40 : 20, off = 14;
    uint8_t *ip = frame + off, *t;

    memset(frame, 0, sizeof(frame));
    frame[12] = v6 ? 0x86 : 0x08;
    frame[13] = v6 ? 0xdd : 0x00;
    if (v6) {
        ip[0] = 0x60;
        ip[4] = (uint8_t)((20 + dl) >> 8);
        ip[5] = (uint8_t)(20 + dl);
        ip[6] = 6;
        ip[7] = (uint8_t)(64 + ip_id);                  /* hop limit: differs, ignored */
        ip[8 + 15] = 2;
        ip[24 + 15] = 9;
    } else {
        ip[0] = 0x45;
        ip[2] = (uint8_t)((20 + 20 + dl) >> 8);
        ip[3] = (uint8_t)(20 + 20 + dl);
        ip[4] = (uint8_t)(++ip_id >> 8);                 /* IP ID: differs, ignored */
        ip[5] = (uint8_t)ip_id;
        ip[8] = (uint8_t)(64 - ip_id % 3);               /* TTL: ignored */
        ip[9] = 6;
        ip[10] = (uint8_t)ip_id;                         /* checksum: ignored */
        ip[12] = 10, ip[15] = 2;
        ip[16] = 10, ip[19] = 9;
    }
    t = ip + ipl;
    t[0] = 0, t[1] = 80;                                 /* VM port */
    t[2] = 0xc3, t[3] = 0x50;                            /* client port */
    t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8), t[7] = (uint8_t)seq;
    t[8] = (uint8_t)(ack >> 24), t[9] = (uint8_t)(ack >> 16), t[10] = (uint8_t)(ack >> 8), t[11] = (uint8_t)ack;
    t[12] = 5 << 4;
    t[13] = flags;
    t[14] = (uint8_t)ip_id;                              /* window: ignored */
    if (dl)
        memcpy(t + 20, data, dl);
    return off + ipl + 20 + dl;
}

static size_t udp4(const char *data)
{
    size_t dl = strlen(data);
    uint8_t *ip = frame + 14, *u = ip + 20;

    memset(frame, 0, sizeof(frame));
    frame[12] = 0x08;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((28 + dl) >> 8);
    ip[3] = (uint8_t)(28 + dl);
    ip[9] = 17;
    ip[12] = 10, ip[15] = 2, ip[16] = 10, ip[19] = 9;
    u[1] = 53, u[3] = 99;
    u[4] = (uint8_t)((8 + dl) >> 8);
    u[5] = (uint8_t)(8 + dl);
    memcpy(u + 8, data, dl);
    return 14 + 28 + dl;
}

/* --- harness --------------------------------------------------------------- */

static int released, requests[COLO_TRIGGER__MAX];
static char last[2048];
static size_t last_len;

static void on_release(void *o, const uint8_t *f, size_t len)
{
    (void)o;
    released++;
    memcpy(last, f, len);
    last_len = len;
}

static void on_request(void *o, enum colo_trigger why)
{
    (void)o;
    requests[why]++;
}

/* A comparator; clamp: lower released windows to the SVM's (off in most tests). */
static struct cmp *make_clamping(bool clamp)
{
    struct cmp_cfg cfg = { .svm_lag_ns = 100000000, .max_held_bytes = 1 << 20,
                           .max_svm_ahead = 1 << 20, .max_conns = 100, .clamp_window = clamp };
    struct cmp_ops ops = { .release = on_release, .request = on_request };

    released = 0;
    memset(requests, 0, sizeof(requests));
    return cmp_new(&cfg, &ops);
}

static struct cmp *make(void) { return make_clamping(false); }

#define P(len) assert_int_equal(cmp_pvm_frame(c, frame, (len), now), 0)
#define S(len) assert_int_equal(cmp_svm_frame(c, frame, (len), now), 0)

static const uint32_t PISN = 1000, SISN = 777777, CISN = 5000;
static uint64_t now = 1;

/* Both sides answer the client's SYN; returns with the handshake released. */
static void handshake(struct cmp *c)
{
    P(tcp4(PISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false));
    assert_int_equal(released, 0);                      /* SVM has not answered yet */
    S(tcp4(SISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false));
    assert_int_equal(released, 1);
}

static void test_segmentation_and_isn_do_not_matter(void **state)
{
    struct cmp *c = make();

    (void)state;
    handshake(c);
    P(tcp4(PISN + 1, CISN + 9, TCP_ACK | TCP_PSH, "hello world", false));
    S(tcp4(SISN + 1, CISN + 9, TCP_ACK, "hello ", false));
    assert_int_equal(released, 1);                      /* only half matched */
    S(tcp4(SISN + 7, CISN + 9, TCP_ACK | TCP_PSH, "world", false));
    assert_int_equal(released, 2);
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 0);
    /* the released frame is the PVM's, untouched */
    assert_memory_equal(last + 14 + 40, "hello world", 11);
    /* the SVM ahead of the PVM: held back until the PVM catches up */
    S(tcp4(SISN + 12, CISN + 9, TCP_ACK, "abc", false));
    P(tcp4(PISN + 12, CISN + 9, TCP_ACK, "ab", false));
    P(tcp4(PISN + 14, CISN + 9, TCP_ACK, "c", false));
    assert_int_equal(released, 4);
    cmp_free(c);
}

/* Stream bytes [off, off + len) of a pattern that differs at every
 * offset (offset `bad`, if inside, is damaged), as a C string. */
static const char *pattern(uint32_t off, size_t len, uint32_t bad)
{
    static char b[1100];

    for (size_t i = 0; i < len; i++)
        b[i] = (char)('a' + (off + i) * 7 % 26);
    if (bad >= off && bad < off + len)
        b[bad - off] = '#';
    b[len] = 0;
    return b;
}

/* The PVM runs far ahead in big segments while the SVM follows in small
 * ones, for 400 KB: the matched data must be dropped from the front of the
 * PVM's buffer again and again while new data arrives behind it, and every
 * byte must still be compared with the right one. */
static void far_ahead(uint32_t bad)
{
    struct cmp *c = make();
    const uint32_t total = 400000, ahead = 30000;
    uint32_t p = 0, sv = 0;
    int pframes = 0;

    handshake(c);
    while (sv < total) {
        while (p < total && p < sv + ahead) {
            uint32_t n = total - p < 1000 ? total - p : 1000;

            P(tcp4(PISN + 1 + p, CISN + 1, TCP_ACK, pattern(p, n, ~0u), false));
            p += n, pframes++;
        }
        for (int i = 0; i < 10 && sv < total; i++) {
            uint32_t n = total - sv < 300 ? total - sv : 300;

            S(tcp4(SISN + 1 + sv, CISN + 1, TCP_ACK, pattern(sv, n, bad), false));
            sv += n;
        }
    }
    if (bad == ~0u) {
        assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 0);
        assert_int_equal(released, 1 + pframes);
    } else {
        assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
        assert_int_equal(released, 1 + (int)(bad / 1000));    /* up to the damaged segment */
    }
    cmp_free(c);
}

static void test_far_ahead(void **state) { (void)state; far_ahead(~0u); }
static void test_far_ahead_damage_deep(void **state) { (void)state; far_ahead(333333); }

static void test_reordering_and_retransmission(void **state)
{
    struct cmp *c = make();

    (void)state;
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK, "0123456789", false));
    S(tcp4(SISN + 6, CISN + 1, TCP_ACK, "56789", false));   /* out of order */
    assert_int_equal(released, 1);
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "01234", false));
    assert_int_equal(released, 2);
    /* the PVM retransmits what was already matched: out at once */
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK, "0123456789", false));
    assert_int_equal(released, 3);
    /* the SVM retransmits: nothing changes */
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "01234", false));
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 0);
    cmp_free(c);
}

static void test_divergence_holds_until_checkpoint(void **state)
{
    struct cmp *c = make();

    (void)state;
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK, "balance=100", false));
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "balance=999", false));
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    assert_int_equal(released, 1);                      /* the divergent bytes stay held */
    P(tcp4(PISN + 12, CISN + 1, TCP_ACK, "more", false));
    S(tcp4(SISN + 12, CISN + 1, TCP_ACK, "more", false));
    assert_int_equal(released, 1);                      /* everything after too */
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);   /* asked once */
    cmp_checkpoint_done(c);
    assert_int_equal(released, 3);
    /* after the checkpoint the SVM has the PVM's state: same sequence
     * numbers, and the comparison starts afresh */
    P(tcp4(PISN + 16, CISN + 1, TCP_ACK, "next", false));
    assert_int_equal(released, 3);
    S(tcp4(PISN + 16, CISN + 1, TCP_ACK, "next", false));
    assert_int_equal(released, 4);
    assert_int_equal(cmp_stats(c)->divergences, 1);
    cmp_free(c);
}

static void test_ack_gates_release(void **state)
{
    struct cmp *c = make();

    (void)state;
    handshake(c);
    /* the PVM acknowledges client bytes the SVM has not acknowledged yet */
    P(tcp4(PISN + 1, CISN + 101, TCP_ACK, NULL, false));
    assert_int_equal(released, 1);
    S(tcp4(SISN + 1, CISN + 51, TCP_ACK, NULL, false));
    assert_int_equal(released, 1);
    S(tcp4(SISN + 1, CISN + 101, TCP_ACK, NULL, false));
    assert_int_equal(released, 2);
    cmp_free(c);
}

static void test_fin_and_rst_must_match(void **state)
{
    struct cmp *c = make();

    (void)state;
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK | TCP_FIN, "bye", false));
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "bye", false));
    assert_int_equal(released, 1);                      /* data matches, FIN does not yet */
    S(tcp4(SISN + 4, CISN + 1, TCP_ACK | TCP_FIN, NULL, false));
    assert_int_equal(released, 2);
    /* The VM closed first: its acknowledgement of the client's FIN comes
     * after its own FIN, one sequence number past the data.  It goes out
     * once the SVM has acknowledged as far (and not before). */
    P(tcp4(PISN + 5, CISN + 2, TCP_ACK, NULL, false));
    assert_int_equal(released, 2);
    S(tcp4(SISN + 5, CISN + 2, TCP_ACK, NULL, false));
    assert_int_equal(released, 3);
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 0);
    cmp_free(c);

    /* ... but not past a FIN the SVM has not sent */
    c = make();
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK | TCP_FIN, "bye", false));
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "bye", false));
    P(tcp4(PISN + 5, CISN + 2, TCP_ACK, NULL, false));
    S(tcp4(SISN + 4, CISN + 2, TCP_ACK, NULL, false));
    assert_int_equal(released, 1);
    cmp_free(c);

    c = make();
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_RST, NULL, false));
    assert_int_equal(released, 1);
    S(tcp4(SISN + 1, CISN + 1, TCP_RST, NULL, false));
    assert_int_equal(released, 2);
    cmp_free(c);
}

/* One side seen first mid-stream (the proxy started late), the other
 * from its SYN: numbering stays consistent, nothing unmatched goes out. */
static void test_origin_mid_stream_on_one_side(void **state)
{
    struct cmp *c = make();

    (void)state;
    P(tcp4(PISN + 5, CISN + 1, TCP_ACK, "abc", false));
    S(tcp4(SISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false));
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "abc", false));
    assert_int_equal(released, 1);                      /* "abc" matched "abc" */
    P(tcp4(PISN + 8, CISN + 1, TCP_ACK, "def", false));
    S(tcp4(SISN + 4, CISN + 1, TCP_ACK, "xyz", false));
    assert_int_equal(released, 1);
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    cmp_free(c);

    /* every byte is compared: "abX" must not pass for "abc" */
    c = make();
    P(tcp4(PISN + 5, CISN + 1, TCP_ACK, "abX", false));
    S(tcp4(SISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false));
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "abc", false));
    assert_int_equal(released, 0);
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    cmp_free(c);
}

/* The PVM accepts, the SVM refuses (its server is not listening): a
 * divergence at once, not a wait for the SVM-lag timeout. */
static void test_svm_refuses_connection(void **state)
{
    struct cmp *c = make();

    (void)state;
    P(tcp4(PISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false));
    S(tcp4(0, CISN + 1, TCP_RST | TCP_ACK, NULL, false));
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    assert_int_equal(released, 0);
    cmp_checkpoint_done(c);
    assert_int_equal(released, 1);
    cmp_free(c);
}

static void test_ipv6(void **state)
{
    struct cmp *c = make();

    (void)state;
    P(tcp4(PISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, true));
    S(tcp4(SISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, true));
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK, "six", true));
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "six", true));
    assert_int_equal(released, 2);
    S(tcp4(SISN + 4, CISN + 1, TCP_ACK, "SEVEN", true));
    P(tcp4(PISN + 4, CISN + 1, TCP_ACK, "seven", true));
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    assert_int_equal(released, 2);
    cmp_free(c);
}

static void test_udp_and_other_frames(void **state)
{
    struct cmp *c = make();
    uint8_t arp[60];
    size_t n;

    (void)state;
    P(udp4("query-1"));
    S(udp4("query-1"));
    assert_int_equal(released, 1);
    S(udp4("query-2"));                                 /* the SVM first this time */
    P(udp4("query-2"));
    assert_int_equal(released, 2);
    P(udp4("answer-A"));
    S(udp4("answer-B"));
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    assert_int_equal(released, 2);
    cmp_checkpoint_done(c);
    assert_int_equal(released, 3);
    /* ARP: compared whole, frame for frame */
    memset(arp, 0, sizeof(arp));
    arp[12] = 0x08, arp[13] = 0x06, arp[20] = 2;
    assert_int_equal(cmp_pvm_frame(c, arp, sizeof(arp), now), 0);
    assert_int_equal(released, 3);
    assert_int_equal(cmp_svm_frame(c, arp, sizeof(arp), now), 0);
    assert_int_equal(released, 4);
    n = udp4("x");
    (void)n;
    cmp_free(c);
}

static void test_svm_lag_and_queue_cap(void **state)
{
    struct cmp *c = make();

    (void)state;
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK, "waiting", false));
    cmp_tick(c, now + 50000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 0);
    cmp_tick(c, now + 150000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 1);
    cmp_tick(c, now + 250000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 1);   /* once per checkpoint */
    cmp_checkpoint_done(c);
    assert_int_equal(released, 2);
    cmp_free(c);

    /* the held-bytes cap: a checkpoint request, and not one frame dropped */
    {
        struct cmp_cfg cfg = { .svm_lag_ns = ~0ull, .max_held_bytes = 10000,
                               .max_svm_ahead = 1 << 20, .max_conns = 100 };
        struct cmp_ops ops = { .release = on_release, .request = on_request };
        char chunk[1001];
        int sent = 0;

        released = 0;
        memset(requests, 0, sizeof(requests));
        c = cmp_new(&cfg, &ops);
        handshake(c);
        memset(chunk, 'q', 1000);
        chunk[1000] = 0;
        for (int i = 0; i < 30; i++, sent++)
            P(tcp4(PISN + 1 + 1000 * (uint32_t)i, CISN + 1, TCP_ACK, chunk, false));
        assert_int_equal(requests[COLO_TRIGGER_QUEUE_FULL], 1);
        assert_int_equal(released, 1);
        cmp_checkpoint_done(c);
        assert_int_equal(released, 1 + sent);
        cmp_free(c);
    }
}

/* The SVM matched part of a held PVM segment and fell silent (a lost SVM
 * segment, when the SVM segments more finely): a checkpoint after the
 * stall timeout, long before the SVM-lag one; silence with nothing partly
 * matched, or recent SVM data, is not a stall. */
/* A comparator with these timeouts (ms), a connection open, and a PVM
 * segment held whose first half the SVM has matched. */
static struct cmp *half_matched(uint64_t lag_ms, uint64_t stall_ms)
{
    struct cmp_cfg cfg = { .svm_lag_ns = lag_ms * 1000000, .svm_stall_ns = stall_ms * 1000000,
                           .max_held_bytes = 1 << 20, .max_svm_ahead = 1 << 20, .max_conns = 100 };
    struct cmp_ops ops = { .release = on_release, .request = on_request };
    struct cmp *c;

    released = 0;
    memset(requests, 0, sizeof(requests));
    c = cmp_new(&cfg, &ops);
    handshake(c);
    P(tcp4(PISN + 1, CISN + 1, TCP_ACK, "0123456789", false));
    /* Nothing matched yet: only the SVM-lag timeout applies. */
    cmp_tick(c, now + (lag_ms - 1) * 1000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 0);
    now += (lag_ms - 1) * 1000000 / 2;
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "01234", false));
    assert_int_equal(released, 1);                          /* still held */
    return c;
}

static void test_svm_stall(void **state)
{
    struct cmp *c = half_matched(300, 50);

    (void)state;
    cmp_tick(c, now + 40000000);                            /* SVM data 40 ms ago */
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 0);
    /* The SVM retransmitting what already matched is no progress. */
    now += 40000000;
    S(tcp4(SISN + 1, CISN + 1, TCP_ACK, "01234", false));
    cmp_tick(c, now + 20000000);                            /* quiet for 60 ms */
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 1);
    assert_int_equal(cmp_stats(c)->svm_stalls, 1);
    assert_int_equal(released, 1);                          /* nothing unmatched goes out */
    cmp_checkpoint_done(c);
    assert_int_equal(released, 2);
    cmp_free(c);

    /* The rest arrives in time: released, no request. */
    c = half_matched(300, 50);
    cmp_tick(c, now + 30000000);
    now += 30000000;
    S(tcp4(SISN + 6, CISN + 1, TCP_ACK, "56789", false));
    assert_int_equal(released, 2);
    cmp_tick(c, now + 200000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 0);
    cmp_free(c);

    /* No stall timeout: only the SVM-lag one, counted from the PVM's frame. */
    c = half_matched(300, 0);
    cmp_tick(c, now + 140000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 0);
    cmp_tick(c, now + 160000000);
    assert_int_equal(requests[COLO_TRIGGER_SVM_LAG], 1);
    assert_int_equal(cmp_stats(c)->svm_stalls, 0);
    cmp_free(c);
}

static void test_malformed_frames(void **state)
{
    struct cmp *c = make();
    uint64_t x = 88172645463325252ull;
    struct pkt p;
    const char *why;
    size_t len;

    (void)state;
    /* a truncated IPv4 header, a TCP offset past the end, a UDP length lie */
    len = tcp4(PISN, CISN, TCP_ACK, "abc", false);
    assert_int_equal(pkt_parse(frame, 30, &p, &why), -1);
    frame[14 + 20 + 12] = 0xf0;
    assert_int_equal(pkt_parse(frame, len, &p, &why), -1);
    assert_non_null(why);
    len = udp4("abc");
    frame[14 + 20 + 5] = 200;
    assert_int_equal(pkt_parse(frame, len, &p, &why), -1);
    /* such frames are still compared, whole, and matched ones released */
    P(len);
    S(len);
    assert_int_equal(released, 1);
    assert_true(cmp_stats(c)->malformed >= 2);
    /* random garbage on both sides: never a crash */
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        len = x % 200;
        for (size_t j = 0; j < len; j++)
            frame[j] = (uint8_t)(x >> (j % 50));
        if (len > 13 && (x & 1))
            frame[12] = 0x08, frame[13] = (x & 2) ? 0x00 : 0xdd;
        if (x & 4)
            assert_int_equal(cmp_pvm_frame(c, frame, len, now), 0);
        else
            assert_int_equal(cmp_svm_frame(c, frame, len, now), 0);
    }
    cmp_checkpoint_done(c);
    cmp_free(c);
}

/* A lead (QEMU's vnet header and its length, in the compatibility mode):
 * carried with the PVM's frame, never compared, released with it. */
static void test_lead_is_carried_not_compared(void **state)
{
    struct cmp *c = make();
    uint8_t buf[2048 + 16];
    size_t n;

    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        n = kind == 0 ? tcp4(PISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false)
          : kind == 1 ? tcp4(PISN + 1, CISN + 1, TCP_ACK, "lead me", false) : udp4("dgram");
        memset(buf, 0xa0 + kind, 16);                   /* the PVM's header: its own bytes */
        memcpy(buf + 16, frame, n);
        assert_int_equal(cmp_pvm_frame_lead(c, buf, n + 16, 16, now), 0);
        assert_int_equal(released, kind);
        if (kind == 0)
            n = tcp4(SISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false);
        else if (kind == 1)
            n = tcp4(SISN + 1, CISN + 1, TCP_ACK, "lead me", false);
        S(n);                                           /* the SVM's, without one */
        assert_int_equal(released, kind + 1);
        assert_int_equal(last_len, n + 16);
        assert_memory_equal(last, buf, 16);             /* released with its lead */
    }
    /* the lead does not hide a divergence behind it */
    n = tcp4(PISN + 8, CISN + 1, TCP_ACK, "AAAA", false);
    memset(buf, 0, 16);
    memcpy(buf + 16, frame, n);
    assert_int_equal(cmp_pvm_frame_lead(c, buf, n + 16, 16, now), 0);
    S(tcp4(SISN + 8, CISN + 1, TCP_ACK, "AAAB", false));
    assert_int_equal(requests[COLO_TRIGGER_DIVERGENCE], 1);
    assert_int_equal(released, 3);
    cmp_free(c);
}

/* --- the window shown to the client ------------------------------------------- */

/* The TCP header of the frame in frame[] (IPv4). */
static uint8_t *tcph(void) { return frame + 14 + 20; }
static uint16_t win_of(const uint8_t *f) { return (uint16_t)(f[14 + 20 + 14] << 8 | f[14 + 20 + 15]); }

/* A SYN-ACK from the VM with a window-scale option (ws < 0: none), window
 * field w and a complete checksum. */
static size_t syn_ack_win(uint32_t seq, int ws, uint16_t w)
{
    size_t n = tcp4(seq, CISN + 1, TCP_SYN | TCP_ACK, NULL, false);
    uint8_t *t = tcph();

    t[14] = (uint8_t)(w >> 8), t[15] = (uint8_t)w;
    if (ws >= 0) {
        frame[14 + 3] = (uint8_t)(frame[14 + 3] + 4);   /* IPv4 total length */
        t[12] = 6 << 4;
        t[20] = 1, t[21] = 3, t[22] = 3, t[23] = (uint8_t)ws;  /* NOP, WS */
        n += 4;
    }
    assert_int_equal(pkt_fill_checksum(frame, n), 0);
    return n;
}
static size_t syn_ack(uint32_t seq, int ws) { return syn_ack_win(seq, ws, 65535); }

/* An acknowledgement with window field w and a complete checksum. */
static size_t ack_win(uint32_t seq, uint32_t ack, uint16_t w)
{
    size_t n = tcp4(seq, ack, TCP_ACK, NULL, false);

    tcph()[14] = (uint8_t)(w >> 8), tcph()[15] = (uint8_t)w;
    assert_int_equal(pkt_fill_checksum(frame, n), 0);
    return n;
}

/* Is the checksum of the last released frame right? */
static bool last_csum_ok(void)
{
    uint8_t copy[2048];

    memcpy(copy, last, last_len);
    assert_int_equal(pkt_fill_checksum(copy, last_len), 0);
    return !memcmp(copy, last, last_len);
}

/* Released so far: n frames, the last with window w and a right checksum;
 * clamped: how many had their window lowered. */
static void released_as(struct cmp *c, int n, uint16_t w, uint64_t clamped)
{
    assert_int_equal(released, n);
    assert_int_equal(win_of((uint8_t *)last), w);
    assert_true(last_csum_ok());
    assert_int_equal(cmp_stats(c)->window_clamped, clamped);
}

static void test_window_clamped_to_svm(void **state)
{
    struct cmp *c = make_clamping(true);

    (void)state;
    /* The SYN-ACKs' windows are never scaled: the client's first flight
     * must fit the SVM's first window, 7240 bytes, not the PVM's 64240. */
    P(syn_ack_win(PISN, 7, 64240));                     /* the PVM scales by 128 */
    S(syn_ack_win(SISN, 2, 7240));                      /* the SVM by 4 */
    released_as(c, 1, 7240, 1);
    /* The SVM can take 8000 bytes past CISN+101; the PVM offers 1000 * 128. */
    S(ack_win(SISN + 1, CISN + 101, 2000));
    P(ack_win(PISN + 1, CISN + 101, 1000));
    released_as(c, 2, 8000 >> 7, 2);
    /* The SVM's edge moves on, to CISN+101 + 65535 * 4. */
    S(ack_win(SISN + 1, CISN + 101, 65535));
    P(ack_win(PISN + 1, CISN + 101, 4000));
    assert_int_equal(win_of((uint8_t *)last), 65535 * 4 >> 7);
    P(ack_win(PISN + 1, CISN + 101, 2));                /* the PVM's own is the lesser */
    released_as(c, 4, 2, 3);
    /* An older SVM acknowledgement does not pull the edge back. */
    S(ack_win(SISN + 1, CISN + 51, 1));
    P(ack_win(PISN + 1, CISN + 101, 4000));
    assert_int_equal(win_of((uint8_t *)last), 65535 * 4 >> 7);
    /* Held past a checkpoint, a frame goes out as the PVM sent it (the SVM
     * has the PVM's state then), and the SVM's windows are then read at
     * the PVM's scale. */
    P(ack_win(PISN + 1, CISN + 901, 3000));
    assert_int_equal(released, 5);
    cmp_checkpoint_done(c);
    assert_int_equal(released, 6);
    assert_int_equal(win_of((uint8_t *)last), 3000);
    S(ack_win(PISN + 1, CISN + 901, 10));               /* 10 * 128 past CISN+901 */
    P(ack_win(PISN + 1, CISN + 901, 3000));
    assert_int_equal(released, 7);
    assert_int_equal(win_of((uint8_t *)last), 10);
    cmp_free(c);
}

static void test_window_left_alone(void **state)
{
    struct cmp *c = make_clamping(false);

    (void)state;
    /* Off (QEMU's chardevs): the PVM's window goes out unchanged. */
    P(syn_ack(PISN, 7));
    S(syn_ack(SISN, 2));
    S(ack_win(SISN + 1, CISN + 101, 1));
    P(ack_win(PISN + 1, CISN + 101, 1000));
    assert_int_equal(released, 2);
    assert_int_equal(win_of((uint8_t *)last), 1000);
    cmp_free(c);
    /* On, but the PVM's SYN-ACK never seen (the VM opened the connection, or the
     * proxy started mid-stream): its scale is unknown, its window left alone. */
    c = make_clamping(true);
    S(ack_win(SISN + 1, CISN + 101, 1));
    P(ack_win(PISN + 1, CISN + 101, 1000));
    assert_int_equal(released, 1);
    assert_int_equal(win_of((uint8_t *)last), 1000);
    assert_int_equal(cmp_stats(c)->window_clamped, 0);
    cmp_free(c);
    /* No option on either SYN-ACK: no scaling, the fields compare as they are. */
    c = make_clamping(true);
    P(syn_ack(PISN, -1));
    S(syn_ack_win(SISN, -1, 400));
    S(ack_win(SISN + 1, CISN + 101, 500));
    P(ack_win(PISN + 1, CISN + 101, 9000));
    assert_int_equal(win_of((uint8_t *)last), 500);
    cmp_free(c);
}

/* The window-scale option is read only from well-formed option lists. */
static void test_wscale_parsing(void **state)
{
    static const struct { uint8_t o[8]; int ws; } cases[] = {
        { { 1, 3, 3, 7, 0, 0, 0, 0 }, 7 },
        { { 2, 4, 5, 0xb4, 1, 3, 3, 20 }, 14 },         /* after an MSS; capped at 14 */
        { { 0, 3, 3, 7, 0, 0, 0, 0 }, -1 },             /* after the end of the list */
        { { 8, 0, 3, 3, 7, 0, 0, 0 }, -1 },             /* a length of 0: stop */
        { { 1, 1, 1, 1, 1, 9, 3, 3 }, -1 },             /* a length past the header */
        { { 1, 1, 1, 1, 1, 1, 3, 3 }, -1 },             /* WS cut short by the header's end */
    };
    struct pkt p;
    const char *why;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = tcp4(PISN, CISN + 1, TCP_SYN | TCP_ACK, NULL, false);

        frame[14 + 3] = (uint8_t)(frame[14 + 3] + 8);
        tcph()[12] = 7 << 4;
        memcpy(tcph() + 20, cases[i].o, 8);
        assert_int_equal(pkt_parse(frame, n + 8, &p, &why), 0);
        assert_int_equal(p.wscale, cases[i].ws);
    }
    /* and not from a segment without SYN */
    tcp4(PISN, CISN + 1, TCP_ACK, NULL, false);
    assert_int_equal(pkt_parse(frame, 54, &p, &why), 0);
    assert_int_equal(p.wscale, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segmentation_and_isn_do_not_matter),
        cmocka_unit_test(test_far_ahead),
        cmocka_unit_test(test_far_ahead_damage_deep),
        cmocka_unit_test(test_reordering_and_retransmission),
        cmocka_unit_test(test_divergence_holds_until_checkpoint),
        cmocka_unit_test(test_ack_gates_release),
        cmocka_unit_test(test_fin_and_rst_must_match),
        cmocka_unit_test(test_origin_mid_stream_on_one_side),
        cmocka_unit_test(test_svm_refuses_connection),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_udp_and_other_frames),
        cmocka_unit_test(test_svm_lag_and_queue_cap),
        cmocka_unit_test(test_svm_stall),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_lead_is_carried_not_compared),
        cmocka_unit_test(test_window_clamped_to_svm),
        cmocka_unit_test(test_window_left_alone),
        cmocka_unit_test(test_wscale_parsing),
    };

    return cmocka_run_group_tests_name("compare", tests, NULL, NULL);
}
