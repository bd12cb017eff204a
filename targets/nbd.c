// SPDX-License-Identifier: MIT
/*
 * nbd.c - the nbd target: a device served by an NBD server through libnbd.
 *
 *   ublk-fw-ctl add -t nbd nbd://127.0.0.1:10809/export
 *   ublk-fw-ctl add -t nbd 'nbd+unix:///export?socket=/run/nbd.sock' --timeout 10
 *
 * open() connects once (blocking, at most --timeout seconds) to check the
 * URI and learn the export: its size, whether it is read-only, and which of
 * FLUSH, FUA, TRIM and WRITE_ZEROES it takes; the device announces exactly
 * those (nbd_map.c).  That connection is closed again.  Then each queue has
 * its own connection, driven by the queue's libev loop through libnbd's
 * non-blocking API (nbd_conn.c, which also has what a lost connection does).
 * No thread, no lock of ours.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ublkfw.h"
#include "nbd_conn.h"
#include "targets.h"

static const struct ublkfw_option nbd_options[] = {
	{ "timeout", "S", "how long I/O waits for a lost server before it fails with EIO, 0..86400 (default 30)" },
	{ NULL, NULL, NULL },
};

/* ---- configuration and the probe connection (main thread) ------------------ */

static int nbd_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	struct nbd_dev *nd = ublkfw_dev_priv(dev);
	char why[512];

	if (key && !strcmp(key, "timeout")) {
		if (nbd_parse_timeout(value, &nd->timeout)) {
			ublkfw_err(dev, "invalid --timeout '%s': give seconds, 0..%u", value,
				   NBD_MAX_TIMEOUT);
			return -EINVAL;
		}
		nd->timeout_set = true;
		return 0;
	}
	if (key) {
		ublkfw_err(dev, "unknown option --%s", key);
		return -EINVAL;
	}
	if (nd->have_uri) {
		ublkfw_err(dev, "more than one URI ('%s' and '%s'): give one", nd->uri, value);
		return -EINVAL;
	}
	if (nbd_uri_check(value, why, sizeof(why))) {
		ublkfw_err(dev, "%s", why);
		return -EINVAL;
	}
	nd->uri = value;
	nd->have_uri = true;
	return 0;
}

/* Connect h to uri, waiting at most timeout seconds (at least 1). */
static int connect_blocking(struct nbd_handle *h, const char *uri, unsigned int timeout)
{
	double deadline = nbd_conn_now() + (timeout ? timeout : 1);

	if (nbd_aio_connect_uri(h, uri) == -1)
		return -1;
	while (!nbd_aio_is_ready(h)) {
		double left = deadline - nbd_conn_now();

		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return -1;
		if (left <= 0)
			return -2;
		if (nbd_poll(h, (int)(left * 1000) + 1) == -1)
			return -1;
	}
	return 0;
}

/* A polite NBD_CMD_DISC, waiting at most a second for the server to close. */
static void disconnect_briefly(struct nbd_handle *h)
{
	double end = nbd_conn_now() + 1;

	if (nbd_aio_disconnect(h, 0) == -1)
		return;
	while (!nbd_aio_is_closed(h) && !nbd_aio_is_dead(h) && nbd_conn_now() < end)
		if (nbd_poll(h, 100) == -1)
			break;
}

static void read_caps(struct nbd_handle *h, struct nbd_caps *c)
{
	int64_t v;

	memset(c, 0, sizeof(*c));
	c->size = (uint64_t)nbd_get_size(h);
	c->read_only = nbd_is_read_only(h) == 1;
	c->flush = nbd_can_flush(h) == 1;
	c->fua = nbd_can_fua(h) == 1;
	c->trim = nbd_can_trim(h) == 1;
	c->zero = nbd_can_zero(h) == 1;
	c->multi_conn = nbd_can_multi_conn(h) == 1;
	v = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	c->min_block = v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
	v = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	c->pref_block = v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
	v = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	c->max_block = v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static int nbd_open(struct ublkfw_dev *dev)
{
	struct nbd_dev *nd = ublkfw_dev_priv(dev);
	struct nbd_devconf dc;
	struct nbd_handle *h;
	char why[512];
	int r;

	if (!nd->have_uri) {
		ublkfw_err(dev, "no URI: give nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH");
		return -EINVAL;
	}
	if (!nd->timeout_set)
		nd->timeout = NBD_DEFAULT_TIMEOUT;
	h = nbd_conn_handle();
	if (!h) {
		ublkfw_err(dev, "libnbd: %s", nbd_conn_why());
		return -ENOMEM;
	}
	r = connect_blocking(h, nd->uri, nd->timeout);
	if (r == -2) {
		ublkfw_err(dev, "cannot connect to %s: no handshake within %u s: check that the NBD server runs there",
			   nd->uri, nd->timeout ? nd->timeout : 1);
		nbd_close(h);
		return -ETIMEDOUT;
	}
	if (r) {
		ublkfw_err(dev, "cannot connect to %s: %s: check the URI and that the NBD server runs",
			   nd->uri, nbd_conn_why());
		nbd_close(h);
		return -ECONNREFUSED;
	}
	read_caps(h, &nd->caps);
	disconnect_briefly(h);
	nbd_close(h);
	if (nbd_devconf_from_caps(&nd->caps, ublkfw_dev_size(dev), ublkfw_dev_nr_queues(dev),
				  ublkfw_dev_max_io_bytes(dev), &dc, why, sizeof(why))) {
		ublkfw_err(dev, "%s: %s", nd->uri, why);
		return -EINVAL;
	}
	ublkfw_dev_set_size(dev, dc.size);
	if (ublkfw_dev_set_block_size(dev, dc.lbs, dc.pbs))
		return -EINVAL;
	ublkfw_dev_set_attrs(dev, dc.attrs);
	if (dc.discard)
		ublkfw_dev_set_discard(dev, 0, 0);
	if (dc.write_zeroes)
		ublkfw_dev_set_write_zeroes(dev, 0);
	ublkfw_info(dev, "%s: %llu bytes%s%s%s%s%s%s", nd->uri,
		    (unsigned long long)nd->caps.size, nd->caps.read_only ? ", read-only" : "",
		    nd->caps.flush ? ", flush" : "", nd->caps.fua ? ", fua" : "",
		    nd->caps.trim ? ", trim" : "", nd->caps.zero ? ", zero" : "",
		    nd->caps.multi_conn ? ", multi-conn" : "");
	return 0;
}

/* ---- the queues (each on its own thread) ---------------------------------- */

static int nbd_queue_init(struct ublkfw_queue *q)
{
	struct nbd_queue *nq = calloc(1, sizeof(*nq));

	if (!nq)
		return -ENOMEM;
	ublkfw_queue_set_priv(q, nq);
	nq_start(nq, q);
	return 0;
}

static void nbd_queue_deinit(struct ublkfw_queue *q)
{
	struct nbd_queue *nq = ublkfw_queue_priv(q);

	if (!nq)
		return;
	nq_stop(nq);
	free(nq);
	ublkfw_queue_set_priv(q, NULL);
}

static void nbd_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct nbd_queue *nq = ublkfw_queue_priv(q);
	const struct nbd_caps *caps = &nq->nd->caps;
	struct nbd_req *r = ublkfw_io_priv(io);
	bool ok;

	switch (io->op) {
	case UBLKFW_OP_READ:
		ok = true;
		break;
	case UBLKFW_OP_WRITE:
		ok = !caps->read_only;
		break;
	case UBLKFW_OP_FLUSH:
		ok = caps->flush;
		break;
	case UBLKFW_OP_DISCARD:
		ok = caps->trim && !caps->read_only;
		break;
	case UBLKFW_OP_WRITE_ZEROES:
		ok = caps->zero && !caps->read_only;
		break;
	default:
		ublkfw_io_complete(io, -EOPNOTSUPP);
		return;
	}
	if (!ok) {
		ublkfw_io_complete(io, caps->read_only && io->op != UBLKFW_OP_FLUSH ? -EROFS
										: -EOPNOTSUPP);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->io = io;
	r->nq = nq;
	nq_submit(nq, r);
}

const struct ublkfw_target_ops ublkfw_target_nbd = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "nbd",
	.description = "an NBD server's export (libnbd), one connection per queue",
	.options = nbd_options,
	.args_usage = "URI",
	.dev_priv_size = sizeof(struct nbd_dev),
	.io_priv_size = sizeof(struct nbd_req),
	.config = nbd_config,
	.open = nbd_open,
	.queue_init = nbd_queue_init,
	.queue_deinit = nbd_queue_deinit,
	.queue_io = nbd_queue_io,
};
