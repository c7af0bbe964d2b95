/*
 * xlcolo-opts.c - see xlcolo-opts.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcolo-opts.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Only digits, at most max: *out.  -1 otherwise. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (!*s || strlen(s) > 10)
        return -1;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/*
 * getopt permutes argv; the caller may still need it as given (to hand it
 * to xl), so parse a copy.  getopt's own messages are off: every problem
 * becomes err, and only the first one is kept.
 */
struct argv_copy {
    int argc;
    char **argv;
};

static int begin_parse(int argc, char **argv, struct argv_copy *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    c->argc = argc;
    c->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!c->argv) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    memcpy(c->argv, argv, (size_t)argc * sizeof(char *));
    optind = 0;         /* glibc: start over, whatever an earlier parse left */
    opterr = 0;
    return 0;
}

/* --io-timeout / --peer-timeout MS: 1..XLC_MAX_INTERVAL_MS, or the first problem. */
static void timeout_opt(const char *opt, const char *v, unsigned *out, char *first, size_t cap)
{
    unsigned long ms;

    if (parse_uint(v, XLC_MAX_INTERVAL_MS, &ms) < 0 || ms == 0) {
        if (!first[0])
            snprintf(first, cap, "%s '%s' is not a number of milliseconds (1-%u)", opt, v,
                     XLC_MAX_INTERVAL_MS);
        return;
    }
    *out = (unsigned)ms;
}

/* Help, or not a COLO command: decided before any other check. */
static enum xlc_parse early_result(struct argv_copy *a, bool help)
{
    free(a->argv);
    return help ? XLC_PARSE_HELP : XLC_PARSE_XL;
}

static void option_problem(int c, const char *optstring, char *err, size_t errlen)
{
    const char *p = optopt ? strchr(optstring, optopt) : NULL;

    if (optopt && p && p[1] == ':')
        seterr(err, errlen, "option -%c needs a value", optopt);
    else if (optopt)
        seterr(err, errlen, "unknown option -%c", optopt);
    else
        seterr(err, errlen, "unknown or incomplete option");
    (void)c;
}

/* --save / --restore: how the xen backend reads the PVM / applies checkpoints. */
static void mode_opt(const char *name, const char *arg, const char **out, char *first,
                     size_t cap)
{
    if (strcmp(arg, "pages") && strcmp(arg, "libxenguest")) {
        if (!first[0])
            snprintf(first, cap, "%s '%.60s' is not pages or libxenguest", name, arg);
    } else {
        *out = arg;
    }
}

/* --net-layout: where the proxies sit (docs/networking.md). */
static void layout_opt(const char *arg, const char **out, char *first, size_t cap)
{
    if (strcmp(arg, "flows") && strcmp(arg, "inline")) {
        if (!first[0])
            snprintf(first, cap, "--net-layout '%.60s' is not flows or inline", arg);
    } else {
        *out = arg;
    }
}

enum xlc_parse xlc_parse_remus(int argc, char **argv, struct xlc_remus_opts *o,
                               char *err, size_t errlen)
{
    static const char optstring[] = ":Fbundi:s:N:ecpC:h";
    enum { OPT_IO = 0x100, OPT_PEER, OPT_SAVE, OPT_RESTORE, OPT_LAYOUT };
    static const struct option longopts[] = {
        { "colo", 0, 0, 'c' }, { "help", 0, 0, 'h' }, { "io-timeout", 1, 0, OPT_IO },
        { "peer-timeout", 1, 0, OPT_PEER }, { "save", 1, 0, OPT_SAVE },
        { "restore", 1, 0, OPT_RESTORE }, { "net-layout", 1, 0, OPT_LAYOUT }, { 0, 0, 0, 0 },
    };
    struct argv_copy a;
    char first[160] = "";
    unsigned long v;
    bool help = false;
    int c;

    memset(o, 0, sizeof(*o));
    o->ssh = "ssh";
    o->interval_ms = XLC_DEFAULT_INTERVAL_MS;
    if (begin_parse(argc, argv, &a, err, errlen) < 0)
        return XLC_PARSE_ERROR;
    while ((c = getopt_long(a.argc, a.argv, optstring, longopts, NULL)) != -1) {
        switch (c) {
        case 'F': o->unsafe = true; break;
        case 'b': o->blackhole = true; break;
        case 'u': o->no_compression = true; break;
        case 'n': o->no_netbuf = true; break;
        case 'd': o->no_diskbuf = true; break;
        case 'e': o->no_daemon = true; break;
        case 'c': o->colo = true; break;
        case 'p': o->userspace_proxy = true; break;
        case 's': o->ssh = optarg; break;
        case 'N': o->netbufscript = optarg; break;
        case 'C': o->config = optarg; break;
        case 'h': help = true; break;
        case OPT_IO:
            timeout_opt("--io-timeout", optarg, &o->io_timeout_ms, first, sizeof(first));
            break;
        case OPT_PEER:
            timeout_opt("--peer-timeout", optarg, &o->peer_timeout_ms, first, sizeof(first));
            break;
        case OPT_SAVE:
            mode_opt("--save", optarg, &o->save, first, sizeof(first));
            break;
        case OPT_RESTORE:
            mode_opt("--restore", optarg, &o->restore, first, sizeof(first));
            break;
        case OPT_LAYOUT:
            layout_opt(optarg, &o->net_layout, first, sizeof(first));
            break;
        case 'i':
            o->interval_set = true;
            if (parse_uint(optarg, XLC_MAX_INTERVAL_MS, &v) < 0) {
                if (!first[0])
                    snprintf(first, sizeof(first), "-i '%s' is not a number of milliseconds "
                             "(0-%u)", optarg, XLC_MAX_INTERVAL_MS);
            } else {
                o->interval_ms = (unsigned)v;
            }
            break;
        default:
            if (!first[0])
                option_problem(c, optstring + 1, first, sizeof(first));
            break;
        }
    }
    if (help || !o->colo)       /* without COLO: Remus, or a mistake, for xl to judge */
        return early_result(&a, help);
    if (first[0]) {
        seterr(err, errlen, "%s", first);
    } else if (o->blackhole || o->no_netbuf || o->no_diskbuf) {
        seterr(err, errlen, "-c conflicts with %s%s%s%s%s: COLO always replicates memory, "
               "holds network output and replicates disks (xl remus refuses -b, -n and -d "
               "with -c too)",
               o->blackhole ? "-b" : "",
               o->blackhole && (o->no_netbuf || o->no_diskbuf) ? ", " : "",
               o->no_netbuf ? "-n" : "",
               o->no_netbuf && o->no_diskbuf ? ", " : "",
               o->no_diskbuf ? "-d" : "");
    } else if (a.argc - optind < 2) {
        seterr(err, errlen, "a DOMAIN and a HOST are needed");
    } else if (a.argc - optind > 2) {
        seterr(err, errlen, "unexpected argument '%s' after DOMAIN and HOST", a.argv[optind + 2]);
    } else {
        o->domain = a.argv[optind];
        o->host = a.argv[optind + 1];
        if (!o->domain[0])
            seterr(err, errlen, "DOMAIN is empty");
        else if (!o->host[0])
            seterr(err, errlen, "HOST is empty");
        else if (o->netbufscript && !o->netbufscript[0])
            seterr(err, errlen, "-N needs a script path, not an empty string");
        else if (o->config && !o->config[0])
            seterr(err, errlen, "-C needs the path of the domain's xl.cfg, not an empty string");
    }
    free(a.argv);
    return err && errlen && err[0] ? XLC_PARSE_ERROR : XLC_PARSE_OK;
}

/* "HOST:PORT" or "[V6]:PORT" with PORT 0-65535; host part non-empty. */
static int check_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    unsigned long port;

    if (!colon || colon == s || parse_uint(colon + 1, 65535, &port) < 0)
        return -1;
    if (s[0] == '[' && colon[-1] != ']')
        return -1;
    for (const char *p = s; p < colon; p++)
        if (isspace((unsigned char)*p) || *p == ',' || *p == '/')
            return -1;
    return strncmp(s, "unix:", 5) == 0 ? -1 : 0;
}

enum xlc_parse xlc_parse_receive(int argc, char **argv, struct xlc_receive_opts *o,
                                 char *err, size_t errlen)
{
    static const char optstring[] = ":Fedrph";
    enum { OPT_COLO = 0x100, OPT_SCRIPT, OPT_USERSPACE, OPT_LISTEN, OPT_IO, OPT_PEER,
           OPT_RESTORE, OPT_LAYOUT };
    static const struct option longopts[] = {
        { "colo", 0, 0, OPT_COLO }, { "coloft-script", 1, 0, OPT_SCRIPT },
        { "userspace-colo-proxy", 0, 0, OPT_USERSPACE }, { "listen", 1, 0, OPT_LISTEN },
        { "io-timeout", 1, 0, OPT_IO }, { "peer-timeout", 1, 0, OPT_PEER },
        { "restore", 1, 0, OPT_RESTORE }, { "net-layout", 1, 0, OPT_LAYOUT },
        { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    struct argv_copy a;
    char first[160] = "";
    bool help = false;
    int c;

    memset(o, 0, sizeof(*o));
    o->listen = XLC_DEFAULT_LISTEN;
    if (begin_parse(argc, argv, &a, err, errlen) < 0)
        return XLC_PARSE_ERROR;
    while ((c = getopt_long(a.argc, a.argv, optstring, longopts, NULL)) != -1) {
        switch (c) {
        case 'F': case 'e': o->no_daemon = true; break;
        case 'd': o->debug = true; break;
        case 'r': o->remus = true; break;
        case 'p': o->pause = true; break;
        case 'h': help = true; break;
        case OPT_COLO: o->colo = true; break;
        case OPT_SCRIPT: o->script = optarg; break;
        case OPT_USERSPACE: o->userspace_proxy = true; break;
        case OPT_LISTEN: o->listen = optarg; break;
        case OPT_IO:
            timeout_opt("--io-timeout", optarg, &o->io_timeout_ms, first, sizeof(first));
            break;
        case OPT_PEER:
            timeout_opt("--peer-timeout", optarg, &o->peer_timeout_ms, first, sizeof(first));
            break;
        case OPT_RESTORE:
            mode_opt("--restore", optarg, &o->restore, first, sizeof(first));
            break;
        case OPT_LAYOUT:
            layout_opt(optarg, &o->net_layout, first, sizeof(first));
            break;
        default:
            if (!first[0])
                option_problem(c, optstring + 1, first, sizeof(first));
            break;
        }
    }
    if (help || !o->colo)       /* without COLO: Remus, or a mistake, for xl to judge */
        return early_result(&a, help);
    if (first[0])
        seterr(err, errlen, "%s", first);
    else if (o->remus)
        seterr(err, errlen, "--colo and -r (Remus) ask for two different streams; give one");
    else if (optind < a.argc)
        seterr(err, errlen, "migrate-receive takes no arguments ('%s')", a.argv[optind]);
    else if (check_listen(o->listen) < 0)
        seterr(err, errlen, "--listen '%s' is not ADDR:PORT or [V6ADDR]:PORT (PORT 0 lets "
               "the kernel choose)", o->listen);
    free(a.argv);
    return err && errlen && err[0] ? XLC_PARSE_ERROR : XLC_PARSE_OK;
}

char *xlc_receiver_command(const struct xlc_remus_opts *o)
{
    char *s = NULL, io[32] = "", peer[32] = "", rst[32] = "", lay[32] = "";

    if (!o->ssh[0])
        return strdup(o->host);
    if (o->io_timeout_ms)
        snprintf(io, sizeof(io), " --io-timeout %u", o->io_timeout_ms);
    if (o->peer_timeout_ms)
        snprintf(peer, sizeof(peer), " --peer-timeout %u", o->peer_timeout_ms);
    if (o->restore)     /* one of two fixed words: nothing to quote */
        snprintf(rst, sizeof(rst), " --restore %s", o->restore);
    if (o->net_layout)  /* likewise */
        snprintf(lay, sizeof(lay), " --net-layout %s", o->net_layout);
    if (asprintf(&s, "exec %s %s xl-colo migrate-receive --colo%s%s%s%s%s%s%s%s", o->ssh, o->host,
                 o->netbufscript ? " --coloft-script " : "",
                 o->netbufscript ? o->netbufscript : "",
                 o->userspace_proxy ? " --userspace-colo-proxy" : "",
                 o->no_daemon ? " -e" : "", io, peer, rst, lay) < 0)
        return NULL;
    return s;
}

int xlc_check_name(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);

    if (n == 0 || n >= XLC_NAME_MAX) {
        seterr(err, errlen, "domain name '%s' must have 1 to %d characters", name,
               XLC_NAME_MAX - 1);
        return -1;
    }
    if (name[0] == '.' || name[0] == '-') {
        seterr(err, errlen, "domain name '%s' may not start with '%c'", name, name[0]);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-') {
            seterr(err, errlen, "domain name '%s' has '%c': xl-colo names files and sockets "
                   "after the domain, so only letters, digits, '.', '_' and '-' are allowed",
                   name, ch);
            return -1;
        }
    }
    return 0;
}

int xlc_peer_address(const char *listening, const struct xlc_remus_opts *o,
                     char *out, size_t cap, char *err, size_t errlen)
{
    const char *colon = strrchr(listening, ':');
    unsigned long port;
    char host[256];
    size_t hlen;

    if (check_listen(listening) < 0 || parse_uint(colon + 1, 65535, &port) < 0 || port == 0 ||
        (size_t)(colon - listening) >= sizeof(host)) {
        seterr(err, errlen, "the receiving side reported a malformed address '%s'", listening);
        return -1;
    }
    hlen = (size_t)(colon - listening);
    memcpy(host, listening, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "0.0.0.0") && strcmp(host, "[::]")) {
        if (snprintf(out, cap, "%s", listening) >= (int)cap) {
            seterr(err, errlen, "address '%s' too long", listening);
            return -1;
        }
        return 0;
    }
    if (!o->ssh[0]) {
        seterr(err, errlen, "the receiving command listens on every address (%s) and with "
               "-s \"\" HOST is that command, not a host: give the command --listen "
               "ADDR:PORT with an address this host can reach", listening);
        return -1;
    }
    {
        const char *h = strrchr(o->host, '@') ? strrchr(o->host, '@') + 1 : o->host;
        bool v6 = strchr(h, ':') != NULL && h[0] != '[';

        for (const char *p = h; *p; p++)
            if (isspace((unsigned char)*p))
                h = "";
        if (!h[0] || h[0] == '-') {
            seterr(err, errlen, "cannot tell the secondary's address from HOST '%s': run "
                   "the receiver with --listen ADDR:PORT (-s \"\" and a command)", o->host);
            return -1;
        }
        if (snprintf(out, cap, "%s%s%s:%lu", v6 ? "[" : "", h, v6 ? "]" : "", port) >= (int)cap) {
            seterr(err, errlen, "HOST '%s' too long", o->host);
            return -1;
        }
    }
    return 0;
}
