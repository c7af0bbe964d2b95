/*
 * xen-tap.c - see xen-tap.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
    }
    close(sock);
    return 0;
}

/* Whether name is a Linux bridge (sysfs has its bridge directory). */
static bool is_linux_bridge(const char *name)
{
    char path[64 + COLO_XEN_IFNAMSIZ];
    struct stat st;

    snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", name);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
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
