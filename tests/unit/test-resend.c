/*
 * test-resend.c - the secondary's repair of the client's bytes the SVM did
 * not take (resend.h): held until acknowledged, sent again when the SVM's
 * window opens over them, on duplicate ACKs and after silence, refreshed
 * (acknowledgement, timestamp, checksum) as the client's retransmission
 * would be; bounded memory; let go at a checkpoint, on FIN and RST.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "packet.h"
#include "resend.h"
#include "rewrite.h"

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04
#define MS 1000000ull

struct frame {
    uint8_t b[1600];
    size_t len;
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/*
 * An IPv4 TCP frame between the VM (10.0.0.2:80) and a client
 * (10.0.0.9:50000), with a timestamp option when tsval is not 0 and a
 * window-scale option when wscale >= 0; data_len bytes of payload.
 */
static struct frame tcp(bool from_vm, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                        size_t data_len, uint32_t tsval, int wscale)
{
    struct frame fr = { 0 };
    uint8_t *f = fr.b, *ip = f + 14, *t = f + 34, *o = t + 20;
    size_t olen = 0, tl;
    uint64_t s = 0;

    f[12] = 0x08;
    if (tsval) {
        o[olen++] = 1, o[olen++] = 1, o[olen++] = 8, o[olen++] = 10;
        wr32(o + olen, tsval), wr32(o + olen + 4, 5);
        olen += 8;
    }
    if (wscale >= 0)
        o[olen++] = 1, o[olen++] = 3, o[olen++] = 3, o[olen++] = (uint8_t)wscale;
    tl = 20 + olen + data_len;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + tl) >> 8), ip[3] = (uint8_t)(20 + tl);
    ip[8] = 64, ip[9] = 6;
    ip[12] = 10, ip[15] = from_vm ? 2 : 9;
    ip[16] = 10, ip[19] = from_vm ? 9 : 2;
    t[0] = from_vm ? 0 : 0xc3, t[1] = from_vm ? 80 : 0x50;
    t[2] = from_vm ? 0xc3 : 0, t[3] = from_vm ? 0x50 : 80;
    wr32(t + 4, seq), wr32(t + 8, ack);
    t[12] = (uint8_t)((20 + olen) / 4 << 4);
    t[13] = flags;
    t[14] = (uint8_t)(win >> 8), t[15] = (uint8_t)win;
    for (size_t i = 0; i < data_len; i++)
        t[20 + olen + i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < 8; i += 2)
        s += (uint64_t)(ip[12 + i] << 8 | ip[13 + i]);
    s += 6 + tl;
    for (size_t i = 0; i < tl; i += 2)
        s += (uint64_t)(t[i] << 8 | (i + 1 < tl ? t[i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = ~s & 0xffff;
    t[16] = (uint8_t)(s >> 8), t[17] = (uint8_t)s;
    fr.len = 34 + tl;
    return fr;
}

enum { CISN = 1000, SISN = 5000 };

/* What the repair sent to the SVM. */
static struct frame sent[256];
static int nsent;

static void capture(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    assert_true(nsent < 256 && len <= sizeof(sent[0].b));
    memcpy(sent[nsent].b, frame, len);
    sent[nsent++].len = len;
}

static void client(struct resend *r, struct frame fr, uint64_t now)
{
    rs_client(r, fr.b, fr.len, now);
}

static void svm(struct resend *r, struct frame fr, uint64_t now)
{
    rs_svm(r, fr.b, fr.len, now, capture, NULL);
}

/* The SVM acknowledging (no data of its own), and client data. */
static void svm_ack(struct resend *r, uint32_t ack, uint16_t win, uint64_t now)
{
    svm(r, tcp(true, SISN + 1, ack, ACK, win, 0, 901, -1), now);
}

static void client_data(struct resend *r, uint32_t seq, size_t len, uint64_t now)
{
    client(r, tcp(false, seq, SISN + 1, ACK, 500, len, 102, -1), now);
}

static struct rs_stats stats(const struct resend *r)
{
    struct rs_stats st;

    rs_stats(r, &st);
    return st;
}

/* The handshake as the secondary sees it: the client's SYN (scale 7), the
 * SVM's SYN-ACK (scale 7, window syn_win, not scaled), the client's ACK. */
static struct resend *connected_win(size_t max_bytes, uint16_t syn_win)
{
    struct resend *r = rs_new(max_bytes);

    assert_non_null(r);
    nsent = 0;
    client(r, tcp(false, CISN, 0, SYN, 64000, 0, 100, 7), 0);
    svm(r, tcp(true, SISN, CISN + 1, SYN | ACK, syn_win, 0, 900, 7), 0);
    client(r, tcp(false, CISN + 1, SISN + 1, ACK, 500, 0, 101, -1), 0);
    assert_int_equal(stats(r).conns, 1);
    assert_int_equal(stats(r).held_frames, 0);
    return r;
}

static struct resend *connected(size_t max_bytes)
{
    return connected_win(max_bytes, 64000);
}

static void test_held_until_acknowledged(void **state)
{
    struct resend *r = connected(RS_DEFAULT_MAX_BYTES);

    (void)state;
    for (int i = 0; i < 3; i++)
        client_data(r, CISN + 1 + 1000u * (uint32_t)i, 1000, MS);
    assert_int_equal(stats(r).held_frames, 3);
    /* An acknowledgement inside the second segment lets the first go. */
    svm_ack(r, CISN + 1501, 500, 2 * MS);
    assert_int_equal(stats(r).held_frames, 2);
    svm(r, tcp(true, SISN + 1, CISN + 3001, ACK, 500, 0, 902, -1), 3 * MS);
    assert_int_equal(stats(r).held_frames, 0);
    assert_int_equal(stats(r).held_bytes, 0);
    assert_int_equal(nsent, 0);
    /* Already acknowledged bytes sent again by the client are not kept. */
    client(r, tcp(false, CISN + 1, SISN + 1, ACK, 500, 1000, 103, -1), 4 * MS);
    assert_int_equal(stats(r).held_frames, 0);
    assert_int_equal(rs_tick(r, 5 * MS, capture, NULL), -1);
    rs_free(r);
}

static void test_sent_when_window_opens(void **state)
{
    struct resend *r = connected_win(RS_DEFAULT_MAX_BYTES, 200);

    (void)state;
    /* The SVM offered 200 bytes in its SYN-ACK, now 2 << 7 = 256. */
    svm_ack(r, CISN + 1, 2, MS);
    client_data(r, CISN + 1, 200, MS);        /* fits */
    client_data(r, CISN + 201, 200, MS);      /* past the edge */
    client_data(r, CISN + 401, 200, MS);      /* past the edge */
    assert_int_equal(stats(r).held_frames, 3);
    /* The SVM takes the first 200 bytes, its window closed: nothing fits. */
    svm(r, tcp(true, SISN + 1, CISN + 201, ACK, 0, 0, 902, -1), 2 * MS);
    assert_int_equal(nsent, 0);
    assert_int_equal(stats(r).held_frames, 2);
    /* Its reader catches up: 3 << 7 = 384 bytes, room for one of the two. */
    svm(r, tcp(true, SISN + 1, CISN + 201, ACK, 3, 0, 903, -1), 3 * MS);
    assert_int_equal(nsent, 1);
    assert_int_equal(rd32(sent[0].b + 34 + 4), CISN + 201);
    /* Then room for both: only the one not yet sent again goes. */
    svm(r, tcp(true, SISN + 1, CISN + 201, ACK, 100, 0, 904, -1), 4 * MS);
    assert_int_equal(nsent, 2);
    assert_int_equal(rd32(sent[1].b + 34 + 4), CISN + 401);
    for (int i = 0; i < nsent; i++)
        assert_true(rw_tcp_checksum_ok(sent[i].b, sent[i].len));
    assert_int_equal(stats(r).resent, 2);
    assert_int_equal(stats(r).resent_window, 2);
    rs_free(r);
}

static void test_duplicate_acks_refreshed(void **state)
{
    struct resend *r = connected(RS_DEFAULT_MAX_BYTES);
    uint32_t ack_field, ts_field;

    (void)state;
    client_data(r, CISN + 1, 1000, MS);   /* lost at the SVM */
    client_data(r, CISN + 1001, 1000, MS);
    client_data(r, CISN + 2001, 1000, MS);
    /* The client has since acknowledged more of the VM's output, with a
     * later clock: the copy must carry both (PAWS). */
    client(r, tcp(false, CISN + 3001, SISN + 701, ACK, 500, 0, 160, -1), 2 * MS);
    svm_ack(r, CISN + 1, 500, 3 * MS);       /* duplicate 1 */
    assert_int_equal(nsent, 0);
    svm_ack(r, CISN + 1, 500, 6 * MS);       /* duplicate 2 */
    assert_int_equal(nsent, 1);
    assert_int_equal(rd32(sent[0].b + 34 + 4), CISN + 1);
    ack_field = rd32(sent[0].b + 34 + 8);
    ts_field = rd32(sent[0].b + 34 + 20 + 4);
    assert_int_equal(ack_field, SISN + 701);
    assert_int_equal(ts_field, 160);
    assert_true(rw_tcp_checksum_ok(sent[0].b, sent[0].len));
    /* More duplicates right away: not another copy within the gap. */
    svm_ack(r, CISN + 1, 500, 6 * MS);
    svm_ack(r, CISN + 1, 500, 6 * MS);
    assert_int_equal(nsent, 1);
    /* A window update with the same acknowledgement is not a duplicate. */
    svm_ack(r, CISN + 1, 600, 20 * MS);
    svm_ack(r, CISN + 1, 700, 20 * MS);
    assert_int_equal(nsent, 1);
    assert_int_equal(stats(r).resent_dupack, 1);
    rs_free(r);
}

static void test_partial_ack(void **state)
{
    struct resend *r = connected(RS_DEFAULT_MAX_BYTES);

    (void)state;
    for (uint32_t i = 0; i < 4; i++)        /* the first and the third are lost */
        client_data(r, CISN + 1 + 1000 * i, 1000, MS);
    svm_ack(r, CISN + 1, 500, MS);
    /* Out-of-order data makes the SVM's window smaller: still duplicates. */
    svm_ack(r, CISN + 1, 490, MS);
    svm_ack(r, CISN + 1, 480, MS);
    assert_int_equal(nsent, 1);
    assert_int_equal(rd32(sent[0].b + 34 + 4), CISN + 1);
    /* The copy filled the first gap: the SVM acknowledges up to the
     * second, no further - the third is sent at once, not after a timeout. */
    svm_ack(r, CISN + 2001, 500, MS);
    assert_int_equal(nsent, 2);
    assert_int_equal(rd32(sent[1].b + 34 + 4), CISN + 2001);
    /* All in: recovery over; a later single gap waits for duplicates again. */
    svm_ack(r, CISN + 4001, 500, MS);
    assert_int_equal(stats(r).held_frames, 0);
    client_data(r, CISN + 4001, 1000, 2 * MS);
    client_data(r, CISN + 5001, 1000, 2 * MS);
    svm_ack(r, CISN + 4501, 500, 3 * MS);
    assert_int_equal(nsent, 2);
    assert_int_equal(stats(r).resent_dupack, 2);
    rs_free(r);
}

static void test_silence_timer_backs_off(void **state)
{
    struct resend *r = connected(RS_DEFAULT_MAX_BYTES);
    uint64_t t0 = 10 * MS;
    int ms;

    (void)state;
    client_data(r, CISN + 1, 100, t0);
    ms = rs_tick(r, t0 + 1 * MS, capture, NULL);
    assert_in_range(ms, RS_RTO_FIRST_MS - 1, RS_RTO_FIRST_MS);
    assert_int_equal(rs_tick(r, t0 + (RS_RTO_FIRST_MS - 1) * MS, capture, NULL), 1);
    assert_int_equal(nsent, 0);
    ms = rs_tick(r, t0 + RS_RTO_FIRST_MS * MS, capture, NULL);
    assert_int_equal(nsent, 1);
    assert_int_equal(ms, 2 * RS_RTO_FIRST_MS);
    /* Doubled each time, up to the cap. */
    rs_tick(r, t0 + 3 * RS_RTO_FIRST_MS * MS - 1, capture, NULL);
    assert_int_equal(nsent, 1);
    ms = rs_tick(r, t0 + 3 * RS_RTO_FIRST_MS * MS, capture, NULL);
    assert_int_equal(nsent, 2);
    assert_int_equal(ms, 4 * RS_RTO_FIRST_MS);
    for (uint64_t t = t0 + 3 * RS_RTO_FIRST_MS * MS; nsent < 10; t += MS)
        ms = rs_tick(r, t, capture, NULL);
    assert_int_equal(ms, RS_RTO_MAX_MS);
    assert_int_equal(stats(r).resent_timer, 10);
    assert_int_equal(stats(r).resent, 10);
    /* Progress: the timer starts again from the first timeout. */
    svm_ack(r, CISN + 101, 500, 5000 * MS);
    assert_int_equal(rs_tick(r, 5001 * MS, capture, NULL), -1);
    rs_free(r);
}

static void test_bounded(void **state)
{
    struct frame a = tcp(false, CISN + 1, SISN + 1, ACK, 500, 1000, 102, -1);
    struct resend *r = connected(a.len + 10);

    (void)state;
    client(r, a, MS);
    client_data(r, CISN + 1001, 1000, MS);
    assert_int_equal(stats(r).held_frames, 1);
    assert_int_equal(stats(r).held_bytes, a.len);
    assert_int_equal(stats(r).overflow, 1);
    assert_null(rs_new(0));
    rs_free(r);
}

static void test_slots_reused_within_bound(void **state)
{
    struct resend *r = connected(8000);
    uint64_t spare;

    (void)state;
    /* Five 1054-byte frames held, then acknowledged: their slots are kept
     * only while held and kept bytes stay within the bound. */
    for (uint32_t i = 0; i < 5; i++)
        client_data(r, CISN + 1 + 1000 * i, 1000, MS);
    assert_int_equal(stats(r).held_frames, 5);
    svm_ack(r, CISN + 5001, 500, 2 * MS);
    spare = stats(r).spare_bytes;
    assert_true(spare > 0 && spare <= 8000);
    /* Taken again rather than allocated: the spare shrinks. */
    client_data(r, CISN + 5001, 1000, 3 * MS);
    assert_true(stats(r).spare_bytes < spare);
    assert_true(stats(r).spare_bytes + stats(r).held_bytes <= 8000);
    rs_free(r);
}

static void test_let_go(void **state)
{
    struct resend *r = connected(RS_DEFAULT_MAX_BYTES);

    (void)state;
    /* A checkpoint: everything, connections included. */
    client_data(r, CISN + 1, 100, MS);
    rs_clear(r);
    assert_int_equal(stats(r).held_frames, 0);
    assert_int_equal(stats(r).conns, 0);
    assert_int_equal(rs_tick(r, 100 * MS, capture, NULL), -1);
    /* A connection met after the checkpoint (no handshake seen: window
     * unknown) is still repaired; its FIN acknowledged ends it. */
    client(r, tcp(false, CISN + 101, SISN + 1, ACK | FIN, 500, 100, 110, -1), 200 * MS);
    assert_int_equal(stats(r).conns, 1);
    assert_int_equal(stats(r).held_frames, 1);
    svm_ack(r, CISN + 201, 500, 201 * MS);
    assert_int_equal(stats(r).held_frames, 1);                 /* the FIN is not in yet */
    svm_ack(r, CISN + 202, 500, 201 * MS);
    assert_int_equal(stats(r).conns, 0);
    /* A reset from either side ends one too. */
    client_data(r, CISN + 1, 100, 300 * MS);
    svm(r, tcp(true, SISN + 1, CISN + 1, RST, 0, 0, 0, -1), 301 * MS);
    assert_int_equal(stats(r).conns, 0);
    assert_int_equal(stats(r).held_frames, 0);
    client_data(r, CISN + 1, 100, 400 * MS);
    client(r, tcp(false, CISN + 101, SISN + 1, RST, 0, 0, 0, -1), 401 * MS);
    assert_int_equal(stats(r).conns, 0);
    rs_free(r);
}

static void test_bad_frames(void **state)
{
    struct resend *r = connected(RS_DEFAULT_MAX_BYTES);
    struct frame a = tcp(false, CISN + 1, SISN + 1, ACK, 500, 100, 102, -1);
    uint8_t junk[64];

    (void)state;
    memset(junk, 0xff, sizeof(junk));
    for (size_t n = 0; n < a.len; n++) {           /* every truncation */
        rs_client(r, a.b, n, MS);
        rs_svm(r, a.b, n, MS, capture, NULL);
    }
    rs_client(r, junk, sizeof(junk), MS);
    rs_svm(r, junk, sizeof(junk), MS, capture, NULL);
    assert_int_equal(stats(r).held_frames, 0);
    assert_int_equal(nsent, 0);
    rs_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_until_acknowledged),
        cmocka_unit_test(test_sent_when_window_opens),
        cmocka_unit_test(test_duplicate_acks_refreshed),
        cmocka_unit_test(test_partial_ack),
        cmocka_unit_test(test_silence_timer_backs_off),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_slots_reused_within_bound),
        cmocka_unit_test(test_let_go),
        cmocka_unit_test(test_bad_frames),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
