// SPDX-License-Identifier: MIT
/*
 * loop.c - the loop target: a device backed by a regular file or a block
 * device, served asynchronously on the queue's io_uring ring (registered
 * file, O_DIRECT unless --buffered).  FLUSH is fdatasync, FUA a RWF_DSYNC
 * write, DISCARD punches a hole (BLKDISCARD on a block device), WRITE_ZEROES
 * zeroes the range.  The work is done by the shared engine in backing.c.
 *
 *   ublk-fw-ctl add -t loop /var/lib/disk.img
 */
#include <errno.h>

#include "backing.h"
#include "targets.h"

static const struct ublkfw_option loop_options[] = {
	BACKING_OPTIONS,
	{ NULL, NULL, NULL },
};

static int loop_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	return backing_config(dev, backing_of(dev, 1, 1, 0), key, value) ? -EINVAL : 0;
}

static int loop_open(struct ublkfw_dev *dev)
{
	return backing_open(dev, backing_of(dev, 1, 1, 0));
}

const struct ublkfw_target_ops ublkfw_target_loop = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "loop",
	.description = "a regular file or block device (async io_uring, O_DIRECT)",
	.options = loop_options,
	.args_usage = "FILE",
	.dev_priv_size = sizeof(struct backing),
	.config = loop_config,
	.open = loop_open,
	.close = backing_target_close,
	.queue_init = backing_target_queue_init,
	.queue_deinit = backing_target_queue_deinit,
	.queue_io = backing_target_queue_io,
};
