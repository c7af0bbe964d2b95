/*
 * test-xen-policy.c - the xen backend's data-only decisions: guest kind,
 * the page hole policy, merging Xen's dirty bitmap, the vCPU records of an
 * HVM context.
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

/* Append one save record (descriptor + body) to ctx at *off. */
static void put_record(uint8_t *ctx, size_t *off, uint16_t type, uint16_t inst,
                       const void *body, uint32_t len)
{
    struct hvm_save_descriptor d = { .typecode = type, .instance = inst, .length = len };

    memcpy(ctx + *off, &d, sizeof(d));
    if (len)    /* END has no body: memcpy from NULL is undefined even for 0 bytes */
        memcpy(ctx + *off + sizeof(d), body, len);
    *off += sizeof(d) + len;
}

/* Two vCPUs among other records: only their CPU records come out, in
 * order, with the TSC zeroed and every other byte as it was. */
static void test_cpu_records(void **state)
{
    static uint8_t ctx[4096];
    struct hvm_save_header hdr = { .magic = HVM_FILE_MAGIC, .version = HVM_FILE_VERSION };
    struct hvm_hw_cpu cpu0, cpu1, got;
    uint8_t pic[16] = { 1, 2, 3 };
    const size_t dlen = sizeof(struct hvm_save_descriptor);
    const char *why = NULL;
    uint8_t *out;
    size_t off = 0, outlen;

    (void)state;
    memset(&cpu0, 0x11, sizeof(cpu0));
    memset(&cpu1, 0x22, sizeof(cpu1));
    cpu0.rip = 0xffffffff81000000ull;
    cpu0.tsc = 123456789;
    cpu1.tsc = 987654321;
    put_record(ctx, &off, HVM_SAVE_CODE(HEADER), 0, &hdr, sizeof(hdr));
    put_record(ctx, &off, HVM_SAVE_CODE(CPU), 0, &cpu0, sizeof(cpu0));
    put_record(ctx, &off, HVM_SAVE_CODE(PIC), 0, pic, sizeof(pic));
    put_record(ctx, &off, HVM_SAVE_CODE(CPU), 1, &cpu1, sizeof(cpu1));
    put_record(ctx, &off, HVM_SAVE_CODE(END), 0, NULL, 0);

    assert_int_equal(colo_xen_cpu_records(ctx, off, &out, &outlen, &why), 0);
    assert_int_equal(outlen, 2 * (dlen + sizeof(struct hvm_hw_cpu)));
    memcpy(&got, out + dlen, sizeof(got));
    assert_int_equal(got.tsc, 0);
    assert_int_equal(got.rip, cpu0.rip);
    cpu0.tsc = 0;
    assert_memory_equal(&got, &cpu0, sizeof(got));
    assert_memory_equal(out, ctx + dlen + sizeof(hdr), dlen);    /* CPU 0's descriptor */
    memcpy(&got, out + 2 * dlen + sizeof(got), sizeof(got));
    cpu1.tsc = 0;
    assert_memory_equal(&got, &cpu1, sizeof(got));
    free(out);

    /* The same context with another TSC gives the same bytes: that is
     * what makes two domains in the same state hash alike. */
    {
        uint8_t *again;
        size_t againlen;

        assert_int_equal(colo_xen_cpu_records(ctx, off, &out, &outlen, &why), 0);
        memcpy(ctx + dlen + sizeof(hdr) + dlen + offsetof(struct hvm_hw_cpu, tsc), &(uint64_t){ 42 }, 8);
        assert_int_equal(colo_xen_cpu_records(ctx, off, &again, &againlen, &why), 0);
        assert_int_equal(againlen, outlen);
        assert_memory_equal(again, out, outlen);
        free(again);
        /* ... and a register that differs gives other bytes. */
        ctx[dlen + sizeof(hdr) + dlen + offsetof(struct hvm_hw_cpu, rip)] ^= 1;
        assert_int_equal(colo_xen_cpu_records(ctx, off, &again, &againlen, &why), 0);
        assert_memory_not_equal(again, out, outlen);
        free(again);
        free(out);
    }

    /* Cut anywhere inside a record: refused with a reason, never read past. */
    for (size_t cut = 1; cut < off - dlen; cut++) {
        uint8_t *copy = malloc(cut);
        size_t at = 0;
        int whole = 0;

        memcpy(copy, ctx, cut);
        /* A cut that falls exactly between records is a valid shorter context. */
        while (at < cut) {
            struct hvm_save_descriptor d;

            if (cut - at < dlen)
                break;
            memcpy(&d, ctx + at, dlen);
            at += dlen + d.length;
            if (at == cut)
                whole = 1;
        }
        why = NULL;
        out = NULL;
        if (whole) {
            assert_int_equal(colo_xen_cpu_records(copy, cut, &out, &outlen, &why), 0);
        } else {
            assert_int_equal(colo_xen_cpu_records(copy, cut, &out, &outlen, &why), -1);
            assert_non_null(why);
            assert_null(out);
        }
        free(out);
        free(copy);
    }

    /* A CPU record too short to hold the registers. */
    off = 0;
    put_record(ctx, &off, HVM_SAVE_CODE(CPU), 0, &cpu0, 16);
    assert_int_equal(colo_xen_cpu_records(ctx, off, &out, &outlen, &why), -1);
    assert_string_equal(why, "a CPU record is shorter than Xen's struct hvm_hw_cpu");
}

/* The argv of a restarted SVM qemu-xen (qemu-state=restart). */
static size_t argc_of(char **argv)
{
    size_t n = 0;

    while (argv[n])
        n++;
    return n;
}

static void test_dm_argv(void **state)
{
    /* Shaped like what libxl 4.17 starts qemu-xen with for the lab's guests. */
    static const char cmd[] =
        "/usr/bin/qemu-system-i386\0-xen-domid\0007\0-chardev\0"
        "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-7,server=on,wait=off\0"
        "-mon\0chardev=libxl-cmd,mode=control\0-nodefaults\0-S\0-name\0svm\0"
        "-serial\0file:/var/log/xen/console/guest-svm.log\0-serial\0pty\0"
        "-machine\0xenfv\0-m\000120\0";
    static const char *want[] = {
        "/usr/bin/qemu-system-i386", "-xen-domid", "7", "-chardev",
        "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-7,server=on,wait=off",
        "-mon", "chardev=libxl-cmd,mode=control", "-nodefaults", "-name", "svm",
        "-chardev", "file,id=colo-serial0,path=/var/log/xen/console/guest-svm.log,append=on",
        "-serial", "chardev:colo-serial0", "-serial", "pty",
        "-machine", "xenfv", "-m", "120", "-S", "-incoming", "fd:3",
    };
    const char *why = "unset";
    char **argv;

    (void)state;
    argv = colo_xen_dm_argv(cmd, sizeof(cmd) - 1, 3, &why);
    assert_non_null(argv);
    assert_null(why);
    assert_int_equal(argc_of(argv), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(argv[i], want[i]);
    colo_xen_dm_argv_free(argv);

    /* A qemu restarted before: its -incoming goes, one new one comes; commas quoted. */
    static const char again[] = "qemu\0-incoming\0fd:3\0-serial\0file:/a,b\0-S\0";
    static const char *want2[] = {
        "qemu", "-chardev", "file,id=colo-serial0,path=/a,,b,append=on", "-serial",
        "chardev:colo-serial0", "-S", "-incoming", "fd:9",
    };
    argv = colo_xen_dm_argv(again, sizeof(again) - 1, 9, &why);
    assert_non_null(argv);
    assert_int_equal(argc_of(argv), sizeof(want2) / sizeof(want2[0]));
    for (size_t i = 0; i < sizeof(want2) / sizeof(want2[0]); i++)
        assert_string_equal(argv[i], want2[i]);
    colo_xen_dm_argv_free(argv);

    /* Command lines it refuses, each with a reason. */
    assert_null(colo_xen_dm_argv("", 0, 3, &why));
    assert_string_equal(why, "the device model's command line is empty");
    assert_null(colo_xen_dm_argv("qemu", 4, 3, &why));
    assert_string_equal(why, "the device model's command line does not end with a NUL");
    assert_null(colo_xen_dm_argv("qemu\0-serial\0", 13, 3, &why));
    assert_string_equal(why, "the device model's command line ends in -serial");
    assert_null(colo_xen_dm_argv("qemu\0-incoming\0", 15, 3, &why));
    assert_string_equal(why, "the device model's command line ends in -incoming");
    colo_xen_dm_argv_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_kind),
        cmocka_unit_test(test_zero_pages),
        cmocka_unit_test(test_qemu_loads_state),
        cmocka_unit_test(test_dm_argv),
        cmocka_unit_test(test_dirty_merge),
        cmocka_unit_test(test_dirty_merge_ranges),
        cmocka_unit_test(test_cpu_records),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
