/*
 * colo-hook.h - the operator's commands the engine runs at its events.
 *
 * What the engine cannot know - how this host's switch is wired, which
 * proxy serves which port - belongs to whoever runs the host, so the
 * engine runs a command at the moments that matter and says which in the
 * environment: COLO_ROLE (primary|secondary), COLO_EVENT, COLO_DOMAIN (the
 * protected domain's name), COLO_CONTROL (the engine's --control address,
 * empty without) and COLO_DOMID (the domain's id, empty where the backend
 * has none).  The command runs as /bin/sh -c CMD, in its own process group,
 * its output on the engine's stderr (the log).
 *
 *   --on-failover CMD  failover | secondary-lost   not waited for: the VM
 *                                                 never waits on a script
 *   --on-svm CMD       svm-created                waited for (bounded) before
 *                                                 the SVM can first run;
 *                                                 failing refuses the SVM
 *                      svm-destroyed              waited for (bounded)
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_HOOK_H
#define COLO_HOOK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct colo_hook_env {
    const char *role, *domain, *control;
    int64_t domid;                  /* -1: none */
};

/* Start "/bin/sh -c cmd" for event.  opt names the option in messages
 * ("--on-failover").  The pid, or -1 (logged). */
pid_t colo_hook_start(const char *opt, const char *cmd, const struct colo_hook_env *env,
                      const char *event);

/*
 * Has the command ended?  Reaps it and logs how it ended: 1 if it exited
 * with status 0, -1 if it failed, 0 if it still runs (then, if last, says
 * it is left to finish).
 */
int colo_hook_reap(const char *opt, pid_t pid, bool last);

/* Wait for the command, at most timeout_ms; then its process group is
 * killed.  0 if it exited with status 0, -1 otherwise (logged). */
int colo_hook_wait(const char *opt, pid_t pid, int timeout_ms);

/*
 * Wait up to timeout_ms (-1: for ever) for child pid to end, polling every
 * 10 ms (the callers run no SIGCHLD handler and keep their other children
 * unreaped): 1 when it has ended (*status its wait status), 0 if it still
 * runs, -1 if it cannot be waited for (reaped elsewhere or not our child;
 * errno from waitpid).  Shared by the engine's hooks and xl-colo.
 */
int colo_wait_child(pid_t pid, int timeout_ms, int *status);

#endif
