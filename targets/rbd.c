// SPDX-License-Identifier: MIT
/*
 * rbd.c - the rbd target: a Ceph RBD image through librbd.
 *
 *   ublk-fw-ctl add -t rbd [--conf FILE] [--user CLIENT] [--cluster NAME] [--timeout S] POOL/IMAGE
 *
 * READ and WRITE are rbd_aio_read/rbd_aio_write on the request's buffer,
 * FLUSH rbd_aio_flush, DISCARD rbd_aio_discard, WRITE_ZEROES
 * rbd_aio_write_zeroes (NOUNMAP: thick-provisioned), and a FUA write is the
 * write, then a flush, completed after the flush.  librbd calls back on its
 * own threads; ublkfw_io_complete_async() hands each completion to the
 * request's queue thread.  Not rbd_set_image_notification() +
 * rbd_poll_io_events(): all queues share one image handle (one handle per
 * queue would make them fight over the image's exclusive lock), and its
 * notification fd is per image, so one queue's loop would reap the others'
 * completions and hand them over anyway.
 *
 * open() connects once to check everything and take the size, then lets
 * go: the server forks after open(), and librados's threads would not
 * survive it.  attach() connects again in the server that serves.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rbd.h"
#include "targets.h"

struct rbd_queue {			/* ublkfw_queue_priv() */
	atomic_uint inflight;		/* requests librbd holds */
};

struct rbd_req {			/* ublkfw_io_priv() */
	struct ublkfw_io *io;
	struct rbd_target *t;
	struct rbd_queue *rq;
	bool then_flush;		/* FUA: the write is done, flush next */
};

static const struct ublkfw_option rbd_options[] = {
	{ "conf", "FILE", "the cluster's ceph.conf (default: librados's search, /etc/ceph/CLUSTER.conf)" },
	{ "user", "CLIENT", "the cephx user, without 'client.' (default admin); ceph's --id (ours is the device id)" },
	{ "cluster", "NAME", "the cluster's name (default ceph)" },
	{ "timeout", "S", "I/O fails with EIO after S seconds without an answer; 0: wait forever (default 30)" },
	{ NULL, NULL, NULL },
};

/* POOL/IMAGE or POOL/NAMESPACE/IMAGE, each part non-empty and without '@'. */
static int rbd_parse_spec(struct rbd_target *t, const char *spec)
{
	const char *a = strchr(spec, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	const char *img = b ? b + 1 : a ? a + 1 : NULL;
	size_t pl = a ? (size_t)(a - spec) : 0, nl = b ? (size_t)(b - a - 1) : 0;

	if (!img || !pl || (b && !nl) || !*img || strchr(img, '/') || strchr(spec, '@') ||
	    pl >= sizeof(t->pool) || nl >= sizeof(t->ns) || strlen(img) >= sizeof(t->image))
		return -EINVAL;
	memcpy(t->pool, spec, pl);
	memcpy(t->ns, a + 1, nl);
	strcpy(t->image, img);
	return 0;
}

static int rbd_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	struct rbd_target *t = ublkfw_dev_priv(dev);
	uint64_t v;

	if (!key) {
		if (!t->pool[0] && !rbd_parse_spec(t, value))
			return 0;
		ublkfw_err(dev, t->pool[0] ? "unexpected argument '%s': give one POOL/IMAGE" :
			   "invalid image '%s': give POOL/IMAGE or POOL/NAMESPACE/IMAGE", value);
		return -EINVAL;
	}
	if (!strcmp(key, "timeout")) {
		if (ublkfw_parse_uint(value, 0, 86400, &v)) {
			ublkfw_err(dev, "invalid --timeout '%s': give 0 to 86400 seconds", value);
			return -EINVAL;
		}
		t->timeout = (unsigned int)v;
		t->timeout_set = true;
	} else if (!*value) {
		ublkfw_err(dev, "empty --%s: give a value", key);
		return -EINVAL;
	} else if (!strcmp(key, "conf")) {
		t->conf = value;
	} else if (!strcmp(key, "user")) {
		t->id = value;
	} else {
		t->cluster = value;
	}
	return 0;
}

/* The image's size and what the device announces. */
static int rbd_describe(struct ublkfw_dev *dev, struct rbd_target *t)
{
	uint64_t size, want = ublkfw_dev_size(dev);
	int ret = rbd_get_size(t->image_h, &size);

	if (ret < 0) {
		ublkfw_err(dev, "cannot get the size of %s/%s: %s", t->pool, t->image, strerror(-ret));
		return ret;
	}
	size &= ~511ULL;
	if (want > size) {
		ublkfw_err(dev, "size %llu is larger than the image %s/%s (%llu bytes)",
			   (unsigned long long)want, t->pool, t->image, (unsigned long long)size);
		return -EINVAL;
	}
	if (!want)
		ublkfw_dev_set_size(dev, size);
	/* librbd acknowledges writes before they are stable (its cache's
	 * writearound and writeback): FLUSH and FUA matter. */
	ublkfw_dev_set_attrs(dev, UBLKFW_ATTR_VOLATILE_CACHE | UBLKFW_ATTR_FUA);
	ublkfw_dev_set_discard(dev, 0, 0);
	ublkfw_dev_set_write_zeroes(dev, 0);
	return 0;
}

static int rbd_target_open(struct ublkfw_dev *dev)
{
	struct rbd_target *t = ublkfw_dev_priv(dev);
	int ret;

	if (!t->pool[0]) {
		ublkfw_err(dev, "no image: give POOL/IMAGE (see --help)");
		return -EINVAL;
	}
	t->id = t->id ? t->id : "admin";
	t->cluster = t->cluster ? t->cluster : "ceph";
	t->timeout = t->timeout_set ? t->timeout : RBD_DEFAULT_TIMEOUT;
	ret = rbd_connect(dev, t);
	if (ret)
		return ret;
	ret = rbd_describe(dev, t);
	rbd_disconnect(t);	/* before the fork: attach() connects again */
	return ret;
}

static int rbd_attach(struct ublkfw_dev *dev)
{
	return rbd_connect(dev, ublkfw_dev_priv(dev));
}

static void rbd_target_close(struct ublkfw_dev *dev)
{
	rbd_disconnect(ublkfw_dev_priv(dev));
}

static int rbd_queue_init(struct ublkfw_queue *q)
{
	struct rbd_queue *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	ublkfw_queue_set_priv(q, rq);
	return 0;
}

/* librbd must be done with the queue's requests before the queue goes:
 * each of them ends by --timeout at the latest. */
static void rbd_queue_deinit(struct ublkfw_queue *q)
{
	struct rbd_queue *rq = ublkfw_queue_priv(q);

	while (atomic_load(&rq->inflight))
		usleep(1000);
	free(rq);
}

/* librbd's errors as the block layer should see them: a cluster that does
 * not answer (-ETIMEDOUT), a blocklisted client (-ESHUTDOWN)... are EIO. */
static int rbd_result(const struct ublkfw_io *io, ssize_t r)
{
	if (r == -ENOSPC || r == -EDQUOT)
		return -ENOSPC;
	if (r < 0)
		return -EIO;
	if (io->op == UBLKFW_OP_READ && (size_t)r < io->len)
		memset((char *)io->data + r, 0, io->len - r);	/* past the image's end */
	return io->op <= UBLKFW_OP_WRITE ? (int)io->len : 0;
}

/* A failing cluster fails every request: one line a second in the log. */
static void rbd_log_error(struct rbd_req *req, ssize_t r)
{
	static const char *const names[] = { "read", "write", "flush", "discard", "?", "write-zeroes" };
	long now = (long)time(NULL), last = atomic_load(&req->t->err_logged_at);

	if (now == last || !atomic_compare_exchange_strong(&req->t->err_logged_at, &last, now))
		return;
	if (req->io->op == UBLKFW_OP_FLUSH)	/* no range */
		ublkfw_err(ublkfw_queue_dev(req->io->queue), "flush: %s (failed with EIO)",
			   strerror((int)-r));
	else
		ublkfw_err(ublkfw_queue_dev(req->io->queue), "%s at %llu+%u: %s (failed with %s)",
			   names[req->io->op], (unsigned long long)req->io->offset, req->io->len,
			   strerror((int)-r), r == -ENOSPC || r == -EDQUOT ? "ENOSPC" : "EIO");
}

static void rbd_done(struct rbd_req *req, ssize_t r)
{
	struct rbd_queue *rq = req->rq;

	if (r < 0)
		rbd_log_error(req, r);
	ublkfw_io_complete_async(req->io, rbd_result(req->io, r));
	atomic_fetch_sub(&rq->inflight, 1);	/* the last touch of the queue */
}

static int rbd_submit(struct rbd_req *req, int op);

/* On one of librbd's threads. */
static void rbd_cb(rbd_completion_t c, void *arg)
{
	struct rbd_req *req = arg;
	ssize_t r = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	if (r >= 0 && req->then_flush) {
		req->then_flush = false;
		r = rbd_submit(req, UBLKFW_OP_FLUSH);
		if (!r)
			return;
	}
	rbd_done(req, r);
}

static int rbd_submit(struct rbd_req *req, int op)
{
	struct ublkfw_io *io = req->io;
	rbd_image_t img = req->t->image_h;
	rbd_completion_t c;
	int ret = rbd_aio_create_completion(req, rbd_cb, &c);

	if (ret < 0)
		return ret;
	switch (op) {
	case UBLKFW_OP_READ:
		ret = rbd_aio_read(img, io->offset, io->len, io->data, c);
		break;
	case UBLKFW_OP_WRITE:
		ret = rbd_aio_write(img, io->offset, io->len, io->data, c);
		break;
	case UBLKFW_OP_FLUSH:
		ret = rbd_aio_flush(img, c);
		break;
	case UBLKFW_OP_DISCARD:
		ret = rbd_aio_discard(img, io->offset, io->len, c);
		break;
	default:	/* WRITE_ZEROES */
		ret = rbd_aio_write_zeroes(img, io->offset, io->len, c, io->flags & UBLKFW_IO_F_NOUNMAP ?
					   RBD_WRITE_ZEROES_FLAG_THICK_PROVISION : 0, 0);
		break;
	}
	if (ret < 0)
		rbd_aio_release(c);
	return ret;
}

static void rbd_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct rbd_req *req = ublkfw_io_priv(io);

	if (io->op > UBLKFW_OP_WRITE_ZEROES || io->op == UBLKFW_OP_WRITE_SAME) {
		ublkfw_io_complete(io, -EOPNOTSUPP);
		return;
	}
	req->io = io;
	req->t = ublkfw_dev_priv(ublkfw_queue_dev(q));
	req->rq = ublkfw_queue_priv(q);
	req->then_flush = io->op == UBLKFW_OP_WRITE && (io->flags & UBLKFW_IO_F_FUA);
	atomic_fetch_add(&req->rq->inflight, 1);
	if (rbd_submit(req, io->op) < 0) {
		atomic_fetch_sub(&req->rq->inflight, 1);
		ublkfw_io_complete(io, -EIO);
	}
}

const struct ublkfw_target_ops ublkfw_target_rbd = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "rbd",
	.description = "a Ceph RBD image through librbd (POOL/IMAGE)",
	.options = rbd_options,
	.args_usage = "POOL/IMAGE",
	.dev_priv_size = sizeof(struct rbd_target),
	.io_priv_size = sizeof(struct rbd_req),
	.config = rbd_config,
	.open = rbd_target_open,
	.close = rbd_target_close,
	.attach = rbd_attach,
	.queue_init = rbd_queue_init,
	.queue_deinit = rbd_queue_deinit,
	.queue_io = rbd_queue_io,
};
