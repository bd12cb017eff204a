// SPDX-License-Identifier: MIT
/*
 * nbd_conn.c - one queue's NBD connection, on the queue's thread (nbd.c is
 * the target around it).
 *
 * One ev_io on nbd_aio_get_fd() whose events follow nbd_aio_get_direction(),
 * nbd_aio_notify_read/write() when it fires, and nbd_aio_pread/pwrite/flush/
 * trim/zero() with a completion callback per request.  libnbd's callbacks only
 * record the result (a callback may not call libnbd on its handle); the
 * requests are completed once the libnbd call that ran them has returned
 * (nq_after).
 *
 * Batches: one wake-up reads every reply already in the socket
 * (read_replies), and requests sent while others are in flight go out
 * corked, as one TCP segment, at the end of the loop iteration (cork,
 * uncork_cb).  A request on an idle connection is sent at once.
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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "nbd_conn.h"

#define BACKOFF_MIN	0.05
#define BACKOFF_MAX	1.0

double nbd_conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *nbd_conn_why(void)
{
	const char *e = nbd_get_error();

	return e && *e ? e : "unknown error";
}

struct nbd_handle *nbd_conn_handle(void)
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

/* ---- batches: many replies per wake-up, many requests per segment -------- */

#define READ_BATCH	64

static bool is_tcp(int fd)
{
	int domain;
	socklen_t len = sizeof(domain);

	return fd >= 0 && !getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) &&
	       (domain == AF_INET || domain == AF_INET6);
}

/*
 * A request sent while others are in flight (the connection is busy, a
 * batch is likely) is corked: uncork_cb, an ev_prepare, so just before the
 * loop waits again, sends the requests of this wake-up as one TCP segment
 * instead of one each.  A request on an idle connection goes out at once.
 */
static void cork(struct nbd_queue *nq)
{
	static const int on = 1;

	if (!nq->can_cork || ev_is_active(&nq->uncork_w) || !nq->nr_inflight)
		return;
	if (setsockopt(nbd_aio_get_fd(nq->h), IPPROTO_TCP, TCP_CORK, &on, sizeof(on))) {
		nq->can_cork = false;
		return;
	}
	ev_prepare_start(nq->loop, &nq->uncork_w);
}

static void uncork(struct nbd_queue *nq)
{
	static const int off = 0;
	int fd;

	if (!ev_is_active(&nq->uncork_w))
		return;
	ev_prepare_stop(nq->loop, &nq->uncork_w);
	fd = nq->h ? nbd_aio_get_fd(nq->h) : -1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

static void uncork_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	uncork(w->data);
}

/*
 * libnbd reads one reply per nbd_aio_notify_read(); waiting in epoll again
 * for each would cost a wake-up per reply.  So read on while a whole reply
 * was taken, requests are in flight and the socket holds more bytes
 * (FIONREAD: asking libnbd to read an empty socket would leave it inside
 * its reply state, holding new requests back until the next reply).
 */
static int read_replies(struct nbd_queue *nq)
{
	int avail;

	for (unsigned int i = 0; i < READ_BATCH; i++) {
		if (nbd_aio_notify_read(nq->h) == -1)
			return -1;
		if (!nq->ready || !nq->nr_inflight || !nbd_aio_is_ready(nq->h))
			break;
		if (ioctl(nbd_aio_get_fd(nq->h), FIONREAD, &avail) || avail <= 0)
			break;
	}
	return 0;
}

/* ---- requests and the connection's state ---------------------------------- */

static void nq_after(struct nbd_queue *nq, const char *why);
static void req_submit(struct nbd_queue *nq, struct nbd_req *r);

/* Connect again in nq->backoff seconds (retry_cb). */
static void retry_later(struct nbd_queue *nq)
{
	ev_timer_stop(nq->loop, &nq->retry_w);
	ev_timer_set(&nq->retry_w, nq->backoff, 0);
	ev_timer_start(nq->loop, &nq->retry_w);
}

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
	nq->last_progress = nbd_conn_now();
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
	    (nq->down_since && nbd_wait_expired(r->wait_since, nbd_conn_now(), nq->nd->timeout))) {
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
	double now = nbd_conn_now();

	if (!nq->h)
		return;
	ev_io_stop(nq->loop, &nq->io_w);
	uncork(nq);
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
	retry_later(nq);
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
		nq_lost(nq, why, nbd_conn_now());
		return;
	}
	nq->ready = true;
	nq->can_cork = is_tcp(nbd_aio_get_fd(nq->h));
	nq->failing = false;
	nq->backoff = BACKOFF_MIN;
	TAILQ_INIT(&todo);
	TAILQ_CONCAT(&todo, &nq->waiting, link);
	TAILQ_FOREACH(r, &todo, link)
		n++;
	if (nq->down_since) {
		ublkfw_info(nq->dev, "queue %u: reconnected to %s after %.1f s; %u requests sent again",
			    ublkfw_queue_id(nq->q), nd->uri, nbd_conn_now() - nq->down_since, n);
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
	double now = nbd_conn_now();
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
	if ((revents & EV_READ) && read_replies(nq) == -1)
		snprintf(why, sizeof(why), "%s", nbd_conn_why());
	if (!why[0] && (revents & EV_WRITE) && nq->h && !nbd_aio_is_dead(nq->h) &&
	    nbd_aio_notify_write(nq->h) == -1)
		snprintf(why, sizeof(why), "%s", nbd_conn_why());
	nq_after(nq, why[0] ? why : NULL);
}

static void nq_connect(struct nbd_queue *nq)
{
	char why[256];

	nq->h = nbd_conn_handle();
	if (!nq->h) {		/* out of memory: try again later */
		retry_later(nq);
		return;
	}
	nq->ready = false;
	nq->connect_started = nbd_conn_now();
	if (nbd_aio_connect_uri(nq->h, nq->nd->uri) == -1) {
		snprintf(why, sizeof(why), "%s", nbd_conn_why());
		nq_lost(nq, why, nbd_conn_now());
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
	double now = nbd_conn_now();
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

/* Send r on the connection, or make it wait for one. */
static void req_submit(struct nbd_queue *nq, struct nbd_req *r)
{
	struct ublkfw_io *io = r->io;
	nbd_completion_callback cb = { .callback = req_done_cb, .user_data = r };
	uint32_t flags = nbd_cmd_flags(io->op, io->flags, &nq->nd->caps);
	int64_t c;

	if (!nq->h || !nq->ready) {
		req_wait(nq, r, nbd_conn_now());
		return;
	}
	r->gen = nq->gen;
	r->err = 0;
	r->state = R_INFLIGHT;
	TAILQ_INSERT_TAIL(&nq->inflight, r, link);
	if (!nq->nr_inflight++) {
		nq->last_progress = nbd_conn_now();
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
			req_wait(nq, r, nbd_conn_now());
		else
			req_finish(r, e > 0 ? e : EIO);
	}
}

/* ---- the target's entry points ------------------------------------------- */

void nq_start(struct nbd_queue *nq, struct ublkfw_queue *q)
{
	struct ublkfw_dev *dev = ublkfw_queue_dev(q);
	double tick;

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
	ev_prepare_init(&nq->uncork_w, uncork_cb);
	nq->uncork_w.data = nq;
	ev_timer_init(&nq->retry_w, retry_cb, 0, 0);
	nq->retry_w.data = nq;
	tick = nq->nd->timeout / 10.0;
	tick = tick < 0.05 ? 0.05 : tick > 1.0 ? 1.0 : tick;
	ev_timer_init(&nq->tick_w, tick_cb, 0, tick);
	nq->tick_w.data = nq;
	nq_connect(nq);
	tick_on(nq);
}

void nq_stop(struct nbd_queue *nq)
{
	struct nbd_req *r;

	ev_io_stop(nq->loop, &nq->io_w);
	uncork(nq);
	ev_timer_stop(nq->loop, &nq->retry_w);
	ev_timer_stop(nq->loop, &nq->tick_w);
	nq->gen++;
	if (nq->h)
		nbd_close(nq->h);
	nq->h = NULL;
	/* The kernel waited for every request: nothing should be left. */
	while ((r = TAILQ_FIRST(&nq->waiting))) {
		TAILQ_REMOVE(&nq->waiting, r, link);
		req_finish(r, EIO);
	}
}

void nq_submit(struct nbd_queue *nq, struct nbd_req *r)
{
	if (nq->h && nq->ready)
		cork(nq);
	req_submit(nq, r);
	if (nq->h)
		nq_after(nq, NULL);
}
