/* sector-map.c - see sector-map.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo-log.h"
#include "sector-map.h"

#define EMPTY UINT64_MAX

int sector_map_init(struct sector_map *m, uint64_t mem_limit, const char *spill_dir)
{
    memset(m, 0, sizeof(*m));
    m->spill_fd = -1;
    m->mem_limit_slots = mem_limit / COLO_SECTOR;
    snprintf(m->spill_dir, sizeof(m->spill_dir), "%s", spill_dir ? spill_dir : "/var/tmp");
    m->cap = 1024;
    m->keys = malloc(m->cap * sizeof(*m->keys));
    m->slots = malloc(m->cap * sizeof(*m->slots));
    if (!m->keys || !m->slots)
        return -1;
    memset(m->keys, 0xff, m->cap * sizeof(*m->keys));
    return 0;
}

void sector_map_free(struct sector_map *m)
{
    free(m->keys);
    free(m->slots);
    free(m->mem);
    if (m->spill_fd >= 0)
        close(m->spill_fd);
    memset(m, 0, sizeof(*m));
    m->spill_fd = -1;
}

void sector_map_clear(struct sector_map *m)
{
    memset(m->keys, 0xff, m->cap * sizeof(*m->keys));
    m->count = 0;
    /* Slots are handed out 0, 1, 2, ... again; the spill file's blocks are
     * simply overwritten, no need to truncate it. */
    m->mem_slots = 0;
}

static size_t hash(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

/* Index of key, or of the empty cell where it would go. */
static size_t find(const struct sector_map *m, uint64_t key)
{
    size_t i = hash(key, m->cap);

    while (m->keys[i] != EMPTY && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int grow(struct sector_map *m)
{
    size_t ncap = m->cap * 2;
    uint64_t *ok = m->keys, *os = m->slots;
    size_t ocap = m->cap;

    m->keys = malloc(ncap * sizeof(*m->keys));
    m->slots = malloc(ncap * sizeof(*m->slots));
    if (!m->keys || !m->slots) {
        free(m->keys);
        free(m->slots);
        m->keys = ok;
        m->slots = os;
        return -1;
    }
    memset(m->keys, 0xff, ncap * sizeof(*m->keys));
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (ok[i] != EMPTY) {
            size_t j = find(m, ok[i]);

            m->keys[j] = ok[i];
            m->slots[j] = os[i];
        }
    free(ok);
    free(os);
    return 0;
}

/* Write one sector's contents to a slot. */
static int slot_write(struct sector_map *m, uint64_t slot, const uint8_t *data)
{
    if (slot < m->mem_limit_slots) {
        memcpy(m->mem + slot * COLO_SECTOR, data, COLO_SECTOR);
        return 0;
    }
    if (m->spill_fd < 0) {
        m->spill_fd = open(m->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (m->spill_fd < 0) {
            colo_log_errno("disk: cannot create a spill file in %s", m->spill_dir);
            return -1;
        }
    }
    if (pwrite(m->spill_fd, data, COLO_SECTOR, (off_t)((slot - m->mem_limit_slots) * COLO_SECTOR)) !=
        COLO_SECTOR) {
        colo_log_errno("disk: spill file write failed");
        return -1;
    }
    return 0;
}

/* A new slot: memory while under the limit, spill file beyond. */
static int slot_alloc(struct sector_map *m, uint64_t *slot)
{
    uint64_t s = m->count;      /* slots are dense: one per stored sector */

    if (s < m->mem_limit_slots && s >= m->mem_slots) {
        /* Grow the memory arena by doubling, up to the limit. */
        uint64_t want = m->mem_slots ? m->mem_slots * 2 : 256;
        uint8_t *n;

        if (want > m->mem_limit_slots)
            want = m->mem_limit_slots;
        if (want <= s)
            want = s + 1;
        n = realloc(m->mem, want * COLO_SECTOR);
        if (!n)
            return -1;
        m->mem = n;
        m->mem_slots = want;
    }
    *slot = s;
    return 0;
}

int sector_map_put(struct sector_map *m, uint64_t first, uint32_t n, const uint8_t *data)
{
    for (uint32_t k = 0; k < n; k++) {
        size_t i;
        uint64_t slot;

        if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
            return -1;
        i = find(m, first + k);
        if (m->keys[i] == EMPTY) {
            if (slot_alloc(m, &slot) < 0)
                return -1;
            m->keys[i] = first + k;
            m->slots[i] = slot;
            m->count++;
        }
        if (slot_write(m, m->slots[i], data + (size_t)k * COLO_SECTOR) < 0)
            return -1;
    }
    return 0;
}

int sector_map_get(struct sector_map *m, uint64_t sector, uint8_t out[COLO_SECTOR])
{
    size_t i = find(m, sector);
    uint64_t slot;

    if (m->keys[i] == EMPTY)
        return 0;
    slot = m->slots[i];
    if (slot < m->mem_limit_slots) {
        memcpy(out, m->mem + slot * COLO_SECTOR, COLO_SECTOR);
        return 1;
    }
    if (pread(m->spill_fd, out, COLO_SECTOR, (off_t)((slot - m->mem_limit_slots) * COLO_SECTOR)) !=
        COLO_SECTOR) {
        colo_log_errno("disk: spill file read failed");
        return -1;
    }
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

uint64_t *sector_map_sorted(const struct sector_map *m)
{
    uint64_t *out = malloc((m->count ? m->count : 1) * sizeof(*out));
    size_t n = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != EMPTY)
            out[n++] = m->keys[i];
    qsort(out, n, sizeof(*out), cmp_u64);
    return out;
}
