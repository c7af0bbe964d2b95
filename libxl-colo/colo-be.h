/*
 * colo-be.h - big-endian loads and stores, byte by byte.
 *
 * Our own wire and blobs are little-endian (colo-le.h); what we read from
 * others is not: IP, TCP and UDP header fields, and the 4-byte length that
 * leads each frame on QEMU's chardevs.  Byte by byte, so a field that is
 * not aligned (a TCP option, a frame in a stream buffer) is never loaded
 * as a word.
 */
#ifndef COLO_BE_H
#define COLO_BE_H

#include <stdint.h>

static inline uint16_t colo_get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t colo_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void colo_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void colo_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

#endif
