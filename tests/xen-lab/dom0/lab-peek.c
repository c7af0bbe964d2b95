/*
 * lab-peek DOMID PFN - read a lab guest's dirtier status page from dom0.
 *
 * The dirtier (tests/xen-lab/guest/dirtier.c) keeps its progress in one
 * locked page and announces its guest frame at start.  Reading it through
 * a foreign mapping tells the scenario how far a guest got without relying
 * on its emulated serial console.  Prints "tick=T round=R corrupt=C", or
 * says why it cannot; exit status 0 only when the page was read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenforeignmemory.h>

#define STATUS_MAGIC 0x5441545354524944ull     /* as dirtier.c */

int main(int argc, char **argv)
{
    char *end1, *end2;
    unsigned long domid = argc == 3 ? strtoul(argv[1], &end1, 0) : 0;
    xen_pfn_t pfn = argc == 3 ? (xen_pfn_t)strtoull(argv[2], &end2, 0) : 0;
    xenforeignmemory_handle *fmem;
    const volatile uint64_t *st;
    int err = 0;

    if (argc != 3 || *end1 || *end2 || domid == 0) {
        fprintf(stderr, "usage: lab-peek DOMID PFN\n");
        return 2;
    }
    if (!(fmem = xenforeignmemory_open(NULL, 0))) {
        fprintf(stderr, "lab-peek: cannot open foreign memory: %s\n", strerror(errno));
        return 1;
    }
    st = xenforeignmemory_map(fmem, (uint32_t)domid, PROT_READ, 1, &pfn, &err);
    if (!st || err) {
        fprintf(stderr, "lab-peek: cannot map pfn %#" PRIx64 " of domain %lu: %s\n",
                (uint64_t)pfn, domid, strerror(err ? abs(err) : errno));
        return 1;
    }
    if (st[0] != STATUS_MAGIC) {
        fprintf(stderr, "lab-peek: pfn %#" PRIx64 " of domain %lu holds no dirtier status\n",
                (uint64_t)pfn, domid);
        return 1;
    }
    printf("tick=%" PRIu64 " round=%" PRIu64 " corrupt=%" PRIu64 "\n", st[1], st[2], st[3]);
    xenforeignmemory_unmap(fmem, (void *)st, 1);
    xenforeignmemory_close(fmem);
    return 0;
}
