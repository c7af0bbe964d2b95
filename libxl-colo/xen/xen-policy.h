/*
 * xen-policy.h - decisions the xen backend takes from plain data, kept
 * apart from the hypercalls so they can be unit-tested without Xen.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_POLICY_H
#define COLO_XEN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colo-bitmap.h"

enum colo_xen_guest_kind { COLO_XEN_PV, COLO_XEN_PVH, COLO_XEN_HVM };

/*
 * What kind of guest a domain is, from xc_dominfo_t.hvm and
 * arch_config.emulation_flags (XEN_X86_EMU_*).  PVH is an HVM container
 * without the emulated platform (no PIC, IOAPIC, PIT, RTC), so the
 * emulation flags tell it apart from HVM.
 */
enum colo_xen_guest_kind colo_xen_guest_kind(bool hvm_container, uint32_t emulation_flags);
const char *colo_xen_guest_kind_name(enum colo_xen_guest_kind k);


/*
 * Can this qemu-xen load device state with QMP xen-load-devices-state and
 * live on?  Not from QEMU 6.0 on (Debian 12 has 7.2): that command ends
 * with migration_incoming_state_destroy(), which since 6.0 unregisters a
 * migration "yank" instance the command never registered, and QEMU aborts
 * on the assertion in yank_unregister_instance().  Found in the Xen lab.
 * Upstream QEMU's code still has the same sequence, so no version is known
 * to be fixed; qemu-state=load overrides for a patched QEMU.
 */
bool colo_xen_qemu_loads_state(long long major, long long minor);

/*
 * The command line that starts the SVM's qemu-xen again so that it loads
 * a device state from file descriptor fd (qemu-state=restart): the one it
 * runs with now (cmdline, len: what /proc/PID/cmdline holds, arguments
 * each ended by a NUL), with
 *   - any "-incoming X" and "-S" dropped and "-S -incoming fd:FD" added:
 *     the new qemu reads the state as an incoming migration - the path
 *     libxl's own restore uses, which QEMU >= 6.0 still handles - and
 *     stays stopped until QMP "cont";
 *   - each "-serial file:PATH" made a file chardev opened for append, so
 *     that a restart does not truncate the guest's console log.
 * Returns a malloc'd NULL-terminated vector (free with
 * colo_xen_dm_argv_free), or NULL with *why naming what is wrong with
 * the command line (empty, not NUL-terminated, a dangling option).
 */
char **colo_xen_dm_argv(const char *cmdline, size_t len, int fd, const char **why);
void colo_xen_dm_argv_free(char **argv);

/*
 * What write_pages does with a pfn the SVM has no page at.
 *   SKIP      the data is all zero: a hole in the PVM reads as zeros, and
 *             populating RAM there could shadow an MMIO range the device
 *             model emulates, so leave the hole
 *   POPULATE  real data: the PVM has RAM there (hvmloader relocated RAM,
 *             say), so give the SVM a page there too and write it
 */
enum colo_xen_hole_action { COLO_XEN_HOLE_SKIP, COLO_XEN_HOLE_POPULATE };
enum colo_xen_hole_action colo_xen_hole_action(const void *page);

/*
 * OR the Xen log-dirty bitmap xbits (nbits bits, bit i of unsigned long
 * word i / BITS_PER_LONG is pfn i, as XEN_DOMCTL_SHADOW_OP_CLEAN returns
 * it) into 'into'.  Bits at or beyond into->nbits are counted in
 * *ignored (pfns outside the replicated range) and otherwise dropped.
 * Returns the number of bits set in xbits within range.
 */
uint64_t colo_xen_dirty_merge(const unsigned long *xbits, uint64_t nbits,
                              struct colo_bitmap *into, uint64_t *ignored);

/*
 * The vCPU registers out of an HVM context (what xc_domain_hvm_getcontext
 * returns: a run of save records, each a struct hvm_save_descriptor and
 * its body): the CPU records (one per vCPU), each with its descriptor, in
 * order, with the one field that differs between two domains holding the
 * same state - the guest TSC, which Xen reads off the running clock as it
 * saves - zeroed.  --verify hashes this on both sides.  Malloc'd into *out;
 * -1 with *why for a context whose records run past its end.
 */
int colo_xen_cpu_records(const uint8_t *ctx, size_t len, uint8_t **out, size_t *outlen,
                         const char **why);

#endif
