/*
 * test-chardev-frame.c - QEMU's chardev packet framing: frames come out
 * whole and in order however the stream is split, and every defect a
 * stream can carry (zero or oversized lengths, bogus vnet header lengths)
 * stops it with a reason, without delivering anything past the defect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chardev-frame.h"

/* --- what the decoder handed out ------------------------------------------ */

#define MAXF 16

static struct got {
    uint8_t data[2048];
    uint8_t hdr[8];             /* the bytes just before data */
    size_t len;
    uint32_t vnet;
} got[MAXF];
static int ngot;
static size_t got_hs;           /* header size, to check what precedes data */

static void on_frame(void *opaque, uint8_t *data, size_t len, uint32_t vnet)
{
    (void)opaque;
    assert_true(ngot < MAXF);
    assert_true(len <= sizeof(got[0].data));
    memcpy(got[ngot].data, data, len);
    memcpy(got[ngot].hdr, data - got_hs, got_hs);
    got[ngot].len = len;
    got[ngot].vnet = vnet;
    ngot++;
}

/* --- a stream of frames ------------------------------------------------------ */

static uint8_t stream[8192];
static size_t slen;

struct fr {
    size_t len;
    uint32_t vnet;
    uint8_t fill;
};

static void put(const struct fr *f, bool vnet)
{
    slen += cf_encode_header(stream + slen, (uint32_t)f->len, vnet, f->vnet);
    for (size_t i = 0; i < f->len; i++)
        stream[slen++] = (uint8_t)(f->fill + i);
}

static void put_raw(uint32_t len, bool vnet, uint32_t vlen)      /* a header only */
{
    slen += cf_encode_header(stream + slen, len, vnet, vlen);
}

static const struct fr frames[] = {
    { 60, 0, 1 }, { 1514, 12, 7 }, { 14, 0, 9 }, { 100, 10, 200 }, { 34, 20, 3 },
};
#define NFR (sizeof(frames) / sizeof(frames[0]))

static void build(bool vnet)
{
    slen = 0;
    for (size_t i = 0; i < NFR; i++) {
        struct fr f = frames[i];

        if (!vnet)
            f.vnet = 0;
        put(&f, vnet);
    }
}

static void check_all(bool vnet)
{
    assert_int_equal(ngot, NFR);
    for (size_t i = 0; i < NFR; i++) {
        uint8_t h[8];
        size_t hs = cf_encode_header(h, (uint32_t)frames[i].len, vnet, vnet ? frames[i].vnet : 0);

        assert_int_equal(got[i].len, frames[i].len);
        assert_int_equal(got[i].vnet, vnet ? frames[i].vnet : 0);
        for (size_t j = 0; j < frames[i].len; j++)
            assert_int_equal(got[i].data[j], (uint8_t)(frames[i].fill + j));
        assert_memory_equal(got[i].hdr, h, hs);           /* the wire header precedes data */
    }
}

static struct cf_decoder dec;

static void fresh(bool vnet, uint32_t max)
{
    cf_decoder_free(&dec);
    assert_int_equal(cf_decoder_init(&dec, vnet, max), 0);
    ngot = 0;
    got_hs = vnet ? 8 : 4;
}

/* Feed stream[a, b) (a copy: the decoder may hand out frames in place). */
static int feed(size_t a, size_t b)
{
    uint8_t *tmp = malloc(b - a + 1);
    int rc;

    memcpy(tmp, stream + a, b - a);
    rc = cf_decode(&dec, tmp, b - a, on_frame, NULL);
    free(tmp);
    return rc;
}

/* --- tests ------------------------------------------------------------------- */

static void test_whole_stream(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        fresh(v, CF_MAX_FRAME);
        build(v);
        assert_int_equal(feed(0, slen), 0);
        check_all(v);
        assert_int_equal(cf_decoder_pending(&dec), 0);
    }
}

static void test_split_at_every_byte(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        build(v);
        for (size_t cut = 0; cut <= slen; cut++) {
            fresh(v, CF_MAX_FRAME);
            assert_int_equal(feed(0, cut), 0);
            assert_int_equal(feed(cut, slen), 0);
            check_all(v);
        }
        /* and one byte at a time */
        fresh(v, CF_MAX_FRAME);
        for (size_t i = 0; i < slen; i++)
            assert_int_equal(feed(i, i + 1), 0);
        check_all(v);
    }
}

static void test_random_chunks(void **state)
{
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 500; round++) {
        int v = round & 1;

        build(v);
        fresh(v, CF_MAX_FRAME);
        for (size_t i = 0; i < slen;) {
            size_t k;

            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 700;
            if (k > slen - i)
                k = slen - i;
            assert_int_equal(feed(i, i + k), 0);
            i += k;
        }
        check_all(v);
    }
}

static void test_truncated(void **state)
{
    (void)state;
    build(false);
    fresh(false, CF_MAX_FRAME);
    assert_int_equal(feed(0, 2), 0);                     /* half a length */
    assert_int_equal(ngot, 0);
    assert_int_equal(cf_decoder_pending(&dec), 2);
    assert_int_equal(feed(2, 4 + 30), 0);                /* half the first frame */
    assert_int_equal(ngot, 0);
    assert_int_equal(cf_decoder_pending(&dec), 34);
    cf_decoder_reset(&dec);                              /* the connection went away */
    assert_int_equal(cf_decoder_pending(&dec), 0);
    assert_int_equal(feed(0, slen), 0);                  /* a new one starts clean */
    check_all(false);
}

/* A defect in the header, wherever the stream is split: frames before it
 * come out, nothing after, and the reason names the defect. */
static void expect_defect(bool vnet, uint32_t max, uint32_t len, uint32_t vlen, const char *why)
{
    struct fr good = { 40, vnet ? 10 : 0, 5 };
    size_t end;

    slen = 0;
    put(&good, vnet);
    put_raw(len, vnet, vlen);
    end = slen;
    put(&good, vnet);                                    /* never reached */
    for (size_t cut = 0; cut <= end; cut++) {
        fresh(vnet, max);
        if (feed(0, cut) == 0)
            assert_int_equal(feed(cut, slen), -1);
        assert_int_equal(ngot, 1);
        assert_int_equal(got[0].len, 40);
        assert_non_null(dec.error);
        assert_non_null(strstr(dec.error, why));
        assert_int_equal(feed(0, slen), -1);             /* refused until reset */
        assert_int_equal(ngot, 1);
    }
    cf_decoder_reset(&dec);
    assert_null(dec.error);
    assert_int_equal(feed(0, end - (vnet ? 8 : 4)), 0);  /* the good frame again */
    assert_int_equal(ngot, 2);
}

static void test_zero_length(void **state)
{
    (void)state;
    expect_defect(false, CF_MAX_FRAME, 0, 0, "zero-length");
    expect_defect(true, CF_MAX_FRAME, 0, 0, "zero-length");
}

static void test_oversized_length(void **state)
{
    (void)state;
    expect_defect(false, CF_MAX_FRAME, CF_MAX_FRAME + 1, 0, "exceeds the maximum 69632");
    expect_defect(false, CF_MAX_FRAME, 0xffffffffu, 0, "frame length 4294967295");
    expect_defect(true, 1600, 1601, 0, "exceeds the maximum 1600");
    expect_defect(false, 0xffffffffu, CF_MAX_FRAME + 1, 0, "exceeds");  /* the cap holds */
}

static void test_exactly_the_maximum(void **state)
{
    struct fr big = { 1514, 0, 0 };

    (void)state;
    fresh(false, 1514);
    slen = 0;
    put(&big, false);
    assert_int_equal(feed(0, slen), 0);
    assert_int_equal(ngot, 1);
    assert_int_equal(got[0].len, 1514);
}

static void test_bogus_vnet_header_length(void **state)
{
    (void)state;
    expect_defect(true, CF_MAX_FRAME, 100, 21, "vnet header length 21 exceeds 20");
    expect_defect(true, CF_MAX_FRAME, 100, 0xffffffffu, "vnet header length 4294967295");
    expect_defect(true, CF_MAX_FRAME, 20, 10, "no room for an Ethernet header");
    expect_defect(true, CF_MAX_FRAME, 13, 0, "no room for an Ethernet header");
}

static void test_header_encoding(void **state)
{
    uint8_t h[8];

    (void)state;
    assert_int_equal(cf_encode_header(h, 0x01020304, false, 99), 4);
    assert_memory_equal(h, "\x01\x02\x03\x04", 4);
    assert_int_equal(cf_encode_header(h, 1514, true, 12), 8);
    assert_memory_equal(h, "\x00\x00\x05\xea\x00\x00\x00\x0c", 8);
}

static int teardown(void **state)
{
    (void)state;
    cf_decoder_free(&dec);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_random_chunks),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_oversized_length),
        cmocka_unit_test(test_exactly_the_maximum),
        cmocka_unit_test(test_bogus_vnet_header_length),
        cmocka_unit_test(test_header_encoding),
    };

    return cmocka_run_group_tests(tests, NULL, teardown);
}
