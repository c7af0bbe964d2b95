/*
 * test-stream-addr.c - stream port addresses in QEMU's socket chardev
 * syntax: what each form means, and a clear refusal of everything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <cmocka.h>

#include "stream-addr.h"

static struct stream_addr a;
static char err[160];

static void ok(const char *spec)
{
    err[0] = '\0';
    if (stream_addr_parse(spec, &a, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", spec, err);
}

static void refused(const char *spec, const char *why)
{
    err[0] = '\0';
    assert_int_equal(stream_addr_parse(spec, &a, err, sizeof(err)), -1);
    if (!strstr(err, why))
        fail_msg("'%s': expected an error naming '%s', got '%s'", spec, why, err);
}

static void test_unix(void **state)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;

    (void)state;
    ok("unix:/run/colo/pin.sock");
    assert_int_equal(sun->sun_family, AF_UNIX);
    assert_string_equal(sun->sun_path, "/run/colo/pin.sock");
    assert_false(a.server);
    assert_int_equal(a.reconnect_ms, 1000);
    assert_string_equal(a.text, "unix:/run/colo/pin.sock");
    ok("unix:/tmp/x,server=on,wait=off");
    assert_true(a.server);
    ok("unix:/tmp/x,server");
    assert_true(a.server);
    ok("unix:/tmp/x,server=off,reconnect=5");
    assert_false(a.server);
    assert_int_equal(a.reconnect_ms, 5000);
    ok("unix:/tmp/x,reconnect=0");
    assert_int_equal(a.reconnect_ms, 1000);
}

static void test_tcp(void **state)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.sa;

    (void)state;
    ok("tcp:127.0.0.1:9003");
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 9003);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_string_equal(a.text, "127.0.0.1:9003");
    ok("tcp::9004,server=on,wait=off");                 /* every address */
    assert_true(a.server);
    assert_int_equal(ntohs(sin->sin_port), 9004);
    ok("tcp:[::1]:9005,nodelay=on");
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 9005);
    assert_string_equal(a.text, "[::1]:9005");
}

static void test_chardev_form(void **state)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;

    (void)state;
    ok("socket,id=compare1,host=127.0.0.1,port=9004,server=on,wait=off");
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 9004);
    assert_true(a.server);
    ok("socket,id=compare0-0,host=127.0.0.1,port=9001");
    assert_false(a.server);
    ok("socket,path=/tmp/out.sock,server=on");
    assert_int_equal(sun->sun_family, AF_UNIX);
    assert_string_equal(sun->sun_path, "/tmp/out.sock");
}

static void test_refused(void **state)
{
    char longpath[200];

    (void)state;
    memset(longpath, 'a', sizeof(longpath));
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof(longpath) - 1] = '\0';
    refused("", "empty address");
    refused("udp:1.2.3.4:5", "is not unix:PATH, tcp:HOST:PORT or socket");
    refused("/tmp/x.sock", "is not unix:PATH");
    refused("unix:", "empty unix socket path");
    refused(longpath, "is longer than");
    refused("tcp:127.0.0.1", "is not tcp:HOST:PORT");
    refused("tcp:[::1:80", "is not tcp:HOST:PORT");
    refused("tcp:127.0.0.1:0", "port '0' is not a number from 1 to 65535");
    refused("tcp:127.0.0.1:70000", "port '70000'");
    refused("tcp:127.0.0.1:http", "port 'http'");
    refused("tcp::9000", "a client needs a host");
    refused("tcp:no-such-host.invalid:9000", "host 'no-such-host.invalid'");
    refused("unix:/tmp/x,server=maybe", "option server=maybe: expected on or off");
    refused("unix:/tmp/x,reconnect=-1", "option reconnect=-1");
    refused("unix:/tmp/x,reconnect=soon", "option reconnect=soon");
    refused("unix:/tmp/x,reconnect", "unknown option 'reconnect'");
    refused("unix:/tmp/x,telnet=on", "unknown option 'telnet'");
    refused("unix:/tmp/x,path=/y", "unknown option 'path'");
    refused("socket,id=x", "no path= or port= given");
    refused("socket,path=/a,port=9", "both a path and a host/port");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_chardev_form),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
