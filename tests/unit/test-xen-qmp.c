/*
 * test-xen-qmp.c - the xen backend's QMP client against a fake QMP server
 * (a thread on a socketpair or a unix socket), including malformed JSON,
 * error replies, events, foreign ids, EOF, over-long and over-deep lines,
 * and timeouts.  Needs: libxl-colo/xen/qmp.c, libxl-colo/colo-log.c;
 * yajl, pthread.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <yajl/yajl_tree.h>

#include "colo-log.h"
#include "xen/qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, " \
                 "\"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_OK  "{\"return\": {}, \"id\": $ID}\r\n"

/* One exchange of the fake server. */
struct step {
    const char *expect;     /* command it must read next; NULL: read nothing */
    const char *reply;      /* text to send ("$ID" = the command's id); NULL: send nothing
                               and wait for the client to hang up; "": hang up at once */
    size_t repeat;          /* send reply this many times (0 = once), for huge lines */
    size_t len;             /* > 0: send exactly len bytes of reply, verbatim (NULs too) */
};

struct fake {
    int fd;
    int listen_fd;          /* >= 0: accept one connection on it first */
    const struct step *steps;
    size_t nsteps;
    char last[4096];        /* the last command line read */
    char problem[256];      /* what went wrong on the server side, if anything */
};

/* Read one line (without '\n'); false at EOF or error. */
static bool read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r <= 0)
            return false;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return true;
}

static bool send_text(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

/* Send reply with each "$ID" replaced by id (JSON text). */
static bool send_reply(int fd, const char *reply, const char *id)
{
    char out[8192];
    size_t o = 0;

    for (const char *p = reply; *p && o < sizeof(out) - 64; ) {
        if (strncmp(p, "$ID", 3) == 0) {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", id);
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    return send_text(fd, out, o);
}

static void *server(void *arg)
{
    struct fake *f = arg;
    char line[4096];

    if (f->listen_fd >= 0) {
        f->fd = accept(f->listen_fd, NULL, NULL);
        if (f->fd < 0) {
            snprintf(f->problem, sizeof(f->problem), "accept failed");
            return NULL;
        }
    }
    for (size_t i = 0; i < f->nsteps; i++) {
        const struct step *s = &f->steps[i];
        char id[128] = "null";

        if (s->expect) {
            yajl_val v, ex, vid;
            const char *pe[] = { "execute", NULL }, *pi[] = { "id", NULL };

            if (!read_line(f->fd, line, sizeof(line)))
                goto out;           /* the client hung up: fine */
            snprintf(f->last, sizeof(f->last), "%s", line);
            v = yajl_tree_parse(line, NULL, 0);
            ex = v ? yajl_tree_get(v, pe, yajl_t_string) : NULL;
            vid = v ? yajl_tree_get(v, pi, yajl_t_string) : NULL;
            if (!ex || !ex->u.string || strcmp(ex->u.string, s->expect) != 0)
                snprintf(f->problem, sizeof(f->problem), "expected %s, got %.200s",
                         s->expect, line);
            if (vid && vid->u.string)
                snprintf(id, sizeof(id), "\"%.100s\"", vid->u.string);
            yajl_tree_free(v);
        }
        if (s->reply && !s->reply[0] && !s->len)
            goto out;               /* "": hang up now */
        if (!s->reply) {
            while (read_line(f->fd, line, sizeof(line)))
                ;
            goto out;
        }
        for (size_t r = 0; r < (s->repeat ? s->repeat : 1); r++)
            if (s->len ? !send_text(f->fd, s->reply, s->len) : !send_reply(f->fd, s->reply, id))
                goto out;
    }
    /* Wait for the client to hang up, so it never sees EOF early. */
    while (read_line(f->fd, line, sizeof(line)))
        ;
out:
    close(f->fd);
    return NULL;
}

struct harness {
    struct fake f;
    pthread_t tid;
};

/* Start the fake server on a socketpair and open a client on it. */
static int start(struct harness *h, const struct step *steps, size_t n, unsigned timeout_ms,
                 struct colo_qmp **q)
{
    int sv[2], rc;

    memset(h, 0, sizeof(*h));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    h->f.fd = sv[1];
    h->f.listen_fd = -1;
    h->f.steps = steps;
    h->f.nsteps = n;
    assert_int_equal(pthread_create(&h->tid, NULL, server, &h->f), 0);
    rc = colo_qmp_open_fd(sv[0], "fake", timeout_ms, q);
    return rc;
}

static void finish(struct harness *h, struct colo_qmp *q)
{
    colo_qmp_close(q);
    pthread_join(h->tid, NULL);
    if (h->f.problem[0])
        fail_msg("fake server: %s", h->f.problem);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_happy_path(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "query-status", "{\"return\": {\"status\": \"paused\", \"running\": false}, "
                          "\"id\": $ID}\r\n", 0, 0 },
        { "stop", "{\"return\": {}, \"id\": $ID}\r\n", 0, 0 },
    };
    struct harness h;
    struct colo_qmp *q;
    struct colo_qmp_reply *r;
    const char *path[] = { "status", NULL };

    assert_int_equal(start(&h, steps, N(steps), 2000, &q), 0);
    assert_int_equal(colo_qmp_execute(q, "query-status", NULL, 0, &r), 0);
    yajl_val st = yajl_tree_get(colo_qmp_reply_value(r), path, yajl_t_string);
    assert_non_null(st);
    assert_string_equal(YAJL_GET_STRING(st), "paused");
    colo_qmp_reply_free(r);
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), 0);
    assert_string_equal(colo_qmp_last_error(q), "");
    finish(&h, q);
}

static void test_arguments_encoded(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "xen-save-devices-state", "{\"return\": {}, \"id\": $ID}\r\n", 0, 0 },
    };
    struct colo_qmp_arg args[] = {
        { .key = "filename", .type = COLO_QMP_STR, .s = "/tmp/a\"b\\c\n" },
        { .key = "live", .type = COLO_QMP_BOOL, .b = false },
        { .key = "n", .type = COLO_QMP_INT, .i = -42 },
    };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, steps, N(steps), 2000, &q), 0);
    assert_int_equal(colo_qmp_execute(q, "xen-save-devices-state", args, 3, NULL), 0);
    finish(&h, q);
    /* The server saw valid JSON with the escapes in place. */
    yajl_val v = yajl_tree_parse(h.f.last, NULL, 0);
    const char *pf[] = { "arguments", "filename", NULL }, *pl[] = { "arguments", "live", NULL };
    const char *pn[] = { "arguments", "n", NULL };
    assert_non_null(v);
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, pf, yajl_t_string)), "/tmp/a\"b\\c\n");
    assert_true(YAJL_IS_FALSE(yajl_tree_get(v, pl, yajl_t_any)));
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, pn, yajl_t_number)), -42);
    yajl_tree_free(v);
}

static void test_invalid_utf8_not_sent(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "stop", "{\"return\": {}, \"id\": $ID}\r\n", 0, 0 },
    };
    struct colo_qmp_arg bad = { .key = "filename", .type = COLO_QMP_STR, .s = "\xff\xfe" };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, steps, N(steps), 2000, &q), 0);
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "xen-load-devices-state", &bad, 1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    /* Nothing went out, so the session is still good. */
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), 0);
    finish(&h, q);
}

static void test_events_blank_lines_foreign_ids(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", "\r\n{\"event\": \"RESUME\", \"timestamp\": {}}\r\n" CAPS_OK, 0, 0 },
        { "cont", "{\"event\": \"RESUME\"}\n\n{\"return\": {}, \"id\": \"someone-else\"}\n"
                  "{\"return\": {}, \"id\": $ID}\n", 0, 0 },
        { "stop", "{\"return\": {}}\n", 0, 0 },        /* no id at all: accepted */
    };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, steps, N(steps), 2000, &q), 0);
    assert_int_equal(colo_qmp_execute(q, "cont", NULL, 0, NULL), 0);
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), 0);
    finish(&h, q);
}

static void test_error_reply(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "xen-load-devices-state", "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                                    "\"Cannot update device state while vm is running\"}, "
                                    "\"id\": $ID}\r\n", 0, 0 },
        { "stop", "{\"error\": {}, \"id\": $ID}\r\n", 0, 0 },
        { "cont", "{\"error\": {\"class\": 7}, \"id\": $ID}\r\n", 0, 0 },
        { "cont", "{\"return\": {}, \"id\": $ID}\r\n", 0, 0 },
    };
    struct harness h;
    struct colo_qmp *q;
    struct colo_qmp_reply *r = (void *)1;

    assert_int_equal(start(&h, steps, N(steps), 2000, &q), 0);
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "xen-load-devices-state", NULL, 0, &r), -1);
    assert_int_equal(errno, EIO);
    assert_null(r);
    assert_string_equal(colo_qmp_last_error(q),
                        "GenericError: Cannot update device state while vm is running");
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), -1);
    assert_string_equal(colo_qmp_last_error(q), "(no class): (no description)");
    assert_int_equal(colo_qmp_execute(q, "cont", NULL, 0, NULL), -1);
    /* An error reply leaves the session usable. */
    assert_int_equal(colo_qmp_execute(q, "cont", NULL, 0, NULL), 0);
    assert_string_equal(colo_qmp_last_error(q), "");
    finish(&h, q);
}

/* A greeting that is not one: open fails with EPROTO. */
static void bad_greeting_n(const char *greeting, size_t len)
{
    const struct step steps[] = { { NULL, greeting, 0, len } };
    struct harness h;
    struct colo_qmp *q = (void *)1;

    errno = 0;
    assert_int_equal(start(&h, steps, 1, 2000, &q), -1);
    assert_int_equal(errno, EPROTO);
    assert_null(q);
    finish(&h, NULL);
}

static void bad_greeting(const char *greeting)
{
    bad_greeting_n(greeting, 0);
}

static void test_bad_greetings(void **state)
{
    bad_greeting("this is not json\r\n");
    bad_greeting("{\"QMP\": \r\n");
    bad_greeting("{\"foo\": 1}\r\n");
    bad_greeting("{\"QMP\": 1}\r\n");
    bad_greeting("[1, 2, 3]\r\n");
    bad_greeting("\"QMP\"\r\n");
    bad_greeting("{\"QMP\": {}} {\"QMP\": {}}\r\n");
    static const char nul[] = "{\"QMP\": {}\0}\r\n";
    bad_greeting_n(nul, sizeof(nul) - 1);
}

static void test_capabilities_refused(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no\"},"
                              " \"id\": $ID}\n", 0, 0 },
    };
    struct harness h;
    struct colo_qmp *q;

    errno = 0;
    assert_int_equal(start(&h, steps, N(steps), 2000, &q), -1);
    assert_int_equal(errno, EIO);
    finish(&h, NULL);
}

/* After a greeting and capabilities, 'reply' answers 'cmd'; expect failure with err. */
static void bad_reply_n(const char *reply, size_t len, int err, unsigned timeout_ms)
{
    const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "stop", reply, 0, len },
    };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, steps, N(steps), timeout_ms, &q), 0);
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), -1);
    assert_int_equal(errno, err);
    /* The connection is unusable now, and says so without touching the socket. */
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "cont", NULL, 0, NULL), -1);
    assert_int_equal(errno, EPIPE);
    finish(&h, q);
}

static void bad_reply(const char *reply, int err, unsigned timeout_ms)
{
    bad_reply_n(reply, 0, err, timeout_ms);
}

static void test_malformed_replies(void **state)
{
    static const char nul[] = "{\"ret\0urn\": {}}\n";

    bad_reply("{\"return\": {}\r\n", EPROTO, 2000);                  /* truncated JSON */
    bad_reply("{\"return\": {}, \"id\": $ID}}\r\n", EPROTO, 2000);   /* trailing junk */
    bad_reply("[\"return\"]\n", EPROTO, 2000);                       /* not an object */
    bad_reply("42\n", EPROTO, 2000);
    bad_reply("{\"id\": $ID}\n", EPROTO, 2000);                      /* neither */
    bad_reply("{\"error\": \"string\", \"id\": $ID}\n", EPROTO, 2000);
    bad_reply("{\"return\": \"\xff\xfe\", \"id\": $ID}\n", EPROTO, 2000); /* bad UTF-8 */
    bad_reply_n(nul, sizeof(nul) - 1, EPROTO, 2000);                /* NUL inside */
    bad_reply(NULL, ETIMEDOUT, 200);                                 /* silence */
}

static void test_eof(void **state)
{
    static const struct step mid_line[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "stop", "{\"return\": {}", 0, 0 },
        { NULL, "", 0, 0 },
    };
    static const struct step before_reply[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "stop", "", 0, 0 },
    };
    static const struct step before_greeting[] = { { NULL, "", 0, 0 } };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, mid_line, N(mid_line), 2000, &q), 0);
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), -1);
    assert_int_equal(errno, ECONNRESET);
    finish(&h, q);

    assert_int_equal(start(&h, before_reply, N(before_reply), 2000, &q), 0);
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), -1);
    assert_int_equal(errno, ECONNRESET);
    finish(&h, q);

    errno = 0;
    assert_int_equal(start(&h, before_greeting, 1, 2000, &q), -1);
    assert_int_equal(errno, ECONNRESET);
    finish(&h, NULL);
}

static void test_deep_nesting(void **state)
{
    static char deep[20000];
    size_t n = 0;

    n += (size_t)snprintf(deep, sizeof(deep), "{\"return\": ");
    for (int i = 0; i < 5000; i++)
        deep[n++] = '[';
    deep[n++] = '\n';
    deep[n] = '\0';
    bad_reply(deep, EPROTO, 2000);

    /* Brackets inside strings do not count. */
    static const char ok[] = "{\"return\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\", \"id\": $ID}\n";
    const struct step steps[] = {
        { NULL, GREETING, 0, 0 }, { "qmp_capabilities", CAPS_OK, 0, 0 }, { "stop", ok, 0, 0 },
    };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, steps, N(steps), 2000, &q), 0);
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), 0);
    finish(&h, q);
}

static void test_overlong_line(void **state)
{
    static char chunk[4097];
    memset(chunk, ' ', sizeof(chunk) - 1);
    /* 300 * 4 KiB without a newline: over the 1 MiB limit. */
    const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "stop", chunk, 300, 0 },
    };
    struct harness h;
    struct colo_qmp *q;

    assert_int_equal(start(&h, steps, N(steps), 5000, &q), 0);
    errno = 0;
    assert_int_equal(colo_qmp_execute(q, "stop", NULL, 0, NULL), -1);
    assert_int_equal(errno, EPROTO);
    finish(&h, q);
}

static void test_greeting_timeout(void **state)
{
    const struct step steps[] = { { NULL, NULL, 0, 0 } };
    struct harness h;
    struct colo_qmp *q;

    errno = 0;
    assert_int_equal(start(&h, steps, 1, 150, &q), -1);
    assert_int_equal(errno, ETIMEDOUT);
    finish(&h, NULL);
}

static void test_unix_socket_oneshot(void **state)
{
    static const struct step steps[] = {
        { NULL, GREETING, 0, 0 },
        { "qmp_capabilities", CAPS_OK, 0, 0 },
        { "xen-set-global-dirty-log", "{\"return\": {}, \"id\": $ID}\n", 0, 0 },
    };
    char dir[] = "/tmp/test-xen-qmp.XXXXXX";
    char path[100];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct harness h;
    struct colo_qmp_arg arg = { .key = "enable", .type = COLO_QMP_BOOL, .b = true };

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/qmp-libxl-7", dir);
    memset(&h, 0, sizeof(h));
    h.f.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(h.f.listen_fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(h.f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(h.f.listen_fd, 1), 0);
    h.f.steps = steps;
    h.f.nsteps = N(steps);
    assert_int_equal(pthread_create(&h.tid, NULL, server, &h.f), 0);

    assert_int_equal(colo_qmp_oneshot(path, 2000, "xen-set-global-dirty-log", &arg, 1), 0);
    pthread_join(h.tid, NULL);
    close(h.f.listen_fd);
    if (h.f.problem[0])
        fail_msg("fake server: %s", h.f.problem);

    /* Nobody listens any more: connect fails at once, with the reason. */
    unlink(path);
    errno = 0;
    assert_int_equal(colo_qmp_oneshot(path, 2000, "stop", NULL, 0), -1);
    assert_int_equal(errno, ENOENT);
    rmdir(dir);

    char longpath[300];
    memset(longpath, 'p', sizeof(longpath));
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    struct colo_qmp *q;
    assert_int_equal(colo_qmp_connect(longpath, 100, &q), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_arguments_encoded),
        cmocka_unit_test(test_invalid_utf8_not_sent),
        cmocka_unit_test(test_events_blank_lines_foreign_ids),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_bad_greetings),
        cmocka_unit_test(test_capabilities_refused),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_greeting_timeout),
        cmocka_unit_test(test_unix_socket_oneshot),
    };

    colo_log_init("test-xen-qmp", COLO_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
