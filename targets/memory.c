// SPDX-License-Identifier: MIT
/*
 * memory.c - the memory target: a RAM disk whose data lives in a file of the
 * device's own in the run directory (a tmpfs), <run dir>/<id>.mem, mapped
 * shared.  It therefore outlives its server: a server that takes the device
 * over (`ublk-fw-ctl recover`) maps the same file and finds every byte
 * written before the crash; the framework removes the file when the device
 * is deleted.  The memory is reserved lazily (pages appear on first write)
 * and given back on DISCARD and WRITE_ZEROES without NOUNMAP (a hole is
 * punched).  All queue threads share it; the block layer does not order
 * overlapping requests in flight, so neither do we.
 *
 *   ublk-fw-ctl add -t memory -s 1G
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ublkfw.h"
#include "targets.h"

#define PAGE	4096ULL

struct memory {				/* ublkfw_dev_priv() */
	char *mem;
	int fd;
};

static int memory_open(struct ublkfw_dev *dev)
{
	((struct memory *)ublkfw_dev_priv(dev))->fd = -1;
	if (!ublkfw_dev_size(dev)) {
		ublkfw_err(dev, "no size: give the RAM disk's size with -s SIZE");
		return -EINVAL;
	}
	ublkfw_dev_set_discard(dev, PAGE, 0);
	ublkfw_dev_set_write_zeroes(dev, 0);
	return 0;
}

static int memory_attach(struct ublkfw_dev *dev)
{
	struct memory *m = ublkfw_dev_priv(dev);
	uint64_t size = ublkfw_dev_size(dev);
	char path[256];

	/* new, or the dead server's when recovering */
	m->fd = ublkfw_dev_open_run_file(dev, "mem", size, path, sizeof(path));
	if (m->fd < 0)
		return m->fd;
	m->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->mem == MAP_FAILED) {
		ublkfw_err(dev, "cannot map %llu bytes of %s: %s", (unsigned long long)size, path,
			   strerror(errno));
		m->mem = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void memory_close(struct ublkfw_dev *dev)
{
	struct memory *m = ublkfw_dev_priv(dev);

	if (m->mem)
		munmap(m->mem, ublkfw_dev_size(dev));
	if (m->fd >= 0)
		close(m->fd);
}

/* Zero [off, off + len): whole pages go back to the kernel when allowed. */
static void memory_zero(struct memory *m, uint64_t off, uint64_t len, int unmap)
{
	uint64_t start = (off + PAGE - 1) & ~(PAGE - 1), end = (off + len) & ~(PAGE - 1);

	if (!unmap || start >= end ||
	    fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start,
		      (off_t)(end - start))) {
		memset(m->mem + off, 0, len);
		return;
	}
	memset(m->mem + off, 0, start - off);
	memset(m->mem + end, 0, off + len - end);
}

static void memory_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct memory *m = ublkfw_dev_priv(ublkfw_queue_dev(q));

	switch (io->op) {
	case UBLKFW_OP_READ:
		memcpy(io->data, m->mem + io->offset, io->len);
		break;
	case UBLKFW_OP_WRITE:
		memcpy(m->mem + io->offset, io->data, io->len);
		break;
	case UBLKFW_OP_DISCARD:
	case UBLKFW_OP_WRITE_ZEROES:
		memory_zero(m, io->offset, io->len, !(io->flags & UBLKFW_IO_F_NOUNMAP));
		break;
	case UBLKFW_OP_FLUSH:
		break;
	default:
		ublkfw_io_complete(io, -EOPNOTSUPP);
		return;
	}
	ublkfw_io_complete_ok(io);
}

const struct ublkfw_target_ops ublkfw_target_memory = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "memory",
	.description = "a RAM disk of -s SIZE that outlives its server; discard frees memory",
	.dev_priv_size = sizeof(struct memory),
	.open = memory_open,
	.close = memory_close,
	.attach = memory_attach,
	.queue_io = memory_queue_io,
};
