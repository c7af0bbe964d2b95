/*
 * colo-verify.c - a digest of all guest RAM, read through the backend.
 *
 * Used by --verify: the primary logs the PVM's digest while it is suspended
 * at a checkpoint, the secondary logs the SVM's after commit, and the tests
 * compare the two - a byte-for-byte check that costs one hash per side.
 *
 * What is hashed is every page that is not all zeros, preceded by its pfn
 * (little-endian u64).  Two memories give the same digest exactly when
 * they hold the same bytes at the same pfns, as with hashing everything,
 * but a guest whose pfn space is mostly holes (an HVM guest on Xen reaches
 * 4 GiB with 128 MiB of RAM) costs a hash of its RAM, not of 4 GiB of zeros.
 * Nor are the holes read: a backend that knows its RAM (ram_pfns) names
 * the pfns that may hold data, and only those are read.  Reading a hole
 * gives a page of zeros, which is skipped anyway - but zeroing and
 * checking 4 GiB took about 30 s under TCG in the Xen lab, past the
 * replication channel's I/O timeout, since the secondary digests while
 * the primary waits for it.
 *
 * When two digests differ, the question is which pages: with the
 * environment variable COLO_VERIFY_DUMP set to a directory, each digest
 * also writes LABEL-SEQ.txt there, one line "pfn hash" per hashed page,
 * so that two dumps can be diffed (the Xen lab does).
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-engine.h"
#include "colo-log.h"

/* FNV-1a taken a 64-bit word at a time, not a byte: a dump only has to
 * tell pages apart, and byte steps cost more than the SHA-256 itself (in
 * the lab, where TCG runs dom0, a digest's time is the guest's RAM). */
static uint64_t page_hash(const uint8_t *p)
{
    uint64_t h = 0xcbf29ce484222325ull, w;

    for (size_t i = 0; i < COLO_PAGE_SIZE; i += sizeof(w)) {
        memcpy(&w, p + i, sizeof(w));
        h = (h ^ w) * 0x100000001b3ull;
    }
    return h;
}

static FILE *open_dump(const char *label, uint64_t seq)
{
    const char *dir = getenv("COLO_VERIFY_DUMP");
    char path[4096];
    FILE *f;

    if (!dir || !*dir)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s-%" PRIu64 ".txt", dir, label, seq);
    if (!(f = fopen(path, "w")))
        colo_log_errno("verify: cannot write %s", path);
    return f;
}

int colo_domain_digest(const struct colo_backend *be, struct colo_domain *d,
                       uint64_t nr_pages, const char *label, uint64_t seq, char hex[65])
{
    FILE *dump = open_dump(label, seq);
    enum { BATCH = 1024 };
    uint64_t pfns[BATCH], t0 = colo_now_ns(), nread = 0;
    uint8_t *buf = malloc((size_t)BATCH * COLO_PAGE_SIZE);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct colo_bitmap ram = { 0 };
    int rc = -1;

    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    if (colo_bitmap_init(&ram, nr_pages) < 0)
        goto out;
    if (!be->ram_pfns)
        colo_bitmap_set_all(&ram);
    else if (be->ram_pfns(d, &ram) < 0)
        goto out;
    for (uint64_t pfn = colo_bitmap_next(&ram, 0); pfn < nr_pages;) {
        uint32_t n = 0;

        while (n < BATCH && pfn < nr_pages) {
            pfns[n++] = pfn;
            pfn = colo_bitmap_next(&ram, pfn + 1);
        }
        nread += n;
        if (be->read_pages(d, pfns, n, buf) < 0)
            goto out;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *page = buf + (size_t)i * COLO_PAGE_SIZE;
            uint8_t le[8];

            if (colo_page_is_zero(page))
                continue;
            for (unsigned b = 0; b < 8; b++)
                le[b] = (uint8_t)(pfns[i] >> (8 * b));
            if (dump)
                fprintf(dump, "%" PRIu64 " %016" PRIx64 "\n", pfns[i],
                        page_hash(page));
            if (EVP_DigestUpdate(ctx, le, sizeof(le)) != 1 ||
                EVP_DigestUpdate(ctx, page, COLO_PAGE_SIZE) != 1)
                goto out;
        }
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto out;
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    rc = 0;
    colo_debug("verify: %s digest of checkpoint %" PRIu64 ": %" PRIu64 " of %" PRIu64
               " pfns read, %.0f ms", label, seq, nread, nr_pages,
               (double)(colo_now_ns() - t0) / 1e6);
out:
    if (rc < 0)
        colo_err("verify: cannot compute the guest memory digest");
    if (dump)
        fclose(dump);
    colo_bitmap_free(&ram);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

int colo_vcpu_digest(const struct colo_backend *be, struct colo_domain *d, char hex[65])
{
    unsigned char md[32];
    void *buf = NULL;
    size_t len = 0;

    if (!be->vcpu_state)
        return 1;
    if (be->vcpu_state(d, &buf, &len) < 0)
        return -1;
    if (!EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL)) {
        colo_err("verify: cannot compute the vCPU state digest");
        free(buf);
        return -1;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    free(buf);
    return 0;
}
