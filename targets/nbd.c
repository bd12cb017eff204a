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
 * non-blocking API: one ev_io on nbd_aio_get_fd() whose events follow
 * nbd_aio_get_direction(), nbd_aio_notify_read/write() when it fires, and
 * nbd_aio_pread/pwrite/flush/trim/zero() with a completion callback per
 * request.  No thread, no lock of ours.
 *
 * libnbd's callbacks only record the result (a callback may not call libnbd
 * on its handle); the requests are completed once the libnbd call that ran
 * them has returned (nq_after).
 *
 * A lost connection (the server closed it, or no reply for --timeout seconds
 * while requests are in flight): the handle is closed, the requests it had in
 * flight wait with the new ones, and the queue reconnects with a backoff
 * timer (50 ms doubling to 1 s).  Once connected they are sent again: a
 * request the server never acknowledged is retried, so no acknowledged write
 * is lost and no unacknowledged one is reported done.  A request that has
 * waited --timeout seconds without a connection fails with EIO, and so does
 * every new request until the queue is connected again (it keeps trying).
 * A request the server fails with ESHUTDOWN (it is stopping) is retried the
 * same way on a new connection; any other error of the server's is the
 * request's result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <libnbd.h>

#include "ublkfw.h"
#include "nbd_map.h"
#include "targets.h"

#define BACKOFF_MIN	0.05
#define BACKOFF_MAX	1.0

struct nbd_dev {			/* ublkfw_dev_priv() */
	const char *uri;		/* in the command line, which outlives us */
	unsigned int timeout;		/* --timeout, seconds */
	bool timeout_set, have_uri;
	struct nbd_caps caps;
};

enum { R_IDLE, R_WAITING, R_INFLIGHT, R_DONE };

struct nbd_req {			/* ublkfw_io_priv() */
	TAILQ_ENTRY(nbd_req) link;
	struct ublkfw_io *io;
	struct nbd_queue *nq;
	double wait_since;		/* when it began waiting for a connection */
	unsigned int gen;		/* the connection it was sent on */
	int state;
	int err;
};
TAILQ_HEAD(req_list, nbd_req);

struct nbd_queue {
	struct nbd_dev *nd;
	struct ublkfw_dev *dev;
	struct ublkfw_queue *q;
	struct ev_loop *loop;
	struct nbd_handle *h;		/* NULL while disconnected */
	bool ready;			/* h finished its handshake */
	bool failing;			/* down for --timeout: new I/O fails at once */
	unsigned int gen;		/* bumped whenever a handle is given up */
	ev_io io_w;
	ev_timer retry_w, tick_w;
	double backoff;
	double connect_started, down_since, last_progress;
	unsigned int nr_inflight;
	struct req_list waiting, inflight, done;
	char why[256];			/* why the last connection ended */
};

static const struct ublkfw_option nbd_options[] = {
	{ "timeout", "S", "how long I/O waits for a lost server before it fails with EIO, 0..86400 (default 30)" },
	{ NULL, NULL, NULL },
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* libnbd's last error, one line. */
static const char *nbd_why(void)
{
	const char *e = nbd_get_error();

	return e && *e ? e : "unknown error";
}

static struct nbd_handle *nbd_new_handle(void)
{
	struct nbd_handle *h = nbd_create();

	if (!h)
		return NULL;
	/* We always fill the whole buffer or fail: no need to clear it. */
	nbd_set_pread_initialize(h, false);
	/*
	 * Simple replies: a read's reply is a 16-byte header and the data,
	 * two reads of the socket, where a structured reply (a chunk header,
	 * an offset, the data) takes libnbd one more.  We need none of what
	 * structured replies add (holes, error details, block status).
	 */
	nbd_set_request_structured_replies(h, false);
	nbd_set_uri_allow_tls(h, LIBNBD_TLS_DISABLE);
	return h;
}

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
	double deadline = now_s() + (timeout ? timeout : 1);

	if (nbd_aio_connect_uri(h, uri) == -1)
		return -1;
	while (!nbd_aio_is_ready(h)) {
		double left = deadline - now_s();

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
	double end = now_s() + 1;

	if (nbd_aio_disconnect(h, 0) == -1)
		return;
	while (!nbd_aio_is_closed(h) && !nbd_aio_is_dead(h) && now_s() < end)
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
	h = nbd_new_handle();
	if (!h) {
		ublkfw_err(dev, "libnbd: %s", nbd_why());
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
			   nd->uri, nbd_why());
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

/* ---- one queue's connection (the queue's thread) ------------------------ */

static void nq_after(struct nbd_queue *nq, const char *why);
static void req_submit(struct nbd_queue *nq, struct nbd_req *r);

static void tick_on(struct nbd_queue *nq)
{
	if (!ev_is_active(&nq->tick_w))
		ev_timer_again(nq->loop, &nq->tick_w);
}

/* libnbd's completion callback: record, complete later (nq_after). */
static int req_done_cb(void *opaque, int *error)
{
	struct nbd_req *r = opaque;
	struct nbd_queue *nq = r->nq;

	if (r->state != R_INFLIGHT || r->gen != nq->gen)
		return 1;	/* a handle we gave up: the request is elsewhere now */
	TAILQ_REMOVE(&nq->inflight, r, link);
	nq->nr_inflight--;
	r->err = *error;
	r->state = R_DONE;
	TAILQ_INSERT_TAIL(&nq->done, r, link);
	nq->last_progress = now_s();
	return 1;
}

static void req_finish(struct nbd_req *r, int err)
{
	r->state = R_IDLE;
	if (err)
		ublkfw_io_complete(r->io, -err);
	else
		ublkfw_io_complete_ok(r->io);
}

/* r waits for a connection; since when, if it was not waiting already. */
static void req_wait(struct nbd_queue *nq, struct nbd_req *r, double since)
{
	if (!r->wait_since)
		r->wait_since = since;
	if (nq->failing ||
	    (nq->down_since && nbd_wait_expired(r->wait_since, now_s(), nq->nd->timeout))) {
		nq->failing = true;
		req_finish(r, EIO);
		return;
	}
	r->state = R_WAITING;
	TAILQ_INSERT_TAIL(&nq->waiting, r, link);
	tick_on(nq);
}

static void nq_connect(struct nbd_queue *nq);

/* Give the handle up: its requests wait for the next one. */
static void nq_lost(struct nbd_queue *nq, const char *why, double since)
{
	struct nbd_req *r;
	double now = now_s();

	if (!nq->h)
		return;
	ev_io_stop(nq->loop, &nq->io_w);
	nq->gen++;
	while ((r = TAILQ_FIRST(&nq->inflight))) {
		TAILQ_REMOVE(&nq->inflight, r, link);
		nq->nr_inflight--;
		req_wait(nq, r, since);
	}
	nbd_close(nq->h);
	nq->h = NULL;
	nq->ready = false;
	if (!nq->down_since) {
		nq->down_since = now;
		snprintf(nq->why, sizeof(nq->why), "%s", why);
		ublkfw_err(nq->dev, "queue %u: lost %s: %s; reconnecting, I/O waits up to %u s",
			   ublkfw_queue_id(nq->q), nq->nd->uri, why, nq->nd->timeout);
	}
	ev_timer_stop(nq->loop, &nq->retry_w);
	ev_timer_set(&nq->retry_w, nq->backoff, 0);
	ev_timer_start(nq->loop, &nq->retry_w);
	nq->backoff = nq->backoff * 2 < BACKOFF_MAX ? nq->backoff * 2 : BACKOFF_MAX;
	tick_on(nq);
}

/* The handshake is done: check it is the same export, send what waits. */
static void nq_ready(struct nbd_queue *nq)
{
	struct nbd_dev *nd = nq->nd;
	struct nbd_req *r;
	struct req_list todo;
	unsigned int n = 0;
	int64_t size = nbd_get_size(nq->h);

	if (size < 0 || (uint64_t)size < ublkfw_dev_size(nq->dev) ||
	    (nbd_is_read_only(nq->h) == 1) != nd->caps.read_only) {
		char why[160];

		snprintf(why, sizeof(why), "the export changed (%lld bytes%s)", (long long)size,
			 nbd_is_read_only(nq->h) == 1 ? ", read-only" : "");
		nq_lost(nq, why, now_s());
		return;
	}
	nq->ready = true;
	nq->failing = false;
	nq->backoff = BACKOFF_MIN;
	TAILQ_INIT(&todo);
	TAILQ_CONCAT(&todo, &nq->waiting, link);
	TAILQ_FOREACH(r, &todo, link)
		n++;
	if (nq->down_since) {
		ublkfw_info(nq->dev, "queue %u: reconnected to %s after %.1f s; %u requests sent again",
			    ublkfw_queue_id(nq->q), nd->uri, now_s() - nq->down_since, n);
		nq->down_since = 0;
	}
	while ((r = TAILQ_FIRST(&todo))) {
		TAILQ_REMOVE(&todo, r, link);
		req_submit(nq, r);
	}
}

/* The ev_io follows the handle's fd and direction. */
static void nq_watch(struct nbd_queue *nq)
{
	int fd = nbd_aio_get_fd(nq->h), dir = nbd_aio_get_direction(nq->h), ev = 0;

	if (dir & LIBNBD_AIO_DIRECTION_READ)
		ev |= EV_READ;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		ev |= EV_WRITE;
	if (fd < 0)
		ev = 0;
	if (ev_is_active(&nq->io_w) && nq->io_w.fd == fd && (nq->io_w.events & (EV_READ | EV_WRITE)) == ev)
		return;
	ev_io_stop(nq->loop, &nq->io_w);
	if (!ev)
		return;
	ev_io_set(&nq->io_w, fd, ev);
	ev_io_start(nq->loop, &nq->io_w);
}

/*
 * After every libnbd call on the handle: complete what the callbacks
 * recorded, notice a dead handle, follow the direction, notice the end of
 * the handshake.  why: the error of a call that failed, or NULL.
 */
static void nq_after(struct nbd_queue *nq, const char *why)
{
	double now = now_s();
	struct nbd_req *r;
	bool dead, shutdown = false;

again:
	dead = nq->h && (nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h));
	while ((r = TAILQ_FIRST(&nq->done))) {
		TAILQ_REMOVE(&nq->done, r, link);
		/* NBD_ESHUTDOWN: the server is going away; retry on the next one */
		if (r->err == ESHUTDOWN)
			shutdown = true;
		if (r->err && (dead || r->err == ESHUTDOWN))
			req_wait(nq, r, now);	/* the connection failed it: retry */
		else
			req_finish(r, r->err);
	}
	if (!nq->h)
		return;
	if (dead || shutdown) {
		nq_lost(nq, why ? why : dead ? "the connection died" : "the server is shutting down",
			now);
		return;
	}
	nq_watch(nq);
	if (!nq->ready && nbd_aio_is_ready(nq->h)) {
		nq_ready(nq);	/* sends what waited: look again */
		why = NULL;
		goto again;
	}
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct nbd_queue *nq = w->data;
	char why[256] = "";

	(void)loop;
	if ((revents & EV_READ) && nbd_aio_notify_read(nq->h) == -1)
		snprintf(why, sizeof(why), "%s", nbd_why());
	if (!why[0] && (revents & EV_WRITE) && nq->h && !nbd_aio_is_dead(nq->h) &&
	    nbd_aio_notify_write(nq->h) == -1)
		snprintf(why, sizeof(why), "%s", nbd_why());
	nq_after(nq, why[0] ? why : NULL);
}

static void nq_connect(struct nbd_queue *nq)
{
	char why[256];

	nq->h = nbd_new_handle();
	if (!nq->h) {		/* out of memory: try again later */
		ev_timer_stop(nq->loop, &nq->retry_w);
		ev_timer_set(&nq->retry_w, nq->backoff, 0);
		ev_timer_start(nq->loop, &nq->retry_w);
		return;
	}
	nq->ready = false;
	nq->connect_started = now_s();
	if (nbd_aio_connect_uri(nq->h, nq->nd->uri) == -1) {
		snprintf(why, sizeof(why), "%s", nbd_why());
		nq_lost(nq, why, now_s());
		return;
	}
	nq_after(nq, NULL);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct nbd_queue *nq = w->data;

	(void)loop;
	(void)revents;
	if (!nq->h)
		nq_connect(nq);
}

/* Every tick while anything waits, is in flight or is connecting. */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct nbd_queue *nq = w->data;
	unsigned int timeout = nq->nd->timeout;
	double now = now_s();
	struct nbd_req *r, *next;
	unsigned int failed = 0;

	(void)revents;
	if (nq->h && !nq->ready && now - nq->connect_started >= (timeout ? timeout : 1)) {
		nq_lost(nq, "no handshake in time", now);
	} else if (nq->h && nq->ready && nq->nr_inflight &&
		   now - nq->last_progress >= timeout) {
		char why[96];

		snprintf(why, sizeof(why), "no reply for %u s", timeout);
		nq_lost(nq, why, nq->last_progress);
	}
	for (r = TAILQ_FIRST(&nq->waiting); r; r = next) {
		next = TAILQ_NEXT(r, link);
		if (nq->down_since && nbd_wait_expired(r->wait_since, now, timeout)) {
			TAILQ_REMOVE(&nq->waiting, r, link);
			req_finish(r, EIO);
			failed++;
		}
	}
	if (failed) {
		if (!nq->failing)
			ublkfw_err(nq->dev, "queue %u: %s unreachable for %u s (%s): failing I/O with EIO until it is back",
				   ublkfw_queue_id(nq->q), nq->nd->uri, timeout, nq->why);
		nq->failing = true;
	}
	if (nq->h && nq->ready && !nq->nr_inflight && TAILQ_EMPTY(&nq->waiting))
		ev_timer_stop(loop, w);
}

static int nbd_queue_init(struct ublkfw_queue *q)
{
	struct ublkfw_dev *dev = ublkfw_queue_dev(q);
	struct nbd_queue *nq = calloc(1, sizeof(*nq));
	double tick;

	if (!nq)
		return -ENOMEM;
	nq->nd = ublkfw_dev_priv(dev);
	nq->dev = dev;
	nq->q = q;
	nq->loop = ublkfw_queue_loop(q);
	nq->backoff = BACKOFF_MIN;
	TAILQ_INIT(&nq->waiting);
	TAILQ_INIT(&nq->inflight);
	TAILQ_INIT(&nq->done);
	ev_io_init(&nq->io_w, io_cb, -1, 0);
	nq->io_w.data = nq;
	ev_timer_init(&nq->retry_w, retry_cb, 0, 0);
	nq->retry_w.data = nq;
	tick = nq->nd->timeout / 10.0;
	tick = tick < 0.05 ? 0.05 : tick > 1.0 ? 1.0 : tick;
	ev_timer_init(&nq->tick_w, tick_cb, 0, tick);
	nq->tick_w.data = nq;
	ublkfw_queue_set_priv(q, nq);
	nq_connect(nq);
	tick_on(nq);
	return 0;
}

static void nbd_queue_deinit(struct ublkfw_queue *q)
{
	struct nbd_queue *nq = ublkfw_queue_priv(q);
	struct nbd_req *r;

	if (!nq)
		return;
	ev_io_stop(nq->loop, &nq->io_w);
	ev_timer_stop(nq->loop, &nq->retry_w);
	ev_timer_stop(nq->loop, &nq->tick_w);
	nq->gen++;
	if (nq->h)
		nbd_close(nq->h);
	/* The kernel waited for every request: nothing should be left. */
	while ((r = TAILQ_FIRST(&nq->waiting))) {
		TAILQ_REMOVE(&nq->waiting, r, link);
		req_finish(r, EIO);
	}
	free(nq);
	ublkfw_queue_set_priv(q, NULL);
}

/* Send r on the connection, or make it wait for one. */
static void req_submit(struct nbd_queue *nq, struct nbd_req *r)
{
	struct ublkfw_io *io = r->io;
	nbd_completion_callback cb = { .callback = req_done_cb, .user_data = r };
	uint32_t flags = nbd_cmd_flags(io->op, io->flags, &nq->nd->caps);
	int64_t c;

	if (!nq->h || !nq->ready) {
		req_wait(nq, r, now_s());
		return;
	}
	r->gen = nq->gen;
	r->err = 0;
	r->state = R_INFLIGHT;
	TAILQ_INSERT_TAIL(&nq->inflight, r, link);
	if (!nq->nr_inflight++) {
		nq->last_progress = now_s();
		tick_on(nq);
	}
	switch (io->op) {
	case UBLKFW_OP_READ:
		c = nbd_aio_pread(nq->h, io->data, io->len, io->offset, cb, 0);
		break;
	case UBLKFW_OP_WRITE:
		c = nbd_aio_pwrite(nq->h, io->data, io->len, io->offset, cb, flags);
		break;
	case UBLKFW_OP_FLUSH:
		c = nbd_aio_flush(nq->h, cb, 0);
		break;
	case UBLKFW_OP_DISCARD:
		c = nbd_aio_trim(nq->h, io->len, io->offset, cb, flags);
		break;
	default:	/* UBLKFW_OP_WRITE_ZEROES; queue_io filtered the rest */
		c = nbd_aio_zero(nq->h, io->len, io->offset, cb, flags);
		break;
	}
	if (c == -1 && r->state == R_INFLIGHT) {
		/* not issued, no callback: the handle is gone, or libnbd refused it */
		int e = nbd_get_errno();

		TAILQ_REMOVE(&nq->inflight, r, link);
		nq->nr_inflight--;
		r->state = R_IDLE;
		if (nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h))
			req_wait(nq, r, now_s());
		else
			req_finish(r, e > 0 ? e : EIO);
	}
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
	req_submit(nq, r);
	if (nq->h)
		nq_after(nq, NULL);
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
