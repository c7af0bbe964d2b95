/* chardev-frame.c - see chardev-frame.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev-frame.h"
#include "colo-be.h"

static size_t hdr_size(const struct cf_decoder *d)
{
    return d->vnet ? 8 : 4;
}

int cf_decoder_init(struct cf_decoder *d, bool vnet, uint32_t max_len)
{
    memset(d, 0, sizeof(*d));
    d->vnet = vnet;
    d->max_len = max_len > CF_MAX_FRAME ? CF_MAX_FRAME : max_len;
    d->buf = malloc(8 + (size_t)d->max_len);
    return d->buf ? 0 : -1;
}

void cf_decoder_free(struct cf_decoder *d)
{
    free(d->buf);
    d->buf = NULL;
}

void cf_decoder_reset(struct cf_decoder *d)
{
    d->got = 0;
    d->error = NULL;
}

size_t cf_decoder_pending(const struct cf_decoder *d)
{
    return d->got;
}

static int fail(struct cf_decoder *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->error = d->why;
    return -1;
}

/* The lengths in a complete header, checked: every defect a stream can
 * carry shows here, since the frame's bytes themselves are opaque. */
static int check_header(struct cf_decoder *d, const uint8_t *h, uint32_t *len, uint32_t *vlen)
{
    *len = colo_get_be32(h);
    *vlen = d->vnet ? colo_get_be32(h + 4) : 0;
    if (*len == 0)
        return fail(d, "zero-length frame");
    if (*len > d->max_len)
        return fail(d, "frame length %u exceeds the maximum %u", *len, d->max_len);
    if (*vlen > CF_MAX_VNET_HDR)
        return fail(d, "vnet header length %u exceeds %u", *vlen, CF_MAX_VNET_HDR);
    if (d->vnet && *vlen + CF_ETH_HLEN > *len)
        return fail(d, "a vnet header of %u bytes leaves no room for an Ethernet header in a %u-byte frame",
                    *vlen, *len);
    return 0;
}

int cf_decode(struct cf_decoder *d, uint8_t *in, size_t n, cf_frame_fn *fn, void *opaque)
{
    size_t hs = hdr_size(d), k;
    uint32_t len, vlen;

    if (d->error)
        return -1;
    while (n > 0) {
        /* Whole frames lying in the input go out from where they are. */
        if (d->got == 0 && n >= hs) {
            if (check_header(d, in, &len, &vlen) < 0)
                return -1;
            if (n - hs >= len) {
                fn(opaque, in + hs, len, vlen);
                in += hs + len;
                n -= hs + len;
                continue;
            }
        }
        /* The rest is assembled in buf, header first, so that the header
         * still precedes the data. */
        if (d->got < hs) {
            k = hs - d->got < n ? hs - d->got : n;
            memcpy(d->buf + d->got, in, k);
            d->got += k, in += k, n -= k;
            if (d->got < hs)
                return 0;
            if (check_header(d, d->buf, &d->len, &d->vnet_len) < 0)
                return -1;
        }
        k = hs + d->len - d->got < n ? hs + d->len - d->got : n;
        memcpy(d->buf + d->got, in, k);
        d->got += k, in += k, n -= k;
        if (d->got == hs + d->len) {
            d->got = 0;
            fn(opaque, d->buf + hs, d->len, d->vnet_len);
        }
    }
    return 0;
}

size_t cf_encode_header(uint8_t out[8], uint32_t len, bool vnet, uint32_t vnet_hdr_len)
{
    colo_put_be32(out, len);
    if (!vnet)
        return 4;
    colo_put_be32(out + 4, vnet_hdr_len);
    return 8;
}
