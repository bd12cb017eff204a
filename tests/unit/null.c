// SPDX-License-Identifier: MIT
/*
 * The null target's reads return zeroes: driven through the queue layer
 * without a kernel, as in dispatch.c.  The "kernel" here fills a tag's copy
 * buffer for a WRITE itself, as ublk_drv does before it hands the request on.
 */
#define FAKE_DEPTH	2
#define MAX_IO		65536
#define FAKE_MAX_IO	MAX_IO
#include "fake_queue.h"
#include "targets.h"

static struct fake_queue fq;
#define dev	(fq.dev)
#define q	(fq.q)
#define descs	(fq.descs)
#define bufs	(fq.bufs)

static void setup(void)
{
	fake_queue_init(&fq, &ublkfw_target_null);
	fake_queue_slots(&fq);
}

static void teardown(void)
{
	fake_queue_fini(&fq);
}

TestSuite(null, .init = setup, .fini = teardown);

/* A request on tag; returns what the target committed. */
static int request(unsigned int tag, unsigned int op, uint32_t bytes, uint64_t addr)
{
	struct io_slot *s = ublkfw_queue_slot(&q, tag);

	descs[tag].op_flags = op | (addr ? UBLK_IO_F_SHMEM_ZC : 0);
	descs[tag].start_sector = 0;
	descs[tag].nr_sectors = bytes >> 9;
	descs[tag].addr = addr;
	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_OK);
	cr_assert_eq(s->state, IO_FETCHING, "null completes inside queue_io");
	/* the COMMIT_AND_FETCH just queued */
	return ((struct ublksrv_io_cmd *)
		q.ring.sq.sqes[(q.ring.sq.sqe_tail - 1) & q.ring.sq.ring_mask].cmd)->result;
}

/* The kernel's side of a copy-mode WRITE: the data lands in the buffer. */
static void kernel_write(unsigned int tag, int byte, uint32_t bytes)
{
	memset(bufs[tag], byte, bytes);
	cr_assert_eq(request(tag, UBLK_IO_OP_WRITE, bytes, 0), (int)bytes);
}

static bool all(const char *p, int byte, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (char)byte)
			return false;
	return true;
}

Test(null, read_after_write_on_the_same_tag_returns_zeroes)
{
	kernel_write(0, 0xab, 65536);
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 4096, 0), 4096);
	cr_expect(all(bufs[0], 0, 4096), "a 4K read after a 64K write must read zeroes");
	cr_expect(all(bufs[0] + 4096, 0xab, 65536 - 4096),
		  "only what the read returns is cleared, not the whole buffer");
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 65536, 0), 65536);
	cr_expect(all(bufs[0], 0, 65536), "a 64K read after that must read zeroes");
}

Test(null, reads_of_a_clean_tag_touch_nothing)
{
	/* Nothing was written through tag 1: a read leaves its buffer alone
	 * (poisoned here to see it), so read-only work costs no memset. */
	kernel_write(0, 0xab, 65536);
	memset(bufs[1], 0x5a, MAX_IO);
	cr_expect_eq(request(1, UBLK_IO_OP_READ, 65536, 0), 65536);
	cr_expect(all(bufs[1], 0x5a, MAX_IO), "tag 1 was never written: nothing to clear");

	cr_expect_eq(request(0, UBLK_IO_OP_READ, 65536, 0), 65536);
	memset(bufs[0], 0x5a, 512);
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 512, 0), 512);
	cr_expect(all(bufs[0], 0x5a, 512), "tag 0 was cleared whole by its last read");
}

Test(null, short_reads_after_a_long_write_clear_each_byte_once)
{
	kernel_write(0, 0xab, 65536);
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 8192, 0), 8192);
	cr_expect(all(bufs[0], 0, 8192), "an 8K read after a 64K write reads zeroes");
	/* poisoned to see whether the next read clears the same bytes again */
	memset(bufs[0], 0x5a, 4096);
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 4096, 0), 4096);
	cr_expect(all(bufs[0], 0x5a, 4096), "bytes a read cleared are not cleared again");
	memset(bufs[0], 0, 4096);
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 32768, 0), 32768);
	cr_expect(all(bufs[0], 0, 32768), "a longer read clears the rest it returns");
	cr_expect(all(bufs[0] + 32768, 0xab, 65536 - 32768), "and nothing beyond it");
	kernel_write(0, 0xcd, 4096);
	cr_expect_eq(request(0, UBLK_IO_OP_READ, 65536, 0), 65536);
	cr_expect(all(bufs[0], 0, 65536), "after a new write, a full read is all zeroes");
}

Test(null, write_zeroes_discard_flush_succeed)
{
	cr_expect_eq(request(0, UBLK_IO_OP_FLUSH, 0, 0), 0);
	cr_expect_eq(request(0, UBLK_IO_OP_DISCARD, 4096, 0), 0);
	cr_expect_eq(request(0, UBLK_IO_OP_WRITE_ZEROES, 4096, 0), 0);
}

Test(null, zero_copy_read_is_cleared_whole)
{
	struct ublkfw_shmem_pool *pool;
	char *base;

	cr_assert_eq(ublkfw_shmem_table_init(&dev), 0);
	cr_assert_eq(ublkfw_shmem_pool_create(1 << 20, 0, &pool), 0);
	base = ublkfw_shmem_pool_base(pool);
	atomic_store(&dev.shm.pools[3], pool);
	memset(base, 0xee, 1 << 20);

	/* A zero-copy write leaves the tag's own buffer as it was... */
	cr_expect_eq(request(1, UBLK_IO_OP_WRITE, 8192, (3ULL << 32) | 0), 8192);
	/* ...and a zero-copy read is the client's memory: cleared, exactly len. */
	cr_expect_eq(request(1, UBLK_IO_OP_READ, 8192, (3ULL << 32) | 65536), 8192);
	cr_expect(all(base + 65536, 0, 8192), "the client's buffer reads zeroes");
	cr_expect(all(base + 65536 + 8192, 0xee, 4096), "and nothing beyond it is touched");
	cr_expect(all(base + 65536 - 4096, 0xee, 4096), "nor before it");
	ublkfw_shmem_release_all(&dev);
}
