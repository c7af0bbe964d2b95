/*
 * test-xlcolo-opts.c - xl-colo's command lines: what goes to xl, what is
 * refused and why, the receiving side's command, names and addresses.
 * Needs: tools/xlcolo-opts.c (libxlcolotool.a).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xlcolo-opts.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define REMUS(o, err, ...) xlc_parse_remus(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, err, sizeof(err))
#define RECV(o, err, ...) xlc_parse_receive(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, err, sizeof(err))

static void assert_contains(const char *s, const char *want)
{
    if (!strstr(s, want))
        fail_msg("'%s' does not contain '%s'", s, want);
}

static void test_remus_without_colo_goes_to_xl(void **state)
{
    struct xlc_remus_opts o;
    char err[256];

    assert_int_equal(REMUS(&o, err, "remus", "vm1", "host2"), XLC_PARSE_XL);
    assert_int_equal(REMUS(&o, err, "remus", "-i", "100", "-b", "-F", "vm1", "host2"), XLC_PARSE_XL);
    /* xl judges its own mistakes, even ones xl-colo would refuse */
    assert_int_equal(REMUS(&o, err, "remus", "-Z", "vm1"), XLC_PARSE_XL);
    assert_int_equal(REMUS(&o, err, "remus", "-p", "vm1", "host2"), XLC_PARSE_XL);
    assert_int_equal(REMUS(&o, err, "remus", "--help"), XLC_PARSE_HELP);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-h"), XLC_PARSE_HELP);
}

static void test_remus_every_option(void **state)
{
    struct xlc_remus_opts o;
    char err[256];

    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "host2"), XLC_PARSE_OK);
    assert_true(o.colo);
    assert_false(o.interval_set);
    assert_int_equal(o.interval_ms, XLC_DEFAULT_INTERVAL_MS);
    assert_string_equal(o.ssh, "ssh");
    assert_string_equal(o.domain, "vm1");
    assert_string_equal(o.host, "host2");
    assert_false(o.no_daemon || o.unsafe || o.userspace_proxy || o.no_compression);
    assert_null(o.netbufscript);
    assert_null(o.config);

    assert_int_equal(REMUS(&o, err, "remus", "-i", "500", "-u", "-s", "ssh -p 2222", "-e", "-N",
                           "/etc/xen/scripts/colo-proxy-setup", "-F", "-p", "-C", "/etc/xen/g.cfg",
                           "--colo", "7", "root@host2"), XLC_PARSE_OK);
    assert_true(o.colo && o.interval_set && o.no_compression && o.no_daemon && o.unsafe &&
                o.userspace_proxy);
    assert_int_equal(o.interval_ms, 500);
    assert_string_equal(o.ssh, "ssh -p 2222");
    assert_string_equal(o.netbufscript, "/etc/xen/scripts/colo-proxy-setup");
    assert_string_equal(o.config, "/etc/xen/g.cfg");
    assert_string_equal(o.domain, "7");
    assert_string_equal(o.host, "root@host2");

    assert_int_equal(o.io_timeout_ms, 0);
    assert_int_equal(o.peer_timeout_ms, 0);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--io-timeout", "30000", "--peer-timeout=15000",
                           "vm1", "h"), XLC_PARSE_OK);
    assert_int_equal(o.io_timeout_ms, 30000);
    assert_int_equal(o.peer_timeout_ms, 15000);
    assert_null(o.save);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--save", "libxenguest", "vm1", "h"), XLC_PARSE_OK);
    assert_string_equal(o.save, "libxenguest");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--save=pages", "vm1", "h"), XLC_PARSE_OK);
    assert_string_equal(o.save, "pages");

    /* clustered letters, options after the operands, -i 0 */
    assert_int_equal(REMUS(&o, err, "remus", "vm1", "-ec", "host2", "-i0"), XLC_PARSE_OK);
    assert_true(o.colo && o.no_daemon);
    assert_int_equal(o.interval_ms, 0);
    assert_string_equal(o.host, "host2");
    /* -s "" : HOST is the command */
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-s", "", "vm1", "xl-colo migrate-receive --colo"),
                     XLC_PARSE_OK);
    assert_string_equal(o.ssh, "");
}

static void test_remus_leaves_argv_alone(void **state)
{
    char *argv[] = { "remus", "vm1", "-c", "host2", "-e", NULL };
    struct xlc_remus_opts o;
    char err[256];

    assert_int_equal(xlc_parse_remus(5, argv, &o, err, sizeof(err)), XLC_PARSE_OK);
    assert_string_equal(argv[1], "vm1");
    assert_string_equal(argv[2], "-c");
    assert_string_equal(argv[3], "host2");
    assert_string_equal(argv[4], "-e");
    /* and a second parse starts afresh */
    assert_int_equal(xlc_parse_remus(5, argv, &o, err, sizeof(err)), XLC_PARSE_OK);
    assert_string_equal(o.domain, "vm1");
}

static void test_remus_conflicts_as_xl(void **state)
{
    struct xlc_remus_opts o;
    char err[256];

    assert_int_equal(REMUS(&o, err, "remus", "-c", "-b", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-c conflicts with -b:");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-n", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-c conflicts with -n:");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-d", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-c conflicts with -d:");
    assert_int_equal(REMUS(&o, err, "remus", "-cbnd", "-F", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-c conflicts with -b, -n, -d:");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-n", "-d", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-c conflicts with -n, -d:");
}

static void test_remus_malformed(void **state)
{
    struct xlc_remus_opts o;
    char err[256];

    assert_int_equal(REMUS(&o, err, "remus", "-c", "-i", "abc", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-i 'abc' is not a number of milliseconds");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-i", "-5", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-i '-5'");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-i", "86400001", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-i '86400001'");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-i", "", "vm1", "h"), XLC_PARSE_ERROR);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "h", "-i"), XLC_PARSE_ERROR);
    assert_contains(err, "option -i needs a value");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-Z", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "unknown option -Z");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--bogus", "vm1", "h"), XLC_PARSE_ERROR);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1"), XLC_PARSE_ERROR);
    assert_contains(err, "a DOMAIN and a HOST are needed");
    assert_int_equal(REMUS(&o, err, "remus", "-c"), XLC_PARSE_ERROR);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "h", "extra"), XLC_PARSE_ERROR);
    assert_contains(err, "unexpected argument 'extra'");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "DOMAIN is empty");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", ""), XLC_PARSE_ERROR);
    assert_contains(err, "HOST is empty");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-N", "", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-N");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-C", "", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "-C");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--io-timeout", "0", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "--io-timeout '0' is not a number of milliseconds (1-86400000)");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--peer-timeout", "soon", "vm1", "h"),
                     XLC_PARSE_ERROR);
    assert_contains(err, "--peer-timeout 'soon'");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--save", "xc", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "--save 'xc' is not pages or libxenguest");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "h", "--save"), XLC_PARSE_ERROR);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--restore", "xc", "vm1", "h"), XLC_PARSE_ERROR);
    assert_contains(err, "--restore 'xc' is not pages or libxenguest");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--net-layout", "mirrors", "vm1", "h"),
                     XLC_PARSE_ERROR);
    assert_contains(err, "--net-layout 'mirrors' is not flows or inline");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "h"), XLC_PARSE_OK);
    assert_null(o.net_layout);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--net-layout", "inline", "vm1", "h"),
                     XLC_PARSE_OK);
    assert_string_equal(o.net_layout, "inline");
}

static void test_receive(void **state)
{
    struct xlc_receive_opts o;
    char err[256];

    assert_int_equal(RECV(&o, err, "migrate-receive"), XLC_PARSE_XL);
    assert_int_equal(RECV(&o, err, "migrate-receive", "-r", "-e"), XLC_PARSE_XL);
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo"), XLC_PARSE_OK);
    assert_string_equal(o.listen, XLC_DEFAULT_LISTEN);
    assert_false(o.no_daemon || o.debug || o.userspace_proxy);
    assert_null(o.script);
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "-e", "-d", "-p",
                          "--coloft-script", "/s", "--userspace-colo-proxy", "--listen",
                          "[::1]:0"), XLC_PARSE_OK);
    assert_true(o.no_daemon && o.debug && o.pause && o.userspace_proxy);
    assert_string_equal(o.script, "/s");
    assert_string_equal(o.listen, "[::1]:0");
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--io-timeout", "30000",
                          "--peer-timeout", "15000"), XLC_PARSE_OK);
    assert_int_equal(o.io_timeout_ms, 30000);
    assert_int_equal(o.peer_timeout_ms, 15000);
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--io-timeout", "-1"),
                     XLC_PARSE_ERROR);
    assert_contains(err, "--io-timeout '-1'");
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "-F"), XLC_PARSE_OK);
    assert_true(o.no_daemon);
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--listen", "10.0.0.2:8790"),
                     XLC_PARSE_OK);
    assert_null(o.restore);
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--restore", "libxenguest"),
                     XLC_PARSE_OK);
    assert_string_equal(o.restore, "libxenguest");
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--restore=page"),
                     XLC_PARSE_ERROR);
    assert_contains(err, "--restore 'page' is not pages or libxenguest");
    assert_null(o.net_layout);
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--net-layout", "flows"),
                     XLC_PARSE_OK);
    assert_string_equal(o.net_layout, "flows");
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--net-layout", ""),
                     XLC_PARSE_ERROR);
    assert_contains(err, "--net-layout '' is not flows or inline");

    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "-r"), XLC_PARSE_ERROR);
    assert_contains(err, "--colo and -r");
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "vm1"), XLC_PARSE_ERROR);
    assert_contains(err, "takes no arguments ('vm1')");
    assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "-x"), XLC_PARSE_ERROR);
    assert_contains(err, "unknown option -x");
    static const char *const bad[] = { "bogus", "unix:/run/x", "1.2.3.4:99999", ":5", "h:",
                                       "h:p", "[::1:5", "a b:5", "h,x:5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(RECV(&o, err, "migrate-receive", "--colo", "--listen", (char *)bad[i]),
                         XLC_PARSE_ERROR);
        assert_contains(err, "--listen");
        assert_contains(err, bad[i]);
    }
}

static void test_receiver_command(void **state)
{
    struct xlc_remus_opts o;
    char err[256], *s;

    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "host2"), XLC_PARSE_OK);
    s = xlc_receiver_command(&o);
    assert_string_equal(s, "exec ssh host2 xl-colo migrate-receive --colo");
    free(s);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-e", "-p", "-N", "/x/colo-proxy", "-s",
                           "ssh -i key", "vm1", "root@host2"), XLC_PARSE_OK);
    s = xlc_receiver_command(&o);
    assert_string_equal(s, "exec ssh -i key root@host2 xl-colo migrate-receive --colo "
                           "--coloft-script /x/colo-proxy --userspace-colo-proxy -e");
    free(s);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--io-timeout", "30000", "--peer-timeout",
                           "15000", "vm1", "host2"), XLC_PARSE_OK);
    s = xlc_receiver_command(&o);
    assert_string_equal(s, "exec ssh host2 xl-colo migrate-receive --colo --io-timeout 30000 "
                           "--peer-timeout 15000");
    free(s);
    /* --restore is the receiving side's: passed on, --save stays here */
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--save", "libxenguest", "--restore",
                           "libxenguest", "vm1", "host2"), XLC_PARSE_OK);
    s = xlc_receiver_command(&o);
    assert_string_equal(s, "exec ssh host2 xl-colo migrate-receive --colo --restore libxenguest");
    free(s);
    /* --net-layout is both sides': passed on */
    assert_int_equal(REMUS(&o, err, "remus", "-c", "--net-layout", "inline", "vm1", "host2"),
                     XLC_PARSE_OK);
    s = xlc_receiver_command(&o);
    assert_string_equal(s, "exec ssh host2 xl-colo migrate-receive --colo --net-layout inline");
    free(s);
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-e", "-s", "", "vm1", "my command 'x'"),
                     XLC_PARSE_OK);
    s = xlc_receiver_command(&o);
    assert_string_equal(s, "my command 'x'");
    free(s);
}

static void test_names(void **state)
{
    char err[256];
    char longname[80];

    assert_int_equal(xlc_check_name("vm1", err, sizeof(err)), 0);
    assert_int_equal(xlc_check_name("Web_01.prod-a", err, sizeof(err)), 0);
    assert_int_equal(xlc_check_name("", err, sizeof(err)), -1);
    assert_int_equal(xlc_check_name("a/b", err, sizeof(err)), -1);
    assert_contains(err, "'/'");
    assert_int_equal(xlc_check_name("..", err, sizeof(err)), -1);
    assert_int_equal(xlc_check_name("-x", err, sizeof(err)), -1);
    assert_int_equal(xlc_check_name("a,b", err, sizeof(err)), -1);
    assert_int_equal(xlc_check_name("a b", err, sizeof(err)), -1);
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_int_equal(xlc_check_name(longname, err, sizeof(err)), -1);
    longname[63] = '\0';
    assert_int_equal(xlc_check_name(longname, err, sizeof(err)), 0);
}

static void test_peer_address(void **state)
{
    struct xlc_remus_opts o;
    char err[256], out[300];

    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "root@host2"), XLC_PARSE_OK);
    assert_int_equal(xlc_peer_address("10.1.2.3:8790", &o, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "10.1.2.3:8790");
    assert_int_equal(xlc_peer_address("0.0.0.0:41234", &o, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "host2:41234");
    assert_int_equal(xlc_peer_address("[::]:41234", &o, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "host2:41234");
    assert_int_equal(xlc_peer_address("[fd00::2]:7", &o, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "[fd00::2]:7");
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "fd00::9"), XLC_PARSE_OK);
    assert_int_equal(xlc_peer_address("0.0.0.0:5", &o, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "[fd00::9]:5");

    static const char *const bad[] = { "0.0.0.0:0", "x", "1.2.3.4:", "1.2.3.4:70000",
                                       "a b:5", ":5", "1.2.3.4:5x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(xlc_peer_address(bad[i], &o, out, sizeof(out), err, sizeof(err)), -1);
        assert_contains(err, "malformed address");
    }
    /* -s "": HOST is a command, so a wildcard address cannot be resolved */
    assert_int_equal(REMUS(&o, err, "remus", "-c", "-s", "", "vm1", "xl-colo migrate-receive --colo"),
                     XLC_PARSE_OK);
    assert_int_equal(xlc_peer_address("0.0.0.0:5", &o, out, sizeof(out), err, sizeof(err)), -1);
    assert_contains(err, "--listen ADDR:PORT");
    assert_int_equal(xlc_peer_address("127.0.0.1:5", &o, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "127.0.0.1:5");
    /* ssh options in HOST: no address can be read out of it */
    assert_int_equal(REMUS(&o, err, "remus", "-c", "vm1", "host2 -p 22"), XLC_PARSE_OK);
    assert_int_equal(xlc_peer_address("0.0.0.0:5", &o, out, sizeof(out), err, sizeof(err)), -1);
    assert_contains(err, "cannot tell the secondary's address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remus_without_colo_goes_to_xl),
        cmocka_unit_test(test_remus_every_option),
        cmocka_unit_test(test_remus_leaves_argv_alone),
        cmocka_unit_test(test_remus_conflicts_as_xl),
        cmocka_unit_test(test_remus_malformed),
        cmocka_unit_test(test_receive),
        cmocka_unit_test(test_receiver_command),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_peer_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
