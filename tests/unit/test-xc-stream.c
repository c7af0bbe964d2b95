/*
 * test-xc-stream.c - the reader of libxenguest's migration stream and the
 * secondary's dirty-pfn answer (libxl-colo/xen/xc-stream.c), with
 * malformed input of every kind and streams cut at every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "colo-le.h"
#include "xen/xc-stream.h"

/* ---- building streams ---- */

struct sb {
    uint8_t *p;
    size_t len, cap;
};

static void sb_put(struct sb *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void image_header(uint8_t h[24])
{
    memset(h, 0xff, 8);
    put32be(h + 8, 0x58454e46);
    put32be(h + 12, 3);
    memset(h + 16, 0, 8);
}

static void domain_header(uint8_t h[16])
{
    colo_put32(h, 2);
    colo_put16(h + 4, 12);
    colo_put16(h + 6, 0);
    colo_put32(h + 8, 4);
    colo_put32(h + 12, 17);
}

static void sb_record(struct sb *b, uint32_t type, const void *body, uint32_t len)
{
    uint8_t h[8], zero[8] = { 0 };

    colo_put32(h, type);
    colo_put32(h + 4, len);
    sb_put(b, h, 8);
    if (len)
        sb_put(b, body, len);
    sb_put(b, zero, colo_xcs_padded(len) - len);
}

/* A PAGE_DATA body: n entries (pfn | type << 60), data for those with it,
 * each page filled with a byte derived from its pfn. */
static uint8_t *page_data(const uint64_t *ent, uint32_t n, uint32_t *len)
{
    uint32_t nd = 0;
    uint8_t *b;

    for (uint32_t i = 0; i < n; i++)
        nd += colo_xcs_type_has_data((unsigned)(ent[i] >> 60)) == 1;
    *len = 8 + 8 * n + 4096 * nd;
    b = calloc(1, *len);
    assert_non_null(b);
    colo_put32(b, n);
    for (uint32_t i = 0, d = 0; i < n; i++) {
        colo_put64(b + 8 + 8 * i, ent[i]);
        if (colo_xcs_type_has_data((unsigned)(ent[i] >> 60)) == 1)
            memset(b + 8 + 8 * n + 4096 * d++, (int)(ent[i] & 0xff) + 1, 4096);
    }
    return b;
}

/* ---- headers ---- */

static void test_image_header(void **state)
{
    uint8_t h[24];
    uint32_t v;
    const char *why = NULL;
    struct { size_t off; uint8_t val; const char *what; } bad[] = {
        { 3, 0xfe, "marker" }, { 8, 'Y', "XENF" }, { 15, 1, "version" }, { 15, 4, "version" },
        { 17, 1, "big-endian" }, { 16, 0x80, "options" }, { 20, 1, "reserved" },
    };

    (void)state;
    image_header(h);
    assert_int_equal(colo_xcs_image_header(h, &v, &why), 0);
    assert_int_equal(v, 3);
    h[15] = 2;
    assert_int_equal(colo_xcs_image_header(h, &v, &why), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        image_header(h);
        h[bad[i].off] = bad[i].val;
        why = NULL;
        assert_int_equal(colo_xcs_image_header(h, &v, &why), -1);
        assert_non_null(why);
        assert_non_null(strstr(why, bad[i].what));
    }
}

static void test_domain_header(void **state)
{
    uint8_t h[16];
    struct colo_xcs_domain d;
    const char *why = NULL;

    (void)state;
    domain_header(h);
    assert_int_equal(colo_xcs_domain_header(h, &d, &why), 0);
    assert_int_equal(d.type, COLO_XCS_DOMAIN_HVM);
    assert_int_equal(d.xen_major, 4);
    assert_int_equal(d.xen_minor, 17);
    h[0] = 3;
    assert_int_equal(colo_xcs_domain_header(h, &d, &why), -1);
    assert_non_null(strstr(why, "domain type"));
    domain_header(h);
    h[4] = 13;
    assert_int_equal(colo_xcs_domain_header(h, &d, &why), -1);
    assert_non_null(strstr(why, "page shift"));
    domain_header(h);
    h[7] = 1;
    assert_int_equal(colo_xcs_domain_header(h, &d, &why), -1);
    assert_non_null(strstr(why, "reserved"));
}

static void test_rec_header(void **state)
{
    uint8_t h[8];
    uint32_t t, l;
    const char *why = NULL;

    (void)state;
    colo_put32(h, COLO_XCS_PAGE_DATA);
    colo_put32(h + 4, 128u << 20);
    assert_int_equal(colo_xcs_rec_header(h, &t, &l, &why), 0);
    assert_int_equal(l, 128u << 20);
    colo_put32(h + 4, (128u << 20) + 1);
    assert_int_equal(colo_xcs_rec_header(h, &t, &l, &why), -1);
    assert_non_null(strstr(why, "128 MiB"));
    colo_put32(h + 4, 0xffffffffu);
    assert_int_equal(colo_xcs_rec_header(h, &t, &l, &why), -1);
    assert_int_equal(colo_xcs_padded(0), 0);
    assert_int_equal(colo_xcs_padded(1), 8);
    assert_int_equal(colo_xcs_padded(8), 8);
    assert_int_equal(colo_xcs_padded(128u << 20), 128u << 20);
}

/* ---- PAGE_DATA ---- */

static void test_page_data_good(void **state)
{
    const uint64_t ent[] = {
        0x10, 0x11 | 0xfull << 60, 0x12 | 0xdull << 60, 0x13 | 0xeull << 60, 0x14 | 0x9ull << 60,
        0x0fffffffffffffull,
    };
    struct colo_xcs_pages p;
    const char *why = NULL;
    uint32_t len;
    uint8_t *b = page_data(ent, 6, &len);

    (void)state;
    assert_int_equal(colo_xcs_page_data(b, len, 1ull << 52, &p, &why), 0);
    assert_int_equal(p.count, 6);
    assert_int_equal(p.nr_data, 3);
    assert_ptr_equal(p.entries, b + 8);
    assert_ptr_equal(p.data, b + 8 + 48);
    assert_int_equal(colo_xcs_entry_pfn(colo_xcs_entry(&p, 1)), 0x11);
    assert_int_equal(colo_xcs_entry_type(colo_xcs_entry(&p, 1)), COLO_XCS_PAGE_XTAB);
    assert_int_equal(p.data[0], 0x11);          /* pfn 0x10's page */
    assert_int_equal(p.data[4096], 0x15);       /* pfn 0x14's (pinned L1) */
    assert_int_equal(p.data[8192 + 4095], 0x00); /* 0xff + 1 wrapped */
    /* the limit: the highest pfn must be below it */
    assert_int_equal(colo_xcs_page_data(b, len, 0x0fffffffffffffull, &p, &why), -1);
    assert_non_null(strstr(why, "beyond"));
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_PAGE_DATA, b, len, b + len, &why), 0);
    free(b);
}

static void test_page_data_bad(void **state)
{
    uint64_t ent[] = { 0x20, 0x21 };
    struct colo_xcs_pages p;
    const char *why = NULL;
    uint32_t len;
    uint8_t *b = page_data(ent, 2, &len);

    (void)state;
    assert_int_equal(colo_xcs_page_data(b, 7, 100, &p, &why), -1);
    assert_non_null(strstr(why, "header"));
    /* count larger than what follows */
    assert_int_equal(colo_xcs_page_data(b, 8 + 8, 100, &p, &why), -1);
    assert_non_null(strstr(why, "page list"));
    /* a page short, a byte short, a byte over */
    assert_int_equal(colo_xcs_page_data(b, len - 4096, 100, &p, &why), -1);
    assert_non_null(strstr(why, "length"));
    assert_int_equal(colo_xcs_page_data(b, len - 1, 100, &p, &why), -1);
    colo_put32(b, 0);
    assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), -1);
    assert_non_null(strstr(why, "no pages"));
    colo_put32(b, 2);
    colo_put32(b + 4, 1);
    assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), -1);
    assert_non_null(strstr(why, "reserved field"));
    colo_put32(b + 4, 0);
    for (unsigned t = 5; t <= 8; t++) {        /* types Xen does not define */
        colo_put64(b + 16, 0x21 | (uint64_t)t << 60);
        assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), -1);
        assert_non_null(strstr(why, "unknown page type"));
    }
    colo_put64(b + 16, 0x21 | 1ull << 55);
    assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), -1);
    assert_non_null(strstr(why, "reserved bits"));
    colo_put64(b + 16, 0x21);
    assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), 0);
    /* a data page turned into a hole: the length no longer matches */
    colo_put64(b + 16, 0x21 | 0xfull << 60);
    assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), -1);
    assert_non_null(strstr(why, "length"));
    /* a count so large that 8 * count would overflow 32 bits */
    colo_put32(b, 0x20000001u);
    assert_int_equal(colo_xcs_page_data(b, len, 100, &p, &why), -1);
    free(b);
}

/* ---- the other records ---- */

static void test_rec_check(void **state)
{
    uint8_t body[64] = { 0 }, pad[8] = { 0 }, nz[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    const char *why = NULL;
    uint32_t empty[] = { COLO_XCS_END, COLO_XCS_VERIFY, COLO_XCS_CHECKPOINT, COLO_XCS_STATIC_DATA_END };

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(colo_xcs_rec_check(empty[i], body, 0, pad, &why), 0);
        assert_int_equal(colo_xcs_rec_check(empty[i], body, 8, pad, &why), -1);
        assert_non_null(strstr(why, "must be empty"));
    }
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_TSC_INFO, body, 24, pad, &why), 0);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_TSC_INFO, body, 16, pad, &why), -1);
    body[20] = 1;
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_TSC_INFO, body, 24, pad, &why), -1);
    assert_non_null(strstr(why, "reserved"));
    body[20] = 0;
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_CONTEXT, body, 0, pad, &why), -1);
    /* an HVM context of odd length: padding follows it, and must be zero */
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_CONTEXT, body, 5, pad, &why), 0);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_CONTEXT, body, 5, nz + 5, &why), -1);
    assert_non_null(strstr(why, "padding"));
    /* HVM_PARAMS: 2 entries */
    colo_put32(body, 2);
    colo_put64(body + 8, 12);
    colo_put64(body + 16, 0xfeffc000);
    colo_put64(body + 24, 37);
    colo_put64(body + 32, 1);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_PARAMS, body, 40, pad, &why), 0);
    {
        uint64_t idx, val;

        assert_int_equal(colo_xcs_params_count(body), 2);
        colo_xcs_param_at(body, 1, &idx, &val);
        assert_int_equal(idx, 37);
        assert_int_equal(val, 1);
    }
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_PARAMS, body, 24, pad, &why), -1);
    assert_non_null(strstr(why, "count"));
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_PARAMS, body, 4, pad, &why), -1);
    colo_put32(body + 4, 9);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_PARAMS, body, 40, pad, &why), -1);
    colo_put32(body + 4, 0);
    colo_put32(body, 0xffffffffu);      /* 16 * count overflows 32 bits */
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_HVM_PARAMS, body, 40, pad, &why), -1);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_DIRTY_PFN_LIST, body, 16, pad, &why), 0);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_DIRTY_PFN_LIST, body, 12, pad, &why), -1);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_CPUID_POLICY, body, 48, pad, &why), 0);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_CPUID_POLICY, body, 40, pad, &why), -1);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_MSR_POLICY, body, 32, pad, &why), 0);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_X86_MSR_POLICY, body, 40, pad, &why), -1);
    /* unknown: mandatory refused, optional let through */
    assert_int_equal(colo_xcs_rec_check(0x13, body, 8, pad, &why), -1);
    assert_non_null(strstr(why, "unknown mandatory"));
    assert_int_equal(colo_xcs_rec_check(0x80000013u, body, 8, pad, &why), 0);
    assert_int_equal(colo_xcs_rec_check(COLO_XCS_SHARED_INFO, body, 8, pad, &why), 0);
    assert_string_equal(colo_xcs_type_name(COLO_XCS_CHECKPOINT), "CHECKPOINT");
    assert_string_equal(colo_xcs_type_name(0x13), "unknown");
    assert_string_equal(colo_xcs_type_name(0x80000001u), "unknown");
}

/* ---- the dirty-pfn answer ---- */

static void test_dirty_list(void **state)
{
    const uint64_t pfns[] = { 0x100, 0xfeff0, 7 };
    uint8_t buf[64];
    const char *why = NULL;
    uint32_t t, l;

    (void)state;
    assert_int_equal(colo_xcs_dirty_list_size(3), 32);
    assert_int_equal(colo_xcs_enc_dirty_list(buf, 31, pfns, 3), 0);
    assert_int_equal(colo_xcs_enc_dirty_list(buf, sizeof(buf), pfns, 3), 32);
    /* libxenguest reads an 8-byte header {type, length} and the pfns */
    assert_int_equal(colo_get32(buf), 0x0f);
    assert_int_equal(colo_get32(buf + 4), 24);
    assert_int_equal(colo_get64(buf + 16), 0xfeff0);
    assert_int_equal(colo_xcs_rec_header(buf, &t, &l, &why), 0);
    assert_int_equal(colo_xcs_rec_check(t, buf + 8, l, buf + 8 + l, &why), 0);
    /* an empty list is legal and is just the header */
    assert_int_equal(colo_xcs_enc_dirty_list(buf, sizeof(buf), NULL, 0), 8);
    assert_int_equal(colo_get32(buf + 4), 0);
}

/* ---- the reader, over a pipe ---- */

static struct sb sample_stream(void)
{
    struct sb b = { 0 };
    uint8_t ih[24], dh[16], ctx[13], tsc[24] = { 0 };
    const uint64_t ent[] = { 1, 2 | 0xfull << 60, 3 };
    uint32_t len;
    uint8_t *pd = page_data(ent, 3, &len);

    image_header(ih);
    domain_header(dh);
    sb_put(&b, ih, 24);
    sb_put(&b, dh, 16);
    sb_record(&b, COLO_XCS_STATIC_DATA_END, NULL, 0);
    sb_record(&b, COLO_XCS_PAGE_DATA, pd, len);
    sb_record(&b, COLO_XCS_X86_TSC_INFO, tsc, 24);
    memset(ctx, 0x42, sizeof(ctx));
    sb_record(&b, COLO_XCS_HVM_CONTEXT, ctx, sizeof(ctx));
    sb_record(&b, COLO_XCS_CHECKPOINT, NULL, 0);
    free(pd);
    return b;
}

/* Read a stream (or its first n bytes) through a pipe: the number of
 * records read, and the last result (0 clean end, -1 error). */
static int read_stream(const uint8_t *s, size_t n, int *last, const char **why)
{
    int fd[2], records = 0, rc;
    struct colo_xcs_reader r;
    uint32_t type, len;
    const uint8_t *body;

    assert_int_equal(pipe(fd), 0);
    assert_true(n < 65536);     /* fits the pipe: write all, then read */
    assert_int_equal(write(fd[1], s, n), (ssize_t)n);
    close(fd[1]);
    colo_xcs_reader_init(&r, fd[0]);
    rc = colo_xcs_read_headers(&r, why);
    while (rc == 0 || rc == 1) {
        rc = colo_xcs_read_record(&r, &type, &body, &len, why);
        if (rc == 1) {
            records++;
            if (type == COLO_XCS_HVM_CONTEXT) {
                assert_int_equal(len, 13);
                assert_int_equal(body[12], 0x42);
            }
        } else
            break;
    }
    *last = rc;
    if (rc == 0)
        assert_int_equal(r.offset, n);
    colo_xcs_reader_free(&r);
    close(fd[0]);
    return records;
}

static void test_reader(void **state)
{
    struct sb s = sample_stream();
    int last, n;
    const char *why = NULL;
    size_t bounds[6], nb = 0, off = 40;

    (void)state;
    n = read_stream(s.p, s.len, &last, &why);
    assert_int_equal(last, 0);
    assert_int_equal(n, 5);
    /* record boundaries of the sample */
    bounds[nb++] = off;
    while (off < s.len) {
        off += 8 + colo_xcs_padded(colo_get32(s.p + off + 4));
        bounds[nb++] = off;
    }
    assert_int_equal(nb, 6);
    /* cut at every byte: a clean end only at a record boundary, never a
     * crash or a read past the end (ASan watches), "truncated" otherwise */
    for (size_t cut = 0; cut < s.len; cut++) {
        bool at_boundary = false;

        for (size_t i = 0; i < nb; i++)
            at_boundary |= bounds[i] == cut;
        why = NULL;
        n = read_stream(s.p, cut, &last, &why);
        if (at_boundary) {
            assert_int_equal(last, 0);
        } else {
            assert_int_equal(last, -1);
            assert_non_null(strstr(why, "truncated"));
        }
    }
    free(s.p);
}

static void test_reader_rejects(void **state)
{
    struct sb s = sample_stream();
    int last;
    const char *why = NULL;

    (void)state;
    /* the PAGE_DATA record (after headers and STATIC_DATA_END): a reserved
     * bit in its second entry */
    s.p[40 + 8 + 8 + 8 + 8 + 6] = 0x10;
    read_stream(s.p, s.len, &last, &why);
    assert_int_equal(last, -1);
    assert_non_null(strstr(why, "reserved bits"));
    free(s.p);
    /* a record claiming 200 MiB */
    s = sample_stream();
    colo_put32(s.p + 44, 200u << 20);
    read_stream(s.p, s.len, &last, &why);
    assert_int_equal(last, -1);
    assert_non_null(strstr(why, "128 MiB"));
    free(s.p);
    /* not a stream at all */
    s = sample_stream();
    s.p[0] = 0;
    read_stream(s.p, s.len, &last, &why);
    assert_int_equal(last, -1);
    assert_non_null(strstr(why, "marker"));
    free(s.p);
}

/* ---- writing (restore=libxenguest) ---- */

/* What the secondary writes for xc_domain_restore reads back through this
 * file's own reader, record for record, byte for byte. */
static void test_writer(void **state)
{
    struct colo_xcs_domain dom = { .type = COLO_XCS_DOMAIN_HVM, .xen_major = 4,
                                   .xen_minor = 17, .version = 3 };
    uint8_t hdr[40], ih[24], dh[16], buf[256], pad[8] = { 0 };
    uint8_t *pages = malloc(2 * 4096);
    const uint64_t pfns[2] = { 0x10, 0xfeff2 };
    const uint64_t idx[2] = { 2, 19 }, val[2] = { 0x1234, 1 };
    const uint8_t ctx[13] = "hvm-context!";
    struct colo_xcs_reader r;
    struct colo_xcs_pages pg;
    const uint8_t *body;
    const char *why = NULL;
    uint32_t type, len;
    int fd[2];
    size_t n;

    (void)state;
    assert_non_null(pages);
    memset(pages, 0xa1, 4096);
    memset(pages + 4096, 0xb2, 4096);
    assert_int_equal(pipe(fd), 0);
    /* the headers are exactly the hand-made ones above */
    assert_int_equal(colo_xcs_enc_headers(hdr, sizeof(hdr), &dom), 40);
    image_header(ih);
    domain_header(dh);
    assert_memory_equal(hdr, ih, 24);
    assert_memory_equal(hdr + 24, dh, 16);
    assert_int_equal(write(fd[1], hdr, 40), 40);
    /* PAGE_DATA: prefix, then the pages */
    n = colo_xcs_enc_page_prefix(buf, sizeof(buf), pfns, 2);
    assert_int_equal(n, colo_xcs_page_prefix_size(2));
    assert_int_equal(n, 8 + 8 + 16);
    assert_int_equal(write(fd[1], buf, n), (ssize_t)n);
    assert_int_equal(write(fd[1], pages, 8192), 8192);
    /* HVM_CONTEXT: a blob, padded by the caller */
    assert_int_equal(colo_xcs_enc_rec_header(buf, sizeof(buf), COLO_XCS_HVM_CONTEXT, 13), 8);
    assert_int_equal(write(fd[1], buf, 8), 8);
    assert_int_equal(write(fd[1], ctx, 13), 13);
    assert_int_equal(write(fd[1], pad, colo_xcs_padded(13) - 13), 3);
    n = colo_xcs_enc_params(buf, sizeof(buf), idx, val, 2);
    assert_int_equal(n, colo_xcs_params_size(2));
    assert_int_equal(write(fd[1], buf, n), (ssize_t)n);
    assert_int_equal(colo_xcs_enc_rec_header(buf, sizeof(buf), COLO_XCS_CHECKPOINT, 0), 8);
    assert_int_equal(write(fd[1], buf, 8), 8);
    close(fd[1]);

    colo_xcs_reader_init(&r, fd[0]);
    assert_int_equal(colo_xcs_read_headers(&r, &why), 0);
    assert_int_equal(r.dom.type, COLO_XCS_DOMAIN_HVM);
    assert_int_equal(r.dom.xen_minor, 17);
    assert_int_equal(colo_xcs_read_record(&r, &type, &body, &len, &why), 1);
    assert_int_equal(type, COLO_XCS_PAGE_DATA);
    assert_int_equal(colo_xcs_page_data(body, len, 1ull << 20, &pg, &why), 0);
    assert_int_equal(pg.count, 2);
    assert_int_equal(pg.nr_data, 2);
    assert_int_equal(colo_xcs_entry(&pg, 1), 0xfeff2);
    assert_memory_equal(pg.data, pages, 8192);
    assert_int_equal(colo_xcs_read_record(&r, &type, &body, &len, &why), 1);
    assert_int_equal(type, COLO_XCS_HVM_CONTEXT);
    assert_int_equal(len, 13);
    assert_memory_equal(body, ctx, 13);
    assert_int_equal(colo_xcs_read_record(&r, &type, &body, &len, &why), 1);
    assert_int_equal(type, COLO_XCS_HVM_PARAMS);
    assert_int_equal(colo_xcs_params_count(body), 2);
    for (uint32_t i = 0; i < 2; i++) {
        uint64_t ix, v;

        colo_xcs_param_at(body, i, &ix, &v);
        assert_int_equal(ix, idx[i]);
        assert_int_equal(v, val[i]);
    }
    assert_int_equal(colo_xcs_read_record(&r, &type, &body, &len, &why), 1);
    assert_int_equal(type, COLO_XCS_CHECKPOINT);
    assert_int_equal(len, 0);
    assert_int_equal(colo_xcs_read_record(&r, &type, &body, &len, &why), 0);
    colo_xcs_reader_free(&r);
    close(fd[0]);
    free(pages);
}

static void test_writer_refuses(void **state)
{
    struct colo_xcs_domain dom = { .type = COLO_XCS_DOMAIN_HVM, .version = 3 };
    uint8_t buf[64];
    uint64_t pfns[1] = { 1ull << 60 }, one = 1;

    (void)state;
    assert_int_equal(colo_xcs_enc_headers(buf, 39, &dom), 0);
    dom.version = 4;
    assert_int_equal(colo_xcs_enc_headers(buf, sizeof(buf), &dom), 0);
    dom.version = 3;
    dom.type = 7;
    assert_int_equal(colo_xcs_enc_headers(buf, sizeof(buf), &dom), 0);
    assert_int_equal(colo_xcs_enc_rec_header(buf, 7, COLO_XCS_CHECKPOINT, 0), 0);
    assert_int_equal(colo_xcs_enc_rec_header(buf, 8, COLO_XCS_HVM_CONTEXT, 200u << 20), 0);
    /* a pfn with type bits set, no pages, too many pages, too little room */
    assert_int_equal(colo_xcs_enc_page_prefix(buf, sizeof(buf), pfns, 1), 0);
    assert_int_equal(colo_xcs_enc_page_prefix(buf, sizeof(buf), &one, 0), 0);
    assert_int_equal(colo_xcs_enc_page_prefix(buf, sizeof(buf), &one, COLO_XCS_MAX_PAGES + 1), 0);
    assert_int_equal(colo_xcs_enc_page_prefix(buf, 23, &one, 1), 0);
    assert_int_equal(colo_xcs_enc_page_prefix(buf, 24, &one, 1), 24);
    assert_int_equal(colo_xcs_enc_params(buf, 31, &one, &one, 1), 0);
}

/* The back channel's record, as xc_domain_restore writes it. */
static void test_dirty_list_header(void **state)
{
    const uint64_t pfns[3] = { 1, 5, 9 };
    uint8_t buf[64];
    const char *why = NULL;
    uint32_t count = 99;

    (void)state;
    assert_int_equal(colo_xcs_enc_dirty_list(buf, sizeof(buf), pfns, 3), 32);
    assert_int_equal(colo_xcs_dirty_list_header(buf, 16, &count, &why), 0);
    assert_int_equal(count, 3);
    assert_int_equal(colo_xcs_enc_dirty_list(buf, sizeof(buf), NULL, 0), 8);
    assert_int_equal(colo_xcs_dirty_list_header(buf, 16, &count, &why), 0);
    assert_int_equal(count, 0);
    /* longer than the guest has pfns */
    assert_int_equal(colo_xcs_enc_dirty_list(buf, sizeof(buf), pfns, 3), 32);
    assert_int_equal(colo_xcs_dirty_list_header(buf, 2, &count, &why), -1);
    assert_non_null(strstr(why, "longer"));
    /* a length that is not whole pfns */
    colo_put32(buf + 4, 12);
    assert_int_equal(colo_xcs_dirty_list_header(buf, 16, &count, &why), -1);
    assert_non_null(strstr(why, "multiple of 8"));
    /* another record */
    colo_put32(buf, COLO_XCS_CHECKPOINT);
    colo_put32(buf + 4, 0);
    assert_int_equal(colo_xcs_dirty_list_header(buf, 16, &count, &why), -1);
    assert_non_null(strstr(why, "not a dirty pfn list"));
    /* a length past libxenguest's limit */
    colo_put32(buf, COLO_XCS_DIRTY_PFN_LIST);
    colo_put32(buf + 4, 200u << 20);
    assert_int_equal(colo_xcs_dirty_list_header(buf, 1ull << 40, &count, &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_header),
        cmocka_unit_test(test_domain_header),
        cmocka_unit_test(test_rec_header),
        cmocka_unit_test(test_page_data_good),
        cmocka_unit_test(test_page_data_bad),
        cmocka_unit_test(test_rec_check),
        cmocka_unit_test(test_dirty_list),
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_reader_rejects),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_refuses),
        cmocka_unit_test(test_dirty_list_header),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
