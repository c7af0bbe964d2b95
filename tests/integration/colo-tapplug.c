/*
 * colo-tapplug - drives xen-tap.c (an SVM's emulated NICs across qemu-xen
 * restarts) outside Xen, for tests/integration/xen-tap.sh.
 *
 *   colo-tapplug NETDEV-OPTS [NETDEV-OPTS...] -- CMD [ARG...]
 *
 * Reads the taps out of a qemu-style command line made of one "-netdev X"
 * per NETDEV-OPTS, notes where each is, runs CMD (which stands in for
 * qemu's restart: it removes the taps and makes them again), then puts
 * them back.  Exit 0 if all went well, 1 (with the backend's error on
 * stderr) if not, 2 for bad use.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-log.h"
#include "xen-tap.h"

int main(int argc, char **argv)
{
    struct colo_xen_tap taps[COLO_XEN_MAX_TAPS];
    char *qargv[2 * 16 + 2];
    const char *why = NULL;
    int i, q = 0, n, status;
    pid_t pid;

    qargv[q++] = "qemu";
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (q >= (int)(sizeof(qargv) / sizeof(qargv[0])) - 2) {
            fprintf(stderr, "colo-tapplug: at most 16 -netdev options\n");
            return 2;
        }
        qargv[q++] = "-netdev";
        qargv[q++] = argv[i];
    }
    qargv[q] = NULL;
    if (i >= argc - 1) {
        fprintf(stderr, "usage: colo-tapplug NETDEV-OPTS... -- CMD [ARG...]\n");
        return 2;
    }
    n = colo_xen_taps_in_argv(qargv, taps, COLO_XEN_MAX_TAPS, &why);
    if (n < 0) {
        fprintf(stderr, "colo-tapplug: %s\n", why);
        return 1;
    }
    if (n > COLO_XEN_MAX_TAPS) {
        fprintf(stderr, "colo-tapplug: %d taps, more than %d\n", n, COLO_XEN_MAX_TAPS);
        return 1;
    }
    printf("taps:");
    for (int k = 0; k < n; k++)
        printf(" %s", taps[k].ifname);
    printf("\n");
    if (colo_xen_taps_remember(taps, (size_t)n) < 0)
        return 1;
    for (int k = 0; k < n; k++)
        printf("remembered %s: %s, bridge %s\n", taps[k].ifname,
               !taps[k].seen ? "absent" : taps[k].up ? "up" : "down",
               taps[k].master[0] ? taps[k].master : "none");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execvp(argv[i + 1], &argv[i + 1]);
        perror("colo-tapplug: exec");
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "colo-tapplug: the command did not succeed\n");
        return 1;
    }
    return colo_xen_taps_replug(taps, (size_t)n) < 0 ? 1 : 0;
}
