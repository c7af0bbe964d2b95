/*
 * xc-ckpt.c - one checkpoint's pages from libxenguest's stream (xc-ckpt.h).
 *
 * libxenguest sends a checkpoint's pages in ascending pfn order, one batch
 * per PAGE_DATA record, but nothing in the stream format forbids a pfn
 * twice or out of order; the index keeps the last copy, as a restorer that
 * writes each page in place would end up with, and answers early only
 * while the order holds.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xc-ckpt.h"

#include <stdlib.h>
#include <string.h>

#define NO_PAGE UINT64_MAX

/* New capacity for an array of cap elements that is full; 0 on overflow. */
static size_t next_cap(size_t cap, size_t first, size_t sz)
{
    size_t c = cap ? 2 * cap : first;

    return c > SIZE_MAX / sz ? 0 : c;
}

/* Room for one more entry, and one more page pointer if page. */
static int reserve(struct colo_xcs_ckpt *c, bool page)
{
    if (c->nent == c->capent) {
        size_t cap = next_cap(c->capent, 1024, sizeof(*c->ent));
        struct colo_xcs_slot *n = cap ? realloc(c->ent, cap * sizeof(*n)) : NULL;

        if (!n)
            return -1;
        c->ent = n, c->capent = cap;
    }
    if (page && c->npages == c->cappage) {
        size_t cap = next_cap(c->cappage, 1024, sizeof(*c->page));
        const uint8_t **n = cap ? realloc(c->page, cap * sizeof(*n)) : NULL;

        if (!n)
            return -1;
        c->page = n, c->cappage = cap;
    }
    return 0;
}

int colo_xcs_ckpt_add_ref(struct colo_xcs_ckpt *c, uint64_t pfn, const uint8_t *page)
{
    if (reserve(c, page != NULL) < 0)
        return -1;
    if (c->nent > 0 && pfn <= c->ent[c->nent - 1].pfn)
        c->unordered = true;
    c->ent[c->nent] = (struct colo_xcs_slot){ pfn, page ? c->npages : NO_PAGE, c->nent };
    c->nent++;
    if (page)
        c->page[c->npages++] = page;
    c->sealed = false;
    return 0;
}

int colo_xcs_ckpt_adopt(struct colo_xcs_ckpt *c, uint8_t *block)
{
    if (!block)
        return 0;
    if (c->nblock == c->capblock) {
        size_t cap = next_cap(c->capblock, 16, sizeof(*c->block));
        uint8_t **n = cap ? realloc(c->block, cap * sizeof(*n)) : NULL;

        if (!n) {
            free(block);
            return -1;
        }
        c->block = n, c->capblock = cap;
    }
    c->block[c->nblock++] = block;
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
    size_t n = 0;

    if (!s)
        return -1;
    if (c->nent)
        memcpy(s, c->ent, c->nent * sizeof(*s));
    if (c->unordered) {
        qsort(s, c->nent, sizeof(*s), slot_cmp);
        for (size_t i = 0; i < c->nent; i++) {
            if (n > 0 && s[n - 1].pfn == s[i].pfn)
                n--;            /* an earlier copy: the later one replaces it */
            s[n++] = s[i];
        }
    } else {
        n = c->nent;            /* ascending and unique already */
    }
    free(c->slot);
    c->slot = s, c->nslot = n;
    c->sealed = true;
    return 0;
}

bool colo_xcs_ckpt_reached(const struct colo_xcs_ckpt *c, uint64_t pfn)
{
    return c->sealed || (!c->unordered && c->nent > 0 && c->ent[c->nent - 1].pfn >= pfn);
}

int colo_xcs_ckpt_find(const struct colo_xcs_ckpt *c, uint64_t pfn, size_t *from,
                       const uint8_t **page)
{
    /* Before the seal, arrival order is the index (reached() says so). */
    const struct colo_xcs_slot *s = c->sealed ? c->slot : c->ent;
    size_t n = c->sealed ? c->nslot : (c->unordered ? 0 : c->nent);
    size_t lo = *from, hi = n;

    /* Everything before the cursor must be below pfn; if not (pfns not
     * ascending after all, or a stale cursor), search it all. */
    if (lo > hi || (lo > 0 && s[lo - 1].pfn >= pfn))
        lo = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s[mid].pfn < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    *from = lo;
    if (lo == n || s[lo].pfn != pfn)
        return -1;
    if (s[lo].idx == NO_PAGE)
        return 0;
    *page = c->page[s[lo].idx];
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
