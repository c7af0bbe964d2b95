/*
 * xen-devstate.c - encode and decode the device-state blob; see
 * xen-devstate.h for the format.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "colo-le.h"
#include "xen-devstate.h"

/* Bytes of padding that follow a body of length len. */
static size_t pad8(size_t len)
{
    return (8 - (len & 7)) & 7;
}

/* Write one record at p; returns the bytes written. */
static size_t put_record(uint8_t *p, uint32_t type, const void *body, uint32_t len)
{
    colo_put32(p, type);
    colo_put32(p + 4, len);
    if (len)
        memcpy(p + COLO_XDS_REC_HDR_SIZE, body, len);
    memset(p + COLO_XDS_REC_HDR_SIZE + len, 0, pad8(len));
    return COLO_XDS_REC_HDR_SIZE + len + pad8(len);
}

int colo_xds_encode(const struct colo_xds_in *in, void **blob, size_t *len)
{
    uint32_t plen;
    size_t total;
    uint8_t *b, *p, *pbody = NULL;

    *blob = NULL;
    *len = 0;
    if (in->hvm_ctx_len == 0 || in->hvm_ctx_len > COLO_XDS_MAX_HVM_CONTEXT ||
        in->qemu_len == 0 || in->qemu_len > COLO_XDS_MAX_QEMU_STATE ||
        in->nr_params > COLO_XDS_MAX_PARAMS) {
        errno = EINVAL;
        return -1;
    }
    plen = in->nr_params * COLO_XDS_PARAM_SIZE;
    /* Bounded above: no overflow in size_t. */
    total = COLO_XDS_HDR_SIZE
          + COLO_XDS_REC_HDR_SIZE + in->hvm_ctx_len + pad8(in->hvm_ctx_len)
          + COLO_XDS_REC_HDR_SIZE + plen
          + COLO_XDS_REC_HDR_SIZE + in->qemu_len + pad8(in->qemu_len);
    b = malloc(total);
    if (plen)
        pbody = malloc(plen);
    if (!b || (plen && !pbody)) {
        free(b);
        free(pbody);
        errno = ENOMEM;
        return -1;
    }
    for (uint32_t i = 0; i < in->nr_params; i++) {
        colo_put32(pbody + i * COLO_XDS_PARAM_SIZE, in->params[i].index);
        colo_put32(pbody + i * COLO_XDS_PARAM_SIZE + 4, 0);
        colo_put64(pbody + i * COLO_XDS_PARAM_SIZE + 8, in->params[i].value);
    }

    memcpy(b, COLO_XDS_MAGIC, 8);
    colo_put16(b + 8, COLO_XDS_VERSION);
    colo_put16(b + 10, 3);
    colo_put32(b + 12, 0);
    p = b + COLO_XDS_HDR_SIZE;
    p += put_record(p, COLO_XDS_HVM_CONTEXT, in->hvm_ctx, in->hvm_ctx_len);
    p += put_record(p, COLO_XDS_HVM_PARAMS, pbody, plen);
    p += put_record(p, COLO_XDS_QEMU_STATE, in->qemu, in->qemu_len);
    free(pbody);
    *blob = b;
    *len = (size_t)(p - b);
    return 0;
}

static int bad(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -1;
}

int colo_xds_decode(const void *blob, size_t len, struct colo_xds *out, const char **why)
{
    const uint8_t *b = blob, *p;
    size_t left;
    unsigned seen = 0;
    uint16_t nrec;

    memset(out, 0, sizeof(*out));
    if (!b || len < COLO_XDS_HDR_SIZE)
        return bad(why, "device state shorter than its header");
    if (memcmp(b, COLO_XDS_MAGIC, 8) != 0)
        return bad(why, "device state has a bad magic (not from the xen backend)");
    if (colo_get16(b + 8) != COLO_XDS_VERSION)
        return bad(why, "device state has an unsupported version");
    nrec = colo_get16(b + 10);
    if (nrec != 3)
        return bad(why, "device state has a wrong record count");
    if (colo_get32(b + 12) != 0)
        return bad(why, "device state header has non-zero reserved bits");

    p = b + COLO_XDS_HDR_SIZE;
    left = len - COLO_XDS_HDR_SIZE;
    for (unsigned r = 0; r < nrec; r++) {
        uint32_t type, rlen;
        const uint8_t *body;

        if (left < COLO_XDS_REC_HDR_SIZE)
            return bad(why, "device state truncated in a record header");
        type = colo_get32(p);
        rlen = colo_get32(p + 4);
        p += COLO_XDS_REC_HDR_SIZE;
        left -= COLO_XDS_REC_HDR_SIZE;
        if (rlen > left || pad8(rlen) > left - rlen)
            return bad(why, "device state record longer than the blob");
        body = p;
        for (size_t i = 0; i < pad8(rlen); i++)
            if (body[rlen + i] != 0)
                return bad(why, "device state record has non-zero padding");
        if (type < COLO_XDS_HVM_CONTEXT || type > COLO_XDS_QEMU_STATE)
            return bad(why, "device state has an unknown record type");
        if (seen & (1u << type))
            return bad(why, "device state has a duplicate record");
        seen |= 1u << type;

        switch (type) {
        case COLO_XDS_HVM_CONTEXT:
            if (rlen == 0 || rlen > COLO_XDS_MAX_HVM_CONTEXT)
                return bad(why, "device state: HVM context empty or too large");
            out->hvm_ctx = body;
            out->hvm_ctx_len = rlen;
            break;
        case COLO_XDS_HVM_PARAMS:
            if (rlen % COLO_XDS_PARAM_SIZE != 0 ||
                rlen / COLO_XDS_PARAM_SIZE > COLO_XDS_MAX_PARAMS)
                return bad(why, "device state: HVM params record has a bad length");
            for (uint32_t i = 0; i < rlen / COLO_XDS_PARAM_SIZE; i++)
                if (colo_get32(body + i * COLO_XDS_PARAM_SIZE + 4) != 0)
                    return bad(why, "device state: HVM param has non-zero reserved bits");
            out->params = body;
            out->nr_params = rlen / COLO_XDS_PARAM_SIZE;
            break;
        default:
            if (rlen == 0 || rlen > COLO_XDS_MAX_QEMU_STATE)
                return bad(why, "device state: qemu state empty or too large");
            out->qemu = body;
            out->qemu_len = rlen;
            break;
        }
        p += rlen + pad8(rlen);
        left -= rlen + pad8(rlen);
    }
    if (left != 0)
        return bad(why, "device state has trailing bytes");
    return 0;
}

struct colo_xds_param colo_xds_param_at(const struct colo_xds *ds, uint32_t i)
{
    struct colo_xds_param prm = { 0, 0 };

    if (i < ds->nr_params) {
        prm.index = colo_get32(ds->params + (size_t)i * COLO_XDS_PARAM_SIZE);
        prm.value = colo_get64(ds->params + (size_t)i * COLO_XDS_PARAM_SIZE + 8);
    }
    return prm;
}
