// SPDX-License-Identifier: MIT
/*
 * null.c - the null target: reads return whatever is in the buffer (zeroes
 * in copy mode), writes are discarded, flush/discard/write-zeroes succeed.
 * The smallest complete ublk-fw target, and the framework's overhead baseline.
 *
 *   ublk-fw-ctl add -t null -s 1G
 */
#include <errno.h>

#include "ublkfw.h"
#include "targets.h"

#define NULL_DEFAULT_SIZE	(1ULL << 30)

static int null_open(struct ublkfw_dev *dev)
{
	if (!ublkfw_dev_size(dev))
		ublkfw_dev_set_size(dev, NULL_DEFAULT_SIZE);
	ublkfw_dev_set_discard(dev, 0, 0);
	ublkfw_dev_set_write_zeroes(dev, 0);
	return 0;
}

static void null_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	(void)q;
	switch (io->op) {
	case UBLKFW_OP_READ:
	case UBLKFW_OP_WRITE:
		ublkfw_io_complete(io, io->len);
		break;
	case UBLKFW_OP_FLUSH:
	case UBLKFW_OP_DISCARD:
	case UBLKFW_OP_WRITE_ZEROES:
		ublkfw_io_complete(io, 0);
		break;
	default:
		ublkfw_io_complete(io, -EOPNOTSUPP);
		break;
	}
}

const struct ublkfw_target_ops ublkfw_target_null = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "null",
	.description = "discards writes, reads return zeroes (default size 1G)",
	.open = null_open,
	.queue_io = null_queue_io,
};
