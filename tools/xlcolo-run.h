/*
 * xlcolo-run.h - where xl-colo keeps things, and the processes it runs:
 * the colo-engine daemons and the receiving command.
 *
 * Places (environment variables override them, for tests and packagers):
 *   XL_COLO_RUNDIR   /run/xen-colo      DOMAIN.ctl (the engine's control
 *                                       socket, which colo-status uses),
 *                                       DOMAIN.pid, DOMAIN.cfg (receiver)
 *   XL_COLO_LOGDIR   /var/log/xen       colo-DOMAIN-primary.log,
 *                                       colo-DOMAIN-secondary.log
 *   XL_COLO_ENGINE   SBINDIR/colo-engine, else colo-engine from PATH
 *   XL_COLO_PROXY    SBINDIR/colo-proxy, else colo-proxy from PATH
 *   XL_COLO_BACKEND  xen                sim: simulated domains, for tests
 *                                       on machines without Xen
 *   XL               xl                 the xl other subcommands go to
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_RUN_H
#define XLCOLO_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define XLC_SUN_PATH_MAX 108

const char *xlc_rundir(void);
const char *xlc_logdir(void);
const char *xlc_engine_path(void);
const char *xlc_proxy_path(void);     /* XL_COLO_PROXY, SBINDIR/colo-proxy, PATH */
/* "xen" or "sim"; NULL (logged) for anything else. */
const char *xlc_backend(void);

/* Create dir (one level) if missing; 0 or -1 logged. */
int xlc_mkdir(const char *dir, mode_t mode);

/* RUNDIR/NAME.ctl ("unix:" prefixed if with_scheme); -1 logged if too long
 * for a unix socket. */
int xlc_ctl_path(const char *name, bool with_scheme, char *out, size_t cap);
/* RUNDIR/NAME.SUFFIX and LOGDIR/colo-NAME-ROLE.log */
void xlc_run_file(const char *name, const char *suffix, char *out, size_t cap);
void xlc_log_file(const char *name, const char *role, char *out, size_t cap);

/*
 * Is an engine serving the control socket at path?  1 yes; 0 no (a stale
 * socket file is removed).
 */
int xlc_ctl_alive(const char *path);

/* The same question, leaving the file alone: for a daemon that is only
 * starting (between its bind and its listen a connection is refused). */
int xlc_ctl_listening(const char *path);

/*
 * Wait up to timeout_ms for the daemon pid, which is starting, to listen at
 * path: 1 once it does, 0 if the time ran out, -1 if pid ended first (its
 * wait status in *status).
 */
int xlc_wait_listening(const char *path, pid_t pid, int timeout_ms, int *status);

/*
 * Connect to the control socket at path, without logging: the fd, or -1
 * with errno (ENOENT: no socket; ECONNREFUSED: a stale one, now removed).
 * A connect that cannot complete within 2 s fails with EAGAIN.
 */
int xlc_ctl_connect(const char *path);

/* Remove the control socket of an engine that has been reaped (its sim
 * workload, forked from it, may still hold the socket for a moment, so
 * asking who listens is not enough). */
void xlc_ctl_remove(const char *path);

/*
 * Block SIGINT, SIGTERM and SIGHUP (and SIGCHLD) and return a signalfd for
 * them, so every wait can also watch for the operator; children get the
 * old mask back before exec.
 */
int xlc_signals_init(void);

/* In a child, before exec: the signal mask as it was before
 * xlc_signals_init, SIGPIPE back to its default. */
void xlc_child_signals(void);

/*
 * Start colo-engine with argv (argv[0] is ignored: the engine's path is
 * used), stdout and stderr appended to log, stdin /dev/null, a ready pipe
 * as fd 3 (--ready-fd 3 must be in argv), its own session (a terminal's
 * Ctrl-C is for xl-colo, which then stops it properly).  If die_with_us,
 * the kernel sends it SIGTERM when xl-colo dies.  Returns the pid and the
 * pipe's read end in *ready_fd, or -1 logged.
 */
pid_t xlc_spawn_engine(char *const argv[], const char *log, bool die_with_us, int *ready_fd);

/* Append "--io-timeout MS" and "--peer-timeout MS" to an engine's argv at
 * argv[n] for those that are set (non-zero); the numbers live in bufs.
 * Returns the new n. */
int xlc_timeout_args(char **argv, int n, unsigned io_ms, unsigned peer_ms, char bufs[2][16]);

/* sh -c cmd, its stdin fed from *to_fd and its stdout read from *from_fd;
 * stderr is ours.  -1 logged. */
pid_t xlc_spawn_shell(const char *cmd, int *to_fd, int *from_fd);

/* Wait up to timeout_ms (-1: forever) for pid to exit: 1 and *status, or 0
 * if it has not; 1 with *status 0 if it cannot be waited for (not ours, or
 * reaped already).  colo_wait_child() with xl-colo's reading of errors. */
int xlc_wait_pid(pid_t pid, int timeout_ms, int *status);

/* SIGTERM, grace_ms to exit, then SIGKILL; returns the wait status. */
int xlc_stop_pid(pid_t pid, int grace_ms);

/* "exited with status N" / "was killed by signal N" for messages. */
const char *xlc_describe_status(int status, char *buf, size_t cap);

/* The size of a file now (0 if there is none): where this run's part of
 * an engine log starts. */
long xlc_file_size(const char *path);

/* The engine's errors from its log since offset `from`, for an operator:
 * its last `lines` error lines, indented, and where the log is. */
void xlc_show_log_errors(const char *log, long from, int lines);

#endif
