/*
 * test-xen-devstate.c - the xen backend's device-state TLV codec, with
 * malformed input of every kind.  Needs: libxl-colo/xen/xen-devstate.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xen/xen-devstate.h"

static uint8_t hvm[37], qemu[1000];
static const struct colo_xds_param params[] = {
    { 0, 0x0100000000000003ull }, { 12, 0xfeffc000 }, { 37, 0x8000000000000000ull | 0xfeffd000 },
};

static void encode_sample(void **blob, size_t *len)
{
    struct colo_xds_in in = {
        .hvm_ctx = hvm, .hvm_ctx_len = sizeof(hvm),
        .params = params, .nr_params = 3,
        .qemu = qemu, .qemu_len = sizeof(qemu),
    };

    for (size_t i = 0; i < sizeof(hvm); i++)
        hvm[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(qemu); i++)
        qemu[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(colo_xds_encode(&in, blob, len), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets in the sample: header 16; HVM rec hdr 16, body 37 + pad 3 -> 56;
 * params rec hdr at 64, body 48 at 72; qemu rec hdr at 120, body at 128. */
enum { OFF_HVM = 16, OFF_PARAMS = 64, OFF_QEMU = 120 };

static void expect_bad(const uint8_t *b, size_t len, const char *needle)
{
    struct colo_xds ds;
    const char *why = NULL;

    assert_int_equal(colo_xds_decode(b, len, &ds, &why), -1);
    assert_non_null(why);
    if (needle && !strstr(why, needle))
        fail_msg("reason '%s' does not mention '%s'", why, needle);
}

static void test_round_trip(void **state)
{
    void *blob;
    size_t len;
    struct colo_xds ds;
    const char *why = NULL;

    encode_sample(&blob, &len);
    assert_int_equal(len, 128 + 1000);
    assert_int_equal(colo_xds_decode(blob, len, &ds, &why), 0);
    assert_int_equal(ds.hvm_ctx_len, sizeof(hvm));
    assert_memory_equal(ds.hvm_ctx, hvm, sizeof(hvm));
    assert_int_equal(ds.qemu_len, sizeof(qemu));
    assert_memory_equal(ds.qemu, qemu, sizeof(qemu));
    assert_int_equal(ds.nr_params, 3);
    for (uint32_t i = 0; i < 3; i++) {
        struct colo_xds_param p = colo_xds_param_at(&ds, i);

        assert_int_equal(p.index, params[i].index);
        assert_true(p.value == params[i].value);
    }
    /* Out-of-range index gives zeros, not a read past the record. */
    assert_int_equal(colo_xds_param_at(&ds, 3).index, 0);
    free(blob);
}

static void test_no_params_ok(void **state)
{
    uint8_t h = 1, q = 2;
    struct colo_xds_in in = { .hvm_ctx = &h, .hvm_ctx_len = 1, .qemu = &q, .qemu_len = 1 };
    struct colo_xds ds;
    void *blob;
    size_t len;

    assert_int_equal(colo_xds_encode(&in, &blob, &len), 0);
    assert_int_equal(colo_xds_decode(blob, len, &ds, NULL), 0);
    assert_int_equal(ds.nr_params, 0);
    assert_int_equal(ds.hvm_ctx[0], 1);
    assert_int_equal(ds.qemu[0], 2);
    free(blob);
}

static void test_encode_rejects(void **state)
{
    uint8_t x = 0;
    struct colo_xds_in in = { .hvm_ctx = &x, .hvm_ctx_len = 1, .qemu = &x, .qemu_len = 1 };
    void *blob = (void *)1;
    size_t len = 1;

    in.hvm_ctx_len = 0;
    assert_int_equal(colo_xds_encode(&in, &blob, &len), -1);
    assert_null(blob);
    in.hvm_ctx_len = COLO_XDS_MAX_HVM_CONTEXT + 1;
    assert_int_equal(colo_xds_encode(&in, &blob, &len), -1);
    in.hvm_ctx_len = 1;
    in.qemu_len = 0;
    assert_int_equal(colo_xds_encode(&in, &blob, &len), -1);
    in.qemu_len = 1;
    in.nr_params = COLO_XDS_MAX_PARAMS + 1;
    in.params = params;
    assert_int_equal(colo_xds_encode(&in, &blob, &len), -1);
}

static void test_every_truncation(void **state)
{
    void *blob;
    size_t len;

    encode_sample(&blob, &len);
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan catches any read past it. */
        uint8_t *cut = malloc(n ? n : 1);

        memcpy(cut, blob, n);
        expect_bad(cut, n, NULL);
        free(cut);
    }
    expect_bad(NULL, 0, "shorter");
    free(blob);
}

static void test_header_defects(void **state)
{
    void *blob;
    size_t len;
    uint8_t *b;

    encode_sample(&blob, &len);
    b = blob;
    b[0] ^= 1;
    expect_bad(b, len, "magic");
    b[0] ^= 1;
    b[8] = 2;
    expect_bad(b, len, "version");
    b[8] = 1;
    b[10] = 2;
    expect_bad(b, len, "record count");
    b[10] = 4;
    expect_bad(b, len, "record count");
    b[10] = 3;
    b[13] = 1;
    expect_bad(b, len, "reserved");
    b[13] = 0;
    assert_int_equal(colo_xds_decode(b, len, &(struct colo_xds){0}, NULL), 0);
    free(blob);
}

static void test_record_defects(void **state)
{
    void *blob;
    size_t len;
    uint8_t *b;

    encode_sample(&blob, &len);
    b = blob;

    put32(b + OFF_HVM + 4, 0xffffffffu);        /* length past the end */
    expect_bad(b, len, "longer than the blob");
    put32(b + OFF_HVM + 4, (uint32_t)len);
    expect_bad(b, len, "longer than the blob");
    put32(b + OFF_HVM + 4, 41);                 /* overlaps the next header: bad padding */
    expect_bad(b, len, NULL);
    put32(b + OFF_HVM + 4, 0);                  /* empty HVM context */
    expect_bad(b, len, NULL);
    put32(b + OFF_HVM + 4, 37);

    b[OFF_HVM + 8 + 37] = 1;                    /* non-zero padding */
    expect_bad(b, len, "padding");
    b[OFF_HVM + 8 + 37] = 0;

    put32(b + OFF_QEMU, 9);                     /* unknown type */
    expect_bad(b, len, "unknown record type");
    put32(b + OFF_QEMU, 0);
    expect_bad(b, len, "unknown record type");
    put32(b + OFF_QEMU, COLO_XDS_HVM_CONTEXT);  /* duplicate */
    expect_bad(b, len, "duplicate");
    put32(b + OFF_QEMU, COLO_XDS_QEMU_STATE);

    put32(b + OFF_PARAMS + 4, 47);              /* not a whole number of params */
    expect_bad(b, len, NULL);
    put32(b + OFF_PARAMS + 4, 48);
    b[OFF_PARAMS + 8 + 16 + 4] = 1;             /* param reserved bits */
    expect_bad(b, len, "reserved");
    b[OFF_PARAMS + 8 + 16 + 4] = 0;

    assert_int_equal(colo_xds_decode(b, len, &(struct colo_xds){0}, NULL), 0);
    free(blob);
}

static void test_trailing_bytes(void **state)
{
    void *blob;
    size_t len;
    uint8_t *big;

    encode_sample(&blob, &len);
    big = calloc(1, len + 8);
    memcpy(big, blob, len);
    expect_bad(big, len + 8, "trailing");
    free(big);
    free(blob);
}

static void test_too_many_params(void **state)
{
    /* A hand-made blob whose params record claims 65 entries. */
    size_t plen = 65 * COLO_XDS_PARAM_SIZE;
    size_t len = 16 + 8 + 8 + 8 + plen + 8 + 8;
    uint8_t *b = calloc(1, len);

    memcpy(b, COLO_XDS_MAGIC, 8);
    b[8] = 1;
    b[10] = 3;
    put32(b + 16, COLO_XDS_HVM_CONTEXT);
    put32(b + 20, 8);
    put32(b + 32, COLO_XDS_HVM_PARAMS);
    put32(b + 36, (uint32_t)plen);
    put32(b + 40 + plen, COLO_XDS_QEMU_STATE);
    put32(b + 44 + plen, 8);
    expect_bad(b, len, "params");
    free(b);
}

/* Random corruption of a valid blob: decode may accept or refuse, never crash. */
static void test_random_flips(void **state)
{
    void *blob;
    size_t len;
    uint8_t *b;
    unsigned seed = 12345;

    encode_sample(&blob, &len);
    b = malloc(len);
    for (int round = 0; round < 20000; round++) {
        struct colo_xds ds;

        memcpy(b, blob, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            b[(seed >> 8) % 130] ^= (uint8_t)(seed >> 20);  /* mostly the framing */
        }
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 4) % 3 ? len : (seed >> 8) % (len + 1);
        if (colo_xds_decode(b, n, &ds, NULL) == 0) {
            /* Whatever was accepted lies inside the buffer. */
            assert_true(ds.hvm_ctx >= b && ds.hvm_ctx + ds.hvm_ctx_len <= b + n);
            assert_true(ds.qemu >= b && ds.qemu + ds.qemu_len <= b + n);
        }
    }
    free(b);
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_no_params_ok),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_header_defects),
        cmocka_unit_test(test_record_defects),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_too_many_params),
        cmocka_unit_test(test_random_flips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
