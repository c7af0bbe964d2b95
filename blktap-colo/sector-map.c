/* sector-map.c - see sector-map.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo-le.h"
#include "colo-log.h"
#include "disk-io.h"
#include "sector-map.h"

#define EMPTY     UINT64_MAX
#define BLK       SECTOR_MAP_BLOCK
#define BLK_BYTES SECTOR_MAP_BLOCK_BYTES
#define RUN_MAX   2048u         /* sectors handed to a run callback at once */

int sector_map_init(struct sector_map *m, uint64_t mem_limit, const char *spill_dir)
{
    memset(m, 0, sizeof(*m));
    m->spill_fd = m->file_fd = -1;
    m->mem_limit_slots = mem_limit / BLK_BYTES;
    snprintf(m->spill_dir, sizeof(m->spill_dir), "%s", spill_dir ? spill_dir : "/var/tmp");
    m->cap = 1024;
    m->keys = malloc(m->cap * sizeof(*m->keys));
    m->slots = malloc(m->cap * sizeof(*m->slots));
    m->masks = malloc(m->cap);
    if (!m->keys || !m->slots || !m->masks)
        return -1;
    memset(m->keys, 0xff, m->cap * sizeof(*m->keys));
    return 0;
}

int sector_map_init_file(struct sector_map *m, int fd, uint64_t data_off, uint64_t max_blocks)
{
    struct stat st;

    if (sector_map_init(m, max_blocks * BLK_BYTES, NULL) < 0)
        return -1;
    m->sums = malloc(m->cap * sizeof(*m->sums));
    if (!m->sums)
        return -1;
    m->file_fd = fd;
    m->data_off = data_off;
    m->map_len = (size_t)(data_off + max_blocks * BLK_BYTES);
    /* The whole possible extent is mapped at once (address space only);
     * the file itself grows as slots are handed out (slot_alloc). */
    m->map = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m->map == MAP_FAILED) {
        m->map = NULL;
        colo_log_errno("disk: cannot map the journal");
        return -1;
    }
    m->mem = m->map + data_off;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > data_off)
        m->mem_slots = ((uint64_t)st.st_size - data_off) / BLK_BYTES;
    return 0;
}

void sector_map_free(struct sector_map *m)
{
    free(m->keys);
    free(m->slots);
    free(m->masks);
    free(m->sums);
    if (m->map)
        munmap(m->map, m->map_len);
    else
        free(m->mem);
    if (m->spill_fd >= 0)
        close(m->spill_fd);
    memset(m, 0, sizeof(*m));
    m->spill_fd = m->file_fd = -1;
}

uint64_t sector_map_hash(uint64_t h, const uint8_t *p, size_t n)
{
    const uint64_t prime = 0x100000001b3ull;
    /* Four independent lanes over 32-byte strides keep four multiplies in
     * flight instead of one chain: the hash is on the write path (every
     * block the PVM writes).  Each step is a bijection of its lane, so any
     * one changed word changes the result. */
    uint64_t l0 = h, l1 = h ^ 0x9e3779b97f4a7c15ull, l2 = h ^ 0xbf58476d1ce4e5b9ull,
             l3 = h ^ 0x94d049bb133111ebull;
    size_t i = 0;

    for (; i + 32 <= n; i += 32) {
        l0 = (l0 ^ colo_get64(p + i)) * prime;
        l1 = (l1 ^ colo_get64(p + i + 8)) * prime;
        l2 = (l2 ^ colo_get64(p + i + 16)) * prime;
        l3 = (l3 ^ colo_get64(p + i + 24)) * prime;
    }
    h = (((l0 ^ l1) * prime ^ l2) * prime ^ l3) * prime;
    for (; i + 8 <= n; i += 8)
        h = (h ^ colo_get64(p + i)) * prime;
    for (; i < n; i++)
        h = (h ^ p[i]) * prime;
    return h;
}

void sector_map_clear(struct sector_map *m)
{
    memset(m->keys, 0xff, m->cap * sizeof(*m->keys));
    m->count = 0;
    m->blocks = 0;
    /* Slots are handed out 0, 1, 2, ... again; the spill file's blocks are
     * simply overwritten, no need to truncate it. */
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
    size_t ncap = m->cap * 2, ocap = m->cap;
    uint64_t *ok = m->keys, *os = m->slots, *osum = m->sums;
    uint8_t *om = m->masks;

    m->keys = malloc(ncap * sizeof(*m->keys));
    m->slots = malloc(ncap * sizeof(*m->slots));
    m->masks = malloc(ncap);
    m->sums = osum ? malloc(ncap * sizeof(*m->sums)) : NULL;
    if (!m->keys || !m->slots || !m->masks || (osum && !m->sums)) {
        free(m->keys);
        free(m->slots);
        free(m->masks);
        free(osum ? m->sums : NULL);
        m->keys = ok;
        m->slots = os;
        m->masks = om;
        m->sums = osum;
        return -1;
    }
    memset(m->keys, 0xff, ncap * sizeof(*m->keys));
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (ok[i] != EMPTY) {
            size_t j = find(m, ok[i]);

            m->keys[j] = ok[i];
            m->slots[j] = os[i];
            m->masks[j] = om[i];
            if (osum)
                m->sums[j] = osum[i];
        }
    free(ok);
    free(os);
    free(om);
    free(osum);
    return 0;
}

static int spill_open(struct sector_map *m)
{
    if (m->spill_fd >= 0)
        return 0;
    m->spill_fd = open(m->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (m->spill_fd < 0) {
        colo_log_errno("disk: cannot create a spill file in %s", m->spill_dir);
        return -1;
    }
    return 0;
}

/* Bytes [at, at + len) of a slot: written from / read into p. */
static int slot_io(struct sector_map *m, uint64_t slot, size_t at, size_t len, uint8_t *p, bool write)
{
    off_t off;
    ssize_t n;

    if (slot < m->mem_limit_slots) {
        uint8_t *s = m->mem + slot * BLK_BYTES + at;

        if (write)
            memcpy(s, p, len);
        else
            memcpy(p, s, len);
        return 0;
    }
    if (spill_open(m) < 0)
        return -1;
    off = (off_t)((slot - m->mem_limit_slots) * BLK_BYTES + at);
    n = write ? pwrite(m->spill_fd, p, len, off) : pread(m->spill_fd, p, len, off);
    if (n != (ssize_t)len) {
        colo_log_errno("disk: spill file %s failed", write ? "write" : "read");
        return -1;
    }
    return 0;
}

/* A new slot: memory while under the limit, spill file beyond. */
static int slot_alloc(struct sector_map *m, uint64_t *slot)
{
    uint64_t s = m->blocks;     /* slots are dense: one per stored block */

    if (m->map && s >= m->mem_slots) {
        /* Grow the mapped file by doubling, up to the mapping.  The space is
         * allocated, not just the size set: a store into a mapped hole on a
         * full file system would kill the process (SIGBUS) instead of
         * failing this write cleanly here. */
        uint64_t want = m->mem_slots ? m->mem_slots * 2 : 256;
        off_t len;
        int err;

        if (want > m->mem_limit_slots)
            want = m->mem_limit_slots;
        len = (off_t)(m->data_off + want * BLK_BYTES);
        err = want <= s ? ENOSPC : posix_fallocate(m->file_fd, 0, len);
        if (err == EOPNOTSUPP || err == EINVAL)     /* no fallocate here: size only */
            err = ftruncate(m->file_fd, len) < 0 ? errno : 0;
        if (err) {
            errno = err;
            colo_log_errno("disk: cannot grow the journal to %" PRIu64 " blocks", want);
            return -1;
        }
        m->mem_slots = want;
    } else if (s < m->mem_limit_slots && s >= m->mem_slots) {
        /* Grow the memory arena by doubling, up to the limit. */
        uint64_t want = m->mem_slots ? m->mem_slots * 2 : 32;
        uint8_t *n;

        if (want > m->mem_limit_slots)
            want = m->mem_limit_slots;
        if (want <= s)
            want = s + 1;
        n = realloc(m->mem, want * BLK_BYTES);
        if (!n)
            return -1;
        m->mem = n;
        m->mem_slots = want;
    }
    *slot = s;
    return 0;
}

/* Bits [from, to) of a block's mask. */
static uint8_t bits(unsigned from, unsigned to)
{
    return (uint8_t)(((1u << to) - 1) & ~((1u << from) - 1));
}

/* The next run [*s, *e) of present sectors at or after *s and before `to`:
 * false if there is none. */
static bool next_run(uint8_t mask, unsigned to, unsigned *s, unsigned *e)
{
    while (*s < to && !(mask & (1u << *s)))
        (*s)++;
    if (*s >= to)
        return false;
    for (*e = *s; *e < to && (mask & (1u << *e)); (*e)++)
        ;
    return true;
}

/*
 * File-backed maps take large writes with pwrite, not with stores into the
 * shared mapping (which serves reads): a store faults on every page that
 * writeback has cleaned or that was never touched, and ext4 then prepares
 * (and for a fresh extent zeroes) the page before the copy - measured as
 * the largest cost of the secondary's receiving thread in a sequential
 * load.  Whole blocks in consecutive slots - a large write into fresh
 * blocks - go out in one pwrite.
 */
struct file_run {
    uint64_t slot;          /* first slot */
    size_t n;               /* whole blocks from data */
    const uint8_t *data;
};

static int file_write(struct sector_map *m, uint64_t slot, size_t at, const uint8_t *p, size_t len)
{
    if (disk_pwrite_full(m->file_fd, p, len, m->data_off + slot * BLK_BYTES + at) < 0) {
        colo_log_errno("disk: cannot write the journal");
        return -1;
    }
    return 0;
}

static int file_run_flush(struct sector_map *m, struct file_run *r)
{
    int rc = r->n ? file_write(m, r->slot, 0, r->data, r->n * BLK_BYTES) : 0;

    r->n = 0;
    return rc;
}

/* Bytes [from, to) sectors of block table entry i, from data. */
static int put_file(struct sector_map *m, struct file_run *r, size_t i, unsigned from, unsigned to,
                    const uint8_t *data)
{
    uint64_t slot = m->slots[i];

    if (from == 0 && to == BLK) {
        if (r->n && slot != r->slot + r->n && file_run_flush(m, r) < 0)
            return -1;
        if (!r->n) {
            r->slot = slot;
            r->data = data;
        }
        r->n++;
        m->sums[i] = sector_map_hash(SECTOR_MAP_HASH_SEED, data, BLK_BYTES);
        return 0;
    }
    if (file_run_flush(m, r) < 0 ||
        file_write(m, slot, from * COLO_SECTOR, data, (size_t)(to - from) * COLO_SECTOR) < 0)
        return -1;
    m->sums[i] = sector_map_hash(SECTOR_MAP_HASH_SEED, m->mem + slot * BLK_BYTES, BLK_BYTES);
    return 0;
}

/*
 * Below this many sectors a write is copied into the mapping as before:
 * small random writes land on journal pages that earlier epochs left
 * resident, where a store costs no fault and a system call per 4 KiB
 * may cost more: random 4 KiB writes gave a median of 0.55 of qemu-nbd
 * with pwrite for every size, 0.81 with stores (runs on different hours
 * of the shared machine, not a clean comparison: docs/performance.md).
 */
#define PWRITE_MIN_SECTORS 128  /* 64 KiB */

int sector_map_put(struct sector_map *m, uint64_t first, uint32_t n, const uint8_t *data)
{
    struct file_run run = { 0 };
    const bool by_file = m->map && n >= PWRITE_MIN_SECTORS;

    while (n) {
        uint64_t b = first / BLK;
        unsigned from = (unsigned)(first % BLK), to = n < BLK - from ? from + n : BLK;
        uint8_t add = bits(from, to);
        size_t i;

        if ((m->blocks + 1) * 2 > m->cap && grow(m) < 0)
            return -1;
        i = find(m, b);
        if (m->keys[i] == EMPTY) {
            if (slot_alloc(m, &m->slots[i]) < 0)
                return -1;
            m->keys[i] = b;
            m->masks[i] = 0;
            m->blocks++;
        }
        if (by_file) {
            if (put_file(m, &run, i, from, to, data) < 0)
                return -1;
        } else {
            if (slot_io(m, m->slots[i], from * COLO_SECTOR, (to - from) * COLO_SECTOR, (uint8_t *)data, true) < 0)
                return -1;
            if (m->sums)    /* while the block is hot in the cache */
                m->sums[i] = sector_map_hash(SECTOR_MAP_HASH_SEED, m->mem + m->slots[i] * BLK_BYTES, BLK_BYTES);
        }
        m->count += (uint64_t)__builtin_popcount(add & ~m->masks[i]);
        m->masks[i] |= add;
        data += (size_t)(to - from) * COLO_SECTOR;
        first += to - from;
        n -= to - from;
    }
    return file_run_flush(m, &run);
}

int sector_map_get(struct sector_map *m, uint64_t sector, uint8_t out[COLO_SECTOR])
{
    size_t i = find(m, sector / BLK);
    unsigned s = (unsigned)(sector % BLK);

    if (m->keys[i] == EMPTY || !(m->masks[i] & (1u << s)))
        return 0;
    return slot_io(m, m->slots[i], s * COLO_SECTOR, COLO_SECTOR, out, false) < 0 ? -1 : 1;
}

int sector_map_read(struct sector_map *m, uint64_t first, uint32_t n, uint8_t *out)
{
    while (n && m->count) {
        uint64_t b = first / BLK;
        unsigned from = (unsigned)(first % BLK), to = n < BLK - from ? from + n : BLK;
        size_t i = find(m, b);

        if (m->keys[i] != EMPTY) {
            for (unsigned s = from, e; next_run(m->masks[i], to, &s, &e); s = e)
                if (slot_io(m, m->slots[i], s * COLO_SECTOR, (e - s) * COLO_SECTOR,
                            out + (size_t)(s - from) * COLO_SECTOR, false) < 0)
                    return -1;
        }
        out += (size_t)(to - from) * COLO_SECTOR;
        first += to - from;
        n -= to - from;
    }
    return 0;
}

int sector_map_blocks(const struct sector_map *m, sector_map_block_fn fn, void *opaque)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != EMPTY) {
            int rc = fn(opaque, m->keys[i], m->slots[i], m->masks[i], m->sums ? m->sums[i] : 0);

            if (rc < 0)
                return rc;
        }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Table indexes of the stored blocks in ascending block order, or NULL. */
static size_t *sorted_blocks(const struct sector_map *m)
{
    uint64_t *keyed = malloc((m->blocks ? m->blocks : 1) * sizeof(*keyed));
    size_t *idx = malloc((m->blocks ? m->blocks : 1) * sizeof(*idx));
    size_t n = 0;

    if (!keyed || !idx) {
        free(keyed);
        free(idx);
        return NULL;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != EMPTY)
            keyed[n++] = m->keys[i];
    qsort(keyed, n, sizeof(*keyed), cmp_u64);
    for (size_t k = 0; k < n; k++)
        idx[k] = find(m, keyed[k]);
    free(keyed);
    return idx;
}

uint64_t *sector_map_sorted(const struct sector_map *m)
{
    size_t *idx = sorted_blocks(m);
    uint64_t *out = malloc((m->count ? m->count : 1) * sizeof(*out));
    size_t n = 0;

    if (!idx || !out) {
        free(idx);
        free(out);
        return NULL;
    }
    for (size_t k = 0; k < m->blocks; k++)
        for (unsigned s = 0; s < BLK; s++)
            if (m->masks[idx[k]] & (1u << s))
                out[n++] = m->keys[idx[k]] * BLK + s;
    free(idx);
    return out;
}

/* A run of sectors for sector_map_runs(): its contents are either where
 * they lie in the memory arena (direct, no copy) or gathered into buf. */
struct run {
    uint64_t first;
    uint32_t n;
    const uint8_t *direct;
    uint8_t *buf;
};

static int run_flush(struct run *r, sector_map_run_fn fn, void *opaque)
{
    int rc = r->n ? fn(opaque, r->first, r->n, r->direct ? r->direct : r->buf) : 0;

    r->n = 0;
    r->direct = NULL;
    return rc;
}

int sector_map_runs(struct sector_map *m, sector_map_run_fn fn, void *opaque)
{
    size_t *idx = sorted_blocks(m);
    struct run r = { .buf = malloc((size_t)RUN_MAX * COLO_SECTOR) };
    int rc = -1;

    if (!idx || !r.buf)
        goto out;
    for (size_t k = 0; k < m->blocks; k++) {
        size_t i = idx[k];
        bool in_mem = m->slots[i] < m->mem_limit_slots;

        for (unsigned s = 0, e; next_run(m->masks[i], BLK, &s, &e); s = e) {
            uint64_t sector = m->keys[i] * BLK + s;
            const uint8_t *p = in_mem ? m->mem + m->slots[i] * BLK_BYTES + s * COLO_SECTOR : NULL;

            /* Sectors [s, e) of block keys[i]: extend the run if they follow
             * it on disk and (for a direct run) in memory, else start anew. */
            if (r.n && (r.first + r.n != sector || r.n + (e - s) > RUN_MAX ||
                        (r.direct && p != r.direct + (size_t)r.n * COLO_SECTOR) || (!r.direct && p)) &&
                (rc = run_flush(&r, fn, opaque)) < 0)
                goto out;
            if (!r.n) {
                r.first = sector;
                r.direct = p;
            }
            if (!r.direct && slot_io(m, m->slots[i], s * COLO_SECTOR, (e - s) * COLO_SECTOR,
                                     r.buf + (size_t)r.n * COLO_SECTOR, false) < 0) {
                rc = -1;
                goto out;
            }
            r.n += e - s;
        }
    }
    rc = run_flush(&r, fn, opaque);
out:
    free(idx);
    free(r.buf);
    return rc;
}
