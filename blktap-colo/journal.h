/*
 * journal.h - the secondary's commit journal, which is also where the
 * speculation buffer of an epoch lives.
 *
 * One journal file per epoch parity (the open epoch's writes and the next
 * one's may be buffered at once).  Layout:
 *
 *   [0, 4 KiB)           header: magic, epoch, blocks, index offset
 *   [4 KiB, ...)         the speculation buffer's 4 KiB slots, written as
 *                        the PVM's writes arrive (a file-backed sector map)
 *   index offset         per block: number, slot, sector mask, checksum of
 *                        the slot (computed when it was written)
 *   then                 trailer: checksum of header and index, "JRNLDONE"
 *
 * Between commits the header's magic is zero: the file holds no journal.
 * Committing an epoch writes only the index, the trailer and then the
 * header - its data is already in the file - and (durable commits)
 * fdatasyncs.  A journal is complete only if the header, the trailer, the
 * index checksum and every slot's checksum agree, so a commit torn at any
 * point, or written back in any order before a power loss, is either whole
 * or ignored.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sector-map.h"

#define JOURNAL_DATA_OFF 4096u

/* Make m (the buffer of one epoch parity) live in journal file fd, for an
 * image of img_size bytes. */
int journal_map(struct sector_map *m, int fd, uint64_t img_size);

/* Commit step 1: make m's contents a complete journal for `epoch`. */
int journal_write(int fd, struct sector_map *m, uint64_t epoch, bool sync, const char *what);
/* Commit step 3 (after the base is updated): the file holds no journal. */
int journal_drop(int fd, bool sync, const char *what);

/* Header epoch of a journal that may be complete: 1 (and *epoch), or 0. */
int journal_peek(int fd, uint64_t *epoch);
/* At open: apply a complete journal to img_fd (1), ignore an incomplete or
 * damaged one (0, with a warning), -1 on an I/O error.  Drops it either way
 * unless -1. */
int journal_replay(int fd, int img_fd, uint64_t img_size, bool sync, const char *what);

#endif
