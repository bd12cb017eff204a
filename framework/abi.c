// SPDX-License-Identifier: MIT
/*
 * abi.c - nbdkit-style negotiation of the ops structs a program hands us
 * (struct ublkfw_target_ops, struct ublkfw_filter_ops): both begin with
 * struct_size and api_version, and an older, smaller struct is accepted with
 * the missing callbacks absent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dev.h"

struct ops_head {
	uint32_t struct_size;
	uint32_t api_version;
};

/* Copy src (any older struct_size, at least min_size) into the zeroed dst
 * of dst_size bytes.  0, or -EINVAL with a message in err. */
static int ops_copy(void *dst, size_t dst_size, const void *src, size_t min_size,
		    const char *what, char *err, size_t errlen)
{
	const struct ops_head *h = src;
	size_t n;

	memset(dst, 0, dst_size);
	if (h->api_version < 1 || h->api_version > UBLKFW_API_VERSION) {
		snprintf(err, errlen, "%s built for API version %u, library supports 1..%u", what,
			 h->api_version, UBLKFW_API_VERSION);
		return -EINVAL;
	}
	if (h->struct_size < min_size) {
		snprintf(err, errlen, "%s ops struct too small (%u bytes)", what, h->struct_size);
		return -EINVAL;
	}
	/* An older program has a smaller struct: copy what it has, the rest
	 * stays zero (absent callbacks).  A newer one: copy what we know. */
	n = h->struct_size < dst_size ? h->struct_size : dst_size;
	memcpy(dst, src, n);
	((struct ops_head *)dst)->struct_size = dst_size;
	return 0;
}

/* Target and filter names: [a-z0-9_-]+, as the header says. */
static bool good_name(const char *name)
{
	return name && *name && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(name);
}

int ublkfw_target_ops_copy(struct ublkfw_target_ops *dst, const struct ublkfw_target_ops *src,
			   char *err, size_t errlen)
{
	int ret = ops_copy(dst, sizeof(*dst), src,
			   offsetof(struct ublkfw_target_ops, queue_io) + sizeof(src->queue_io),
			   "target", err, errlen);

	if (!ret && (!good_name(dst->name) || !dst->queue_io)) {
		snprintf(err, errlen, "target has no name of [a-z0-9_-] or no queue_io callback");
		ret = -EINVAL;
	}
	return ret;
}

int ublkfw_filter_ops_copy(struct ublkfw_filter_ops *dst, const struct ublkfw_filter_ops *src,
			   char *err, size_t errlen)
{
	int ret = ops_copy(dst, sizeof(*dst), src,
			   offsetof(struct ublkfw_filter_ops, write_stats) + sizeof(src->write_stats),
			   "filter", err, errlen);

	if (!ret && !good_name(dst->name)) {
		snprintf(err, errlen, "filter has no name of [a-z0-9_-]");
		ret = -EINVAL;
	}
	return ret;
}
