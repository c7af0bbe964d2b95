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

static uint8_t *page_at(const struct colo_xcs_ckpt *c, uint64_t i)
{
    return c->chunk[i / COLO_XCS_CHUNK_PAGES] + (i % COLO_XCS_CHUNK_PAGES) * COLO_PAGE_SIZE;
}

int colo_xcs_ckpt_add(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page)
{
    if (c->nent == c->capent) {
        size_t cap = c->capent ? 2 * c->capent : 1024;
        uint64_t *e = realloc(c->ent, cap * sizeof(*e));

        if (!e)
            return -1;
        c->ent = e, c->capent = cap;
    }
    if (page) {
        if (c->npages == c->nchunk * COLO_XCS_CHUNK_PAGES) {
            if (c->nchunk == c->capchunk) {
                size_t cap = c->capchunk ? 2 * c->capchunk : 16;
                uint8_t **ch = realloc(c->chunk, cap * sizeof(*ch));

                if (!ch)
                    return -1;
                c->chunk = ch, c->capchunk = cap;
            }
            if (!(c->chunk[c->nchunk] = malloc((size_t)COLO_XCS_CHUNK_PAGES * COLO_PAGE_SIZE)))
                return -1;
            c->nchunk++;
        }
        memcpy(page_at(c, c->npages++), page, COLO_PAGE_SIZE);
    }
    c->ent[c->nent++] = pfn | (page ? 0 : HOLE_BIT);
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
    *page = page_at(c, c->slot[lo].idx);
    return 1;
}

void colo_xcs_ckpt_free(struct colo_xcs_ckpt *c)
{
    for (size_t i = 0; i < c->nchunk; i++)
        free(c->chunk[i]);
    free(c->chunk);
    free(c->ent);
    free(c->slot);
    memset(c, 0, sizeof(*c));
}
