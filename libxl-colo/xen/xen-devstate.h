/*
 * xen-devstate.h - the xen backend's device-state blob.
 *
 * save_device() hands the engine one opaque blob; for Xen it carries three
 * things, and load_device() must be able to reject a damaged or foreign
 * blob before any of it reaches Xen or qemu.  So it is framed in a small
 * versioned format, all integers little-endian:
 *
 *   header   8 bytes magic "XCOLODEV", u16 version (1), u16 record count,
 *            u32 reserved (0)
 *   record   u32 type, u32 body length, body, zero padding to 8 bytes
 *
 * Version 1 has exactly one record of each type, in any order:
 *   1 HVM_CONTEXT  xc_domain_hvm_getcontext() output: vCPU registers,
 *                  LAPIC, PIC, IOAPIC, PIT, RTC, HPET, MTRR, XSAVE ...
 *   2 HVM_PARAMS   n * (u32 index, u32 reserved 0, u64 value): HVM params
 *                  the guest (hvmloader, the kernel) sets at run time, which
 *                  an SVM that never booted does not have
 *   3 QEMU_STATE   the file qemu-xen wrote for xen-save-devices-state
 *
 * The decoder checks every length against what is left before it reads,
 * and rejects unknown types, duplicates, missing records, non-zero
 * reserved fields and padding, and trailing bytes.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_DEVSTATE_H
#define COLO_XEN_DEVSTATE_H

#include <stddef.h>
#include <stdint.h>

#define COLO_XDS_MAGIC          "XCOLODEV"
#define COLO_XDS_VERSION        1u
#define COLO_XDS_HDR_SIZE       16u
#define COLO_XDS_REC_HDR_SIZE   8u

enum colo_xds_type {
    COLO_XDS_HVM_CONTEXT = 1,
    COLO_XDS_HVM_PARAMS  = 2,
    COLO_XDS_QEMU_STATE  = 3,
};

/* Sanity bounds, far above real sizes (a few KiB .. a few hundred KiB). */
#define COLO_XDS_MAX_HVM_CONTEXT (16u << 20)
#define COLO_XDS_MAX_PARAMS      64u
#define COLO_XDS_MAX_QEMU_STATE  (64u << 20)
#define COLO_XDS_PARAM_SIZE      16u

struct colo_xds_param {
    uint32_t index;
    uint64_t value;
};

/* Input of the encoder. */
struct colo_xds_in {
    const void *hvm_ctx;
    uint32_t    hvm_ctx_len;
    const struct colo_xds_param *params;
    uint32_t    nr_params;
    const void *qemu;
    uint32_t    qemu_len;
};

/* Output of the decoder; pointers point into the decoded blob. */
struct colo_xds {
    const uint8_t *hvm_ctx;
    uint32_t       hvm_ctx_len;
    const uint8_t *params;          /* nr_params entries; use colo_xds_param_at */
    uint32_t       nr_params;
    const uint8_t *qemu;
    uint32_t       qemu_len;
};

/* Encode into a malloc'd blob.  Returns 0, or -1 (errno EINVAL: a part is
 * empty or over its bound; ENOMEM). */
int colo_xds_encode(const struct colo_xds_in *in, void **blob, size_t *len);

/* Decode and validate.  Returns 0, or -1 with *why naming the defect. */
int colo_xds_decode(const void *blob, size_t len, struct colo_xds *out, const char **why);

/* Parameter i (< nr_params) of a decoded blob. */
struct colo_xds_param colo_xds_param_at(const struct colo_xds *ds, uint32_t i);

#endif
