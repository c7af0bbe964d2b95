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
#include "disk-io.h"
#include "journal.h"


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

/* One run of the map to the base image, at its place. */
static int apply_run(void *opaque, uint64_t first, uint32_t n, const uint8_t *data)
{
    struct colo_disk *d = opaque;

    if (disk_pwrite_full(d->fd, data, (size_t)n * COLO_SECTOR, first * COLO_SECTOR) < 0) {
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

int colo_disk_open(struct colo_disk *d, const char *path, const struct colo_disk_cfg *cfg)
{
    char jbase[280];
    struct stat st;
    uint64_t je[2];
    int have[2];

    memset(d, 0, sizeof(*d));
    d->fd = d->jfd[0] = d->jfd[1] = -1;
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
    snprintf(jbase, sizeof(jbase), "%s", cfg && cfg->journal ? cfg->journal : "");
    if (!jbase[0])
        snprintf(jbase, sizeof(jbase), "%s.colo-journal", path);
    for (int k = 0; k < 2; k++) {
        char jpath[300];

        snprintf(jpath, sizeof(jpath), "%s.%d", jbase, k);
        d->jfd[k] = open(jpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (d->jfd[k] < 0) {
            colo_log_errno("disk %s: cannot open the commit journal %s", path, jpath);
            goto fail;
        }
        have[k] = journal_peek(d->jfd[k], &je[k]);
    }
    /* A crash in mid-commit leaves at most one complete journal; were there
     * two, the older commit would be finished first. */
    for (int k = 0; k < 2; k++) {
        int first = have[0] && have[1] ? je[1] < je[0] : 0, j = k ? !first : first;
        int rc = journal_replay(d->jfd[j], d->fd, d->size, d->sync, d->path);

        if (rc < 0)
            goto fail;
        d->replayed += (uint64_t)rc;
    }
    if (journal_map(&d->spec, d->jfd[0], d->size) < 0 || journal_map(&d->spec_odd, d->jfd[1], d->size) < 0 ||
        sector_map_init(&d->overlay, cfg ? cfg->mem_limit : 64 << 20, cfg ? cfg->spill_dir : NULL) < 0)
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
    sector_map_free(&d->spec);
    sector_map_free(&d->spec_odd);
    sector_map_free(&d->overlay);
    for (int k = 0; k < 2; k++)
        if (d->jfd[k] >= 0)
            close(d->jfd[k]);
    d->fd = d->jfd[0] = d->jfd[1] = -1;
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
        if (disk_pwrite_full(d->fd, buf, len, off) < 0) {
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
    if (disk_pread_full(d->fd, p, len, off) < 0) {
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
    int jfd = d->jfd[d->epoch % 2];

    /* Journal first: a crash from here on is finished by the next open. */
    if (s->count && (journal_write(jfd, s, d->epoch, d->sync, d->path) < 0 || apply_map(d, s) < 0 ||
                     (d->sync && fdatasync(d->fd) < 0) || journal_drop(jfd, d->sync, d->path) < 0))
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
    return journal_write(d->jfd[epoch % 2], spec_of(d, epoch), epoch, d->sync, d->path);
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
