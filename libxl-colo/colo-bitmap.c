/* colo-bitmap.c - see colo-bitmap.h. */
#include <stdlib.h>
#include <string.h>

#include "colo-bitmap.h"

#define WORD_BITS 64u

static uint64_t nwords(uint64_t nbits)
{
    return (nbits + WORD_BITS - 1) / WORD_BITS;
}

int colo_bitmap_init(struct colo_bitmap *b, uint64_t nbits)
{
    b->nbits = nbits;
    b->words = calloc(nwords(nbits) ? nwords(nbits) : 1, sizeof(uint64_t));
    return b->words ? 0 : -1;
}

void colo_bitmap_free(struct colo_bitmap *b)
{
    free(b->words);
    b->words = NULL;
    b->nbits = 0;
}

void colo_bitmap_clear_all(struct colo_bitmap *b)
{
    memset(b->words, 0, nwords(b->nbits) * sizeof(uint64_t));
}

void colo_bitmap_set_all(struct colo_bitmap *b)
{
    colo_bitmap_set_range(b, 0, b->nbits);
}

void colo_bitmap_set_range(struct colo_bitmap *b, uint64_t start, uint64_t end)
{
    if (end > b->nbits)
        end = b->nbits;
    /* Bit by bit until word-aligned, then whole words, then the tail. */
    while (start < end && start % WORD_BITS)
        b->words[start / WORD_BITS] |= 1ull << (start % WORD_BITS), start++;
    while (start + WORD_BITS <= end)
        b->words[start / WORD_BITS] = ~0ull, start += WORD_BITS;
    while (start < end)
        b->words[start / WORD_BITS] |= 1ull << (start % WORD_BITS), start++;
}

int colo_bitmap_set(struct colo_bitmap *b, uint64_t bit)
{
    if (bit >= b->nbits)
        return -1;
    b->words[bit / WORD_BITS] |= 1ull << (bit % WORD_BITS);
    return 0;
}

void colo_bitmap_clear(struct colo_bitmap *b, uint64_t bit)
{
    if (bit < b->nbits)
        b->words[bit / WORD_BITS] &= ~(1ull << (bit % WORD_BITS));
}

bool colo_bitmap_test(const struct colo_bitmap *b, uint64_t bit)
{
    return bit < b->nbits && (b->words[bit / WORD_BITS] >> (bit % WORD_BITS)) & 1;
}

int colo_bitmap_or(struct colo_bitmap *dst, const struct colo_bitmap *src)
{
    if (dst->nbits != src->nbits)
        return -1;
    for (uint64_t i = 0; i < nwords(dst->nbits); i++)
        dst->words[i] |= src->words[i];
    return 0;
}

uint64_t colo_bitmap_count(const struct colo_bitmap *b)
{
    uint64_t n = 0;

    for (uint64_t i = 0; i < nwords(b->nbits); i++)
        n += (uint64_t)__builtin_popcountll(b->words[i]);
    return n;
}

uint64_t colo_bitmap_next(const struct colo_bitmap *b, uint64_t from)
{
    uint64_t w, word;

    if (from >= b->nbits)
        return b->nbits;
    w = from / WORD_BITS;
    word = b->words[w] & (~0ull << (from % WORD_BITS));
    for (;;) {
        if (word) {
            uint64_t bit = w * WORD_BITS + (uint64_t)__builtin_ctzll(word);
            return bit < b->nbits ? bit : b->nbits;
        }
        if (++w >= nwords(b->nbits))
            return b->nbits;
        word = b->words[w];
    }
}
