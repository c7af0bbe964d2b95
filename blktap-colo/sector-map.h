/*
 * sector-map.h - a map from 512-byte sector numbers to sector contents.
 *
 * Both of the secondary's write buffers are sector maps: the speculation
 * buffer (the PVM's writes of the open epoch, waiting for the checkpoint to
 * commit) and the SVM overlay (the SVM's own writes, thrown away at each
 * commit).  A write of a sector that is already there replaces it, so a map
 * never holds more than one version of a sector.
 *
 * Contents live in memory up to a configured limit and spill to an
 * unlinked file beyond it, so a burst of writes in one epoch costs disk
 * space, never a refused write.
 */
#ifndef SECTOR_MAP_H
#define SECTOR_MAP_H

#include <stddef.h>
#include <stdint.h>

#define COLO_SECTOR 512u

struct sector_map {
    uint64_t *keys;         /* open addressing; UINT64_MAX = empty */
    uint64_t *slots;        /* where each key's data is */
    size_t cap, count;
    uint8_t *mem;           /* slots [0, mem_slots) */
    uint64_t mem_slots, mem_limit_slots;
    int spill_fd;           /* slots [mem_limit_slots, ...) at (slot - limit) * 512 */
    char spill_dir[256];
};

/* mem_limit: bytes of contents kept in memory; spill_dir: where the spill
 * file goes (created unlinked on first need). */
int  sector_map_init(struct sector_map *m, uint64_t mem_limit, const char *spill_dir);
void sector_map_free(struct sector_map *m);
/* Forget every sector (memory and spill space are kept for reuse). */
void sector_map_clear(struct sector_map *m);

/* Store n consecutive sectors from first; -1 on I/O or memory failure. */
int  sector_map_put(struct sector_map *m, uint64_t first, uint32_t n, const uint8_t *data);
/* 1 and the contents if the sector is there, 0 if not, -1 on I/O error. */
int  sector_map_get(struct sector_map *m, uint64_t sector, uint8_t out[COLO_SECTOR]);

/* The sectors in ascending order (malloc'd array of m->count), or NULL. */
uint64_t *sector_map_sorted(const struct sector_map *m);

static inline uint64_t sector_map_bytes(const struct sector_map *m)
{
    return (uint64_t)m->count * COLO_SECTOR;
}

#endif
