/*
 * colo-proto.h - the xen-colo wire protocol, defined here and nowhere else.
 *
 * Every process in xen-colo (primary engine, secondary engine, colo-proxy,
 * blktap-colo, the status tools) speaks the same framed records, the way the
 * processes of relayd or OpenSSH speak one imsg format.  A record is
 *
 *     u32 type | u32 length | length bytes of body
 *
 * all integers little-endian, the header 8 bytes, the body at most
 * COLO_REC_MAX_BODY bytes.  Each record type has a fixed body layout below;
 * colo_rec_decode() checks the length exactly against the layout before it
 * looks at a single field, so a decoder never reads past its input.
 *
 * Record names follow Xen's libxl checkpoint states (CHECKPOINT_NEW,
 * CHECKPOINT_SVM_SUSPENDED, CHECKPOINT_SVM_READY, CHECKPOINT_SVM_RESUMED) so
 * a Xen reader recognises the handshake; docs/protocol.md walks through it.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_PROTO_H
#define COLO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define COLO_PROTO_VERSION      1u
#define COLO_HELLO_MAGIC        0x6f6c6f632d6e6578ull  /* "xen-colo" read as LE u64 */
#define COLO_REC_HDR_SIZE       8u
#define COLO_REC_MAX_BODY       (8u << 20)   /* 8 MiB: a page batch fits with room */
#define COLO_PAGE_SIZE          4096u
#define COLO_PAGE_SHIFT         12u
#define COLO_MAX_PAGE_BATCH     1024u        /* pages in one MEMORY_PAGES record */
#define COLO_MAX_PFN_LIST       65536u       /* pfns in one DIRTY_PFNS record */
#define COLO_MAX_TEXT           (1u << 20)   /* STATUS / ERROR text */
#define COLO_MAX_NR_PAGES       (1ull << 36) /* 256 TiB of guest: sanity bound */
#define COLO_DISK_SECTOR        512u
#define COLO_MAX_DISK_WRITE     (4u << 20)   /* bytes in one DISK_WRITE */
#define COLO_DISK_FUA           (1u << 0)

/* Capability bits exchanged in HELLO; the session uses the intersection. */
#define COLO_CAP_SVM_DIRTY      (1ull << 0)  /* secondary sends its dirty pfns */
#define COLO_CAP_DISK           (1ull << 1)  /* disk barrier/commit records */
#define COLO_CAP_HEARTBEAT      (1ull << 2)
#define COLO_CAP_ALL            (COLO_CAP_SVM_DIRTY | COLO_CAP_DISK | COLO_CAP_HEARTBEAT)

enum colo_rec_type {
    /* session */
    COLO_REC_HELLO              = 0x0001,
    COLO_REC_ERROR              = 0x0002,
    /* memory and device state (primary -> secondary, except DIRTY_PFNS) */
    COLO_REC_MEMORY_PAGES       = 0x0010,
    COLO_REC_DIRTY_PFNS         = 0x0011,  /* secondary -> primary */
    COLO_REC_DEVICE_STATE       = 0x0012,
    COLO_REC_INITIAL_DONE       = 0x0013,  /* end of the live initial copy */
    /* checkpoint control */
    COLO_REC_CHECKPOINT_NEW     = 0x0020,  /* P -> S: suspend the SVM (the PVM stops after) */
    COLO_REC_SVM_SUSPENDED      = 0x0021,  /* S -> P: SVM suspended, N dirty pfns follow */
    COLO_REC_CHECKPOINT_END     = 0x0022,  /* P -> S: all state sent, commit */
    COLO_REC_SVM_READY          = 0x0023,  /* S -> P: checkpoint committed */
    COLO_REC_SVM_RESUMED        = 0x0024,  /* S -> P: SVM running again */
    /* disk */
    COLO_REC_DISK_BARRIER       = 0x0030,  /* every write of the epoch acknowledged */
    COLO_REC_DISK_COMMIT        = 0x0031,
    COLO_REC_DISK_WRITE         = 0x0032,  /* disk primary -> secondary: one PVM write */
    COLO_REC_DISK_ACK           = 0x0033,  /* disk secondary -> primary: writes received */
    /* liveness and failover */
    COLO_REC_HEARTBEAT          = 0x0040,
    COLO_REC_FAILOVER           = 0x0041,
    /* control sockets (proxy, operators, status tools) */
    COLO_REC_CHECKPOINT_REQUEST = 0x0050,
    COLO_REC_CHECKPOINT_DONE    = 0x0051,
    COLO_REC_STATUS_REQUEST     = 0x0052,
    COLO_REC_STATUS             = 0x0053,
    COLO_REC_CHECKPOINT_SUBSCRIBE = 0x0054, /* control client: I release output at
                                             * CHECKPOINT_DONE; wait for my answer */
};

/* Why a checkpoint was taken; counted per cause in status. */
enum colo_trigger {
    COLO_TRIGGER_PERIODIC = 0,   /* the checkpoint interval elapsed */
    COLO_TRIGGER_DIVERGENCE,     /* the proxy saw PVM and SVM output differ */
    COLO_TRIGGER_SVM_LAG,        /* the SVM stayed silent past the proxy's timeout */
    COLO_TRIGGER_QUEUE_FULL,     /* a proxy or disk buffer reached its cap */
    COLO_TRIGGER_REQUEST,        /* an operator or tool asked */
    COLO_TRIGGER_INITIAL,        /* the first checkpoint that starts the SVM */
    COLO_TRIGGER__MAX
};

enum colo_role { COLO_ROLE_PRIMARY = 1, COLO_ROLE_SECONDARY = 2, COLO_ROLE_CONTROL = 3 };

enum colo_failover_reason {
    COLO_FAILOVER_REQUEST = 1,   /* operator asked */
    COLO_FAILOVER_PEER_LOST,     /* stream broke or heartbeat expired */
};

/* Decoded bodies.  Pointers in them point into the buffer that was decoded. */
struct colo_hello {
    uint64_t magic;
    uint32_t version;
    uint32_t role;
    uint64_t caps;
    uint64_t nr_pages;      /* guest size in pages (primary) or 0 */
    uint32_t page_size;
    uint32_t reserved;
    char     domain[64];    /* NUL-terminated name, for logs and checks */
};

struct colo_pages {         /* MEMORY_PAGES: count pfns then count pages */
    uint32_t count;
    const uint8_t *pfns;    /* count little-endian u64; use colo_pages_pfn() */
    const uint8_t *data;    /* count * COLO_PAGE_SIZE bytes */
};

struct colo_pfn_list {      /* DIRTY_PFNS */
    uint32_t count;
    const uint8_t *pfns;
};

struct colo_blob {          /* DEVICE_STATE, STATUS, ERROR text */
    uint32_t len;
    const uint8_t *data;
};

struct colo_seq {           /* CHECKPOINT_NEW, SVM_READY, SVM_RESUMED, CHECKPOINT_DONE */
    uint64_t seq;
};

struct colo_svm_suspended {
    uint64_t seq;
    uint64_t nr_dirty;      /* pfns to follow in DIRTY_PFNS records */
};

struct colo_checkpoint_end {
    uint64_t seq;
    uint64_t nr_pages;      /* MEMORY_PAGES pages sent in this checkpoint */
    uint64_t dev_len;       /* bytes of DEVICE_STATE sent (0: none) */
};

struct colo_initial_done {
    uint64_t nr_pages;      /* pages sent during the initial copy */
};

struct colo_disk_rec {      /* DISK_BARRIER, DISK_COMMIT, DISK_ACK */
    uint64_t epoch;
    uint64_t writes;        /* writes of the epoch (barrier) */
};

struct colo_disk_write {    /* DISK_WRITE */
    uint64_t epoch;
    uint64_t offset;        /* bytes, multiple of 512 */
    uint32_t len;           /* bytes, multiple of 512, 512 .. COLO_MAX_DISK_WRITE */
    uint32_t flags;         /* COLO_DISK_FUA */
    const uint8_t *data;
};

struct colo_heartbeat {
    uint64_t seq;
    uint64_t time_ns;       /* sender's CLOCK_MONOTONIC, for round-trip figures */
};

struct colo_failover {
    uint32_t reason;
};

struct colo_ckpt_request {
    uint32_t cause;         /* enum colo_trigger */
};

struct colo_error {
    uint32_t code;          /* an errno value */
    struct colo_blob text;
};

struct colo_rec {
    uint32_t type;
    union {
        struct colo_hello hello;
        struct colo_error error;
        struct colo_pages pages;
        struct colo_pfn_list pfns;
        struct colo_blob blob;
        struct colo_seq seq;
        struct colo_svm_suspended suspended;
        struct colo_checkpoint_end end;
        struct colo_initial_done initial;
        struct colo_disk_rec disk;
        struct colo_disk_write dwrite;
        struct colo_heartbeat hb;
        struct colo_failover failover;
        struct colo_ckpt_request request;
    } u;
};

/*
 * Parse a record header.  Returns 0 and fills type/len, or -1 with *why set
 * when the header announces a body longer than COLO_REC_MAX_BODY.
 */
int colo_rec_parse_hdr(const uint8_t hdr[COLO_REC_HDR_SIZE], uint32_t *type,
                       uint32_t *len, const char **why);

/*
 * Decode one record body of the given type.  Returns 0 on success, -1 with
 * *why naming the defect (unknown type, wrong length, bad field) otherwise.
 * Never reads outside body[0..len).
 */
int colo_rec_decode(uint32_t type, const uint8_t *body, uint32_t len,
                    struct colo_rec *out, const char **why);

/* The pfn at index i of a MEMORY_PAGES or DIRTY_PFNS record. */
uint64_t colo_pfn_at(const uint8_t *pfns, uint32_t i);

/*
 * Encoders write header + body into buf (capacity cap) and return the total
 * size, or 0 if cap is too small.  Records with large payloads (pages, pfn
 * lists, blobs) have a header-only encoder instead, so callers can write the
 * payload straight from where it lives (see colo-channel.h).
 */
size_t colo_enc_hello(uint8_t *buf, size_t cap, const struct colo_hello *h);
size_t colo_enc_seq(uint8_t *buf, size_t cap, uint32_t type, uint64_t seq);
size_t colo_enc_svm_suspended(uint8_t *buf, size_t cap, uint64_t seq, uint64_t nr_dirty);
size_t colo_enc_checkpoint_end(uint8_t *buf, size_t cap, const struct colo_checkpoint_end *e);
size_t colo_enc_initial_done(uint8_t *buf, size_t cap, uint64_t nr_pages);
size_t colo_enc_disk(uint8_t *buf, size_t cap, uint32_t type, uint64_t epoch, uint64_t writes);
/* DISK_WRITE header and fixed fields (32 bytes); len bytes of data follow. */
size_t colo_enc_disk_write_prefix(uint8_t *buf, size_t cap, uint64_t epoch, uint64_t offset,
                                  uint32_t len, uint32_t flags);
size_t colo_enc_heartbeat(uint8_t *buf, size_t cap, uint64_t seq, uint64_t time_ns);
size_t colo_enc_failover(uint8_t *buf, size_t cap, uint32_t reason);
size_t colo_enc_ckpt_request(uint8_t *buf, size_t cap, uint32_t cause);
size_t colo_enc_empty(uint8_t *buf, size_t cap, uint32_t type);

/* Header (and fixed prefix) of variable-size records; payload follows. */
size_t colo_enc_hdr(uint8_t *buf, size_t cap, uint32_t type, uint32_t len);
/* MEMORY_PAGES prefix: header, count, reserved, then the pfn list. */
size_t colo_enc_pages_prefix(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count);
size_t colo_enc_pfn_list(uint8_t *buf, size_t cap, const uint64_t *pfns, uint32_t count);
/* DIRTY_PFNS header and count only (16 bytes); count pfns, each a
 * little-endian u64, must follow. */
size_t colo_enc_pfn_list_prefix(uint8_t *buf, size_t cap, uint32_t count);
size_t colo_enc_error_prefix(uint8_t *buf, size_t cap, uint32_t code, uint32_t text_len);

/* Body lengths of the variable records, for callers that build them. */
static inline uint64_t colo_pages_body_len(uint32_t count)
{
    return 8u + 8ull * count + (uint64_t)COLO_PAGE_SIZE * count;
}
static inline uint64_t colo_pfn_list_body_len(uint32_t count)
{
    return 8u + 8ull * count;
}

const char *colo_rec_name(uint32_t type);
const char *colo_trigger_name(enum colo_trigger t);
int colo_trigger_from_name(const char *name);  /* -1 if unknown */

#endif /* COLO_PROTO_H */
