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
#include <sys/stat.h>
#include <sys/statvfs.h>
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

/*
 * The file is sparse, and a write into the mapping that the filesystem has
 * no room for is a SIGBUS that kills the server: refuse a device larger than
 * what the run directory's filesystem has free now (a tmpfs: /run is often
 * a tenth of RAM).  Others may still fill it later; say so in the log.
 */
static int check_room(struct ublkfw_dev *dev, int fd, const char *path)
{
	uint64_t size = ublkfw_dev_size(dev), room;
	struct statvfs sv;

	if (fstatvfs(fd, &sv))
		return 0;	/* cannot tell: try */
	room = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (size <= room)
		return 0;
	ublkfw_err(dev, "%s has room for %llu MiB, the RAM disk needs %llu MiB: give a smaller -s, or a roomier UBLKFW_RUN_DIR (a tmpfs)",
		   path, (unsigned long long)(room >> 20), (unsigned long long)(size >> 20));
	return -ENOSPC;
}

/* A new device: a new file of its size (holes: no memory yet). */
static int create_data(struct ublkfw_dev *dev, const char *path)
{
	int fd;

	unlink(path);	/* an id reused after a deleted device's file was left */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)ublkfw_dev_size(dev))) {
		ublkfw_err(dev, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (check_room(dev, fd, path)) {
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* A device taken over: the dead server's file, of the device's size. */
static int find_data(struct ublkfw_dev *dev, const char *path)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		ublkfw_err(dev, "cannot open %s: %s (the device's data is gone: delete it)", path,
			   strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != ublkfw_dev_size(dev)) {
		ublkfw_err(dev, "%s is not the device's data (not a regular file of %llu bytes)", path,
			   (unsigned long long)ublkfw_dev_size(dev));
		close(fd);
		return -1;
	}
	return fd;
}

static int memory_attach(struct ublkfw_dev *dev)
{
	struct memory *m = ublkfw_dev_priv(dev);
	uint64_t size = ublkfw_dev_size(dev);
	char path[256];
	int ret = ublkfw_dev_run_file(dev, "mem", path, sizeof(path));

	if (ret) {
		ublkfw_err(dev, "no place for the device's data: %s", strerror(-ret));
		return ret;
	}
	m->fd = ublkfw_dev_is_recovering(dev) ? find_data(dev, path) : create_data(dev, path);
	if (m->fd < 0)
		return -EIO;
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
