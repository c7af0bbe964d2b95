/* journal.c - see journal.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo-le.h"
#include "colo-log.h"
#include "disk-io.h"
#include "journal.h"

#define JOURNAL_MAGIC  0x324c4e524a4f4c43ull     /* "CLOJRNL2" */
#define JOURNAL_DONE   0x454e4f444c4e524aull     /* "JRNLDONE" */
#define HDR            32u
#define ENTRY          32u                       /* block, slot, mask, sum */
#define TRAILER        16u
#define BLOCK          SECTOR_MAP_BLOCK_BYTES

static uint64_t max_blocks(uint64_t img_size)
{
    return (img_size + BLOCK - 1) / BLOCK;
}

int journal_map(struct sector_map *m, int fd, uint64_t img_size)
{
    return sector_map_init_file(m, fd, JOURNAL_DATA_OFF, max_blocks(img_size));
}

struct index {
    uint8_t *p;
    size_t n;
};

static int index_entry(void *opaque, uint64_t block, uint64_t slot, uint8_t mask, uint64_t sum)
{
    struct index *ix = opaque;
    uint8_t *e = ix->p + ix->n++ * ENTRY;

    colo_put64(e, block);
    colo_put64(e + 8, slot);
    colo_put64(e + 16, mask);
    colo_put64(e + 24, sum);
    return 0;
}

int journal_write(int fd, struct sector_map *m, uint64_t epoch, bool sync, const char *what)
{
    uint64_t index_off = JOURNAL_DATA_OFF + (uint64_t)m->blocks * BLOCK;  /* slots are dense */
    struct index ix = { .p = malloc((size_t)m->blocks * ENTRY + TRAILER) };
    uint8_t hdr[HDR] = { 0 };
    uint64_t h;
    int rc = -1;

    if (!ix.p)
        goto out;
    colo_put64(hdr, JOURNAL_MAGIC);
    colo_put64(hdr + 8, epoch);
    colo_put64(hdr + 16, m->blocks);
    colo_put64(hdr + 24, index_off);
    sector_map_blocks(m, index_entry, &ix);
    h = sector_map_hash(sector_map_hash(SECTOR_MAP_HASH_SEED, hdr, HDR), ix.p, ix.n * ENTRY);
    colo_put64(ix.p + ix.n * ENTRY, h);
    colo_put64(ix.p + ix.n * ENTRY + 8, JOURNAL_DONE);
    /* Index and trailer first, the header last: a journal that a killed
     * process left without its header is no journal at all. */
    if (disk_pwrite_full(fd, ix.p, ix.n * ENTRY + TRAILER, index_off) < 0 ||
        disk_pwrite_full(fd, hdr, HDR, 0) < 0 || (sync && fdatasync(fd) < 0))
        goto out;
    rc = 0;
out:
    if (rc < 0)
        colo_log_errno("disk %s: cannot write the commit journal", what);
    free(ix.p);
    return rc;
}

int journal_drop(int fd, bool sync, const char *what)
{
    static const uint8_t zero[8];

    if (disk_pwrite_full(fd, zero, sizeof(zero), 0) < 0 || (sync && fdatasync(fd) < 0)) {
        colo_log_errno("disk %s: cannot clear the commit journal", what);
        return -1;
    }
    return 0;
}

int journal_peek(int fd, uint64_t *epoch)
{
    uint8_t hdr[HDR];

    if (disk_pread_full(fd, hdr, HDR, 0) < 0 || colo_get64(hdr) != JOURNAL_MAGIC)
        return 0;
    *epoch = colo_get64(hdr + 8);
    return 1;
}

/* Check a journal whole; its index (malloc'd) on success, NULL if it is
 * incomplete or damaged. */
static uint8_t *journal_check(int fd, uint64_t img_size, uint64_t *nblocks)
{
    uint8_t hdr[HDR], slot[BLOCK], *ix = NULL;
    uint64_t n, index_off;
    struct stat st;

    if (fstat(fd, &st) < 0 || disk_pread_full(fd, hdr, HDR, 0) < 0)
        return NULL;
    n = colo_get64(hdr + 16);
    index_off = colo_get64(hdr + 24);
    if (n > max_blocks(img_size) || index_off != JOURNAL_DATA_OFF + n * BLOCK ||
        (uint64_t)st.st_size < index_off + n * ENTRY + TRAILER)
        return NULL;
    ix = malloc((size_t)n * ENTRY + TRAILER);
    if (!ix || disk_pread_full(fd, ix, (size_t)n * ENTRY + TRAILER, index_off) < 0 ||
        colo_get64(ix + n * ENTRY) !=
            sector_map_hash(sector_map_hash(SECTOR_MAP_HASH_SEED, hdr, HDR), ix, (size_t)n * ENTRY) ||
        colo_get64(ix + n * ENTRY + 8) != JOURNAL_DONE)
        goto bad;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = ix + i * ENTRY;
        uint64_t block = colo_get64(e), s = colo_get64(e + 8), mask = colo_get64(e + 16);

        /* Every sector it names inside the image, every slot's data whole. */
        if (s >= n || mask == 0 || mask > 0xff ||
            block * BLOCK + (64 - (uint64_t)__builtin_clzll(mask)) * COLO_SECTOR > img_size ||
            disk_pread_full(fd, slot, BLOCK, JOURNAL_DATA_OFF + s * BLOCK) < 0 ||
            sector_map_hash(SECTOR_MAP_HASH_SEED, slot, BLOCK) != colo_get64(e + 24))
            goto bad;
    }
    *nblocks = n;
    return ix;
bad:
    free(ix);
    return NULL;
}

int journal_replay(int fd, int img_fd, uint64_t img_size, bool sync, const char *what)
{
    uint8_t slot[BLOCK], *ix;
    uint64_t n = 0, epoch;

    if (!journal_peek(fd, &epoch))
        return 0;
    if (!(ix = journal_check(fd, img_size, &n))) {
        colo_warn("disk %s: incomplete or damaged commit journal ignored", what);
        return journal_drop(fd, sync, what);
    }
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = ix + i * ENTRY;
        uint64_t block = colo_get64(e), mask = colo_get64(e + 16);

        if (disk_pread_full(fd, slot, BLOCK, JOURNAL_DATA_OFF + colo_get64(e + 8) * BLOCK) < 0)
            goto fail;
        for (unsigned s = 0; s < SECTOR_MAP_BLOCK; s++)
            if ((mask & (1u << s)) &&
                disk_pwrite_full(img_fd, slot + s * COLO_SECTOR, COLO_SECTOR,
                                 block * BLOCK + s * COLO_SECTOR) < 0)
                goto fail;
    }
    free(ix);
    if (fdatasync(img_fd) < 0)
        return -1;
    colo_info("disk %s: replayed the commit of epoch %" PRIu64 " (%" PRIu64 " blocks) after a crash",
              what, epoch, n);
    return journal_drop(fd, sync, what) < 0 ? -1 : 1;
fail:
    colo_log_errno("disk %s: journal replay failed", what);
    free(ix);
    return -1;
}
