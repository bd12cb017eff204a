/* SPDX-License-Identifier: MIT */
/*
 * fake_queue.h - a queue without a kernel for the unit tests of the data
 * path: a real (idle) io_uring ring, a libev loop and hand-written I/O
 * descriptors.  fake_queue_slots() allocates the per-tag slots, after the
 * test has stacked any filters (and set q.user_copy for user-copy mode:
 * bufs is then the queue's pool).
 */
#ifndef UBLKFW_FAKE_QUEUE_H
#define UBLKFW_FAKE_QUEUE_H

#include <criterion/criterion.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

/* A test may define its own before including this file. */
#ifndef FAKE_DEPTH
#define FAKE_DEPTH	4
#endif
#ifndef FAKE_MAX_IO
#define FAKE_MAX_IO	8192
#endif

struct fake_queue {
	struct ublkfw_dev dev;
	struct ublkfw_queue q;
	struct ublksrv_io_desc descs[FAKE_DEPTH];
	char bufs[FAKE_DEPTH][FAKE_MAX_IO];
};

static inline void fake_queue_init(struct fake_queue *f, const struct ublkfw_target_ops *ops)
{
	ublkfw_dev_init(&f->dev, ops, "unit");
	f->dev.conf.max_io = FAKE_MAX_IO;
	memset(&f->q, 0, sizeof(f->q));
	memset(f->descs, 0, sizeof(f->descs));
	memset(f->bufs, 0, sizeof(f->bufs));	/* the framework's start zeroed (mmap) */
	f->q.dev = &f->dev;
	f->q.depth = FAKE_DEPTH;
	f->q.descs = f->descs;
	f->q.bufs = &f->bufs[0][0];
	cr_assert_eq(io_uring_queue_init(16, &f->q.ring, 0), 0);
	f->q.loop = ev_loop_new(EVFLAG_AUTO);
	/* the cross-thread wake-up, never read: nothing waits here */
	f->q.wake_fd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(f->q.wake_fd, 0);
}

static inline void fake_queue_slots(struct fake_queue *f)
{
	cr_assert_eq(ublkfw_queue_alloc_slots(&f->q), 0);
}

static inline void fake_queue_fini(struct fake_queue *f)
{
	io_uring_queue_exit(&f->q.ring);
	ev_loop_destroy(f->q.loop);
	close(f->q.wake_fd);
	free(f->q.slots);
	ublkfw_uc_pool_free(&f->q);
	ublkfw_stack_free(&f->dev);
}

#endif
