/*
 * xen-policy.c - see xen-policy.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen-sys.h"
#include "colo-proto.h"
#include "colo-backend.h"
#include "xen-policy.h"

enum colo_xen_guest_kind colo_xen_guest_kind(bool hvm_container, uint32_t emulation_flags)
{
    /* The platform devices an HVM guest has and a PVH guest lacks. */
    const uint32_t platform = XEN_X86_EMU_PIC | XEN_X86_EMU_IOAPIC |
                              XEN_X86_EMU_PIT | XEN_X86_EMU_RTC;

    if (!hvm_container)
        return COLO_XEN_PV;
    if ((emulation_flags & platform) != platform)
        return COLO_XEN_PVH;
    return COLO_XEN_HVM;
}

const char *colo_xen_guest_kind_name(enum colo_xen_guest_kind k)
{
    switch (k) {
    case COLO_XEN_PV:  return "PV";
    case COLO_XEN_PVH: return "PVH";
    default:           return "HVM";
    }
}

enum colo_xen_hole_action colo_xen_hole_action(const void *page)
{
    return colo_page_is_zero(page) ? COLO_XEN_HOLE_SKIP : COLO_XEN_HOLE_POPULATE;
}

uint64_t colo_xen_dirty_merge(const unsigned long *xbits, uint64_t nbits,
                              struct colo_bitmap *into, uint64_t *ignored)
{
    const unsigned bpl = sizeof(unsigned long) * CHAR_BIT;
    uint64_t nwords = (nbits + bpl - 1) / bpl;
    uint64_t set = 0, off = 0;

    for (uint64_t w = 0; w < nwords; w++) {
        unsigned long word = xbits[w];

        /* The last word may hold bits past nbits: mask them off. */
        if (w == nwords - 1 && nbits % bpl)
            word &= (1ul << (nbits % bpl)) - 1;
        while (word) {
            uint64_t bit = w * bpl + (unsigned)__builtin_ctzl(word);

            word &= word - 1;
            if (colo_bitmap_set(into, bit) == 0)
                set++;
            else
                off++;
        }
    }
    if (ignored)
        *ignored = off;
    return set;
}

bool colo_xen_qemu_loads_state(long long major, long long minor)
{
    (void)minor;
    return major < 6;
}

/* "file,id=colo-serialN,path=PATH,append=on", PATH's commas doubled (QEMU's quoting). */
static char *serial_chardev(const char *path, unsigned n)
{
    size_t commas = 0, len = strlen(path);
    char *out, *o;

    for (size_t i = 0; i < len; i++)
        commas += path[i] == ',';
    out = malloc(len + commas + 64);
    if (!out)
        return NULL;
    o = out + sprintf(out, "file,id=colo-serial%u,path=", n);
    for (size_t i = 0; i < len; i++) {
        *o++ = path[i];
        if (path[i] == ',')
            *o++ = ',';
    }
    strcpy(o, ",append=on");
    return out;
}

void colo_xen_dm_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

/* Append s (malloc'd, NULL when an allocation failed) to argv; false if NULL. */
static bool push(char **argv, size_t *n, char *s)
{
    if (!s)
        return false;
    argv[(*n)++] = s;
    return true;
}

char **colo_xen_dm_argv(const char *cmdline, size_t len, int fd, const char **why)
{
    const char *end = cmdline + len;
    size_t nargs = 0, n = 0;
    unsigned serials = 0;
    char in[32], ref[64];
    char **argv;

    if (len == 0 || cmdline[0] == '\0') {
        *why = "the device model's command line is empty";
        return NULL;
    }
    if (cmdline[len - 1] != '\0') {
        *why = "the device model's command line does not end with a NUL";
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        nargs += cmdline[i] == '\0';
    /* "-serial X" grows to four arguments; then "-S -incoming fd:N" and NULL. */
    argv = calloc(2 * nargs + 4, sizeof(*argv));
    if (!argv) {
        *why = "out of memory";
        return NULL;
    }
    *why = "out of memory";
    for (const char *a = cmdline; a < end; a += strlen(a) + 1) {
        const char *val = a + strlen(a) + 1;
        bool takes_value = strcmp(a, "-incoming") == 0 || strcmp(a, "-serial") == 0;

        if (strcmp(a, "-S") == 0)
            continue;
        if (!takes_value) {
            if (!push(argv, &n, strdup(a)))
                goto fail;
            continue;
        }
        if (val >= end) {
            *why = a[1] == 'i' ? "the device model's command line ends in -incoming"
                               : "the device model's command line ends in -serial";
            goto fail;
        }
        if (a[1] == 'i') {
            /* dropped: the new -incoming comes last */
        } else if (strncmp(val, "file:", 5) == 0) {
            snprintf(ref, sizeof(ref), "chardev:colo-serial%u", serials);
            if (!push(argv, &n, strdup("-chardev")) ||
                !push(argv, &n, serial_chardev(val + 5, serials)) ||
                !push(argv, &n, strdup("-serial")) || !push(argv, &n, strdup(ref)))
                goto fail;
            serials++;
        } else if (!push(argv, &n, strdup(a)) || !push(argv, &n, strdup(val))) {
            goto fail;
        }
        a = val;
    }
    snprintf(in, sizeof(in), "fd:%d", fd);
    if (!push(argv, &n, strdup("-S")) || !push(argv, &n, strdup("-incoming")) ||
        !push(argv, &n, strdup(in)))
        goto fail;
    *why = NULL;
    return argv;
fail:
    colo_xen_dm_argv_free(argv);
    return NULL;
}

int colo_xen_cpu_records(const uint8_t *ctx, size_t len, uint8_t **out, size_t *outlen,
                         const char **why)
{
    const size_t dlen = sizeof(struct hvm_save_descriptor);
    uint8_t *buf = malloc(len ? len : 1);   /* the CPU records are a part of ctx */
    size_t off = 0, n = 0;

    *out = NULL;
    *outlen = 0;
    if (!buf) {
        *why = "out of memory";
        return -1;
    }
    while (off < len) {
        struct hvm_save_descriptor d;

        if (len - off < dlen) {
            *why = "a record descriptor runs past the end of the context";
            goto bad;
        }
        memcpy(&d, ctx + off, dlen);
        if (d.length > len - off - dlen) {
            *why = "a record runs past the end of the context";
            goto bad;
        }
        if (d.typecode == HVM_SAVE_CODE(CPU)) {
            if (d.length < offsetof(struct hvm_hw_cpu, tsc) + sizeof(uint64_t)) {
                *why = "a CPU record is shorter than Xen's struct hvm_hw_cpu";
                goto bad;
            }
            memcpy(buf + n, ctx + off, dlen + d.length);
            memset(buf + n + dlen + offsetof(struct hvm_hw_cpu, tsc), 0, sizeof(uint64_t));
            n += dlen + d.length;
        }
        off += dlen + d.length;
    }
    *out = buf;
    *outlen = n;
    return 0;
bad:
    free(buf);
    return -1;
}
