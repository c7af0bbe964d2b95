/*
 * xc-ckpt.c - one checkpoint's pages from libxenguest's stream (xc-ckpt.h).
 *
 * libxenguest sends a checkpoint's pages in ascending pfn order, one batch
 * per PAGE_DATA record, but nothing in the stream format forbids a pfn
 * twice; the index keeps the last copy, as a restorer that writes each
 * page in place would end up with.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xc-ckpt.h"

#include <stdlib.h>
#include <string.h>

#include "colo-proto.h"

#define HOLE_BIT (1ull << 63)
#define NO_PAGE  UINT64_MAX

/* Room for one more entry. */
static int grow_ent(struct colo_xcs_ckpt *c)
{
    size_t cap;
    uint64_t *n;

    if (c->nent < c->capent)
        return 0;
    cap = c->capent ? 2 * c->capent : 1024;
    if (!(n = realloc(c->ent, cap * sizeof(*n))))
        return -1;
    c->ent = n, c->capent = cap;
    return 0;
}

static int push_ent(struct colo_xcs_ckpt *c, uint64_t e)
{
    if (grow_ent(c) < 0)
        return -1;
    c->ent[c->nent++] = e;
    return 0;
}

/* Room for one more page pointer and one more entry. */
static int reserve(struct colo_xcs_ckpt *c)
{
    if (c->npages == c->cappage) {
        size_t cap = c->cappage ? 2 * c->cappage : 1024;
        const uint8_t **n = realloc(c->page, cap * sizeof(*n));

        if (!n)
            return -1;
        c->page = n, c->cappage = cap;
    }
    return grow_ent(c);
}

static int push_block(struct colo_xcs_ckpt *c, uint8_t *block, bool chunk)
{
    if (c->nblock == c->capblock) {
        size_t cap = c->capblock ? 2 * c->capblock : 16;
        uint8_t **n = realloc(c->block, cap * sizeof(*n));

        if (!n)
            return -1;
        c->block = n, c->capblock = cap;
    }
    c->block[c->nblock++] = block;
    c->last_is_chunk = chunk;
    c->chunk_used = 0;
    return 0;
}

int colo_xcs_ckpt_add_ref(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page)
{
    if (!page)
        return push_ent(c, pfn | HOLE_BIT);
    if (reserve(c) < 0)
        return -1;
    c->page[c->npages++] = page;
    c->ent[c->nent++] = pfn;
    return 0;
}

int colo_xcs_ckpt_adopt(struct colo_xcs_ckpt *c, uint8_t *block)
{
    if (!block)
        return 0;
    if (push_block(c, block, false) < 0) {
        free(block);
        return -1;
    }
    return 0;
}

int colo_xcs_ckpt_add(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page)
{
    uint8_t *dst;

    if (!page)
        return push_ent(c, pfn | HOLE_BIT);
    if (reserve(c) < 0)
        return -1;
    if (!c->last_is_chunk || c->chunk_used == COLO_XCS_CHUNK_PAGES) {
        uint8_t *chunk = malloc((size_t)COLO_XCS_CHUNK_PAGES * COLO_PAGE_SIZE);

        if (!chunk || push_block(c, chunk, true) < 0) {
            free(chunk);
            return -1;
        }
    }
    dst = c->block[c->nblock - 1] + c->chunk_used++ * COLO_PAGE_SIZE;
    memcpy(dst, page, COLO_PAGE_SIZE);
    c->page[c->npages++] = dst;
    c->ent[c->nent++] = pfn;
    return 0;
}

static int slot_cmp(const void *a, const void *b)
{
    const struct colo_xcs_slot *p = a, *q = b;

    if (p->pfn != q->pfn)
        return p->pfn < q->pfn ? -1 : 1;
    return p->seq < q->seq ? -1 : p->seq > q->seq;
}

int colo_xcs_ckpt_seal(struct colo_xcs_ckpt *c)
{
    struct colo_xcs_slot *s = malloc((c->nent ? c->nent : 1) * sizeof(*s));
    uint64_t d = 0;
    size_t n = 0;

    if (!s)
        return -1;
    for (size_t i = 0; i < c->nent; i++)
        s[i] = (struct colo_xcs_slot){ c->ent[i] & ~HOLE_BIT,
                                       c->ent[i] & HOLE_BIT ? NO_PAGE : d++, i };
    qsort(s, c->nent, sizeof(*s), slot_cmp);
    for (size_t i = 0; i < c->nent; i++) {
        if (n > 0 && s[n - 1].pfn == s[i].pfn)
            n--;                /* an earlier copy: the later one replaces it */
        s[n++] = s[i];
    }
    free(c->slot);
    c->slot = s, c->nslot = n;
    return 0;
}

int colo_xcs_ckpt_find(const struct colo_xcs_ckpt *c, uint64_t pfn, size_t *from,
                       const uint8_t **page)
{
    size_t lo = *from, hi = c->nslot;

    /* Everything before the cursor must be below pfn; if not (pfns not
     * ascending after all, or a stale cursor), search it all. */
    if (lo > hi || (lo > 0 && c->slot[lo - 1].pfn >= pfn))
        lo = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->slot[mid].pfn < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    *from = lo;
    if (lo == c->nslot || c->slot[lo].pfn != pfn)
        return -1;
    if (c->slot[lo].idx == NO_PAGE)
        return 0;
    *page = c->page[c->slot[lo].idx];
    return 1;
}

void colo_xcs_ckpt_free(struct colo_xcs_ckpt *c)
{
    for (size_t i = 0; i < c->nblock; i++)
        free(c->block[i]);
    free(c->block);
    free(c->page);
    free(c->ent);
    free(c->slot);
    memset(c, 0, sizeof(*c));
}
