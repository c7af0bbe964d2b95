/*
 * xen-sys.h - include Xen's public and library headers under -std=c11.
 *
 * The project builds with -std=c11, which makes GCC define __STRICT_ANSI__.
 * Xen's public headers test that macro and refuse to compile
 * (xen/hvm/save.h: "Anonymous structs/unions are a GNU extension";
 * xen/foreign/x86_64.h: __align8__ becomes FIXME), although the constructs
 * they guard - anonymous unions (standard since C11) and __attribute__
 * (accepted by GCC in every mode) - compile fine in C11 mode.  So the xen
 * backend withdraws the macro before including them.  _GNU_SOURCE already
 * selects every glibc feature, so glibc headers do not change behaviour.
 *
 * Formally, #undef of a reserved identifier is outside ISO C; it is a
 * GCC-specific build accommodation, confined to this one header.  A build
 * system may instead compile the xen backend with -std=gnu11 and drop the
 * #undef.
 *
 * Every source file of the backend that needs a Xen header includes this header first.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_SYS_H
#define COLO_XEN_SYS_H

#ifdef __STRICT_ANSI__
#undef __STRICT_ANSI__
#endif

#include <xenctrl.h>
#include <xenguest.h>
#include <xenforeignmemory.h>
#include <xentoollog.h>
#include <libxl.h>
#include <libxl_utils.h>
#include <libxlutil.h>

#endif
