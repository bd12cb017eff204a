// SPDX-License-Identifier: MIT
/*
 * rate.c - the rate filter: limits requests per second (--rate-iops) and
 * bytes read and written per second (--rate-bw) with a token bucket on each
 * queue, whose share of the device's limit is 1/queues.  A request that finds
 * the bucket empty, or others waiting, waits in the queue's FIFO until an
 * ev_timer finds tokens for it; nothing sleeps.  A bucket holds at most
 * --rate-burst seconds of tokens (default 0.1) and may go into debt by one
 * request, so requests larger than a burst still pass, at the set rate.
 *
 *   ublk-fw-ctl add -t loop --filter rate --rate-iops 500 --rate-bw 20M disk.img
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters.h"

struct rate_conf {			/* ublkfw_filter_priv() */
	uint64_t iops, bw;		/* device-wide; 0: no limit */
	double burst;			/* seconds */
	atomic_uint_fast64_t nr_waited;	/* requests that had to wait */
};

struct rate_io {			/* ublkfw_filter_io_priv() */
	struct rate_io *next;
	struct ublkfw_io *io;
};

struct rate_queue {			/* ublkfw_filter_queue_priv() */
	struct ublkfw_filter *f;
	double q_iops, q_bw;		/* this queue's share of the limits */
	struct ev_loop *loop;
	double tok_io, tok_bytes;	/* may be negative: debt */
	ev_tstamp last;
	struct rate_io *head, **tail;
	ev_timer timer;
};

static const struct ublkfw_option rate_options[] = {
	{ "rate-iops", "N", "at most N requests per second" },
	{ "rate-bw", "BYTES", "at most BYTES read and written per second (K, M, G suffixes)" },
	{ "rate-burst", "SECONDS", "the largest burst, in seconds of the rate (default 0.1)" },
	{ NULL, NULL, NULL },
};

static int rate_config(struct ublkfw_filter *f, const char *key, const char *value)
{
	struct rate_conf *c = ublkfw_filter_priv(f);
	char *end;
	int ret = 0;

	if (!key || strncmp(key, "rate-", 5))
		return UBLKFW_CONFIG_NEXT;
	if (!strcmp(key, "rate-iops"))
		ret = ublkfw_parse_uint(value, 1, 100000000, &c->iops);
	else if (!strcmp(key, "rate-bw"))
		ret = ublkfw_parse_size(value, &c->bw) || !c->bw ? -1 : 0;
	else if (!strcmp(key, "rate-burst")) {
		c->burst = strtod(value, &end);
		ret = *value && !*end && c->burst >= 0.001 && c->burst <= 60 ? 0 : -1;
	}
	return ret ? filter_bad_value(f, key, value) : 0;
}

static int rate_open(struct ublkfw_filter *f, struct ublkfw_dev *dev)
{
	struct rate_conf *c = ublkfw_filter_priv(f);

	if (!c->iops && !c->bw) {
		ublkfw_err(dev, "rate filter: give --rate-iops N or --rate-bw BYTES (or both)");
		return -1;
	}
	if (c->burst == 0)
		c->burst = 0.1;
	return 0;
}

/* Tokens accrued since the last refill, up to one burst. */
static void refill(struct rate_conf *c, struct rate_queue *rq)
{
	ev_tstamp now = ev_now(rq->loop), dt = now - rq->last;

	rq->last = now;
	if (rq->q_iops) {
		rq->tok_io += dt * rq->q_iops;
		if (rq->tok_io > rq->q_iops * c->burst)
			rq->tok_io = rq->q_iops * c->burst;
	}
	if (rq->q_bw) {
		rq->tok_bytes += dt * rq->q_bw;
		if (rq->tok_bytes > rq->q_bw * c->burst)
			rq->tok_bytes = rq->q_bw * c->burst;
	}
}

static uint32_t cost_bytes(const struct ublkfw_io *io)
{
	return io->op <= UBLKFW_OP_WRITE ? io->len : 0;
}

/* Seconds until the buckets are out of debt (0: now). */
static double wait_time(const struct rate_queue *rq)
{
	double t = 0;

	if (rq->q_iops && rq->tok_io <= 0)
		t = (-rq->tok_io + 1e-9) / rq->q_iops;
	if (rq->q_bw && rq->tok_bytes <= 0 && (-rq->tok_bytes + 1e-9) / rq->q_bw > t)
		t = (-rq->tok_bytes + 1e-9) / rq->q_bw;
	return t;
}

static void take(struct rate_queue *rq, const struct ublkfw_io *io)
{
	if (rq->q_iops)
		rq->tok_io -= 1;
	if (rq->q_bw)
		rq->tok_bytes -= cost_bytes(io);
}

/* Pass down the waiting requests the buckets allow; re-arm for the rest. */
static void release(struct rate_queue *rq)
{
	struct rate_conf *c = ublkfw_filter_priv(rq->f);
	double t = 0;

	refill(c, rq);
	while (rq->head && (t = wait_time(rq)) == 0) {
		struct rate_io *r = rq->head;

		rq->head = r->next;
		if (!rq->head)
			rq->tail = &rq->head;
		take(rq, r->io);
		ublkfw_filter_next(rq->f, r->io);
	}
	if (rq->head && !ev_is_active(&rq->timer)) {
		ev_timer_set(&rq->timer, t < 1e-4 ? 1e-4 : t, 0.);
		ev_timer_start(rq->loop, &rq->timer);
	}
}

static void rate_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	release(w->data);
}

static int rate_queue_init(struct ublkfw_filter *f, struct ublkfw_queue *q)
{
	struct rate_conf *c = ublkfw_filter_priv(f);
	struct rate_queue *rq = ublkfw_filter_queue_priv(f, q);

	/* the kernel's queue count, which may be lower than the one asked for */
	unsigned int nq = ublkfw_dev_nr_queues(ublkfw_queue_dev(q));

	rq->f = f;
	rq->q_iops = (double)c->iops / nq;
	rq->q_bw = (double)c->bw / nq;
	rq->loop = ublkfw_queue_loop(q);
	rq->last = ev_now(rq->loop);
	rq->tok_io = rq->q_iops * c->burst;
	rq->tok_bytes = rq->q_bw * c->burst;
	rq->tail = &rq->head;
	ev_init(&rq->timer, rate_timer_cb);
	rq->timer.data = rq;
	return 0;
}

static void rate_queue_deinit(struct ublkfw_filter *f, struct ublkfw_queue *q)
{
	struct rate_queue *rq = ublkfw_filter_queue_priv(f, q);

	ev_timer_stop(rq->loop, &rq->timer);
}

static void rate_queue_io(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct rate_conf *c = ublkfw_filter_priv(f);
	struct rate_queue *rq = ublkfw_filter_queue_priv(f, q);
	struct rate_io *r = ublkfw_filter_io_priv(f, io);

	ev_now_update(rq->loop);
	refill(c, rq);
	if (!rq->head && wait_time(rq) == 0) {
		take(rq, io);
		ublkfw_filter_next(f, io);
		return;
	}
	atomic_fetch_add_explicit(&c->nr_waited, 1, memory_order_relaxed);
	r->io = io;
	r->next = NULL;
	*rq->tail = r;
	rq->tail = &r->next;
	release(rq);
}

static void rate_write_stats(struct ublkfw_filter *f, FILE *out)
{
	struct rate_conf *c = ublkfw_filter_priv(f);

	fprintf(out, "{\"iops_limit\": %llu, \"bw_limit\": %llu, \"waited\": %llu}",
		(unsigned long long)c->iops, (unsigned long long)c->bw,
		(unsigned long long)atomic_load(&c->nr_waited));
}

const struct ublkfw_filter_ops ublkfw_filter_rate = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "rate",
	.description = "limits requests and bytes per second (token buckets, per queue)",
	.options = rate_options,
	.priv_size = sizeof(struct rate_conf),
	.queue_priv_size = sizeof(struct rate_queue),
	.io_priv_size = sizeof(struct rate_io),
	.config = rate_config,
	.open = rate_open,
	.queue_init = rate_queue_init,
	.queue_deinit = rate_queue_deinit,
	.queue_io = rate_queue_io,
	.write_stats = rate_write_stats,
};
