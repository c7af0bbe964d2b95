/*
 * xen-tap.c - see xen-tap.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "colo-log.h"
#include "xen-tap.h"

_Static_assert(COLO_XEN_IFNAMSIZ == IFNAMSIZ, "COLO_XEN_IFNAMSIZ is IFNAMSIZ");

/* The value of key in a QEMU option string "a=b,key=v,..." into out; false if absent. */
static bool opt_value(const char *opts, const char *key, char *out, size_t cap, bool *toolong)
{
    size_t klen = strlen(key);
    const char *p = opts;

    *toolong = false;
    while (*p) {
        const char *end = p;

        /* An option ends at a comma that is not doubled (",," is a literal comma). */
        while (*end && !(end[0] == ',' && end[1] != ',')) {
            if (end[0] == ',' && end[1] == ',')
                end++;
            end++;
        }
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t o = 0;

            /* Copy the value, ",," becoming ",". */
            for (const char *v = p + klen + 1; v < end; v++) {
                if (o + 1 >= cap) {
                    *toolong = true;
                    return true;
                }
                out[o++] = *v;
                if (v[0] == ',' && v[1] == ',')
                    v++;
            }
            out[o] = '\0';
            return true;
        }
        p = *end ? end + 1 : end;
    }
    return false;
}

int colo_xen_taps_in_argv(char *const *argv, struct colo_xen_tap *taps, size_t max,
                          const char **why)
{
    int n = 0;

    for (size_t i = 0; argv[i] && argv[i + 1]; i++) {
        const char *o = argv[i + 1];
        char type[16], name[64];
        bool toolong;

        if (strcmp(argv[i], "-netdev") != 0)
            continue;
        i++;
        if (!(strncmp(o, "tap,", 4) == 0 ||
              (opt_value(o, "type", type, sizeof(type), &toolong) && !toolong &&
               strcmp(type, "tap") == 0)))
            continue;
        if (!opt_value(o, "ifname", name, sizeof(name), &toolong))
            continue;       /* qemu names it: nothing outside knows it either */
        if (toolong || name[0] == '\0' || strlen(name) >= COLO_XEN_IFNAMSIZ) {
            *why = name[0] == '\0' && !toolong ? "a tap -netdev with an empty ifname"
                                               : "a tap -netdev whose ifname is too long";
            return -1;
        }
        if ((size_t)n < max) {
            memset(&taps[n], 0, sizeof(taps[n]));
            strcpy(taps[n].ifname, name);
        }
        n++;
    }
    return n;
}

/* Whether name is a Linux bridge (sysfs has its bridge directory). */
static bool is_linux_bridge(const char *name)
{
    char path[64 + COLO_XEN_IFNAMSIZ];
    struct stat st;

    snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", name);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- Open vSwitch, through ovs-vsctl (what Xen's vif-openvswitch uses) ---- */

#define OVS_VSCTL_TIMEOUT_S 10      /* ovs-vsctl --timeout; we wait 5 s more */

/* Where ovs-vsctl is ("" if not in PATH), looked up before any fork. */
static bool find_ovs_vsctl(char *path, size_t cap)
{
    const char *p = getenv("PATH");

    if (!p || !*p)
        p = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    while (*p) {
        size_t len = strcspn(p, ":");

        if (len > 0 && (size_t)snprintf(path, cap, "%.*s/ovs-vsctl", (int)len, p) < cap &&
            access(path, X_OK) == 0)
            return true;
        p += len;
        if (*p == ':')
            p++;
    }
    path[0] = '\0';
    return false;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run ovs-vsctl ARGS... (args NULL-terminated, at most 12).  Its standard
 * output, cut at the end, into out; the first line of its standard error
 * into err.  Returns its exit status, or -1 (err says why) if it could not
 * be run or had to be killed.
 */
static int ovs_vsctl(char *out, size_t outcap, char *err, size_t errcap, const char *const *args)
{
    char prog[PATH_MAX], tmo[32], *argv[16];
    size_t n = 0, len[2] = { 0, 0 }, cap[2] = { outcap, errcap };
    char *buf[2] = { out, err };
    int p[2][2] = { { -1, -1 }, { -1, -1 } }, nul, st, rc = -1;
    long long deadline = mono_ms() + (OVS_VSCTL_TIMEOUT_S + 5) * 1000;
    bool open_[2] = { true, true };
    pid_t pid;

    out[0] = err[0] = '\0';
    if (!find_ovs_vsctl(prog, sizeof(prog))) {
        snprintf(err, errcap, "ovs-vsctl is not installed (not in PATH)");
        return -1;
    }
    snprintf(tmo, sizeof(tmo), "--timeout=%d", OVS_VSCTL_TIMEOUT_S);
    argv[n++] = prog;
    argv[n++] = tmo;
    for (size_t i = 0; args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul < 0 || pipe2(p[0], O_CLOEXEC) < 0 || pipe2(p[1], O_CLOEXEC) < 0) {
        snprintf(err, errcap, "cannot run ovs-vsctl: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "cannot run ovs-vsctl: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here: the engine may not be alone. */
        if (dup2(nul, 0) < 0 || dup2(p[0][1], 1) < 0 || dup2(p[1][1], 2) < 0)
            _exit(127);
        execv(prog, argv);
        _exit(127);
    }
    close(p[0][1]);
    close(p[1][1]);
    p[0][1] = p[1][1] = -1;
    while (open_[0] || open_[1]) {
        struct pollfd pfd[2] = { { p[0][0], POLLIN, 0 }, { p[1][0], POLLIN, 0 } };
        long long left = deadline - mono_ms();
        int r;

        for (int i = 0; i < 2; i++)
            if (!open_[i])
                pfd[i].fd = -1;
        if (left <= 0)
            break;
        r = poll(pfd, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        for (int i = 0; i < 2; i++) {
            char tmp[512];
            ssize_t got;

            if (!open_[i] || !pfd[i].revents)
                continue;
            got = read(pfd[i].fd, tmp, sizeof(tmp));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                open_[i] = false;
                continue;
            }
            /* Keep what fits; the rest is read and dropped. */
            for (ssize_t k = 0; k < got && len[i] + 1 < cap[i]; k++)
                buf[i][len[i]++] = tmp[k];
            buf[i][len[i]] = '\0';
        }
    }
    if (open_[0] || open_[1])
        kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            st = -1;
            break;
        }
    }
    while (len[0] > 0 && (out[len[0] - 1] == '\n' || out[len[0] - 1] == ' '))
        out[--len[0]] = '\0';
    err[strcspn(err, "\n")] = '\0';
    if (open_[0] || open_[1])
        snprintf(err, errcap, "ovs-vsctl did not finish within %d s", OVS_VSCTL_TIMEOUT_S + 5);
    else if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 127)
        rc = WEXITSTATUS(st);
    else if (!err[0])
        snprintf(err, errcap, "ovs-vsctl could not be run");
out:
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (p[i][j] >= 0)
                close(p[i][j]);
    if (nul >= 0)
        close(nul);
    return rc;
}

/* Whether an Open vSwitch database seems to run here: its socket exists
 * where ovs-vsctl looks by default.  Spares hosts without one a useless
 * ovs-vsctl for every tap at every checkpoint. */
static bool ovs_db_present(void)
{
    const char *dir = getenv("OVS_RUNDIR");
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s/db.sock", dir && *dir ? dir : "/var/run/openvswitch");
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* If tap t is an Open vSwitch port, note its bridge and number.  Only an
 * "ovs-system" tap that cannot be looked up is worth a warning. */
static void ovs_remember(struct colo_xen_tap *t)
{
    const char *args[] = { "port-to-br", t->ifname, "--", "get", "Interface", t->ifname,
                           "ofport", NULL };
    bool kernel_dp = strcmp(t->master, "ovs-system") == 0;
    char out[128], err[256], *nl, *end;
    long n;
    int rc;

    t->ovs_bridge[0] = '\0';
    t->ofport = 0;
    if (!kernel_dp && (t->master[0] || !ovs_db_present()))
        return;
    rc = ovs_vsctl(out, sizeof(out), err, sizeof(err), args);
    if (rc != 0) {
        if (kernel_dp)
            colo_warn("xen: tap %s is in Open vSwitch but ovs-vsctl cannot say where: %s",
                      t->ifname, err[0] ? err : "it failed");
        else
            colo_debug("xen: tap %s: not an Open vSwitch port (%s)", t->ifname, err);
        return;
    }
    nl = strchr(out, '\n');
    if (!nl || (size_t)(nl - out) >= sizeof(t->ovs_bridge) || nl == out) {
        colo_warn("xen: tap %s: cannot read its Open vSwitch bridge from \"%s\"", t->ifname, out);
        return;
    }
    errno = 0;
    n = strtol(nl + 1, &end, 10);
    if (errno || *end || n <= 0 || n >= 0xff00) {
        colo_warn("xen: tap %s is in Open vSwitch bridge %.*s without a port number (%s): "
                  "it cannot be re-added under the same one", t->ifname, (int)(nl - out), out,
                  nl + 1);
        return;
    }
    memcpy(t->ovs_bridge, out, (size_t)(nl - out));
    t->ovs_bridge[nl - out] = '\0';
    t->ofport = n;
    colo_debug("xen: tap %s: Open vSwitch bridge %s, port %ld", t->ifname, t->ovs_bridge, n);
}

/*
 * Make ovs-vswitchd open the new tap t under its old number: a change of
 * ofport_request makes it delete the port and add it again, so two
 * changes (another number, then the old one) leave it re-opened where it
 * was.  0, or -1 logged.
 */
static int ovs_replug(const struct colo_xen_tap *t)
{
    char req[2][40], out[128], err[256], *end;
    const char *set[2][6], *get[] = { "get", "Interface", t->ifname, "ofport", NULL };
    const char *where[] = { "port-to-br", t->ifname, NULL };
    long n;

    /* Taken out of Open vSwitch meanwhile - the in-line layout gives the
     * tap to colo-proxy, which opens the new one by its name: nothing to
     * re-add. */
    if (ovs_vsctl(out, sizeof(out), err, sizeof(err), where) != 0) {
        colo_info("xen: tap %s is no longer a port of Open vSwitch (it was of bridge %s): "
                  "only brought up", t->ifname, t->ovs_bridge);
        return 0;
    }

    snprintf(req[0], sizeof(req[0]), "ofport_request=%ld", t->ofport == 65000 ? 65001L : 65000L);
    snprintf(req[1], sizeof(req[1]), "ofport_request=%ld", t->ofport);
    for (int i = 0; i < 2; i++) {
        set[i][0] = "set";
        set[i][1] = "Interface";
        set[i][2] = t->ifname;
        set[i][3] = req[i];
        set[i][4] = NULL;
        if (ovs_vsctl(out, sizeof(out), err, sizeof(err), set[i]) != 0) {
            colo_err("xen: cannot make Open vSwitch take tap %s back into bridge %s: %s",
                     t->ifname, t->ovs_bridge, err[0] ? err : "ovs-vsctl failed");
            return -1;
        }
    }
    if (ovs_vsctl(out, sizeof(out), err, sizeof(err), get) != 0) {
        colo_err("xen: cannot read tap %s's Open vSwitch port number: %s", t->ifname,
                 err[0] ? err : "ovs-vsctl failed");
        return -1;
    }
    errno = 0;
    n = strtol(out, &end, 10);
    if (errno || *end || n != t->ofport) {
        colo_err("xen: Open vSwitch took tap %s back as port %s, not %ld: flows that name "
                 "port %ld no longer reach it", t->ifname, out, t->ofport, t->ofport);
        return -1;
    }
    colo_debug("xen: tap %s is port %ld of Open vSwitch bridge %s again", t->ifname, n,
               t->ovs_bridge);
    return 0;
}

int colo_xen_taps_remember(struct colo_xen_tap *taps, size_t n)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (sock < 0) {
        colo_log_errno("xen: socket for interface flags");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct colo_xen_tap *t = &taps[i];
        struct ifreq ifr;
        char link[PATH_MAX], path[64 + COLO_XEN_IFNAMSIZ];
        ssize_t len;

        t->seen = false;
        t->up = false;
        t->master[0] = '\0';
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
            /* A tap not there (yet) is nothing to put back. */
            colo_debug("xen: tap %s: not present (%s)", t->ifname, strerror(errno));
            continue;
        }
        t->seen = true;
        t->up = (ifr.ifr_flags & IFF_UP) != 0;
        snprintf(path, sizeof(path), "/sys/class/net/%s/master", t->ifname);
        len = readlink(path, link, sizeof(link) - 1);
        if (len > 0) {
            const char *base;

            link[len] = '\0';
            base = strrchr(link, '/');
            base = base ? base + 1 : link;
            if (strlen(base) < sizeof(t->master))
                memcpy(t->master, base, strlen(base) + 1);
        }
        colo_debug("xen: tap %s: %s, bridge %s", t->ifname, t->up ? "up" : "down",
                   t->master[0] ? t->master : "none");
        if (!is_linux_bridge(t->master))
            ovs_remember(t);
    }
    close(sock);
    return 0;
}

int colo_xen_taps_replug(const struct colo_xen_tap *taps, size_t n)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

    if (sock < 0) {
        colo_log_errno("xen: socket for interface flags");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct colo_xen_tap *t = &taps[i];
        struct ifreq ifr;
        unsigned idx;

        if (!t->seen)
            continue;
        idx = if_nametoindex(t->ifname);
        if (idx == 0) {
            colo_err("xen: the restarted qemu-xen has no tap %s", t->ifname);
            rc = -1;
            continue;
        }
        if (t->master[0] && if_nametoindex(t->master) == 0) {
            colo_err("xen: cannot put tap %s back into bridge %s: the bridge is gone",
                     t->ifname, t->master);
            rc = -1;
            continue;
        }
        if (t->master[0] && is_linux_bridge(t->master)) {
            memset(&ifr, 0, sizeof(ifr));
            snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->master);
            ifr.ifr_ifindex = (int)idx;
            if (ioctl(sock, SIOCBRADDIF, &ifr) < 0 && errno != EBUSY) {
                colo_log_errno("xen: cannot put tap %s back into bridge %s", t->ifname,
                               t->master);
                rc = -1;
                continue;
            }
        } else if (t->ovs_bridge[0]) {
            if (ovs_replug(t) < 0) {
                rc = -1;
                continue;
            }
        } else if (t->master[0]) {
            colo_debug("xen: tap %s was in %s, not a Linux bridge: only brought up",
                       t->ifname, t->master);
        }
        if (!t->up)
            continue;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
            colo_log_errno("xen: cannot read the flags of tap %s", t->ifname);
            rc = -1;
            continue;
        }
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
            colo_log_errno("xen: cannot bring tap %s up", t->ifname);
            rc = -1;
        }
    }
    close(sock);
    return rc;
}
