/*
 * test-xc-ckpt.c - one checkpoint's pages from libxenguest's stream
 * (libxl-colo/xen/xc-ckpt.c): lookups of data, holes and absent pfns, a
 * pfn sent more than once (the last copy wins), pages in many records,
 * cursors passed along ascending and descending lookups, and lookups
 * before the seal while the pfns come in ascending order.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "colo-proto.h"
#include "xen/xc-ckpt.h"

/* A page that names its pfn and a version, so a wrong copy shows. */
static void fill(uint8_t *page, uint64_t pfn, unsigned version)
{
    for (size_t i = 0; i < COLO_PAGE_SIZE; i += 16) {
        memcpy(page + i, &pfn, 8);
        memcpy(page + i + 8, &version, 4);
        memset(page + i + 12, (int)(i / 16), 4);
    }
}

static int check_page(const struct colo_xcs_ckpt *c, uint64_t pfn, unsigned version, size_t *from)
{
    uint8_t want[COLO_PAGE_SIZE];
    const uint8_t *page = NULL;
    int rc = colo_xcs_ckpt_find(c, pfn, from, &page);

    if (rc != 1)
        return rc == 0 ? -2 : -1;
    fill(want, pfn, version);
    return memcmp(page, want, COLO_PAGE_SIZE) == 0 ? 0 : -3;
}

/* A page as a one-page record of its own, adopted (page: NULL for a hole). */
static int add(struct colo_xcs_ckpt *c, uint64_t pfn, unsigned version, bool data)
{
    uint8_t *rec;

    if (!data)
        return colo_xcs_ckpt_add_ref(c, pfn, NULL);
    if (!(rec = malloc(COLO_PAGE_SIZE)))
        return -1;
    fill(rec, pfn, version);
    if (colo_xcs_ckpt_adopt(c, rec) < 0)
        return -1;
    return colo_xcs_ckpt_add_ref(c, pfn, rec);
}

static void test_empty(void **state)
{
    struct colo_xcs_ckpt c = { 0 };
    const uint8_t *page = NULL;
    size_t from = 0;

    (void)state;
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    assert_int_equal(c.nslot, 0);
    assert_int_equal(colo_xcs_ckpt_find(&c, 0, &from, &page), -1);
    assert_null(page);
    colo_xcs_ckpt_free(&c);
    colo_xcs_ckpt_free(&c);     /* twice is harmless */
}

static void test_data_holes_absent(void **state)
{
    struct colo_xcs_ckpt c = { 0 };
    const uint8_t *p = NULL;
    size_t from = 0;

    (void)state;
    for (uint64_t pfn = 10; pfn < 20; pfn++)
        assert_int_equal(add(&c, pfn, 1, pfn % 3), 0);
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    assert_int_equal(c.nslot, 10);
    assert_int_equal(colo_xcs_ckpt_find(&c, 9, &from, &p), -1);
    for (uint64_t pfn = 10; pfn < 20; pfn++)
        assert_int_equal(check_page(&c, pfn, 1, &from), pfn % 3 ? 0 : -2);
    assert_int_equal(colo_xcs_ckpt_find(&c, 20, &from, &p), -1);
    assert_int_equal(colo_xcs_ckpt_find(&c, UINT64_C(1) << 52, &from, &p), -1);
    colo_xcs_ckpt_free(&c);
    assert_null(c.slot);
    assert_int_equal(c.nent, 0);
}

/* A pfn sent again in the same checkpoint: the copy that came last counts,
 * whether it is data or a hole, and in whatever order the pfns came. */
static void test_last_copy_wins(void **state)
{
    struct colo_xcs_ckpt c = { 0 };
    size_t from = 0;

    (void)state;
    assert_int_equal(add(&c, 9, 1, true), 0);
    assert_int_equal(add(&c, 3, 1, true), 0);
    assert_int_equal(add(&c, 5, 1, true), 0);
    assert_int_equal(add(&c, 5, 0, false), 0);
    assert_int_equal(add(&c, 5, 3, true), 0);
    assert_int_equal(add(&c, 9, 2, true), 0);
    assert_int_equal(add(&c, 7, 1, true), 0);
    assert_int_equal(add(&c, 7, 0, false), 0);
    assert_int_equal(add(&c, 4, 0, false), 0);
    assert_int_equal(add(&c, 4, 2, true), 0);
    assert_true(c.unordered);
    assert_false(colo_xcs_ckpt_reached(&c, 0));    /* no early answers */
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    assert_int_equal(c.nslot, 5);
    assert_int_equal(check_page(&c, 3, 1, &from), 0);
    assert_int_equal(check_page(&c, 4, 2, &from), 0);
    assert_int_equal(check_page(&c, 5, 3, &from), 0);
    assert_int_equal(check_page(&c, 7, 1, &from), -2);
    assert_int_equal(check_page(&c, 9, 2, &from), 0);
    /* Sealing again after more arrive takes them in too. */
    assert_int_equal(add(&c, 3, 4, true), 0);
    assert_false(colo_xcs_ckpt_reached(&c, 0));    /* unsealed again */
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    from = 0;
    assert_int_equal(check_page(&c, 3, 4, &from), 0);
    assert_int_equal(check_page(&c, 9, 2, &from), 0);
    colo_xcs_ckpt_free(&c);
}

/* Pages in records of 256 (as libxenguest batches them), the last one
 * short, each page intact and not a copy; lookups with one cursor
 * ascending, then descending and at random (the cursor must not make a
 * lookup miss). */
static void test_records_and_cursor(void **state)
{
    enum { PER = 256, N = 2 * PER + 77 };
    struct colo_xcs_ckpt c = { 0 };
    uint8_t *rec = NULL;
    size_t from = 0;
    uint64_t x = 12345;

    (void)state;
    for (uint64_t i = 0; i < N; i++) {
        if (i % PER == 0) {
            assert_non_null(rec = malloc((size_t)PER * COLO_PAGE_SIZE));
            assert_int_equal(colo_xcs_ckpt_adopt(&c, rec), 0);
        }
        fill(rec + (i % PER) * COLO_PAGE_SIZE, 3 * i, 7);
        assert_int_equal(colo_xcs_ckpt_add_ref(&c, 3 * i, rec + (i % PER) * COLO_PAGE_SIZE), 0);
    }
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    assert_int_equal(c.nblock, 3);
    assert_int_equal(c.npages, N);
    for (uint64_t i = 0; i < N; i++) {
        const uint8_t *p = NULL;

        assert_int_equal(check_page(&c, 3 * i, 7, &from), 0);
        assert_int_equal(colo_xcs_ckpt_find(&c, 3 * i + 1, &from, &p), -1);
    }
    for (uint64_t i = N; i-- > 0;)
        assert_int_equal(check_page(&c, 3 * i, 7, &from), 0);
    for (int k = 0; k < 2000; k++) {
        const uint8_t *p = NULL;
        uint64_t i;

        x = x * 6364136223846793005ull + 1442695040888963407ull;
        i = (x >> 33) % N;
        assert_int_equal(check_page(&c, 3 * i, 7, &from), 0);
        assert_int_equal(colo_xcs_ckpt_find(&c, 3 * i, &from, &p), 1);
        assert_ptr_equal(p, c.block[i / PER] + (i % PER) * COLO_PAGE_SIZE);  /* not a copy */
    }
    from = c.nslot + 5;         /* a stale cursor past the end */
    assert_int_equal(check_page(&c, 0, 7, &from), 0);
    colo_xcs_ckpt_free(&c);
    assert_int_equal(c.nblock, 0);
}

/* Before the seal: while pfns come in ascending order, every pfn up to the
 * last that came has its answer (data, hole, or not in the checkpoint),
 * and none beyond it; one pfn out of order ends the early answers until
 * the seal, which then has the last copy. */
static void test_early_answers(void **state)
{
    struct colo_xcs_ckpt c = { 0 };
    const uint8_t *p = NULL;
    size_t from = 0;

    (void)state;
    assert_false(colo_xcs_ckpt_reached(&c, 0));    /* nothing came yet */
    assert_int_equal(add(&c, 4, 1, true), 0);
    assert_int_equal(add(&c, 6, 0, false), 0);
    assert_int_equal(add(&c, 9, 1, true), 0);
    assert_false(c.unordered);
    assert_true(colo_xcs_ckpt_reached(&c, 0));
    assert_true(colo_xcs_ckpt_reached(&c, 9));
    assert_false(colo_xcs_ckpt_reached(&c, 10));
    assert_int_equal(colo_xcs_ckpt_find(&c, 3, &from, &p), -1);
    assert_int_equal(check_page(&c, 4, 1, &from), 0);
    assert_int_equal(colo_xcs_ckpt_find(&c, 5, &from, &p), -1);
    assert_int_equal(check_page(&c, 6, 0, &from), -2);
    assert_int_equal(check_page(&c, 9, 1, &from), 0);
    assert_int_equal(add(&c, 12, 1, true), 0);     /* more come; the cursor carries on */
    assert_true(colo_xcs_ckpt_reached(&c, 12));
    assert_int_equal(check_page(&c, 12, 1, &from), 0);
    assert_int_equal(add(&c, 9, 2, true), 0);      /* 9 again: order broken */
    assert_true(c.unordered);
    assert_false(colo_xcs_ckpt_reached(&c, 4));
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    assert_true(colo_xcs_ckpt_reached(&c, 1000));  /* sealed: all of it */
    from = 0;
    assert_int_equal(check_page(&c, 9, 2, &from), 0);
    assert_int_equal(check_page(&c, 12, 1, &from), 0);
    assert_int_equal(c.nslot, 4);
    colo_xcs_ckpt_free(&c);
}

/* Pages in an adopted block are kept without a copy, mixed with pages of
 * other blocks; the block is freed with the checkpoint (ASan would see a
 * leak). */
static void test_adopted_block(void **state)
{
    struct colo_xcs_ckpt c = { 0 };
    uint8_t *block = malloc(3 * COLO_PAGE_SIZE);
    const uint8_t *p = NULL;
    size_t from = 0;

    (void)state;
    assert_non_null(block);
    for (uint64_t i = 0; i < 3; i++)
        fill(block + i * COLO_PAGE_SIZE, 100 + i, 5);
    assert_int_equal(add(&c, 50, 1, true), 0);
    assert_int_equal(colo_xcs_ckpt_adopt(&c, block), 0);
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(colo_xcs_ckpt_add_ref(&c, 100 + i, block + i * COLO_PAGE_SIZE), 0);
    assert_int_equal(colo_xcs_ckpt_add_ref(&c, 103, NULL), 0);
    assert_int_equal(add(&c, 101, 6, true), 0);              /* a later copy wins */
    assert_int_equal(colo_xcs_ckpt_adopt(&c, NULL), 0);      /* nothing to keep */
    assert_int_equal(colo_xcs_ckpt_seal(&c), 0);
    assert_int_equal(c.nslot, 5);
    assert_int_equal(check_page(&c, 50, 1, &from), 0);
    assert_int_equal(colo_xcs_ckpt_find(&c, 100, &from, &p), 1);
    assert_ptr_equal(p, block);                              /* not a copy */
    from = 0;
    assert_int_equal(check_page(&c, 100, 5, &from), 0);
    assert_int_equal(check_page(&c, 101, 6, &from), 0);
    assert_int_equal(check_page(&c, 102, 5, &from), 0);
    assert_int_equal(check_page(&c, 103, 0, &from), -2);
    colo_xcs_ckpt_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_data_holes_absent),
        cmocka_unit_test(test_last_copy_wins),
        cmocka_unit_test(test_records_and_cursor),
        cmocka_unit_test(test_early_answers),
        cmocka_unit_test(test_adopted_block),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
