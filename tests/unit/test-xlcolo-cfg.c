/*
 * test-xlcolo-cfg.c - is an xl.cfg fit for COLO?  Every COLO disk key
 * missing, malformed or contradictory, every vif rule, the identity checks:
 * each refusal must name the domain and the key.  libxlutil does the
 * reading; no hypervisor is needed.
 * Needs: tools/xlcolo-cfg.c (libxlcolotool.a), libxl-colo/xen/xen-xlcfg.c
 * and colo-log.c (libxlcolo.a); pkg-config xenlight xlutil xentoollog.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "colo-log.h"
#include "xlcolo-cfg.h"

#define COLO_DISK "format=raw, vdev=hda, access=rw, colo, colo-host=10.0.0.2, colo-port=9000, " \
                  "colo-export=vm1d, active-disk=/var/lib/xen/vm1-active.qcow2, " \
                  "hidden-disk=/var/lib/xen/vm1-hidden.qcow2, target=/var/lib/xen/vm1.img"
#define VIF "mac=00:16:3e:00:00:01, bridge=xenbr0, model=e1000, forwarddev=eth1"

static const struct xlc_cfg_policy strict = { .policy = true };
static const struct xlc_cfg_policy unsafe = { .policy = true, .unsafe = true };
static const struct xlc_cfg_policy userspace = { .policy = true, .userspace_proxy = true };
static const struct xlc_cfg_policy receiver = { .policy = false };

static char err[1024];
static struct xlc_cfg_info info;

/* An xl.cfg for vm1 with these disk and vif lists (NULL: none). */
static char *cfg_text(const char *disks, const char *vifs, const char *extra)
{
    char *s = NULL;

    assert_true(asprintf(&s, "name = \"vm1\"\ntype = \"hvm\"\nmemory = 64\nvcpus = 1\n"
                             "%s%s%s%s%s%s%s\n", disks ? "disk = [ " : "", disks ? disks : "",
                         disks ? " ]\n" : "", vifs ? "vif = [ " : "", vifs ? vifs : "",
                         vifs ? " ]\n" : "", extra ? extra : "") > 0);
    return s;
}

static int check(const char *text, const struct xlc_cfg_policy *p)
{
    return xlc_cfg_check(text, strlen(text), "vm1.cfg", "vm1", p, &info, err, sizeof(err));
}

static int check_parts(const char *disks, const char *vifs, const char *extra,
                       const struct xlc_cfg_policy *p)
{
    char *t = cfg_text(disks, vifs, extra);
    int rc = check(t, p);

    free(t);
    return rc;
}

/* Refused, and the message names the domain and every `want`. */
static void refused(const char *disks, const char *vifs, const char *extra,
                    const struct xlc_cfg_policy *p, const char *want)
{
    if (check_parts(disks, vifs, extra, p) != -1)
        fail_msg("accepted: disks %s vifs %s", disks ? disks : "-", vifs ? vifs : "-");
    if (!strstr(err, "domain 'vm1'") || !strstr(err, want))
        fail_msg("'%s' does not name the domain and '%s'", err, want);
}

/* refused() for each of N values, put into a vif spec and the error wanted
 * (both printf formats of one %s). */
static void refused_each(const char *vif_fmt, const char *want_fmt, const char *const *values,
                         size_t n, const struct xlc_cfg_policy *p)
{
    for (size_t i = 0; i < n; i++) {
        char v[256], want[160];

        snprintf(v, sizeof(v), vif_fmt, values[i]);
        snprintf(want, sizeof(want), want_fmt, values[i]);
        refused(NULL, v, NULL, p, want);
    }
}

static void test_good(void **state)
{
    assert_int_equal(check_parts("'" COLO_DISK "'", "'" VIF "'", NULL, &strict), 0);
    assert_string_equal(err, "");
    assert_string_equal(info.name, "vm1");
    assert_int_equal(info.memory_mib, 64);
    assert_int_equal(info.disks, 1);
    assert_int_equal(info.colo_disks, 1);
    assert_int_equal(info.vifs, 1);
    /* no disks and no vifs at all: nothing to replicate but memory */
    assert_int_equal(check_parts(NULL, NULL, NULL, &strict), 0);
    /* builder="hvm" is the old spelling of type */
    assert_int_equal(check("name=\"vm1\"\nbuilder=\"hvm\"\nmemory=64\n", &strict), 0);
    /* read-only disks and CD-ROMs need no replication */
    assert_int_equal(check_parts("'format=raw, vdev=hdb, access=ro, target=/iso/base.img', "
                                 "'vdev=hdc, devtype=cdrom, target=/iso/x.iso'", NULL, NULL,
                                 &strict), 0);
    assert_int_equal(info.disks, 2);
    assert_int_equal(info.colo_disks, 0);
    /* backendtype=qdisk named explicitly */
    assert_int_equal(check_parts("'backendtype=qdisk, " COLO_DISK "'", NULL, NULL, &strict), 0);
}

static void test_identity(void **state)
{
    assert_int_equal(check("type=\"hvm\"\nmemory=64\n", &strict), -1);
    assert_string_equal(err, "domain 'vm1': vm1.cfg has no 'name'");
    assert_int_equal(check("name=\"vm2\"\ntype=\"hvm\"\nmemory=64\n", &strict), -1);
    assert_string_equal(err, "domain 'vm1': vm1.cfg describes domain 'vm2' (key 'name'), "
                             "not this one");
    assert_int_equal(check("name=\"vm1\"\ntype=\"pv\"\nmemory=64\n", &strict), -1);
    assert_string_equal(err, "domain 'vm1': COLO needs an HVM guest, and vm1.cfg describes a "
                             "pv guest (key 'type')");
    assert_int_equal(check("name=\"vm1\"\ntype=\"pvh\"\nmemory=64\n", &strict), -1);
    assert_non_null(strstr(err, "pvh guest (key 'type')"));
    assert_int_equal(check("name=\"vm1\"\nmemory=64\n", &strict), -1);
    assert_non_null(strstr(err, "no 'type': xl's default is PV"));
    assert_int_equal(check("name=\"vm1\"\nbuilder=\"generic\"\nmemory=64\n", &strict), -1);
    assert_non_null(strstr(err, "key 'builder'"));
    /* even the receiving side, which skips the policy, checks who and what */
    assert_int_equal(check("name=\"vm2\"\ntype=\"hvm\"\nmemory=64\n", &receiver), -1);
}

static void test_not_an_xlcfg(void **state)
{
    assert_int_equal(check("name = = \"vm1\"\n", &strict), -1);
    assert_string_equal(err, "domain 'vm1': vm1.cfg is not a valid xl.cfg (see the message "
                             "above)");
    assert_int_equal(xlc_cfg_check("name=\"vm1\"\0x", 12, "vm1.cfg", "vm1", &strict, &info,
                                   err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL byte"));
    assert_int_equal(xlc_cfg_check("x", XLC_CFG_MAX + 1, "vm1.cfg", "vm1", &strict, &info,
                                   err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than any xl.cfg"));
    /* what the SVM builder refuses (memory, here) is refused before anything starts */
    assert_int_equal(check("name=\"vm1\"\ntype=\"hvm\"\n", &strict), -1);
    assert_string_equal(err, "domain 'vm1': the SVM cannot be built from vm1.cfg (see the "
                             "message above)");
}

/* COLO_DISK without one key=value (matched by its key). */
static char *disk_without(const char *key)
{
    char *d = strdup("'" COLO_DISK "'"), *p = strstr(d, key), *end;

    assert_non_null(p);
    end = strchr(p, ',');
    assert_non_null(end);
    memmove(p, end + 2, strlen(end + 2) + 1);
    return d;
}

static void test_colo_disk_keys_missing(void **state)
{
    static const char *const keys[] = { "colo-host=", "colo-port=", "colo-export=",
                                        "active-disk=", "hidden-disk=" };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char *d = disk_without(keys[i]), want[64];

        snprintf(want, sizeof(want), "disk 0 (hda) has 'colo' but no '%s'", keys[i]);
        refused(d, NULL, NULL, &strict, want);
        refused(d, NULL, NULL, &receiver, want);    /* structure: both sides */
        free(d);
    }
}

static void test_colo_disk_keys_malformed(void **state)
{
    static const char *const ports[] = { "abc", "0", "65536", "99999", "12x", "", "-1", "123456" };

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        char d[512], want[64];

        snprintf(d, sizeof(d), "'format=raw, vdev=hda, colo, colo-host=h, colo-port=%s, "
                 "colo-export=e, active-disk=/a, hidden-disk=/h, target=/t'", ports[i]);
        snprintf(want, sizeof(want), "'colo-port=%s' is not a port number", ports[i]);
        refused(d, NULL, NULL, &strict, want);
    }
    static const struct { const char *host, *export, *active, *hidden, *want; } bad[] = {
        { "h", "e", "a.qcow2", "/h", "'active-disk=a.qcow2' must be an absolute path" },
        { "h", "e", "/a", "h.qcow2", "'hidden-disk=h.qcow2' must be an absolute path" },
        { "", "e", "/a", "/h", "'colo-host=' is empty" },
        { "a b", "e", "/a", "/h", "'colo-host=a b' is not a host name or address" },
        { "h", "", "/a", "/h", "'colo-export=' is empty" },
        { "h", "e", "", "/h", "'active-disk=' is empty" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char d[512];

        snprintf(d, sizeof(d), "'format=raw, vdev=hda, colo, colo-host=%s, colo-port=1, "
                 "colo-export=%s, active-disk=%s, hidden-disk=%s, target=/t'", bad[i].host,
                 bad[i].export, bad[i].active, bad[i].hidden);
        refused(d, NULL, NULL, &strict, bad[i].want);
    }
    /* the same disk, well formed, is accepted: the refusals above are the key's */
    assert_int_equal(check_parts("'format=raw, vdev=hda, colo, colo-host=h, colo-port=65535, "
                                 "colo-export=e, active-disk=/a, hidden-disk=/h, target=/t'",
                                 NULL, NULL, &strict), 0);
}

static void test_colo_disk_contradictions(void **state)
{
    /* COLO keys without 'colo' */
    refused("'format=raw, vdev=hda, colo-host=h, target=/t'", NULL, NULL, &strict,
            "disk 0 (hda) sets 'colo-host=' but is not a COLO disk ('colo' missing)");
    refused("'format=raw, vdev=hda, colo-export=e, target=/t'", NULL, NULL, &receiver,
            "sets 'colo-export='");
    refused("'format=raw, vdev=hda, hidden-disk=/h, target=/t'", NULL, NULL, &strict,
            "sets 'hidden-disk='");
    refused("'format=raw, vdev=hda, no-colo, colo-port=5, target=/t'", NULL, NULL, &strict,
            "sets 'colo-port=' but is not a COLO disk ('colo' turned off by 'no-colo')");
    /* keys written after target=, which swallows them */
    refused("'format=raw, vdev=hda, target=/t, colo, colo-host=h'", NULL, NULL, &strict,
            "'target=' takes the rest of the spec");
    /* one file for two purposes */
    refused("'format=raw, vdev=hda, colo, colo-host=h, colo-port=1, colo-export=e, "
            "active-disk=/x, hidden-disk=/x, target=/t'", NULL, NULL, &strict,
            "'active-disk' and 'hidden-disk' are the same file (/x)");
    refused("'format=raw, vdev=hda, colo, colo-host=h, colo-port=1, colo-export=e, "
            "active-disk=/t, hidden-disk=/h, target=/t'", NULL, NULL, &strict,
            "the disk's own target /t is also its 'active-disk'");
    refused("'format=raw, vdev=hda, colo, colo-host=h, colo-port=1, colo-export=e, "
            "active-disk=/a, hidden-disk=/t, target=/t'", NULL, NULL, &strict,
            "is also its 'hidden-disk'");
    refused("'backendtype=phy, " COLO_DISK "'", NULL, NULL, &strict,
            "'colo' needs backendtype=qdisk, not phy");
    /* two disks sharing what the secondary keeps per disk */
    refused("'" COLO_DISK "', 'format=raw, vdev=hdb, colo, colo-host=h, colo-port=1, "
            "colo-export=vm1d, active-disk=/a2, hidden-disk=/h2, target=/t2'", NULL, NULL,
            &strict, "disks 0 and 1 both use vm1d as their colo-export");
    refused("'" COLO_DISK "', 'format=raw, vdev=hdb, colo, colo-host=h, colo-port=1, "
            "colo-export=e2, active-disk=/var/lib/xen/vm1-active.qcow2, hidden-disk=/h2, "
            "target=/t2'", NULL, NULL, &strict,
            "both use /var/lib/xen/vm1-active.qcow2 as their active-disk");
    refused("'" COLO_DISK "', 'format=raw, vdev=hdb, colo, colo-host=h, colo-port=1, "
            "colo-export=e2, active-disk=/var/lib/xen/vm1-hidden.qcow2, hidden-disk=/h2, "
            "target=/t2'", NULL, NULL, &strict, "as their hidden-disk");
    /* two disks with their own files are fine */
    assert_int_equal(check_parts("'" COLO_DISK "', 'format=raw, vdev=hdb, colo, colo-host=h, "
                                 "colo-port=1, colo-export=e2, active-disk=/a2, "
                                 "hidden-disk=/h2, target=/t2'", NULL, NULL, &strict), 0);
    assert_int_equal(info.colo_disks, 2);
    /* a spec libxlutil cannot read */
    refused("'format=raw, vdev=hda, access=sideways, target=/t'", NULL, NULL, &strict,
            "disk 0 ('format=raw, vdev=hda, access=sideways, target=/t') does not parse "
            "(key 'disk'");
}

static void test_writable_disk_policy(void **state)
{
    const char *plain = "'format=raw, vdev=hda, access=rw, target=/var/lib/xen/vm1.img'";

    refused(plain, NULL, NULL, &strict, "disk 0 (hda) is writable but not replicated (no "
            "'colo')");
    refused(plain, NULL, NULL, &strict, "-F allows it");
    assert_int_equal(check_parts(plain, NULL, NULL, &unsafe), 0);      /* -F: a warning */
    assert_int_equal(check_parts(plain, NULL, NULL, &receiver), 0);    /* not its call */
}

static void test_vifs(void **state)
{
    refused(NULL, "'bridge=xenbr0, forwarddev=eth1'", NULL, &strict,
            "vif 0 has no 'mac='");
    refused(NULL, "'" VIF "', ''", NULL, &receiver, "vif 1 has no 'mac='");
    refused(NULL, "'mac=00:16:3e:00:00:01, bridge=xenbr0'", NULL, &strict,
            "vif 0 has no 'forwarddev=' (the interface that links the primary and the "
            "secondary host; not needed with -p)");
    assert_int_equal(check_parts(NULL, "'mac=00:16:3e:00:00:01, bridge=xenbr0'", NULL,
                                 &userspace), 0);
    assert_int_equal(check_parts(NULL, "'mac=00:16:3e:00:00:01, bridge=xenbr0'", NULL,
                                 &unsafe), 0);
    assert_int_equal(check_parts(NULL, "'mac=00:16:3e:00:00:01, bridge=xenbr0'", NULL,
                                 &receiver), 0);
    static const char *const bad[] = { "", "a/b", "eth:1", "averyveryverylongname", "..",
                                       "." };
    refused_each("'mac=00:16:3e:00:00:01, forwarddev=%s'",
                 "vif 0: 'forwarddev=%s' is not a network interface name", bad,
                 sizeof(bad) / sizeof(bad[0]), &strict);
    refused_each("'mac=00:16:3e:00:00:01, forwarddev=%s'",      /* given, it must make sense */
                 "vif 0: 'forwarddev=%s' is not a network interface name", bad,
                 sizeof(bad) / sizeof(bad[0]), &userspace);
    /* a vif in a VLAN (an access port) is passed on whole; trunks are refused */
    assert_int_equal(check_parts(NULL, "'mac=00:16:3e:00:00:01, bridge=xenbr-storage.4094, "
                                 "forwarddev=eth1'", NULL, &strict), 0);
    assert_string_equal(info.vif[0].bridge, "xenbr-storage.4094");
    refused(NULL, "'mac=00:16:3e:00:00:01, bridge=xenbr0:10:20, forwarddev=eth1'", NULL, &strict,
            "vif 0: 'bridge=xenbr0:10:20': trunk vifs (BRIDGE:VLAN...) are not supported");
    static const char *const badvlan[] = { "br0.0", "br0.4095", "br0.", "br0.1x", "br0.10000",
                                           "br0.-1", "br0.1.2" };
    refused_each("'mac=00:16:3e:00:00:01, bridge=%s, forwarddev=eth1'",
                 "'bridge=%s': the VLAN after the '.' must be a number", badvlan,
                 sizeof(badvlan) / sizeof(badvlan[0]), &strict);
    refused(NULL, "'mac=00:16:3e:00:00:01, bridge=.10, forwarddev=eth1'", NULL, &strict,
            "is not a network interface name");
    refused(NULL, "'mac=00:16:3e:00:00:01, bridge=br0.10, forwarddev=br0'", NULL, &strict,
            "vif 0: 'forwarddev=br0' is also its bridge");
    refused(NULL, "'mac=00:16:3e:00:00:01, vifname=a\"b, forwarddev=eth1'", NULL, &strict,
            "is not a network interface name");
    refused(NULL, "'mac=00:16:3e:00:00, forwarddev=eth1'", NULL, &strict,
            "vif 0: 'mac=00:16:3e:00:00' is not a MAC address");
    refused(NULL, "'" VIF "','" VIF "','" VIF "','" VIF "','" VIF "','" VIF "','" VIF "','" VIF
            "','" VIF "'", NULL, &strict, "has 9 vifs; xl-colo protects at most 8");
    refused(NULL, "'mac=00:16:3e:00:00:zz, forwarddev=eth1'", NULL, &strict,
            "vif 0: 'mac=00:16:3e:00:00:zz' is not a MAC address");
    refused(NULL, "'mac=00:16:3e 00:00:01, forwarddev=eth1'", NULL, &strict,
            "is not a MAC address");
    /* the interface that carries the traffic: the emulated NIC's tap
     * unless type=vif (the PV vif only) */
    assert_int_equal(check_parts(NULL, "'mac=00:16:3e:00:00:01, type=vif, forwarddev=eth1'", NULL,
                                 &strict), 0);
    assert_true(info.vif[0].pv);
    assert_int_equal(check_parts(NULL, "'" VIF "'", NULL, &strict), 0);
    assert_false(info.vif[0].pv);
    /* what the SVM builder refuses in a vif: a type it does not know */
    assert_int_equal(check_parts(NULL, "'mac=00:16:3e:00:00:01, type=tap, forwarddev=eth1'", NULL,
                                 &strict), -1);
    assert_non_null(strstr(err, "the SVM cannot be built"));
}

static void test_read(void **state)
{
    char path[] = "/tmp/test-xlcolo-cfg.XXXXXX", *data;
    size_t len;
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("name = \"vm1\"\n", f);
    fclose(f);
    assert_int_equal(xlc_cfg_read(path, &data, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 13);
    assert_string_equal(data, "name = \"vm1\"\n");
    free(data);
    f = fopen(path, "w");
    for (unsigned i = 0; i <= XLC_CFG_MAX / 16; i++)
        fputs("# padding.......\n", f);
    fclose(f);
    assert_int_equal(xlc_cfg_read(path, &data, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than any xl.cfg"));
    unlink(path);
    assert_int_equal(xlc_cfg_read(path, &data, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_not_an_xlcfg),
        cmocka_unit_test(test_colo_disk_keys_missing),
        cmocka_unit_test(test_colo_disk_keys_malformed),
        cmocka_unit_test(test_colo_disk_contradictions),
        cmocka_unit_test(test_writable_disk_policy),
        cmocka_unit_test(test_vifs),
        cmocka_unit_test(test_read),
    };

    colo_log_init("test-xlcolo-cfg", COLO_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
