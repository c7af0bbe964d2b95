/*
 * xlcolo-wire.h - what the two xl-colo sides say to each other over the
 * receiving command's stdin and stdout (ssh, or the -s command), as xl
 * migrate says its banner, config and go/no-go over the same pipe.  Lines
 * of text, one exchange:
 *
 *   receiver -> sender   "xl-colo-receiver 1"           banner, version 1
 *   sender -> receiver   "config NAME LEN" + LEN bytes  the domain's xl.cfg
 *   receiver -> sender   "ready ADDR:PORT"              its engine listens there
 *                     or "error TEXT"                   it refused; nothing left behind
 *   sender -> receiver   "protected"                    the first checkpoint is done
 *                     or "abort TEXT", or end of file   give up: destroy what you made
 *
 * Everything read here comes from another process, over ssh: every line is
 * bounded in length and time, and every field is checked.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef XLCOLO_WIRE_H
#define XLCOLO_WIRE_H

#include <stddef.h>

#define XLC_BANNER "xl-colo-receiver 1"
#define XLC_LINE_MAX 1024       /* incl. the NUL; longer lines are refused */

/*
 * Read one line (without its '\n') into buf, a byte at a time so nothing
 * after it is consumed.  timeout_ms bounds the whole line (-1: no bound).
 * Returns its length (>= 0), or -1 with errno: EPIPE at end of file (even
 * mid-line), ETIMEDOUT, EMSGSIZE for a line that does not fit in cap, EINTR
 * never (retried), or the read error.
 */
int xlc_read_line(int fd, char *buf, size_t cap, int timeout_ms);

/* Exactly len bytes within timeout_ms; -1 with errno as above. */
int xlc_read_exact(int fd, void *buf, size_t len, int timeout_ms);

/* All of buf, or -1 with errno (EPIPE if the reader is gone). */
int xlc_write_all(int fd, const void *buf, size_t len);

/*
 * "config NAME LEN": NAME must pass xlc_check_name, LEN be a decimal
 * 1..XLC_CFG_MAX.  0, or -1 with err naming what is wrong.
 */
int xlc_parse_config_header(const char *line, char *name, size_t namecap, size_t *len,
                            char *err, size_t errlen);

enum xlc_reply { XLC_REPLY_BAD = -1, XLC_REPLY_READY, XLC_REPLY_ERROR };

/* "ready ADDR" or "error TEXT": which, with *arg pointing at ADDR / TEXT. */
enum xlc_reply xlc_parse_reply(const char *line, const char **arg);

#endif
