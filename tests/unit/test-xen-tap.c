/*
 * test-xen-tap.c - finding the taps in a qemu-xen command line (xen-tap.c);
 * putting them back is tested in tests/integration/xen-tap.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "xen/xen-tap.h"

static void test_taps_in_argv(void **state)
{
    /* Shaped like libxl 4.17's arguments for two emulated NICs and a user one. */
    char *argv[] = {
        "qemu", "-xen-domid", "7",
        "-device", "rtl8139,id=nic0,netdev=net0,mac=00:16:3e:00:00:01",
        "-netdev", "type=tap,id=net0,ifname=vif7.0-emu,br=xenbr0,script=no,downscript=no",
        "-netdev", "user,id=net1",
        "-netdev", "tap,id=net2,ifname=t,,x,script=no",
        "-netdev", "type=tap,id=net3,script=no",
        NULL,
    };
    struct colo_xen_tap taps[4];
    const char *why = NULL;

    (void)state;
    assert_int_equal(colo_xen_taps_in_argv(argv, taps, 4, &why), 2);
    assert_string_equal(taps[0].ifname, "vif7.0-emu");
    assert_string_equal(taps[1].ifname, "t,x");
    assert_string_equal(taps[0].master, "");
    /* More than fit: counted, not written past max. */
    assert_int_equal(colo_xen_taps_in_argv(argv, taps, 1, &why), 2);
    assert_string_equal(taps[0].ifname, "vif7.0-emu");

    char *none[] = { "qemu", "-netdev", "user,id=n", "-netdev", NULL };
    assert_int_equal(colo_xen_taps_in_argv(none, taps, 4, &why), 0);

    char *longname[] = { "qemu", "-netdev", "type=tap,ifname=vif12345.67-emu-x", NULL };
    assert_int_equal(colo_xen_taps_in_argv(longname, taps, 4, &why), -1);
    assert_string_equal(why, "a tap -netdev whose ifname is too long");
    char *empty[] = { "qemu", "-netdev", "tap,ifname=,id=n", NULL };
    assert_int_equal(colo_xen_taps_in_argv(empty, taps, 4, &why), -1);
    assert_string_equal(why, "a tap -netdev with an empty ifname");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taps_in_argv),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
