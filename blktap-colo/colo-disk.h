/*
 * colo-disk.h - the secondary's replicated disk.
 *
 * Three layers, read top-down by the SVM:
 *
 *   overlay      the SVM's own writes since the last commit (discarded at
 *                each commit: the checkpoint replaces the SVM's state)
 *   base image   the PVM's disk as of the last committed checkpoint
 *
 * and beside them, invisible to the SVM,
 *
 *   speculation  the PVM's writes of the open epoch, forwarded by the
 *                primary; they become part of the base only when the
 *                checkpoint that covers them commits.
 *
 * commit(e): speculation(e) is journalled (durable), applied to the base
 * (durable), the journal dropped; the overlay is discarded; epoch e+1 opens.
 * failover(): speculation is discarded (the SVM never saw those writes
 * acknowledged), the overlay is merged into the base (durable), and from
 * then on the SVM writes straight to the base, unprotected.
 *
 * A crash in the middle of a commit is repaired at the next open: a
 * complete journal is replayed, an incomplete one ignored.  docs/disk.md
 * states what is durable where and when.
 */
#ifndef COLO_DISK_H
#define COLO_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "sector-map.h"

enum colo_disk_mode { COLO_DISK_REPLICATING = 0, COLO_DISK_ACTIVE };

struct colo_disk {
    int fd;                         /* base image (raw file or block device) */
    int jfd[2];                     /* commit journals (and speculation) of
                                     * even / odd epochs */
    uint64_t size;                  /* bytes; a multiple of 512 */
    char path[256];
    struct sector_map spec, spec_odd;   /* speculation of even / odd epochs,
                                         * kept in jfd[0] / jfd[1] */
    struct sector_map overlay;
    uint64_t epoch;                 /* the open epoch */
    uint64_t epoch_writes;          /* PVM writes received in it */
    uint64_t next_writes;           /* ... and in the next (arrived early) */
    enum colo_disk_mode mode;
    bool committing;                /* between commit_begin and commit_end */
    uint64_t commits, replayed;
    bool sync;                      /* fdatasync at commit (default) */
};

struct colo_disk_cfg {
    uint64_t mem_limit;             /* the overlay's, before spilling to a file */
    const char *spill_dir;
    const char *journal;            /* default: PATH.colo-journal (.0, .1) */
    bool volatile_commit;           /* skip fdatasync at commit: survives a
                                     * killed process, not a lost host */
};

/* Open the base image; replays a complete journal left by a crash.  On
 * error, logs what was wrong (naming the path) and returns -1. */
int  colo_disk_open(struct colo_disk *d, const char *path, const struct colo_disk_cfg *cfg);
void colo_disk_close(struct colo_disk *d);

/* Offsets and lengths are bytes, multiples of 512, inside the image;
 * anything else is refused with EINVAL and a message saying why. */
int  colo_disk_check_range(const struct colo_disk *d, uint64_t off, uint64_t len, const char *what);

int  colo_disk_pvm_write(struct colo_disk *d, uint64_t epoch, uint64_t off, uint32_t len, const void *buf);
int  colo_disk_svm_write(struct colo_disk *d, uint64_t off, uint32_t len, const void *buf);
int  colo_disk_svm_read(struct colo_disk *d, uint64_t off, uint32_t len, void *buf);
/* SVM flush: nothing to do while replicating (the overlay is discarded at
 * commit anyway); after failover, fdatasync of the base. */
int  colo_disk_svm_flush(struct colo_disk *d);

/* Checkpoint `epoch` commits; `writes` is how many PVM writes the primary
 * says the epoch had (a mismatch means a lost write: refused). */
int  colo_disk_commit(struct colo_disk *d, uint64_t epoch, uint64_t writes);
int  colo_disk_failover(struct colo_disk *d);

/*
 * colo_disk_commit in three steps, so that a threaded user can let the
 * primary's writes of the next epoch arrive while the base is updated:
 *
 *   begin   the checks above; the epoch is closed (a PVM write for it is
 *           refused from now on, as it could not be in the commit)
 *   write   journal, base, journal dropped - touches only the closed
 *           epoch's speculation buffer and the files, so it may run
 *           without the lock guarding colo_disk_pvm_write, but never
 *           concurrently with SVM I/O or failover
 *   end     written: the epoch is committed and the next one opens;
 *           otherwise (write failed) the epoch stays open, uncommitted
 */
int  colo_disk_commit_begin(struct colo_disk *d, uint64_t epoch, uint64_t writes);
int  colo_disk_commit_write(struct colo_disk *d);
void colo_disk_commit_end(struct colo_disk *d, bool written);

/* The first step of commit alone - write epoch's journal, durably - for
 * the crash tests: closing the disk after it is a crash in mid-commit. */
int  colo_disk_journal_epoch(struct colo_disk *d, uint64_t epoch);

#endif
