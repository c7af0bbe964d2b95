/*
 * xen-dm.c - qemu-state=restart: the SVM's device model is started again
 * at each checkpoint, loading the PVM's qemu-xen state as an incoming
 * migration.
 *
 * Why: QEMU >= 6.0 aborts on QMP xen-load-devices-state (xen-policy.h),
 * the only command that loads device state into a running qemu-xen.  The
 * other way in is the one libxl's restore takes: a qemu-xen started with
 * "-incoming" reads the state before it runs, and that path is sound in
 * every QEMU.  So at each checkpoint, with the SVM suspended, the backend
 * stops the SVM's qemu-xen (QMP "quit": qemu's exit path tears down its
 * ioreq server, so Xen forwards no I/O to a dead process), starts it again
 * with the same command line plus "-S -incoming fd:N" (the domain's RAM is
 * already there: qemu-xen does not populate RAM while it is in-migrate),
 * points xenstore's device-model-pid at the new process (so that
 * "xl destroy" still kills it), and waits for qemu to report "paused":
 * the state is loaded.  The new qemu's taps are put back where the old
 * one's were (xen-tap.h).  resume's QMP "cont" sets it running.
 *
 * The command line comes from /proc/PID/cmdline of the qemu libxl started,
 * read once: libxl builds it from the xl.cfg and is the authority on it.
 *
 * Cost: a qemu-xen start per checkpoint (tens of ms on hardware); the
 * price of emulated devices (UART, NIC, disk controller) whose state
 * matches the guest's memory after every checkpoint.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "qmp.h"
#include "xen-domain.h"
#include "xen-policy.h"
#include "xen-tap.h"

#define CMDLINE_MAX (256u * 1024u)

static long long now_ms(void)
{
    return (long long)(colo_now_ns() / 1000000);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static void pid_path(const struct colo_domain *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "/local/domain/%" PRIu32 "/image/device-model-pid", d->domid);
}

/* The device model's pid, as libxl (and we, after a restart) recorded it. */
static pid_t dm_pid(const struct colo_domain *d)
{
    char path[96], *v, *endp;
    unsigned int len = 0;
    struct xs_handle *xs = xs_open(0);
    long pid;

    if (!xs) {
        colo_log_errno("xen: cannot open xenstore");
        return -1;
    }
    pid_path(d, path, sizeof(path));
    v = xs_read(xs, XBT_NULL, path, &len);
    xs_close(xs);
    if (!v) {
        colo_err("xen: domain %" PRIu32 " has no device model pid in xenstore (%s)",
                 d->domid, path);
        return -1;
    }
    errno = 0;
    pid = strtol(v, &endp, 10);
    if (errno || endp == v || *endp || pid <= 1 || pid > 0x3fffffff) {
        colo_err("xen: %s holds '%s', not a process id", path, v);
        free(v);
        return -1;
    }
    free(v);
    return (pid_t)pid;
}

static int set_dm_pid(const struct colo_domain *d, pid_t pid)
{
    char path[96], val[24];
    struct xs_handle *xs = xs_open(0);
    bool ok;

    if (!xs) {
        colo_log_errno("xen: cannot open xenstore");
        return -1;
    }
    pid_path(d, path, sizeof(path));
    snprintf(val, sizeof(val), "%ld", (long)pid);
    ok = xs_write(xs, XBT_NULL, path, val, (unsigned)strlen(val));
    xs_close(xs);
    if (!ok) {
        colo_log_errno("xen: cannot record the new device model pid in %s", path);
        return -1;
    }
    return 0;
}

int colo_xen_dm_capture(struct colo_domain *d)
{
    char path[64];
    pid_t pid = dm_pid(d);
    size_t got = 0;
    int fd;

    if (pid < 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        colo_log_errno("xen: cannot read the SVM's qemu-xen command line (%s)", path);
        return -1;
    }
    free(d->dm_cmdline);
    d->dm_cmdline = malloc(CMDLINE_MAX);
    if (!d->dm_cmdline) {
        close(fd);
        colo_err("xen: out of memory for the device model's command line");
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, d->dm_cmdline + got, CMDLINE_MAX - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            colo_log_errno("xen: reading %s", path);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == CMDLINE_MAX) {
            colo_err("xen: %s is longer than %u bytes", path, CMDLINE_MAX);
            close(fd);
            return -1;
        }
    }
    close(fd);
    d->dm_cmdline_len = got;
    colo_debug("xen: SVM qemu-xen (pid %ld): %zu bytes of command line kept for restarts",
               (long)pid, got);
    return 0;
}

/* Whether something accepts connections on the unix socket at path (no log). */
static bool socket_accepts(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, rc;

    if (strlen(path) >= sizeof(sa.sun_path))
        return false;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc == 0;
}

/* Wait up to ms for a process (not our child) to be gone. */
static bool gone_within(pid_t pid, unsigned ms)
{
    long long deadline = now_ms() + ms;

    while (kill(pid, 0) == 0) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(5);
    }
    return true;
}

/*
 * Make the old qemu-xen exit through its own exit path: that is where it
 * destroys its ioreq server.  QMP "quit", because libxl starts qemu-xen
 * with -no-shutdown, under which SIGTERM only pauses it.  SIGKILL is the
 * last resort, and it leaks the ioreq server: Xen allows a domain only a
 * few (8 in 4.17), so a restart after a leak is a warning.
 */
static int stop_dm(const struct colo_domain *d, pid_t pid)
{
    struct colo_qmp *q = NULL;

    if (colo_qmp_connect(d->qmp_path, d->spec.timeout_ms, &q) == 0)
        (void)colo_qmp_execute(q, "quit", NULL, 0, NULL);     /* the reply may not come */
    colo_qmp_close(q);
    if (gone_within(pid, d->spec.timeout_ms))
        return 0;
    colo_warn("xen: qemu-xen %ld of domain %" PRIu32 " did not quit within %u ms; killing "
              "it (Xen keeps its ioreq server)", (long)pid, d->domid, d->spec.timeout_ms);
    if (kill(pid, SIGKILL) < 0 && errno != ESRCH) {
        colo_log_errno("xen: cannot kill qemu-xen %ld", (long)pid);
        return -1;
    }
    if (!gone_within(pid, 2000)) {
        colo_err("xen: qemu-xen %ld of domain %" PRIu32 " does not go away", (long)pid,
                 d->domid);
        errno = ETIMEDOUT;
        return -1;
    }
    return 0;
}

/* The state file is fd 3 in the new qemu ("-incoming fd:3"). */
#define DM_STATE_FD 3

/*
 * Start argv detached (a grandchild in its own session, reparented to init
 * as libxl's device models are), stdout/stderr appended to log, the state
 * file as fd 3 and no other descriptor of the engine: a qemu holding the
 * replication socket open would keep the peer from seeing the engine die.
 * Returns its pid, or -1 if it could not be started.
 */
static pid_t spawn_dm(char **argv, const char *log, int state_fd)
{
    long maxfd = sysconf(_SC_OPEN_MAX);
    int p[2], err = 0;
    pid_t mid, pid = -1;
    ssize_t n;

    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    if (pipe2(p, O_CLOEXEC) < 0) {
        colo_log_errno("xen: pipe");
        return -1;
    }
    mid = fork();
    if (mid < 0) {
        colo_log_errno("xen: fork");
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (mid == 0) {
        /* Only async-signal-safe calls from here: the engine may have threads. */
        pid_t g;

        setsid();
        g = fork();
        if (g == 0) {
            int sfd = fcntl(state_fd, F_DUPFD_CLOEXEC, 10);
            int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
            int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

            if (sfd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(sfd, DM_STATE_FD) < 0)
                err = errno ? errno : EBADF;
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            }
            /* Everything above fd 3 closes at exec (dup2 cleared fd 3's flag). */
            if (!err && close_range(DM_STATE_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
                for (int fd = DM_STATE_FD + 1; fd < maxfd; fd++)
                    fcntl(fd, F_SETFD, FD_CLOEXEC);
            }
            if (!err) {
                execv(argv[0], argv);
                err = errno;
            }
            if (write(p[1], &err, sizeof(err)) < 0)
                _exit(127);
            _exit(127);
        }
        if (write(p[1], &g, sizeof(g)) < 0)
            _exit(1);
        _exit(g < 0 ? 1 : 0);
    }
    close(p[1]);
    while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
        ;
    n = read(p[0], &pid, sizeof(pid));
    if (n != (ssize_t)sizeof(pid) || pid <= 0) {
        colo_err("xen: could not start %s", argv[0]);
        close(p[0]);
        return -1;
    }
    /* EOF: the exec closed the pipe; an int: why the exec did not happen. */
    n = read(p[0], &err, sizeof(err));
    close(p[0]);
    if (n == (ssize_t)sizeof(err)) {
        errno = err;
        colo_log_errno("xen: cannot execute %s", argv[0]);
        return -1;
    }
    return pid;
}

/* Until qemu-xen has read the state: QMP status "paused" (it runs with -S). */
static int wait_loaded(struct colo_domain *d, pid_t pid)
{
    long long deadline = now_ms() + d->spec.timeout_ms;
    const char *pstatus[] = { "status", NULL };
    char last[32] = "no answer";

    for (;;) {
        struct colo_qmp *q = NULL;
        struct colo_qmp_reply *r = NULL;

        if (kill(pid, 0) < 0) {
            colo_err("xen: the restarted qemu-xen of domain %" PRIu32 " (pid %ld) exited "
                     "while loading the device state; see /var/log/xen/qemu-dm-%s.log",
                     d->domid, (long)pid, d->name);
            return -1;
        }
        long long left = deadline - now_ms();

        /* A qemu under load can be slow to greet: give the connection what is left. */
        if (socket_accepts(d->qmp_path) &&
            colo_qmp_connect(d->qmp_path, left > 0 ? (unsigned)left : 1, &q) == 0 &&
            colo_qmp_execute(q, "query-status", NULL, 0, &r) == 0) {
            yajl_val v = colo_qmp_reply_value(r);
            yajl_val s = v ? yajl_tree_get(v, pstatus, yajl_t_string) : NULL;

            snprintf(last, sizeof(last), "%s", s ? YAJL_GET_STRING(s) : "?");
        }
        colo_qmp_reply_free(r);
        colo_qmp_close(q);
        if (strcmp(last, "paused") == 0)
            return 0;
        if (strcmp(last, "inmigrate") != 0 && strcmp(last, "no answer") != 0) {
            colo_err("xen: the restarted qemu-xen of domain %" PRIu32 " is '%s' after "
                     "loading the device state (expected 'paused')", d->domid, last);
            return -1;
        }
        if (now_ms() > deadline) {
            colo_err("xen: the restarted qemu-xen of domain %" PRIu32 " did not load the "
                     "device state within %u ms (status: %s)", d->domid,
                     d->spec.timeout_ms, last);
            errno = ETIMEDOUT;
            return -1;
        }
        sleep_ms(10);
    }
}

int colo_xen_dm_restart(struct colo_domain *d, const char *state_path)
{
    char log[COLO_XEN_NAME_MAX + 64];
    const char *why = NULL;
    char **argv;
    struct colo_xen_tap taps[COLO_XEN_MAX_TAPS];
    long long t0 = now_ms();
    pid_t old, pid;
    int fd, ntaps, rc = -1;

    if (!d->dm_cmdline && colo_xen_dm_capture(d) < 0)
        return -1;
    old = dm_pid(d);
    if (old < 0)
        return -1;
    fd = open(state_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        colo_log_errno("xen: cannot open %s", state_path);
        return -1;
    }
    argv = colo_xen_dm_argv(d->dm_cmdline, d->dm_cmdline_len, DM_STATE_FD, &why);
    if (!argv) {
        colo_err("xen: cannot restart the SVM's qemu-xen: %s", why);
        goto out;
    }
    ntaps = colo_xen_taps_in_argv(argv, taps, COLO_XEN_MAX_TAPS, &why);
    if (ntaps < 0 || ntaps > COLO_XEN_MAX_TAPS) {
        colo_err("xen: cannot restart the SVM's qemu-xen: %s",
                 ntaps < 0 ? why : "more emulated NICs than the backend handles");
        goto out;
    }
    snprintf(log, sizeof(log), "/var/log/xen/qemu-dm-%s.log", d->name);
    /* The old qemu's taps go with it: note their bridges (xen-tap.h). */
    if (colo_xen_taps_remember(taps, (size_t)ntaps) < 0 || stop_dm(d, old) < 0)
        goto out;
    pid = spawn_dm(argv, log, fd);
    if (pid < 0)
        goto out;
    if (set_dm_pid(d, pid) < 0 || wait_loaded(d, pid) < 0) {
        kill(pid, SIGKILL);
        goto out;
    }
    if (colo_xen_taps_replug(taps, (size_t)ntaps) < 0)
        goto out;
    d->qemu_stopped = true;
    /*
     * The new qemu starts without reporting its writes to guest memory; the
     * old one did if dirty logging is on (xen-memory.c), and the SVM's
     * dirty set must keep counting them.  (Turning it off later in a qemu
     * where it is not on trips an assertion in QEMU.)
     */
    if (d->qemu_logdirty) {
        if (colo_xen_qemu_logdirty(d, true) < 0) {
            colo_err("xen: the restarted qemu-xen of domain %" PRIu32 " would not log its "
                     "writes to guest memory", d->domid);
            goto out;
        }
    }
    colo_debug("xen: domain %" PRIu32 ": qemu-xen restarted (pid %ld -> %ld, %lld ms) with "
               "the checkpoint's device state", d->domid, (long)old, (long)pid, now_ms() - t0);
    rc = 0;
out:
    colo_xen_dm_argv_free(argv);
    close(fd);
    return rc;
}
