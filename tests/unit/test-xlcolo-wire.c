/*
 * test-xlcolo-wire.c - the lines the two xl-colo sides exchange over the
 * receiving command's pipe: bounded reads (end of file, overlong lines,
 * silence) and the checks on what arrives.
 * Needs: tools/xlcolo-wire.c, tools/xlcolo-opts.c (libxlcolotool.a).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "xlcolo-cfg.h"
#include "xlcolo-wire.h"

static void assert_contains(const char *s, const char *want)
{
    if (!strstr(s, want))
        fail_msg("'%s' does not contain '%s'", s, want);
}

/* A pipe with `data` in it, the write end closed if `close_it`. */
static int pipe_with(const char *data, size_t len, bool close_it, int *wfd)
{
    int p[2];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], data, len), (ssize_t)len);
    if (close_it)
        close(p[1]);
    else
        *wfd = p[1];
    return p[0];
}

static void test_read_line(void **state)
{
    char buf[16];
    int fd = pipe_with("hello\nworld\n", 12, true, NULL);

    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), 5);
    assert_string_equal(buf, "hello");
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), 5);
    assert_string_equal(buf, "world");
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), -1);
    assert_int_equal(errno, EPIPE);
    close(fd);

    fd = pipe_with("\n", 1, true, NULL);        /* an empty line is a line */
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), 0);
    assert_string_equal(buf, "");
    close(fd);

    fd = pipe_with("half a li", 9, true, NULL); /* the writer died mid-line */
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), -1);
    assert_int_equal(errno, EPIPE);
    close(fd);

    fd = pipe_with("0123456789abcdef\n", 17, true, NULL);    /* 16 chars do not fit in 16 */
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), -1);
    assert_int_equal(errno, EMSGSIZE);
    close(fd);
    fd = pipe_with("0123456789abcde\n", 16, true, NULL);     /* 15 do */
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 1000), 15);
    close(fd);
}

static void test_read_line_timeout(void **state)
{
    char buf[16];
    int w, fd = pipe_with("slow", 4, false, &w);
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(xlc_read_line(fd, buf, sizeof(buf), 150), -1);
    assert_int_equal(errno, ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 140 && ms < 2000);
    close(w);
    close(fd);
}

static void test_read_exact(void **state)
{
    char buf[8];
    int w, fd = pipe_with("abcdefgh", 8, true, NULL);

    assert_int_equal(xlc_read_exact(fd, buf, 8, 1000), 0);
    assert_memory_equal(buf, "abcdefgh", 8);
    close(fd);
    fd = pipe_with("abc", 3, true, NULL);
    assert_int_equal(xlc_read_exact(fd, buf, 8, 1000), -1);
    assert_int_equal(errno, EPIPE);
    close(fd);
    fd = pipe_with("abc", 3, false, &w);
    assert_int_equal(xlc_read_exact(fd, buf, 8, 100), -1);
    assert_int_equal(errno, ETIMEDOUT);
    close(w);
    close(fd);
}

static void test_config_header(void **state)
{
    char name[64], err[256];
    size_t len = 0;

    assert_int_equal(xlc_parse_config_header("config vm1 123", name, sizeof(name), &len, err,
                                             sizeof(err)), 0);
    assert_string_equal(name, "vm1");
    assert_int_equal(len, 123);
    assert_int_equal(xlc_parse_config_header("config vm1 1048576", name, sizeof(name), &len,
                                             err, sizeof(err)), 0);

    static const struct { const char *line, *want; } bad[] = {
        { "conf vm1 12", "expected 'config NAME LEN'" },
        { "config", "expected 'config NAME LEN'" },
        { "config vm1", "without NAME and LEN" },
        { "config  12", "without NAME and LEN" },
        { "config ../etc 12", "may not start with '.'" },
        { "config a/b 12", "has '/'" },
        { "config vm1 0", "outside 1..1048576" },
        { "config vm1 1048577", "outside 1..1048576" },
        { "config vm1 99999999999", "is not a size" },
        { "config vm1 -1", "is not a size" },
        { "config vm1 12 extra", "is not a size" },
        { "config vm1 ", "is not a size" },
        { "config vm1 1x", "is not a size" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(xlc_parse_config_header(bad[i].line, name, sizeof(name), &len, err,
                                                 sizeof(err)), -1);
        assert_contains(err, bad[i].want);
    }
}

static void test_reply(void **state)
{
    const char *arg;

    assert_int_equal(xlc_parse_reply("ready 10.0.0.2:41234", &arg), XLC_REPLY_READY);
    assert_string_equal(arg, "10.0.0.2:41234");
    assert_int_equal(xlc_parse_reply("error no such thing", &arg), XLC_REPLY_ERROR);
    assert_string_equal(arg, "no such thing");
    assert_int_equal(xlc_parse_reply("ready ", &arg), XLC_REPLY_BAD);
    assert_int_equal(xlc_parse_reply("ready", &arg), XLC_REPLY_BAD);
    assert_int_equal(xlc_parse_reply("READY x", &arg), XLC_REPLY_BAD);
    assert_int_equal(xlc_parse_reply("", &arg), XLC_REPLY_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_line),
        cmocka_unit_test(test_read_line_timeout),
        cmocka_unit_test(test_read_exact),
        cmocka_unit_test(test_config_header),
        cmocka_unit_test(test_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
