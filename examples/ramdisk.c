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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ublkfw.h>

struct ramdisk {
	char *mem;
	uint64_t size;
	int fill;
};

static struct ramdisk rd = { .fill = 0 };

static const struct ublkfw_option ramdisk_options[] = {
	{ "fill", "BYTE", "what unwritten blocks read as (default 0)" },
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
	switch (io->op) {
	case UBLKFW_OP_READ:
		memcpy(io->data, rd.mem + io->offset, io->len);
		ublkfw_io_complete(io, io->len);
		break;
	case UBLKFW_OP_WRITE:
		memcpy(rd.mem + io->offset, io->data, io->len);
		ublkfw_io_complete(io, io->len);
		break;
	case UBLKFW_OP_FLUSH:
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
