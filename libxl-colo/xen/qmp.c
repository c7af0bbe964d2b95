/*
 * qmp.c - a small synchronous QMP client; see qmp.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "qmp.h"

struct colo_qmp {
    int      fd;
    bool     broken;            /* transport/protocol failure: refuse further use */
    unsigned timeout_ms;
    uint64_t next_id;
    char     label[128];        /* socket path, for messages */
    char    *buf;               /* received bytes not yet consumed */
    size_t   len, cap;
    char     last_error[512];
};

struct colo_qmp_reply {
    yajl_val root;              /* the whole reply object */
    yajl_val ret;               /* its "return" member (points into root) */
};

static int64_t now_ms(void)
{
    return (int64_t)(colo_now_ns() / 1000000);
}

/* Milliseconds left before deadline, for poll(); 0 once it has passed. */
static int ms_left(int64_t deadline)
{
    int64_t left = deadline - now_ms();

    if (left <= 0)
        return 0;
    return left > 60000 ? 60000 : (int)left;
}

/* Mark the connection unusable, log why, and leave errno = err. */
static int fail(struct colo_qmp *q, int err, const char *what)
{
    q->broken = true;
    colo_err("QMP %s: %s", q->label, what);
    errno = err;
    return -1;
}

/* Wait until fd is readable/writable or the deadline passes. */
static int wait_fd(struct colo_qmp *q, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = q->fd, .events = events };
        int n = poll(&pfd, 1, ms_left(deadline));

        if (n > 0)
            return 0;
        if (n == 0)
            return fail(q, ETIMEDOUT, "timed out waiting for qemu");
        if (errno != EINTR)
            return fail(q, errno, "poll failed");
    }
}

static int write_all(struct colo_qmp *q, const char *data, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(q->fd, data, len, MSG_NOSIGNAL);

        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(q, POLLOUT, deadline) < 0)
                return -1;
            continue;
        }
        return fail(q, n < 0 ? errno : EPIPE, "sending a command failed");
    }
    return 0;
}

/*
 * Read bytes until buf holds a complete line.  Returns the line length
 * (up to, not including, '\n') or -1.
 */
static ssize_t fill_line(struct colo_qmp *q, int64_t deadline)
{
    size_t scanned = 0;

    for (;;) {
        char *nl = q->len > scanned ? memchr(q->buf + scanned, '\n', q->len - scanned) : NULL;

        if (nl)
            return nl - q->buf;
        scanned = q->len;
        if (q->len >= COLO_QMP_MAX_LINE) {
            fail(q, EPROTO, "reply line longer than the limit");
            return -1;
        }
        if (q->cap - q->len < 4096) {
            size_t ncap = q->cap ? q->cap * 2 : 8192;
            char *nb;

            if (ncap > COLO_QMP_MAX_LINE + 4096)
                ncap = COLO_QMP_MAX_LINE + 4096;
            nb = realloc(q->buf, ncap);
            if (!nb) {
                fail(q, ENOMEM, "out of memory");
                return -1;
            }
            q->buf = nb;
            q->cap = ncap;
        }
        ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);
        if (n > 0) {
            q->len += (size_t)n;
            continue;
        }
        if (n == 0) {
            fail(q, ECONNRESET, q->len ? "connection closed in the middle of a reply"
                                       : "connection closed by qemu");
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(q, POLLIN, deadline) < 0)
                return -1;
            continue;
        }
        fail(q, errno, "receiving failed");
        return -1;
    }
}

/*
 * True if the JSON text nests arrays/objects at most max deep.  yajl
 * parses any depth, but frees its tree recursively: a hostile line of a
 * million '[' would exhaust the stack, so such lines are refused first.
 */
static bool depth_ok(const char *s, unsigned max)
{
    unsigned depth = 0;
    bool in_str = false;

    for (; *s; s++) {
        if (in_str) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                in_str = false;
        } else if (*s == '"') {
            in_str = true;
        } else if (*s == '[' || *s == '{') {
            if (++depth > max)
                return false;
        } else if ((*s == ']' || *s == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

/*
 * Read the next non-empty line and parse it as one JSON object.
 * Returns 0 and *out (caller frees with yajl_tree_free) or -1.
 */
static int read_object(struct colo_qmp *q, int64_t deadline, yajl_val *out)
{
    for (;;) {
        ssize_t ll = fill_line(q, deadline);
        size_t len, consumed;
        char errbuf[256];
        yajl_val v;

        if (ll < 0)
            return -1;
        len = (size_t)ll;
        consumed = len + 1;
        q->buf[len] = '\0';                 /* replaces the '\n' */
        if (len > 0 && q->buf[len - 1] == '\r')
            q->buf[--len] = '\0';
        if (len == 0) {                     /* blank line: tolerate */
            memmove(q->buf, q->buf + consumed, q->len - consumed);
            q->len -= consumed;
            continue;
        }
        if (strlen(q->buf) != len)
            return fail(q, EPROTO, "NUL byte in a reply");

        if (!depth_ok(q->buf, COLO_QMP_MAX_DEPTH))
            return fail(q, EPROTO, "reply nests deeper than the limit");
        errbuf[0] = '\0';
        v = yajl_tree_parse(q->buf, errbuf, sizeof(errbuf));
        memmove(q->buf, q->buf + consumed, q->len - consumed);
        q->len -= consumed;
        if (!v) {
            char msg[400];

            /* yajl's message can span lines; keep the first. */
            errbuf[strcspn(errbuf, "\n")] = '\0';
            snprintf(msg, sizeof(msg), "malformed JSON from qemu (%s)",
                     errbuf[0] ? errbuf : "parse error");
            return fail(q, EPROTO, msg);
        }
        if (!YAJL_IS_OBJECT(v)) {
            yajl_tree_free(v);
            return fail(q, EPROTO, "reply is not a JSON object");
        }
        *out = v;
        return 0;
    }
}

/* Member 'key' of object v, or NULL. */
static yajl_val member(yajl_val v, const char *key)
{
    const char *path[] = { key, NULL };

    return yajl_tree_get(v, path, yajl_t_any);
}

/* The string value of v, or NULL if v is not a string. */
static const char *str_of(yajl_val v)
{
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

/* Open the session: greeting, then qmp_capabilities. */
static int handshake(struct colo_qmp *q)
{
    yajl_val greeting;
    int64_t deadline = now_ms() + q->timeout_ms;

    if (read_object(q, deadline, &greeting) < 0)
        return -1;
    if (!YAJL_IS_OBJECT(member(greeting, "QMP"))) {
        yajl_tree_free(greeting);
        return fail(q, EPROTO, "first message is not a QMP greeting");
    }
    yajl_tree_free(greeting);
    return colo_qmp_execute(q, "qmp_capabilities", NULL, 0, NULL);
}

int colo_qmp_open_fd(int fd, const char *label, unsigned timeout_ms, struct colo_qmp **out)
{
    struct colo_qmp *q = calloc(1, sizeof(*q));
    int flags;

    *out = NULL;
    if (!q) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    q->fd = fd;
    q->timeout_ms = timeout_ms ? timeout_ms : 1;
    q->next_id = 1;
    snprintf(q->label, sizeof(q->label), "%s", label ? label : "(fd)");
    /* Non-blocking, so that every wait goes through poll() with the deadline. */
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int e = errno;

        colo_log_errno("QMP %s: fcntl", q->label);
        colo_qmp_close(q);
        errno = e;
        return -1;
    }
    if (handshake(q) < 0) {
        int e = errno;

        colo_qmp_close(q);
        errno = e;
        return -1;
    }
    *out = q;
    return 0;
}

int colo_qmp_connect(const char *path, unsigned timeout_ms, struct colo_qmp **out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int64_t deadline = now_ms() + (timeout_ms ? timeout_ms : 1);
    int fd;

    *out = NULL;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        colo_err("QMP socket path '%s' is too long", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        colo_log_errno("QMP %s: socket", path);
        return -1;
    }
    /*
     * A non-blocking connect to a unix socket either completes or fails
     * with EAGAIN when the listener's backlog is full (libxl may be talking
     * to qemu right now); retry that until the deadline.
     */
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && ms_left(deadline) > 0) {
            struct timespec ts = { 0, 5 * 1000 * 1000 };

            nanosleep(&ts, NULL);
            continue;
        }
        int e = errno;
        colo_log_errno("QMP %s: connect", path);
        close(fd);
        errno = e;
        return -1;
    }
    return colo_qmp_open_fd(fd, path, timeout_ms, out);
}

/* Emit one argument value; returns yajl_gen_status_ok or an error. */
static yajl_gen_status gen_arg(yajl_gen g, const struct colo_qmp_arg *a)
{
    yajl_gen_status st = yajl_gen_string(g, (const unsigned char *)a->key, strlen(a->key));

    if (st != yajl_gen_status_ok)
        return st;
    switch (a->type) {
    case COLO_QMP_STR:
        return yajl_gen_string(g, (const unsigned char *)(a->s ? a->s : ""),
                               a->s ? strlen(a->s) : 0);
    case COLO_QMP_BOOL:
        return yajl_gen_bool(g, a->b);
    case COLO_QMP_INT:
    default:
        return yajl_gen_integer(g, a->i);
    }
}

/* Build {"execute":cmd,"arguments":{...},"id":"colo-N"}\n into a malloc'd string. */
static char *build_command(const char *cmd, const struct colo_qmp_arg *args, size_t nargs,
                           const char *id, size_t *len_out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_status st;
    const unsigned char *text;
    size_t len;
    char *out = NULL;

    if (!g)
        return NULL;
    /* Refuse to send invalid UTF-8 (a file name, say) rather than confuse qemu. */
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)"execute", 7);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)cmd, strlen(cmd));
    if (st == yajl_gen_status_ok && nargs > 0) {
        st = yajl_gen_string(g, (const unsigned char *)"arguments", 9);
        if (st == yajl_gen_status_ok)
            st = yajl_gen_map_open(g);
        for (size_t i = 0; i < nargs && st == yajl_gen_status_ok; i++)
            st = gen_arg(g, &args[i]);
        if (st == yajl_gen_status_ok)
            st = yajl_gen_map_close(g);
    }
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)"id", 2);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)id, strlen(id));
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (st == yajl_gen_status_ok && yajl_gen_get_buf(g, &text, &len) == yajl_gen_status_ok) {
        out = malloc(len + 2);
        if (out) {
            memcpy(out, text, len);
            out[len] = '\n';
            out[len + 1] = '\0';
            *len_out = len + 1;
        }
    }
    yajl_gen_free(g);
    return out;
}

int colo_qmp_execute(struct colo_qmp *q, const char *cmd,
                     const struct colo_qmp_arg *args, size_t nargs,
                     struct colo_qmp_reply **reply)
{
    int64_t deadline = now_ms() + q->timeout_ms;
    char id[32];
    size_t len = 0;
    char *text;

    if (reply)
        *reply = NULL;
    if (q->broken) {
        colo_err("QMP %s: connection already failed; not sending %s", q->label, cmd);
        errno = EPIPE;
        return -1;
    }
    snprintf(id, sizeof(id), "colo-%" PRIu64, q->next_id++);
    text = build_command(cmd, args, nargs, id, &len);
    if (!text) {
        colo_err("QMP %s: cannot encode command %s (invalid UTF-8 or out of memory)",
                 q->label, cmd);
        errno = EINVAL;
        return -1;
    }
    if (write_all(q, text, len, deadline) < 0) {
        free(text);
        return -1;
    }
    free(text);

    for (;;) {
        yajl_val v, rid, ret, err;

        if (read_object(q, deadline, &v) < 0)
            return -1;
        if (member(v, "event")) {
            const char *ev = str_of(member(v, "event"));

            colo_debug("QMP %s: event %s skipped", q->label, ev ? ev : "?");
            yajl_tree_free(v);
            continue;
        }
        rid = member(v, "id");
        if (rid && !(str_of(rid) && strcmp(str_of(rid), id) == 0)) {
            /* A reply to an earlier command of another client: not ours. */
            colo_warn("QMP %s: skipped a reply with a foreign id while waiting for %s",
                      q->label, cmd);
            yajl_tree_free(v);
            continue;
        }
        ret = member(v, "return");
        err = member(v, "error");
        if (ret && !err) {
            q->last_error[0] = '\0';
            if (reply) {
                struct colo_qmp_reply *r = malloc(sizeof(*r));

                if (!r) {
                    yajl_tree_free(v);
                    errno = ENOMEM;
                    return -1;
                }
                r->root = v;
                r->ret = ret;
                *reply = r;
            } else {
                yajl_tree_free(v);
            }
            return 0;
        }
        if (err && YAJL_IS_OBJECT(err)) {
            const char *cls = str_of(member(err, "class"));
            const char *desc = str_of(member(err, "desc"));

            snprintf(q->last_error, sizeof(q->last_error), "%s: %s",
                     cls ? cls : "(no class)", desc ? desc : "(no description)");
            colo_err("QMP %s: %s failed: %s", q->label, cmd, q->last_error);
            yajl_tree_free(v);
            errno = EIO;
            return -1;
        }
        yajl_tree_free(v);
        return fail(q, EPROTO, "reply has neither a return value nor an error object");
    }
}

yajl_val colo_qmp_reply_value(const struct colo_qmp_reply *r)
{
    return r ? r->ret : NULL;
}

void colo_qmp_reply_free(struct colo_qmp_reply *r)
{
    if (!r)
        return;
    yajl_tree_free(r->root);
    free(r);
}

const char *colo_qmp_last_error(const struct colo_qmp *q)
{
    return q->last_error;
}

void colo_qmp_close(struct colo_qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    free(q->buf);
    free(q);
}

int colo_qmp_oneshot(const char *path, unsigned timeout_ms, const char *cmd,
                     const struct colo_qmp_arg *args, size_t nargs)
{
    struct colo_qmp *q;
    int rc, e;

    if (colo_qmp_connect(path, timeout_ms, &q) < 0)
        return -1;
    rc = colo_qmp_execute(q, cmd, args, nargs, NULL);
    e = errno;
    colo_qmp_close(q);
    errno = e;
    return rc;
}
