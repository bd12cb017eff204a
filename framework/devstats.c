// SPDX-License-Identifier: MIT
/*
 * devstats.c - a device's counters as one JSON line, for the "stats"
 * request on its .ctl socket: the queue layer's zero-copy and copy counts,
 * then each filter's own (filter.c).  Main thread; the queue threads write
 * the counters with relaxed atomics.
 */
#include "dev.h"

static void read_stats(struct ublkfw_queue *q, uint64_t v[5])
{
	v[0] = atomic_load_explicit(&q->stats.zc_ios, memory_order_relaxed);
	v[1] = atomic_load_explicit(&q->stats.zc_bytes, memory_order_relaxed);
	v[2] = atomic_load_explicit(&q->stats.copy_ios, memory_order_relaxed);
	v[3] = atomic_load_explicit(&q->stats.copy_bytes, memory_order_relaxed);
	v[4] = atomic_load_explicit(&q->stats.zc_rejected, memory_order_relaxed);
}

/* {"zc_ios": .., "zc_bytes": .., "copy_ios": .., "copy_bytes": .., "zc_rejected": ..,
 *  "queues": [{"queue": 0, ...}, ...]} - the device totals first. */
void ublkfw_dev_write_stats(struct ublkfw_dev *dev, FILE *f)
{
	static const char *const names[5] = { "zc_ios", "zc_bytes", "copy_ios", "copy_bytes",
					      "zc_rejected" };
	uint64_t t[5] = { 0 }, v[5];
	unsigned int i;
	int k;

	for (i = 0; i < dev->conf.nr_queues && dev->queues; i++) {
		read_stats(&dev->queues[i], v);
		for (k = 0; k < 5; k++)
			t[k] += v[k];
	}
	fputc('{', f);
	for (k = 0; k < 5; k++)
		fprintf(f, "\"%s\": %llu, ", names[k], (unsigned long long)t[k]);
	fprintf(f, "\"queues\": [");
	for (i = 0; i < dev->conf.nr_queues && dev->queues; i++) {
		read_stats(&dev->queues[i], v);
		fprintf(f, "%s{\"queue\": %u", i ? ", " : "", i);
		for (k = 0; k < 5; k++)
			fprintf(f, ", \"%s\": %llu", names[k], (unsigned long long)v[k]);
		fputc('}', f);
	}
	fprintf(f, "], \"filters\": ");
	ublkfw_stack_write_stats(dev, f);
	fprintf(f, "}\n");
}

