/*
 * xl-colo - xl with COLO done by xen-colo's engines.
 *
 *   xl-colo remus -c [options] DOMAIN HOST     protect DOMAIN, secondary on HOST
 *   xl-colo migrate-receive --colo [options]   the receiving side (run over ssh)
 *   xl-colo colo-status [--json] DOMAIN        the protection's state, this host
 *   xl-colo anything else                      exactly `xl anything else`
 *
 * Debian's libxl is built without COLO (`xl remus -c` says "COLO is not
 * supported"), so xl-colo does not go through libxl's remus/COLO paths: it
 * starts a colo-engine on each host (libxl-colo/colo-daemon.c) and connects
 * them, the way xl remus starts the receiving xl and feeds it a stream.
 * Everything that is not COLO goes to xl unchanged, so `alias xl=xl-colo`
 * works.  docs/xl-colo.md has the design, docs/xl-colo.1 the manual.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo-log.h"
#include "xlcolo-cmds.h"

int xlc_exec_xl(int argc, char **argv)
{
    const char *xl = getenv("XL");
    char **args = calloc((size_t)argc + 2, sizeof(char *));

    if (!xl || !xl[0])
        xl = "xl";
    if (!args) {
        colo_err("out of memory");
        return 127;
    }
    args[0] = (char *)xl;
    memcpy(args + 1, argv, (size_t)argc * sizeof(char *));
    execvp(xl, args);
    colo_log_errno("cannot run '%s' (the system's xl; the XL environment variable names "
                   "another)", xl);
    free(args);
    return 127;
}

int xlc_settle_parse(enum xlc_parse p, const char *cmd, const char *err,
                     void (*usage)(FILE *), const struct xlc_invocation *inv)
{
    switch (p) {
    case XLC_PARSE_XL:
        return xlc_exec_xl(inv->argc, inv->argv);
    case XLC_PARSE_HELP:
        usage(stdout);
        return 0;
    case XLC_PARSE_ERROR:
        colo_err("%s: %s (xl-colo %s --help)", cmd, err, cmd);
        return 2;
    case XLC_PARSE_OK:
        break;
    }
    if (inv->dry_run) {
        colo_err("%s: -N (dry run) is not available for COLO: nothing would be done", cmd);
        return 2;
    }
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: xl-colo remus -c [-i MS] [-u] [-s SSH] [-e] [-N SCRIPT] [-F] [-p] [-C XLCFG]\n"
"                     [--io-timeout MS] [--peer-timeout MS] [--save pages|libxenguest]\n"
"                     [--restore pages|libxenguest]\n"
"                     DOMAIN HOST\n"
"       xl-colo migrate-receive --colo [-e] [-d] [--coloft-script SCRIPT]\n"
"                     [--userspace-colo-proxy] [--listen ADDR:PORT]\n"
"                     [--restore pages|libxenguest]\n"
"       xl-colo colo-status [--json] DOMAIN\n"
"       xl-colo colo-net svm|failover|teardown ROLE DOMAIN   (run by the engines)\n"
"       xl-colo XL-SUBCOMMAND ...   (passed to xl unchanged)\n"
"see xl-colo(1)\n");
}

/* xl's global options ("+vftNT", before the subcommand). */
static bool xl_global_option(const char *a)
{
    if (a[0] != '-' || !a[1] || !strcmp(a, "--"))
        return false;
    return strspn(a + 1, "vftNT") == strlen(a + 1);
}

int main(int argc, char **argv)
{
    const char *cmd;
    bool dry_run = false;
    int i = 1;

    colo_log_init("xl-colo", COLO_LOG_INFO);
    for (; i < argc && xl_global_option(argv[i]); i++)
        dry_run |= strchr(argv[i], 'N') != NULL;
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    cmd = argv[i];
    if (!strcmp(cmd, "colo-help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "colo-net"))
        return xlc_cmd_net(argc - i, argv + i);
    if (strcmp(cmd, "remus") && strcmp(cmd, "migrate-receive") && strcmp(cmd, "colo-status"))
        /* Every other subcommand, global options and all: xl's business,
         * argv untouched. */
        return xlc_exec_xl(argc - 1, argv + 1);
    {
        struct xlc_invocation inv = { .argc = argc - 1, .argv = argv + 1, .dry_run = dry_run };

        if (!strcmp(cmd, "remus"))
            return xlc_cmd_remus(argc - i, argv + i, &inv);
        if (!strcmp(cmd, "migrate-receive"))
            return xlc_cmd_receive(argc - i, argv + i, &inv);
    }
    return xlc_cmd_status(argc - i, argv + i);
}
