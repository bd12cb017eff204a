// SPDX-License-Identifier: MIT
/*
 * host-loop.c - a driver that runs a ublk server's per-I/O user-space path on
 * a machine without ublk, for callgrind, strace -c and timing on the host
 * (bench/host-profile.sh).  Not built by `make`.
 *
 * The kernel's half is faked with io_uring NOPs: every ublk command a server
 * queues (FETCH_REQ / COMMIT_AND_FETCH_REQ, a URING_CMD on fixed file 0) is
 * rewritten into a NOP with the same user_data just before it is submitted;
 * the NOP completes with res 0, which the server takes for "a new request in
 * this tag's descriptor" (a 4 KiB READ).  Everything else is real:
 *
 *   fw   libublkfw's queue layer: a ublkfw_queue with its slots, the null
 *        target's queue_io(), ublkfw_queue_reap() / handle_cmd_cqe() /
 *        ublkfw_io_complete(), waiting as queue_wait.c's wait_in_uring()
 *        does (io_uring_submit_and_wait(1), then reap);
 *   fw-libev  the same queue layer on a libev epoll loop wired like
 *        queue_wait.c's wait_in_libev() (ev_io on the ring fd, ev_prepare
 *        submits, ev_check reaps; copies of its static callbacks);
 *   raw  bench/raw-null.c's loop: io_uring_submit_and_wait(1), then one
 *        COMMIT_AND_FETCH per CQE.
 *
 * usage: host-loop fw|fw-libev|raw DEPTH NR_IOS
 * Prints "MODE depth D: N I/Os, X ns/IO wall, Y I/Os per loop iteration".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "targets.h"

static unsigned long long target_ios, loops;

/* Rewrite the ublk commands queued since the last submission into NOPs. */
static void fake_kernel(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;

	for (unsigned int i = sq->sqe_head; i != sq->sqe_tail; i++) {
		struct io_uring_sqe *sqe = &sq->sqes[i & sq->ring_mask];

		if (sqe->opcode == IORING_OP_URING_CMD) {
			uint64_t ud = sqe->user_data;

			io_uring_prep_nop(sqe);
			sqe->user_data = ud;
		}
	}
}

static void fill_descs(struct ublksrv_io_desc *d, unsigned int depth)
{
	for (unsigned int t = 0; t < depth; t++) {
		d[t].op_flags = UBLK_IO_OP_READ;
		d[t].nr_sectors = 8;
		d[t].start_sector = (uint64_t)t * 8;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fw: the framework's queue on a libev loop --------------------------- */

static uint64_t fw_done(struct ublkfw_queue *q)
{
	return atomic_load_explicit(&q->stats.copy_ios, memory_order_relaxed);
}

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

	(void)revents;
	loops++;
	if (fw_done(q) >= target_ios) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (!io_uring_sq_ready(&q->ring))
		return;
	fake_kernel(&q->ring);
	io_uring_submit(&q->ring);
}

static int run_fw(unsigned int depth, bool libev)
{
	static struct ublkfw_dev dev;
	struct ublkfw_queue *q = calloc(1, sizeof(*q));
	struct io_uring_params p;
	int fds[UBLKFW_NR_FIXED_FILES], ret;
	unsigned int sq = 1, cq = 1;

	ublkfw_dev_init(&dev, &ublkfw_target_null, "host-loop");
	dev.conf.max_io = 4096;
	q->dev = &dev;
	q->depth = depth;
	q->descs = calloc(depth, sizeof(*q->descs));
	q->bufs = calloc(depth, dev.conf.max_io);
	fill_descs(q->descs, depth);
	if (ublkfw_queue_alloc_slots(q))
		return 1;
	/* the ring as queue_setup() makes it */
	while (sq < depth * 2)
		sq <<= 1;
	while (cq < depth * 4)
		cq <<= 1;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = cq;
	ret = io_uring_queue_init_params(sq, &q->ring, &p);
	if (ret < 0)
		return fprintf(stderr, "io_uring: %s\n", strerror(-ret)), 1;
	for (int i = 0; i < UBLKFW_NR_FIXED_FILES; i++)
		fds[i] = -1;
	fds[0] = open("/dev/null", O_RDWR);
	io_uring_register_files(&q->ring, fds, UBLKFW_NR_FIXED_FILES);
	q->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
	ev_io_init(&q->ring_w, ring_cb, q->ring.ring_fd, EV_READ);
	ev_prepare_init(&q->prepare_w, prepare_cb);
	ev_check_init(&q->check_w, check_cb);
	q->ring_w.data = q->prepare_w.data = q->check_w.data = q;
	ev_io_start(q->loop, &q->ring_w);
	ev_prepare_start(q->loop, &q->prepare_w);
	ev_check_start(q->loop, &q->check_w);

	/* FETCH_REQ for every tag, as queue_thread() does */
	for (unsigned int t = 0; t < depth; t++) {
		struct io_slot *s = ublkfw_queue_slot(q, t);
		struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, &s->cmd_op);
		s->state = IO_FETCHING;
	}
	io_uring_submit(&q->ring);
	double t0 = now();
	if (libev) {
		ev_run(q->loop, 0);
	} else {
		while (fw_done(q) < target_ios) {
			loops++;
			fake_kernel(&q->ring);
			io_uring_submit_and_wait(&q->ring, 1);
			ublkfw_queue_reap(q);
		}
	}
	double t1 = now();
	printf("%s depth %u: %llu I/Os, %.0f ns/IO wall, %.1f I/Os per loop iteration\n",
	       libev ? "fw-libev" : "fw", depth, (unsigned long long)fw_done(q), (t1 - t0) * 1e9 / fw_done(q),
	       (double)fw_done(q) / loops);
	return 0;
}

/* ---- raw: bench/raw-null.c's loop ---------------------------------------- */

static inline void queue_cmd(struct io_uring *ring, unsigned int op, unsigned int tag, int result,
			     void *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct ublksrv_io_cmd *cmd;

	if (__builtin_expect(!sqe, 0))
		abort();
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = 0;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = 0;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = (uint64_t)(uintptr_t)buf;
	sqe->user_data = tag;
}

static int run_raw(unsigned int depth)
{
	struct ublksrv_io_desc *descs = calloc(depth, sizeof(*descs));
	char *bufs = calloc(depth, 4096);
	unsigned long long done = 0;
	struct io_uring ring;
	int fd = open("/dev/null", O_RDWR), ret;

	fill_descs(descs, depth);
	ret = io_uring_queue_init(depth, &ring, 0);
	if (ret < 0)
		return fprintf(stderr, "io_uring: %s\n", strerror(-ret)), 1;
	io_uring_register_files(&ring, &fd, 1);
	for (unsigned int t = 0; t < depth; t++)
		queue_cmd(&ring, UBLK_U_IO_FETCH_REQ, t, -1, bufs + (size_t)t * 4096);
	fake_kernel(&ring);
	io_uring_submit(&ring);
	double t0 = now();
	while (done < target_ios) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		loops++;
		io_uring_submit_and_wait(&ring, 1);
		io_uring_for_each_cqe(&ring, head, cqe) {
			const struct ublksrv_io_desc *iod;
			unsigned int tag = (unsigned int)cqe->user_data;
			int res;

			n++;
			iod = &descs[tag];
			switch (ublksrv_get_op(iod)) {
			case UBLK_IO_OP_READ:
			case UBLK_IO_OP_WRITE:
				res = (int)(iod->nr_sectors << 9);
				break;
			default:
				res = 0;
			}
			done++;
			queue_cmd(&ring, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, res,
				  bufs + (size_t)tag * 4096);
		}
		io_uring_cq_advance(&ring, n);
		fake_kernel(&ring);
	}
	double t1 = now();
	printf("raw depth %u: %llu I/Os, %.0f ns/IO wall, %.1f I/Os per loop iteration\n", depth,
	       done, (t1 - t0) * 1e9 / done, (double)done / loops);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int depth;

	if (argc != 4 || (strcmp(argv[1], "fw") && strcmp(argv[1], "fw-libev") &&
			  strcmp(argv[1], "raw"))) {
		fprintf(stderr, "usage: host-loop fw|fw-libev|raw DEPTH NR_IOS\n");
		return 2;
	}
	depth = atoi(argv[2]);
	target_ios = strtoull(argv[3], NULL, 10);
	if (depth < 1 || depth > 1024 || !target_ios)
		return 2;
	if (!strcmp(argv[1], "raw"))
		return run_raw(depth);
	return run_fw(depth, !strcmp(argv[1], "fw-libev"));
}
