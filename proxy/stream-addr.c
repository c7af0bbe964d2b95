/* stream-addr.c - see stream-addr.h. */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "stream-addr.h"

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* "on", "off" or nothing (a bare flag means on). */
static int onoff(const char *v, bool *out)
{
    if (!v || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

static int set_unix(struct stream_addr *a, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;

    if (!*path)
        return bad(err, errlen, "empty unix socket path");
    if (strlen(path) >= sizeof(sun->sun_path))
        return bad(err, errlen, "unix socket path is longer than %zu bytes: '%s'",
                   sizeof(sun->sun_path) - 1, path);
    sun->sun_family = AF_UNIX;
    strcpy(sun->sun_path, path);
    a->salen = sizeof(*sun);
    snprintf(a->text, sizeof(a->text), "unix:%s", path);
    return 0;
}

static int set_inet(struct stream_addr *a, const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
    char *end;
    long n = strtol(port, &end, 10);
    int e;

    if (!*port || *end || n < 1 || n > 65535)
        return bad(err, errlen, "port '%s' is not a number from 1 to 65535", port);
    if (!*host && !a->server)
        return bad(err, errlen, "a client needs a host to connect to");
    if (!*host)
        hints.ai_flags |= AI_PASSIVE;
    if ((e = getaddrinfo(*host ? host : NULL, port, &hints, &ai)) != 0)
        return bad(err, errlen, "host '%s': %s", host, gai_strerror(e));
    memcpy(&a->sa, ai->ai_addr, ai->ai_addrlen);
    a->salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    snprintf(a->text, sizeof(a->text), "%s%s%s:%s", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", port);
    return 0;
}

/* Split "HOST:PORT" or "[V6]:PORT" in place. */
static int split_hostport(char *hp, char **host, char **port)
{
    char *colon;

    if (hp[0] == '[') {
        char *close = strchr(hp, ']');

        if (!close || close[1] != ':')
            return -1;
        *close = '\0';
        *host = hp + 1;
        *port = close + 2;
        return 0;
    }
    if (!(colon = strrchr(hp, ':')))
        return -1;
    *colon = '\0';
    *host = hp;
    *port = colon + 1;
    return 0;
}

int stream_addr_parse(const char *spec, struct stream_addr *a, char *err, size_t errlen)
{
    char *copy = strdup(spec), *save = NULL, *tok, *path = NULL, *host = NULL, *port = NULL;
    bool chardev_form = false, flag;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    a->reconnect_ms = 1000;
    if (!copy)
        return bad(err, errlen, "out of memory");
    tok = strtok_r(copy, ",", &save);
    if (!tok) {
        bad(err, errlen, "empty address");
        goto out;
    }
    if (!strncmp(tok, "unix:", 5)) {
        path = tok + 5;
    } else if (!strncmp(tok, "tcp:", 4)) {
        if (split_hostport(tok + 4, &host, &port) < 0) {
            bad(err, errlen, "'%s' is not tcp:HOST:PORT", tok);
            goto out;
        }
    } else if (!strcmp(tok, "socket")) {
        chardev_form = true;
    } else {
        bad(err, errlen, "'%s' is not unix:PATH, tcp:HOST:PORT or socket,...", tok);
        goto out;
    }
    while ((tok = strtok_r(NULL, ",", &save))) {
        char *eq = strchr(tok, '='), *v = eq ? eq + 1 : NULL;

        if (eq)
            *eq = '\0';
        if (!strcmp(tok, "server") || !strcmp(tok, "nodelay") || !strcmp(tok, "wait")) {
            if (onoff(v, &flag) < 0) {
                bad(err, errlen, "option %s=%s: expected on or off", tok, v);
                goto out;
            }
            if (!strcmp(tok, "server"))
                a->server = flag;
        } else if (!strcmp(tok, "reconnect") && v) {
            char *end;
            unsigned long s = strtoul(v, &end, 10);

            if (!*v || *end || v[0] == '-' || s > 3600) {
                bad(err, errlen, "option reconnect=%s: expected seconds, 0 to 3600", v);
                goto out;
            }
            a->reconnect_ms = s ? (unsigned)s * 1000 : 1000;
        } else if (chardev_form && v && !strcmp(tok, "path")) {
            path = v;
        } else if (chardev_form && v && !strcmp(tok, "host")) {
            host = v;
        } else if (chardev_form && v && !strcmp(tok, "port")) {
            port = v;
        } else if (chardev_form && v && !strcmp(tok, "id")) {
            continue;
        } else {
            bad(err, errlen, "unknown option '%s'", tok);
            goto out;
        }
    }
    if (path && (host || port)) {
        bad(err, errlen, "both a path and a host/port given");
        goto out;
    }
    if (path)
        rc = set_unix(a, path, err, errlen);
    else if (port)
        rc = set_inet(a, host ? host : "", port, err, errlen);
    else
        bad(err, errlen, "no path= or port= given");
out:
    free(copy);
    return rc;
}
