/*
 * xen-xlcfg.c - the xl.cfg subset the SVM is built from; see xen-xlcfg.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xen-sys.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-log.h"
#include "xen-spec.h"
#include "xen-xlcfg.h"

/* The highest CPU number a 'cpus' list may name, plus one. */
#define COLO_XEN_MAX_PCPUS 4096

static const char *const handled_keys[] = {
    "name", "type", "builder", "memory", "maxmem", "vcpus", "maxvcpus", "cpus",
    "kernel", "ramdisk", "cmdline", "root", "extra", "disk", "vif", "serial",
    "xen_platform_pci", "boot", "vga", "stdvga", "videoram", "acpi", "apic",
    "pae", "hap", "hpet", "nographic", "vnc", "sdl", "shadow_memory",
    "device_model_version",
    /* xl's own, not the domain's */
    "on_poweroff", "on_reboot", "on_crash", "on_watchdog", "on_soft_reset",
};

static bool key_handled(const char *key)
{
    for (size_t i = 0; i < sizeof(handled_keys) / sizeof(handled_keys[0]); i++)
        if (strcmp(handled_keys[i], key) == 0)
            return true;
    return false;
}

/*
 * A light scan for "identifier =" at the start of a statement: enough to
 * spot keys in an xl.cfg, which libxlutil offers no way to enumerate.
 * List items and strings never start with an identifier followed by '='
 * outside quotes, so they do not match.
 */
unsigned colo_xen_xlcfg_unknown_keys(const char *data, size_t len,
                                     void (*report)(const char *key, void *opaque),
                                     void *opaque)
{
    unsigned n = 0;
    size_t i = 0;

    while (i < len) {
        size_t start, klen;
        char key[64];

        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        start = i;
        while (i < len && (isalnum((unsigned char)data[i]) || data[i] == '_'))
            i++;
        klen = i - start;
        if (klen > 0 && !isdigit((unsigned char)data[start])) {
            size_t j = i;

            while (j < len && (data[j] == ' ' || data[j] == '\t'))
                j++;
            if (j < len && data[j] == '=' && klen < sizeof(key)) {
                memcpy(key, data + start, klen);
                key[klen] = '\0';
                if (!key_handled(key)) {
                    n++;
                    if (report)
                        report(key, opaque);
                }
            }
        }
        while (i < len && data[i] != '\n')      /* next line */
            i++;
        i++;
    }
    return n;
}

/* Integer key: 0 and *v if set, 1 if absent, -1 (logged) if not an integer. */
static int get_long(XLU_Config *cfg, const char *label, const char *key, long *v)
{
    int rc = xlu_cfg_get_long(cfg, key, v, 1);

    if (rc == ESRCH)
        return 1;
    if (rc) {
        colo_err("xen: %s: '%s' must be a number", label, key);
        return -1;
    }
    return 0;
}

/* String key copied (strdup) into *dst if present; -1 (logged) if not a string. */
static int get_str(XLU_Config *cfg, const char *label, const char *key, char **dst)
{
    const char *s;
    int rc = xlu_cfg_get_string(cfg, key, &s, 1);

    if (rc == ESRCH)
        return 1;
    if (rc) {
        colo_err("xen: %s: '%s' must be a string", label, key);
        return -1;
    }
    free(*dst);
    *dst = strdup(s);
    if (!*dst) {
        colo_err("xen: out of memory");
        return -1;
    }
    return 0;
}

/* Boolean key into a libxl_defbool if present. */
static int get_bool(XLU_Config *cfg, const char *label, const char *key, libxl_defbool *b)
{
    int rc = xlu_cfg_get_defbool(cfg, key, b, 1);

    if (rc && rc != ESRCH) {
        colo_err("xen: %s: '%s' must be 0 or 1", label, key);
        return -1;
    }
    return 0;
}

int colo_xen_parse_mac(const char *s, libxl_mac mac)
{
    for (int i = 0; i < 6; i++) {
        unsigned v = 0;

        for (int k = 0; k < 2; k++) {
            char c = s[i * 3 + k];

            if (!isxdigit((unsigned char)c))
                return -1;
            v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0'
                                                              : tolower((unsigned char)c) - 'a' + 10);
        }
        mac[i] = (uint8_t)v;
        if (i < 5 && s[i * 3 + 2] != ':')
            return -1;
    }
    return s[17] == '\0' ? 0 : -1;
}

/* Replace *dst with a copy of s[0..n); -1 on ENOMEM. */
static int set_strn(char **dst, const char *s, size_t n)
{
    char *c = strndup(s, n);

    if (!c)
        return -1;
    free(*dst);
    *dst = c;
    return 0;
}

/*
 * One vif spec ("mac=..,bridge=..,model=e1000,type=ioemu") into nic.
 * COLO needs mac=: a random MAC would differ between PVM and SVM.
 */
static int parse_vif(const char *label, int idx, const char *spec, libxl_device_nic *nic)
{
    const char *p = spec;
    bool have_mac = false;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq;
        size_t klen, vlen;
        const char *v;
        int rc = 0;

        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        eq = memchr(p, '=', len);
        if (len && !eq) {
            colo_err("xen: %s: vif %d: '%.*s' is not key=value", label, idx, (int)len, p);
            return -1;
        }
        if (len) {
            klen = (size_t)(eq - p);
            v = eq + 1;
            vlen = len - klen - 1;
            if (klen == 3 && !memcmp(p, "mac", 3)) {
                char mac[18];

                if (vlen != 17 || (memcpy(mac, v, 17), mac[17] = '\0', colo_xen_parse_mac(mac, nic->mac))) {
                    colo_err("xen: %s: vif %d: bad mac '%.*s'", label, idx, (int)vlen, v);
                    return -1;
                }
                have_mac = true;
            } else if (klen == 6 && !memcmp(p, "bridge", 6)) {
                rc = set_strn(&nic->bridge, v, vlen);
            } else if (klen == 5 && !memcmp(p, "model", 5)) {
                rc = set_strn(&nic->model, v, vlen);
            } else if (klen == 6 && !memcmp(p, "script", 6)) {
                rc = set_strn(&nic->script, v, vlen);
            } else if (klen == 7 && !memcmp(p, "vifname", 7)) {
                rc = set_strn(&nic->ifname, v, vlen);
            } else if (klen == 2 && !memcmp(p, "ip", 2)) {
                rc = set_strn(&nic->ip, v, vlen);
            } else if (klen == 4 && !memcmp(p, "type", 4)) {
                if (vlen == 5 && !memcmp(v, "ioemu", 5)) {
                    nic->nictype = LIBXL_NIC_TYPE_VIF_IOEMU;
                } else if (vlen == 3 && !memcmp(v, "vif", 3)) {
                    nic->nictype = LIBXL_NIC_TYPE_VIF;
                } else {
                    colo_err("xen: %s: vif %d: type must be ioemu or vif, not '%.*s'",
                             label, idx, (int)vlen, v);
                    return -1;
                }
            } else if (klen == 10 && !memcmp(p, "forwarddev", 10)) {
                /* COLO's link between the two hosts (xl-colo checks it), not
                 * a property of the guest's NIC: nothing for the SVM. */
            } else {
                colo_warn("xen: %s: vif %d: key '%.*s' ignored; the SVM's NIC may differ",
                          label, idx, (int)klen, p);
            }
            if (rc < 0) {
                colo_err("xen: out of memory");
                return -1;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!have_mac) {
        colo_err("xen: %s: vif %d has no mac=: PVM and SVM need the same MAC", label, idx);
        return -1;
    }
    return 0;
}

static int parse_disks(XLU_Config *cfg, const char *label, libxl_domain_config *dc)
{
    XLU_ConfigList *list;
    int n = 0;

    if (xlu_cfg_get_list(cfg, "disk", &list, &n, 1) != 0 || n == 0)
        return 0;
    dc->disks = calloc((size_t)n, sizeof(*dc->disks));
    if (!dc->disks) {
        colo_err("xen: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *spec = xlu_cfg_get_listitem(list, i);

        libxl_device_disk_init(&dc->disks[i]);
        dc->num_disks = i + 1;      /* so dispose frees what was parsed */
        if (!spec || xlu_disk_parse(cfg, 1, &spec, &dc->disks[i]) != 0) {
            colo_err("xen: %s: disk %d ('%s') does not parse", label, i, spec ? spec : "?");
            return -1;
        }
    }
    return 0;
}

static int parse_vifs(XLU_Config *cfg, const char *label, libxl_domain_config *dc)
{
    XLU_ConfigList *list;
    int n = 0;

    if (xlu_cfg_get_list(cfg, "vif", &list, &n, 1) != 0 || n == 0)
        return 0;
    dc->nics = calloc((size_t)n, sizeof(*dc->nics));
    if (!dc->nics) {
        colo_err("xen: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *spec = xlu_cfg_get_listitem(list, i);

        libxl_device_nic_init(&dc->nics[i]);
        dc->num_nics = i + 1;
        dc->nics[i].devid = i;
        if (!spec || parse_vif(label, i, spec, &dc->nics[i]) < 0)
            return -1;
    }
    return 0;
}

/* type/builder must say hvm; anything else is refused with the reason. */
static int check_type(XLU_Config *cfg, const char *label)
{
    const char *type = NULL, *builder = NULL;

    xlu_cfg_get_string(cfg, "type", &type, 1);
    xlu_cfg_get_string(cfg, "builder", &builder, 1);
    if (type ? strcmp(type, "hvm") == 0 : builder && strcmp(builder, "hvm") == 0)
        return 0;
    colo_err("xen: %s: COLO needs an HVM guest; the config describes a %s guest "
             "(set type=\"hvm\")", label, type ? type : builder ? builder : "PV (the default)");
    return -1;
}

static int parse_vcpus(XLU_Config *cfg, const char *label, libxl_domain_build_info *b)
{
    long vcpus = 1, maxv = 0;
    int rc;

    if ((rc = get_long(cfg, label, "vcpus", &vcpus)) < 0 ||
        (rc = get_long(cfg, label, "maxvcpus", &maxv)) < 0)
        return -1;
    if (maxv == 0)
        maxv = vcpus;
    if (vcpus < 1 || vcpus > 4096 || maxv < vcpus || maxv > 4096) {
        colo_err("xen: %s: vcpus=%ld maxvcpus=%ld out of range", label, vcpus, maxv);
        return -1;
    }
    b->max_vcpus = (int)maxv;
    /* libxl's bitmaps are plain malloc'd bytes, freed by its dispose. */
    b->avail_vcpus.size = (uint32_t)((maxv + 7) / 8);
    b->avail_vcpus.map = calloc(b->avail_vcpus.size, 1);
    if (!b->avail_vcpus.map) {
        colo_err("xen: out of memory");
        return -1;
    }
    for (long i = 0; i < vcpus; i++)
        libxl_bitmap_set(&b->avail_vcpus, (int)i);
    return 0;
}

/*
 * One CPU list as xl.cfg(5) writes it: "all", or comma-separated items "N",
 * "N-M", and "^N" / "^N-M" to take CPUs out again, applied left to right
 * from an empty set.  NUMA items ("node:", "nodes:") need the host's
 * topology, which the builder does not read: refused, naming them.  The
 * map is malloc'd like libxl's own bitmaps (its dispose frees it) and just
 * large enough for the highest CPU named; Xen treats CPUs past its end as
 * not in the set.  Returns 0, or -1 after logging what is wrong.
 */
static int parse_cpulist(const char *label, const char *what, const char *s, libxl_bitmap *map)
{
    unsigned long lo[64], hi[64];
    bool neg[64];
    unsigned n = 0, top = 0;
    const char *p = s;

    for (;;) {
        char *end;

        if (n == sizeof(lo) / sizeof(lo[0])) {
            colo_err("xen: %s: %s '%s': more than %u items", label, what, s, n);
            return -1;
        }
        neg[n] = *p == '^';
        p += neg[n];
        if (strncmp(p, "node", 4) == 0) {
            colo_err("xen: %s: %s '%s': NUMA node lists are not supported by the SVM "
                     "builder; list CPUs instead", label, what, s);
            return -1;
        }
        if (strncmp(p, "all", 3) == 0) {
            lo[n] = 0;
            hi[n] = COLO_XEN_MAX_PCPUS - 1;
            p += 3;
        } else {
            if (!isdigit((unsigned char)*p))
                goto bad;
            errno = 0;
            lo[n] = hi[n] = strtoul(p, &end, 10);
            p = end;
            if (*p == '-') {
                if (!isdigit((unsigned char)p[1]))
                    goto bad;
                hi[n] = strtoul(p + 1, &end, 10);
                p = end;
            }
            if (errno || hi[n] < lo[n] || hi[n] >= COLO_XEN_MAX_PCPUS) {
                colo_err("xen: %s: %s '%s': CPU numbers must be ascending ranges within 0-%d",
                         label, what, s, COLO_XEN_MAX_PCPUS - 1);
                return -1;
            }
        }
        if (!neg[n] && hi[n] > top)
            top = (unsigned)hi[n];
        n++;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            goto bad;
    }
    map->size = top / 8 + 1;
    map->map = calloc(map->size, 1);
    if (!map->map) {
        colo_err("xen: out of memory");
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        for (unsigned long c = lo[i]; c <= hi[i] && c <= top; c++)
            if (neg[i])
                libxl_bitmap_reset(map, (int)c);
            else
                libxl_bitmap_set(map, (int)c);
    for (unsigned i = 0; i < map->size; i++)
        if (map->map[i])
            return 0;
    colo_err("xen: %s: %s '%s' leaves no CPU to run on", label, what, s);
    return -1;
bad:
    colo_err("xen: %s: %s '%s': not a CPU list (\"all\", or items like 3, 0-3, ^2 "
             "separated by commas)", label, what, s);
    return -1;
}

/*
 * cpus: the vCPUs' hard affinity, as xl pins them.  A string pins every
 * vCPU to the same CPUs; a list gives vCPU i the i-th entry (vCPUs past the
 * list are not pinned).  Without the key nothing is pinned.
 */
static int parse_cpus(XLU_Config *cfg, const char *label, libxl_domain_build_info *b)
{
    XLU_ConfigList *list;
    const char *str = NULL;
    int n = 0, rc;

    if (xlu_cfg_get_list(cfg, "cpus", &list, &n, 1) == 0) {
        if (n < 1 || n > b->max_vcpus) {
            colo_err("xen: %s: 'cpus' lists %d entries for %d vCPUs", label, n, b->max_vcpus);
            return -1;
        }
    } else if ((rc = xlu_cfg_get_string(cfg, "cpus", &str, 1)) == 0) {
        list = NULL;
        n = b->max_vcpus;
    } else if (rc == ESRCH) {
        return 0;
    } else {
        colo_err("xen: %s: 'cpus' must be a string or a list of strings", label);
        return -1;
    }
    b->vcpu_hard_affinity = calloc((size_t)n, sizeof(*b->vcpu_hard_affinity));
    if (!b->vcpu_hard_affinity) {
        colo_err("xen: out of memory");
        return -1;
    }
    b->num_vcpu_hard_affinity = n;      /* counted now: dispose frees what is filled */
    for (int i = 0; i < n; i++) {
        char what[32];
        const char *item = list ? xlu_cfg_get_listitem(list, i) : str;

        snprintf(what, sizeof(what), list ? "cpus[%d]" : "cpus", i);
        if (!item) {
            colo_err("xen: %s: %s must be a string", label, what);
            return -1;
        }
        if (parse_cpulist(label, what, item, &b->vcpu_hard_affinity[i]) < 0)
            return -1;
    }
    return 0;
}

static int parse_memory(XLU_Config *cfg, const char *label, libxl_domain_build_info *b)
{
    long mem = 0, maxmem = 0, video = 0, shadow = 0;

    if (get_long(cfg, label, "memory", &mem) != 0 || mem <= 0) {
        colo_err("xen: %s: 'memory' (MiB) must be given and positive", label);
        return -1;
    }
    if (get_long(cfg, label, "maxmem", &maxmem) < 0 ||
        get_long(cfg, label, "videoram", &video) < 0 ||
        get_long(cfg, label, "shadow_memory", &shadow) < 0)
        return -1;
    if (maxmem == 0)
        maxmem = mem;
    if (maxmem < mem || maxmem > (1L << 30) || video < 0 || shadow < 0) {
        colo_err("xen: %s: memory=%ld maxmem=%ld videoram=%ld shadow_memory=%ld are "
                 "inconsistent", label, mem, maxmem, video, shadow);
        return -1;
    }
    b->target_memkb = (uint64_t)mem * 1024;
    b->max_memkb = (uint64_t)maxmem * 1024;
    if (video)
        b->video_memkb = (uint64_t)video * 1024;
    if (shadow)
        b->shadow_memkb = (uint64_t)shadow * 1024;
    return 0;
}

/* kernel/ramdisk/cmdline (or root + extra, as xl builds it). */
static int parse_boot(XLU_Config *cfg, const char *label, libxl_domain_build_info *b)
{
    char *root = NULL, *extra = NULL;
    int rc = 0;

    if (get_str(cfg, label, "kernel", &b->kernel) < 0 ||
        get_str(cfg, label, "ramdisk", &b->ramdisk) < 0 ||
        get_str(cfg, label, "cmdline", &b->cmdline) < 0 ||
        get_str(cfg, label, "boot", &b->u.hvm.boot) < 0)
        return -1;
    if (!b->cmdline) {
        if (get_str(cfg, label, "root", &root) < 0 || get_str(cfg, label, "extra", &extra) < 0) {
            rc = -1;
        } else if (root || extra) {
            size_t n = (root ? strlen(root) + 5 : 0) + (extra ? strlen(extra) : 0) + 2;

            b->cmdline = malloc(n);
            if (!b->cmdline)
                rc = -1;
            else
                snprintf(b->cmdline, n, "%s%s%s%s", root ? "root=" : "", root ? root : "",
                         root && extra ? " " : "", extra ? extra : "");
        }
    }
    free(root);
    free(extra);
    return rc;
}

static int parse_devices_model(XLU_Config *cfg, const char *label, libxl_domain_build_info *b)
{
    const char *dm = NULL, *vga = NULL;
    long stdvga = 0;
    XLU_ConfigList *serials;
    int nserial = 0;

    if (xlu_cfg_get_string(cfg, "device_model_version", &dm, 1) == 0 &&
        strcmp(dm, "qemu-xen") != 0) {
        colo_err("xen: %s: device_model_version '%s': COLO needs qemu-xen (QMP device "
                 "state save/load)", label, dm);
        return -1;
    }
    b->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN;

    if (xlu_cfg_get_string(cfg, "vga", &vga, 1) == 0) {
        if (!strcmp(vga, "stdvga"))
            b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_STD;
        else if (!strcmp(vga, "cirrus"))
            b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_CIRRUS;
        else if (!strcmp(vga, "none"))
            b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_NONE;
        else if (!strcmp(vga, "qxl"))
            b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_QXL;
        else {
            colo_err("xen: %s: vga '%s' unknown (stdvga, cirrus, none, qxl)", label, vga);
            return -1;
        }
    } else if (get_long(cfg, label, "stdvga", &stdvga) == 0 && stdvga) {
        b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_STD;
    }

    /* serial: one string, or a list of them */
    if (xlu_cfg_get_list(cfg, "serial", &serials, &nserial, 1) == 0 && nserial > 0) {
        if (xlu_cfg_get_list_as_string_list(cfg, "serial", &b->u.hvm.serial_list, 1) != 0) {
            colo_err("xen: %s: 'serial' list does not parse", label);
            return -1;
        }
    } else if (get_str(cfg, label, "serial", &b->u.hvm.serial) < 0) {
        return -1;
    }

    if (get_bool(cfg, label, "xen_platform_pci", &b->u.hvm.xen_platform_pci) < 0 ||
        get_bool(cfg, label, "acpi", &b->acpi) < 0 ||
        get_bool(cfg, label, "apic", &b->apic) < 0 ||
        get_bool(cfg, label, "pae", &b->u.hvm.pae) < 0 ||
        get_bool(cfg, label, "hpet", &b->u.hvm.hpet) < 0 ||
        get_bool(cfg, label, "nographic", &b->u.hvm.nographic) < 0 ||
        get_bool(cfg, label, "vnc", &b->u.hvm.vnc.enable) < 0 ||
        get_bool(cfg, label, "sdl", &b->u.hvm.sdl.enable) < 0)
        return -1;
    if (!libxl_defbool_is_default(b->u.hvm.xen_platform_pci) &&
        libxl_defbool_val(b->u.hvm.xen_platform_pci))
        colo_warn("xen: %s: xen_platform_pci=1 lets the guest use PV drivers, whose rings "
                  "COLO cannot carry; use xen_platform_pci=0", label);
    return 0;
}

static void warn_unknown(const char *key, void *opaque)
{
    colo_warn("xen: %s: key '%s' is not understood by the SVM builder and is ignored; "
              "the SVM may differ from the PVM", (const char *)opaque, key);
}

int colo_xen_xlcfg_parse(const char *data, size_t len, const char *label,
                         const char *svm_name, libxl_domain_config *dc)
{
    XLU_Config *cfg;
    const char *name = NULL;
    char full[COLO_XEN_NAME_MAX];
    int rc = -1;

    if (len > (size_t)INT32_MAX) {
        colo_err("xen: %s: config too large", label);
        return -1;
    }
    cfg = xlu_cfg_init(stderr, label);
    if (!cfg) {
        colo_err("xen: out of memory");
        return -1;
    }
    if (xlu_cfg_readdata(cfg, data, (int)len) != 0) {
        colo_err("xen: %s: not a valid xl.cfg (see the message above)", label);
        goto out;
    }
    colo_xen_xlcfg_unknown_keys(data, len, warn_unknown, (void *)label);
    if (check_type(cfg, label) < 0)
        goto out;

    /* dc is freshly initialised by the caller; only the type is set here. */
    dc->c_info.type = LIBXL_DOMAIN_TYPE_HVM;
    libxl_domain_build_info_init_type(&dc->b_info, LIBXL_DOMAIN_TYPE_HVM);

    if (svm_name && svm_name[0]) {
        snprintf(full, sizeof(full), "%s", svm_name);
    } else {
        if (xlu_cfg_get_string(cfg, "name", &name, 1) != 0 || !name[0]) {
            colo_err("xen: %s: 'name' missing", label);
            goto out;
        }
        if (strlen(name) + strlen(COLO_XEN_SVM_SUFFIX) >= sizeof(full)) {
            colo_err("xen: %s: name '%s' too long for the SVM name (%s appended)", label,
                     name, COLO_XEN_SVM_SUFFIX);
            goto out;
        }
        snprintf(full, sizeof(full), "%s%s", name, COLO_XEN_SVM_SUFFIX);
    }
    dc->c_info.name = strdup(full);
    if (!dc->c_info.name) {
        colo_err("xen: out of memory");
        goto out;
    }
    if (get_bool(cfg, label, "hap", &dc->c_info.hap) < 0 ||
        parse_memory(cfg, label, &dc->b_info) < 0 ||
        parse_vcpus(cfg, label, &dc->b_info) < 0 ||
        parse_cpus(cfg, label, &dc->b_info) < 0 ||
        parse_boot(cfg, label, &dc->b_info) < 0 ||
        parse_devices_model(cfg, label, &dc->b_info) < 0 ||
        parse_disks(cfg, label, dc) < 0 ||
        parse_vifs(cfg, label, dc) < 0)
        goto out;
    rc = 0;
out:
    xlu_cfg_destroy(cfg);
    return rc;
}

int colo_xen_xlcfg_load(const char *path, const char *svm_name, libxl_domain_config *dc)
{
    FILE *f = fopen(path, "r");
    char *data = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (!f) {
        colo_log_errno("xen: cannot open the SVM config %s", path);
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nd;

            if (cap > (16u << 20)) {
                colo_err("xen: %s is larger than any xl.cfg should be", path);
                free(data);
                fclose(f);
                return -1;
            }
            nd = realloc(data, cap + 65536);
            if (!nd) {
                colo_err("xen: out of memory");
                free(data);
                fclose(f);
                return -1;
            }
            data = nd;
            cap += 65536;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        colo_log_errno("xen: reading %s", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    rc = colo_xen_xlcfg_parse(data, len, path, svm_name, dc);
    free(data);
    return rc;
}
