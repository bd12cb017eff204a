// SPDX-License-Identifier: MIT
/*
 * filter.c - a device's filter stack: the filters a program may name, the
 * layers stacked over the target, and the walk of a request down the stack
 * and of its completion back up (see "Filters" in ublkfw.h).
 *
 * Layers are numbered from the top: filters 0 .. nr-1, the target nr.  Each
 * request's slot records the layer holding it; ublkfw_filter_next() moves it
 * down, ublkfw_io_complete() (queue.c) up through the io_done hooks, and the
 * request goes back to the kernel once no layer above wants it.  With no
 * filter, both walks are a single test.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "state.h"

#define MAX_REGISTERED	32

static struct ublkfw_filter_ops registered[MAX_REGISTERED];
static unsigned int nr_registered;

static size_t round16(size_t n)
{
	return ublkfw_round_up(n, 16);
}

/* ---- the filters a program may name -------------------------------------- */

const struct ublkfw_filter_ops *ublkfw_filter_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < nr_registered; i++)
		if (!strcmp(registered[i].name, name))
			return &registered[i];
	for (i = 0; ublkfw_builtin_filters[i]; i++)
		if (!strcmp(ublkfw_builtin_filters[i]->name, name))
			return ublkfw_builtin_filters[i];
	return NULL;
}

void ublkfw_filter_list(FILE *f)
{
	unsigned int i;

	for (i = 0; ublkfw_builtin_filters[i]; i++)
		fprintf(f, "%s%s", i ? ", " : "", ublkfw_builtin_filters[i]->name);
	for (i = 0; i < nr_registered; i++)
		fprintf(f, ", %s", registered[i].name);
}

int ublkfw_filter_register(const struct ublkfw_filter_ops *ops)
{
	char err[160];

	if (nr_registered >= MAX_REGISTERED)
		return -ENOSPC;
	if (ublkfw_filter_ops_copy(&registered[nr_registered], ops, err, sizeof(err))) {
		ublkfw_err(NULL, "cannot register a filter: %s", err);
		return -EINVAL;
	}
	if (ublkfw_filter_find(ops->name) != NULL)
		return -EEXIST;
	nr_registered++;
	return 0;
}

/* ---- the stack over a device's target ----------------------------------- */

int ublkfw_stack_push(struct ublkfw_dev *dev, const char *name)
{
	struct ublkfw_stack *st = &dev->stack;
	const struct ublkfw_filter_ops *ops = ublkfw_filter_find(name);
	struct ublkfw_filter *f;

	if (!ops) {
		fprintf(stderr, "%s: unknown filter '%s': choose one of ", dev->conf.prog, name);
		ublkfw_filter_list(stderr);
		fprintf(stderr, "\n");
		return -ENOENT;
	}
	if (st->nr >= UBLKFW_MAX_FILTERS) {
		fprintf(stderr, "%s: too many filters at '%s' (at most %d)\n", dev->conf.prog, name,
			UBLKFW_MAX_FILTERS);
		return -E2BIG;
	}
	f = &st->layers[st->nr];
	f->ops = *ops;		/* built-in and registered ops are normalised */
	f->dev = dev;
	f->layer = st->nr;
	f->priv = ops->priv_size ? calloc(1, ops->priv_size) : NULL;
	if (ops->priv_size && !f->priv)
		return -ENOMEM;
	f->queue_priv_off = st->queue_area_size;
	st->queue_area_size += round16(ops->queue_priv_size);
	st->nr++;
	return 0;
}

void ublkfw_stack_free(struct ublkfw_dev *dev)
{
	for (unsigned int i = 0; i < dev->stack.nr; i++)
		free(dev->stack.layers[i].priv);
	dev->stack.nr = 0;
}

int ublkfw_stack_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	for (unsigned int i = 0; i < dev->stack.nr; i++) {
		struct ublkfw_filter *f = &dev->stack.layers[i];
		int ret;

		if (!f->ops.config)
			continue;
		ret = f->ops.config(f, key, value);
		if (ret != UBLKFW_CONFIG_NEXT)
			return ret < 0 ? ret : 0;
	}
	if (!dev->ops.config) {
		if (key)
			ublkfw_err(dev, "no layer takes --%s (see --help)", key);
		else
			ublkfw_err(dev, "unexpected argument '%s' (see --help)", value);
		return -EINVAL;
	}
	return dev->ops.config(dev, key, value);
}

/* Close the filters from layer `from` up to the top. */
static void close_filters_from(struct ublkfw_dev *dev, unsigned int from)
{
	for (unsigned int i = 0; i < from; i++) {
		struct ublkfw_filter *f = &dev->stack.layers[i];

		if (f->opened && f->ops.close)
			f->ops.close(f);
		f->opened = false;
	}
}

int ublkfw_stack_open(struct ublkfw_dev *dev)
{
	unsigned int i;
	int ret;

	if (dev->ops.open && dev->ops.open(dev))
		return -EINVAL;
	for (i = dev->stack.nr; i-- > 0;) {
		struct ublkfw_filter *f = &dev->stack.layers[i];

		ret = f->ops.open ? f->ops.open(f, dev) : 0;
		if (ret) {
			close_filters_from(dev, dev->stack.nr);
			if (dev->ops.close)
				dev->ops.close(dev);
			return ret < 0 ? ret : -EINVAL;
		}
		f->opened = true;
	}
	return 0;
}

void ublkfw_stack_close(struct ublkfw_dev *dev)
{
	close_filters_from(dev, dev->stack.nr);
	if (dev->ops.close)
		dev->ops.close(dev);
}

size_t ublkfw_stack_layout(struct ublkfw_dev *dev, size_t offset)
{
	for (unsigned int i = 0; i < dev->stack.nr; i++) {
		dev->stack.layers[i].io_priv_off = offset;
		offset += round16(dev->stack.layers[i].ops.io_priv_size);
	}
	return offset;
}

/* ---- per queue ------------------------------------------------------------ */

/* queue_deinit of layers lo .. hi - 1, from the top down. */
static void deinit_filters(struct ublkfw_queue *q, unsigned int lo, unsigned int hi)
{
	for (unsigned int i = lo; i < hi; i++) {
		struct ublkfw_filter *f = &q->dev->stack.layers[i];

		if (f->ops.queue_deinit)
			f->ops.queue_deinit(f, q);
	}
}

int ublkfw_stack_queue_init(struct ublkfw_queue *q)
{
	struct ublkfw_dev *dev = q->dev;
	unsigned int i;
	int ret;

	if (dev->stack.queue_area_size) {
		q->filter_area = calloc(1, dev->stack.queue_area_size);
		if (!q->filter_area)
			return -ENOMEM;
	}
	ret = dev->ops.queue_init ? dev->ops.queue_init(q) : 0;
	if (ret)
		goto fail_area;
	for (i = dev->stack.nr; i-- > 0;) {
		struct ublkfw_filter *f = &dev->stack.layers[i];

		ret = f->ops.queue_init ? f->ops.queue_init(f, q) : 0;
		if (ret) {
			/* the layers below i are initialised, those above not */
			deinit_filters(q, i + 1, dev->stack.nr);
			if (dev->ops.queue_deinit)
				dev->ops.queue_deinit(q);
			goto fail_area;
		}
	}
	return 0;
fail_area:
	free(q->filter_area);
	q->filter_area = NULL;
	return ret;
}

void ublkfw_stack_queue_deinit(struct ublkfw_queue *q)
{
	deinit_filters(q, 0, q->dev->stack.nr);
	if (q->dev->ops.queue_deinit)
		q->dev->ops.queue_deinit(q);
	free(q->filter_area);
	q->filter_area = NULL;
}

/* ---- the data path ---------------------------------------------------------- */

/* Hand io to the first layer from `layer` down that takes requests. */
static void enter_layer(struct ublkfw_queue *q, struct ublkfw_io *io, unsigned int layer)
{
	struct ublkfw_dev *dev = q->dev;
	struct io_slot *s = ublkfw_io_slot(io);

	for (; layer < dev->stack.nr; layer++) {
		struct ublkfw_filter *f = &dev->stack.layers[layer];

		if (f->ops.queue_io) {
			s->layer = layer;
			f->ops.queue_io(f, q, io);
			return;
		}
	}
	s->layer = layer;
	dev->ops.queue_io(q, io);
}

void ublkfw_stack_dispatch(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	if (!q->dev->stack.nr) {
		ublkfw_io_slot(io)->layer = 0;
		q->dev->ops.queue_io(q, io);
		return;
	}
	enter_layer(q, io, 0);
}

void ublkfw_filter_next(struct ublkfw_filter *f, struct ublkfw_io *io)
{
	enter_layer(io->queue, io, f->layer + 1);
}

bool ublkfw_stack_complete(struct ublkfw_queue *q, struct ublkfw_io *io, int result)
{
	struct io_slot *s = ublkfw_io_slot(io);
	unsigned int layer = s->layer;

	while (layer-- > 0) {
		struct ublkfw_filter *f = &q->dev->stack.layers[layer];

		if (f->ops.io_done) {
			s->layer = layer;
			f->ops.io_done(f, q, io, result);
			return true;
		}
	}
	s->layer = 0;
	return false;
}

/* ---- accessors and statistics -------------------------------------------- */

struct ublkfw_dev *ublkfw_filter_dev(const struct ublkfw_filter *f) { return f->dev; }
const char *ublkfw_filter_name(const struct ublkfw_filter *f) { return f->ops.name; }
void *ublkfw_filter_priv(const struct ublkfw_filter *f) { return f->priv; }

void *ublkfw_filter_queue_priv(const struct ublkfw_filter *f, const struct ublkfw_queue *q)
{
	return q->filter_area + f->queue_priv_off;
}

void *ublkfw_filter_io_priv(const struct ublkfw_filter *f, struct ublkfw_io *io)
{
	return (char *)ublkfw_io_slot(io) + f->io_priv_off;
}

void ublkfw_stack_write_stats(struct ublkfw_dev *dev, FILE *out)
{
	bool first = true;

	fputc('[', out);
	for (unsigned int i = 0; i < dev->stack.nr; i++) {
		struct ublkfw_filter *f = &dev->stack.layers[i];

		if (!f->ops.write_stats)
			continue;
		fprintf(out, "%s{\"layer\": %u, \"name\": ", first ? "" : ", ", i);
		ublkfw_json_str(out, f->ops.name);
		fprintf(out, ", \"stats\": ");
		f->ops.write_stats(f, out);
		fputc('}', out);
		first = false;
	}
	fputc(']', out);
}
