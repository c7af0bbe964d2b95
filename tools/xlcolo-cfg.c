/*
 * xlcolo-cfg.c - see xlcolo-cfg.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-log.h"
#include "xen-xlcfg.h"
#include "xlcolo-cfg.h"

#define IFNAME_MAX 15   /* IFNAMSIZ - 1 */

struct ctx {
    const char *domain, *label;
    const struct xlc_cfg_policy *p;
    char *err;
    size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!c->errlen)
        return -1;
    n = snprintf(c->err, c->errlen, "domain '%s': ", c->domain);
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A policy problem: an error, or with -F a warning. */
static int policy(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int policy(struct ctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->p->unsafe) {
        colo_warn("domain '%s': %s (allowed by -F: failover may not work as intended)",
                  c->domain, msg);
        return 0;
    }
    return fail(c, "%s (-F allows it, unsafely)", msg);
}

/*
 * The next "key=value" or "flag" of a comma-separated spec, trimmed.
 * Returns false at the end.  Sets key, klen, val and vlen (vlen 0 and val
 * NULL for a flag).
 */
static bool next_token(const char **pos, const char **key, size_t *klen,
                       const char **val, size_t *vlen)
{
    const char *p = *pos, *end, *eq;
    size_t len;

    if (!p)
        return false;
    end = strchr(p, ',');
    len = end ? (size_t)(end - p) : strlen(p);
    *pos = end ? end + 1 : NULL;
    while (len && isspace((unsigned char)*p))
        p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    eq = memchr(p, '=', len);
    *key = p;
    *klen = eq ? (size_t)(eq - p) : len;
    *val = eq ? eq + 1 : NULL;
    *vlen = eq ? len - *klen - 1 : 0;
    return true;
}

static bool is_key(const char *key, size_t klen, const char *want)
{
    return klen == strlen(want) && memcmp(key, want, klen) == 0;
}

/* colo-port as written (libxlutil's atoi takes "12x" for 12 and 99999 whole). */
static int check_colo_port_text(struct ctx *c, int i, const char *spec)
{
    const char *pos = spec, *key, *val;
    size_t klen, vlen;

    while (next_token(&pos, &key, &klen, &val, &vlen)) {
        unsigned long port = 0;
        bool ok = val && vlen > 0 && vlen <= 5;

        if (is_key(key, klen, "target"))
            break;              /* the rest is the target path, commas and all */
        if (!is_key(key, klen, "colo-port"))
            continue;
        for (size_t k = 0; ok && k < vlen; k++) {
            ok = isdigit((unsigned char)val[k]);
            port = port * 10 + (unsigned long)(val[k] - '0');
        }
        if (!ok || port < 1 || port > 65535)
            return fail(c, "disk %d: 'colo-port=%.*s' is not a port number (1-65535)", i,
                        (int)vlen, val ? val : "");
    }
    return 0;
}

static int check_path_key(struct ctx *c, int i, const char *vdev, const char *key,
                          const char *v)
{
    if (!v[0])
        return fail(c, "disk %d (%s): '%s=' is empty", i, vdev, key);
    if (v[0] != '/')
        return fail(c, "disk %d (%s): '%s=%s' must be an absolute path (a file on the "
                    "secondary host)", i, vdev, key, v);
    return 0;
}

/* One parsed disk on its own. */
static int check_disk(struct ctx *c, int i, const libxl_device_disk *d)
{
    const char *vdev = d->vdev ? d->vdev : "?";
    bool colo = !libxl_defbool_is_default(d->colo_enable) && libxl_defbool_val(d->colo_enable);
    const char *given = d->colo_host ? "colo-host" : d->colo_port ? "colo-port"
                      : d->colo_export ? "colo-export" : d->active_disk ? "active-disk"
                      : d->hidden_disk ? "hidden-disk" : NULL;

    if (!colo) {
        if (given)
            return fail(c, "disk %d (%s) sets '%s=' but is not a COLO disk ('colo' %s): "
                        "add 'colo' or remove the COLO keys", i, vdev, given,
                        libxl_defbool_is_default(d->colo_enable) ? "missing" : "turned off by 'no-colo'");
        if (d->pdev_path && strstr(d->pdev_path, "colo"))
            return fail(c, "disk %d (%s): its target is '%s': 'target=' takes the rest of the "
                        "spec, so the COLO keys must come before it", i, vdev, d->pdev_path);
        if (c->p->policy && d->readwrite && !d->is_cdrom)
            return policy(c, "disk %d (%s) is writable but not replicated (no 'colo'): the "
                          "SVM's disk would drift from the PVM's; add the COLO keys or make "
                          "it read-only (access=ro)", i, vdev);
        return 0;
    }
    if (!d->colo_host)
        return fail(c, "disk %d (%s) has 'colo' but no 'colo-host=' (the secondary host's "
                    "address for the disk replication)", i, vdev);
    if (!d->colo_host[0])
        return fail(c, "disk %d (%s): 'colo-host=' is empty", i, vdev);
    for (const char *h = d->colo_host; *h; h++)
        if (isspace((unsigned char)*h) || *h == '/')
            return fail(c, "disk %d (%s): 'colo-host=%s' is not a host name or address", i,
                        vdev, d->colo_host);
    if (d->colo_port <= 0)
        return fail(c, "disk %d (%s) has 'colo' but no 'colo-port=' (the secondary's NBD "
                    "port)", i, vdev);
    if (!d->colo_export)
        return fail(c, "disk %d (%s) has 'colo' but no 'colo-export=' (the NBD export name "
                    "on the secondary)", i, vdev);
    if (!d->colo_export[0])
        return fail(c, "disk %d (%s): 'colo-export=' is empty", i, vdev);
    if (!d->active_disk)
        return fail(c, "disk %d (%s) has 'colo' but no 'active-disk=' (where the SVM's own "
                    "writes go)", i, vdev);
    if (!d->hidden_disk)
        return fail(c, "disk %d (%s) has 'colo' but no 'hidden-disk=' (where the PVM's "
                    "overwritten data is kept)", i, vdev);
    if (check_path_key(c, i, vdev, "active-disk", d->active_disk) < 0 ||
        check_path_key(c, i, vdev, "hidden-disk", d->hidden_disk) < 0)
        return -1;
    if (!strcmp(d->active_disk, d->hidden_disk))
        return fail(c, "disk %d (%s): 'active-disk' and 'hidden-disk' are the same file (%s)",
                    i, vdev, d->active_disk);
    if (d->pdev_path && (!strcmp(d->pdev_path, d->active_disk) ||
                         !strcmp(d->pdev_path, d->hidden_disk)))
        return fail(c, "disk %d (%s): the disk's own target %s is also its '%s'", i, vdev,
                    d->pdev_path, strcmp(d->pdev_path, d->active_disk) ? "hidden-disk"
                                                                        : "active-disk");
    if (d->backend != LIBXL_DISK_BACKEND_UNKNOWN && d->backend != LIBXL_DISK_BACKEND_QDISK)
        return fail(c, "disk %d (%s): 'colo' needs backendtype=qdisk, not %s", i, vdev,
                    libxl_disk_backend_to_string(d->backend));
    return 0;
}

/* Across disks: nothing the secondary keeps per disk may be shared. */
static int check_disks_apart(struct ctx *c, const libxl_device_disk *d, int n)
{
    for (int i = 0; i < n; i++) {
        if (libxl_defbool_is_default(d[i].colo_enable) || !libxl_defbool_val(d[i].colo_enable))
            continue;
        for (int j = i + 1; j < n; j++) {
            const char *what = NULL, *v = NULL;

            if (libxl_defbool_is_default(d[j].colo_enable) || !libxl_defbool_val(d[j].colo_enable))
                continue;
            if (!strcmp(d[i].colo_export, d[j].colo_export))
                what = "colo-export", v = d[i].colo_export;
            else if (!strcmp(d[i].active_disk, d[j].active_disk) ||
                     !strcmp(d[i].active_disk, d[j].hidden_disk))
                what = "active-disk", v = d[i].active_disk;
            else if (!strcmp(d[i].hidden_disk, d[j].hidden_disk) ||
                     !strcmp(d[i].hidden_disk, d[j].active_disk))
                what = "hidden-disk", v = d[i].hidden_disk;
            if (what)
                return fail(c, "disks %d and %d both use %s as their %s", i, j, v, what);
        }
    }
    return 0;
}

static int check_disks(struct ctx *c, XLU_Config *cfg, struct xlc_cfg_info *info)
{
    XLU_ConfigList *list;
    libxl_device_disk *d;
    int n = 0, rc = 0, parsed = 0;

    if (xlu_cfg_get_list(cfg, "disk", &list, &n, 1) != 0 || n <= 0)
        return 0;
    d = calloc((size_t)n, sizeof(*d));
    if (!d)
        return fail(c, "out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        const char *spec = xlu_cfg_get_listitem(list, i);

        libxl_device_disk_init(&d[i]);
        parsed = i + 1;
        if (!spec)
            rc = fail(c, "disk %d is not a string (key 'disk')", i);
        else if ((rc = check_colo_port_text(c, i, spec)) < 0)
            ;
        else if (xlu_disk_parse(cfg, 1, &spec, &d[i]) != 0)
            rc = fail(c, "disk %d ('%s') does not parse (key 'disk'; see the message above)",
                      i, spec);
        else
            rc = check_disk(c, i, &d[i]);
        if (rc == 0 && !libxl_defbool_is_default(d[i].colo_enable) &&
            libxl_defbool_val(d[i].colo_enable))
            info->colo_disks++;
    }
    if (rc == 0)
        rc = check_disks_apart(c, d, n);
    info->disks = n;
    for (int i = 0; i < parsed; i++)
        libxl_device_disk_dispose(&d[i]);
    free(d);
    return rc;
}

/* A value that can name a network interface (and travel in a command's
 * environment): 1-15 characters, no '/', ':', quote or space, not . or ..;
 * copied into out. */
static int check_ifname(struct ctx *c, int i, const char *key, const char *v, size_t vlen,
                        char out[XLC_IFNAME_MAX])
{
    bool ok = vlen >= 1 && vlen <= IFNAME_MAX && !(vlen == 1 && v[0] == '.') &&
              !(vlen == 2 && v[0] == '.' && v[1] == '.');

    for (size_t k = 0; ok && k < vlen; k++)
        ok = isgraph((unsigned char)v[k]) && !strchr("/:'\"\\", v[k]);
    if (!ok)
        return fail(c, "vif %d: '%s=%.*s' is not a network interface name (1-%d "
                    "characters, no '/', ':', quotes or spaces)", i, key, (int)vlen, v, IFNAME_MAX);
    memcpy(out, v, vlen);
    out[vlen] = '\0';
    return 0;
}

/*
 * bridge=NAME, or NAME.VLAN for a vif that is an access port of VLAN 1-4094
 * (Xen's vif-openvswitch syntax; the hotplug script makes the COLO flows
 * for it).  NAME:VLAN:... (a trunk: the guest tags its own frames) is
 * refused here, with the reason, rather than by the script at protection.
 */
static int check_bridge(struct ctx *c, int i, const char *v, size_t vlen, struct xlc_vif *vif,
                        size_t *name_len)
{
    const char *colon = memchr(v, ':', vlen), *dot = memchr(v, '.', vlen);
    char name[XLC_IFNAME_MAX];
    size_t nlen = dot ? (size_t)(dot - v) : vlen;

    if (colon)
        return fail(c, "vif %d: 'bridge=%.*s': trunk vifs (BRIDGE:VLAN...) are not supported "
                    "for COLO; a vif in one VLAN is BRIDGE.VLAN", i, (int)vlen, v);
    if (check_ifname(c, i, "bridge", v, nlen, name) < 0)
        return -1;
    if (dot) {
        const char *d = dot + 1;
        size_t dlen = vlen - nlen - 1;
        unsigned tag = 0;
        bool digits = dlen >= 1 && dlen <= 4;

        for (size_t k = 0; digits && k < dlen; k++) {
            digits = d[k] >= '0' && d[k] <= '9';
            tag = tag * 10 + (unsigned)(d[k] - '0');
        }
        if (!digits || tag < 1 || tag > 4094)
            return fail(c, "vif %d: 'bridge=%.*s': the VLAN after the '.' must be a number "
                        "from 1 to 4094", i, (int)vlen, v);
    }
    memcpy(vif->bridge, v, vlen);
    vif->bridge[vlen] = '\0';
    *name_len = nlen;
    return 0;
}

static int check_forwarddev(struct ctx *c, int i, const char *v, size_t vlen,
                            const char *bridge, size_t blen, struct xlc_vif *vif)
{
    if (check_ifname(c, i, "forwarddev", v, vlen, vif->forwarddev) < 0)
        return -1;
    if (bridge && blen == vlen && !memcmp(bridge, v, vlen))
        return fail(c, "vif %d: 'forwarddev=%.*s' is also its bridge: the forwarding device "
                    "is the link between the two hosts, not the guest's bridge", i,
                    (int)vlen, v);
    return 0;
}

static int check_vifs(struct ctx *c, XLU_Config *cfg, struct xlc_cfg_info *info)
{
    XLU_ConfigList *list;
    int n = 0;

    if (xlu_cfg_get_list(cfg, "vif", &list, &n, 1) != 0 || n <= 0)
        return 0;
    if (n > XLC_VIFS_MAX)
        return fail(c, "%s has %d vifs; xl-colo protects at most %d", c->label, n, XLC_VIFS_MAX);
    info->vifs = n;
    for (int i = 0; i < n; i++) {
        const char *spec = xlu_cfg_get_listitem(list, i), *pos = spec, *key, *val;
        const char *fwd = NULL, *bridge = NULL;
        size_t klen, vlen, fwdlen = 0, blen = 0;
        struct xlc_vif *vif = &info->vif[i];
        bool mac = false;

        if (!spec)
            return fail(c, "vif %d is not a string (key 'vif')", i);
        vif->index = i;
        snprintf(vif->bridge, sizeof(vif->bridge), "xenbr0");      /* xl's default */
        while (next_token(&pos, &key, &klen, &val, &vlen)) {
            if (is_key(key, klen, "mac") && val) {
                libxl_mac parsed;

                mac = true;
                if (vlen == 17)
                    snprintf(vif->mac, sizeof(vif->mac), "%.*s", (int)vlen, val);
                if (vlen != 17 || colo_xen_parse_mac(vif->mac, parsed) < 0)
                    return fail(c, "vif %d: 'mac=%.*s' is not a MAC address "
                                "(xx:xx:xx:xx:xx:xx)", i, (int)(vlen < 40 ? vlen : 40), val);
            } else if (is_key(key, klen, "forwarddev")) {
                fwd = val ? val : "", fwdlen = vlen;
            } else if (is_key(key, klen, "bridge") && val) {
                bridge = val;
                if (check_bridge(c, i, val, vlen, vif, &blen) < 0)     /* blen: its name */
                    return -1;
            } else if (is_key(key, klen, "type") && val) {
                vif->pv = vlen == 3 && !memcmp(val, "vif", 3);
            } else if (is_key(key, klen, "vifname") && val &&
                       check_ifname(c, i, "vifname", val, vlen, vif->vifname) < 0) {
                return -1;
            }
        }
        if (!mac)
            return fail(c, "vif %d has no 'mac=': the PVM and the SVM must have the same "
                        "MAC, and xl would make up a different one for each", i);
        if (fwd) {
            if (check_forwarddev(c, i, fwd, fwdlen, bridge, blen, vif) < 0)
                return -1;
        } else if (c->p->policy && !c->p->userspace_proxy &&
                   policy(c, "vif %d has no 'forwarddev=' (the interface that links the "
                          "primary and the secondary host; not needed with -p)", i) < 0) {
            return -1;
        }
    }
    return 0;
}

static int check_identity(struct ctx *c, XLU_Config *cfg, struct xlc_cfg_info *info)
{
    const char *name = NULL, *type = NULL, *builder = NULL;
    long mem = 0;

    if (xlu_cfg_get_string(cfg, "name", &name, 1) != 0 || !name[0])
        return fail(c, "%s has no 'name'", c->label);
    if (strcmp(name, c->domain))
        return fail(c, "%s describes domain '%s' (key 'name'), not this one", c->label, name);
    snprintf(info->name, sizeof(info->name), "%s", name);
    xlu_cfg_get_string(cfg, "type", &type, 1);
    xlu_cfg_get_string(cfg, "builder", &builder, 1);
    if (type ? strcmp(type, "hvm") : !builder || strcmp(builder, "hvm"))
        return fail(c, "COLO needs an HVM guest, and %s describes a %s guest (%s)", c->label,
                    type ? type : builder ? builder : "PV",
                    type ? "key 'type'" : builder ? "key 'builder'"
                                                  : "no 'type': xl's default is PV");
    if (xlu_cfg_get_long(cfg, "memory", &mem, 1) == 0)
        info->memory_mib = mem;
    return 0;
}

int xlc_cfg_check(const char *data, size_t len, const char *label, const char *domain,
                  const struct xlc_cfg_policy *p, struct xlc_cfg_info *info,
                  char *err, size_t errlen)
{
    struct ctx c = { .domain = domain, .label = label, .p = p, .err = err, .errlen = errlen };
    XLU_Config *cfg;
    libxl_domain_config dc;
    char svm_label[512];
    int rc;

    memset(info, 0, sizeof(*info));
    if (errlen)
        err[0] = '\0';
    if (len > XLC_CFG_MAX)
        return fail(&c, "%s is larger than any xl.cfg (%zu bytes)", label, len);
    if (memchr(data, '\0', len))
        return fail(&c, "%s has a NUL byte: not an xl.cfg", label);
    cfg = xlu_cfg_init(stderr, label);
    if (!cfg)
        return fail(&c, "out of memory");
    if (xlu_cfg_readdata(cfg, data, (int)len) != 0) {
        xlu_cfg_destroy(cfg);
        return fail(&c, "%s is not a valid xl.cfg (see the message above)", label);
    }
    rc = check_identity(&c, cfg, info);
    if (rc == 0)
        rc = check_disks(&c, cfg, info);
    if (rc == 0)
        rc = check_vifs(&c, cfg, info);
    xlu_cfg_destroy(cfg);
    if (rc < 0)
        return -1;

    /* The secondary builds the SVM from this file: let that builder judge
     * it now, before anything is started (it names the key it refuses). */
    snprintf(svm_label, sizeof(svm_label), "domain '%s' (%s)", domain, label);
    libxl_domain_config_init(&dc);
    rc = colo_xen_xlcfg_parse(data, len, svm_label, NULL, &dc);
    libxl_domain_config_dispose(&dc);
    if (rc < 0)
        return fail(&c, "the SVM cannot be built from %s (see the message above)", label);
    return 0;
}

int xlc_cfg_read(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    *data = NULL;
    *len = 0;
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    buf = malloc(XLC_CFG_MAX + 2);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n = fread(buf, 1, XLC_CFG_MAX + 1, f);
    if (ferror(f) || n > XLC_CFG_MAX) {
        if (ferror(f))
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        else
            snprintf(err, errlen, "%s is larger than any xl.cfg (over %u bytes)", path,
                     XLC_CFG_MAX);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}
