/*
 * compare.h - the output comparator at the heart of colo-proxy.
 *
 * Frames the PVM sends are held; frames the SVM sends are only compared.
 * A PVM frame is released to the client once the SVM has produced the same
 * thing:
 *
 *   TCP   the same bytes at the same offset of the connection's byte stream
 *         (offsets count from each side's own initial sequence number, so
 *         different ISNs, segmentation, retransmissions and reordering do
 *         not matter), the same SYN / FIN / RST at the same place, and an
 *         acknowledgement at least as far (the client must not drop data
 *         the SVM has not received);
 *   UDP, ICMP   the same payload, packet for packet, per flow;
 *   other frames (ARP, IP fragments, unknown protocols, malformed frames)
 *         the same bytes, frame for frame.
 *
 * Headers that legitimately differ are never compared: IP ID, TTL/hop
 * limit, checksums, TCP window, TCP options (timestamps), sequence numbers
 * themselves.  docs/proxy.md says why for each.
 *
 * One header is changed, with clamp_window: the window a released PVM
 * frame offers the client ends no further than the SVM's own window does
 * (see clamp_window() in compare.c for why).
 *
 * When the two differ, when a held frame waits longer than the SVM-lag
 * timeout (or the shorter SVM-stall one, for a TCP frame the SVM matched
 * only in part before falling silent: docs/proxy.md, "Limits"), or when
 * held bytes reach the cap, the comparator asks for a
 * checkpoint (once, until it is done) and holds everything meanwhile.  When
 * the checkpoint is done, every held PVM frame is released, what the SVM
 * sent is dropped, and every stream restarts from the PVM's current
 * position - the SVM now has the PVM's state.  Nothing is ever dropped to
 * stay within memory limits: reaching them is a reason to checkpoint.
 */
#ifndef COLO_COMPARE_H
#define COLO_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colo-proto.h"     /* enum colo_trigger */

struct cmp_cfg {
    uint64_t svm_lag_ns;    /* a held frame older than this: checkpoint */
    uint64_t svm_stall_ns;  /* a held TCP frame the SVM matched only in part, and
                               no SVM data on that connection for this long:
                               checkpoint (0: only svm_lag_ns applies) */
    size_t max_held_bytes;  /* PVM bytes held (all flows): checkpoint at the cap */
    size_t max_svm_ahead;   /* SVM bytes buffered per TCP stream before the PVM's */
    size_t max_conns;
    bool clamp_window;      /* lower released windows to the SVM's (complete
                               checksums only: not for QEMU's chardevs) */
};

struct cmp_ops {
    void *opaque;
    void (*release)(void *opaque, const uint8_t *frame, size_t len);
    void (*request)(void *opaque, enum colo_trigger cause);
};

struct cmp_stats {
    uint64_t released, released_bytes, svm_frames, svm_dropped;
    uint64_t divergences, requests[COLO_TRIGGER__MAX];
    uint64_t malformed, conns, checkpoints;
    uint64_t svm_stalls;    /* of requests[COLO_TRIGGER_SVM_LAG]: svm_stall_ns ones */
    uint64_t held_frames, held_bytes;
    uint64_t window_clamped;    /* released frames whose window was lowered */
};

struct cmp;

struct cmp *cmp_new(const struct cmp_cfg *cfg, const struct cmp_ops *ops);
void cmp_free(struct cmp *c);

/* One frame from each VM, at time now (ns).  -1 only if out of memory. */
int  cmp_pvm_frame(struct cmp *c, const uint8_t *frame, size_t len, uint64_t now);
/* The same, for a frame that carries lead bytes in front of its Ethernet
 * header (QEMU's vnet header and its length, in the chardev framing): they
 * are never compared, and go out with the frame - release() is given all
 * len bytes. */
int  cmp_pvm_frame_lead(struct cmp *c, const uint8_t *frame, size_t len, size_t lead, uint64_t now);
int  cmp_svm_frame(struct cmp *c, const uint8_t *frame, size_t len, uint64_t now);
/* Check the SVM-lag and SVM-stall timeouts. */
void cmp_tick(struct cmp *c, uint64_t now);
/* The checkpoint asked for (or any other) has committed. */
void cmp_checkpoint_done(struct cmp *c);
/* Failover or loss of the secondary: release everything, compare no more. */
void cmp_passthrough(struct cmp *c);

const struct cmp_stats *cmp_stats(const struct cmp *c);
/* "comparing", "checkpoint-requested" or "passthrough". */
const char *cmp_state(const struct cmp *c);

#endif
