/* SPDX-License-Identifier: MIT */
/*
 * nbd_map.h - the nbd target's decisions that need no server: which URIs it
 * takes, what the server's flags make of the device, which NBD command flags
 * a request carries, and when a request waiting for a connection fails.
 * Pure functions, unit-tested (tests/unit/nbd_map.c).
 */
#ifndef UBLKFW_NBD_MAP_H
#define UBLKFW_NBD_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBD_DEFAULT_TIMEOUT	30	/* seconds, --timeout */
#define NBD_MAX_TIMEOUT		86400

/* What the server advertised at the handshake. */
struct nbd_caps {
	uint64_t size;
	bool read_only, flush, fua, trim, zero, multi_conn;
	uint32_t min_block, pref_block, max_block;	/* 0: not advertised */
};

/* What the device will be. */
struct nbd_devconf {
	uint64_t size;
	uint32_t attrs;			/* UBLKFW_ATTR_* */
	uint32_t lbs, pbs;
	bool discard, write_zeroes;
};

/*
 * 0 if uri names a scheme the target takes (nbd://, nbd+unix://,
 * nbd+vsock://); otherwise -EINVAL with a one-line reason (and what to do)
 * in why.  libnbd parses the rest when connecting.
 */
int nbd_uri_check(const char *uri, char *why, size_t len);

/* --timeout S: 0 .. NBD_MAX_TIMEOUT seconds.  0 or -EINVAL. */
int nbd_parse_timeout(const char *s, unsigned int *seconds);

/*
 * The device from the server's caps, the size the user asked for (0: the
 * server's), the number of queues (one connection each) and the largest
 * request.  0, or -EINVAL with a one-line reason in why.
 */
int nbd_devconf_from_caps(const struct nbd_caps *caps, uint64_t want_size,
			  unsigned int nr_queues, uint32_t max_io, struct nbd_devconf *dc,
			  char *why, size_t len);

/*
 * The LIBNBD_CMD_FLAG_* bits for a request: FUA on WRITE, DISCARD and
 * WRITE_ZEROES when the server takes FUA, NO_HOLE on WRITE_ZEROES with
 * NOUNMAP.
 */
uint32_t nbd_cmd_flags(uint8_t op, uint32_t io_flags, const struct nbd_caps *caps);

/*
 * Whether a request that started waiting for a connection at wait_since
 * (seconds) has waited its time out at now.
 */
static inline bool nbd_wait_expired(double wait_since, double now, unsigned int timeout)
{
	return now - wait_since >= (double)timeout;
}

#endif
