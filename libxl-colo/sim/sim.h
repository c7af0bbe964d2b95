/*
 * sim.h - what the sim backend offers beyond struct colo_backend, for
 * tests and benchmarks that drive a sim guest directly.
 */
#ifndef SIM_H
#define SIM_H

#include <stdint.h>

#include "colo-backend.h"

/* Make the running guest write pages 1..npages once (a job injected into
 * the guest: the writes are the guest's, logged by the kernel); returns
 * when it is done. */
int sim_domain_touch(struct colo_domain *d, uint64_t npages);

/* For tests: the guest's vCPU state (enum sim_state, sim-guest.h) and how
 * many times its workload process has woken from a sleep or a pause. */
void sim_domain_peek(struct colo_domain *d, uint32_t *state, uint32_t *wakeups);

/* For tests: make the workload stall 'us' microseconds between reading a
 * request and changing its state (sim-guest.h, stall_us). */
void sim_domain_set_stall(struct colo_domain *d, uint32_t us);

#endif
