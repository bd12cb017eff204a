// SPDX-License-Identifier: MIT
/*
 * error.c - the error filter: fails requests with EIO instead of passing
 * them down.  A request is eligible when its operation matches --error-op
 * and it overlaps --error-sectors (if given); the first --error-after
 * eligible requests (counted over all queues) pass, and after that each one
 * fails with probability --error-rate, drawn from a per-queue generator
 * seeded with --error-seed: one seed, one pattern.
 *
 *   ublk-fw-ctl add -t loop --filter error --error-rate 0.01 --error-op write disk.img
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "filters.h"
#include "rng.h"

struct error_conf {			/* ublkfw_filter_priv() */
	double rate;
	int op;				/* 0: read or write, else the op + 1 */
	uint64_t after, seed;
	bool range;			/* --error-sectors given */
	uint64_t first, last;		/* --error-sectors, inclusive */
	atomic_uint_fast64_t nr_eligible;
	atomic_uint_fast64_t nr_injected;
};

struct error_queue {			/* ublkfw_filter_queue_priv() */
	uint64_t rng;
};

static const struct ublkfw_option error_options[] = {
	{ "error-rate", "P", "fail this fraction (0..1) of eligible requests with EIO" },
	{ "error-op", "OP", "which requests are eligible: read, write or any (default, both)" },
	{ "error-after", "N", "let the first N eligible requests pass" },
	{ "error-sectors", "FIRST-LAST", "only requests touching these 512-byte sectors" },
	{ "error-seed", "N", "seed of the random choice (default 0)" },
	{ NULL, NULL, NULL },
};

static int parse_range(const char *s, uint64_t *first, uint64_t *last)
{
	unsigned long long a, b;
	char tail;

	if (sscanf(s, "%llu-%llu%c", &a, &b, &tail) != 2 || a > b)
		return -EINVAL;
	*first = a;
	*last = b;
	return 0;
}

static int error_config(struct ublkfw_filter *f, const char *key, const char *value)
{
	struct error_conf *c = ublkfw_filter_priv(f);
	int ret = -EINVAL;

	if (!key || strncmp(key, "error-", 6))
		return UBLKFW_CONFIG_NEXT;
	if (!strcmp(key, "error-rate"))
		ret = filter_parse_fraction(value, &c->rate);
	else if (!strcmp(key, "error-after"))
		ret = ublkfw_parse_uint(value, 0, UINT64_MAX, &c->after);
	else if (!strcmp(key, "error-seed"))
		ret = ublkfw_parse_uint(value, 0, UINT64_MAX, &c->seed);
	else if (!strcmp(key, "error-sectors"))
		ret = parse_range(value, &c->first, &c->last), c->range = !ret;
	else if (!strcmp(key, "error-op")) {
		c->op = !strcmp(value, "read") ? UBLKFW_OP_READ + 1 :
			!strcmp(value, "write") ? UBLKFW_OP_WRITE + 1 : 0;
		ret = c->op || !strcmp(value, "any") ? 0 : -EINVAL;
	}
	return ret ? filter_bad_value(f, key, value) : 0;
}

static int error_open(struct ublkfw_filter *f, struct ublkfw_dev *dev)
{
	struct error_conf *c = ublkfw_filter_priv(f);

	if (c->rate == 0)
		ublkfw_info(dev, "error filter: --error-rate is 0: no request will fail");
	return 0;
}

static int error_queue_init(struct ublkfw_filter *f, struct ublkfw_queue *q)
{
	struct error_conf *c = ublkfw_filter_priv(f);
	struct error_queue *eq = ublkfw_filter_queue_priv(f, q);

	eq->rng = rng_seed(c->seed, ublkfw_queue_id(q));
	return 0;
}

static bool eligible(const struct error_conf *c, const struct ublkfw_io *io)
{
	uint64_t first = io->offset >> 9, last = first + (io->len >> 9) - 1;

	if (!c->op ? io->op > UBLKFW_OP_WRITE : io->op + 1 != c->op)
		return false;
	return !c->range || (io->len && first <= c->last && last >= c->first);
}

static void error_queue_io(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct error_conf *c = ublkfw_filter_priv(f);
	struct error_queue *eq = ublkfw_filter_queue_priv(f, q);

	/* --error-after counts only eligible requests, so the kernel's own
	 * reads at start-up do not shift a write test. */
	if (eligible(c, io) && atomic_fetch_add(&c->nr_eligible, 1) >= c->after &&
	    c->rate > 0 && rng_next(&eq->rng) < c->rate) {
		atomic_fetch_add_explicit(&c->nr_injected, 1, memory_order_relaxed);
		ublkfw_io_complete(io, -EIO);
		return;
	}
	ublkfw_filter_next(f, io);
}

static void error_write_stats(struct ublkfw_filter *f, FILE *out)
{
	struct error_conf *c = ublkfw_filter_priv(f);

	fprintf(out, "{\"eligible\": %llu, \"injected\": %llu}",
		(unsigned long long)atomic_load(&c->nr_eligible),
		(unsigned long long)atomic_load(&c->nr_injected));
}

const struct ublkfw_filter_ops ublkfw_filter_error = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "error",
	.description = "fails requests with EIO (at a rate, after N, on a sector range)",
	.options = error_options,
	.priv_size = sizeof(struct error_conf),
	.queue_priv_size = sizeof(struct error_queue),
	.config = error_config,
	.open = error_open,
	.queue_init = error_queue_init,
	.queue_io = error_queue_io,
	.write_stats = error_write_stats,
};
