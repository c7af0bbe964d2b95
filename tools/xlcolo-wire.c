/*
 * xlcolo-wire.c - see xlcolo-wire.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xlcolo-cfg.h"
#include "xlcolo-opts.h"
#include "xlcolo-wire.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is readable before the deadline (-1: none); 0 or -1/errno. */
static int wait_readable(int fd, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline < 0 ? -1 : deadline - now_ms();
        int r;

        if (deadline >= 0 && left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int read_some(int fd, void *buf, size_t len, int64_t deadline)
{
    for (;;) {
        ssize_t n;

        if (wait_readable(fd, deadline) < 0)
            return -1;
        n = read(fd, buf, len);
        if (n > 0)
            return (int)n;
        if (n == 0) {
            errno = EPIPE;
            return -1;
        }
        if (errno != EINTR && errno != EAGAIN)
            return -1;
    }
}

int xlc_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    size_t n = 0;

    for (;;) {
        char c;

        if (read_some(fd, &c, 1, deadline) < 0)
            return -1;
        if (c == '\n')
            break;
        if (n + 1 >= cap) {
            errno = EMSGSIZE;
            return -1;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return (int)n;
}

int xlc_read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    size_t got = 0;

    while (got < len) {
        int n = read_some(fd, (char *)buf + got, len - got, deadline);

        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int xlc_write_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int xlc_parse_config_header(const char *line, char *name, size_t namecap, size_t *len,
                            char *err, size_t errlen)
{
    const char *p, *sp;
    size_t nlen;
    unsigned long long v = 0;

    if (strncmp(line, "config ", 7) != 0) {
        snprintf(err, errlen, "expected 'config NAME LEN', got '%.60s'", line);
        return -1;
    }
    p = line + 7;
    sp = strchr(p, ' ');
    if (!sp || sp == p) {
        snprintf(err, errlen, "'config' line without NAME and LEN: '%.60s'", line);
        return -1;
    }
    nlen = (size_t)(sp - p);
    if (nlen >= namecap) {
        snprintf(err, errlen, "domain name in the 'config' line is too long");
        return -1;
    }
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    if (xlc_check_name(name, err, errlen) < 0)
        return -1;
    p = sp + 1;
    if (!*p || strlen(p) > 10) {
        snprintf(err, errlen, "'config' LEN '%.20s' is not a size", p);
        return -1;
    }
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') {
            snprintf(err, errlen, "'config' LEN '%.20s' is not a size", p);
            return -1;
        }
        v = v * 10 + (unsigned)(*q - '0');
    }
    if (v == 0 || v > XLC_CFG_MAX) {
        snprintf(err, errlen, "'config' LEN %llu is outside 1..%u", v, XLC_CFG_MAX);
        return -1;
    }
    *len = (size_t)v;
    return 0;
}

enum xlc_reply xlc_parse_reply(const char *line, const char **arg)
{
    if (strncmp(line, "ready ", 6) == 0 && line[6]) {
        *arg = line + 6;
        return XLC_REPLY_READY;
    }
    if (strncmp(line, "error ", 6) == 0) {
        *arg = line + 6;
        return XLC_REPLY_ERROR;
    }
    *arg = line;
    return XLC_REPLY_BAD;
}
