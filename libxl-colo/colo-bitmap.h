/*
 * colo-bitmap.h - dirty page bitmaps.
 *
 * One bit per guest page.  The primary ORs its own dirty log with the pfn
 * list the secondary sends back (pages the SVM wrote must be overwritten
 * too), then walks the union to send pages in ascending order.
 */
#ifndef COLO_BITMAP_H
#define COLO_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct colo_bitmap {
    uint64_t nbits;
    uint64_t *words;
};

int  colo_bitmap_init(struct colo_bitmap *b, uint64_t nbits);   /* all clear; -1 on ENOMEM */
void colo_bitmap_free(struct colo_bitmap *b);
void colo_bitmap_clear_all(struct colo_bitmap *b);
void colo_bitmap_set_all(struct colo_bitmap *b);
/* Set bits [start, end); out-of-range parts are ignored. */
void colo_bitmap_set_range(struct colo_bitmap *b, uint64_t start, uint64_t end);
/* Returns -1 if bit is out of range (a bogus pfn from the wire). */
int  colo_bitmap_set(struct colo_bitmap *b, uint64_t bit);
void colo_bitmap_clear(struct colo_bitmap *b, uint64_t bit);   /* out of range: no-op */
bool colo_bitmap_test(const struct colo_bitmap *b, uint64_t bit);
/* dst |= src; both must have the same size (returns -1 otherwise). */
int  colo_bitmap_or(struct colo_bitmap *dst, const struct colo_bitmap *src);
uint64_t colo_bitmap_count(const struct colo_bitmap *b);
/* First set bit at or after 'from', or b->nbits if none. */
uint64_t colo_bitmap_next(const struct colo_bitmap *b, uint64_t from);

#endif
