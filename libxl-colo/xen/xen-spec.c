/*
 * xen-spec.c - parse the xen backend's domain options; see xen-spec.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen-spec.h"

static const char known_keys[] = "domid, name, config, qmp, statedir, timeout, qemu-state, save, restore";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/*
 * Strict unsigned decimal: digits only (no sign, no blanks, no 0x), so
 * "domid=-1" or "domid=5x" is an error rather than a surprise.
 */
static int parse_uint(const char *s, size_t len, unsigned long long max,
                      unsigned long long *out)
{
    unsigned long long v = 0;

    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Copy value (not NUL-terminated) into dst of size cap; -1 if it does not fit. */
static int copy_value(char *dst, size_t cap, const char *v, size_t vlen)
{
    if (vlen >= cap)
        return -1;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    return 0;
}

/* Handle one "key=value" item; key and value are slices of the options string. */
static int parse_item(struct colo_xen_spec *s, const char *key, size_t klen,
                      const char *val, size_t vlen, unsigned *seen,
                      char *err, size_t errlen)
{
    static const char *const keys[] = { "domid", "name", "config", "qmp", "statedir", "timeout",
                                        "qemu-state", "save", "restore" };
    unsigned long long n;
    bool lg;
    int k = -1;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strlen(keys[i]) == klen && memcmp(keys[i], key, klen) == 0)
            k = (int)i;
    if (k < 0) {
        set_err(err, errlen, "unknown option '%.*s' (known: %s)", (int)klen, key, known_keys);
        return -1;
    }
    if (*seen & (1u << k)) {
        set_err(err, errlen, "option '%s' given twice", keys[k]);
        return -1;
    }
    *seen |= 1u << k;
    if (vlen == 0) {
        set_err(err, errlen, "option '%s' has an empty value", keys[k]);
        return -1;
    }

    switch (k) {
    case 0: /* domid */
        if (parse_uint(val, vlen, COLO_XEN_DOMID_MAX, &n) < 0) {
            set_err(err, errlen, "option 'domid': '%.*s' is not a domain id (1..%u)",
                    (int)vlen, val, COLO_XEN_DOMID_MAX);
            return -1;
        }
        if (n == 0) {
            set_err(err, errlen, "option 'domid': domain 0 is dom0 and cannot be replicated");
            return -1;
        }
        s->has_domid = true;
        s->domid = (uint32_t)n;
        return 0;
    case 1: /* name */
        if (copy_value(s->name, sizeof(s->name), val, vlen) < 0) {
            set_err(err, errlen, "option 'name': longer than %d characters",
                    COLO_XEN_NAME_MAX - 1);
            return -1;
        }
        return 0;
    case 2: /* config */
        if (copy_value(s->config, sizeof(s->config), val, vlen) < 0) {
            set_err(err, errlen, "option 'config': path too long");
            return -1;
        }
        return 0;
    case 3: /* qmp */
        if (copy_value(s->qmp_path, sizeof(s->qmp_path), val, vlen) < 0) {
            set_err(err, errlen, "option 'qmp': socket path longer than %d characters",
                    COLO_XEN_SUN_PATH_MAX - 1);
            return -1;
        }
        return 0;
    case 4: /* statedir */
        if (copy_value(s->state_dir, sizeof(s->state_dir), val, vlen) < 0) {
            set_err(err, errlen, "option 'statedir': path too long");
            return -1;
        }
        return 0;
    case 6: /* qemu-state */
        if (vlen == 4 && memcmp(val, "auto", 4) == 0)
            s->qemu_state = COLO_XEN_QEMU_AUTO;
        else if (vlen == 4 && memcmp(val, "load", 4) == 0)
            s->qemu_state = COLO_XEN_QEMU_LOAD;
        else if (vlen == 4 && memcmp(val, "keep", 4) == 0)
            s->qemu_state = COLO_XEN_QEMU_KEEP;
        else if (vlen == 7 && memcmp(val, "restart", 7) == 0)
            s->qemu_state = COLO_XEN_QEMU_RESTART;
        else {
            set_err(err, errlen, "option 'qemu-state': '%.*s' is not auto, load, restart or keep",
                    (int)vlen, val);
            return -1;
        }
        return 0;
    case 7: /* save */
    case 8: /* restore */
        if (vlen == 5 && memcmp(val, "pages", 5) == 0)
            lg = false;
        else if (vlen == 11 && memcmp(val, "libxenguest", 11) == 0)
            lg = true;
        else {
            set_err(err, errlen, "option '%s': '%.*s' is not pages or libxenguest", keys[k],
                    (int)vlen, val);
            return -1;
        }
        if (k == 7)
            s->save = lg ? COLO_XEN_SAVE_LIBXENGUEST : COLO_XEN_SAVE_PAGES;
        else
            s->restore = lg ? COLO_XEN_RESTORE_LIBXENGUEST : COLO_XEN_RESTORE_PAGES;
        return 0;
    default: /* timeout */
        if (parse_uint(val, vlen, 600000, &n) < 0 || n == 0) {
            set_err(err, errlen, "option 'timeout': '%.*s' is not a time in ms (1..600000)",
                    (int)vlen, val);
            return -1;
        }
        s->timeout_ms = (unsigned)n;
        return 0;
    }
}

int colo_xen_spec_parse(const char *options, struct colo_xen_spec *out,
                        char *err, size_t errlen)
{
    unsigned seen = 0;
    const char *p = options;

    set_err(err, errlen, "%s", "");
    memset(out, 0, sizeof(*out));
    out->timeout_ms = COLO_XEN_DEFAULT_TIMEOUT_MS;
    snprintf(out->state_dir, sizeof(out->state_dir), "%s", COLO_XEN_DEFAULT_STATEDIR);

    if (!p || *p == '\0')
        return 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);

        if (len == 0) {
            set_err(err, errlen, "empty option in '%s' (stray ',')", options);
            return -1;
        }
        if (!eq) {
            set_err(err, errlen, "option '%.*s' needs a value (%.*s=...)",
                    (int)len, p, (int)len, p);
            return -1;
        }
        if (eq == p) {
            set_err(err, errlen, "option '%.*s' has no key", (int)len, p);
            return -1;
        }
        if (parse_item(out, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1,
                       &seen, err, errlen) < 0)
            return -1;
        if (!end)
            return 0;
        p = end + 1;
    }
}

int colo_xen_spec_check_primary(struct colo_xen_spec *s, const char *spec_name,
                                char *err, size_t errlen)
{
    if (s->has_domid && s->name[0]) {
        set_err(err, errlen, "options 'domid' and 'name' both given: name the domain once");
        return -1;
    }
    if (s->config[0]) {
        set_err(err, errlen, "option 'config' is for the secondary; the primary protects "
                "a running domain");
        return -1;
    }
    if (s->restore != COLO_XEN_RESTORE_PAGES) {
        set_err(err, errlen, "option 'restore' is for the secondary; the primary sends "
                "pages whichever way the secondary applies them");
        return -1;
    }
    if (!s->has_domid && !s->name[0]) {
        if (!spec_name || !spec_name[0]) {
            set_err(err, errlen, "no domain given: use domid=N or name=NAME");
            return -1;
        }
        if (strlen(spec_name) >= sizeof(s->name)) {
            set_err(err, errlen, "domain name '%s' longer than %d characters", spec_name,
                    COLO_XEN_NAME_MAX - 1);
            return -1;
        }
        snprintf(s->name, sizeof(s->name), "%s", spec_name);
    }
    return 0;
}

int colo_xen_spec_check_secondary(const struct colo_xen_spec *s, char *err, size_t errlen)
{
    if (s->save != COLO_XEN_SAVE_PAGES) {
        set_err(err, errlen, "option 'save' is for the primary; the secondary receives "
                "pages whichever way the primary reads them");
        return -1;
    }
    if (!s->config[0]) {
        set_err(err, errlen, "option 'config' missing: the secondary builds the SVM from "
                "an xl.cfg (config=/etc/xen/NAME.cfg)");
        return -1;
    }
    if (s->has_domid) {
        set_err(err, errlen, "option 'domid' is for the primary; the secondary creates "
                "its domain (use name= to name it)");
        return -1;
    }
    return 0;
}
