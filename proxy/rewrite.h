/*
 * rewrite.h - TCP sequence translation for the SVM (secondary side).
 *
 * For a connection opened while both VMs run, the client talks with the
 * PVM's sequence numbers, but the SVM chose its own initial sequence number.
 * Per connection, offset = SVM ISN - PVM ISN.  The rewriter learns it from
 * the SVM's SYN-ACK (the SVM's ISN) and the client's first acknowledgement
 * of it (which acknowledges the PVM's ISN + 1), and then
 *
 *   client -> SVM   adds the offset to the acknowledgement number, so the
 *                   SVM's TCP sees its own numbers acknowledged;
 *   SVM -> client   subtracts it from the sequence number, once the SVM's
 *                   output goes to clients (after failover), so clients keep
 *                   seeing the numbers they know.
 *
 * TCP timestamps are translated the same way (the SVM's clock differs from
 * the PVM's): the offset comes from the SVM's SYN-ACK and the timestamp the
 * client echoes in its first acknowledgement; TSecr is translated towards
 * the SVM, TSval from it after failover.  Checksums are fixed up
 * incrementally (RFC 1624).  At every checkpoint the SVM takes the PVM's
 * state, its own numbers become the PVM's, and every offset is reset to 0.
 */
#ifndef COLO_REWRITE_H
#define COLO_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rewriter;

struct rewriter *rw_new(void);
void rw_free(struct rewriter *r);

/* A frame from the client to the SVM: rewritten in place.  Returns 1 if it
 * was changed, 0 if not, -1 if it is not a frame the rewriter can parse
 * (it is then passed on unchanged). */
int  rw_client_to_svm(struct rewriter *r, uint8_t *frame, size_t len);
/* A frame from the SVM: learned from, and rewritten in place if `out` (it
 * goes to clients: after failover). */
int  rw_svm_out(struct rewriter *r, uint8_t *frame, size_t len, bool out);
/* The checkpoint committed: the SVM now uses the PVM's numbers. */
void rw_checkpoint_done(struct rewriter *r);

/* Connections with a known, non-zero offset (status, tests). */
size_t rw_translated(const struct rewriter *r);

/* True if the TCP checksum of this IPv4/IPv6 frame is right (tests). */
bool rw_tcp_checksum_ok(const uint8_t *frame, size_t len);

#endif
