/*
 * test-xen-xlcfg.c - building the SVM's libxl_domain_config from xl.cfg
 * text (no hypervisor needed: libxlutil and libxl's type helpers only).
 * Needs: libxl-colo/xen/xen-xlcfg.c, libxl-colo/colo-log.c;
 * pkg-config xenlight xlutil xentoollog.
 */
#include "xen/xen-sys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "colo-log.h"
#include "xen/xen-xlcfg.h"

static const char full_cfg[] =
    "# a COLO guest\n"
    "name = \"guest1\"\n"
    "type = \"hvm\"\n"
    "memory = 512\n"
    "maxmem = 1024\n"
    "vcpus = 2\n"
    "maxvcpus = 4\n"
    "kernel = \"/boot/vmlinuz\"\n"
    "ramdisk = \"/boot/initrd.img\"\n"
    "cmdline = \"console=ttyS0 xen_nopv\"\n"
    "disk = [ 'format=raw, vdev=hda, access=rw, target=/var/lib/xen/g1.img' ]\n"
    "vif = [ 'mac=00:16:3e:0a:0B:0c, bridge=xenbr0, model=e1000, type=ioemu' ]\n"
    "serial = \"file:/var/log/xen/console/guest-guest1.log\"\n"
    "xen_platform_pci = 0\n"
    "vga = \"stdvga\"\n"
    "videoram = 16\n"
    "boot = \"c\"\n"
    "hap = 1\n"
    "on_poweroff = \"destroy\"\n";

static int parse(const char *text, const char *svm_name, libxl_domain_config *dc)
{
    libxl_domain_config_init(dc);
    return colo_xen_xlcfg_parse(text, strlen(text), "test.cfg", svm_name, dc);
}

static void test_full_config(void **state)
{
    libxl_domain_config dc;
    libxl_domain_build_info *b = &dc.b_info;

    assert_int_equal(parse(full_cfg, NULL, &dc), 0);
    assert_string_equal(dc.c_info.name, "guest1" COLO_XEN_SVM_SUFFIX);
    assert_int_equal(dc.c_info.type, LIBXL_DOMAIN_TYPE_HVM);
    assert_int_equal(b->type, LIBXL_DOMAIN_TYPE_HVM);
    assert_true(libxl_defbool_val(dc.c_info.hap));
    assert_int_equal(b->target_memkb, 512 * 1024);
    assert_int_equal(b->max_memkb, 1024 * 1024);
    assert_int_equal(b->video_memkb, 16 * 1024);
    assert_int_equal(b->max_vcpus, 4);
    assert_true(libxl_bitmap_test(&b->avail_vcpus, 0));
    assert_true(libxl_bitmap_test(&b->avail_vcpus, 1));
    assert_false(libxl_bitmap_test(&b->avail_vcpus, 2));
    assert_string_equal(b->kernel, "/boot/vmlinuz");
    assert_string_equal(b->ramdisk, "/boot/initrd.img");
    assert_string_equal(b->cmdline, "console=ttyS0 xen_nopv");
    assert_string_equal(b->u.hvm.serial, "file:/var/log/xen/console/guest-guest1.log");
    assert_string_equal(b->u.hvm.boot, "c");
    assert_false(libxl_defbool_val(b->u.hvm.xen_platform_pci));
    assert_int_equal(b->u.hvm.vga.kind, LIBXL_VGA_INTERFACE_TYPE_STD);
    assert_int_equal(b->device_model_version, LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN);

    assert_int_equal(dc.num_disks, 1);
    assert_string_equal(dc.disks[0].pdev_path, "/var/lib/xen/g1.img");
    assert_string_equal(dc.disks[0].vdev, "hda");
    assert_int_equal(dc.disks[0].format, LIBXL_DISK_FORMAT_RAW);

    assert_int_equal(dc.num_nics, 1);
    static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c };
    assert_memory_equal(dc.nics[0].mac, mac, 6);
    assert_string_equal(dc.nics[0].bridge, "xenbr0");
    assert_string_equal(dc.nics[0].model, "e1000");
    assert_int_equal(dc.nics[0].nictype, LIBXL_NIC_TYPE_VIF_IOEMU);
    libxl_domain_config_dispose(&dc);
}

static void test_svm_name_and_defaults(void **state)
{
    libxl_domain_config dc;

    assert_int_equal(parse("name='g'\nbuilder='hvm'\nmemory=256\n"
                           "root='/dev/xvda1'\nextra='console=ttyS0'\n"
                           "serial=['pty', 'file:/tmp/s']\n", "svm-a", &dc), 0);
    assert_string_equal(dc.c_info.name, "svm-a");
    assert_int_equal(dc.b_info.max_memkb, 256 * 1024);
    assert_int_equal(dc.b_info.max_vcpus, 1);
    assert_true(libxl_bitmap_test(&dc.b_info.avail_vcpus, 0));
    assert_string_equal(dc.b_info.cmdline, "root=/dev/xvda1 console=ttyS0");
    assert_non_null(dc.b_info.u.hvm.serial_list);
    assert_string_equal(dc.b_info.u.hvm.serial_list[0], "pty");
    assert_string_equal(dc.b_info.u.hvm.serial_list[1], "file:/tmp/s");
    assert_null(dc.b_info.u.hvm.serial_list[2]);
    assert_int_equal(dc.num_disks, 0);
    assert_int_equal(dc.num_nics, 0);
    libxl_domain_config_dispose(&dc);

    assert_int_equal(parse("name='g'\ntype='hvm'\nmemory=64\nextra='quiet'\nstdvga=1\n",
                           "", &dc), 0);
    assert_string_equal(dc.c_info.name, "g" COLO_XEN_SVM_SUFFIX);
    assert_string_equal(dc.b_info.cmdline, "quiet");
    assert_int_equal(dc.b_info.u.hvm.vga.kind, LIBXL_VGA_INTERFACE_TYPE_STD);
    libxl_domain_config_dispose(&dc);
}

static void expect_fail(const char *text)
{
    libxl_domain_config dc;

    if (parse(text, NULL, &dc) != -1)
        fail_msg("config accepted:\n%s", text);
    libxl_domain_config_dispose(&dc);   /* also after a partial parse */
}

static void test_refused(void **state)
{
    expect_fail("name='g'\nmemory=64\n");                            /* PV by default */
    expect_fail("name='g'\ntype='pv'\nmemory=64\n");
    expect_fail("name='g'\ntype='pvh'\nmemory=64\n");
    expect_fail("name='g'\nbuilder='linux'\nmemory=64\n");
    expect_fail("type='hvm'\nmemory=64\n");                          /* no name */
    expect_fail("name='a-name-that-is-long-enough-to-overflow-with-the-suffix-xx'\n"
                "type='hvm'\nmemory=64\n");
    expect_fail("name='g'\ntype='hvm'\n");                           /* no memory */
    expect_fail("name='g'\ntype='hvm'\nmemory='lots'\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=0\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=512\nmaxmem=256\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvcpus=0\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvcpus=4\nmaxvcpus=2\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvif=['bridge=br0']\n");   /* no mac */
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvif=['mac=00:16:3e:00:00']\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvif=['mac=00:16:3e:00:00:0g']\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvif=['mac=00-16-3e-00-00-01']\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvif=['mac=00:16:3e:00:00:01,type=tap']\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvif=['mac=00:16:3e:00:00:01,junk']\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\ndisk=['format=bogus,vdev=hda,target=/x']\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\n"
                "device_model_version='qemu-xen-traditional'\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nvga='hercules'\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nacpi='maybe'\n");
    expect_fail("name='g'\ntype='hvm'\nmemory=64\nthis is not xl syntax\n");
    expect_fail("name='g\ntype='hvm'\n");
    /* cpus: malformed, empty, NUMA, out of range, more entries than vCPUs */
    static const char *const bad_cpus[] = {
        "''", "'x'", "'1,'", "',1'", "'1-'", "'3-1'", "'4096'", "'1;2'", "'^1'",
        "'0-3,^0-3'", "'nodes:0'", "'all,^node:1'", "'99999999999999999999'",
        "['1', '2']", "[]",
    };
    for (size_t i = 0; i < sizeof(bad_cpus) / sizeof(bad_cpus[0]); i++) {
        char text[128];

        snprintf(text, sizeof(text), "name='g'\ntype='hvm'\nmemory=64\ncpus=%s\n", bad_cpus[i]);
        expect_fail(text);
    }
    expect_fail("");
}

static bool cpu_in(const libxl_bitmap *m, unsigned c)
{
    return c / 8 < m->size && (m->map[c / 8] >> (c % 8)) & 1;
}

/* The CPUs of one map as "0,2,5" (up to cpu 63), to compare in one go. */
static const char *cpus_of(const libxl_bitmap *m)
{
    static char buf[256];
    size_t n = 0;

    buf[0] = '\0';
    for (unsigned c = 0; c < 64; c++)
        if (cpu_in(m, c))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%u", n ? "," : "", c);
    return buf;
}

static void test_cpus(void **state)
{
    libxl_domain_config dc;
    libxl_domain_build_info *b = &dc.b_info;

    /* Absent: nothing pinned. */
    assert_int_equal(parse("name='g'\ntype='hvm'\nmemory=64\nvcpus=2\n", NULL, &dc), 0);
    assert_int_equal(b->num_vcpu_hard_affinity, 0);
    libxl_domain_config_dispose(&dc);

    /* A string pins every vCPU (maxvcpus of them) to the same CPUs. */
    assert_int_equal(parse("name='g'\ntype='hvm'\nmemory=64\nvcpus=2\nmaxvcpus=3\n"
                           "cpus='1'\n", NULL, &dc), 0);
    assert_int_equal(b->num_vcpu_hard_affinity, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(cpus_of(&b->vcpu_hard_affinity[i]), "1");
    libxl_domain_config_dispose(&dc);

    assert_int_equal(parse("name='g'\ntype='hvm'\nmemory=64\ncpus='0-5,^2,^4-5,9'\n",
                           NULL, &dc), 0);
    assert_int_equal(b->num_vcpu_hard_affinity, 1);
    assert_string_equal(cpus_of(&b->vcpu_hard_affinity[0]), "0,1,3,9");
    assert_int_equal(b->vcpu_hard_affinity[0].size, 2);
    libxl_domain_config_dispose(&dc);

    assert_int_equal(parse("name='g'\ntype='hvm'\nmemory=64\ncpus='all,^0'\n", NULL, &dc), 0);
    assert_false(cpu_in(&b->vcpu_hard_affinity[0], 0));
    assert_true(cpu_in(&b->vcpu_hard_affinity[0], 1));
    assert_true(cpu_in(&b->vcpu_hard_affinity[0], 4095));
    libxl_domain_config_dispose(&dc);

    /* A list: vCPU i gets entry i. */
    assert_int_equal(parse("name='g'\ntype='hvm'\nmemory=64\nvcpus=3\n"
                           "cpus=['2', '0-1']\n", NULL, &dc), 0);
    assert_int_equal(b->num_vcpu_hard_affinity, 2);
    assert_string_equal(cpus_of(&b->vcpu_hard_affinity[0]), "2");
    assert_string_equal(cpus_of(&b->vcpu_hard_affinity[1]), "0,1");
    libxl_domain_config_dispose(&dc);
}

static void record(const char *key, void *opaque)
{
    char *acc = opaque;

    strcat(acc, key);
    strcat(acc, ";");
}

static void test_unknown_keys(void **state)
{
    static const char text[] =
        "name = 'g'\n"
        "  viridian=1\n"
        "# comment = 1\n"
        "pci = [ '01:00.0' ]\n"
        "vif = [ 'mac=00:16:3e:00:00:01',\n"
        "        'bridge=x' ]\n"
        "memory=64\n"
        "3d = 1\n"
        "on_crash = 'preserve'\n"
        "cpuid=\"host\"";
    char acc[256] = "";

    assert_int_equal(colo_xen_xlcfg_unknown_keys(text, strlen(text), record, acc), 3);
    assert_string_equal(acc, "viridian;pci;cpuid;");
    assert_int_equal(colo_xen_xlcfg_unknown_keys(text, 0, NULL, NULL), 0);
    assert_int_equal(colo_xen_xlcfg_unknown_keys("x", 1, NULL, NULL), 0);
}

static void test_load_file(void **state)
{
    char path[] = "/tmp/test-xen-xlcfg.XXXXXX";
    int fd = mkstemp(path);
    libxl_domain_config dc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, full_cfg, strlen(full_cfg)), (ssize_t)strlen(full_cfg));
    close(fd);
    libxl_domain_config_init(&dc);
    assert_int_equal(colo_xen_xlcfg_load(path, NULL, &dc), 0);
    assert_string_equal(dc.c_info.name, "guest1" COLO_XEN_SVM_SUFFIX);
    libxl_domain_config_dispose(&dc);
    unlink(path);

    libxl_domain_config_init(&dc);
    assert_int_equal(colo_xen_xlcfg_load(path, NULL, &dc), -1);     /* gone */
    libxl_domain_config_dispose(&dc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_svm_name_and_defaults),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_load_file),
    };

    colo_log_init("test-xen-xlcfg", COLO_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
