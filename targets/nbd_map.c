// SPDX-License-Identifier: MIT
/* nbd_map.c - the nbd target's pure decisions: URIs, device, flags. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <libnbd.h>

#include "ublkfw.h"
#include "nbd_map.h"

#define URI_HELP "give nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH"

int nbd_uri_check(const char *uri, char *why, size_t len)
{
	static const char *const ok[] = { "nbd://", "nbd+unix://", "nbd+vsock://" };
	const char *colon = strstr(uri, "://");

	if (!*uri) {
		snprintf(why, len, "an empty URI: " URI_HELP);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncasecmp(uri, ok[i], strlen(ok[i])))
			return 0;
	if (!strncasecmp(uri, "nbds", 4) && colon) {
		snprintf(why, len, "'%s': TLS (nbds://) is not supported: use nbd:// or nbd+unix://",
			 uri);
		return -EINVAL;
	}
	snprintf(why, len, "'%s' is not an NBD URI: " URI_HELP, uri);
	return -EINVAL;
}

int nbd_parse_timeout(const char *s, unsigned int *seconds)
{
	uint64_t v;

	if (!s || ublkfw_parse_uint(s, 0, NBD_MAX_TIMEOUT, &v))
		return -EINVAL;
	*seconds = (unsigned int)v;
	return 0;
}

static bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

int nbd_devconf_from_caps(const struct nbd_caps *caps, uint64_t want_size,
			  unsigned int nr_queues, uint32_t max_io, struct nbd_devconf *dc,
			  char *why, size_t len)
{
	memset(dc, 0, sizeof(*dc));
	dc->lbs = 512;
	if (caps->min_block > 512) {
		if (caps->min_block > 4096 || !pow2(caps->min_block)) {
			snprintf(why, len, "the server's minimum block size %u is not a power of two up to 4096: a block device cannot have it",
				 caps->min_block);
			return -EINVAL;
		}
		dc->lbs = caps->min_block;
	}
	dc->pbs = dc->lbs > 4096 ? dc->lbs : 4096;
	if (pow2(caps->pref_block) && caps->pref_block >= dc->lbs && caps->pref_block <= 65536)
		dc->pbs = caps->pref_block;
	if (caps->max_block && caps->max_block < max_io) {
		uint32_t m = 4096;

		while (m * 2 <= caps->max_block)
			m *= 2;
		snprintf(why, len, "the server takes requests of at most %u bytes: give --max-io %u or less",
			 caps->max_block, m);
		return -EINVAL;
	}
	if (want_size) {
		if (want_size > caps->size) {
			snprintf(why, len, "-s %llu is larger than the export (%llu bytes): give a smaller -s or none",
				 (unsigned long long)want_size, (unsigned long long)caps->size);
			return -EINVAL;
		}
		dc->size = want_size;	/* the framework checks it against the block size */
	} else {
		dc->size = caps->size / dc->lbs * dc->lbs;
		if (!dc->size) {
			snprintf(why, len, "the export (%llu bytes) is smaller than one block of %u bytes",
				 (unsigned long long)caps->size, dc->lbs);
			return -EINVAL;
		}
	}
	if (nr_queues > 1 && !caps->multi_conn && !caps->read_only) {
		snprintf(why, len, "the server does not advertise multi-conn, so %u connections (one a queue) would not see each other's writes and flushes: use -q 1",
			 nr_queues);
		return -EINVAL;
	}
	if (caps->read_only) {
		dc->attrs = UBLKFW_ATTR_READ_ONLY;
		return 0;
	}
	if (caps->flush) {
		dc->attrs |= UBLKFW_ATTR_VOLATILE_CACHE;
		if (caps->fua)
			dc->attrs |= UBLKFW_ATTR_FUA;
	}
	dc->discard = caps->trim;
	dc->write_zeroes = caps->zero;
	return 0;
}

uint32_t nbd_cmd_flags(uint8_t op, uint32_t io_flags, const struct nbd_caps *caps)
{
	uint32_t f = 0;

	if (op != UBLKFW_OP_WRITE && op != UBLKFW_OP_DISCARD && op != UBLKFW_OP_WRITE_ZEROES)
		return 0;
	if ((io_flags & UBLKFW_IO_F_FUA) && caps->fua && caps->flush)
		f |= LIBNBD_CMD_FLAG_FUA;
	if (op == UBLKFW_OP_WRITE_ZEROES && (io_flags & UBLKFW_IO_F_NOUNMAP))
		f |= LIBNBD_CMD_FLAG_NO_HOLE;
	return f;
}
