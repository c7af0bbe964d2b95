/*
 * xlcolo-opts.h - xl-colo's command lines, parsed and checked without
 * touching Xen, so that every refusal can be unit-tested.
 *
 *   xl-colo remus [-i MS] [-u] [-s SSH] [-e] [-N SCRIPT] [-F] [-b] [-n] [-d]
 *                 [-c|--colo] [-p] [-C XLCFG] [--io-timeout MS]
 *                 [--peer-timeout MS] [--save pages|libxenguest]
 *                 [--restore pages|libxenguest] [--net-layout flows|inline]
 *                 DOMAIN HOST
 *   xl-colo migrate-receive [-F] [-e] [-d] [-r] [-p] [--colo]
 *                 [--coloft-script SCRIPT] [--userspace-colo-proxy]
 *                 [--listen ADDR:PORT] [--io-timeout MS] [--peer-timeout MS]
 *                 [--restore pages|libxenguest] [--net-layout flows|inline]
 *
 * The letters and their meanings are xl 4.17's (tools/xl/xl_migrate.c,
 * main_remus and main_migrate_receive); -C, --listen, the timeouts,
 * --save, --restore and --net-layout are xl-colo's own.  Without -c / --colo both commands
 * belong to xl and are handed to it unchanged; with it, the combinations
 * xl refuses are refused here with xl's reasons (see docs/xl-colo.md).
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_OPTS_H
#define XLCOLO_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#define XLC_DEFAULT_INTERVAL_MS 2000u   /* colo-engine's own default */
#define XLC_MAX_INTERVAL_MS 86400000u
#define XLC_DEFAULT_LISTEN "0.0.0.0:0"  /* every address, a port the kernel picks */
#define XLC_NAME_MAX 64                 /* incl. NUL, as the engine's domain names */

/* What a parse found. */
enum xlc_parse {
    XLC_PARSE_ERROR = -1,   /* err says why (exit 2, as a usage error) */
    XLC_PARSE_OK = 0,       /* a COLO command for xl-colo */
    XLC_PARSE_XL = 1,       /* not COLO: xl's business, pass argv to xl unchanged */
    XLC_PARSE_HELP = 2,     /* -h / --help */
};

struct xlc_remus_opts {
    bool colo;                  /* -c, --colo */
    bool interval_set;          /* -i given */
    unsigned interval_ms;       /* -i MS: periodic checkpoint interval (0: only on request) */
    bool no_compression;        /* -u (implied by COLO) */
    const char *ssh;            /* -s: "ssh" unless given; "" = HOST is the command */
    bool no_daemon;             /* -e: the receiving side stays in the foreground */
    const char *netbufscript;   /* -N: the COLO proxy script, passed to the receiver */
    bool unsafe;                /* -F */
    bool blackhole;             /* -b */
    bool no_netbuf;             /* -n */
    bool no_diskbuf;            /* -d */
    bool userspace_proxy;       /* -p */
    const char *config;         /* -C: the domain's xl.cfg (xl-colo's addition) */
    unsigned io_timeout_ms;     /* --io-timeout: the engines' (0: their default) */
    unsigned peer_timeout_ms;   /* --peer-timeout: likewise */
    const char *save;           /* --save: how the primary reads the PVM (NULL: the engine's default) */
    const char *restore;        /* --restore: how the secondary applies checkpoints, passed on */
    const char *net_layout;     /* --net-layout: flows | inline (NULL: the default), passed on */
    const char *domain;         /* DOMAIN: name or domid */
    const char *host;           /* HOST: ssh destination, or the command if -s "" */
};

struct xlc_receive_opts {
    bool colo;                  /* --colo */
    bool remus;                 /* -r */
    bool no_daemon;             /* -e or -F: stay in the foreground */
    bool debug;                 /* -d: the engine logs every state transition */
    bool pause;                 /* -p: accepted as xl does; COLO has no pause-after */
    const char *script;         /* --coloft-script */
    bool userspace_proxy;       /* --userspace-colo-proxy */
    const char *listen;         /* --listen ADDR:PORT (xl-colo's addition) */
    unsigned io_timeout_ms;     /* --io-timeout (0: the engine's default) */
    unsigned peer_timeout_ms;   /* --peer-timeout (0: the engine's default) */
    const char *restore;        /* --restore: how the SVM takes checkpoints (NULL: default) */
    const char *net_layout;     /* --net-layout: flows | inline (NULL: the default) */
};

/* argv[0] is the subcommand ("remus", "migrate-receive"). */
enum xlc_parse xlc_parse_remus(int argc, char **argv, struct xlc_remus_opts *o,
                               char *err, size_t errlen);
enum xlc_parse xlc_parse_receive(int argc, char **argv, struct xlc_receive_opts *o,
                                 char *err, size_t errlen);

/*
 * The command that starts the receiving side, built as xl builds it: with
 * -s "" it is HOST itself; otherwise
 *   exec SSH HOST xl-colo migrate-receive --colo [--coloft-script S]
 *        [--userspace-colo-proxy] [-e] [--io-timeout MS] [--peer-timeout MS]
 *        [--restore MODE] [--net-layout LAYOUT]
 * passed to sh -c (HOST and SSH are not quoted: as in xl, they may carry
 * options).  Returns a malloc'd string, NULL on ENOMEM.
 */
char *xlc_receiver_command(const struct xlc_remus_opts *o);

/*
 * A domain name that can name files (RUNDIR/NAME.ctl) and travel in the
 * engine's "NAME,opts" argument: 1-63 of [A-Za-z0-9_.-], not starting with
 * '.' or '-'.  0, or -1 with err saying what is wrong.
 */
int xlc_check_name(const char *name, char *err, size_t errlen);

/*
 * The replication address the sender connects to, from the receiver's
 * "listening ADDR" and HOST: a wildcard address (0.0.0.0, [::]) becomes
 * HOST's host part (user@ dropped, IPv6 bracketed).  With -s "" HOST is a
 * command, so a wildcard cannot be resolved and is an error.  0 or -1
 * with err.
 */
int xlc_peer_address(const char *listening, const struct xlc_remus_opts *o,
                     char *out, size_t cap, char *err, size_t errlen);

#endif
