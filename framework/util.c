// SPDX-License-Identifier: MIT
/* util.c - the library's version, number parsing and logging helpers. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"

const char *ublkfw_version(void)
{
	return UBLKFW_VERSION;
}

int ublkfw_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*val = v;
	return 0;
}

int ublkfw_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	case 'P': shift = 50; end++; break;
	case 'B':
		break;
	default:
		return -EINVAL;
	}
	/* Accept "K", "KB", "KiB" (all binary) and a bare "B" for bytes. */
	if (shift && (end[0] == 'i' || end[0] == 'I') && (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	else if (end[0] == 'B' || end[0] == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

const char *ublkfw_getopt_culprit(int c, char *const *argv, char *buf, size_t len)
{
	const char *arg = argv[optind - 1];

	/* A short option: getopt says which letter; a long one: its word
	 * (without a "=value" part). */
	if (optopt && !(c == ':' && !strncmp(arg, "--", 2)))
		snprintf(buf, len, "-%c", optopt);
	else
		snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
	return buf;
}

int ublkfw_parse_dev_id(const char *s, int *id)
{
	uint64_t v;
	int ret = ublkfw_parse_uint(s, 0, UBLKFW_MAX_DEV_ID, &v);

	if (!ret)
		*id = (int)v;
	return ret;
}

bool ublkfw_poll_until(bool (*done)(void *arg), void *arg, unsigned int timeout_ms,
		       unsigned int step_us)
{
	struct timespec step = { step_us / 1000000, (long)(step_us % 1000000) * 1000 };

	for (uint64_t waited_us = 0; !done(arg); waited_us += step_us) {
		if (waited_us >= (uint64_t)timeout_ms * 1000)
			return done(arg);
		nanosleep(&step, NULL);
	}
	return true;
}

const char *ublkfw_progname(void)
{
	return program_invocation_short_name;
}

void ublkfw_vlog(const struct ublkfw_dev *dev, enum ublkfw_log_level level, const char *fmt,
		 va_list ap)
{
	bool err = level == UBLKFW_LOG_ERR, to_user = level != UBLKFW_LOG_INFO;
	char msg[512];

	/* Errors and information go to the same place (stderr, which is the
	 * device's log file once the server runs in the background); errors
	 * are marked so a log reader can grep for them. */
	char line[640];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (dev && dev->ops.name)
		snprintf(line, sizeof(line), "%s: %s: %s\n",
			 dev->conf.prog ? dev->conf.prog : ublkfw_progname(), dev->ops.name, msg);
	else
		snprintf(line, sizeof(line), "%s: %s\n", ublkfw_progname(), msg);
	/* A daemon starting up: everything to its log, errors also to the
	 * user waiting in `add`.  Otherwise (foreground, or detached with
	 * stderr on the log): stderr, errors marked for grep. */
	if (dev && dev->daemon.log_fd >= 0) {
		if (write(dev->daemon.log_fd, line, strlen(line)) < 0 && !to_user)
			return;
		if (!to_user)
			return;
	} else if (dev && err && dev->daemon.detached) {
		fprintf(stderr, "error: ");
	}
	fputs(line, stderr);
	fflush(stderr);
}

void ublkfw_err(const struct ublkfw_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ublkfw_vlog(dev, UBLKFW_LOG_ERR, fmt, ap);
	va_end(ap);
}

void ublkfw_info(const struct ublkfw_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ublkfw_vlog(dev, UBLKFW_LOG_INFO, fmt, ap);
	va_end(ap);
}

void ublkfw_notice(const struct ublkfw_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ublkfw_vlog(dev, UBLKFW_LOG_NOTICE, fmt, ap);
	va_end(ap);
}

bool ublkfw_self_exe(char *buf, size_t len)
{
	static const char deleted[] = " (deleted)";
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0 || (size_t)n >= len - 1 || buf[0] != '/')
		return false;		/* none, or too long to trust */
	buf[n] = '\0';
	/* Replaced (an upgrade) or removed since it started: the path is still
	 * what starting it again would run. */
	if ((size_t)n > sizeof(deleted) - 1 && !strcmp(buf + n - (sizeof(deleted) - 1), deleted))
		buf[n - (sizeof(deleted) - 1)] = '\0';
	return true;
}
