// SPDX-License-Identifier: MIT
/*
 * User-copy mode (usercopy.c) on the fake queue.  The ring's fixed file 0,
 * /dev/ublkcN in a real server, is a sparse temporary file here: the
 * framework's cdev reads and writes really run, at the request's offset
 * UBLKSRV_IO_BUF_OFFSET + (q << UBLK_QID_OFF) + (tag << UBLK_TAG_OFF), so
 * the tests see the bytes move and the slot states change with each CQE.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define FAKE_MAX_IO	(128 << 10)	/* above UC_SMALL: large and small requests */
#include "fake_queue.h"

static struct fake_queue fq;
#define q	(fq.q)
#define descs	(fq.descs)
#define bufs	(fq.bufs)
static struct ublkfw_io *seen[16];
static char seen_data[16][64];		/* the first bytes of io->data in queue_io */
static int nseen;
static bool hold;			/* queue_io keeps the request */
static int cdev = -1;			/* fixed file 0 */

static void uc_queue_io(struct ublkfw_queue *qq, struct ublkfw_io *io)
{
	(void)qq;
	if (io->data)
		memcpy(seen_data[nseen], io->data, sizeof(seen_data[0]));
	seen[nseen++] = io;
	if (!hold)
		ublkfw_io_complete_ok(io);
}

static const struct ublkfw_target_ops uc_ops = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "uc",
	.queue_io = uc_queue_io,
};

/* A fake queue in user-copy mode whose fixed file 0 is fd. */
static void setup_with(int fd)
{
	fake_queue_init(&fq, &uc_ops);
	q.user_copy = true;
	fake_queue_slots(&fq);
	cdev = fd;
	cr_assert_eq(io_uring_register_files(&q.ring, &cdev, 1), 0);
	nseen = 0;
	hold = false;
}

static void setup(void)
{
	char path[] = "/tmp/ublkfw-uc-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	setup_with(fd);
}

static void teardown(void)
{
	fake_queue_fini(&fq);
	close(cdev);
}

TestSuite(usercopy, .init = setup, .fini = teardown);

/* The newest SQE queued on the ring, not yet submitted. */
static struct io_uring_sqe *last_sqe(void)
{
	cr_assert_gt(io_uring_sq_ready(&q.ring), 0, "no SQE was queued");
	return &q.ring.sq.sqes[(q.ring.sq.sqe_tail - 1) & q.ring.sq.ring_mask];
}

static struct ublksrv_io_cmd *last_cmd(void)
{
	struct io_uring_sqe *sqe = last_sqe();

	cr_assert_eq(sqe->opcode, IORING_OP_URING_CMD, "the last SQE is not a ublk command");
	return (struct ublksrv_io_cmd *)sqe->cmd;
}

/* Run what is queued: submit, wait for one CQE per non-command SQE, reap. */
static void run_ring(unsigned int wait)
{
	cr_assert_geq(io_uring_submit_and_wait(&q.ring, wait), 0);
	ublkfw_queue_reap(&q);
}

static struct io_slot *arrive(unsigned int tag, unsigned int op, unsigned int sectors)
{
	struct io_slot *s = ublkfw_queue_slot(&q, tag);

	descs[tag].op_flags = op;
	descs[tag].start_sector = 16;
	descs[tag].nr_sectors = sectors;
	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_OK);
	return s;
}

/* The request's bytes as the kernel would have them, at its cdev offset. */
static void kernel_has(unsigned int tag, char c, size_t len)
{
	char data[FAKE_MAX_IO];

	memset(data, c, len);
	cr_assert_eq(pwrite(cdev, data, len, (off_t)ublkfw_uc_pos(0, tag)), (ssize_t)len);
}

Test(usercopy, the_offset_of_a_request_is_the_kernels)
{
	/* ublk_pos_to_hwq/tag/buf_off: queue bits from 41, tag bits from 25 */
	cr_expect_eq(ublkfw_uc_pos(0, 0), 0x80000000ULL);
	cr_expect_eq(ublkfw_uc_pos(0, 3), 0x80000000ULL + (3ULL << 25));
	cr_expect_eq(ublkfw_uc_pos(2, 5), 0x80000000ULL + (2ULL << 41) + (5ULL << 25));
	cr_expect_eq(ublkfw_uc_pos(4095, 4095) - 0x80000000ULL, (4095ULL << 41) | (4095ULL << 25));
}

Test(usercopy, refusals_name_the_problem)
{
	const uint64_t uc = UBLK_F_USER_COPY;

	cr_expect_null(ublkfw_uc_refusal(0, 0), "no --user-copy, nothing to refuse");
	cr_expect_null(ublkfw_uc_refusal(uc | UBLK_F_USER_RECOVERY, uc));
	cr_expect(strstr(ublkfw_uc_refusal(uc, 0), "no UBLK_F_USER_COPY") != NULL);
	cr_expect(strstr(ublkfw_uc_refusal(uc | UBLK_F_SHMEM_ZC, uc | UBLK_F_SHMEM_ZC),
			 "--shmem-zc") != NULL);
}

Test(usercopy, fetch_and_commit_carry_no_buffer)
{
	cr_expect_null(ublkfw_queue_slot(&q, 0)->buf, "an idle tag holds no buffer");
	arrive(1, UBLK_IO_OP_FLUSH, 0);
	cr_expect_eq(last_cmd()->addr, 0, "the kernel refuses an addr in user-copy mode");
}

Test(usercopy, write_data_is_read_from_the_cdev_before_the_target_sees_it)
{
	struct io_slot *s;
	struct io_uring_sqe *sqe;

	kernel_has(2, 'w', 4096);
	s = arrive(2, UBLK_IO_OP_WRITE, 8);
	cr_expect_eq(nseen, 0, "the target must wait for the data");
	cr_expect_eq(s->state, IO_COPY_IN);
	sqe = last_sqe();
	cr_expect_eq(sqe->opcode, IORING_OP_READ);
	cr_expect(sqe->flags & IOSQE_FIXED_FILE);
	cr_expect_eq(sqe->fd, 0);
	cr_expect_eq(sqe->off, ublkfw_uc_pos(0, 2));
	cr_expect_eq(sqe->len, 4096);
	cr_expect_eq((void *)(uintptr_t)sqe->addr, bufs[0], "the first buffer lent is buffer 0");

	run_ring(1);
	cr_assert_eq(nseen, 1);
	cr_expect_eq(seen[0]->data, bufs[0]);
	cr_expect_eq(seen_data[0][0], 'w');
	cr_expect_eq(seen_data[0][63], 'w');
	cr_expect_eq(s->state, IO_FETCHING);
	cr_expect_eq(last_cmd()->result, 4096);
	cr_expect_eq(last_cmd()->addr, 0);
	cr_expect_null(s->buf, "the buffer goes back at commit");
	cr_expect_eq(q.target_inflight, 0);
}

Test(usercopy, read_data_is_written_to_the_cdev_before_the_commit)
{
	struct io_slot *s;
	struct io_uring_sqe *sqe;
	char back[4096];

	hold = true;
	s = arrive(3, UBLK_IO_OP_READ, 8);
	cr_assert_eq(nseen, 1, "a READ goes to the target at once");
	cr_expect_eq(s->state, IO_IN_TARGET);
	memset(seen[0]->data, 'r', 4096);
	ublkfw_io_complete(seen[0], 4096);
	cr_expect_eq(s->state, IO_COPY_OUT);
	sqe = last_sqe();
	cr_expect_eq(sqe->opcode, IORING_OP_WRITE);
	cr_expect_eq(sqe->off, ublkfw_uc_pos(0, 3));
	cr_expect_eq(sqe->len, 4096);

	cr_redirect_stderr();
	ublkfw_io_complete(seen[0], 4096);	/* a target bug: refused in IO_COPY_OUT */
	cr_expect_eq(io_uring_sq_ready(&q.ring), 1, "a second completion must not add anything");
	fflush(stderr);
	cr_expect_stderr_eq_str("unit: uc: queue 0 tag 3: completed twice or never issued (bug in target)\n");

	run_ring(1);
	cr_expect_eq(s->state, IO_FETCHING);
	cr_expect_eq(last_cmd()->result, 4096);
	cr_assert_eq(pread(cdev, back, sizeof(back), (off_t)ublkfw_uc_pos(0, 3)), 4096);
	cr_expect_eq(back[0], 'r');
	cr_expect_eq(back[4095], 'r');
	cr_expect_eq(q.stats.copy_ios, 1);
}

Test(usercopy, a_short_read_copies_only_what_the_target_returned)
{
	hold = true;
	arrive(0, UBLK_IO_OP_READ, 16);
	ublkfw_io_complete(seen[0], 1024);
	cr_expect_eq(last_sqe()->len, 1024);
	run_ring(1);
	cr_expect_eq(last_cmd()->result, 1024);
}

Test(usercopy, a_failed_read_is_committed_without_a_copy)
{
	struct io_slot *s;

	hold = true;
	s = arrive(1, UBLK_IO_OP_READ, 8);
	ublkfw_io_complete(seen[0], -EIO);
	cr_expect_eq(s->state, IO_FETCHING);
	cr_expect_eq(io_uring_sq_ready(&q.ring), 1, "only the COMMIT");
	cr_expect_eq(last_cmd()->result, -EIO);
}

Test(usercopy, a_short_copy_in_fails_the_write_and_the_target_never_sees_it)
{
	struct io_slot *s;

	cr_redirect_stderr();
	kernel_has(1, 'x', 512);	/* 512 of the 4096 bytes: EOF after them */
	s = arrive(1, UBLK_IO_OP_WRITE, 8);
	run_ring(1);
	cr_expect_eq(nseen, 0);
	cr_expect_eq(s->state, IO_FETCHING);
	cr_expect_eq(last_cmd()->result, -EIO);
	cr_expect_null(s->buf);
}

static void setup_read_only_cdev(void)
{
	char path[] = "/tmp/ublkfw-uc-XXXXXX";
	int fd = mkstemp(path);
	int ro = open(path, O_RDONLY);

	cr_assert_geq(ro, 0);
	unlink(path);
	close(fd);
	setup_with(ro);
}

/* A cdev the write cannot go to (a read-only descriptor here). */
TestSuite(usercopy_ro, .init = setup_read_only_cdev, .fini = teardown);

Test(usercopy_ro, a_failed_copy_out_fails_the_read_with_its_errno)
{
	cr_redirect_stderr();
	hold = true;
	arrive(2, UBLK_IO_OP_READ, 8);
	ublkfw_io_complete(seen[0], 4096);
	run_ring(1);
	cr_expect_eq(last_cmd()->result, -EBADF, "the write's errno reaches the kernel");
	cr_expect_eq(q.stats.copy_ios, 0);
}

Test(usercopy, requests_without_data_copy_nothing)
{
	static const unsigned int ops[] = { UBLK_IO_OP_FLUSH, UBLK_IO_OP_DISCARD,
					    UBLK_IO_OP_WRITE_ZEROES };

	for (unsigned int i = 0; i < 3; i++) {
		struct io_slot *s = arrive(i, ops[i], i ? 8 : 0);

		cr_expect_eq(s->state, IO_FETCHING, "op %u is committed at once", ops[i]);
		cr_expect_eq(last_sqe()->opcode, IORING_OP_URING_CMD, "op %u: no cdev copy", ops[i]);
		cr_expect_null(seen[i]->data);
	}
	cr_expect_eq(q.uc.nr_free[UC_CLEAN_SMALL], FAKE_DEPTH, "no buffer was lent");
}

/* A reader never gets a buffer a writer dirtied while a clean one is left,
 * and gets one cleared when none is: no writer's data reaches a reader
 * even through a target that fills nothing (null). */
Test(usercopy, readers_get_clean_buffers)
{
	struct io_slot *w;

	hold = true;
	kernel_has(0, 's', 4096);
	w = arrive(0, UBLK_IO_OP_WRITE, 8);
	run_ring(1);			/* buffer 0 now holds 's' */
	cr_assert_eq(seen[0]->data, bufs[0]);
	ublkfw_io_complete_ok(seen[0]);
	cr_expect_null(w->buf);

	for (unsigned int tag = 1; tag < FAKE_DEPTH; tag++)	/* every clean buffer */
		arrive(tag, UBLK_IO_OP_READ, 8);
	cr_expect_eq(nseen, FAKE_DEPTH);
	for (int i = 1; i < nseen; i++)
		cr_expect_neq(seen[i]->data, bufs[0], "read %d got the written buffer", i);
	cr_expect_eq(q.uc.nr_free[UC_CLEAN_SMALL], 0);

	arrive(0, UBLK_IO_OP_READ, 8);	/* only the dirty one is left: cleared */
	cr_assert_eq(seen[FAKE_DEPTH]->data, bufs[0]);
	cr_expect_eq(seen_data[FAKE_DEPTH][0], 0, "a writer's data reached a reader");
	cr_expect_eq(bufs[0][4095], 0);
}

Test(usercopy, buffers_are_reused_last_in_first_out)
{
	hold = true;
	arrive(0, UBLK_IO_OP_READ, 8);
	arrive(1, UBLK_IO_OP_READ, 8);
	cr_expect_eq(seen[0]->data, bufs[0]);
	cr_expect_eq(seen[1]->data, bufs[1]);
	ublkfw_io_complete(seen[1], -EIO);
	ublkfw_io_complete(seen[0], -EIO);
	arrive(3, UBLK_IO_OP_READ, 8);	/* another tag gets the hottest buffer */
	cr_expect_eq(seen[2]->data, bufs[0]);
	cr_expect_eq(q.uc.nr_free[UC_CLEAN_SMALL], FAKE_DEPTH - 1);
}

/* Small and large requests keep to buffers of their size, so that a burst
 * of small ones does not make the pool's buffers large. */
Test(usercopy, large_and_small_requests_keep_to_their_buffers)
{
	hold = true;
	arrive(0, UBLK_IO_OP_READ, 256);	/* 128 KiB */
	cr_assert_eq(seen[0]->data, bufs[0]);
	ublkfw_io_complete(seen[0], -EIO);
	cr_expect_eq(q.uc.nr_free[UC_CLEAN_LARGE], 1, "buffer 0 is large now");
	arrive(1, UBLK_IO_OP_READ, 8);
	cr_expect_eq(seen[1]->data, bufs[1], "a small read must not take the large buffer");
	ublkfw_io_complete(seen[1], -EIO);
	arrive(2, UBLK_IO_OP_READ, 256);
	cr_expect_eq(seen[2]->data, bufs[0], "a large read takes the large buffer");
	arrive(3, UBLK_IO_OP_READ, 8);
	cr_expect_eq(seen[3]->data, bufs[1], "and a small one the small buffer");
}
