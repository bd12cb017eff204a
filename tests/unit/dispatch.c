// SPDX-License-Identifier: MIT
/*
 * Completion dispatch in the queue layer, without a kernel: a queue with a
 * real (idle) io_uring ring and hand-written I/O descriptors.  Checks what
 * the target is given and the COMMIT_AND_FETCH SQE its completion produces.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <poll.h>
#include <pthread.h>

#include "fake_queue.h"

static struct fake_queue fq;
#define dev	(fq.dev)
#define q	(fq.q)
#define descs	(fq.descs)
#define bufs	(fq.bufs)
static struct ublkfw_io *seen[16];
static int nseen;
static int complete_with = 1;	/* 1: complete inside queue_io with len/0 */

static void fake_queue_io(struct ublkfw_queue *qq, struct ublkfw_io *io)
{
	cr_assert_eq(qq, &q);
	seen[nseen++] = io;
	if (complete_with)
		ublkfw_io_complete(io, io->op <= UBLKFW_OP_WRITE ? (int)io->len : 0);
}

static const struct ublkfw_target_ops fake_ops = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "fake",
	.io_priv_size = 40,
	.queue_io = fake_queue_io,
};

static void setup(void)
{
	fake_queue_init(&fq, &fake_ops);
	fake_queue_slots(&fq);
	nseen = 0;
	complete_with = 1;
}

static void setup_quiet(void)
{
	setup();
	cr_redirect_stderr();
}

static void teardown(void)
{
	fake_queue_fini(&fq);
}

/* The newest SQE queued on the ring, not yet submitted. */
static struct io_uring_sqe *last_sqe(void)
{
	cr_assert_gt(io_uring_sq_ready(&q.ring), 0, "no SQE was queued");
	return &q.ring.sq.sqes[(q.ring.sq.sqe_tail - 1) & q.ring.sq.ring_mask];
}

TestSuite(dispatch, .init = setup, .fini = teardown);

/* Every byte of a reused SQE slot is written: the command built on one that
 * held garbage is the command built on a zeroed one (the command's fields
 * are set one by one, not by a memset). */
Test(dispatch, commit_sqe_leaves_nothing_of_the_slot_s_old_contents)
{
	struct io_slot *s = ublkfw_queue_slot(&q, 3);
	struct io_uring_sq *sq = &q.ring.sq;
	struct io_uring_sqe want, *sqe;
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)want.cmd;

	memset(sq->sqes, 0xa5, (size_t)(sq->ring_mask + 1) * sizeof(*sq->sqes));
	descs[3].op_flags = UBLK_IO_OP_READ;
	descs[3].nr_sectors = 8;
	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_OK);

	memset(&want, 0, sizeof(want));
	want.opcode = IORING_OP_URING_CMD;
	want.flags = IOSQE_FIXED_FILE;
	want.cmd_op = UBLK_U_IO_COMMIT_AND_FETCH_REQ;
	want.user_data = (uint64_t)(uintptr_t)&s->cmd_op;
	cmd->q_id = 0;
	cmd->tag = 3;
	cmd->result = 4096;
	cmd->addr = (uint64_t)(uintptr_t)bufs[3];
	sqe = last_sqe();
	cr_expect_arr_eq(sqe, &want, sizeof(want), "the SQE differs from a clean COMMIT_AND_FETCH_REQ");
}

Test(dispatch, read_request_reaches_target_and_commits)
{
	struct io_slot *s = ublkfw_queue_slot(&q, 2);
	struct ublksrv_io_cmd *cmd;
	struct io_uring_sqe *sqe;

	descs[2].op_flags = UBLK_IO_OP_READ | UBLK_IO_F_FUA;
	descs[2].start_sector = 8;
	descs[2].nr_sectors = 16;
	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_OK);

	cr_assert_eq(nseen, 1);
	cr_expect_eq(seen[0]->op, UBLKFW_OP_READ);
	cr_expect_eq(seen[0]->flags, UBLKFW_IO_F_FUA);
	cr_expect_eq(seen[0]->offset, 4096);
	cr_expect_eq(seen[0]->len, 8192);
	cr_expect_eq(seen[0]->tag, 2);
	cr_expect_eq(seen[0]->data, bufs[2]);
	cr_expect_eq(seen[0]->queue, &q);

	sqe = last_sqe();
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cr_expect_eq(sqe->opcode, IORING_OP_URING_CMD);
	cr_expect_eq(sqe->cmd_op, UBLK_U_IO_COMMIT_AND_FETCH_REQ);
	cr_expect(sqe->flags & IOSQE_FIXED_FILE);
	cr_expect_eq(cmd->q_id, 0);
	cr_expect_eq(cmd->tag, 2);
	cr_expect_eq(cmd->result, 8192);
	cr_expect_eq(cmd->addr, (uint64_t)(uintptr_t)bufs[2]);
	cr_expect_eq((void *)(uintptr_t)sqe->user_data, &s->cmd_op);
	cr_expect_eq(s->state, IO_FETCHING);
	cr_expect_eq(q.stats.copy_ios, 1);
	cr_expect_eq(q.stats.copy_bytes, 8192);
	cr_expect_eq(q.stats.zc_ios, 0);
}

Test(dispatch, ops_without_data_get_null_pointer)
{
	descs[0].op_flags = UBLK_IO_OP_FLUSH;
	ublkfw_queue_handle_cmd_cqe(&q, ublkfw_queue_slot(&q, 0), UBLK_IO_RES_OK);
	cr_assert_eq(nseen, 1);
	cr_expect_eq(seen[0]->op, UBLKFW_OP_FLUSH);
	cr_expect_null(seen[0]->data);
	cr_expect_eq(((struct ublksrv_io_cmd *)last_sqe()->cmd)->result, 0);
}

Test(dispatch, abort_ends_the_tag_without_calling_target)
{
	struct io_slot *s = ublkfw_queue_slot(&q, 1);

	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_ABORT);
	cr_expect_eq(nseen, 0);
	cr_expect_eq(s->state, IO_STOPPED);
	cr_expect_eq(q.nr_stopped, 1);
	cr_expect_eq(io_uring_sq_ready(&q.ring), 0, "an aborted tag must not be re-armed");
}

/* A request on tag that the target holds (does not complete in queue_io). */
static struct io_slot *held_request(unsigned int tag, unsigned int op, unsigned int sectors)
{
	struct io_slot *s = ublkfw_queue_slot(&q, tag);

	complete_with = 0;
	descs[tag].op_flags = op;
	descs[tag].nr_sectors = sectors;
	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_OK);
	cr_assert_eq(nseen, 1);
	return s;
}

Test(dispatch, deferred_completion_and_double_completion)
{
	struct io_slot *s = held_request(3, UBLK_IO_OP_WRITE, 1);

	cr_expect_eq(io_uring_sq_ready(&q.ring), 0, "nothing is committed before completion");
	cr_expect_eq(s->state, IO_IN_TARGET);

	ublkfw_io_complete(seen[0], -EIO);
	cr_expect_eq(io_uring_sq_ready(&q.ring), 1);
	cr_expect_eq(((struct ublksrv_io_cmd *)last_sqe()->cmd)->result, -EIO);

	ublkfw_io_complete(seen[0], 512);	/* a target bug: must be refused */
	cr_expect_eq(io_uring_sq_ready(&q.ring), 1, "a second completion must not commit again");
}

/* Twice from another thread: the list must not point at itself (the queue
 * thread would spin); the first result stands, the second is logged. */
Test(dispatch, async_completion_twice_is_refused, .init = setup_quiet)
{
	struct io_slot *s = held_request(1, UBLK_IO_OP_READ, 8);

	ublkfw_io_complete_async(seen[0], 4096);
	ublkfw_io_complete_async(seen[0], -EIO);
	cr_expect_eq(q.remote_head, s);
	cr_expect_null(s->remote_next, "one entry: the second call must not link it again");
	cr_expect_eq(s->remote_result, 4096, "the first result stands");
	fflush(stderr);
	cr_expect_stderr_eq_str("unit: fake: queue 0 tag 1: ublkfw_io_complete_async() twice (bug in target): "
				"the second is ignored\n");
}

/* The queue thread is woken through its eventfd once per batch of
 * cross-thread completions, not once per completion (ev_async's rule). */
Test(dispatch, async_completion_wakes_the_queue_once, .init = setup)
{
	struct pollfd p = { .fd = q.wake_fd, .events = POLLIN };
	uint64_t v = 0;

	held_request(2, UBLK_IO_OP_READ, 8);
	ublkfw_io_complete_async(seen[0], 4096);
	cr_assert_eq(poll(&p, 1, 0), 1, "the completion must wake the queue thread");
	ublkfw_queue_wake(&q);			/* another, before the thread ran */
	cr_assert_eq(read(q.wake_fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_expect_eq(v, 1, "one write for the pending wake-up, not %llu", (unsigned long long)v);
	cr_expect_eq(poll(&p, 1, 0), 0);
	ublkfw_queue_take_remote(&q);
	cr_expect_eq(io_uring_sq_ready(&q.ring), 1, "the completion is committed");
	cr_expect_null(q.remote_head);
}

/* Completions from several threads at once, many rounds: each round's
 * list, taken whole as the queue thread does, has every tag exactly once
 * (the push is a compare-and-swap, not a lock). */
struct pusher {
	pthread_barrier_t *go;
	struct ublkfw_io *io;
	int rounds;
};

static void *push_rounds(void *arg)
{
	struct pusher *p = arg;

	for (int r = 0; r < p->rounds; r++) {
		pthread_barrier_wait(p->go);	/* all push together */
		ublkfw_io_complete_async(p->io, r);
		pthread_barrier_wait(p->go);	/* the list is taken */
		pthread_barrier_wait(p->go);	/* and reset */
	}
	return NULL;
}

Test(dispatch, async_completions_from_many_threads_all_arrive)
{
	enum { ROUNDS = 2000 };
	struct pusher p[FAKE_DEPTH];
	pthread_t th[FAKE_DEPTH];
	pthread_barrier_t go;
	int bad = 0;

	cr_assert_eq(pthread_barrier_init(&go, NULL, FAKE_DEPTH + 1), 0);
	for (int t = 0; t < FAKE_DEPTH; t++) {
		struct io_slot *s = ublkfw_queue_slot(&q, t);

		s->io.queue = &q;
		s->io.tag = t;
		p[t] = (struct pusher){ &go, &s->io, ROUNDS };
		cr_assert_eq(pthread_create(&th[t], NULL, push_rounds, &p[t]), 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		unsigned int seen_tags = 0;
		struct io_slot *list;

		pthread_barrier_wait(&go);
		pthread_barrier_wait(&go);
		list = atomic_exchange(&q.remote_head, NULL);
		for (; list; list = list->remote_next) {
			if (seen_tags & (1U << list->io.tag) || list->remote_result != r)
				bad++;
			seen_tags |= 1U << list->io.tag;
			atomic_store(&list->remote_queued, false);
		}
		if (seen_tags != (1U << FAKE_DEPTH) - 1)
			bad++;
		pthread_barrier_wait(&go);
	}
	for (int t = 0; t < FAKE_DEPTH; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	cr_expect_eq(bad, 0, "%d of %d rounds lost or repeated a completion", bad, ROUNDS);
}

Test(dispatch, io_private_areas_are_aligned_and_distinct)
{
	char *p0 = ublkfw_io_priv(&ublkfw_queue_slot(&q, 0)->io);
	char *p1 = ublkfw_io_priv(&ublkfw_queue_slot(&q, 1)->io);

	cr_expect_eq((uintptr_t)p0 % 16, 0);
	cr_expect_geq((size_t)(p1 - p0), 40 + sizeof(struct io_slot));
	memset(p0, 0xaa, 40);	/* must not overwrite slot 1 */
	cr_expect_eq(ublkfw_queue_slot(&q, 1)->io.tag, 1);
}

static int target_cb_res = 12345;
static void target_cb(struct ublkfw_queue *qq, struct ublkfw_uring_op *op, int res, unsigned int f)
{
	(void)qq;
	(void)op;
	(void)f;
	target_cb_res = res;
}

Test(dispatch, target_ring_operation_completes_through_its_callback)
{
	struct ublkfw_uring_op op = { .cb = target_cb };
	struct io_uring_sqe *sqe = ublkfw_queue_get_sqe(&q, &op);

	cr_assert_not_null(sqe);
	io_uring_prep_nop(sqe);
	cr_expect_eq((void *)(uintptr_t)sqe->user_data, &op, "prep must keep the op tag");
	cr_expect_eq(q.target_inflight, 1);
	cr_assert_eq(io_uring_submit_and_wait(&q.ring, 1), 1);
	ublkfw_queue_reap(&q);	/* what the loop's check watcher does */
	cr_expect_eq(target_cb_res, 0, "the NOP's result reaches the callback");
	cr_expect_eq(q.target_inflight, 0);
}

static int target_cb_calls;
static void count_cb(struct ublkfw_queue *qq, struct ublkfw_uring_op *op, int res, unsigned int f)
{
	(void)qq;
	(void)op;
	(void)f;
	cr_expect_eq(res, 0);
	target_cb_calls++;
}

/* More completions than the CQ holds (the fixture's ring: 32) and than one
 * batch of the reap (64): one reap must dispatch every one, including those
 * the kernel held back in its overflow list. */
Test(dispatch, one_reap_takes_a_full_cq_and_its_overflow)
{
	static struct ublkfw_uring_op ops[80];
	unsigned int i;

	target_cb_calls = 0;
	for (i = 0; i < 80; i++) {
		struct io_uring_sqe *sqe;

		ops[i].cb = count_cb;
		sqe = ublkfw_queue_get_sqe(&q, &ops[i]);
		cr_assert_not_null(sqe);
		io_uring_prep_nop(sqe);
	}
	cr_assert_geq(ublkfw_queue_submit(&q), 0);
	cr_assert(IO_URING_READ_ONCE(*q.ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW,
		  "the test needs an overflowed CQ");
	ublkfw_queue_reap(&q);
	cr_expect_eq(target_cb_calls, 80);
	cr_expect_eq(q.last_reaped, 80);
	cr_expect_eq(q.target_inflight, 0);
	cr_expect_eq(io_uring_cq_ready(&q.ring), 0);
}

Test(dispatch, zero_copy_descriptor_gives_a_pointer_into_the_pool)
{
	struct ublkfw_shmem_pool *pool;
	struct ublksrv_io_cmd *cmd;
	char *base;

	cr_assert_eq(ublkfw_shmem_table_init(&dev), 0);
	cr_assert_eq(ublkfw_shmem_pool_create(1 << 20, 0, &pool), 0);
	base = ublkfw_shmem_pool_base(pool);
	atomic_store(&dev.shm.pools[3], pool);

	descs[1].op_flags = UBLK_IO_OP_WRITE | UBLK_IO_F_SHMEM_ZC;
	descs[1].nr_sectors = 8;
	descs[1].addr = (3ULL << 32) | 65536;
	ublkfw_queue_handle_cmd_cqe(&q, ublkfw_queue_slot(&q, 1), UBLK_IO_RES_OK);
	cr_assert_eq(nseen, 1);
	cr_expect_eq(seen[0]->data, base + 65536);
	cr_expect(ublkfw_io_is_zero_copy(seen[0]));
	cr_expect_eq(seen[0]->flags, 0, "the SHMEM_ZC flag is the framework's business");
	cmd = (struct ublksrv_io_cmd *)last_sqe()->cmd;
	cr_expect_eq(cmd->result, 4096);
	cr_expect_eq(q.stats.zc_ios, 1);
	cr_expect_eq(q.stats.zc_bytes, 4096);
	cr_expect_eq(q.stats.copy_ios, 0);

	/* the next request of the same tag is an ordinary one again */
	descs[1].op_flags = UBLK_IO_OP_READ;
	ublkfw_queue_handle_cmd_cqe(&q, ublkfw_queue_slot(&q, 1), UBLK_IO_RES_OK);
	cr_expect_eq(seen[1]->data, bufs[1]);
	cr_expect_not(ublkfw_io_is_zero_copy(seen[1]));
	ublkfw_shmem_release_all(&dev);
}

Test(dispatch, bad_zero_copy_descriptor_fails_with_eio_never_reaches_target)
{
	struct ublkfw_shmem_pool *pool;

	cr_assert_eq(ublkfw_shmem_table_init(&dev), 0);
	cr_assert_eq(ublkfw_shmem_pool_create(1 << 20, 0, &pool), 0);
	atomic_store(&dev.shm.pools[0], pool);

	descs[2].op_flags = UBLK_IO_OP_READ | UBLK_IO_F_SHMEM_ZC;
	descs[2].nr_sectors = 16;
	descs[2].addr = (0ULL << 32) | ((1 << 20) - 4096);	/* 8 KiB from 4 KiB before the end */
	ublkfw_queue_handle_cmd_cqe(&q, ublkfw_queue_slot(&q, 2), UBLK_IO_RES_OK);
	descs[3].op_flags = UBLK_IO_OP_READ | UBLK_IO_F_SHMEM_ZC;
	descs[3].nr_sectors = 1;
	descs[3].addr = 9ULL << 32;				/* index never registered */
	ublkfw_queue_handle_cmd_cqe(&q, ublkfw_queue_slot(&q, 3), UBLK_IO_RES_OK);

	cr_expect_eq(nseen, 0, "the target must not see a wild pointer");
	cr_expect_eq(q.stats.zc_rejected, 2);
	cr_expect_eq(io_uring_sq_ready(&q.ring), 2);
	cr_expect_eq(((struct ublksrv_io_cmd *)last_sqe()->cmd)->result, -EIO);
	ublkfw_shmem_release_all(&dev);
}
