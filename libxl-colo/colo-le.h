/*
 * colo-le.h - little-endian loads and stores, byte by byte.
 *
 * Everything xen-colo puts on a wire or in a blob is little-endian; doing
 * it a byte at a time is the same on every host and never makes an
 * unaligned access.  Compilers turn these into single moves on x86.
 */
#ifndef COLO_LE_H
#define COLO_LE_H

#include <stdint.h>

static inline void colo_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void colo_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void colo_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t colo_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t colo_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t colo_get64(const uint8_t *p)
{
    return (uint64_t)colo_get32(p) | (uint64_t)colo_get32(p + 4) << 32;
}

#endif
