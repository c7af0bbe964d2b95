/*
 * xc-stream.h - reading libxenguest's migration stream (version 2/3), the
 * format xc_domain_save() writes, including its COLO mode.
 *
 * xc_domain_save(..., XC_STREAM_COLO, recv_fd) owns the primary's loop: it
 * sends the domain's memory and CPU state as a stream of records, ends each
 * checkpoint with a CHECKPOINT record, and before each checkpoint after the
 * first it reads the secondary's dirty pages from recv_fd as one
 * CHECKPOINT_DIRTY_PFN_LIST record.  A secondary that does not use
 * xc_domain_restore() (docs/xen-backend.md says why ours cannot) must read
 * that stream itself and answer in its framing.  This file is that reader
 * and that answer; it knows nothing of Xen's libraries, so every decoder is
 * tested on any machine, with hostile input.
 *
 * Layout (all little-endian except the image header, which is big-endian):
 *
 *   image header   24 bytes: marker u64 (all ones), id u32 "XENF",
 *                  version u32 (2 or 3), options u16 (bit 0: big-endian
 *                  stream), 6 reserved bytes
 *   domain header  16 bytes: type u32 (1 PV, 2 HVM), page shift u16 (12),
 *                  reserved u16, Xen major u32, Xen minor u32
 *   record         type u32, length u32 (of the body), body, zero padding
 *                  to a multiple of 8 bytes; bit 31 of the type marks a
 *                  record a reader may skip
 *
 * Every decoder checks a length before it reads, names what is wrong in
 * *why, and never reads past the buffer it was given.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XC_STREAM_H
#define COLO_XC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLO_XCS_IHDR_SIZE   24u
#define COLO_XCS_DHDR_SIZE   16u
#define COLO_XCS_RHDR_SIZE   8u
#define COLO_XCS_MAX_BODY    (128u << 20)   /* libxenguest's own limit */
#define COLO_XCS_PAGE_SIZE   4096u
#define COLO_XCS_OPTIONAL    0x80000000u
#define COLO_XCS_PFN_MASK    0x000fffffffffffffull  /* bits 0-51 of an entry */
#define COLO_XCS_RSVD_MASK   0x0ff0000000000000ull  /* bits 52-59 */

enum colo_xcs_type {
    COLO_XCS_END                  = 0x00,
    COLO_XCS_PAGE_DATA            = 0x01,
    COLO_XCS_X86_PV_INFO          = 0x02,
    COLO_XCS_X86_PV_P2M_FRAMES    = 0x03,
    COLO_XCS_X86_PV_VCPU_BASIC    = 0x04,
    COLO_XCS_X86_PV_VCPU_EXTENDED = 0x05,
    COLO_XCS_X86_PV_VCPU_XSAVE    = 0x06,
    COLO_XCS_SHARED_INFO          = 0x07,
    COLO_XCS_X86_TSC_INFO         = 0x08,
    COLO_XCS_HVM_CONTEXT          = 0x09,
    COLO_XCS_HVM_PARAMS           = 0x0a,
    COLO_XCS_TOOLSTACK            = 0x0b,
    COLO_XCS_X86_PV_VCPU_MSRS     = 0x0c,
    COLO_XCS_VERIFY               = 0x0d,
    COLO_XCS_CHECKPOINT           = 0x0e,
    COLO_XCS_DIRTY_PFN_LIST       = 0x0f,
    COLO_XCS_STATIC_DATA_END      = 0x10,
    COLO_XCS_X86_CPUID_POLICY     = 0x11,
    COLO_XCS_X86_MSR_POLICY       = 0x12,
};

/* The type of a PAGE_DATA entry (its top 4 bits, Xen's XEN_DOMCTL_PFINFO_*):
 * 0 an ordinary page, 1-4 and 9-12 PV page tables (plain and pinned), all
 * with 4096 bytes of data; and three without data. */
enum colo_xcs_page_type {
    COLO_XCS_PAGE_NORMAL = 0x0,
    COLO_XCS_PAGE_BROKEN = 0xd,     /* a broken frame: nothing to write */
    COLO_XCS_PAGE_XALLOC = 0xe,     /* populate, no data */
    COLO_XCS_PAGE_XTAB   = 0xf,     /* no page there (a hole, MMIO) */
};

enum colo_xcs_domain_type {
    COLO_XCS_DOMAIN_PV  = 1,
    COLO_XCS_DOMAIN_HVM = 2,
};

struct colo_xcs_domain {
    uint32_t type;          /* enum colo_xcs_domain_type */
    uint32_t xen_major, xen_minor;
    uint32_t version;       /* from the image header */
};

/* A decoded PAGE_DATA body; the pointers point into it. */
struct colo_xcs_pages {
    uint32_t       count;   /* entries, >= 1 */
    uint32_t       nr_data; /* entries that carry 4096 bytes */
    const uint8_t *entries; /* count u64 entries: pfn | type << 60 */
    const uint8_t *data;    /* nr_data pages, in entry order */
};

/* The two headers.  0, or -1 with *why. */
int colo_xcs_image_header(const uint8_t hdr[COLO_XCS_IHDR_SIZE], uint32_t *version,
                          const char **why);
int colo_xcs_domain_header(const uint8_t hdr[COLO_XCS_DHDR_SIZE], struct colo_xcs_domain *d,
                           const char **why);

/* A record header: its type and body length (at most COLO_XCS_MAX_BODY).
 * The body on the wire is colo_xcs_padded(*len) bytes. */
int colo_xcs_rec_header(const uint8_t hdr[COLO_XCS_RHDR_SIZE], uint32_t *type, uint32_t *len,
                        const char **why);

static inline uint32_t colo_xcs_padded(uint32_t len)
{
    return (len + 7u) & ~7u;
}

/* Check a record body whose form this reader knows: exact sizes, counts,
 * reserved fields, zero padding (pad = the padding bytes that followed it,
 * colo_xcs_padded(len) - len of them).  Records of types it does not
 * interpret pass if optional; a mandatory unknown type is an error, as it
 * is for libxenguest. */
int colo_xcs_rec_check(uint32_t type, const uint8_t *body, uint32_t len, const uint8_t *pad,
                       const char **why);

/* PAGE_DATA: count >= 1, entries with valid types, no reserved bits, pfns
 * below limit, and a length of exactly 8 + 8 * count + 4096 * nr_data. */
int colo_xcs_page_data(const uint8_t *body, uint32_t len, uint64_t limit,
                       struct colo_xcs_pages *out, const char **why);

static inline uint64_t colo_xcs_entry(const struct colo_xcs_pages *p, uint32_t i)
{
    const uint8_t *e = p->entries + 8u * i;
    uint64_t v = 0;

    for (int b = 7; b >= 0; b--)
        v = v << 8 | e[b];
    return v;
}

static inline uint64_t colo_xcs_entry_pfn(uint64_t e)
{
    return e & COLO_XCS_PFN_MASK;
}

static inline unsigned colo_xcs_entry_type(uint64_t e)
{
    return (unsigned)(e >> 60);
}

/* Whether a PAGE_DATA entry of this type carries 4096 bytes of data; -1 if
 * the type is not one Xen defines. */
int colo_xcs_type_has_data(unsigned type);

/* HVM_PARAMS: the count, and entry i (< count) of a checked body. */
uint32_t colo_xcs_params_count(const uint8_t *body);
void colo_xcs_param_at(const uint8_t *body, uint32_t i, uint64_t *index, uint64_t *value);

/* The secondary's answer: one CHECKPOINT_DIRTY_PFN_LIST record (header and
 * count u64 pfns; no padding is ever needed).  Returns its size, or 0 if
 * cap is too small.  colo_xcs_dirty_list_size() says how much to give. */
size_t colo_xcs_dirty_list_size(uint32_t count);
size_t colo_xcs_enc_dirty_list(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count);

/*
 * Writing a stream (restore=libxenguest: the secondary hands each
 * checkpoint to xc_domain_restore in this format).  Each encoder returns
 * the bytes it wrote, or 0 if cap is too small or an argument cannot be
 * encoded.  Every record here needs no padding: its body is a multiple
 * of 8 bytes, except a blob's (HVM_CONTEXT), which the caller pads.
 *
 *   headers        the image header (version d->version, little-endian)
 *                  and the domain header: 40 bytes
 *   rec_header     a record's type and body length
 *   page_prefix    a PAGE_DATA record up to its data: header, count,
 *                  reserved, count entries of type 0 (an ordinary page
 *                  with data); the count pages follow, 4096 bytes each
 *   params         a whole HVM_PARAMS record
 */
#define COLO_XCS_MAX_PAGES  1024u   /* a PAGE_DATA record this writer makes */

size_t colo_xcs_enc_headers(uint8_t *buf, size_t cap, const struct colo_xcs_domain *d);
size_t colo_xcs_enc_rec_header(uint8_t *buf, size_t cap, uint32_t type, uint32_t len);
size_t colo_xcs_page_prefix_size(uint32_t count);
size_t colo_xcs_enc_page_prefix(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count);
size_t colo_xcs_params_size(uint32_t count);
size_t colo_xcs_enc_params(uint8_t *buf, size_t cap, const uint64_t *index,
                           const uint64_t *value, uint32_t count);

/* The header of a CHECKPOINT_DIRTY_PFN_LIST record, as xc_domain_restore
 * writes it on its back channel: *count pfns follow (u64 each).  -1 with
 * *why for another type, a length not a multiple of 8, or more than
 * max_count pfns. */
int colo_xcs_dirty_list_header(const uint8_t hdr[COLO_XCS_RHDR_SIZE], uint64_t max_count,
                               uint32_t *count, const char **why);

const char *colo_xcs_type_name(uint32_t type);

/*
 * A blocking reader over a file descriptor: the headers once, then one
 * record at a time, each checked with colo_xcs_rec_check().  The body stays
 * valid until the next call.
 */
struct colo_xcs_reader {
    int                    fd;
    struct colo_xcs_domain dom;
    uint8_t               *buf;
    size_t                 cap;
    uint64_t               records;     /* records read so far */
    uint64_t               offset;      /* bytes read so far */
};

void colo_xcs_reader_init(struct colo_xcs_reader *r, int fd);
void colo_xcs_reader_free(struct colo_xcs_reader *r);
/* 0, or -1 with *why (a short stream is "truncated"; errno for I/O). */
int colo_xcs_read_headers(struct colo_xcs_reader *r, const char **why);
/* 1 and a record; 0 at a clean end of file between records (a COLO
 * stream has no END record: the primary stops by closing); -1 with *why. */
int colo_xcs_read_record(struct colo_xcs_reader *r, uint32_t *type, const uint8_t **body,
                         uint32_t *len, const char **why);
/* The last record's body becomes the caller's (free() it); the next read
 * allocates anew.  NULL if the record was empty. */
uint8_t *colo_xcs_reader_take(struct colo_xcs_reader *r);

#endif
