/*
 * xlcolo-status.c - `xl-colo colo-status [--json] DOMAIN`: what the engine
 * protecting DOMAIN on this host says about itself (RUNDIR/DOMAIN.ctl):
 * role, state, checkpoints and what triggered them, pause times, traffic.
 * The same command serves both hosts: the receiving side names its engine's
 * socket after the protected domain too.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "colo-channel.h"
#include "colo-control.h"
#include "colo-log.h"
#include "xlcolo-cmds.h"
#include "xlcolo-opts.h"
#include "xlcolo-run.h"

int xlc_status_open(const char *name, struct colo_chan *c, bool quiet)
{
    char path[XLC_SUN_PATH_MAX + 8];
    int fd;

    if (xlc_ctl_path(name, false, path, sizeof(path)) < 0)
        return -1;
    fd = xlc_ctl_connect(path);
    if (fd < 0) {
        if (!quiet && (errno == ENOENT || errno == ECONNREFUSED))
            colo_err("domain '%s' is not protected by COLO on this host (no engine answers "
                     "on %s)", name, path);
        else if (!quiet)
            colo_log_errno("cannot reach the engine of domain '%s' on %s", name, path);
        return -1;
    }
    return colo_chan_init_sized(c, fd, "control", COLO_MAX_TEXT);
}

char *xlc_status_ask(struct colo_chan *c)
{
    char *json = NULL;

    return colo_ctl_request_status(c, &json, 5000) < 0 ? NULL : json;
}

const char *xlc_status_field(const char *json, const char *key, char *buf, size_t cap)
{
    const char *path[] = { key, NULL };
    yajl_val root = yajl_tree_parse(json, NULL, 0), v;

    snprintf(buf, cap, "?");
    if (root && (v = yajl_tree_get(root, path, yajl_t_string)))
        snprintf(buf, cap, "%s", YAJL_GET_STRING(v));
    yajl_tree_free(root);
    return buf;
}

static double num(yajl_val root, const char *a, const char *b)
{
    const char *path[] = { a, b, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);

    return v ? YAJL_GET_DOUBLE(v) : 0;
}

static const char *str(yajl_val root, const char *a)
{
    const char *path[] = { a, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);

    return v ? YAJL_GET_STRING(v) : "?";
}

static int print_human(const char *name, const char *json)
{
    char err[200];
    yajl_val root = yajl_tree_parse(json, err, sizeof(err)), trig;
    const char *tpath[] = { "triggers", NULL };

    if (!root) {
        colo_err("domain '%s': the engine sent a status that is not JSON: %s", name, err);
        return 1;
    }
    printf("domain %s: %s, %s\n", name, str(root, "role"), str(root, "state"));
    printf("  checkpoints  %.0f", num(root, "checkpoints", NULL));
    trig = yajl_tree_get(root, tpath, yajl_t_object);
    if (trig) {
        const char *sep = " (";

        for (size_t i = 0; i < YAJL_GET_OBJECT(trig)->len; i++) {
            yajl_val v = YAJL_GET_OBJECT(trig)->values[i];

            printf("%s%s %.0f", sep, YAJL_GET_OBJECT(trig)->keys[i],
                   YAJL_IS_NUMBER(v) ? YAJL_GET_DOUBLE(v) : 0.0);
            sep = ", ";
        }
        printf(")");
    }
    printf("\n  pause ms     last %.3f  median %.3f  max %.3f\n", num(root, "pause_ms", "last"),
           num(root, "pause_ms", "median"), num(root, "pause_ms", "max"));
    printf("  pages        last %.0f  total %.0f  svm-dirty last %.0f  (guest: %.0f pages)\n",
           num(root, "pages_last", NULL), num(root, "pages_total", NULL),
           num(root, "svm_dirty_last", NULL), num(root, "nr_pages", NULL));
    printf("  initial copy %.0f of %.0f pages\n", num(root, "initial_copy", "pages_done"),
           num(root, "initial_copy", "pages_total"));
    printf("  replication  sent %.1f MiB  received %.1f MiB\n",
           num(root, "bytes_sent", NULL) / 1048576.0, num(root, "bytes_received", NULL) / 1048576.0);
    printf("  failovers    %.0f\n", num(root, "failovers", NULL));
    printf("  engine's domain %s, peer's %s\n", str(root, "domain"), str(root, "peer_domain"));
    yajl_tree_free(root);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: xl-colo colo-status [--json] DOMAIN\n"
               "  the state of COLO protection of DOMAIN on this host (either side)\n");
}

int xlc_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", 0, 0, 'j' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    bool json = false;
    struct colo_chan ch;
    char err[256], *status;
    int c, rc;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default:
            colo_err("colo-status: unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        colo_err("colo-status needs exactly one DOMAIN");
        usage(stderr);
        return 2;
    }
    if (xlc_check_name(argv[optind], err, sizeof(err)) < 0) {
        colo_err("colo-status: %s", err);
        return 2;
    }
    if (xlc_status_open(argv[optind], &ch, false) < 0)
        return 1;
    status = xlc_status_ask(&ch);
    colo_chan_close(&ch);
    if (!status)
        return 1;
    if (json) {
        printf("%s\n", status);
        rc = 0;
    } else {
        rc = print_human(argv[optind], status);
    }
    free(status);
    return rc;
}
