/*
 * chardev-frame.h - QEMU's framing of packets on a character device stream.
 *
 * QEMU's filter-mirror, filter-redirector and colo-compare pass Ethernet
 * frames to each other over socket chardevs as
 *
 *     length (4 bytes, big-endian)
 *     [vnet header length (4 bytes, big-endian)]  only with vnet_hdr_support
 *     the frame: length bytes, starting with that many bytes of virtio-net
 *     header when there is one
 *
 * and Xen's userspace-proxy messages on colo-compare's notify_dev use the
 * same length prefix (never the vnet field).  A stream cannot be
 * resynchronised: once a length is wrong every later byte is misread, so the
 * decoder refuses the rest of a stream after the first defect and says why.
 *
 * The decoder is pure (bytes in, in any split; whole frames out through a
 * callback) and copies only frames that arrive split across feeds.
 */
#ifndef COLO_CHARDEV_FRAME_H
#define COLO_CHARDEV_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CF_MAX_FRAME    69632u  /* QEMU's NET_BUFSIZE (4096 + 65536): nothing larger is sent */
#define CF_MAX_VNET_HDR 20u     /* the largest virtio-net header (v1 with hash report) */
#define CF_ETH_HLEN     14u

/*
 * One frame: data[0..len) with its vnet header length (0 without the vnet
 * field).  The frame's header as it was on the wire (4 or 8 bytes) always
 * sits in the bytes just before data, so a caller may hand on the frame
 * with its header without copying.
 */
typedef void cf_frame_fn(void *opaque, uint8_t *data, size_t len, uint32_t vnet_hdr_len);

struct cf_decoder {
    bool vnet;              /* the vnet header length field follows the length */
    uint32_t max_len;       /* the largest frame accepted */
    uint32_t len, vnet_len; /* of the frame being assembled */
    size_t got;             /* bytes of it (header included) in buf */
    uint8_t *buf;           /* 8 header bytes + max_len */
    const char *error;      /* set at the first defect; then all input is refused */
    char why[96];
};

/* 0, or -1 if out of memory.  max_len at most CF_MAX_FRAME. */
int  cf_decoder_init(struct cf_decoder *d, bool vnet, uint32_t max_len);
void cf_decoder_free(struct cf_decoder *d);
/* Forget any partial frame and any error: a new connection. */
void cf_decoder_reset(struct cf_decoder *d);
/* Bytes of an unfinished frame held (header included): at the end of a
 * stream, non-zero means the last frame was cut short. */
size_t cf_decoder_pending(const struct cf_decoder *d);

/*
 * Feed n bytes of the stream (writable: frames are handed out in place).
 * Every complete frame goes to fn, in order.  Returns 0, or -1 at the first
 * defect (d->error says what; frames before it were delivered): a zero
 * length, a length past max_len, a vnet header longer than CF_MAX_VNET_HDR
 * or leaving no room for an Ethernet header.
 */
int cf_decode(struct cf_decoder *d, uint8_t *in, size_t n, cf_frame_fn *fn, void *opaque);

/* The wire header for a frame of len bytes; returns its size (4 or 8). */
size_t cf_encode_header(uint8_t out[8], uint32_t len, bool vnet, uint32_t vnet_hdr_len);

#endif
