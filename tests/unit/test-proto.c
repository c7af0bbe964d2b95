/*
 * test-proto.c - every record codec, round trip and malformed input.
 *
 * Decoders are run on heap buffers of exactly the given length, so under
 * the ASan build any read past the input is caught, not just wrong results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "colo-proto.h"

/* Decode buf[0..total) as one record (header + body) from an exact-size copy. */
static int decode_exact(const uint8_t *buf, size_t total, struct colo_rec *r, const char **why)
{
    uint32_t type, len;
    uint8_t *body;
    int rc;

    assert_true(total >= COLO_REC_HDR_SIZE);
    if (colo_rec_parse_hdr(buf, &type, &len, why) < 0)
        return -1;
    assert_int_equal(len, total - COLO_REC_HDR_SIZE);
    body = malloc(len ? len : 1);
    memcpy(body, buf + COLO_REC_HDR_SIZE, len);
    rc = colo_rec_decode(type, body, len, r, why);
    /* Pointers in r point into body: tests that need them copy first. */
    free(body);
    return rc;
}

static void test_hello_roundtrip(void **state)
{
    uint8_t buf[256];
    struct colo_hello h = { .version = COLO_PROTO_VERSION, .role = COLO_ROLE_PRIMARY,
                            .caps = COLO_CAP_ALL, .nr_pages = 12345, .page_size = 4096 };
    struct colo_rec r;
    const char *why = NULL;
    size_t n;

    (void)state;
    strcpy(h.domain, "guest-one");
    n = colo_enc_hello(buf, sizeof(buf), &h);
    assert_int_not_equal(n, 0);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.type, COLO_REC_HELLO);
    assert_int_equal(r.u.hello.version, COLO_PROTO_VERSION);
    assert_int_equal(r.u.hello.role, COLO_ROLE_PRIMARY);
    assert_int_equal(r.u.hello.caps, COLO_CAP_ALL);
    assert_int_equal(r.u.hello.nr_pages, 12345);
    assert_string_equal(r.u.hello.domain, "guest-one");
    /* A 63+ character name is cut, and still NUL-terminated on the wire. */
    memset(h.domain, 'x', sizeof(h.domain));
    n = colo_enc_hello(buf, sizeof(buf), &h);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(strlen(r.u.hello.domain), 63);
    /* Too small a buffer: nothing encoded. */
    assert_int_equal(colo_enc_hello(buf, 20, &h), 0);
}

static void test_hello_bad_fields(void **state)
{
    uint8_t buf[256];
    struct colo_hello h = { .version = 1, .role = COLO_ROLE_SECONDARY, .page_size = 4096 };
    struct colo_rec r;
    const char *why = NULL;
    size_t n;

    (void)state;
    n = colo_enc_hello(buf, sizeof(buf), &h);
    buf[8] ^= 1;                                    /* magic */
    assert_int_equal(decode_exact(buf, n, &r, &why), -1);
    assert_non_null(strstr(why, "magic"));
    n = colo_enc_hello(buf, sizeof(buf), &h);
    buf[8 + 12] = 9;                                /* role */
    assert_int_equal(decode_exact(buf, n, &r, &why), -1);
    assert_non_null(strstr(why, "role"));
    n = colo_enc_hello(buf, sizeof(buf), &h);
    buf[8 + 32] = 0;
    buf[8 + 33] = 0x20;                             /* page size 8192 */
    assert_int_equal(decode_exact(buf, n, &r, &why), -1);
    assert_non_null(strstr(why, "page size"));
    n = colo_enc_hello(buf, sizeof(buf), &h);
    memset(buf + 8 + 40, 'a', 64);                  /* no NUL in the name */
    assert_int_equal(decode_exact(buf, n, &r, &why), -1);
    assert_non_null(strstr(why, "NUL"));
    n = colo_enc_hello(buf, sizeof(buf), &h);
    buf[8 + 24 + 7] = 0xff;                         /* absurd nr_pages */
    assert_int_equal(decode_exact(buf, n, &r, &why), -1);
}

static void test_fixed_records_roundtrip(void **state)
{
    uint8_t buf[64];
    struct colo_rec r;
    const char *why;
    struct colo_checkpoint_end e = { .seq = 7, .nr_pages = 99, .dev_len = 12 };
    size_t n;

    (void)state;
    n = colo_enc_seq(buf, sizeof(buf), COLO_REC_CHECKPOINT_NEW, 0x1122334455667788ull);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.seq.seq, 0x1122334455667788ull);
    n = colo_enc_svm_suspended(buf, sizeof(buf), 3, 4096);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.suspended.seq, 3);
    assert_int_equal(r.u.suspended.nr_dirty, 4096);
    n = colo_enc_checkpoint_end(buf, sizeof(buf), &e);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.end.seq, 7);
    assert_int_equal(r.u.end.nr_pages, 99);
    assert_int_equal(r.u.end.dev_len, 12);
    n = colo_enc_initial_done(buf, sizeof(buf), 65536);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.initial.nr_pages, 65536);
    n = colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_BARRIER, 5, 17);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.disk.epoch, 5);
    assert_int_equal(r.u.disk.writes, 17);
    n = colo_enc_heartbeat(buf, sizeof(buf), 8, 123456789);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.hb.time_ns, 123456789);
    n = colo_enc_failover(buf, sizeof(buf), COLO_FAILOVER_PEER_LOST);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.failover.reason, COLO_FAILOVER_PEER_LOST);
    n = colo_enc_ckpt_request(buf, sizeof(buf), COLO_TRIGGER_DIVERGENCE);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.request.cause, COLO_TRIGGER_DIVERGENCE);
    n = colo_enc_empty(buf, sizeof(buf), COLO_REC_STATUS_REQUEST);
    assert_int_equal(n, COLO_REC_HDR_SIZE);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    n = colo_enc_empty(buf, sizeof(buf), COLO_REC_CHECKPOINT_SUBSCRIBE);
    assert_int_equal(n, COLO_REC_HDR_SIZE);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.type, COLO_REC_CHECKPOINT_SUBSCRIBE);
}

static void test_fixed_records_wrong_length(void **state)
{
    /* Every fixed-size type with its body one byte short and one long. */
    static const uint32_t types[] = {
        COLO_REC_HELLO, COLO_REC_INITIAL_DONE, COLO_REC_CHECKPOINT_NEW, COLO_REC_SVM_SUSPENDED,
        COLO_REC_CHECKPOINT_END, COLO_REC_SVM_READY, COLO_REC_SVM_RESUMED, COLO_REC_DISK_BARRIER,
        COLO_REC_DISK_COMMIT, COLO_REC_HEARTBEAT, COLO_REC_FAILOVER, COLO_REC_CHECKPOINT_REQUEST,
        COLO_REC_CHECKPOINT_DONE, COLO_REC_STATUS_REQUEST, COLO_REC_DISK_ACK,
        COLO_REC_CHECKPOINT_SUBSCRIBE,
    };
    static const uint32_t lens[] = { 104, 8, 8, 16, 24, 8, 8, 16, 16, 16, 4, 4, 8, 0, 16, 0 };
    struct colo_rec r;
    const char *why;

    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        uint8_t *body = calloc(1, lens[i] + 1);

        if (lens[i] > 0)
            assert_int_equal(colo_rec_decode(types[i], body, lens[i] - 1, &r, &why), -1);
        assert_int_equal(colo_rec_decode(types[i], body, lens[i] + 1, &r, &why), -1);
        assert_non_null(why);
        free(body);
    }
}

static void test_unknown_and_oversized(void **state)
{
    uint8_t hdr[8], body[4] = { 0 };
    uint32_t type, len;
    struct colo_rec r;
    const char *why = NULL;

    (void)state;
    assert_int_equal(colo_rec_decode(0x7777, body, 0, &r, &why), -1);
    assert_non_null(strstr(why, "unknown"));
    colo_enc_hdr(hdr, sizeof(hdr), COLO_REC_MEMORY_PAGES, COLO_REC_MAX_BODY + 1);
    assert_int_equal(colo_rec_parse_hdr(hdr, &type, &len, &why), -1);
    assert_non_null(strstr(why, "longer"));
    colo_enc_hdr(hdr, sizeof(hdr), COLO_REC_MEMORY_PAGES, COLO_REC_MAX_BODY);
    assert_int_equal(colo_rec_parse_hdr(hdr, &type, &len, &why), 0);
    assert_int_equal(len, COLO_REC_MAX_BODY);
    assert_string_equal(colo_rec_name(0x7777), "UNKNOWN");
    assert_string_equal(colo_rec_name(COLO_REC_SVM_READY), "CHECKPOINT_SVM_READY");
}

static void test_bad_enum_values(void **state)
{
    uint8_t body[4] = { 0 };
    struct colo_rec r;
    const char *why;

    (void)state;
    body[0] = 99;
    assert_int_equal(colo_rec_decode(COLO_REC_FAILOVER, body, 4, &r, &why), -1);
    body[0] = COLO_TRIGGER__MAX;
    assert_int_equal(colo_rec_decode(COLO_REC_CHECKPOINT_REQUEST, body, 4, &r, &why), -1);
    body[0] = COLO_TRIGGER_INITIAL;     /* only the engine may cause that */
    assert_int_equal(colo_rec_decode(COLO_REC_CHECKPOINT_REQUEST, body, 4, &r, &why), -1);
    body[0] = COLO_TRIGGER_QUEUE_FULL;
    assert_int_equal(colo_rec_decode(COLO_REC_CHECKPOINT_REQUEST, body, 4, &r, &why), 0);
}

/* Build a MEMORY_PAGES record of n pages with the given pfns. */
static uint8_t *make_pages(const uint64_t *pfns, uint32_t n, size_t *total)
{
    size_t prefix = COLO_REC_HDR_SIZE + 8 + 8 * (size_t)n;
    uint8_t *buf = malloc(prefix + (size_t)n * COLO_PAGE_SIZE);

    assert_int_equal(colo_enc_pages_prefix(buf, prefix, pfns, n), prefix);
    for (uint32_t i = 0; i < n; i++)
        memset(buf + prefix + (size_t)i * COLO_PAGE_SIZE, (int)(pfns[i] & 0xff), COLO_PAGE_SIZE);
    *total = prefix + (size_t)n * COLO_PAGE_SIZE;
    return buf;
}

static void test_pages_roundtrip(void **state)
{
    uint64_t pfns[3] = { 1, 7, 0x123456789ull };
    size_t total;
    uint8_t *buf = make_pages(pfns, 3, &total);
    struct colo_rec r;
    const char *why;
    uint32_t type, len;

    (void)state;
    assert_int_equal(colo_rec_parse_hdr(buf, &type, &len, &why), 0);
    assert_int_equal(colo_rec_decode(type, buf + 8, len, &r, &why), 0);
    assert_int_equal(r.u.pages.count, 3);
    assert_int_equal(colo_pfn_at(r.u.pages.pfns, 2), 0x123456789ull);
    assert_int_equal(r.u.pages.data[COLO_PAGE_SIZE], 7);
    assert_int_equal(r.u.pages.data[2 * COLO_PAGE_SIZE + 5], 0x89);
    /* Every truncation of the body is refused. */
    for (uint32_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 997))
        assert_int_equal(colo_rec_decode(type, buf + 8, cut, &r, &why), -1);
    free(buf);
}

static void test_pages_malformed(void **state)
{
    uint64_t asc[2] = { 4, 9 }, dup[2] = { 4, 4 }, desc[2] = { 9, 4 };
    size_t total;
    uint8_t *buf;
    struct colo_rec r;
    const char *why = NULL;

    (void)state;
    buf = make_pages(dup, 2, &total);
    assert_int_equal(decode_exact(buf, total, &r, &why), -1);
    assert_non_null(strstr(why, "ascending"));
    free(buf);
    buf = make_pages(desc, 2, &total);
    assert_int_equal(decode_exact(buf, total, &r, &why), -1);
    free(buf);
    buf = make_pages(asc, 2, &total);
    buf[8] = 3;                                     /* count says 3, data for 2 */
    assert_int_equal(colo_rec_decode(COLO_REC_MEMORY_PAGES, buf + 8, (uint32_t)(total - 8), &r, &why), -1);
    buf[8] = 0;                                     /* count 0 */
    assert_int_equal(colo_rec_decode(COLO_REC_MEMORY_PAGES, buf + 8, (uint32_t)(total - 8), &r, &why), -1);
    buf[8] = 2;
    buf[12] = 1;                                    /* reserved */
    assert_int_equal(colo_rec_decode(COLO_REC_MEMORY_PAGES, buf + 8, (uint32_t)(total - 8), &r, &why), -1);
    free(buf);
    /* A count above the batch limit, with a length that would match it. */
    {
        uint8_t body[8] = { 0 };
        uint32_t big = COLO_MAX_PAGE_BATCH + 1;

        memcpy(body, &big, 4);  /* little-endian host: matches the wire */
        assert_int_equal(colo_rec_decode(COLO_REC_MEMORY_PAGES, body, 8, &r, &why), -1);
        assert_int_equal(colo_rec_decode(COLO_REC_MEMORY_PAGES, body, 7, &r, &why), -1);
    }
    /* The encoder refuses 0 and too many pages. */
    {
        uint8_t small[64];

        assert_int_equal(colo_enc_pages_prefix(small, sizeof(small), asc, 0), 0);
        assert_int_equal(colo_enc_pages_prefix(small, sizeof(small), asc, COLO_MAX_PAGE_BATCH + 1), 0);
    }
}

static void test_pfn_list(void **state)
{
    uint64_t pfns[4] = { 0, 5, 3, 1ull << 40 };
    uint8_t buf[8 + 8 + 32], big[8];
    struct colo_rec r;
    const char *why;
    size_t n;

    (void)state;
    n = colo_enc_pfn_list(buf, sizeof(buf), pfns, 4);
    assert_int_equal(n, sizeof(buf));
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.pfns.count, 4);
    /* decode in place to look at the pfns (decode_exact frees its copy) */
    assert_int_equal(colo_rec_decode(COLO_REC_DIRTY_PFNS, buf + 8, (uint32_t)(n - 8), &r, &why), 0);
    assert_int_equal(colo_pfn_at(r.u.pfns.pfns, 3), 1ull << 40);
    /* The prefix encoder writes the same header and count. */
    assert_int_equal(colo_enc_pfn_list_prefix(big, sizeof(big), 4), 0);  /* too small */
    {
        uint8_t pre[16];

        assert_int_equal(colo_enc_pfn_list_prefix(pre, sizeof(pre), 4), 16);
        assert_memory_equal(pre, buf, 16);
    }
    /* Length that disagrees with the count. */
    assert_int_equal(colo_rec_decode(COLO_REC_DIRTY_PFNS, buf + 8, (uint32_t)(n - 8 - 1), &r, &why), -1);
    buf[8] = 5;
    assert_int_equal(colo_rec_decode(COLO_REC_DIRTY_PFNS, buf + 8, (uint32_t)(n - 8), &r, &why), -1);
    /* An empty list is valid (nothing dirty). */
    n = colo_enc_pfn_list(buf, sizeof(buf), pfns, 0);
    assert_int_equal(decode_exact(buf, n, &r, &why), 0);
    assert_int_equal(r.u.pfns.count, 0);
}

static void test_error_and_blobs(void **state)
{
    uint8_t buf[64];
    struct colo_rec r;
    const char *why;
    size_t n = colo_enc_error_prefix(buf, sizeof(buf), 71, 5);

    (void)state;
    memcpy(buf + n, "oops!", 5);
    assert_int_equal(colo_rec_decode(COLO_REC_ERROR, buf + 8, 9, &r, &why), 0);
    assert_int_equal(r.u.error.code, 71);
    assert_int_equal(r.u.error.text.len, 5);
    assert_memory_equal(r.u.error.text.data, "oops!", 5);
    assert_int_equal(colo_rec_decode(COLO_REC_ERROR, buf + 8, 3, &r, &why), -1);
    assert_int_equal(colo_rec_decode(COLO_REC_DEVICE_STATE, buf, 0, &r, &why), 0);
    assert_int_equal(colo_rec_decode(COLO_REC_STATUS, buf, 10, &r, &why), 0);
    assert_int_equal(r.u.blob.len, 10);
}

static void test_disk_write(void **state)
{
    size_t total = 32 + 1024;
    uint8_t *buf = calloc(1, total);
    struct colo_rec r;
    const char *why = NULL;

    (void)state;
    assert_int_equal(colo_enc_disk_write_prefix(buf, 32, 9, 4096, 1024, COLO_DISK_FUA), 32);
    memset(buf + 32, 0x5c, 1024);
    assert_int_equal(colo_rec_decode(COLO_REC_DISK_WRITE, buf + 8, (uint32_t)(total - 8), &r, &why), 0);
    assert_int_equal(r.u.dwrite.epoch, 9);
    assert_int_equal(r.u.dwrite.offset, 4096);
    assert_int_equal(r.u.dwrite.len, 1024);
    assert_int_equal(r.u.dwrite.flags, COLO_DISK_FUA);
    assert_int_equal(r.u.dwrite.data[1023], 0x5c);
    /* data shorter than announced */
    assert_int_equal(colo_rec_decode(COLO_REC_DISK_WRITE, buf + 8, (uint32_t)(total - 9), &r, &why), -1);
    assert_int_equal(colo_rec_decode(COLO_REC_DISK_WRITE, buf + 8, 20, &r, &why), -1);
    /* misaligned offset, unknown flag, odd length */
    colo_enc_disk_write_prefix(buf, 32, 9, 4097, 1024, 0);
    assert_int_equal(colo_rec_decode(COLO_REC_DISK_WRITE, buf + 8, (uint32_t)(total - 8), &r, &why), -1);
    assert_non_null(strstr(why, "multiple of 512"));
    colo_enc_disk_write_prefix(buf, 32, 9, 4096, 1024, 0x80);
    assert_int_equal(colo_rec_decode(COLO_REC_DISK_WRITE, buf + 8, (uint32_t)(total - 8), &r, &why), -1);
    colo_enc_disk_write_prefix(buf, 32, 9, 4096, 1000, 0);
    assert_int_equal(colo_rec_decode(COLO_REC_DISK_WRITE, buf + 8, 24 + 1000, &r, &why), -1);
    /* the encoder refuses writes over 4 MiB */
    assert_int_equal(colo_enc_disk_write_prefix(buf, 32, 0, 0, COLO_MAX_DISK_WRITE + 512, 0), 0);
    free(buf);
}

/* Random bodies for every type: decoders may refuse, never misbehave. */
static void test_random_garbage(void **state)
{
    uint64_t x = 0x243f6a8885a308d3ull;

    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        uint32_t len, type;
        uint8_t *body;
        struct colo_rec r;
        const char *why;

        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        len = (uint32_t)(x % 300);
        type = (uint32_t)((x >> 20) % 0x60);
        body = malloc(len ? len : 1);
        for (uint32_t i = 0; i < len; i++)
            body[i] = (uint8_t)(x >> (i % 56));
        if (colo_rec_decode(type, body, len, &r, &why) < 0)
            assert_non_null(why);
        free(body);
    }
}

static void test_trigger_names(void **state)
{
    (void)state;
    for (int t = 0; t < COLO_TRIGGER__MAX; t++)
        assert_int_equal(colo_trigger_from_name(colo_trigger_name((enum colo_trigger)t)), t);
    assert_int_equal(colo_trigger_from_name("bogus"), -1);
    assert_string_equal(colo_trigger_name((enum colo_trigger)77), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_roundtrip),
        cmocka_unit_test(test_hello_bad_fields),
        cmocka_unit_test(test_fixed_records_roundtrip),
        cmocka_unit_test(test_fixed_records_wrong_length),
        cmocka_unit_test(test_unknown_and_oversized),
        cmocka_unit_test(test_bad_enum_values),
        cmocka_unit_test(test_pages_roundtrip),
        cmocka_unit_test(test_pages_malformed),
        cmocka_unit_test(test_pfn_list),
        cmocka_unit_test(test_error_and_blobs),
        cmocka_unit_test(test_disk_write),
        cmocka_unit_test(test_random_garbage),
        cmocka_unit_test(test_trigger_names),
    };

    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
