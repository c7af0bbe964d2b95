/* colo-hook.c - see colo-hook.h. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-hook.h"
#include "colo-log.h"

#define NVARS 5

/*
 * The environment is built before fork, so that the child only calls
 * exec: ours, with the COLO_* variables replaced.
 */
pid_t colo_hook_start(const char *opt, const char *cmd, const struct colo_hook_env *env,
                      const char *event)
{
    extern char **environ;
    char vars[NVARS][320], **envp;
    size_t n = 0, k = 0;
    sigset_t none;
    pid_t pid;

    snprintf(vars[0], sizeof(vars[0]), "COLO_ROLE=%s", env->role);
    snprintf(vars[1], sizeof(vars[1]), "COLO_EVENT=%s", event);
    snprintf(vars[2], sizeof(vars[2]), "COLO_DOMAIN=%s", env->domain);
    snprintf(vars[3], sizeof(vars[3]), "COLO_CONTROL=%s", env->control ? env->control : "");
    if (env->domid >= 0)
        snprintf(vars[4], sizeof(vars[4]), "COLO_DOMID=%" PRId64, env->domid);
    else
        snprintf(vars[4], sizeof(vars[4]), "COLO_DOMID=");
    while (environ[n])
        n++;
    if (!(envp = calloc(n + NVARS + 1, sizeof(*envp)))) {
        colo_err("%s: out of memory for the %s command", event, opt);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;

        for (size_t j = 0; j < NVARS; j++)     /* same name, up to and with its '=' */
            replaced |= strncmp(environ[i], vars[j], (size_t)(strchr(vars[j], '=') - vars[j]) + 1) == 0;
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < NVARS; j++)
        envp[k++] = vars[j];
    sigemptyset(&none);
    pid = fork();
    if (pid == 0) {
        /* Undo what the engine set up for itself: blocked SIGINT/SIGTERM
         * (signalfd), ignored SIGPIPE; stdout is the engine's status.  A
         * process group of its own, so that a command that outlives its
         * time can be stopped with whatever it started. */
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(2, 1);
        execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
        _exit(127);
    }
    free(envp);
    if (pid < 0) {
        colo_log_errno("%s: cannot run the %s command", event, opt);
        return -1;
    }
    setpgid(pid, pid);          /* also here: no race with a kill before the child's own */
    colo_info("%s: running the %s command (pid %d)", event, opt, (int)pid);
    return pid;
}

static int report(const char *opt, int st)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        colo_info("the %s command finished", opt);
        return 1;
    }
    if (WIFEXITED(st))
        colo_err("the %s command failed with exit status %d%s", opt, WEXITSTATUS(st),
                 WEXITSTATUS(st) == 127 ? " (not found, or /bin/sh missing)" : "");
    else
        colo_err("the %s command was killed by signal %d", opt, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return -1;
}

int colo_hook_reap(const char *opt, pid_t pid, bool last)
{
    pid_t r;
    int st;

    while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r < 0) {        /* reaped elsewhere, or never ours: it has ended */
        colo_log_errno("cannot wait for the %s command (pid %d)", opt, (int)pid);
        return -1;
    }
    if (r != pid) {
        if (last)
            colo_warn("the %s command (pid %d) is still running; it is left to finish",
                      opt, (int)pid);
        return 0;
    }
    return report(opt, st);
}

int colo_wait_child(pid_t pid, int timeout_ms, int *status)
{
    uint64_t deadline = colo_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (timeout_ms >= 0 && colo_now_ns() >= deadline)
            return 0;
        nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);    /* 10 ms */
    }
}

int colo_hook_wait(const char *opt, pid_t pid, int timeout_ms)
{
    int st, r = colo_wait_child(pid, timeout_ms, &st);

    if (r > 0)
        return report(opt, st) > 0 ? 0 : -1;
    if (r < 0) {
        colo_log_errno("cannot wait for the %s command", opt);
        return -1;
    }
    colo_err("the %s command did not finish within %d ms; stopping it", opt, timeout_ms);
    kill(-pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}
