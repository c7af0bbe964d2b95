/*
 * xen-spec.h - the xen backend's domain options ("domid=5", "name=g1",
 * "config=/etc/xen/g1.cfg", ...), parsed without touching Xen so the
 * parser can be unit-tested anywhere.
 *
 * Keys (values may not contain ','):
 *   domid=N        the domain to protect (primary), 1..32751
 *   name=NAME      the domain to protect (primary), or the SVM's name
 *                  (secondary; default "<name in config>--colo-svm")
 *   config=PATH    xl.cfg the SVM is built from (secondary, required)
 *   qmp=PATH       QMP socket of the domain's qemu-xen
 *                  (default /var/run/xen/qmp-libxl-<domid>)
 *   statedir=DIR   where qemu-xen writes/reads device state files
 *                  (default /var/lib/xen)
 *   timeout=MS     bound on each QMP exchange and on waiting for the
 *                  domain to suspend (default 10000)
 *   qemu-state=auto|load|restart|keep
 *                  secondary: at each checkpoint, load qemu-xen's device
 *                  state into the SVM's running qemu by QMP (load), start
 *                  the SVM's qemu again with it (restart, xen-dm.c), or let
 *                  the SVM keep its own emulated-device state (keep); auto
 *                  picks load or restart by the SVM's QEMU version (see
 *                  colo_xen_qemu_loads_state)
 *   save=pages|libxenguest
 *                  primary: how the PVM's memory and vCPU state are read at
 *                  checkpoints - page by page through foreign mappings
 *                  (pages, the default), or from libxenguest's own COLO
 *                  loop, xc_domain_save(XC_STREAM_COLO), run in a helper
 *                  thread (libxenguest, xen-xcsave.c)
 *   restore=pages|libxenguest
 *                  secondary: how each checkpoint reaches the SVM - written
 *                  page by page through foreign mappings (pages, the
 *                  default), or handed to libxenguest's own COLO restore
 *                  loop, xc_domain_restore(XC_STREAM_COLO), run in a
 *                  helper thread (libxenguest, xen-xcrestore.c)
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_SPEC_H
#define COLO_XEN_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLO_XEN_NAME_MAX      64      /* incl. NUL, as colo_domain_info.name */
#define COLO_XEN_PATH_MAX      4096
#define COLO_XEN_SUN_PATH_MAX  108     /* sizeof(sockaddr_un.sun_path) */
#define COLO_XEN_DOMID_MAX     32751u  /* DOMID_FIRST_RESERVED - 1 */
#define COLO_XEN_DEFAULT_TIMEOUT_MS 10000u
#define COLO_XEN_DEFAULT_STATEDIR "/var/lib/xen"

enum colo_xen_qemu_state {
    COLO_XEN_QEMU_AUTO, COLO_XEN_QEMU_LOAD, COLO_XEN_QEMU_KEEP, COLO_XEN_QEMU_RESTART
};

enum colo_xen_save { COLO_XEN_SAVE_PAGES, COLO_XEN_SAVE_LIBXENGUEST };
enum colo_xen_restore { COLO_XEN_RESTORE_PAGES, COLO_XEN_RESTORE_LIBXENGUEST };

struct colo_xen_spec {
    bool     has_domid;
    uint32_t domid;
    char     name[COLO_XEN_NAME_MAX];            /* "" if not given */
    char     config[COLO_XEN_PATH_MAX];          /* "" if not given */
    char     qmp_path[COLO_XEN_SUN_PATH_MAX];    /* "" = default */
    char     state_dir[COLO_XEN_PATH_MAX];
    unsigned timeout_ms;
    enum colo_xen_qemu_state qemu_state;
    enum colo_xen_save save;
    enum colo_xen_restore restore;
};

/*
 * Parse 'options' (NULL or "" means no options) into *out, with defaults
 * filled in.  Returns 0, or -1 with a message naming the bad key or value
 * in err (always NUL-terminated when errlen > 0).
 */
int colo_xen_spec_parse(const char *options, struct colo_xen_spec *out,
                        char *err, size_t errlen);

/*
 * Role checks after parsing.  The primary needs exactly one of domid= and
 * name= (spec_name, the colo_domain_spec name, stands in for name= when
 * neither is given); the secondary needs config= and takes no domid=.
 * Return 0 or -1 with err filled.
 */
int colo_xen_spec_check_primary(struct colo_xen_spec *s, const char *spec_name,
                                char *err, size_t errlen);
int colo_xen_spec_check_secondary(const struct colo_xen_spec *s,
                                  char *err, size_t errlen);

#endif
