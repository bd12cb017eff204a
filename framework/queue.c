// SPDX-License-Identifier: MIT
/*
 * queue.c - the queue layer and the framework's half of the data path.
 *
 * One thread per hardware queue, with one io_uring ring and one libev loop;
 * how the thread waits on them is queue_wait.c's job.  After every wait,
 * ublkfw_queue_reap() dispatches each CQE by its user_data, which always
 * points at a struct ublkfw_uring_op: the tag's own ublk command (cmd_op in
 * struct io_slot), a target operation, or the wait's own wake-up.
 *
 * Per tag: FETCH_REQ once, then kernel request -> the filter stack and the
 * target's queue_io() (filter.c) -> ublkfw_io_complete(), back up the stack
 * -> COMMIT_AND_FETCH_REQ, which both returns the result and waits for the
 * tag's next request.  The slot's state (queue.h) follows it:
 *
 *   IO_FETCHING -> [IO_COPY_IN] -> IO_IN_TARGET -> [IO_COPY_OUT] -> IO_FETCHING
 *                                                 ... or IO_STOPPED at the end
 *
 * Copy mode (the default): each tag has its own buffer (max_io bytes) passed
 * in the command's addr, and the kernel copies a WRITE's data into it before
 * the request arrives and a READ's out of it at the commit.  Zero copy
 * (SHMEM_ZC requests): io->data points into a registered pool instead.
 * User-copy mode (--user-copy, usercopy.c): the command carries no buffer; a
 * data request borrows one from the queue's pool and the framework moves the
 * data itself with io_uring reads and writes of the char device, in the two
 * bracketed states.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev.h"
#include "shmem.h"

/* CQEs copied out per pass of the reap, on its stack: 16 x 16 bytes keeps
 * the frames of a request's path within 400 bytes (64 made it 1.1 KiB, and
 * a second stack page per request more likely: docs/benchmarks.md); a
 * busier reap takes more passes, at the same instructions per CQE. */
#define CQE_BATCH	16

struct io_slot *ublkfw_queue_slot(struct ublkfw_queue *q, unsigned int tag)
{
	return (struct io_slot *)(q->slots + (size_t)tag * q->slot_stride);
}

bool ublkfw_io_is_zero_copy(const struct ublkfw_io *io)
{
	return ublkfw_container_of(io, struct io_slot, io)->zero_copy;
}

void *ublkfw_io_priv(struct ublkfw_io *io)
{
	return (char *)ublkfw_io_slot(io) + ublkfw_round_up(sizeof(struct io_slot), 16);
}

/* ---- accessors ---------------------------------------------------------- */

struct ublkfw_dev *ublkfw_queue_dev(const struct ublkfw_queue *q) { return q->dev; }
unsigned int ublkfw_queue_id(const struct ublkfw_queue *q) { return q->id; }
unsigned int ublkfw_queue_depth(const struct ublkfw_queue *q) { return q->depth; }
/* A target (or filter) that asks for the loop may start watchers on it: from
 * now on the queue waits in libev (queue_wait.c).  Queue thread only. */
struct ev_loop *ublkfw_queue_loop(const struct ublkfw_queue *q)
{
	ublkfw_queue_wait_libev((struct ublkfw_queue *)q);
	return q->loop;
}
struct io_uring *ublkfw_queue_ring(struct ublkfw_queue *q) { return &q->ring; }
void *ublkfw_queue_priv(const struct ublkfw_queue *q) { return q->priv; }
void ublkfw_queue_set_priv(struct ublkfw_queue *q, void *priv) { q->priv = priv; }

/* ---- submission --------------------------------------------------------- */

int ublkfw_queue_submit(struct ublkfw_queue *q)
{
	int ret;

	do {
		ret = io_uring_submit(&q->ring);
	} while (ret == -EINTR);
	return ret;
}

struct io_uring_sqe *ublkfw_queue_sqe_flushed(struct ublkfw_queue *q)
{
	/* SQ full: flush it now rather than wait for the next wait. */
	if (ublkfw_queue_submit(q) < 0)
		return NULL;
	return io_uring_get_sqe(&q->ring);
}

struct io_uring_sqe *ublkfw_queue_get_sqe(struct ublkfw_queue *q, struct ublkfw_uring_op *op)
{
	struct io_uring_sqe *sqe = ublkfw_queue_sqe(q);

	if (!sqe)
		return NULL;
	memset(sqe, 0, sizeof(*sqe));
	io_uring_sqe_set_data(sqe, op);
	q->target_inflight++;
	return sqe;
}

int ublkfw_queue_register_file(struct ublkfw_queue *q, int fd)
{
	int idx, ret;

	if (q->nr_files >= UBLKFW_NR_FIXED_FILES)
		return -ENOSPC;
	idx = q->nr_files;
	ret = io_uring_register_files_update(&q->ring, idx, &fd, 1);
	if (ret < 0)
		return ret;
	q->nr_files++;
	return idx;
}

/* Queue FETCH_REQ or COMMIT_AND_FETCH_REQ for a tag. */
static inline void queue_ublk_cmd(struct ublkfw_queue *q, struct io_slot *s, unsigned int cmd_op,
				  int result)
{
	struct io_uring_sqe *sqe = ublkfw_queue_sqe(q);
	struct ublksrv_io_cmd *cmd;

	if (!sqe) {
		/* Cannot happen with a ring sized for depth + target ops unless
		 * the kernel refuses submissions; the tag is lost. */
		ublkfw_err(q->dev, "queue %u tag %u: no SQE for %s", q->id, s->io.tag,
			   cmd_op == UBLK_U_IO_FETCH_REQ ? "FETCH_REQ" : "COMMIT_AND_FETCH_REQ");
		s->state = IO_STOPPED;
		q->nr_stopped++;
		return;
	}
	/* Every field set by a store of its own, no constant from .rodata: a
	 * memset and byte stores, or cmd_op given as prep_rw's offset (its
	 * place), made GCC load the merged constant from there, which is one
	 * page more per request after a context switch (docs/benchmarks.md). */
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 0, NULL, 0, 0);	/* fixed file 0: /dev/ublkcN */
	sqe->cmd_op = cmd_op;
	sqe->flags = IOSQE_FIXED_FILE;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = q->id;
	cmd->tag = s->io.tag;
	cmd->result = result;
	/* user copy: no buffer in the command (the kernel wants 0) */
	cmd->addr = q->user_copy ? 0 : (uint64_t)(uintptr_t)s->buf;
	io_uring_sqe_set_data(sqe, &s->cmd_op);
	s->state = IO_FETCHING;
}

/* ---- completion --------------------------------------------------------- */

static inline void commit(struct ublkfw_queue *q, struct io_slot *s, int result)
{
	struct ublkfw_io *io = &s->io;

	if (io->op <= UBLKFW_OP_WRITE && result > 0) {
		if (s->zero_copy) {
			ublkfw_stat_add(&q->stats.zc_ios, 1);
			ublkfw_stat_add(&q->stats.zc_bytes, result);
		} else {
			ublkfw_stat_add(&q->stats.copy_ios, 1);
			ublkfw_stat_add(&q->stats.copy_bytes, result);
		}
	}
	if (q->user_copy)
		ublkfw_uc_release(q, s);
	queue_ublk_cmd(q, s, UBLK_U_IO_COMMIT_AND_FETCH_REQ, result);
}

/* usercopy.c's way back in; the framework's own completions inline commit() */
void ublkfw_queue_commit(struct ublkfw_queue *q, struct io_slot *s, int result)
{
	commit(q, s, result);
}

void ublkfw_io_complete(struct ublkfw_io *io, int result)
{
	struct io_slot *s = ublkfw_io_slot(io);
	struct ublkfw_queue *q = io->queue;

	if (s->state != IO_IN_TARGET) {
		ublkfw_err(q->dev, "queue %u tag %u: completed twice or never issued (bug in target)",
			   q->id, io->tag);
		return;
	}
	/* A filter above the layer that completed may want the result. */
	if (s->layer && ublkfw_stack_complete(q, io, result))
		return;
	if (q->user_copy && ublkfw_uc_end(q, s, result))
		return;
	commit(q, s, result);
}

void ublkfw_io_complete_ok(struct ublkfw_io *io)
{
	ublkfw_io_complete(io, io->op <= UBLKFW_OP_WRITE ? (int)io->len : 0);
}

void ublkfw_io_complete_async(struct ublkfw_io *io, int result)
{
	struct io_slot *s = ublkfw_io_slot(io);
	struct ublkfw_queue *q = io->queue;

	struct io_slot *head;

	if (atomic_exchange_explicit(&s->remote_queued, true, memory_order_acquire)) {
		/* Linking it again would make the list point at itself and the
		 * queue thread spin: the first completion stands. */
		ublkfw_err(q->dev, "queue %u tag %u: ublkfw_io_complete_async() twice (bug in target): the second is ignored",
			   q->id, io->tag);
		return;
	}
	s->remote_result = result;
	/* Push: the queue thread only ever takes the whole list, so there is
	 * no ABA to fear. */
	head = atomic_load_explicit(&q->remote_head, memory_order_relaxed);
	do {
		s->remote_next = head;
	} while (!atomic_compare_exchange_weak_explicit(&q->remote_head, &head, s,
							memory_order_release,
							memory_order_relaxed));
	ublkfw_queue_wake(q);
}

void ublkfw_queue_take_remote(struct ublkfw_queue *q)
{
	struct io_slot *list, *next;

	list = atomic_exchange_explicit(&q->remote_head, NULL, memory_order_acquire);
	for (; list; list = next) {
		int result = list->remote_result;

		next = list->remote_next;
		/* off the list before the tag may be completed again */
		atomic_store_explicit(&list->remote_queued, false, memory_order_release);
		ublkfw_io_complete(&list->io, result);
	}
}

static void maybe_finish(struct ublkfw_queue *q)
{
	/* The loop ends once the kernel has ended every tag and the target has
	 * no ring operation left: nothing can reference the buffers any more. */
	if (q->nr_stopped == q->depth && q->target_inflight == 0)
		ublkfw_queue_finish(q);
}

/*
 * A tag's ublk command completed: either a new request (res 0) or the end of
 * the tag (UBLK_IO_RES_ABORT when the device stops, or another error).
 */
static inline void handle_cmd_cqe(struct ublkfw_queue *q, struct io_slot *s, int res)
{
	const struct ublksrv_io_desc *iod;
	struct ublkfw_io *io = &s->io;

	if (res != UBLK_IO_RES_OK) {
		if (res != UBLK_IO_RES_ABORT)
			ublkfw_err(q->dev, "queue %u tag %u: ublk command failed: %s", q->id,
				   io->tag, strerror(res < 0 ? -res : EPROTO));
		s->state = IO_STOPPED;
		q->nr_stopped++;
		maybe_finish(q);
		return;
	}

	iod = &q->descs[io->tag];
	io->op = ublksrv_get_op(iod);
	io->flags = iod->op_flags & ~(0xffU | UBLK_IO_F_SHMEM_ZC);
	io->offset = iod->start_sector << 9;
	io->len = iod->nr_sectors << 9;
	s->zero_copy = false;
	s->layer = 0;
	s->state = IO_IN_TARGET;
	switch (io->op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (q->user_copy) {	/* never SHMEM_ZC: refused together */
			ublkfw_uc_begin(q, s);
			return;
		}
		if (!(iod->op_flags & UBLK_IO_F_SHMEM_ZC)) {
			io->data = s->buf;
			break;
		}
		/* Zero copy: the data is already in a registered pool at
		 * index|offset.  Never trust it into a wild pointer. */
		io->data = ublkfw_shmem_lookup(q->dev, iod->addr, io->len);
		if (!io->data) {
			ublkfw_stat_add(&q->stats.zc_rejected, 1);
			ublkfw_err(q->dev, "queue %u tag %u: bad zero-copy descriptor 0x%llx (+%u bytes): EIO",
				   q->id, io->tag, (unsigned long long)iod->addr, io->len);
			ublkfw_io_complete(io, -EIO);
			return;
		}
		s->zero_copy = true;
		break;
	default:
		io->data = NULL;
		break;
	}
	ublkfw_stack_dispatch(q, io);
}

/* The unit tests' way in (queue.h); the reap inlines handle_cmd_cqe(). */
void ublkfw_queue_handle_cmd_cqe(struct ublkfw_queue *q, struct io_slot *s, int res)
{
	handle_cmd_cqe(q, s, res);
}

/* A ublk command's op: the reap calls handle_cmd_cqe() itself for these
 * (inlined, the common case); the pointer marks the op as one. */
static void cmd_cqe_cb(struct ublkfw_queue *q, struct ublkfw_uring_op *op, int res,
		       unsigned int flags)
{
	(void)flags;
	handle_cmd_cqe(q, ublkfw_container_of(op, struct io_slot, cmd_op), res);
}

struct cqe_copy {
	struct ublkfw_uring_op *op;
	int res;
	unsigned int flags;
};

/* Copy up to CQE_BATCH CQEs out of the ring and release their slots. */
static unsigned int take_cqes(struct ublkfw_queue *q, struct cqe_copy *batch)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		batch[n].op = io_uring_cqe_get_data(cqe);
		batch[n].res = cqe->res;
		batch[n].flags = cqe->flags;
		if (++n == CQE_BATCH)
			break;
	}
	io_uring_cq_advance(&q->ring, n);
	return n;
}

static void dispatch_cqe(struct ublkfw_queue *q, const struct cqe_copy *c)
{
	struct ublkfw_uring_op *op = c->op;

	if (op->cb == cmd_cqe_cb) {
		handle_cmd_cqe(q, ublkfw_container_of(op, struct io_slot, cmd_op), c->res);
	} else if (ublkfw_queue_wait_owns(q, op)) {	/* not a target op */
		op->cb(q, op, c->res, c->flags);
	} else {
		q->target_inflight--;
		op->cb(q, op, c->res, c->flags);
		maybe_finish(q);
	}
}

/* The kernel holds CQEs back because the CQ was full: they come out at the
 * next enter, or now with io_uring_get_events(). */
static bool cq_overflowed(const struct ublkfw_queue *q)
{
	return IO_URING_READ_ONCE(*q->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW;
}

/*
 * One pass over what is ready, in batches copied out and released before
 * dispatching, so callbacks may submit (and the kernel may post) freely.
 * CQEs posted during the pass are left to the next wait, which returns at
 * once for them: a second look here would cost every request a few dozen
 * instructions for nothing at low depth.
 */
void ublkfw_queue_reap(struct ublkfw_queue *q)
{
	struct cqe_copy batch[CQE_BATCH];
	bool flushed = false;
	unsigned int n, i;

	q->last_reaped = 0;
	for (;;) {
		n = take_cqes(q, batch);
		q->last_reaped += n;
		for (i = 0; i < n; i++)
			dispatch_cqe(q, &batch[i]);
		if (n == CQE_BATCH) {
			flushed = false;
			continue;
		}
		/* held back: flush until the kernel has none or gives none */
		if ((flushed && !n) || !cq_overflowed(q))
			break;
		io_uring_get_events(&q->ring);
		flushed = true;
	}
}

/* ---- set-up and tear-down ---------------------------------------------- */

static unsigned int roundup_pow2(unsigned int v)
{
	unsigned int r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

/* Everything but the loop and the wake-up, which other threads may still
 * poke until the thread is joined (ublkfw_queue_join() frees them). */
static void queue_teardown(struct ublkfw_queue *q)
{
	if (q->ring_ok) {
		io_uring_queue_exit(&q->ring);
		q->ring_ok = false;
	}
	if (q->descs) {
		munmap(q->descs, q->descs_len);
		q->descs = NULL;
	}
	if (q->bufs) {
		munmap(q->bufs, q->bufs_len);
		q->bufs = NULL;
	}
	free(q->slots);
	q->slots = NULL;
	ublkfw_uc_pool_free(q);
}

int ublkfw_queue_alloc_slots(struct ublkfw_queue *q)
{
	size_t max_io = q->dev->conf.max_io;
	unsigned int tag;

	/* slot | the target's io area | each filter's io area, 16-aligned */
	q->slot_stride = ublkfw_stack_layout(q->dev, ublkfw_round_up(sizeof(struct io_slot), 16) +
					     ublkfw_round_up(q->dev->ops.io_priv_size, 16));
	q->slots = calloc(q->depth, q->slot_stride);
	if (!q->slots)
		return -ENOMEM;
	for (tag = 0; tag < q->depth; tag++) {
		struct io_slot *s = ublkfw_queue_slot(q, tag);

		s->io.tag = tag;
		s->io.queue = q;
		s->buf = q->bufs && !q->user_copy ? q->bufs + (size_t)tag * max_io : NULL;
		s->cmd_op.cb = cmd_cqe_cb;
	}
	return q->user_copy ? ublkfw_uc_pool_init(q) : 0;
}

static int queue_setup(struct ublkfw_queue *q)
{
	struct ublkfw_dev *dev = q->dev;
	long pg = sysconf(_SC_PAGESIZE);
	size_t stride = ublkfw_round_up(UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc), pg);
	struct io_uring_params p;
	int fds[UBLKFW_NR_FIXED_FILES];
	int ret;

	q->descs_len = ublkfw_round_up(q->depth * sizeof(struct ublksrv_io_desc), pg);
	q->descs = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE, dev->cdev_fd,
			UBLKSRV_CMD_BUF_OFFSET + (off_t)q->id * stride);
	if (q->descs == MAP_FAILED) {
		ret = -errno;
		q->descs = NULL;
		ublkfw_err(dev, "queue %u: mmap of the I/O descriptors: %s", q->id, strerror(-ret));
		return ret;
	}

	q->bufs_len = (size_t)q->depth * dev->conf.max_io;
	q->bufs = mmap(NULL, q->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (q->bufs == MAP_FAILED) {
		q->bufs = NULL;
		ublkfw_err(dev, "queue %u: cannot allocate %zu bytes of I/O buffers", q->id,
			   q->bufs_len);
		return -ENOMEM;
	}
	/* A pool's page is touched only by the requests that borrow it: no
	 * 2 MiB huge page for a 4 KiB request (measured: docs/benchmarks.md). */
	if (q->user_copy)
		madvise(q->bufs, q->bufs_len, MADV_NOHUGEPAGE);

	if (ublkfw_queue_alloc_slots(q))
		return -ENOMEM;

	/* Room for every tag's command plus as many target operations.  Only
	 * this thread submits (SINGLE_ISSUER lets the kernel skip the locking
	 * for others); a registered ring fd saves the fd lookup of every
	 * io_uring_enter(). */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER;
	p.cq_entries = roundup_pow2(q->depth * 4);
	ret = io_uring_queue_init_params(roundup_pow2(q->depth * 2), &q->ring, &p);
	if (ret < 0) {
		ublkfw_err(dev, "queue %u: io_uring_queue_init: %s", q->id, strerror(-ret));
		return ret;
	}
	q->ring_ok = true;
	if (io_uring_register_ring_fd(&q->ring) < 0)
		ublkfw_info(dev, "queue %u: the kernel cannot register the ring fd: every enter looks it up", q->id);
	for (int i = 0; i < UBLKFW_NR_FIXED_FILES; i++)
		fds[i] = -1;
	fds[0] = dev->cdev_fd;
	ret = io_uring_register_files(&q->ring, fds, UBLKFW_NR_FIXED_FILES);
	if (ret < 0) {
		ublkfw_err(dev, "queue %u: io_uring_register_files: %s", q->id, strerror(-ret));
		return ret;
	}
	q->nr_files = 1;

	return ublkfw_queue_wait_setup(q);
}

static void queue_report(struct ublkfw_queue *q, int ret)
{
	struct ublkfw_dev *dev = q->dev;

	pthread_mutex_lock(&dev->startup.lock);
	if (ret && !dev->startup.first_queue_error)
		dev->startup.first_queue_error = ret;
	dev->startup.nr_ready++;
	pthread_cond_broadcast(&dev->startup.cond);
	pthread_mutex_unlock(&dev->startup.lock);
}

static void *queue_thread(void *arg)
{
	struct ublkfw_queue *q = arg;
	struct ublkfw_dev *dev = q->dev;
	bool target_init = false;
	unsigned int tag;
	int ret;

	if (q->has_affinity)
		pthread_setaffinity_np(pthread_self(), sizeof(q->affinity), &q->affinity);
	ublkfw_shmem_mark_queue_thread(dev);

	ret = queue_setup(q);
	if (!ret) {
		ret = ublkfw_stack_queue_init(q);
		target_init = !ret;
	}
	if (!ret) {
		for (tag = 0; tag < q->depth; tag++)
			queue_ublk_cmd(q, ublkfw_queue_slot(q, tag), UBLK_U_IO_FETCH_REQ, -1);
		ret = ublkfw_queue_submit(q);
		if (ret >= 0)
			ret = 0;
		else
			ublkfw_err(dev, "queue %u: submitting FETCH_REQ: %s", q->id, strerror(-ret));
	}
	queue_report(q, ret);

	if (!ret)
		ublkfw_queue_wait_run(q);

	if (target_init)
		ublkfw_stack_queue_deinit(q);
	queue_teardown(q);
	atomic_fetch_add(&dev->queues_exited, 1);
	if (dev->main_loop)
		ev_async_send(dev->main_loop, &dev->queue_exit_w);
	return NULL;
}

int ublkfw_queue_start(struct ublkfw_queue *q)
{
	sigset_t all, old;
	int ret;

	atomic_init(&q->stop_req, false);
	q->wake_fd = -1;
	/* Signals belong to the main thread's loop: queue threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&q->thread, NULL, queue_thread, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	q->thread_started = true;
	return 0;
}

void ublkfw_queue_request_stop(struct ublkfw_queue *q)
{
	if (!q->thread_started)
		return;
	atomic_store(&q->stop_req, true);
	/* Called after the queue reported its set-up; the wake-up lives until
	 * ublkfw_queue_join(). */
	if (q->wake_fd >= 0)
		ublkfw_queue_wake(q);
}

void ublkfw_queue_join(struct ublkfw_queue *q)
{
	if (!q->thread_started)
		return;
	pthread_join(q->thread, NULL);
	q->thread_started = false;
	ublkfw_queue_wait_destroy(q);
}
