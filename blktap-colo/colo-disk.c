/* colo-disk.c - see colo-disk.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo-disk.h"
#include "colo-le.h"
#include "colo-log.h"

#define JOURNAL_MAGIC  0x4c4e524a4f4c4f43ull     /* "COLOJRNL" */
#define JOURNAL_DONE   0x454e4f444c4e524aull     /* "JRNLDONE" */
#define JOURNAL_HDR    32u

/* The speculation buffer of an epoch: the open one and the next (a write
 * of epoch e+1 may arrive before the engine's commit of e does). */
static struct sector_map *spec_of(struct colo_disk *d, uint64_t epoch)
{
    return epoch % 2 ? &d->spec_odd : &d->spec;
}

int colo_disk_check_range(const struct colo_disk *d, uint64_t off, uint64_t len, const char *what)
{
    if (off % COLO_SECTOR || len % COLO_SECTOR) {
        colo_err("disk %s: %s at %" PRIu64 "+%" PRIu64 " is not 512-byte aligned", d->path, what, off, len);
        errno = EINVAL;
        return -1;
    }
    if (off > d->size || len > d->size - off) {
        colo_err("disk %s: %s at %" PRIu64 "+%" PRIu64 " is beyond the end (%" PRIu64 " bytes)",
                 d->path, what, off, len, d->size);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static int pwrite_full(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int pread_full(int fd, uint8_t *p, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;    /* short file */
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/*
 * The journal's checksum: FNV-1a over little-endian 64-bit words (every
 * piece of a journal is a multiple of 8 bytes; a tail is taken bytewise).
 * A word at a time is ~8x faster than the byte-wise original, and a commit
 * hashes every byte of its epoch.
 */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        h = (h ^ colo_get64(p + i)) * 0x100000001b3ull;
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* One run of the map to the base image, at its place. */
static int apply_run(void *opaque, uint64_t first, uint32_t n, const uint8_t *data)
{
    struct colo_disk *d = opaque;

    if (pwrite_full(d->fd, data, (size_t)n * COLO_SECTOR, first * COLO_SECTOR) < 0) {
        colo_log_errno("disk %s: write to the base image failed", d->path);
        return -1;
    }
    return 0;
}

/* Write every sector of m into the base image, run by run. */
static int apply_map(struct colo_disk *d, struct sector_map *m)
{
    return sector_map_runs(m, apply_run, d);
}

/*
 * The journal: header (magic, epoch, count, 0), count sector numbers,
 * count sectors of data, then a trailer (FNV-1a of all before, "JRNLDONE").
 * It is complete only if the trailer is there and matches; the file may be
 * longer (see journal_drop).
 */
/* Sequential writer into the journal through a 1 MiB staging buffer, so a
 * commit costs a few large writes rather than two per sector. */
struct jw {
    struct colo_disk *d;
    uint8_t *buf;
    size_t used;
    uint64_t off, hash;
};

#define JW_CAP    (1u << 20)
#define JW_DIRECT (64u << 10)   /* pieces this large skip the staging buffer */

static int jw_flush(struct jw *w)
{
    if (w->used && pwrite_full(w->d->jfd, w->buf, w->used, w->off) < 0)
        return -1;
    w->off += w->used;
    w->used = 0;
    return 0;
}

static int jw_put(struct jw *w, const uint8_t *p, size_t n, bool hashed)
{
    if (hashed)
        w->hash = fnv1a(w->hash, p, n);
    if (n >= JW_DIRECT) {
        /* A large piece goes straight to the file, after what is buffered. */
        if (jw_flush(w) < 0 || pwrite_full(w->d->jfd, p, n, w->off) < 0)
            return -1;
        w->off += n;
        return 0;
    }
    if (w->used + n > JW_CAP && jw_flush(w) < 0)
        return -1;
    memcpy(w->buf + w->used, p, n);
    w->used += n;
    return 0;
}

static int jw_run(void *opaque, uint64_t first, uint32_t n, const uint8_t *data)
{
    (void)first;
    return jw_put(opaque, data, (size_t)n * COLO_SECTOR, true);
}

static int journal_write(struct colo_disk *d, struct sector_map *m, uint64_t epoch)
{
    uint64_t *secs = sector_map_sorted(m);
    uint8_t hdr[JOURNAL_HDR] = { 0 }, trailer[16];
    struct jw w = { .d = d, .buf = malloc(JW_CAP), .hash = 0xcbf29ce484222325ull };
    int rc = -1;

    if (!secs || !w.buf)
        goto out;
    colo_put64(hdr, JOURNAL_MAGIC);
    colo_put64(hdr + 8, epoch);
    colo_put64(hdr + 16, m->count);
    if (jw_put(&w, hdr, sizeof(hdr), true) < 0)
        goto out;
    for (size_t i = 0; i < m->count; i++) {
        uint8_t idx[8];

        colo_put64(idx, secs[i]);
        if (jw_put(&w, idx, 8, true) < 0)
            goto out;
    }
    /* The data in the same ascending sector order as the index. */
    if (sector_map_runs(m, jw_run, &w) < 0)
        goto out;
    colo_put64(trailer, w.hash);
    colo_put64(trailer + 8, JOURNAL_DONE);
    if (jw_put(&w, trailer, sizeof(trailer), false) < 0 || jw_flush(&w) < 0 ||
        (d->sync && fdatasync(d->jfd) < 0))
        goto out;
    rc = 0;
out:
    if (rc < 0)
        colo_log_errno("disk %s: cannot write the commit journal", d->path);
    free(w.buf);
    free(secs);
    return rc;
}

/*
 * Dropping the journal clears its magic rather than truncating it: the
 * next commit overwrites the file in place, so the file system neither
 * frees nor allocates its blocks at every checkpoint.  Whatever follows an
 * epoch's trailer (left from a longer one) is never read, and a stale
 * trailer cannot pass the checksum of a new header.
 */
static int journal_drop(struct colo_disk *d)
{
    static const uint8_t zero[8];

    if (pwrite_full(d->jfd, zero, sizeof(zero), 0) < 0 || (d->sync && fdatasync(d->jfd) < 0)) {
        colo_log_errno("disk %s: cannot clear the commit journal", d->path);
        return -1;
    }
    return 0;
}

/* At open: replay a complete journal (a commit that crashed half-way). */
static int journal_replay(struct colo_disk *d)
{
    uint8_t hdr[JOURNAL_HDR], trailer[16], idx[8], sec[COLO_SECTOR];
    uint64_t count, epoch, h = 0xcbf29ce484222325ull, ioff, doff;
    struct stat st;

    if (fstat(d->jfd, &st) < 0 || st.st_size < (off_t)JOURNAL_HDR ||
        pread_full(d->jfd, hdr, sizeof(hdr), 0) < 0 || colo_get64(hdr) != JOURNAL_MAGIC)
        return journal_drop(d);
    epoch = colo_get64(hdr + 8);
    count = colo_get64(hdr + 16);
    if (count > d->size / COLO_SECTOR ||
        (uint64_t)st.st_size < JOURNAL_HDR + count * (8 + COLO_SECTOR) + sizeof(trailer)) {
        colo_warn("disk %s: incomplete commit journal ignored", d->path);
        return journal_drop(d);
    }
    /* First pass: verify everything; only a whole journal is replayed. */
    h = fnv1a(h, hdr, sizeof(hdr));
    ioff = JOURNAL_HDR;
    doff = JOURNAL_HDR + count * 8;
    for (uint64_t i = 0; i < count; i++) {
        if (pread_full(d->jfd, idx, 8, ioff + i * 8) < 0 || colo_get64(idx) >= d->size / COLO_SECTOR)
            return journal_drop(d);
        h = fnv1a(h, idx, 8);
    }
    for (uint64_t i = 0; i < count; i++) {
        if (pread_full(d->jfd, sec, COLO_SECTOR, doff + i * COLO_SECTOR) < 0)
            return journal_drop(d);
        h = fnv1a(h, sec, COLO_SECTOR);
    }
    if (pread_full(d->jfd, trailer, sizeof(trailer), doff + count * COLO_SECTOR) < 0 ||
        colo_get64(trailer) != h || colo_get64(trailer + 8) != JOURNAL_DONE) {
        colo_warn("disk %s: damaged commit journal ignored", d->path);
        return journal_drop(d);
    }
    for (uint64_t i = 0; i < count; i++) {
        if (pread_full(d->jfd, idx, 8, ioff + i * 8) < 0 ||
            pread_full(d->jfd, sec, COLO_SECTOR, doff + i * COLO_SECTOR) < 0 ||
            pwrite_full(d->fd, sec, COLO_SECTOR, colo_get64(idx) * COLO_SECTOR) < 0) {
            colo_log_errno("disk %s: journal replay failed", d->path);
            return -1;
        }
    }
    if (fdatasync(d->fd) < 0)
        return -1;
    colo_info("disk %s: replayed the commit of epoch %" PRIu64 " (%" PRIu64 " sectors) after a crash",
              d->path, epoch, count);
    d->replayed++;
    return journal_drop(d);
}

int colo_disk_open(struct colo_disk *d, const char *path, const struct colo_disk_cfg *cfg)
{
    char jpath[300];
    struct stat st;

    memset(d, 0, sizeof(*d));
    d->fd = d->jfd = -1;
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->fd = open(path, O_RDWR | O_CLOEXEC);
    if (d->fd < 0 || fstat(d->fd, &st) < 0) {
        colo_log_errno("disk %s: cannot open the image", path);
        goto fail;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(d->fd, BLKGETSIZE64, &d->size) < 0) {
            colo_log_errno("disk %s: cannot read the block device's size", path);
            goto fail;
        }
    } else if (S_ISREG(st.st_mode)) {
        d->size = (uint64_t)st.st_size;
    } else {
        colo_err("disk %s: not a regular file or block device", path);
        goto fail;
    }
    if (d->size == 0 || d->size % COLO_SECTOR) {
        colo_err("disk %s: size %" PRIu64 " is not a positive multiple of 512 bytes", path, d->size);
        goto fail;
    }
    d->sync = !(cfg && cfg->volatile_commit);
    snprintf(jpath, sizeof(jpath), "%s", cfg && cfg->journal ? cfg->journal : "");
    if (!jpath[0])
        snprintf(jpath, sizeof(jpath), "%s.colo-journal", path);
    d->jfd = open(jpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->jfd < 0) {
        colo_log_errno("disk %s: cannot open the commit journal %s", path, jpath);
        goto fail;
    }
    if (sector_map_init(&d->spec, cfg ? cfg->mem_limit : 64 << 20, cfg ? cfg->spill_dir : NULL) < 0 ||
        sector_map_init(&d->spec_odd, cfg ? cfg->mem_limit : 64 << 20, cfg ? cfg->spill_dir : NULL) < 0 ||
        sector_map_init(&d->overlay, cfg ? cfg->mem_limit : 64 << 20, cfg ? cfg->spill_dir : NULL) < 0)
        goto fail;
    if (journal_replay(d) < 0)
        goto fail;
    return 0;
fail:
    colo_disk_close(d);
    return -1;
}

void colo_disk_close(struct colo_disk *d)
{
    if (d->fd >= 0)
        close(d->fd);
    if (d->jfd >= 0)
        close(d->jfd);
    d->fd = d->jfd = -1;
    sector_map_free(&d->spec);
    sector_map_free(&d->spec_odd);
    sector_map_free(&d->overlay);
}

int colo_disk_pvm_write(struct colo_disk *d, uint64_t epoch, uint64_t off, uint32_t len, const void *buf)
{
    if (d->mode != COLO_DISK_REPLICATING) {
        colo_err("disk %s: PVM write after failover refused", d->path);
        errno = EPERM;
        return -1;
    }
    if ((epoch != d->epoch && epoch != d->epoch + 1) || (d->committing && epoch == d->epoch)) {
        colo_err("disk %s: PVM write for epoch %" PRIu64 " while epoch %" PRIu64 " is open%s",
                 d->path, epoch, d->epoch, d->committing ? " and being committed" : "");
        errno = EPROTO;
        return -1;
    }
    if (colo_disk_check_range(d, off, len, "PVM write") < 0)
        return -1;
    if (sector_map_put(spec_of(d, epoch), off / COLO_SECTOR, len / COLO_SECTOR, buf) < 0)
        return -1;
    if (epoch == d->epoch)
        d->epoch_writes++;
    else
        d->next_writes++;
    return 0;
}

int colo_disk_svm_write(struct colo_disk *d, uint64_t off, uint32_t len, const void *buf)
{
    if (colo_disk_check_range(d, off, len, "SVM write") < 0)
        return -1;
    if (d->mode == COLO_DISK_ACTIVE) {
        if (pwrite_full(d->fd, buf, len, off) < 0) {
            colo_log_errno("disk %s: write failed", d->path);
            return -1;
        }
        return 0;
    }
    return sector_map_put(&d->overlay, off / COLO_SECTOR, len / COLO_SECTOR, buf);
}

int colo_disk_svm_read(struct colo_disk *d, uint64_t off, uint32_t len, void *buf)
{
    uint8_t *p = buf;

    if (colo_disk_check_range(d, off, len, "SVM read") < 0)
        return -1;
    if (pread_full(d->fd, p, len, off) < 0) {
        colo_log_errno("disk %s: read failed", d->path);
        return -1;
    }
    return sector_map_read(&d->overlay, off / COLO_SECTOR, len / COLO_SECTOR, p);
}

int colo_disk_svm_flush(struct colo_disk *d)
{
    if (d->mode == COLO_DISK_ACTIVE && fdatasync(d->fd) < 0) {
        colo_log_errno("disk %s: flush failed", d->path);
        return -1;
    }
    return 0;
}

int colo_disk_commit_begin(struct colo_disk *d, uint64_t epoch, uint64_t writes)
{
    if (d->mode != COLO_DISK_REPLICATING || epoch != d->epoch || d->committing) {
        colo_err("disk %s: commit of epoch %" PRIu64 " while epoch %" PRIu64 " is open%s",
                 d->path, epoch, d->epoch, d->mode ? " (after failover)" :
                 d->committing ? " and being committed" : "");
        errno = EPROTO;
        return -1;
    }
    if (writes != d->epoch_writes) {
        colo_err("disk %s: epoch %" PRIu64 " had %" PRIu64 " PVM writes, %" PRIu64 " arrived: refusing"
                 " to commit a checkpoint with a lost write", d->path, epoch, writes, d->epoch_writes);
        errno = EPROTO;
        return -1;
    }
    d->committing = true;
    return 0;
}

int colo_disk_commit_write(struct colo_disk *d)
{
    struct sector_map *s = spec_of(d, d->epoch);

    /* Journal first: a crash from here on is finished by the next open. */
    if (s->count && (journal_write(d, s, d->epoch) < 0 || apply_map(d, s) < 0 ||
                     (d->sync && fdatasync(d->fd) < 0) || journal_drop(d) < 0))
        return -1;
    return 0;
}

void colo_disk_commit_end(struct colo_disk *d, bool written)
{
    d->committing = false;
    if (!written)
        return;
    sector_map_clear(spec_of(d, d->epoch));
    sector_map_clear(&d->overlay);      /* the SVM now has the PVM's state */
    d->epoch++;
    d->epoch_writes = d->next_writes;
    d->next_writes = 0;
    d->commits++;
}

int colo_disk_commit(struct colo_disk *d, uint64_t epoch, uint64_t writes)
{
    int rc;

    if (colo_disk_commit_begin(d, epoch, writes) < 0)
        return -1;
    rc = colo_disk_commit_write(d);
    colo_disk_commit_end(d, rc == 0);
    return rc;
}

int colo_disk_journal_epoch(struct colo_disk *d, uint64_t epoch)
{
    return journal_write(d, spec_of(d, epoch), epoch);
}

int colo_disk_failover(struct colo_disk *d)
{
    if (d->mode == COLO_DISK_ACTIVE)
        return 0;
    /* The open epoch's (and any next epoch's) PVM writes were never covered
     * by a checkpoint: the SVM never saw them acknowledged. */
    sector_map_clear(&d->spec);
    sector_map_clear(&d->spec_odd);
    if (apply_map(d, &d->overlay) < 0 || fdatasync(d->fd) < 0) {
        colo_log_errno("disk %s: merging the SVM's writes into the base failed", d->path);
        return -1;
    }
    sector_map_clear(&d->overlay);
    d->mode = COLO_DISK_ACTIVE;
    colo_info("disk %s: failover: the SVM's writes are merged, the disk serves it unprotected", d->path);
    return 0;
}
