/*
 * xlcolo-run.c - see xlcolo-run.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "colo-hook.h"
#include "colo-log.h"
#include "xlcolo-run.h"

#ifndef COLO_SBINDIR
#define COLO_SBINDIR "/usr/local/sbin"
#endif

static sigset_t saved_mask;

static const char *env_or(const char *var, const char *dflt)
{
    const char *v = getenv(var);

    return v && v[0] ? v : dflt;
}

const char *xlc_rundir(void) { return env_or("XL_COLO_RUNDIR", "/run/xen-colo"); }
const char *xlc_logdir(void) { return env_or("XL_COLO_LOGDIR", "/var/log/xen"); }

/* $VAR, else the installed one in SBINDIR, else NAME from PATH. */
static const char *program(const char *var, const char *installed, const char *name)
{
    const char *e = getenv(var);

    if (e && e[0])
        return e;
    return access(installed, X_OK) == 0 ? installed : name;
}

const char *xlc_engine_path(void)
{
    return program("XL_COLO_ENGINE", COLO_SBINDIR "/colo-engine", "colo-engine");
}

const char *xlc_proxy_path(void)
{
    return program("XL_COLO_PROXY", COLO_SBINDIR "/colo-proxy", "colo-proxy");
}

const char *xlc_backend(void)
{
    const char *b = env_or("XL_COLO_BACKEND", "xen");

    if (strcmp(b, "xen") && strcmp(b, "sim")) {
        colo_err("XL_COLO_BACKEND='%s': the backends are xen (the default) and sim (tests)", b);
        return NULL;
    }
    return b;
}

int xlc_mkdir(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) == 0 || errno == EEXIST)
        return 0;
    colo_log_errno("cannot create %s", dir);
    return -1;
}

int xlc_ctl_path(const char *name, bool with_scheme, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s/%s.ctl", with_scheme ? "unix:" : "", xlc_rundir(), name);

    if (n < 0 || (size_t)n >= cap || (size_t)n - (with_scheme ? 5 : 0) >= XLC_SUN_PATH_MAX) {
        colo_err("the control socket path %s/%s.ctl is too long for a unix socket "
                 "(XL_COLO_RUNDIR)", xlc_rundir(), name);
        return -1;
    }
    return 0;
}

void xlc_run_file(const char *name, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.%s", xlc_rundir(), name, suffix);
}

void xlc_log_file(const char *name, const char *role, char *out, size_t cap)
{
    snprintf(out, cap, "%s/colo-%s-%s.log", xlc_logdir(), name, role);
}

int xlc_ctl_listening(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd, rc;

    if (strlen(path) >= sizeof(sun.sun_path))
        return 0;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    /* Non-blocking: a listener whose backlog is full (an engine busy in a
     * checkpoint) answers EAGAIN, which still means alive. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EAGAIN;
    close(fd);
    return rc;
}

int xlc_wait_listening(const char *path, pid_t pid, int timeout_ms, int *status)
{
    for (int waited = 0; waited < timeout_ms; waited += 20)
        if (xlc_ctl_listening(path))
            return 1;
        else if (xlc_wait_pid(pid, 20, status))     /* also the 20 ms pause */
            return -1;
    return xlc_ctl_listening(path);
}

int xlc_ctl_alive(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return 0;
    if (xlc_ctl_listening(path))
        return 1;
    if (S_ISSOCK(st.st_mode))
        unlink(path);       /* nobody listens: left by an engine that died */
    return 0;
}

int xlc_ctl_connect(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 2 };
    int fd, e;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
        return fd;
    e = errno;
    close(fd);
    if (e == ECONNREFUSED)
        xlc_ctl_remove(path);       /* nobody listens: left by an engine that died */
    errno = e;
    return -1;
}

void xlc_ctl_remove(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

int xlc_signals_init(void)
{
    sigset_t s;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGCHLD);
    sigprocmask(SIG_BLOCK, &s, &saved_mask);
    return signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
}

void xlc_child_signals(void)
{
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

/* Put fd at exactly `to`, inheritable. */
static int move_fd(int fd, int to)
{
    if (fd == to)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, to) < 0 ? -1 : 0;
}

pid_t xlc_spawn_engine(char *const argv[], const char *log, bool die_with_us, int *ready_fd)
{
    const char *path = xlc_engine_path();
    int p[2], logfd, nullfd;
    pid_t pid, parent = getpid();

    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (logfd < 0) {
        colo_log_errno("cannot open the engine's log %s", log);
        return -1;
    }
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
        colo_log_errno("cannot set up the engine's pipes");
        close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        xlc_child_signals();
        setsid();
        if (die_with_us) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);         /* we already missed it */
        }
        /* p[1] may sit on 0..3; park it above them first. */
        int w = fcntl(p[1], F_DUPFD_CLOEXEC, 10);

        if (w < 0 || move_fd(nullfd, 0) < 0 || move_fd(logfd, 1) < 0 || move_fd(logfd, 2) < 0 ||
            move_fd(w, 3) < 0)
            _exit(127);
        execv(path, argv);
        if (errno == ENOENT && !strchr(path, '/'))
            execvp(path, argv);
        fprintf(stderr, "xl-colo: cannot run %s: %s (set XL_COLO_ENGINE)\n", path,
                strerror(errno));
        _exit(127);
    }
    close(p[1]);
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        colo_log_errno("cannot fork the engine");
        close(p[0]);
        return -1;
    }
    *ready_fd = p[0];
    return pid;
}

int xlc_timeout_args(char **argv, int n, unsigned io_ms, unsigned peer_ms, char bufs[2][16])
{
    if (io_ms) {
        snprintf(bufs[0], sizeof(bufs[0]), "%u", io_ms);
        argv[n++] = "--io-timeout";
        argv[n++] = bufs[0];
    }
    if (peer_ms) {
        snprintf(bufs[1], sizeof(bufs[1]), "%u", peer_ms);
        argv[n++] = "--peer-timeout";
        argv[n++] = bufs[1];
    }
    return n;
}

pid_t xlc_spawn_shell(const char *cmd, int *to_fd, int *from_fd)
{
    int in[2], out[2];
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) < 0)
        goto fail;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        goto fail;
    }
    pid = fork();
    if (pid == 0) {
        xlc_child_signals();
        int r = fcntl(in[0], F_DUPFD_CLOEXEC, 10), w = fcntl(out[1], F_DUPFD_CLOEXEC, 10);

        if (r < 0 || w < 0 || move_fd(r, 0) < 0 || move_fd(w, 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        goto fail;
    }
    *to_fd = in[1];
    *from_fd = out[0];
    return pid;
fail:
    colo_log_errno("cannot start the receiving command");
    return -1;
}

int xlc_wait_pid(pid_t pid, int timeout_ms, int *status)
{
    int r = colo_wait_child(pid, timeout_ms, status);

    if (r < 0)
        *status = 0;        /* not ours, or gone already: ended as far as we can tell */
    return r != 0;
}

int xlc_stop_pid(pid_t pid, int grace_ms)
{
    int status = 0;

    if (xlc_wait_pid(pid, 0, &status))
        return status;
    kill(pid, SIGTERM);
    if (xlc_wait_pid(pid, grace_ms, &status))
        return status;
    colo_warn("process %d did not stop within %d ms of SIGTERM: killing it", (int)pid, grace_ms);
    kill(pid, SIGKILL);
    xlc_wait_pid(pid, -1, &status);
    return status;
}

const char *xlc_describe_status(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "ended (wait status %d)", status);
    return buf;
}

long xlc_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

void xlc_show_log_errors(const char *log, long from, int lines)
{
    FILE *f = fopen(log, "r");
    char (*ring)[512], line[512];
    int n = 0;

    if (!f)
        return;
    ring = calloc((size_t)lines, sizeof(*ring));
    if (!ring || fseek(f, from, SEEK_SET) < 0) {
        free(ring);
        fclose(f);
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strstr(line, ": error: "))
            snprintf(ring[n++ % lines], sizeof(*ring), "%s", line);
    }
    fclose(f);
    for (int i = n > lines ? n - lines : 0; i < n; i++)
        fprintf(stderr, "    | %s\n", ring[i % lines]);
    fprintf(stderr, "    (%s: %s)\n", n ? "the whole log" : "no errors in its log", log);
    free(ring);
}
