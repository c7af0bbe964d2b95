/*
 * colo-proto.c - encoders and decoders for the records of colo-proto.h.
 *
 * Integers are written byte by byte in little-endian order, so the code is
 * the same on every host and never performs an unaligned load.  Decoders
 * first check that the body length is exactly what the type demands (or, for
 * variable records, what the count inside announces), and only then read.
 */
#include <string.h>

#include "colo-le.h"
#include "colo-proto.h"


uint64_t colo_pfn_at(const uint8_t *pfns, uint32_t i)
{
    return colo_get64(pfns + 8ull * i);
}

/* --- records as a table: fixed body length, or 0 for variable ------------ */

#define HELLO_LEN (8 + 4 + 4 + 8 + 8 + 4 + 4 + 64)

static const struct {
    uint32_t type;
    const char *name;
    uint32_t fixed_len;     /* exact body length; VAR for variable records */
} rec_table[] = {
#define VAR UINT32_MAX
    { COLO_REC_HELLO, "HELLO", HELLO_LEN },
    { COLO_REC_ERROR, "ERROR", VAR },
    { COLO_REC_MEMORY_PAGES, "MEMORY_PAGES", VAR },
    { COLO_REC_DIRTY_PFNS, "DIRTY_PFNS", VAR },
    { COLO_REC_DEVICE_STATE, "DEVICE_STATE", VAR },
    { COLO_REC_INITIAL_DONE, "INITIAL_DONE", 8 },
    { COLO_REC_CHECKPOINT_NEW, "CHECKPOINT_NEW", 8 },
    { COLO_REC_SVM_SUSPENDED, "CHECKPOINT_SVM_SUSPENDED", 16 },
    { COLO_REC_CHECKPOINT_END, "CHECKPOINT_END", 24 },
    { COLO_REC_SVM_READY, "CHECKPOINT_SVM_READY", 8 },
    { COLO_REC_SVM_RESUMED, "CHECKPOINT_SVM_RESUMED", 8 },
    { COLO_REC_DISK_BARRIER, "DISK_BARRIER", 16 },
    { COLO_REC_DISK_COMMIT, "DISK_COMMIT", 16 },
    { COLO_REC_DISK_WRITE, "DISK_WRITE", VAR },
    { COLO_REC_DISK_ACK, "DISK_ACK", 16 },
    { COLO_REC_HEARTBEAT, "HEARTBEAT", 16 },
    { COLO_REC_FAILOVER, "FAILOVER", 4 },
    { COLO_REC_CHECKPOINT_REQUEST, "CHECKPOINT_REQUEST", 4 },
    { COLO_REC_CHECKPOINT_DONE, "CHECKPOINT_DONE", 8 },
    { COLO_REC_STATUS_REQUEST, "STATUS_REQUEST", 0 },
    { COLO_REC_STATUS, "STATUS", VAR },
    { COLO_REC_CHECKPOINT_SUBSCRIBE, "CHECKPOINT_SUBSCRIBE", 0 },
#undef VAR
};

static int rec_index(uint32_t type)
{
    for (size_t i = 0; i < sizeof(rec_table) / sizeof(rec_table[0]); i++)
        if (rec_table[i].type == type)
            return (int)i;
    return -1;
}

const char *colo_rec_name(uint32_t type)
{
    int i = rec_index(type);

    return i < 0 ? "UNKNOWN" : rec_table[i].name;
}

static const char *const trigger_names[COLO_TRIGGER__MAX] = {
    [COLO_TRIGGER_PERIODIC] = "periodic",
    [COLO_TRIGGER_DIVERGENCE] = "divergence",
    [COLO_TRIGGER_SVM_LAG] = "svm-lag",
    [COLO_TRIGGER_QUEUE_FULL] = "queue-full",
    [COLO_TRIGGER_REQUEST] = "request",
    [COLO_TRIGGER_INITIAL] = "initial",
};

const char *colo_trigger_name(enum colo_trigger t)
{
    return (unsigned)t < COLO_TRIGGER__MAX ? trigger_names[t] : "unknown";
}

int colo_trigger_from_name(const char *name)
{
    for (int i = 0; i < COLO_TRIGGER__MAX; i++)
        if (strcmp(trigger_names[i], name) == 0)
            return i;
    return -1;
}

/* --- header ---------------------------------------------------------------- */

int colo_rec_parse_hdr(const uint8_t hdr[COLO_REC_HDR_SIZE], uint32_t *type,
                       uint32_t *len, const char **why)
{
    *type = colo_get32(hdr);
    *len = colo_get32(hdr + 4);
    if (*len > COLO_REC_MAX_BODY) {
        *why = "record body longer than the protocol allows";
        return -1;
    }
    return 0;
}

size_t colo_enc_hdr(uint8_t *buf, size_t cap, uint32_t type, uint32_t len)
{
    if (cap < COLO_REC_HDR_SIZE)
        return 0;
    colo_put32(buf, type);
    colo_put32(buf + 4, len);
    return COLO_REC_HDR_SIZE;
}

/* --- decoding ---------------------------------------------------------------- */

static int fail(const char **why, const char *msg)
{
    *why = msg;
    return -1;
}

static int decode_pages(const uint8_t *b, uint32_t len, struct colo_rec *out, const char **why)
{
    struct colo_pages *p = &out->u.pages;
    uint32_t count;

    if (len < 8)
        return fail(why, "MEMORY_PAGES shorter than its count field");
    count = colo_get32(b);
    if (count == 0 || count > COLO_MAX_PAGE_BATCH)
        return fail(why, "MEMORY_PAGES page count is 0 or above the batch limit");
    if (colo_get32(b + 4) != 0)
        return fail(why, "MEMORY_PAGES reserved field is not zero");
    if (colo_pages_body_len(count) != len)
        return fail(why, "MEMORY_PAGES length does not match its page count");
    p->count = count;
    p->pfns = b + 8;
    p->data = b + 8 + 8ull * count;
    /* Ascending pfns: a cheap check that also rules out duplicates, which
     * would make "applied whole" ambiguous. */
    for (uint32_t i = 1; i < count; i++)
        if (colo_pfn_at(p->pfns, i) <= colo_pfn_at(p->pfns, i - 1))
            return fail(why, "MEMORY_PAGES pfns are not strictly ascending");
    return 0;
}

static int decode_pfns(const uint8_t *b, uint32_t len, struct colo_rec *out, const char **why)
{
    uint32_t count;

    if (len < 8)
        return fail(why, "DIRTY_PFNS shorter than its count field");
    count = colo_get32(b);
    if (count > COLO_MAX_PFN_LIST)
        return fail(why, "DIRTY_PFNS count above the list limit");
    if (colo_get32(b + 4) != 0)
        return fail(why, "DIRTY_PFNS reserved field is not zero");
    if (colo_pfn_list_body_len(count) != len)
        return fail(why, "DIRTY_PFNS length does not match its count");
    out->u.pfns.count = count;
    out->u.pfns.pfns = b + 8;
    return 0;
}

static int decode_hello(const uint8_t *b, struct colo_rec *out, const char **why)
{
    struct colo_hello *h = &out->u.hello;

    h->magic = colo_get64(b);
    h->version = colo_get32(b + 8);
    h->role = colo_get32(b + 12);
    h->caps = colo_get64(b + 16);
    h->nr_pages = colo_get64(b + 24);
    h->page_size = colo_get32(b + 32);
    h->reserved = colo_get32(b + 36);
    memcpy(h->domain, b + 40, sizeof(h->domain));
    if (h->magic != COLO_HELLO_MAGIC)
        return fail(why, "HELLO magic is wrong: the peer is not a xen-colo process");
    if (h->role < COLO_ROLE_PRIMARY || h->role > COLO_ROLE_CONTROL)
        return fail(why, "HELLO names an unknown role");
    if (h->nr_pages > COLO_MAX_NR_PAGES)
        return fail(why, "HELLO announces an impossible guest size");
    if (h->page_size != 0 && h->page_size != COLO_PAGE_SIZE)
        return fail(why, "HELLO page size is not 4096");
    if (memchr(h->domain, '\0', sizeof(h->domain)) == NULL)
        return fail(why, "HELLO domain name is not NUL-terminated");
    return 0;
}

int colo_rec_decode(uint32_t type, const uint8_t *b, uint32_t len,
                    struct colo_rec *out, const char **why)
{
    int i = rec_index(type);

    memset(out, 0, sizeof(*out));
    out->type = type;
    if (i < 0)
        return fail(why, "unknown record type");
    if (len > COLO_REC_MAX_BODY)
        return fail(why, "record body longer than the protocol allows");
    if (rec_table[i].fixed_len != UINT32_MAX && rec_table[i].fixed_len != len)
        return fail(why, "record body has the wrong length for its type");

    switch (type) {
    case COLO_REC_HELLO:
        return decode_hello(b, out, why);
    case COLO_REC_ERROR:
        if (len < 4)
            return fail(why, "ERROR shorter than its code field");
        out->u.error.code = colo_get32(b);
        out->u.error.text.len = len - 4;
        out->u.error.text.data = b + 4;
        if (len - 4 > COLO_MAX_TEXT)
            return fail(why, "ERROR text too long");
        return 0;
    case COLO_REC_MEMORY_PAGES:
        return decode_pages(b, len, out, why);
    case COLO_REC_DIRTY_PFNS:
        return decode_pfns(b, len, out, why);
    case COLO_REC_DEVICE_STATE:
        out->u.blob.len = len;
        out->u.blob.data = b;
        return 0;
    case COLO_REC_STATUS:
        if (len > COLO_MAX_TEXT)
            return fail(why, "STATUS text too long");
        out->u.blob.len = len;
        out->u.blob.data = b;
        return 0;
    case COLO_REC_INITIAL_DONE:
        out->u.initial.nr_pages = colo_get64(b);
        return 0;
    case COLO_REC_CHECKPOINT_NEW:
    case COLO_REC_SVM_READY:
    case COLO_REC_SVM_RESUMED:
    case COLO_REC_CHECKPOINT_DONE:
        out->u.seq.seq = colo_get64(b);
        return 0;
    case COLO_REC_SVM_SUSPENDED:
        out->u.suspended.seq = colo_get64(b);
        out->u.suspended.nr_dirty = colo_get64(b + 8);
        if (out->u.suspended.nr_dirty > COLO_MAX_NR_PAGES)
            return fail(why, "SVM_SUSPENDED announces more dirty pfns than a guest can have");
        return 0;
    case COLO_REC_CHECKPOINT_END:
        out->u.end.seq = colo_get64(b);
        out->u.end.nr_pages = colo_get64(b + 8);
        out->u.end.dev_len = colo_get64(b + 16);
        return 0;
    case COLO_REC_DISK_WRITE:
        if (len < 24)
            return fail(why, "DISK_WRITE shorter than its fixed fields");
        out->u.dwrite.epoch = colo_get64(b);
        out->u.dwrite.offset = colo_get64(b + 8);
        out->u.dwrite.len = colo_get32(b + 16);
        out->u.dwrite.flags = colo_get32(b + 20);
        out->u.dwrite.data = b + 24;
        if (out->u.dwrite.len != len - 24)
            return fail(why, "DISK_WRITE length does not match its data");
        if (out->u.dwrite.len == 0 || out->u.dwrite.len > COLO_MAX_DISK_WRITE ||
            out->u.dwrite.len % COLO_DISK_SECTOR || out->u.dwrite.offset % COLO_DISK_SECTOR)
            return fail(why, "DISK_WRITE offset or length not a positive multiple of 512 within 4 MiB");
        if (out->u.dwrite.flags & ~COLO_DISK_FUA)
            return fail(why, "DISK_WRITE has unknown flags");
        return 0;
    case COLO_REC_DISK_ACK:
    case COLO_REC_DISK_BARRIER:
    case COLO_REC_DISK_COMMIT:
        out->u.disk.epoch = colo_get64(b);
        out->u.disk.writes = colo_get64(b + 8);
        return 0;
    case COLO_REC_HEARTBEAT:
        out->u.hb.seq = colo_get64(b);
        out->u.hb.time_ns = colo_get64(b + 8);
        return 0;
    case COLO_REC_FAILOVER:
        out->u.failover.reason = colo_get32(b);
        if (out->u.failover.reason != COLO_FAILOVER_REQUEST &&
            out->u.failover.reason != COLO_FAILOVER_PEER_LOST)
            return fail(why, "FAILOVER reason unknown");
        return 0;
    case COLO_REC_CHECKPOINT_REQUEST:
        out->u.request.cause = colo_get32(b);
        if (out->u.request.cause >= COLO_TRIGGER__MAX ||
            out->u.request.cause == COLO_TRIGGER_INITIAL)
            return fail(why, "CHECKPOINT_REQUEST cause unknown");
        return 0;
    case COLO_REC_STATUS_REQUEST:
    case COLO_REC_CHECKPOINT_SUBSCRIBE:
        return 0;
    }
    return fail(why, "unknown record type");
}

/* --- encoding ------------------------------------------------------------------ */

/* Header plus a fixed body; returns 0 if it does not fit. */
static uint8_t *begin(uint8_t *buf, size_t cap, uint32_t type, uint32_t len, size_t *total)
{
    *total = COLO_REC_HDR_SIZE + (size_t)len;
    if (cap < *total)
        return NULL;
    colo_enc_hdr(buf, cap, type, len);
    return buf + COLO_REC_HDR_SIZE;
}

size_t colo_enc_hello(uint8_t *buf, size_t cap, const struct colo_hello *h)
{
    size_t total;
    uint8_t *b = begin(buf, cap, COLO_REC_HELLO, HELLO_LEN, &total);

    if (!b)
        return 0;
    colo_put64(b, COLO_HELLO_MAGIC);
    colo_put32(b + 8, h->version);
    colo_put32(b + 12, h->role);
    colo_put64(b + 16, h->caps);
    colo_put64(b + 24, h->nr_pages);
    colo_put32(b + 32, h->page_size);
    colo_put32(b + 36, 0);
    memset(b + 40, 0, 64);
    /* At most 63 bytes: always leave a NUL, the decoder insists on one. */
    memcpy(b + 40, h->domain, strnlen(h->domain, 63));
    return total;
}

static size_t enc_u64_pair(uint8_t *buf, size_t cap, uint32_t type, uint32_t len,
                           uint64_t a, uint64_t b2)
{
    size_t total;
    uint8_t *b = begin(buf, cap, type, len, &total);

    if (!b)
        return 0;
    colo_put64(b, a);
    if (len >= 16)
        colo_put64(b + 8, b2);
    return total;
}

size_t colo_enc_seq(uint8_t *buf, size_t cap, uint32_t type, uint64_t seq)
{
    return enc_u64_pair(buf, cap, type, 8, seq, 0);
}

size_t colo_enc_svm_suspended(uint8_t *buf, size_t cap, uint64_t seq, uint64_t nr_dirty)
{
    return enc_u64_pair(buf, cap, COLO_REC_SVM_SUSPENDED, 16, seq, nr_dirty);
}

size_t colo_enc_checkpoint_end(uint8_t *buf, size_t cap, const struct colo_checkpoint_end *e)
{
    size_t total;
    uint8_t *b = begin(buf, cap, COLO_REC_CHECKPOINT_END, 24, &total);

    if (!b)
        return 0;
    colo_put64(b, e->seq);
    colo_put64(b + 8, e->nr_pages);
    colo_put64(b + 16, e->dev_len);
    return total;
}

size_t colo_enc_initial_done(uint8_t *buf, size_t cap, uint64_t nr_pages)
{
    return enc_u64_pair(buf, cap, COLO_REC_INITIAL_DONE, 8, nr_pages, 0);
}

size_t colo_enc_disk(uint8_t *buf, size_t cap, uint32_t type, uint64_t epoch, uint64_t writes)
{
    return enc_u64_pair(buf, cap, type, 16, epoch, writes);
}

size_t colo_enc_disk_write_prefix(uint8_t *buf, size_t cap, uint64_t epoch, uint64_t offset,
                                  uint32_t len, uint32_t flags)
{
    if (cap < COLO_REC_HDR_SIZE + 24 || len > COLO_MAX_DISK_WRITE)
        return 0;
    colo_enc_hdr(buf, cap, COLO_REC_DISK_WRITE, 24 + len);
    colo_put64(buf + 8, epoch);
    colo_put64(buf + 16, offset);
    colo_put32(buf + 24, len);
    colo_put32(buf + 28, flags);
    return COLO_REC_HDR_SIZE + 24;
}

size_t colo_enc_heartbeat(uint8_t *buf, size_t cap, uint64_t seq, uint64_t time_ns)
{
    return enc_u64_pair(buf, cap, COLO_REC_HEARTBEAT, 16, seq, time_ns);
}

static size_t enc_u32(uint8_t *buf, size_t cap, uint32_t type, uint32_t v)
{
    size_t total;
    uint8_t *b = begin(buf, cap, type, 4, &total);

    if (!b)
        return 0;
    colo_put32(b, v);
    return total;
}

size_t colo_enc_failover(uint8_t *buf, size_t cap, uint32_t reason)
{
    return enc_u32(buf, cap, COLO_REC_FAILOVER, reason);
}

size_t colo_enc_ckpt_request(uint8_t *buf, size_t cap, uint32_t cause)
{
    return enc_u32(buf, cap, COLO_REC_CHECKPOINT_REQUEST, cause);
}

size_t colo_enc_empty(uint8_t *buf, size_t cap, uint32_t type)
{
    size_t total;

    return begin(buf, cap, type, 0, &total) ? total : 0;
}

size_t colo_enc_pages_prefix(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count)
{
    size_t need = COLO_REC_HDR_SIZE + 8 + 8 * (size_t)count;

    if (count == 0 || count > COLO_MAX_PAGE_BATCH || cap < need)
        return 0;
    colo_enc_hdr(buf, cap, COLO_REC_MEMORY_PAGES, (uint32_t)colo_pages_body_len(count));
    colo_put32(buf + 8, count);
    colo_put32(buf + 12, 0);
    for (uint32_t i = 0; i < count; i++)
        colo_put64(buf + 16 + 8 * (size_t)i, pfns[i]);
    return need;
}

size_t colo_enc_pfn_list(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count)
{
    size_t need = COLO_REC_HDR_SIZE + (size_t)colo_pfn_list_body_len(count);

    if (count > COLO_MAX_PFN_LIST || cap < need)
        return 0;
    colo_enc_hdr(buf, cap, COLO_REC_DIRTY_PFNS, (uint32_t)colo_pfn_list_body_len(count));
    colo_put32(buf + 8, count);
    colo_put32(buf + 12, 0);
    for (uint32_t i = 0; i < count; i++)
        colo_put64(buf + 16 + 8 * (size_t)i, pfns[i]);
    return need;
}

size_t colo_enc_pfn_list_prefix(uint8_t *buf, size_t cap, uint32_t count)
{
    if (count > COLO_MAX_PFN_LIST || cap < COLO_REC_HDR_SIZE + 8)
        return 0;
    colo_enc_hdr(buf, cap, COLO_REC_DIRTY_PFNS, (uint32_t)colo_pfn_list_body_len(count));
    colo_put32(buf + 8, count);
    colo_put32(buf + 12, 0);
    return COLO_REC_HDR_SIZE + 8;
}

size_t colo_enc_error_prefix(uint8_t *buf, size_t cap, uint32_t code, uint32_t text_len)
{
    if (cap < COLO_REC_HDR_SIZE + 4 || text_len > COLO_MAX_TEXT)
        return 0;
    colo_enc_hdr(buf, cap, COLO_REC_ERROR, 4 + text_len);
    colo_put32(buf + 8, code);
    return COLO_REC_HDR_SIZE + 4;
}
