/*
 * colo-verify.c - a digest of all guest RAM, read through the backend.
 *
 * Used by --verify: the primary logs the PVM's digest while it is suspended
 * at a checkpoint, the secondary logs the SVM's after commit, and the tests
 * compare the two - a byte-for-byte check that costs one hash per side.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "colo-engine.h"
#include "colo-log.h"

int colo_domain_digest(const struct colo_backend *be, struct colo_domain *d,
                       uint64_t nr_pages, char hex[65])
{
    enum { BATCH = 256 };
    uint64_t pfns[BATCH];
    uint8_t *buf = malloc((size_t)BATCH * COLO_PAGE_SIZE);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;

    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (uint64_t pfn = 0; pfn < nr_pages;) {
        uint32_t n = 0;

        while (n < BATCH && pfn < nr_pages)
            pfns[n++] = pfn++;
        if (be->read_pages(d, pfns, n, buf) < 0 ||
            EVP_DigestUpdate(ctx, buf, (size_t)n * COLO_PAGE_SIZE) != 1)
            goto out;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto out;
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    rc = 0;
out:
    if (rc < 0)
        colo_err("verify: cannot compute the guest memory digest");
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}
