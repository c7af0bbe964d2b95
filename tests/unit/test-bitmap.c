/* test-bitmap.c - dirty bitmaps: set, merge (the PVM|SVM union), walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "colo-bitmap.h"

static void test_set_test_count(void **state)
{
    struct colo_bitmap b;

    (void)state;
    assert_int_equal(colo_bitmap_init(&b, 130), 0);
    assert_int_equal(colo_bitmap_count(&b), 0);
    assert_int_equal(colo_bitmap_set(&b, 0), 0);
    assert_int_equal(colo_bitmap_set(&b, 63), 0);
    assert_int_equal(colo_bitmap_set(&b, 64), 0);
    assert_int_equal(colo_bitmap_set(&b, 129), 0);
    assert_int_equal(colo_bitmap_set(&b, 130), -1);      /* out of range: refused */
    assert_int_equal(colo_bitmap_set(&b, UINT64_MAX), -1);
    assert_true(colo_bitmap_test(&b, 63));
    assert_false(colo_bitmap_test(&b, 62));
    assert_false(colo_bitmap_test(&b, 130));
    assert_int_equal(colo_bitmap_count(&b), 4);
    colo_bitmap_clear_all(&b);
    assert_int_equal(colo_bitmap_count(&b), 0);
    colo_bitmap_set_all(&b);
    assert_int_equal(colo_bitmap_count(&b), 130);       /* no bits past nbits */
    colo_bitmap_free(&b);
}

static void test_ranges(void **state)
{
    struct colo_bitmap b;

    (void)state;
    assert_int_equal(colo_bitmap_init(&b, 1000), 0);
    colo_bitmap_set_range(&b, 3, 200);
    assert_int_equal(colo_bitmap_count(&b), 197);
    assert_false(colo_bitmap_test(&b, 2));
    assert_true(colo_bitmap_test(&b, 3));
    assert_true(colo_bitmap_test(&b, 199));
    assert_false(colo_bitmap_test(&b, 200));
    colo_bitmap_set_range(&b, 990, 5000);               /* clipped at nbits */
    assert_int_equal(colo_bitmap_count(&b), 207);
    colo_bitmap_set_range(&b, 500, 500);                /* empty */
    assert_int_equal(colo_bitmap_count(&b), 207);
    colo_bitmap_free(&b);
}

static void test_merge_and_walk(void **state)
{
    struct colo_bitmap pvm, svm, other;
    uint64_t expect[] = { 1, 5, 64, 65, 127, 128, 4095 }, i = 0;

    (void)state;
    assert_int_equal(colo_bitmap_init(&pvm, 4096), 0);
    assert_int_equal(colo_bitmap_init(&svm, 4096), 0);
    assert_int_equal(colo_bitmap_init(&other, 4095), 0);
    colo_bitmap_set(&pvm, 1);
    colo_bitmap_set(&pvm, 64);
    colo_bitmap_set(&pvm, 128);
    colo_bitmap_set(&svm, 5);
    colo_bitmap_set(&svm, 64);                          /* dirty on both sides */
    colo_bitmap_set(&svm, 65);
    colo_bitmap_set(&svm, 127);
    colo_bitmap_set(&svm, 4095);
    assert_int_equal(colo_bitmap_or(&pvm, &svm), 0);
    assert_int_equal(colo_bitmap_or(&pvm, &other), -1); /* size mismatch refused */
    assert_int_equal(colo_bitmap_count(&pvm), 7);
    for (uint64_t b = colo_bitmap_next(&pvm, 0); b < pvm.nbits; b = colo_bitmap_next(&pvm, b + 1))
        assert_int_equal(b, expect[i++]);
    assert_int_equal(i, 7);
    assert_int_equal(colo_bitmap_next(&pvm, 4096), 4096);
    assert_int_equal(colo_bitmap_next(&svm, 128), 4095);
    colo_bitmap_free(&pvm);
    colo_bitmap_free(&svm);
    colo_bitmap_free(&other);
}

static void test_empty_bitmap(void **state)
{
    struct colo_bitmap b;

    (void)state;
    assert_int_equal(colo_bitmap_init(&b, 0), 0);
    assert_int_equal(colo_bitmap_next(&b, 0), 0);
    assert_int_equal(colo_bitmap_count(&b), 0);
    colo_bitmap_set_all(&b);
    assert_int_equal(colo_bitmap_count(&b), 0);
    colo_bitmap_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_test_count),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_merge_and_walk),
        cmocka_unit_test(test_empty_bitmap),
    };

    return cmocka_run_group_tests_name("bitmap", tests, NULL, NULL);
}
