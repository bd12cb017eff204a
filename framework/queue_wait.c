// SPDX-License-Identifier: MIT
/*
 * queue_wait.c - how a queue thread waits: the one place where libev and the
 * queue's io_uring ring meet.
 *
 * A queue whose target or filters have libev watchers (they asked for the
 * loop with ublkfw_queue_loop()) waits in libev, as any libev program does,
 * so their timers and sockets work exactly as libev documents them:
 *   - an ev_io on the ring fd wakes the loop when CQEs are ready (a plain
 *     ring: a DEFER_TASKRUN ring runs its completions only when its own
 *     thread enters the kernel, so an epoll wait on its fd can sleep past
 *     them; docs/benchmarks.md has the measurement);
 *   - an ev_check reaps the CQEs ready after each wake-up
 *     (ublkfw_queue_reap(); any posted meanwhile keep the fd readable);
 *   - an ev_prepare submits all SQEs queued during the iteration in one
 *     io_uring_enter(), so N completions cost one syscall, not N.
 *
 * Any other queue chooses at each wait, by what the last wake-up found:
 *   - one CQE or none (light load, QD1): io_uring_submit_and_wait(), which
 *     submits the commits and sleeps until the next CQE in one system call,
 *     as a bare ublk server does: one syscall per request instead of two;
 *   - more (a queue kept busy): one libev iteration as above, epoll_wait on
 *     the ring fd and a separate submit.  Measured (docs/benchmarks.md):
 *     waiting in io_uring_enter() alone, which returns at the first CQE,
 *     wakes the thread 2.5x as often per request at 4k QD32 (0.25 context
 *     switches per request against 0.10) and gives 0.63-0.91x the IOPS of
 *     the epoll wait there; choosing by the load keeps 0.86-0.99x of them,
 *     and 1.14-1.25x at QD1.
 * A queue whose target first asks for the loop in the middle of a reap
 * switches to libev for good at its end, so the watchers it started there
 * are in place before the next wait.
 *
 * The cross-thread wake-up (ublkfw_io_complete_async(), a stop request) is
 * an eventfd the ring reads: its CQE ends either wait.  Senders write it only
 * when no wake-up is pending yet, as ev_async_send() does.
 *
 * UBLKFW_QUEUE_WAIT=libev in the server's environment makes every queue wait
 * in libev from the start (for side-by-side measurement).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev.h"

/* ---- the cross-thread wake-up ------------------------------------------- */

static void wake_arm(struct ublkfw_queue *q)
{
	struct io_uring_sqe *sqe = ublkfw_queue_sqe(q);

	if (!sqe) {
		ublkfw_err(q->dev, "queue %u: no SQE for the wake-up read", q->id);
		return;
	}
	/* a blocking eventfd: io_uring polls it instead of failing EAGAIN */
	io_uring_prep_read(sqe, q->wake_fd, &q->wake_val, sizeof(q->wake_val), 0);
	io_uring_sqe_set_data(sqe, &q->wake_op);
}

void ublkfw_queue_wake(struct ublkfw_queue *q)
{
	static const uint64_t one = 1;

	if (atomic_exchange(&q->wake_pending, true))
		return;
	if (write(q->wake_fd, &one, sizeof(one)) < 0)
		ublkfw_err(q->dev, "queue %u: waking the queue thread: %s", q->id,
			   strerror(errno));
}

/* The wake-up read completed: take the cross-thread completions, honour a
 * stop request, read again. */
static void wake_cb(struct ublkfw_queue *q, struct ublkfw_uring_op *op, int res,
		    unsigned int flags)
{
	(void)op;
	(void)flags;
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		ublkfw_err(q->dev, "queue %u: the wake-up read failed: %s", q->id, strerror(-res));
		return;
	}
	/* cleared before the list is taken: a later push writes again */
	atomic_store(&q->wake_pending, false);
	if (atomic_load(&q->stop_req)) {
		ublkfw_queue_finish(q);
		return;
	}
	ublkfw_queue_take_remote(q);
	wake_arm(q);
}

bool ublkfw_queue_wait_owns(const struct ublkfw_queue *q, const struct ublkfw_uring_op *op)
{
	return op == &q->wake_op;
}

/* ---- waiting in libev --------------------------------------------------- */

/* The ring fd's watcher only wakes the loop up: libev runs the check watcher
 * after every poll, before the pending I/O watchers, and check_cb reaps. */
static void ring_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	(void)loop;
	(void)revents;
	ublkfw_queue_reap(w->data);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ublkfw_queue *q = w->data;
	int ret;

	(void)loop;
	(void)revents;
	if (!io_uring_sq_ready(&q->ring))
		return;
	ret = ublkfw_queue_submit(q);
	if (ret < 0 && ret != -EBUSY && ret != -EAGAIN)
		ublkfw_err(q->dev, "queue %u: io_uring_submit: %s", q->id, strerror(-ret));
	/* -EBUSY/-EAGAIN: the CQ is full; the ring fd is readable, the check
	 * watcher reaps, and the next prepare submits again. */
}

/* The ring's three watchers (starting them again is a no-op in libev). */
static void watch_ring(struct ublkfw_queue *q)
{
	ev_io_start(q->loop, &q->ring_w);
	ev_prepare_start(q->loop, &q->prepare_w);
	ev_check_start(q->loop, &q->check_w);
}

static void wait_in_libev(struct ublkfw_queue *q)
{
	watch_ring(q);
	ev_run(q->loop, 0);
}

/* ---- waiting by the load ------------------------------------------------ */

static void wait_by_load(struct ublkfw_queue *q)
{
	watch_ring(q);			/* for the busy waits */
	while (!q->done && !q->wait_libev) {
		int ret;

		if (q->last_reaped > 1) {
			ev_run(q->loop, EVRUN_ONCE);	/* submit, epoll_wait, reap */
			continue;
		}
		ret = io_uring_submit_and_wait(&q->ring, 1);
		/* EINTR: a signal (none is unblocked here); EBUSY/EAGAIN: the
		 * CQ is full, and the reap below makes room. */
		if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN && ret != -ETIME) {
			ublkfw_err(q->dev, "queue %u: io_uring_submit_and_wait: %s: waiting in libev from now on",
				   q->id, strerror(-ret));
			q->wait_libev = true;
		}
		ublkfw_queue_reap(q);
	}
}

/* ---- the queue thread's loop -------------------------------------------- */

void ublkfw_queue_wait_run(struct ublkfw_queue *q)
{
	wait_by_load(q);
	if (!q->done)
		wait_in_libev(q);
}

void ublkfw_queue_wait_libev(struct ublkfw_queue *q)
{
	q->wait_libev = true;
}

void ublkfw_queue_finish(struct ublkfw_queue *q)
{
	q->done = true;
	ev_break(q->loop, EVBREAK_ALL);
}

int ublkfw_queue_wait_setup(struct ublkfw_queue *q)
{
	const char *how = getenv("UBLKFW_QUEUE_WAIT");

	q->wait_libev = how && !strcmp(how, "libev");
	q->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
	if (!q->loop) {
		ublkfw_err(q->dev, "queue %u: cannot create the libev loop", q->id);
		return -ENOMEM;
	}
	ev_io_init(&q->ring_w, ring_cb, q->ring.ring_fd, EV_READ);
	ev_prepare_init(&q->prepare_w, prepare_cb);
	ev_check_init(&q->check_w, check_cb);
	q->ring_w.data = q->prepare_w.data = q->check_w.data = q;

	q->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (q->wake_fd < 0) {
		int ret = -errno;

		ublkfw_err(q->dev, "queue %u: eventfd: %s", q->id, strerror(-ret));
		return ret;
	}
	q->wake_op.cb = wake_cb;
	atomic_init(&q->wake_pending, false);
	wake_arm(q);
	return 0;
}

/* After the thread is joined: nobody can wake it any more. */
void ublkfw_queue_wait_destroy(struct ublkfw_queue *q)
{
	if (q->loop) {
		ev_loop_destroy(q->loop);
		q->loop = NULL;
	}
	if (q->wake_fd >= 0) {
		close(q->wake_fd);
		q->wake_fd = -1;
	}
}
