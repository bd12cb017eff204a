/* SPDX-License-Identifier: MIT */
/*
 * filter.h - the filter stack of a device (filter.c): which filters are
 * known, the layers a device stacks over its target, and the two hot
 * functions of the data path, dispatch down and completion up.
 */
#ifndef UBLKFW_FILTER_H
#define UBLKFW_FILTER_H

#include <stdbool.h>
#include <stdio.h>

#include "ublkfw.h"

#define UBLKFW_MAX_FILTERS	16

struct ublkfw_filter {
	struct ublkfw_filter_ops ops;	/* normalised copy */
	struct ublkfw_dev *dev;
	unsigned int layer;		/* 0: the top; the target is layer nr */
	void *priv;			/* ops.priv_size bytes */
	size_t io_priv_off;		/* from the start of the request's slot */
	size_t queue_priv_off;		/* in each queue's filter area */
	bool opened;
};

/* nr first: every request reads it right after the target's ops, which
 * come just before in struct ublkfw_dev; behind the 2.7 KiB of layers it was
 * on another page (one page more per request: docs/benchmarks.md). */
struct ublkfw_stack {
	unsigned int nr;
	size_t queue_area_size;		/* bytes of every queue's filter area */
	struct ublkfw_filter layers[UBLKFW_MAX_FILTERS];
};

/* The filter called name: registered by the program, else built in. */
const struct ublkfw_filter_ops *ublkfw_filter_find(const char *name);
/* Print "delay, error, ..." (every known filter) on f. */
void ublkfw_filter_list(FILE *f);

/* Add a layer below the ones already stacked.  0 or -errno (message printed). */
int ublkfw_stack_push(struct ublkfw_dev *dev, const char *name);
void ublkfw_stack_free(struct ublkfw_dev *dev);
/* Offer an option (key) or positional argument (key NULL) to each layer
 * from the top, then the target.  0 or -errno (message printed). */
int ublkfw_stack_config(struct ublkfw_dev *dev, const char *key, const char *value);
/* The target's open, then each filter's from the bottom; undone on failure. */
int ublkfw_stack_open(struct ublkfw_dev *dev);
/* Each filter's close from the top, then the target's. */
void ublkfw_stack_close(struct ublkfw_dev *dev);
/* Per-request layout: give each filter its io area after the target's,
 * starting at offset; returns the end. */
size_t ublkfw_stack_layout(struct ublkfw_dev *dev, size_t offset);
/* Per queue, on its thread: the target's queue_init, then the filters'
 * from the bottom (undone on failure); deinit in reverse. */
int ublkfw_stack_queue_init(struct ublkfw_queue *q);
void ublkfw_stack_queue_deinit(struct ublkfw_queue *q);
/* A request from the kernel enters the top layer. */
void ublkfw_stack_dispatch(struct ublkfw_queue *q, struct ublkfw_io *io);
/* The layer holding io completed it: hand it to the next io_done above.
 * false when no layer above wants it (the framework commits it). */
bool ublkfw_stack_complete(struct ublkfw_queue *q, struct ublkfw_io *io, int result);
/* Each filter's write_stats as {"layer": L, "name": N, "stats": {...}}, ... */
void ublkfw_stack_write_stats(struct ublkfw_dev *dev, FILE *out);

/* The built-in filters (filters/), NULL-terminated. */
extern const struct ublkfw_filter_ops *const ublkfw_builtin_filters[];

#endif
