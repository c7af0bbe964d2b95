/*
 * xc-ckpt.h - one checkpoint's pages from libxenguest's stream, as
 * save=libxenguest holds them (xen-xcsave.c): the PAGE_DATA records the
 * reader read, kept whole, and an index of the pages inside them - first
 * in arrival order, then sealed into one slot per pfn in which the last
 * copy of a pfn sent twice wins.
 *
 * While the stream is still bringing a checkpoint, an index whose pfns
 * have arrived in ascending order (libxenguest sends them so) can already
 * answer for every pfn up to the last one that came: the engine sends
 * those pages while libxenguest reads the rest.
 *
 * No Xen dependency; tests/unit/test-xc-ckpt.c covers it.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XC_CKPT_H
#define COLO_XC_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct colo_xcs_slot {
    uint64_t pfn;
    uint64_t idx;           /* the page's index among the data; UINT64_MAX: a hole */
    uint64_t seq;           /* arrival order */
};

struct colo_xcs_ckpt {
    struct colo_xcs_slot  *ent;         /* arrival order */
    size_t                 nent, capent;
    const uint8_t        **page;        /* the pages that came with data, in order */
    size_t                 npages, cappage;
    uint8_t              **block;       /* memory the checkpoint owns: stream records */
    size_t                 nblock, capblock;
    bool                   unordered;   /* a pfn came that was not above the one before */
    bool                   sealed;      /* slot[] indexes everything added */
    struct colo_xcs_slot  *slot;        /* after seal: one per pfn, ascending */
    size_t                 nslot;
};

/* The checkpoint takes a malloc'd block (a stream record's body) to free
 * with itself; -1 when out of memory (then block is freed).  NULL: no-op. */
int  colo_xcs_ckpt_adopt(struct colo_xcs_ckpt *c, uint8_t *block);
/* Add a pfn as it arrived: its page lies in a block the checkpoint adopted,
 * or page is NULL for a hole.  -1 when out of memory (nothing added). */
int  colo_xcs_ckpt_add_ref(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page);
/* Index what was added by pfn; -1 when out of memory (then unsealed). */
int  colo_xcs_ckpt_seal(struct colo_xcs_ckpt *c);
/*
 * Can find() answer for pfn already?  True when sealed, or when every pfn
 * so far came in ascending order and one at or above pfn has come: pfn's
 * last copy, if the checkpoint has one, is then among them.
 */
bool colo_xcs_ckpt_reached(const struct colo_xcs_ckpt *c, uint64_t pfn);
/*
 * Look pfn up in a checkpoint for which reached(pfn) holds.  *from is where
 * the search starts (0 at first): lookups of ascending pfns pass the same
 * cursor along and each search starts where the last one ended.  Returns 1
 * with *page set (the page is the checkpoint's until it is freed), 0 for a
 * hole, -1 if the checkpoint does not have pfn.
 */
int  colo_xcs_ckpt_find(const struct colo_xcs_ckpt *c, uint64_t pfn, size_t *from,
                        const uint8_t **page);
void colo_xcs_ckpt_free(struct colo_xcs_ckpt *c);

#endif
