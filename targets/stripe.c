// SPDX-License-Identifier: MIT
/*
 * stripe.c - the stripe target: RAID-0 over 2 to 16 files or block devices in
 * chunks of --chunk-size bytes.  Requests are split at chunk boundaries and
 * complete when every part has; FLUSH goes to every leg.  The I/O engine is
 * shared with loop (backing.c).
 *
 *   ublk-fw-ctl add -t stripe --chunk-size 64K a.img b.img c.img
 */
#include <errno.h>
#include <string.h>

#include "backing.h"
#include "targets.h"

#define STRIPE_DEFAULT_CHUNK	(64 << 10)

static struct backing *stripe_of(struct ublkfw_dev *dev)
{
	return backing_of(dev, 2, BACKING_MAX_LEGS, STRIPE_DEFAULT_CHUNK);
}

static const struct ublkfw_option stripe_options[] = {
	{ "chunk-size", "BYTES", "stripe chunk, a multiple of the block size (default 64K)" },
	BACKING_OPTIONS,
	{ NULL, NULL, NULL },
};

static int stripe_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	uint64_t v;

	if (key && !strcmp(key, "chunk-size")) {
		if (ublkfw_parse_size(value, &v) || v < 512 || v > (64 << 20)) {
			ublkfw_err(dev, "invalid --chunk-size '%s': use 512 bytes to 64M", value);
			return -EINVAL;
		}
		stripe_of(dev)->chunk = v;
		return 0;
	}
	return backing_config(dev, stripe_of(dev), key, value) ? -EINVAL : 0;
}

static int stripe_open(struct ublkfw_dev *dev)
{
	return backing_open(dev, stripe_of(dev));
}

const struct ublkfw_target_ops ublkfw_target_stripe = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "stripe",
	.description = "RAID-0 over 2..16 files or block devices (--chunk-size)",
	.options = stripe_options,
	.args_usage = "FILE FILE...",
	.dev_priv_size = sizeof(struct backing),
	.config = stripe_config,
	.open = stripe_open,
	.close = backing_target_close,
	.queue_init = backing_target_queue_init,
	.queue_deinit = backing_target_queue_deinit,
	.queue_io = backing_target_queue_io,
};
