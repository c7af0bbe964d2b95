/*
 * xen-xlcfg.h - build a libxl_domain_config for the SVM from an xl.cfg.
 *
 * xl's own config parser (parse_config_data in tools/xl) is not part of
 * any library, so the backend reads the subset of xl.cfg that describes a
 * COLO guest itself, with libxlutil doing the lexing (xlu_cfg_*) and the
 * disk specs (xlu_disk_parse).  Keys:
 *
 *   name type builder memory maxmem vcpus maxvcpus cpus kernel ramdisk cmdline
 *   root extra disk vif serial xen_platform_pci boot vga stdvga videoram
 *   acpi apic pae hap hpet nographic vnc sdl shadow_memory
 *   device_model_version            (all as in xl.cfg(5); cpus without
 *                                    NUMA "nodes:" items)
 *
 * on_poweroff/on_reboot/on_crash/on_watchdog/on_soft_reset are xl's own
 * business and ignored.  Any other key is reported as a warning, because
 * the SVM would then differ from the PVM built by xl from the same file.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_XLCFG_H
#define COLO_XEN_XLCFG_H

#include "xen-sys.h"

#include <stddef.h>

#define COLO_XEN_SVM_SUFFIX "--colo-svm"

/*
 * Parse xl.cfg text (label names it in messages) into dc, which the caller
 * has initialised with libxl_domain_config_init() and disposes of in any
 * case.  The SVM is named svm_name, or, if that is NULL or empty, the
 * config's name with COLO_XEN_SVM_SUFFIX appended.  Returns 0, or -1 after
 * logging what is wrong (naming the key).
 */
int colo_xen_xlcfg_parse(const char *data, size_t len, const char *label,
                         const char *svm_name, libxl_domain_config *dc);

/* The same, reading the file at path. */
int colo_xen_xlcfg_load(const char *path, const char *svm_name, libxl_domain_config *dc);

/* "aa:bb:cc:dd:ee:ff" (NUL-terminated) into mac; -1 if malformed. */
int colo_xen_parse_mac(const char *s, libxl_mac mac);

/*
 * Report keys in data that colo_xen_xlcfg_parse() does not understand:
 * calls report(key, opaque) for each and returns how many there were.
 */
unsigned colo_xen_xlcfg_unknown_keys(const char *data, size_t len,
                                     void (*report)(const char *key, void *opaque),
                                     void *opaque);

#endif
