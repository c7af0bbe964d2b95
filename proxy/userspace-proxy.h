/*
 * userspace-proxy.h - the messages Xen's libxl exchanges with colo-compare
 * on its notify_dev chardev, in "userspace proxy" mode (Xen 4.17,
 * tools/libs/light/libxl_colo_proxy.c).  Each is an ASCII string without a
 * terminating NUL, framed with a 4-byte big-endian length (chardev-frame.h;
 * never a vnet header length field).
 *
 *   libxl -> compare  COLO_USERSPACE_PROXY_INIT  once, right after libxl
 *                                                connects (as a TCP client)
 *   compare -> libxl  COLO_COMPARE_GET_XEN_INIT  the answer; libxl waits
 *                                                500 ms for it
 *   compare -> libxl  DO_CHECKPOINT              please take a checkpoint now
 *   libxl -> compare  COLO_CHECKPOINT            a checkpoint is committed
 *                                                (the secondary is ready, the
 *                                                primary about to resume):
 *                                                release what is held
 *
 * libxl waits at most 5 s for DO_CHECKPOINT and then checkpoints anyway, and
 * sends COLO_CHECKPOINT after every checkpoint, asked for or not.
 */
#ifndef COLO_USERSPACE_PROXY_H
#define COLO_USERSPACE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#define UP_INIT          "COLO_USERSPACE_PROXY_INIT"
#define UP_INIT_REPLY    "COLO_COMPARE_GET_XEN_INIT"
#define UP_DO_CHECKPOINT "DO_CHECKPOINT"
#define UP_CHECKPOINT    "COLO_CHECKPOINT"
#define UP_MAX_MSG       1024u  /* libxl's receive buffer */

enum up_msg { UP_MSG_UNKNOWN, UP_MSG_INIT, UP_MSG_CHECKPOINT };

/* What a message from libxl is: the exact bytes, nothing more or less (as
 * colo-compare matches them). */
enum up_msg up_classify(const uint8_t *msg, size_t len);

#endif
