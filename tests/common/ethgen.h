/*
 * ethgen.h - real-looking Ethernet/IPv4/TCP frames that a VM sends to a
 * client, for driving colo-proxy (and QEMU's colo-compare) from tests and
 * benchmarks.
 *
 * A flow keeps the VM's next sequence number and IP ID, so the PVM's and the
 * SVM's copies of one connection are two flows with the same addresses and
 * different initial numbers - as two kernels would send them.  Checksums
 * (IPv4 header and TCP) are correct.
 */
#ifndef ETHGEN_H
#define ETHGEN_H

#include <stddef.h>
#include <stdint.h>

#define ETHGEN_HDR 54u              /* Ethernet + IPv4 + TCP without options */

struct tcp_flow {
    uint8_t vm_mac[6], cl_mac[6];
    uint32_t vm_ip, cl_ip;          /* host byte order */
    uint16_t vm_port, cl_port;
    uint32_t seq;                   /* the next sequence number the VM sends */
    uint32_t ack;                   /* what it acknowledges */
    uint16_t ip_id;                 /* its next IP ID */
    uint8_t ttl;
    uint16_t window;
};

/* The VM's two copies of connection n (PVM and SVM): the same addresses and
 * client ISN, their own ISNs and IP IDs (or the same ISN with same_isn - what
 * QEMU's filter-rewriter would have made of the SVM's). */
void ethgen_pair(unsigned n, int same_isn, struct tcp_flow *pvm, struct tcp_flow *svm);

/*
 * One frame from the VM: flags (TCP_* values of packet.h: FIN 1, SYN 2,
 * PSH 8, ACK 16), len bytes of payload.  A SYN carries an MSS option.
 * Advances the flow's sequence number and IP ID.  Returns the frame's
 * length (at most ETHGEN_HDR + 4 + len).
 */
size_t ethgen_tcp(uint8_t *out, struct tcp_flow *f, uint8_t flags, const uint8_t *payload, size_t len);

/* An ARP request from the VM (60 bytes, tag in its padding): something a
 * compare passes on once both VMs sent it, used to see that outdev is up. */
size_t ethgen_arp(uint8_t *out, uint8_t tag);

#endif
