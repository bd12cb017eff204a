// SPDX-License-Identifier: MIT
/*
 * memory.c - the memory target: a RAM disk.  The memory is reserved lazily
 * (pages appear on first write) and given back on DISCARD and WRITE_ZEROES
 * without NOUNMAP.  All queue threads share it; the block layer does not
 * order overlapping requests in flight, so neither do we.
 *
 *   ublk-fw-ctl add -t memory -s 1G
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ublkfw.h"
#include "targets.h"

#define PAGE	4096ULL

static int memory_open(struct ublkfw_dev *dev)
{
	uint64_t size = ublkfw_dev_size(dev);
	void *mem;

	if (!size) {
		ublkfw_err(dev, "no size: give the RAM disk's size with -s SIZE");
		return -EINVAL;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		ublkfw_err(dev, "cannot reserve %llu bytes: %s", (unsigned long long)size,
			   strerror(errno));
		return -ENOMEM;
	}
	ublkfw_dev_set_priv(dev, mem);
	ublkfw_dev_set_discard(dev, PAGE, 0);
	ublkfw_dev_set_write_zeroes(dev, 0);
	return 0;
}

static void memory_close(struct ublkfw_dev *dev)
{
	munmap(ublkfw_dev_priv(dev), ublkfw_dev_size(dev));
}

/* Zero [off, off + len): whole pages go back to the kernel when allowed. */
static void memory_zero(char *mem, uint64_t off, uint64_t len, int unmap)
{
	uint64_t start = (off + PAGE - 1) & ~(PAGE - 1), end = (off + len) & ~(PAGE - 1);

	if (!unmap || start >= end) {
		memset(mem + off, 0, len);
		return;
	}
	memset(mem + off, 0, start - off);
	madvise(mem + start, end - start, MADV_DONTNEED);
	memset(mem + end, 0, off + len - end);
}

static void memory_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	char *mem = ublkfw_dev_priv(ublkfw_queue_dev(q));

	switch (io->op) {
	case UBLKFW_OP_READ:
		memcpy(io->data, mem + io->offset, io->len);
		ublkfw_io_complete(io, io->len);
		return;
	case UBLKFW_OP_WRITE:
		memcpy(mem + io->offset, io->data, io->len);
		ublkfw_io_complete(io, io->len);
		return;
	case UBLKFW_OP_DISCARD:
	case UBLKFW_OP_WRITE_ZEROES:
		memory_zero(mem, io->offset, io->len, !(io->flags & UBLKFW_IO_F_NOUNMAP));
		ublkfw_io_complete(io, 0);
		return;
	case UBLKFW_OP_FLUSH:
		ublkfw_io_complete(io, 0);
		return;
	default:
		ublkfw_io_complete(io, -EOPNOTSUPP);
	}
}

const struct ublkfw_target_ops ublkfw_target_memory = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "memory",
	.description = "a RAM disk of -s SIZE; discard frees memory",
	.open = memory_open,
	.close = memory_close,
	.queue_io = memory_queue_io,
};
