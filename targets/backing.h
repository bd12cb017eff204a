/* SPDX-License-Identifier: MIT */
/*
 * backing.h - the shared engine of the file-backed targets (loop and
 * stripe): opening backing files or block devices, mapping a
 * request onto them (linearly, or RAID-0 in chunks), and doing the I/O
 * asynchronously on the queue's io_uring ring with registered files.
 *
 * A target that uses it has a struct backing as its device private area
 * (.dev_priv_size = sizeof(struct backing), see backing_of()) and plugs the
 * backing_target_* callbacks into its ops (loop, stripe), or calls
 * backing_queue_io() itself.
 */
#ifndef UBLKFW_BACKING_H
#define UBLKFW_BACKING_H

#include "ublkfw.h"

#define BACKING_MAX_LEGS	16

struct backing_leg {
	const char *path;
	int fd;
	bool blkdev;
	uint64_t size;		/* bytes */
	uint32_t block_size;	/* smallest I/O the backing accepts (O_DIRECT) */
	bool sync_rw;		/* reads and writes by preadv2/pwritev2 on the queue thread */
	dev_t st_dev, st_rdev;	/* which file it is (fstat) */
	ino_t st_ino;
};

/* --io: how reads and writes reach the backing */
enum backing_io_mode {
	BACKING_IO_AUTO,	/* sync_rw for a file in memory io_uring would punt */
	BACKING_IO_URING,	/* always io_uring */
	BACKING_IO_SYNC,	/* always preadv2/pwritev2 */
};

struct backing {
	struct backing_leg legs[BACKING_MAX_LEGS];
	unsigned int nr_legs;
	unsigned int min_legs, max_legs;	/* what the target accepts */
	uint64_t chunk;			/* RAID-0 chunk in bytes; 0: one linear leg */
	bool buffered;			/* no O_DIRECT */
	bool read_only;
	uint32_t block_size;		/* --block-size, 0: from the backing */
	enum backing_io_mode io_mode;	/* --io */
};

/*
 * The device's struct backing: the target's dev_priv_size area (zeroed by
 * the framework), given the target's limits on first use.
 */
struct backing *backing_of(struct ublkfw_dev *dev, unsigned int min_legs, unsigned int max_legs,
			   uint64_t chunk);

/* Per queue: registered file indexes and the request parts in flight. */
struct backing_queue;

/*
 * The options every file-backed target accepts (--buffered, --read-only,
 * --block-size, --io) and positional backing paths.  Returns 1 when key is not
 * one of them (the caller handles it), 0 when handled, -EINVAL on error
 * (after a one-line message).
 */
int backing_config(struct ublkfw_dev *dev, struct backing *b, const char *key,
		   const char *value);
#define BACKING_OPTIONS \
	{ "buffered", NULL, "use the page cache (default: O_DIRECT)" }, \
	{ "read-only", NULL, "open the backing read-only; the device is read-only" }, \
	{ "block-size", "BYTES", "logical block size (default: the backing's, at least 512)" }, \
	{ "io", "MODE", "auto, uring or sync: how reads and writes reach the backing (default auto: " \
			"sync for a tmpfs file that io_uring would hand to a worker thread)" }

/* Open the legs, check them, and set the device's size, block size,
 * attributes, discard and write-zeroes.  0 or -errno (message printed). */
int backing_open(struct ublkfw_dev *dev, struct backing *b);
void backing_close(struct backing *b);

int backing_queue_init(struct ublkfw_queue *q, struct backing *b, struct backing_queue **bqp);
void backing_queue_deinit(struct backing_queue *bq);
/* Serve io on the backing; completes it when every part is done. */
void backing_queue_io(struct backing_queue *bq, struct ublkfw_io *io);

/* Ready-made callbacks for targets whose device priv is a struct backing. */
void backing_target_close(struct ublkfw_dev *dev);
int backing_target_queue_init(struct ublkfw_queue *q);
void backing_target_queue_deinit(struct ublkfw_queue *q);
void backing_target_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io);

#endif
