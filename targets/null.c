// SPDX-License-Identifier: MIT
/*
 * null.c - the null target: reads return zeroes, writes are discarded,
 * flush/discard/write-zeroes succeed.  The smallest complete ublk-fw target,
 * and the framework's overhead baseline.
 *
 * Zeroes, cheaply: a read's data is the tag's copy buffer, which still holds
 * what the tag's last write brought in.  Each tag remembers in its private
 * area (ublkfw_io_priv) which buffer its writes used and which bytes of it,
 * [clean, dirty), may be non-zero (writes start at the buffer's start, so a
 * write makes [0, len) dirty; a read clears what it returns of the range and
 * moves `clean` up), so each byte a write dirtied is cleared once: a
 * read-only workload clears nothing, and short reads after a long write do
 * not clear the same bytes again and again.
 * With --user-copy a read is lent a clean buffer, never a writer's (the
 * framework clears one first), so a read elsewhere clears nothing either.  A
 * zero-copy read points into a client's memory instead and is cleared whole.
 *
 *   ublk-fw-ctl add -t null -s 1G
 */
#include <errno.h>
#include <string.h>

#include "ublkfw.h"
#include "targets.h"

#define NULL_DEFAULT_SIZE	(1ULL << 30)

/* Per tag, kept from one request of the tag to the next (zeroed at start-up). */
struct null_tag {
	void *buf;		/* the copy buffer the tag's writes used */
	uint32_t clean;		/* its bytes [0, clean) are zeroes... */
	uint32_t dirty;		/* ...and those from dirty on too */
};

/* A copy-mode read of LEN bytes from t->buf: clear what of [clean, dirty)
 * it returns. */
static void null_clear(struct null_tag *t, uint32_t len)
{
	uint32_t end = t->dirty < len ? t->dirty : len;

	if (t->clean >= end)
		return;
	memset((char *)t->buf + t->clean, 0, end - t->clean);
	t->clean = end;
	if (t->clean == t->dirty)
		t->clean = t->dirty = 0;
}

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
	struct null_tag *t = ublkfw_io_priv(io);

	(void)q;
	switch (io->op) {
	case UBLKFW_OP_READ:
		if (ublkfw_io_is_zero_copy(io)) {
			memset(io->data, 0, io->len);
		} else if (io->data == t->buf) {
			null_clear(t, io->len);
		}
		ublkfw_io_complete(io, io->len);
		break;
	case UBLKFW_OP_WRITE:
		/* The kernel (or the framework) copied the data into the buffer. */
		if (!ublkfw_io_is_zero_copy(io)) {
			if (io->data != t->buf) {
				t->buf = io->data;
				t->dirty = 0;
			}
			if (io->len > t->dirty)
				t->dirty = io->len;
			t->clean = 0;
		}
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
	.io_priv_size = sizeof(struct null_tag),
	.open = null_open,
	.queue_io = null_queue_io,
};
