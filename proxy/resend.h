/*
 * resend.h - repair of the client's bytes the SVM did not take (secondary side).
 *
 * The client's TCP segments reach the SVM as a copy: the client only ever
 * hears the PVM.  When the SVM loses one, the client never learns of it.
 * Causes include a segment past the SVM's receive window, a full receive
 * queue, or a frame the forward link or the SVM's vif refused.  The PVM
 * acknowledges the bytes, but the comparator holds that acknowledgement
 * until the SVM's matches it, and nothing would ever send the bytes again.
 * The connection would then wait for the comparator's SVM-lag checkpoint.
 *
 * So the secondary keeps a copy of every client segment that carries data
 * (or a FIN) until the SVM acknowledges it.  It sends a copy to the SVM
 * again when one of these happens:
 *
 *   - the SVM's window opens over a segment that was sent past its right
 *     edge (this kernel drops such a segment whole);
 *   - the SVM repeats an acknowledgement (two duplicate ACKs: it saw a
 *     gap), and then, until it has all that was held at that moment, each
 *     acknowledgement that moves but stops short (a partial ACK: the next
 *     gap);
 *   - the SVM stays silent past a timeout (RS_RTO_FIRST_MS, doubled after
 *     each try without progress, at most RS_RTO_MAX_MS), well inside the
 *     comparator's SVM-lag timeout.
 *
 * A copy goes out as a retransmission by the client would: it carries
 * the client's latest acknowledgement (already translated by rewrite.c)
 * and its latest timestamp.  Otherwise the SVM's PAWS check would drop a
 * copy whose timestamp is older than the ones it has seen since.
 *
 * Memory is bounded: past `max_bytes` held, new segments are not kept and
 * are counted as `overflow`; a loss of one of those is then left to the
 * comparator's SVM-lag checkpoint, as before.  The slots kept for reuse
 * count against the same bound.  Everything held is dropped at a checkpoint
 * (the SVM then has the PVM's TCP state, which holds these bytes) and at
 * failover (the SVM is the VM, and the client retransmits to it itself).
 */
#ifndef COLO_RESEND_H
#define COLO_RESEND_H

#include <stddef.h>
#include <stdint.h>

#define RS_RTO_FIRST_MS 30      /* past a delayed ACK (40 ms) in most cases */
#define RS_RTO_MAX_MS 240
#define RS_DUPACK_GAP_MS 2      /* at most one copy per this gap on duplicate ACKs */
#define RS_DEFAULT_MAX_BYTES (16u << 20)

struct resend;

/* Sends one frame to the SVM (the caller's port). */
typedef void rs_send_fn(void *opaque, const uint8_t *frame, size_t len);

struct rs_stats {
    uint64_t held_frames, held_bytes;   /* now */
    uint64_t resent;                    /* copies sent again, all causes: */
    uint64_t resent_window;             /*   the SVM's window opened over them */
    uint64_t resent_dupack;             /*   duplicate ACKs */
    uint64_t resent_timer;              /*   the SVM stayed silent */
    uint64_t overflow;                  /* segments not kept: the buffer was full */
    uint64_t conns;                     /* connections tracked now */
    uint64_t spare_bytes;               /* free slots kept for reuse (within the bound) */
};

/* max_bytes: the most frame bytes held at once (> 0). */
struct resend *rs_new(size_t max_bytes);
void rs_free(struct resend *r);

/* A client frame as it was just sent to the SVM (after rewriting). */
void rs_client(struct resend *r, const uint8_t *frame, size_t len, uint64_t now_ns);
/* A frame from the SVM: what it acknowledges is let go, and what its
 * acknowledgement shows missing is sent again through send. */
void rs_svm(struct resend *r, const uint8_t *frame, size_t len, uint64_t now_ns,
            rs_send_fn *send, void *opaque);
/* The timer: send again what the SVM left unacknowledged too long.  Returns
 * the milliseconds until it should be called again (-1: nothing held). */
int  rs_tick(struct resend *r, uint64_t now_ns, rs_send_fn *send, void *opaque);
/* Let everything go (a checkpoint committed, or failover). */
void rs_clear(struct resend *r);
void rs_stats(const struct resend *r, struct rs_stats *out);

#endif
