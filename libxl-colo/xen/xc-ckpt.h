/*
 * xc-ckpt.h - one checkpoint's pages from libxenguest's stream, as
 * save=libxenguest holds them (xen-xcsave.c): added in arrival order, then
 * sealed into an index by pfn in which the last copy of a pfn sent twice
 * wins.  No Xen dependency; tests/unit/test-xc-ckpt.c covers it.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XC_CKPT_H
#define COLO_XC_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pages grow 1 MiB at a time, in chunks that never move once written. */
#define COLO_XCS_CHUNK_PAGES 256u

struct colo_xcs_slot {
    uint64_t pfn;
    uint64_t idx;           /* the page's index among the data; UINT64_MAX: a hole */
    uint64_t seq;           /* arrival order */
};

struct colo_xcs_ckpt {
    uint64_t              *ent;         /* arrival order: pfn, bit 63 set for a hole */
    size_t                 nent, capent;
    const uint8_t        **page;        /* the pages that came with data, in order */
    size_t                 npages, cappage;
    uint8_t              **block;       /* memory the checkpoint owns: chunks, records */
    size_t                 nblock, capblock;
    size_t                 chunk_used;  /* pages used of the last block, if a chunk */
    bool                   last_is_chunk;
    struct colo_xcs_slot  *slot;        /* after seal: one per pfn, ascending */
    size_t                 nslot;
};

/* Add a pfn as it arrived, with a copy of its page or (page NULL) as a
 * hole.  -1 when out of memory (nothing added). */
int  colo_xcs_ckpt_add(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page);
/* The checkpoint takes a malloc'd block (a stream record's body) to free
 * with itself; -1 when out of memory (then block is freed).  Pages inside
 * it can then be added without a copy. */
int  colo_xcs_ckpt_adopt(struct colo_xcs_ckpt *c, uint8_t *block);
/* Add a pfn whose page lies in memory the checkpoint owns (adopted). */
int  colo_xcs_ckpt_add_ref(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page);
/* Index what was added by pfn; -1 when out of memory (then unsealed). */
int  colo_xcs_ckpt_seal(struct colo_xcs_ckpt *c);
/*
 * Look pfn up in a sealed checkpoint.  *from is where the search starts
 * (0 at first): lookups of ascending pfns pass the same cursor along and
 * each search starts where the last one ended.  Returns 1 with *page set
 * (the page is the checkpoint's until it is freed), 0 for a hole, -1 if
 * the checkpoint does not have pfn.
 */
int  colo_xcs_ckpt_find(const struct colo_xcs_ckpt *c, uint64_t pfn, size_t *from,
                        const uint8_t **page);
void colo_xcs_ckpt_free(struct colo_xcs_ckpt *c);

#endif
