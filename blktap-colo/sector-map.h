/*
 * sector-map.h - a map from 512-byte sector numbers to sector contents.
 *
 * Both of the secondary's write buffers are sector maps: the speculation
 * buffer (the PVM's writes of the open epoch, waiting for the checkpoint to
 * commit) and the SVM overlay (the SVM's own writes, thrown away at each
 * commit).  A write of a sector that is already there replaces it, so a map
 * never holds more than one version of a sector.
 *
 * Sectors are kept in 4 KiB blocks of 8 with a mask of which are present:
 * a write costs one index operation and one copy per block it touches, not
 * per sector (a 1 MiB write is 256 of them, not 2048), while a lone 512-byte
 * write still stores only its own sector's contents in a block.
 *
 * Contents live in memory up to a configured limit and spill to an
 * unlinked file beyond it, so a burst of writes in one epoch costs disk
 * space, never a refused write.
 *
 * Or (sector_map_init_file) every block lives in a shared mapping of a
 * given file, at data_off + slot * 4 KiB, and carries a checksum of its
 * 4 KiB computed as it is written: the speculation buffer is kept that way
 * in its commit journal, so a commit need not copy it there (colo-disk.c).
 */
#ifndef SECTOR_MAP_H
#define SECTOR_MAP_H

#include <stddef.h>
#include <stdint.h>

#define COLO_SECTOR       512u
#define SECTOR_MAP_BLOCK  8u                    /* sectors per block */
#define SECTOR_MAP_BLOCK_BYTES (SECTOR_MAP_BLOCK * COLO_SECTOR)

struct sector_map {
    uint64_t *keys;         /* block numbers; open addressing, UINT64_MAX = empty */
    uint64_t *slots;        /* where each block's data is */
    uint8_t *masks;         /* which of its 8 sectors are present */
    size_t cap, blocks;
    uint64_t count;         /* sectors present */
    uint8_t *mem;           /* slots [0, mem_slots), 4 KiB each */
    uint64_t mem_slots, mem_limit_slots;
    int spill_fd;           /* slots [mem_limit_slots, ...) at (slot - limit) * 4 KiB */
    char spill_dir[256];
    /* file-backed maps only (file_fd >= 0): */
    int file_fd;            /* mem = map + data_off, file grown as slots are used */
    uint8_t *map;
    size_t map_len;
    uint64_t data_off;
    uint64_t *sums;         /* per table entry: sector_map_hash of its slot's 4 KiB */
};

/* mem_limit: bytes of contents kept in memory; spill_dir: where the spill
 * file goes (created unlinked on first need). */
int  sector_map_init(struct sector_map *m, uint64_t mem_limit, const char *spill_dir);
/* Blocks at data_off + slot * 4 KiB of fd (kept open by the caller), at
 * most max_blocks of them; logs and returns -1 if fd cannot be mapped. */
int  sector_map_init_file(struct sector_map *m, int fd, uint64_t data_off, uint64_t max_blocks);
void sector_map_free(struct sector_map *m);
/* Forget every sector (memory and spill space are kept for reuse). */
void sector_map_clear(struct sector_map *m);

/* Store n consecutive sectors from first; -1 on I/O or memory failure. */
int  sector_map_put(struct sector_map *m, uint64_t first, uint32_t n, const uint8_t *data);
/* 1 and the contents if the sector is there, 0 if not, -1 on I/O error. */
int  sector_map_get(struct sector_map *m, uint64_t sector, uint8_t out[COLO_SECTOR]);
/* Copy the sectors of [first, first + n) that are in the map over the
 * corresponding parts of out (the rest of out is left alone): 0 / -1. */
int  sector_map_read(struct sector_map *m, uint64_t first, uint32_t n, uint8_t *out);

/* The sectors in ascending order (malloc'd array of m->count), or NULL. */
uint64_t *sector_map_sorted(const struct sector_map *m);

/*
 * Every run of consecutive sectors in the map, in ascending order, handed
 * to fn with its contents, in pieces of at most 1 MiB.  A piece held in
 * memory in one stretch is handed over in place, without a copy.
 * Stops at the first fn returning < 0 and returns that; 0 when done.
 */
typedef int (*sector_map_run_fn)(void *opaque, uint64_t first, uint32_t n, const uint8_t *data);
int  sector_map_runs(struct sector_map *m, sector_map_run_fn fn, void *opaque);

/* Each stored block: its number, slot, mask of present sectors and (for
 * file-backed maps) checksum, in no particular order. */
typedef int (*sector_map_block_fn)(void *opaque, uint64_t block, uint64_t slot, uint8_t mask, uint64_t sum);
int  sector_map_blocks(const struct sector_map *m, sector_map_block_fn fn, void *opaque);

/* The checksum used for blocks and journals: FNV-1a steps over
 * little-endian 64-bit words, in four interleaved lanes, folded.  Seed with
 * SECTOR_MAP_HASH_SEED; chain by passing a result as the next h. */
#define SECTOR_MAP_HASH_SEED 0xcbf29ce484222325ull
uint64_t sector_map_hash(uint64_t h, const uint8_t *p, size_t n);

static inline uint64_t sector_map_bytes(const struct sector_map *m)
{
    return m->count * COLO_SECTOR;
}

#endif
