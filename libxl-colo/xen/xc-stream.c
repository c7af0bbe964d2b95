/*
 * xc-stream.c - reading libxenguest's migration stream: see xc-stream.h.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include "xc-stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo-le.h"

#define IHDR_MARKER  0xffffffffffffffffull
#define IHDR_ID      0x58454e46u    /* "XENF" */

static uint32_t get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int bad(const char **why, const char *what)
{
    *why = what;
    errno = EINVAL;
    return -1;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int colo_xcs_image_header(const uint8_t hdr[COLO_XCS_IHDR_SIZE], uint32_t *version,
                          const char **why)
{
    uint16_t options = (uint16_t)(hdr[16] << 8 | hdr[17]);

    if (colo_get64(hdr) != IHDR_MARKER)
        return bad(why, "not a Xen migration stream (no image marker)");
    if (get32be(hdr + 8) != IHDR_ID)
        return bad(why, "not a Xen migration stream (image id is not XENF)");
    *version = get32be(hdr + 12);
    if (*version != 2 && *version != 3)
        return bad(why, "unsupported migration stream version (not 2 or 3)");
    if (options & 1u)
        return bad(why, "a big-endian migration stream");
    if (options & ~1u)
        return bad(why, "unknown image header options");
    if (!all_zero(hdr + 18, 6))
        return bad(why, "reserved image header bytes are not zero");
    return 0;
}

int colo_xcs_domain_header(const uint8_t hdr[COLO_XCS_DHDR_SIZE], struct colo_xcs_domain *d,
                           const char **why)
{
    uint32_t type = colo_get32(hdr);

    if (type != COLO_XCS_DOMAIN_PV && type != COLO_XCS_DOMAIN_HVM)
        return bad(why, "unknown domain type in the domain header");
    if (colo_get16(hdr + 4) != 12)
        return bad(why, "page shift is not 12 (4 KiB pages)");
    if (colo_get16(hdr + 6))
        return bad(why, "reserved domain header bytes are not zero");
    d->type = type;
    d->xen_major = colo_get32(hdr + 8);
    d->xen_minor = colo_get32(hdr + 12);
    return 0;
}

int colo_xcs_rec_header(const uint8_t hdr[COLO_XCS_RHDR_SIZE], uint32_t *type, uint32_t *len,
                        const char **why)
{
    *type = colo_get32(hdr);
    *len = colo_get32(hdr + 4);
    if (*len > COLO_XCS_MAX_BODY)
        return bad(why, "record longer than 128 MiB");
    return 0;
}

int colo_xcs_type_has_data(unsigned type)
{
    switch (type) {
    case 0x0:                           /* an ordinary page */
    case 0x1: case 0x2: case 0x3: case 0x4:     /* PV L1-L4 page tables */
    case 0x9: case 0xa: case 0xb: case 0xc:     /* ... pinned */
        return 1;
    case COLO_XCS_PAGE_BROKEN:
    case COLO_XCS_PAGE_XALLOC:
    case COLO_XCS_PAGE_XTAB:
        return 0;
    default:
        return -1;
    }
}

int colo_xcs_page_data(const uint8_t *body, uint32_t len, uint64_t limit,
                       struct colo_xcs_pages *out, const char **why)
{
    uint32_t count, nr_data = 0;

    if (len < 8)
        return bad(why, "PAGE_DATA shorter than its header");
    count = colo_get32(body);
    if (count == 0)
        return bad(why, "PAGE_DATA with no pages");
    if (colo_get32(body + 4))
        return bad(why, "PAGE_DATA reserved field is not zero");
    if (count > (len - 8) / 8)
        return bad(why, "PAGE_DATA shorter than its page list");
    out->count = count;
    out->entries = body + 8;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t e = colo_xcs_entry(out, i);
        int has = colo_xcs_type_has_data(colo_xcs_entry_type(e));

        if (has < 0)
            return bad(why, "PAGE_DATA entry of an unknown page type");
        if (e & COLO_XCS_RSVD_MASK)
            return bad(why, "PAGE_DATA entry with reserved bits set");
        if (colo_xcs_entry_pfn(e) >= limit)
            return bad(why, "PAGE_DATA pfn beyond the guest's memory");
        nr_data += (uint32_t)has;
    }
    /* count <= 16 M (128 MiB / 8), so this cannot overflow 64 bits. */
    if ((uint64_t)len != 8 + 8 * (uint64_t)count + (uint64_t)COLO_XCS_PAGE_SIZE * nr_data)
        return bad(why, "PAGE_DATA length does not match its pages");
    out->nr_data = nr_data;
    out->data = body + 8 + 8 * (size_t)count;
    return 0;
}

uint32_t colo_xcs_params_count(const uint8_t *body)
{
    return colo_get32(body);
}

void colo_xcs_param_at(const uint8_t *body, uint32_t i, uint64_t *index, uint64_t *value)
{
    *index = colo_get64(body + 8 + 16 * (size_t)i);
    *value = colo_get64(body + 16 + 16 * (size_t)i);
}

int colo_xcs_rec_check(uint32_t type, const uint8_t *body, uint32_t len, const uint8_t *pad,
                       const char **why)
{
    struct colo_xcs_pages pages;

    if (len > COLO_XCS_MAX_BODY)
        return bad(why, "record longer than 128 MiB");
    if (!all_zero(pad, colo_xcs_padded(len) - len))
        return bad(why, "record padding is not zero");
    switch (type) {
    case COLO_XCS_END:
    case COLO_XCS_VERIFY:
    case COLO_XCS_CHECKPOINT:
    case COLO_XCS_STATIC_DATA_END:
        return len ? bad(why, "a record that must be empty has a body") : 0;
    case COLO_XCS_PAGE_DATA:
        return colo_xcs_page_data(body, len, COLO_XCS_PFN_MASK + 1, &pages, why);
    case COLO_XCS_X86_TSC_INFO:
        if (len != 24)
            return bad(why, "TSC_INFO is not 24 bytes");
        return colo_get32(body + 20) ? bad(why, "TSC_INFO reserved field is not zero") : 0;
    case COLO_XCS_HVM_CONTEXT:
        return len ? 0 : bad(why, "empty HVM_CONTEXT");
    case COLO_XCS_HVM_PARAMS:
        if (len < 8)
            return bad(why, "HVM_PARAMS shorter than its header");
        if (colo_get32(body + 4))
            return bad(why, "HVM_PARAMS reserved field is not zero");
        if ((uint64_t)len != 8 + 16 * (uint64_t)colo_get32(body))
            return bad(why, "HVM_PARAMS length does not match its count");
        return 0;
    case COLO_XCS_DIRTY_PFN_LIST:
        return len % 8 ? bad(why, "dirty pfn list length is not a multiple of 8") : 0;
    case COLO_XCS_X86_CPUID_POLICY:
        return len % 24 ? bad(why, "CPUID policy length is not a multiple of 24") : 0;
    case COLO_XCS_X86_MSR_POLICY:
        return len % 16 ? bad(why, "MSR policy length is not a multiple of 16") : 0;
    case COLO_XCS_X86_PV_INFO:
    case COLO_XCS_X86_PV_P2M_FRAMES:
    case COLO_XCS_X86_PV_VCPU_BASIC:
    case COLO_XCS_X86_PV_VCPU_EXTENDED:
    case COLO_XCS_X86_PV_VCPU_XSAVE:
    case COLO_XCS_SHARED_INFO:
    case COLO_XCS_TOOLSTACK:
    case COLO_XCS_X86_PV_VCPU_MSRS:
        return 0;       /* known, not read here: whoever applies decides */
    default:
        return type & COLO_XCS_OPTIONAL ? 0 : bad(why, "unknown mandatory record type");
    }
}

size_t colo_xcs_dirty_list_size(uint32_t count)
{
    return COLO_XCS_RHDR_SIZE + 8 * (size_t)count;
}

size_t colo_xcs_enc_dirty_list(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count)
{
    size_t need = colo_xcs_dirty_list_size(count);

    if (count > COLO_XCS_MAX_BODY / 8 || cap < need)
        return 0;
    colo_put32(buf, COLO_XCS_DIRTY_PFN_LIST);
    colo_put32(buf + 4, 8 * count);
    for (uint32_t i = 0; i < count; i++)
        colo_put64(buf + COLO_XCS_RHDR_SIZE + 8 * (size_t)i, pfns[i]);
    return need;
}

/* ---- writing a stream, for xc_domain_restore (restore=libxenguest) ---- */

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t colo_xcs_enc_headers(uint8_t *buf, size_t cap, const struct colo_xcs_domain *d)
{
    const size_t need = COLO_XCS_IHDR_SIZE + COLO_XCS_DHDR_SIZE;

    if (cap < need || (d->version != 2 && d->version != 3) ||
        (d->type != COLO_XCS_DOMAIN_PV && d->type != COLO_XCS_DOMAIN_HVM))
        return 0;
    memset(buf, 0, need);
    colo_put64(buf, IHDR_MARKER);
    put32be(buf + 8, IHDR_ID);
    put32be(buf + 12, d->version);
    /* options 0: little-endian; the reserved bytes stay zero */
    colo_put32(buf + 24, d->type);
    colo_put16(buf + 28, 12);
    colo_put32(buf + 32, d->xen_major);
    colo_put32(buf + 36, d->xen_minor);
    return need;
}

size_t colo_xcs_enc_rec_header(uint8_t *buf, size_t cap, uint32_t type, uint32_t len)
{
    if (cap < COLO_XCS_RHDR_SIZE || len > COLO_XCS_MAX_BODY)
        return 0;
    colo_put32(buf, type);
    colo_put32(buf + 4, len);
    return COLO_XCS_RHDR_SIZE;
}

size_t colo_xcs_page_prefix_size(uint32_t count)
{
    return COLO_XCS_RHDR_SIZE + 8 + 8 * (size_t)count;
}

size_t colo_xcs_enc_page_prefix(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count)
{
    size_t need = colo_xcs_page_prefix_size(count);
    uint64_t body;

    if (count == 0 || count > COLO_XCS_MAX_PAGES || cap < need)
        return 0;
    body = 8 + 8 * (uint64_t)count + COLO_XCS_PAGE_SIZE * (uint64_t)count;
    for (uint32_t i = 0; i < count; i++)
        if (pfns[i] & ~COLO_XCS_PFN_MASK)
            return 0;
    colo_put32(buf, COLO_XCS_PAGE_DATA);
    colo_put32(buf + 4, (uint32_t)body);
    colo_put32(buf + 8, count);
    colo_put32(buf + 12, 0);
    /* Type 0 (an ordinary page) in the top bits: every entry has data. */
    for (uint32_t i = 0; i < count; i++)
        colo_put64(buf + 16 + 8 * (size_t)i, pfns[i]);
    return need;
}

size_t colo_xcs_params_size(uint32_t count)
{
    return COLO_XCS_RHDR_SIZE + 8 + 16 * (size_t)count;
}

size_t colo_xcs_enc_params(uint8_t *buf, size_t cap, const uint64_t *index,
                           const uint64_t *value, uint32_t count)
{
    size_t need = colo_xcs_params_size(count);

    if (count > COLO_XCS_MAX_BODY / 16 - 1 || cap < need)
        return 0;
    colo_put32(buf, COLO_XCS_HVM_PARAMS);
    colo_put32(buf + 4, (uint32_t)(need - COLO_XCS_RHDR_SIZE));
    colo_put32(buf + 8, count);
    colo_put32(buf + 12, 0);
    for (uint32_t i = 0; i < count; i++) {
        colo_put64(buf + 16 + 16 * (size_t)i, index[i]);
        colo_put64(buf + 24 + 16 * (size_t)i, value[i]);
    }
    return need;
}

int colo_xcs_dirty_list_header(const uint8_t hdr[COLO_XCS_RHDR_SIZE], uint64_t max_count,
                               uint32_t *count, const char **why)
{
    uint32_t type, len;

    if (colo_xcs_rec_header(hdr, &type, &len, why) < 0)
        return -1;
    if (type != COLO_XCS_DIRTY_PFN_LIST)
        return bad(why, "the back channel carries a record that is not a dirty pfn list");
    if (len % 8)
        return bad(why, "a dirty pfn list whose length is not a multiple of 8");
    if (len / 8 > max_count)
        return bad(why, "a dirty pfn list longer than the guest has pfns");
    *count = len / 8;
    return 0;
}

const char *colo_xcs_type_name(uint32_t type)
{
    static const char *const names[] = {
        "END", "PAGE_DATA", "X86_PV_INFO", "X86_PV_P2M_FRAMES", "X86_PV_VCPU_BASIC",
        "X86_PV_VCPU_EXTENDED", "X86_PV_VCPU_XSAVE", "SHARED_INFO", "X86_TSC_INFO",
        "HVM_CONTEXT", "HVM_PARAMS", "TOOLSTACK", "X86_PV_VCPU_MSRS", "VERIFY", "CHECKPOINT",
        "CHECKPOINT_DIRTY_PFN_LIST", "STATIC_DATA_END", "X86_CPUID_POLICY", "X86_MSR_POLICY",
    };

    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

void colo_xcs_reader_init(struct colo_xcs_reader *r, int fd)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
}

void colo_xcs_reader_free(struct colo_xcs_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

uint8_t *colo_xcs_reader_take(struct colo_xcs_reader *r)
{
    uint8_t *b = r->buf;

    r->buf = NULL;
    r->cap = 0;
    return b;
}

/* 1 when all n bytes came, 0 at end of file before the first, -1 with *why. */
static int read_all(struct colo_xcs_reader *r, void *buf, size_t n, const char **why)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(r->fd, (uint8_t *)buf + got, n - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            *why = "cannot read the migration stream";
            return -1;
        }
        if (k == 0) {
            if (got == 0)
                return 0;
            return bad(why, "migration stream truncated");
        }
        got += (size_t)k;
        r->offset += (uint64_t)k;
    }
    return 1;
}

int colo_xcs_read_headers(struct colo_xcs_reader *r, const char **why)
{
    uint8_t ih[COLO_XCS_IHDR_SIZE], dh[COLO_XCS_DHDR_SIZE];
    int rc;

    if ((rc = read_all(r, ih, sizeof(ih), why)) <= 0 ||
        (rc = read_all(r, dh, sizeof(dh), why)) <= 0)
        return rc == 0 ? bad(why, "migration stream truncated") : -1;
    if (colo_xcs_image_header(ih, &r->dom.version, why) < 0 ||
        colo_xcs_domain_header(dh, &r->dom, why) < 0)
        return -1;
    return 0;
}

int colo_xcs_read_record(struct colo_xcs_reader *r, uint32_t *type, const uint8_t **body,
                         uint32_t *len, const char **why)
{
    uint8_t h[COLO_XCS_RHDR_SIZE];
    uint32_t padded;
    int rc;

    if ((rc = read_all(r, h, sizeof(h), why)) <= 0)
        return rc;
    if (colo_xcs_rec_header(h, type, len, why) < 0)
        return -1;
    padded = colo_xcs_padded(*len);
    if (padded > r->cap) {
        uint8_t *nb = realloc(r->buf, padded);

        if (!nb) {
            *why = "no memory for a migration stream record";
            return -1;
        }
        r->buf = nb;
        r->cap = padded;
    }
    if (padded && (rc = read_all(r, r->buf, padded, why)) <= 0)
        return rc == 0 ? bad(why, "migration stream truncated") : -1;
    /* An empty first record leaves buf NULL: hand on a real (empty) one. */
    *body = r->buf ? r->buf : (const uint8_t *)"";
    if (colo_xcs_rec_check(*type, *body, *len, *body + *len, why) < 0)
        return -1;
    r->records++;
    return 1;
}
