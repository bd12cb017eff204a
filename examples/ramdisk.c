// SPDX-License-Identifier: MIT
/*
 * ramdisk.c - an out-of-tree ublk-fw target: a RAM disk whose unwritten
 * blocks read as a fill byte (--fill), built against the installed library:
 *
 *   cc -O2 ramdisk.c $(pkg-config --cflags --libs ublkfw) -o ublk-ramdisk
 *   ./ublk-ramdisk -s 256M --fill 0xab      # prints /dev/ublkbN (id N)
 *   ublk-fw-ctl del -n N
 *
 * docs/writing-a-target.md walks through it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ublkfw.h>

struct ramdisk {
	char *mem;
	uint64_t size;
	int fill;
	bool read_only;
};

static struct ramdisk rd = { .fill = 0 };

static const struct ublkfw_option ramdisk_options[] = {
	{ "fill", "BYTE", "what unwritten and discarded blocks read as (default 0)" },
	{ "read-only", NULL, "a read-only device: the kernel refuses writes" },
	{ NULL, NULL, NULL },
};

/* One call per option (key) or positional argument (key == NULL). */
static int ramdisk_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	char *end;

	if (key && !strcmp(key, "fill")) {
		long v = strtol(value, &end, 0);

		if (*value && !*end && v >= 0 && v <= 255) {
			rd.fill = (int)v;
			return 0;
		}
		ublkfw_err(dev, "invalid --fill '%s': use 0..255", value);
		return -EINVAL;
	}
	if (key && !strcmp(key, "read-only")) {
		rd.read_only = true;
		return 0;
	}
	ublkfw_err(dev, "unexpected argument '%s'", value);
	return -EINVAL;
}

/* After the options: allocate, and tell the framework what the device is. */
static int ramdisk_open(struct ublkfw_dev *dev)
{
	rd.size = ublkfw_dev_size(dev);
	if (!rd.size) {
		ublkfw_err(dev, "give the size with -s SIZE");
		return -EINVAL;
	}
	rd.mem = mmap(NULL, rd.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rd.mem == MAP_FAILED) {
		ublkfw_err(dev, "cannot allocate %llu bytes", (unsigned long long)rd.size);
		return -ENOMEM;
	}
	memset(rd.mem, rd.fill, rd.size);
	/* RAM has no volatile cache: no UBLKFW_ATTR_VOLATILE_CACHE, so the
	 * kernel never sends FLUSH (nor the FUA flag). */
	if (rd.read_only)
		ublkfw_dev_set_attrs(dev, UBLKFW_ATTR_READ_ONLY);
	/* Without these two calls DISCARD and WRITE_ZEROES never arrive. */
	ublkfw_dev_set_discard(dev, 0, 0);
	ublkfw_dev_set_write_zeroes(dev, 0);
	return 0;
}

static void ramdisk_close(struct ublkfw_dev *dev)
{
	(void)dev;
	munmap(rd.mem, rd.size);
}

/* Runs on the queue's thread; complete now (as here) or later. */
static void ramdisk_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	(void)q;
	if (rd.read_only && io->op != UBLKFW_OP_READ) {
		/* The kernel refuses writes to a read-only device before they
		 * get here; a target still does not trust that. */
		ublkfw_io_complete(io, -EROFS);
		return;
	}
	switch (io->op) {
	case UBLKFW_OP_READ:
		memcpy(io->data, rd.mem + io->offset, io->len);
		ublkfw_io_complete(io, io->len);
		break;
	case UBLKFW_OP_WRITE:
		memcpy(rd.mem + io->offset, io->data, io->len);
		ublkfw_io_complete(io, io->len);
		break;
	case UBLKFW_OP_DISCARD:		/* reads as never written again */
		memset(rd.mem + io->offset, rd.fill, io->len);
		ublkfw_io_complete(io, 0);
		break;
	case UBLKFW_OP_WRITE_ZEROES:
		memset(rd.mem + io->offset, 0, io->len);
		ublkfw_io_complete(io, 0);
		break;
	default:
		ublkfw_io_complete(io, -EOPNOTSUPP);
		break;
	}
}

static const struct ublkfw_target_ops ramdisk_ops = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "ramdisk",
	.description = "an example RAM disk whose unwritten blocks read as --fill",
	.options = ramdisk_options,
	.config = ramdisk_config,
	.open = ramdisk_open,
	.close = ramdisk_close,
	.queue_io = ramdisk_queue_io,
};

int main(int argc, char **argv)
{
	return ublkfw_main(&ramdisk_ops, argc, argv);
}
