// SPDX-License-Identifier: MIT
/*
 * fault.c - the fault injection target: null (no FILE) or a backing file
 * (served like loop), with delays (--delay-us, a libev timer per request, the
 * loop never sleeps) and -EIO errors (--error-rate, --error-op,
 * --error-after).  The random choice is deterministic for a given --seed:
 * each queue draws from its own generator seeded from it.
 *
 *   ublk-fw-ctl add -t fault -s 1G --error-rate 0.01 --error-op write --seed 7
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backing.h"
#include "targets.h"

static struct {
	struct backing b;
	uint64_t delay_us, error_after, seed;
	double error_rate;
	int error_op;			/* -1: any, else UBLKFW_OP_READ/WRITE */
	atomic_uint_fast64_t nr_eligible; /* over all queues, for --error-after */
} f = { .b = { .min_legs = 0, .max_legs = 1 }, .error_op = -1, .seed = 1 };

struct fault_queue {
	struct backing_queue *bq;	/* NULL: null behaviour */
	uint64_t rng;
	uint64_t nr_errors;
};

struct fault_io {			/* ublkfw_io_priv() */
	ev_timer timer;
	struct ublkfw_io *io;
};

static const struct ublkfw_option fault_options[] = {
	{ "delay-us", "US", "delay every request by US microseconds" },
	{ "error-rate", "P", "fail this fraction (0..1) of requests with EIO" },
	{ "error-op", "OP", "which requests may fail: read, write or any (default)" },
	{ "error-after", "N", "let the first N requests that may fail succeed" },
	{ "seed", "N", "seed of the random choice (default 1)" },
	BACKING_OPTIONS,
	{ NULL, NULL, NULL },
};

static int fault_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	char *end;

	if (!key || !strcmp(key, "buffered") || !strcmp(key, "read-only") ||
	    !strcmp(key, "block-size"))
		return backing_config(dev, &f.b, key, value) ? -EINVAL : 0;
	if (!strcmp(key, "delay-us") && !ublkfw_parse_uint(value, 0, 60000000, &f.delay_us))
		return 0;
	if (!strcmp(key, "error-after") && !ublkfw_parse_uint(value, 0, UINT64_MAX, &f.error_after))
		return 0;
	if (!strcmp(key, "seed") && !ublkfw_parse_uint(value, 0, UINT64_MAX, &f.seed))
		return 0;
	if (!strcmp(key, "error-rate")) {
		f.error_rate = strtod(value, &end);
		if (*value && !*end && f.error_rate >= 0 && f.error_rate <= 1)
			return 0;
	}
	if (!strcmp(key, "error-op")) {
		f.error_op = !strcmp(value, "read") ? UBLKFW_OP_READ :
			     !strcmp(value, "write") ? UBLKFW_OP_WRITE : -1;
		if (f.error_op >= 0 || !strcmp(value, "any"))
			return 0;
	}
	ublkfw_err(dev, "invalid --%s '%s' (see --help)", key, value);
	return -EINVAL;
}

static int fault_open(struct ublkfw_dev *dev)
{
	ublkfw_dev_set_priv(dev, &f.b);
	if (f.b.nr_legs)
		return backing_open(dev, &f.b);
	if (!ublkfw_dev_size(dev)) {
		ublkfw_err(dev, "no size: give -s SIZE, or a backing FILE");
		return -EINVAL;
	}
	return 0;
}

static void fault_close(struct ublkfw_dev *dev)
{
	if (f.b.nr_legs)
		backing_target_close(dev);
}

static int fault_queue_init(struct ublkfw_queue *q)
{
	struct fault_queue *fq = calloc(1, sizeof(*fq));

	if (!fq)
		return -ENOMEM;
	/* splitmix-style seed per queue: same --seed, same choices */
	fq->rng = (f.seed + 1) * 0x9e3779b97f4a7c15ULL + ublkfw_queue_id(q);
	if (f.b.nr_legs && backing_queue_init(q, &f.b, &fq->bq)) {
		free(fq);
		return -ENOMEM;
	}
	ublkfw_queue_set_priv(q, fq);
	return 0;
}

static void fault_queue_deinit(struct ublkfw_queue *q)
{
	struct fault_queue *fq = ublkfw_queue_priv(q);

	ublkfw_info(ublkfw_queue_dev(q), "queue %u: %llu errors injected", ublkfw_queue_id(q),
		    (unsigned long long)fq->nr_errors);
	backing_queue_deinit(fq->bq);
	free(fq);
}

static double next_random(struct fault_queue *fq)	/* xorshift64*, in [0, 1) */
{
	fq->rng ^= fq->rng >> 12;
	fq->rng ^= fq->rng << 25;
	fq->rng ^= fq->rng >> 27;
	return (double)((fq->rng * 0x2545f4914f6cdd1dULL) >> 11) / (double)(1ULL << 53);
}

static void serve(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct fault_queue *fq = ublkfw_queue_priv(q);
	bool eligible = f.error_op < 0 ? io->op <= UBLKFW_OP_WRITE : io->op == f.error_op;

	/* --error-after counts only requests that may fail (--error-op), so
	 * the kernel's own reads at start-up do not shift a write test. */
	if (eligible && atomic_fetch_add(&f.nr_eligible, 1) >= f.error_after &&
	    f.error_rate > 0 && next_random(fq) < f.error_rate) {
		fq->nr_errors++;
		ublkfw_io_complete(io, -EIO);
	} else if (fq->bq) {
		backing_queue_io(fq->bq, io);
	} else {
		ublkfw_io_complete(io, io->op <= UBLKFW_OP_WRITE ? (int)io->len : 0);
	}
}

static void delay_done(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fault_io *fio = (struct fault_io *)w;

	(void)loop;
	(void)revents;
	serve(fio->io->queue, fio->io);
}

static void fault_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct fault_io *fio = ublkfw_io_priv(io);

	if (!f.delay_us) {
		serve(q, io);
		return;
	}
	fio->io = io;
	/* libev times timers from the loop's cached "now", which lags when an
	 * iteration runs long: refresh it so no request is delayed less. */
	ev_now_update(ublkfw_queue_loop(q));
	ev_timer_init(&fio->timer, delay_done, f.delay_us / 1e6, 0.);
	ev_timer_start(ublkfw_queue_loop(q), &fio->timer);
}

const struct ublkfw_target_ops ublkfw_target_fault = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "fault",
	.description = "null or a FILE, with injected delays and EIO errors",
	.options = fault_options,
	.args_usage = "[FILE]",
	.io_priv_size = sizeof(struct fault_io),
	.config = fault_config,
	.open = fault_open,
	.close = fault_close,
	.queue_init = fault_queue_init,
	.queue_deinit = fault_queue_deinit,
	.queue_io = fault_queue_io,
};
