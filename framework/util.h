/* SPDX-License-Identifier: MIT */
/*
 * util.h - limits, defaults and small helpers every layer uses (util.c):
 * rounding, powers of two, device ids, logging, the one sleep-poll loop.
 */
#ifndef UBLKFW_UTIL_H
#define UBLKFW_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ublkfw.h"

#define UBLKFW_CTRL_DEV		"/dev/ublk-control"
#define UBLKFW_RUN_DIR_DEFAULT	"/run/ublk-fw"
#define UBLKFW_DEF_QUEUES	1
#define UBLKFW_DEF_DEPTH	128
#define UBLKFW_DEF_MAX_IO	(512U << 10)
#define UBLKFW_MAX_MAX_IO	(1U << 20)
#define UBLKFW_NR_FIXED_FILES	16	/* slot 0: /dev/ublkcN; the rest: targets */

#define UBLKFW_MAX_DEV_ID	((1 << 20) - 1)	/* the kernel's MINORMASK */
/* The largest device: its size in bytes is a loff_t in the kernel. */
#define UBLKFW_MAX_DEV_SIZE	((uint64_t)INT64_MAX / 512 * 512)

#define UBLKFW_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static inline bool ublkfw_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* n rounded up to a multiple of align, a power of two */
static inline size_t ublkfw_round_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}
#define ublkfw_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- logging (util.c) -------------------------------------------------- */

enum ublkfw_log_level {
	UBLKFW_LOG_INFO,	/* the log (stderr in the foreground) */
	UBLKFW_LOG_NOTICE,	/* also the user waiting in `add` */
	UBLKFW_LOG_ERR,		/* the same, marked "error: " once detached */
};
void ublkfw_vlog(const struct ublkfw_dev *dev, enum ublkfw_log_level level, const char *fmt,
		 va_list ap);
/* Information the user who runs `add` should see (the kernel changed what
 * was asked for): to the log and the terminal alike. */
void ublkfw_notice(const struct ublkfw_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *ublkfw_progname(void);
/* Call done(arg) every step_us until it says true or timeout_ms passed;
 * its last answer.  The one sleep-poll loop of the project. */
bool ublkfw_poll_until(bool (*done)(void *arg), void *arg, unsigned int timeout_ms,
		       unsigned int step_us);
/* A device id, 0..UBLKFW_MAX_DEV_ID.  0 or -EINVAL/-ERANGE. */
int ublkfw_parse_dev_id(const char *s, int *id);
/* The option getopt_long() just refused (c is '?' or ':', with ':' first in
 * its option string) as the user wrote it: "-x" of a cluster "-xq", or the
 * long option.  Into buf; returns buf. */
const char *ublkfw_getopt_culprit(int c, char *const *argv, char *buf, size_t len);
/* The running program's absolute path into buf (without the " (deleted)"
 * of a replaced binary), or false. */
bool ublkfw_self_exe(char *buf, size_t len);

#endif
