/*
 * xlcolo-cmds.h - xl-colo's subcommands.  Each takes argv with argv[0] the
 * subcommand's name and returns the process's exit status.  A remus or
 * migrate-receive without COLO is handed to xl whole (inv).
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_CMDS_H
#define XLCOLO_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "xlcolo-opts.h"

/* How xl-colo was called, for handing the whole command to xl: everything
 * after argv[0], xl's global options included; -N (dry run) seen. */
struct xlc_invocation {
    int argc;
    char **argv;
    bool dry_run;
};

int xlc_cmd_remus(int argc, char **argv, const struct xlc_invocation *inv);   /* xlcolo-remus.c */
int xlc_cmd_receive(int argc, char **argv, const struct xlc_invocation *inv); /* xlcolo-receive.c */
int xlc_cmd_status(int argc, char **argv);         /* xlcolo-status.c */
int xlc_cmd_net(int argc, char **argv);            /* xlcolo-net.c: the engines' commands */

/*
 * What a parse result means for a COLO subcommand cmd: -1 to go on, or the
 * exit status (xl's, after handing it the command; 0 after help; 2 for a
 * usage error or xl's dry run, which COLO cannot do).
 */
int xlc_settle_parse(enum xlc_parse p, const char *cmd, const char *err,
                     void (*usage)(FILE *), const struct xlc_invocation *inv);

/* Hand the command to the system's xl ($XL, default "xl") unchanged:
 * exec XL argv[0] argv[1] ...  Returns only on failure (127, logged). */
int xlc_exec_xl(int argc, char **argv);            /* xl-colo.c */

/* A connection to the control socket of the engine serving domain `name`
 * here: 0, or -1 (logged unless quiet) if no engine answers. */
struct colo_chan;
int xlc_status_open(const char *name, struct colo_chan *c, bool quiet); /* xlcolo-status.c */

/* The engine's JSON status on c, malloc'd; NULL (logged) on failure. */
char *xlc_status_ask(struct colo_chan *c);

/* A string field of a status ("state"); "?" if absent.  Returns buf. */
const char *xlc_status_field(const char *json, const char *key, char *buf, size_t cap);

#endif
