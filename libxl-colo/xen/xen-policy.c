/*
 * xen-policy.c - see xen-policy.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <limits.h>
#include <stddef.h>
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
