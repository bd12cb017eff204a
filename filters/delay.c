// SPDX-License-Identifier: MIT
/*
 * delay.c - the delay filter: each request waits on an ev_timer of the
 * queue's loop before it goes down, so delays overlap and the loop never
 * sleeps.  Fixed per kind of operation, or random in [0, US] per request
 * (--delay-random, deterministic for a given --delay-seed).
 *
 *   ublk-fw-ctl add -t null --filter delay --delay-read-us 500 --delay-write-us 2000
 */
#include <string.h>

#include "filters.h"
#include "rng.h"

enum { KIND_READ, KIND_WRITE, KIND_OTHER, NR_KINDS };

struct delay_conf {			/* ublkfw_filter_priv() */
	uint64_t us[NR_KINDS];
	bool random;
	uint64_t seed;
};

struct delay_queue {			/* ublkfw_filter_queue_priv() */
	uint64_t rng;
	struct ev_loop *loop;		/* the queue's, for the timers */
};

struct delay_io {			/* ublkfw_filter_io_priv() */
	ev_timer timer;			/* first */
	struct ublkfw_filter *f;
	struct ublkfw_io *io;
};

#define MAX_DELAY_US	60000000ULL	/* one minute */

static const struct ublkfw_option delay_options[] = {
	{ "delay-us", "US", "delay every request by US microseconds" },
	{ "delay-read-us", "US", "delay reads by US microseconds" },
	{ "delay-write-us", "US", "delay writes by US microseconds" },
	{ "delay-other-us", "US", "delay flush, discard and write-zeroes by US microseconds" },
	{ "delay-random", NULL, "each delay is random in [0, US] instead of US" },
	{ "delay-seed", "N", "seed of --delay-random (default 0)" },
	{ NULL, NULL, NULL },
};

static int delay_config(struct ublkfw_filter *f, const char *key, const char *value)
{
	struct delay_conf *c = ublkfw_filter_priv(f);
	static const char *const kinds[NR_KINDS] = { "delay-read-us", "delay-write-us",
						     "delay-other-us" };
	uint64_t v;

	if (!key || strncmp(key, "delay-", 6))
		return UBLKFW_CONFIG_NEXT;
	if (!strcmp(key, "delay-random")) {
		c->random = true;
		return 0;
	}
	if (!strcmp(key, "delay-seed"))
		return ublkfw_parse_uint(value, 0, UINT64_MAX, &c->seed) ?
			filter_bad_value(f, key, value) : 0;
	if (ublkfw_parse_uint(value, 0, MAX_DELAY_US, &v))
		return filter_bad_value(f, key, value);
	for (int k = 0; k < NR_KINDS; k++)
		if (!strcmp(key, "delay-us") || !strcmp(key, kinds[k]))
			c->us[k] = v;
	return 0;
}

static int delay_open(struct ublkfw_filter *f, struct ublkfw_dev *dev)
{
	struct delay_conf *c = ublkfw_filter_priv(f);

	ublkfw_info(dev, "delay filter: read %llu us, write %llu us, other %llu us%s",
		    (unsigned long long)c->us[KIND_READ], (unsigned long long)c->us[KIND_WRITE],
		    (unsigned long long)c->us[KIND_OTHER], c->random ? ", random up to that" : "");
	return 0;
}

static int delay_queue_init(struct ublkfw_filter *f, struct ublkfw_queue *q)
{
	struct delay_conf *c = ublkfw_filter_priv(f);
	struct delay_queue *dq = ublkfw_filter_queue_priv(f, q);

	dq->rng = rng_seed(c->seed, ublkfw_queue_id(q));
	/* asked for here, not at the first delayed request: the queue waits
	 * in libev from the start (ublkfw_queue_loop(3)) */
	dq->loop = ublkfw_queue_loop(q);
	return 0;
}

static void delay_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct delay_io *d = (struct delay_io *)w;

	(void)loop;
	(void)revents;
	ublkfw_filter_next(d->f, d->io);
}

static void delay_queue_io(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct delay_conf *c = ublkfw_filter_priv(f);
	struct delay_io *d = ublkfw_filter_io_priv(f, io);
	int kind = io->op == UBLKFW_OP_READ ? KIND_READ :
		   io->op == UBLKFW_OP_WRITE ? KIND_WRITE : KIND_OTHER;
	struct delay_queue *dq = ublkfw_filter_queue_priv(f, q);
	double us = (double)c->us[kind];

	if (c->random)
		us = (double)(uint64_t)(rng_next(&dq->rng) * (us + 1));
	if (us <= 0) {
		ublkfw_filter_next(f, io);
		return;
	}
	d->f = f;
	d->io = io;
	/* libev times timers from the loop's cached "now", which lags when an
	 * iteration runs long: refresh it so no request is delayed less. */
	ev_now_update(dq->loop);
	ev_timer_init(&d->timer, delay_expired, us / 1e6, 0.);
	ev_timer_start(dq->loop, &d->timer);
}

const struct ublkfw_filter_ops ublkfw_filter_delay = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "delay",
	.description = "delays requests (fixed or random, per kind of operation)",
	.options = delay_options,
	.priv_size = sizeof(struct delay_conf),
	.queue_priv_size = sizeof(struct delay_queue),
	.io_priv_size = sizeof(struct delay_io),
	.config = delay_config,
	.open = delay_open,
	.queue_init = delay_queue_init,
	.queue_io = delay_queue_io,
};
