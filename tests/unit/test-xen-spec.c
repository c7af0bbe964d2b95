/*
 * test-xen-spec.c - the xen backend's domain option parser.
 * Needs: libxl-colo/xen/xen-spec.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "xen/xen-spec.h"

static struct colo_xen_spec s;
static char err[256];

static void parse_ok(const char *opts)
{
    err[0] = 'x';
    assert_int_equal(colo_xen_spec_parse(opts, &s, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

/* Parsing fails and the message mentions 'needle' (the bad key or value). */
static void parse_bad(const char *opts, const char *needle)
{
    assert_int_equal(colo_xen_spec_parse(opts, &s, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' for '%s' does not mention '%s'", err, opts, needle);
}

static void test_defaults(void **state)
{
    parse_ok(NULL);
    assert_false(s.has_domid);
    assert_string_equal(s.name, "");
    assert_string_equal(s.state_dir, COLO_XEN_DEFAULT_STATEDIR);
    assert_int_equal(s.timeout_ms, COLO_XEN_DEFAULT_TIMEOUT_MS);
    parse_ok("");
    assert_string_equal(s.qmp_path, "");
    assert_int_equal(s.qemu_state, COLO_XEN_QEMU_AUTO);
    assert_int_equal(s.save, COLO_XEN_SAVE_PAGES);
    assert_int_equal(s.restore, COLO_XEN_RESTORE_PAGES);
}

static void test_all_keys(void **state)
{
    parse_ok("domid=5,qmp=/tmp/q.sock,statedir=/var/tmp,timeout=250");
    assert_true(s.has_domid);
    assert_int_equal(s.domid, 5);
    assert_string_equal(s.qmp_path, "/tmp/q.sock");
    assert_string_equal(s.state_dir, "/var/tmp");
    assert_int_equal(s.timeout_ms, 250);

    parse_ok("name=guest1,config=/etc/xen/guest1.cfg");
    assert_string_equal(s.name, "guest1");
    assert_string_equal(s.config, "/etc/xen/guest1.cfg");
    parse_ok("domid=32751");
    assert_int_equal(s.domid, 32751);
    parse_ok("config=/c,qemu-state=load");
    assert_int_equal(s.qemu_state, COLO_XEN_QEMU_LOAD);
    parse_ok("qemu-state=keep");
    assert_int_equal(s.qemu_state, COLO_XEN_QEMU_KEEP);
    parse_ok("qemu-state=auto");
    assert_int_equal(s.qemu_state, COLO_XEN_QEMU_AUTO);
    parse_ok("config=/c,qemu-state=restart");
    assert_int_equal(s.qemu_state, COLO_XEN_QEMU_RESTART);
    parse_ok("name=g,save=libxenguest");
    assert_int_equal(s.save, COLO_XEN_SAVE_LIBXENGUEST);
    parse_ok("save=pages");
    assert_int_equal(s.save, COLO_XEN_SAVE_PAGES);
    parse_ok("config=/c,restore=libxenguest");
    assert_int_equal(s.restore, COLO_XEN_RESTORE_LIBXENGUEST);
    parse_ok("restore=pages");
    assert_int_equal(s.restore, COLO_XEN_RESTORE_PAGES);
}

static void test_bad_keys_named(void **state)
{
    parse_bad("domain=5", "'domain'");
    parse_bad("domid=5,colour=red", "'colour'");
    parse_bad("domid", "'domid' needs a value");
    parse_bad("=5", "no key");
    parse_bad("domid=5,", "stray ','");
    parse_bad(",domid=5", "stray ','");
    parse_bad("domid=5,,name=x", "stray ','");
    parse_bad("domid=5,domid=6", "'domid' given twice");
    parse_bad("name=", "'name' has an empty value");
}

static void test_bad_values(void **state)
{
    parse_bad("domid=0", "dom0");
    parse_bad("domid=-1", "'domid'");
    parse_bad("domid=5x", "'5x'");
    parse_bad("domid=0x10", "'domid'");
    parse_bad("domid=32752", "'domid'");
    parse_bad("domid=99999999999999999999999", "'domid'");
    parse_bad("domid= 5", "'domid'");
    parse_bad("timeout=0", "'timeout'");
    parse_bad("timeout=600001", "'timeout'");
    parse_bad("timeout=abc", "'timeout'");
    parse_bad("qemu-state=loads", "'qemu-state'");
    parse_bad("qemu-state=", "'qemu-state'");
    parse_bad("qemu-state=restarts", "is not auto, load, restart or keep");
    parse_bad("qemu-state=keep,qemu-state=load", "'qemu-state'");
    parse_bad("save=xc", "is not pages or libxenguest");
    parse_bad("save=libxenguests", "'save'");
    parse_bad("save=", "'save' has an empty value");
    parse_bad("restore=xc", "'restore': 'xc' is not pages or libxenguest");
    parse_bad("restore=", "'restore' has an empty value");
    parse_bad("restore=pages,restore=pages", "'restore'");

    char longname[100];
    memset(longname, 'a', sizeof(longname));
    memcpy(longname, "name=", 5);
    longname[sizeof(longname) - 1] = '\0';
    parse_bad(longname, "'name'");

    char longq[200];
    memset(longq, 'q', sizeof(longq));
    memcpy(longq, "qmp=", 4);
    longq[sizeof(longq) - 1] = '\0';
    parse_bad(longq, "'qmp'");
}

static void test_primary_checks(void **state)
{
    parse_ok("domid=5");
    assert_int_equal(colo_xen_spec_check_primary(&s, "ignored", err, sizeof(err)), 0);
    assert_string_equal(s.name, "");            /* domid wins; no name invented */

    parse_ok("");
    assert_int_equal(colo_xen_spec_check_primary(&s, "guest7", err, sizeof(err)), 0);
    assert_string_equal(s.name, "guest7");      /* spec name stands in */

    parse_ok("");
    assert_int_equal(colo_xen_spec_check_primary(&s, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "domid=N or name=NAME"));

    parse_ok("domid=5,name=g");
    assert_int_equal(colo_xen_spec_check_primary(&s, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'domid' and 'name'"));

    parse_ok("name=g,config=/x.cfg");
    assert_int_equal(colo_xen_spec_check_primary(&s, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'config'"));

    parse_ok("name=g,restore=libxenguest");
    assert_int_equal(colo_xen_spec_check_primary(&s, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'restore' is for the secondary"));

    char longname[100];
    memset(longname, 'n', sizeof(longname));
    longname[sizeof(longname) - 1] = '\0';
    parse_ok("");
    assert_int_equal(colo_xen_spec_check_primary(&s, longname, err, sizeof(err)), -1);
}

static void test_secondary_checks(void **state)
{
    parse_ok("config=/etc/xen/g.cfg");
    assert_int_equal(colo_xen_spec_check_secondary(&s, err, sizeof(err)), 0);
    parse_ok("config=/etc/xen/g.cfg,name=svm1");
    assert_int_equal(colo_xen_spec_check_secondary(&s, err, sizeof(err)), 0);

    parse_ok("name=g");
    assert_int_equal(colo_xen_spec_check_secondary(&s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'config' missing"));

    parse_ok("config=/g.cfg,domid=3");
    assert_int_equal(colo_xen_spec_check_secondary(&s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'domid'"));

    parse_ok("config=/g.cfg,save=libxenguest");
    assert_int_equal(colo_xen_spec_check_secondary(&s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'save' is for the primary"));

    parse_ok("config=/g.cfg,restore=libxenguest,qemu-state=restart");
    assert_int_equal(colo_xen_spec_check_secondary(&s, err, sizeof(err)), 0);
}

static void test_small_error_buffer(void **state)
{
    char tiny[8];

    assert_int_equal(colo_xen_spec_parse("nonsense=1", &s, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);   /* truncated, terminated */
    assert_int_equal(colo_xen_spec_parse("nonsense=1", &s, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_bad_keys_named),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_primary_checks),
        cmocka_unit_test(test_secondary_checks),
        cmocka_unit_test(test_small_error_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
