/*
 * test-xen-policy.c - the xen backend's data-only decisions: guest kind,
 * the page hole policy, merging Xen's dirty bitmap.
 * Needs: libxl-colo/xen/xen-policy.c, libxl-colo/colo-bitmap.c;
 * compile flags of the Xen headers (pkg-config --cflags xencontrol xenlight
 * xlutil), no Xen library at link time.
 */
#include "xen/xen-sys.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "colo-proto.h"
#include "colo-backend.h"
#include "xen/xen-policy.h"

#define BPL (sizeof(unsigned long) * CHAR_BIT)

static void test_guest_kind(void **state)
{
    /* What libxl gives an HVM guest: everything but vPCI. */
    uint32_t hvm = XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI;

    assert_int_equal(colo_xen_guest_kind(false, 0), COLO_XEN_PV);
    assert_int_equal(colo_xen_guest_kind(false, hvm), COLO_XEN_PV);
    assert_int_equal(colo_xen_guest_kind(true, XEN_X86_EMU_LAPIC), COLO_XEN_PVH);
    assert_int_equal(colo_xen_guest_kind(true, 0), COLO_XEN_PVH);
    assert_int_equal(colo_xen_guest_kind(true, hvm), COLO_XEN_HVM);
    assert_int_equal(colo_xen_guest_kind(true, XEN_X86_EMU_ALL), COLO_XEN_HVM);
    assert_int_equal(colo_xen_guest_kind(true, hvm & ~XEN_X86_EMU_PIT), COLO_XEN_PVH);
    assert_string_equal(colo_xen_guest_kind_name(COLO_XEN_PV), "PV");
    assert_string_equal(colo_xen_guest_kind_name(COLO_XEN_PVH), "PVH");
    assert_string_equal(colo_xen_guest_kind_name(COLO_XEN_HVM), "HVM");
}

/* QEMU >= 6.0 aborts on xen-load-devices-state (found in the Xen lab). */
static void test_qemu_loads_state(void **state)
{
    (void)state;
    assert_true(colo_xen_qemu_loads_state(5, 2));
    assert_true(colo_xen_qemu_loads_state(4, 2));
    assert_false(colo_xen_qemu_loads_state(6, 0));
    assert_false(colo_xen_qemu_loads_state(7, 2));     /* Debian 12 */
    assert_false(colo_xen_qemu_loads_state(9, 1));
}

static void test_zero_pages(void **state)
{
    unsigned char *page = calloc(1, COLO_PAGE_SIZE);

    assert_true(colo_page_is_zero(page));
    assert_int_equal(colo_xen_hole_action(page), COLO_XEN_HOLE_SKIP);
    page[COLO_PAGE_SIZE - 1] = 1;
    assert_false(colo_page_is_zero(page));
    assert_int_equal(colo_xen_hole_action(page), COLO_XEN_HOLE_POPULATE);
    page[COLO_PAGE_SIZE - 1] = 0;
    page[0] = 0x80;
    assert_int_equal(colo_xen_hole_action(page), COLO_XEN_HOLE_POPULATE);
    free(page);
}

static void test_dirty_merge(void **state)
{
    struct colo_bitmap b;
    unsigned long x[4] = { 0 };
    uint64_t ignored = 99;

    assert_int_equal(colo_bitmap_init(&b, 4 * BPL), 0);
    x[0] = 1ul | (1ul << (BPL - 1));
    x[2] = 1ul << 5;
    x[3] = ~0ul;
    assert_int_equal(colo_xen_dirty_merge(x, 4 * BPL, &b, &ignored), 3 + BPL);
    assert_int_equal(ignored, 0);
    assert_true(colo_bitmap_test(&b, 0));
    assert_true(colo_bitmap_test(&b, BPL - 1));
    assert_false(colo_bitmap_test(&b, BPL));
    assert_true(colo_bitmap_test(&b, 2 * BPL + 5));
    assert_true(colo_bitmap_test(&b, 4 * BPL - 1));
    assert_int_equal(colo_bitmap_count(&b), 3 + BPL);

    /* OR, not replace: bits already set stay set. */
    memset(x, 0, sizeof(x));
    x[1] = 2;
    assert_int_equal(colo_xen_dirty_merge(x, 4 * BPL, &b, NULL), 1);
    assert_true(colo_bitmap_test(&b, 0));
    assert_true(colo_bitmap_test(&b, BPL + 1));
    colo_bitmap_free(&b);
}

static void test_dirty_merge_ranges(void **state)
{
    struct colo_bitmap b;
    unsigned long x[2] = { ~0ul, ~0ul };
    uint64_t ignored = 0;

    /* Xen's bitmap covers 70 pfns: bits past 70 in the last word are junk. */
    assert_int_equal(colo_bitmap_init(&b, 100), 0);
    assert_int_equal(colo_xen_dirty_merge(x, 70, &b, &ignored), 70);
    assert_int_equal(ignored, 0);
    assert_false(colo_bitmap_test(&b, 70));
    colo_bitmap_free(&b);

    /* The engine's bitmap is smaller than Xen's: the rest is counted, not set. */
    assert_int_equal(colo_bitmap_init(&b, 10), 0);
    assert_int_equal(colo_xen_dirty_merge(x, 2 * BPL, &b, &ignored), 10);
    assert_int_equal(ignored, 2 * BPL - 10);
    assert_int_equal(colo_bitmap_count(&b), 10);
    colo_bitmap_free(&b);

    /* Empty. */
    assert_int_equal(colo_bitmap_init(&b, 10), 0);
    assert_int_equal(colo_xen_dirty_merge(x, 0, &b, &ignored), 0);
    assert_int_equal(ignored, 0);
    colo_bitmap_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_kind),
        cmocka_unit_test(test_zero_pages),
        cmocka_unit_test(test_qemu_loads_state),
        cmocka_unit_test(test_dirty_merge),
        cmocka_unit_test(test_dirty_merge_ranges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
