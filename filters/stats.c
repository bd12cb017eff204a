// SPDX-License-Identifier: MIT
/*
 * stats.c - the stats filter: per kind of operation, the requests, bytes
 * and errors that passed this layer and a latency histogram (from the
 * request's arrival here to its completion back here).  Queue threads write
 * their own counters (relaxed atomics, one writer each); the main thread
 * reads them for `ublk-fw-ctl stats` and `list --json`.
 *
 *   ublk-fw-ctl add -t loop --filter stats disk.img && ublk-fw-ctl stats -n 0
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "filters.h"

#define NR_BUCKETS	32	/* bucket 0: < 1 us; bucket i: [2^(i-1), 2^i) us */

enum { K_READ, K_WRITE, K_FLUSH, K_DISCARD, K_WRITE_ZEROES, NR_KINDS };
static const char *const kind_names[NR_KINDS] = { "read", "write", "flush", "discard",
						  "write_zeroes" };

struct op_stats {
	_Atomic uint64_t ios, bytes, errors, lat_ns_total, lat_ns_max;
	_Atomic uint64_t hist[NR_BUCKETS];
};

struct stats_queue {
	struct op_stats op[NR_KINDS];
};

struct stats_dev {			/* ublkfw_filter_priv() */
	unsigned int nr_queues;
	struct stats_queue *queues;	/* one per queue, indexed by queue id */
};

struct stats_io {			/* ublkfw_filter_io_priv() */
	uint64_t start_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Single writer: a relaxed load and store, no locked instruction. */
static void bump(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static unsigned int bucket_of(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned int b = 0;

	while (us && b < NR_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static int stats_open(struct ublkfw_filter *f, struct ublkfw_dev *dev)
{
	struct stats_dev *sd = ublkfw_filter_priv(f);

	sd->nr_queues = ublkfw_dev_nr_queues(dev);
	sd->queues = calloc(sd->nr_queues, sizeof(*sd->queues));
	return sd->queues ? 0 : -1;
}

static void stats_close(struct ublkfw_filter *f)
{
	free(((struct stats_dev *)ublkfw_filter_priv(f))->queues);
}

static void stats_queue_io(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io)
{
	(void)q;
	((struct stats_io *)ublkfw_filter_io_priv(f, io))->start_ns = now_ns();
	ublkfw_filter_next(f, io);
}

static void stats_io_done(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io,
			  int result)
{
	struct stats_dev *sd = ublkfw_filter_priv(f);
	struct stats_io *si = ublkfw_filter_io_priv(f, io);
	uint64_t lat = now_ns() - si->start_ns;
	unsigned int kind = io->op == UBLKFW_OP_WRITE_ZEROES ? K_WRITE_ZEROES :
			    io->op <= UBLKFW_OP_DISCARD ? io->op : NR_KINDS;

	if (kind < NR_KINDS && ublkfw_queue_id(q) < sd->nr_queues) {
		struct op_stats *s = &sd->queues[ublkfw_queue_id(q)].op[kind];

		bump(&s->ios, 1);
		if (result < 0)
			bump(&s->errors, 1);
		else if (kind <= K_WRITE)
			bump(&s->bytes, (uint64_t)result);
		bump(&s->lat_ns_total, lat);
		if (lat > atomic_load_explicit(&s->lat_ns_max, memory_order_relaxed))
			atomic_store_explicit(&s->lat_ns_max, lat, memory_order_relaxed);
		bump(&s->hist[bucket_of(lat)], 1);
	}
	ublkfw_io_complete(io, result);
}

/* Sum of every queue's counters for one kind. */
static void sum_kind(const struct stats_dev *sd, unsigned int nq, unsigned int kind,
		     uint64_t v[5], uint64_t hist[NR_BUCKETS])
{
	for (unsigned int i = 0; i < nq; i++) {
		const struct op_stats *s = &sd->queues[i].op[kind];
		uint64_t max = atomic_load_explicit(&s->lat_ns_max, memory_order_relaxed);

		v[0] += atomic_load_explicit(&s->ios, memory_order_relaxed);
		v[1] += atomic_load_explicit(&s->bytes, memory_order_relaxed);
		v[2] += atomic_load_explicit(&s->errors, memory_order_relaxed);
		v[3] += atomic_load_explicit(&s->lat_ns_total, memory_order_relaxed);
		v[4] = max > v[4] ? max : v[4];
		for (unsigned int b = 0; b < NR_BUCKETS; b++)
			hist[b] += atomic_load_explicit(&s->hist[b], memory_order_relaxed);
	}
}

/* The upper bound in us of the bucket holding quantile p, at most max. */
static uint64_t percentile_us(const uint64_t hist[NR_BUCKETS], uint64_t n, double p,
			      uint64_t max_us)
{
	uint64_t rank = (uint64_t)(p * (double)n + 0.999999), seen = 0;

	for (unsigned int b = 0; b < NR_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= rank && seen) {
			uint64_t upper = 1ULL << b;

			return upper < max_us ? upper : max_us;
		}
	}
	return max_us;
}

static void write_kind(FILE *out, const struct stats_dev *sd, unsigned int nq, unsigned int kind)
{
	uint64_t v[5] = { 0 }, hist[NR_BUCKETS] = { 0 }, max_us;
	unsigned int last = 0;

	sum_kind(sd, nq, kind, v, hist);
	max_us = (v[4] + 999) / 1000;
	fprintf(out, "\"%s\": {\"ios\": %llu, \"bytes\": %llu, \"errors\": %llu, "
		"\"lat_us_mean\": %llu, \"lat_us_max\": %llu, \"lat_us_p50\": %llu, "
		"\"lat_us_p90\": %llu, \"lat_us_p99\": %llu, \"hist_us_log2\": [", kind_names[kind],
		(unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
		(unsigned long long)(v[0] ? v[3] / v[0] / 1000 : 0), (unsigned long long)max_us,
		(unsigned long long)percentile_us(hist, v[0], 0.50, max_us),
		(unsigned long long)percentile_us(hist, v[0], 0.90, max_us),
		(unsigned long long)percentile_us(hist, v[0], 0.99, max_us));
	for (unsigned int b = 0; b < NR_BUCKETS; b++)
		if (hist[b])
			last = b + 1;
	for (unsigned int b = 0; b < last; b++)
		fprintf(out, "%s%llu", b ? ", " : "", (unsigned long long)hist[b]);
	fprintf(out, "]}");
}

static void stats_write_stats(struct ublkfw_filter *f, FILE *out)
{
	const struct stats_dev *sd = ublkfw_filter_priv(f);
	/* the kernel's queue count, which may be lower than the one asked for */
	unsigned int nq = ublkfw_dev_nr_queues(ublkfw_filter_dev(f));

	if (nq > sd->nr_queues)
		nq = sd->nr_queues;
	fprintf(out, "{\"queues\": %u, \"ops\": {", nq);
	for (unsigned int k = 0; k < NR_KINDS; k++) {
		if (k)
			fprintf(out, ", ");
		write_kind(out, sd, nq, k);
	}
	fprintf(out, "}}");
}

const struct ublkfw_filter_ops ublkfw_filter_stats = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "stats",
	.description = "counts requests, bytes, errors and latency per kind of operation",
	.priv_size = sizeof(struct stats_dev),
	.io_priv_size = sizeof(struct stats_io),
	.open = stats_open,
	.close = stats_close,
	.queue_io = stats_queue_io,
	.io_done = stats_io_done,
	.write_stats = stats_write_stats,
};
