// SPDX-License-Identifier: MIT
/*
 * backing.c - the engine of the file-backed targets; see backing.h.
 *
 * Every request becomes one or more parts (one per leg and chunk), each an
 * io_uring operation on a registered file of the queue's ring.  The request
 * completes when its last part does, with the first error if any.  Short
 * reads and writes are resubmitted for the remainder, never returned as
 * success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <linux/magic.h>
#include <unistd.h>

#include "backing.h"
#include "backing_map.h"

struct bparent {
	struct ublkfw_io *io;
	unsigned int pending;
	int err;
};

struct bpart {
	struct ublkfw_uring_op op;	/* first: the CQE callback */
	struct backing_queue *bq;
	struct bparent *parent;
	struct backing_seg seg;
	uint32_t done;			/* bytes already transferred */
	bool punch;			/* write-zeroes falls back to punching a hole */
};

struct backing_queue {
	struct ublkfw_queue *q;
	struct backing *b;
	int fixed[BACKING_MAX_LEGS];
	unsigned int max_parts;
	struct bparent *parents;	/* per tag */
	struct bpart *parts;		/* per tag, max_parts each */
	struct backing_seg *segs;	/* scratch for backing_map() */
};

/* ---- configuration and opening ------------------------------------------- */

struct backing *backing_of(struct ublkfw_dev *dev, unsigned int min_legs, unsigned int max_legs,
			   uint64_t chunk)
{
	struct backing *b = ublkfw_dev_priv(dev);

	if (!b->max_legs) {
		b->min_legs = min_legs;
		b->max_legs = max_legs;
		b->chunk = chunk;
	}
	return b;
}

int backing_config(struct ublkfw_dev *dev, struct backing *b, const char *key,
		   const char *value)
{
	uint64_t v;

	if (!key) {
		if (!*value) {
			ublkfw_err(dev, "invalid backing file name '': give the path of a file or block device");
			return -EINVAL;
		}
		if (b->nr_legs >= b->max_legs) {
			ublkfw_err(dev, "too many backing files at '%s' (at most %u)", value,
				   b->max_legs);
			return -EINVAL;
		}
		b->legs[b->nr_legs++].path = value;
		return 0;
	}
	if (!strcmp(key, "buffered")) {
		b->buffered = true;
	} else if (!strcmp(key, "read-only")) {
		b->read_only = true;
	} else if (!strcmp(key, "block-size")) {
		if (ublkfw_parse_size(value, &v) || v < 512 || v > 4096 || (v & (v - 1))) {
			ublkfw_err(dev, "invalid --block-size '%s': use a power of two from 512 to 4096",
				   value);
			return -EINVAL;
		}
		b->block_size = v;
	} else if (!strcmp(key, "io")) {
		if (!strcmp(value, "auto")) {
			b->io_mode = BACKING_IO_AUTO;
		} else if (!strcmp(value, "uring")) {
			b->io_mode = BACKING_IO_URING;
		} else if (!strcmp(value, "sync")) {
			b->io_mode = BACKING_IO_SYNC;
		} else {
			ublkfw_err(dev, "invalid --io '%s': use auto, uring or sync", value);
			return -EINVAL;
		}
	} else {
		return 1;
	}
	return 0;
}

/* The smallest O_DIRECT read the file accepts: 512 or 4096. */
static uint32_t probe_dio_block(int fd, uint64_t size)
{
	void *buf;
	uint32_t bs = 512;

	if (size < 4096 || posix_memalign(&buf, 4096, 4096))
		return 4096;
	if (pread(fd, buf, 512, 0) < 0 && errno == EINVAL)
		bs = 4096;
	free(buf);
	return bs;
}

/*
 * --io auto: a file in memory (tmpfs) whose reads io_uring cannot issue
 * without blocking is served with preadv2/pwritev2 on the queue thread.
 * Such a file has no FMODE_NOWAIT (tmpfs before it gained it), so
 * io_uring hands every read and write to an io-wq worker: a thread
 * wake-up, a context switch and completion task_work per I/O, for what is
 * a memory copy that never waits for a device.  RWF_NOWAIT tells: it
 * fails with EOPNOTSUPP exactly when the file lacks FMODE_NOWAIT.  A file
 * on a real filesystem stays on io_uring whatever the probe says, as a
 * synchronous read there could stall the queue for a disk.
 */
static bool want_sync_rw(int fd, uint32_t block_size, uint64_t size)
{
	struct statfs sfs;
	struct iovec v;
	void *buf;
	bool punted;

	if (fstatfs(fd, &sfs) || sfs.f_type != TMPFS_MAGIC)
		return false;
	if (size < block_size || posix_memalign(&buf, 4096, block_size))
		return false;
	v.iov_base = buf;
	v.iov_len = block_size;
	punted = preadv2(fd, &v, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
	free(buf);
	return punted;
}

static int open_leg(struct ublkfw_dev *dev, struct backing *b, struct backing_leg *leg)
{
	int flags = O_CLOEXEC | (b->read_only ? O_RDONLY : O_RDWR) | (b->buffered ? 0 : O_DIRECT);
	struct stat st;
	int err, fd;

	/* What it is first: O_DIRECT fails on a character device or a FIFO
	 * too, and "use --buffered" would be the wrong advice. */
	if (!stat(leg->path, &st) && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		ublkfw_err(dev, "%s is not a regular file or a block device", leg->path);
		return -EINVAL;
	}
	leg->fd = open(leg->path, flags);
	if (leg->fd < 0) {
		err = errno;
		if (err == EISDIR) {
			ublkfw_err(dev, "%s is not a regular file or a block device", leg->path);
		} else if (err == EINVAL && !b->buffered) {
			ublkfw_err(dev, "%s does not support O_DIRECT: use --buffered", leg->path);
		} else if (!b->read_only && (err == EROFS || err == EACCES || err == EPERM || err == ETXTBSY) &&
			   (fd = open(leg->path, O_RDONLY | O_CLOEXEC)) >= 0) {
			close(fd);
			ublkfw_err(dev, "%s cannot be opened read-write: %s (use --read-only)",
				   leg->path, strerror(err));
		} else {
			ublkfw_err(dev, "cannot open %s: %s", leg->path, strerror(err));
		}
		return -err;
	}
	if (fstat(leg->fd, &st)) {
		err = errno;
		ublkfw_err(dev, "cannot stat %s: %s", leg->path, strerror(err));
		return -err;
	}
	leg->st_dev = st.st_dev;
	leg->st_ino = st.st_ino;
	leg->st_rdev = st.st_rdev;
	if (S_ISBLK(st.st_mode)) {
		int ss = 512;

		leg->blkdev = true;
		if (ioctl(leg->fd, BLKGETSIZE64, &leg->size) || ioctl(leg->fd, BLKSSZGET, &ss)) {
			err = errno;
			ublkfw_err(dev, "cannot get the size of %s: %s", leg->path, strerror(err));
			return -err;
		}
		leg->block_size = ss;
	} else if (S_ISREG(st.st_mode)) {
		leg->size = st.st_size;
		leg->block_size = b->buffered ? 512 : probe_dio_block(leg->fd, leg->size);
	} else {
		ublkfw_err(dev, "%s is not a regular file or a block device", leg->path);
		return -EINVAL;
	}
	if (leg->size == 0) {
		ublkfw_err(dev, "%s is empty", leg->path);
		return -EINVAL;
	}
	leg->sync_rw = b->io_mode == BACKING_IO_SYNC ||
		       (b->io_mode == BACKING_IO_AUTO && !leg->blkdev &&
			want_sync_rw(leg->fd, leg->block_size, leg->size));
	return 0;
}

/* Leg i is none of legs 0..i-1, whatever the paths: the same file twice
 * would put two chunks at one place. */
static int check_distinct(struct ublkfw_dev *dev, const struct backing *b, unsigned int i)
{
	const struct backing_leg *l = &b->legs[i];

	for (unsigned int j = 0; j < i; j++) {
		const struct backing_leg *o = &b->legs[j];

		if (l->blkdev == o->blkdev &&
		    (l->blkdev ? l->st_rdev == o->st_rdev :
				 l->st_dev == o->st_dev && l->st_ino == o->st_ino)) {
			ublkfw_err(dev, "%s and %s are the same %s: give each backing once",
				   o->path, l->path, l->blkdev ? "block device" : "file");
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The device's size from the smallest leg (its bytes in whole blocks,
 * or whole chunks times the legs): -s if given and it fits, else all of it.
 * 0, or -EINVAL after a message.
 */
static int set_size(struct ublkfw_dev *dev, const struct backing *b, uint64_t smallest,
		    uint32_t lbs)
{
	uint64_t unit = b->chunk ? b->chunk : lbs, size = ublkfw_dev_size(dev);
	uint64_t usable = smallest / unit * unit * (b->chunk ? b->nr_legs : 1);

	if (!usable) {
		ublkfw_err(dev, "%s%s smaller than one %s of %llu bytes", b->legs[0].path,
			   b->nr_legs > 1 ? " or another leg is" : " is", b->chunk ? "chunk" : "block",
			   (unsigned long long)unit);
		return -EINVAL;
	}
	if (!size) {
		ublkfw_dev_set_size(dev, usable);
	} else if (size > usable) {
		ublkfw_err(dev, "size %llu is larger than the backing (%llu usable bytes in %s%s)",
			   (unsigned long long)size, (unsigned long long)usable, b->legs[0].path,
			   b->nr_legs > 1 ? " and the other legs" : "");
		return -EINVAL;
	}
	return 0;
}

int backing_open(struct ublkfw_dev *dev, struct backing *b)
{
	uint64_t usable = UINT64_MAX;
	uint32_t need = 512, lbs, span;
	unsigned int i;
	int ret;

	for (i = 0; i < BACKING_MAX_LEGS; i++)
		b->legs[i].fd = -1;
	if (b->nr_legs < b->min_legs) {
		ublkfw_err(dev, b->min_legs == 1 ? "no backing file: give FILE (see --help)" :
			   "too few backing files: give at least %u (see --help)", b->min_legs);
		return -EINVAL;
	}
	for (i = 0; i < b->nr_legs; i++) {
		ret = open_leg(dev, b, &b->legs[i]);
		if (!ret)
			ret = check_distinct(dev, b, i);
		if (ret)
			goto fail;
		if (b->legs[i].block_size > need)
			need = b->legs[i].block_size;
		if (b->legs[i].size < usable)
			usable = b->legs[i].size;
	}
	lbs = b->block_size ? b->block_size : need;
	ret = -EINVAL;
	if (lbs < need) {
		ublkfw_err(dev, "--block-size %u is below the backing's direct I/O block of %u bytes",
			   lbs, need);
		goto fail;
	}
	if (b->chunk && b->chunk % lbs) {
		ublkfw_err(dev, "chunk size %llu is not a multiple of the %u-byte block size",
			   (unsigned long long)b->chunk, lbs);
		goto fail;
	}
	if (set_size(dev, b, usable, lbs))
		goto fail;
	ublkfw_dev_set_block_size(dev, lbs, lbs > 4096 ? lbs : 4096);
	ublkfw_dev_set_attrs(dev, UBLKFW_ATTR_VOLATILE_CACHE | UBLKFW_ATTR_FUA |
			     (b->read_only ? UBLKFW_ATTR_READ_ONLY : 0));
	if (!b->read_only) {
		/* Striped discards are split like data: bound them like data. */
		span = b->chunk ? ublkfw_dev_max_io_bytes(dev) : 0;
		ublkfw_dev_set_discard(dev, lbs > 4096 ? lbs : 4096, span);
		ublkfw_dev_set_write_zeroes(dev, span);
	}
	return 0;
fail:
	backing_close(b);
	return ret;
}

void backing_close(struct backing *b)
{
	for (unsigned int i = 0; i < b->nr_legs; i++) {
		if (b->legs[i].fd >= 0)
			close(b->legs[i].fd);
		b->legs[i].fd = -1;
	}
}

/* ---- per queue -------------------------------------------------------------- */

int backing_queue_init(struct ublkfw_queue *q, struct backing *b, struct backing_queue **bqp)
{
	unsigned int depth = ublkfw_queue_depth(q);
	uint32_t max_io = ublkfw_dev_max_io_bytes(ublkfw_queue_dev(q));
	struct backing_queue *bq = calloc(1, sizeof(*bq));
	unsigned int i;
	int ret;

	if (!bq)
		return -ENOMEM;
	bq->q = q;
	bq->b = b;
	for (i = 0; i < b->nr_legs && ublkfw_queue_id(q) == 0; i++)	/* once, to the log */
		ublkfw_info(ublkfw_queue_dev(q), "%s: reads and writes %s", b->legs[i].path,
			    b->legs[i].sync_rw ? "synchronous on the queue thread (io sync)" :
			    "by io_uring (io uring)");
	bq->max_parts = backing_max_segs(b->chunk, b->nr_legs, max_io);
	bq->parents = calloc(depth, sizeof(*bq->parents));
	bq->parts = calloc((size_t)depth * bq->max_parts, sizeof(*bq->parts));
	bq->segs = calloc(bq->max_parts, sizeof(*bq->segs));
	if (!bq->parents || !bq->parts || !bq->segs) {
		backing_queue_deinit(bq);
		return -ENOMEM;
	}
	for (i = 0; i < b->nr_legs; i++) {
		ret = ublkfw_queue_register_file(q, b->legs[i].fd);
		if (ret < 0) {
			ublkfw_err(ublkfw_queue_dev(q), "queue %u: registering %s: %s",
				   ublkfw_queue_id(q), b->legs[i].path, strerror(-ret));
			backing_queue_deinit(bq);
			return ret;
		}
		bq->fixed[i] = ret;
	}
	*bqp = bq;
	return 0;
}

void backing_queue_deinit(struct backing_queue *bq)
{
	if (!bq)
		return;
	free(bq->parents);
	free(bq->parts);
	free(bq->segs);
	free(bq);
}

/* ---- the I/O ---------------------------------------------------------------- */

static void part_finish(struct bpart *p, int err)
{
	struct bparent *par = p->parent;
	struct ublkfw_io *io = par->io;

	if (err && !par->err)
		par->err = err;
	if (--par->pending)
		return;
	if (par->err)
		ublkfw_io_complete(io, par->err);
	else
		ublkfw_io_complete_ok(io);
}

static void part_submit(struct bpart *p);

static void part_cb(struct ublkfw_queue *q, struct ublkfw_uring_op *op, int res,
		    unsigned int cqe_flags)
{
	struct bpart *p = (struct bpart *)op;
	uint8_t ublk_op = p->parent->io->op;

	(void)q;
	(void)cqe_flags;
	if (res == -EOPNOTSUPP && ublk_op == UBLKFW_OP_WRITE_ZEROES && !p->punch) {
		p->punch = true;	/* e.g. tmpfs has no FALLOC_FL_ZERO_RANGE */
		part_submit(p);
		return;
	}
	if (res < 0) {
		part_finish(p, res);
		return;
	}
	if (ublk_op == UBLKFW_OP_READ || ublk_op == UBLKFW_OP_WRITE) {
		if (res == 0) {		/* no progress: past the end of the backing */
			part_finish(p, -EIO);
			return;
		}
		p->done += res;
		if (p->done < p->seg.len) {
			part_submit(p);	/* short read or write: the rest */
			return;
		}
	}
	part_finish(p, 0);
}

static void part_submit(struct bpart *p)
{
	struct backing_queue *bq = p->bq;
	struct ublkfw_io *io = p->parent->io;
	struct backing_leg *leg = &bq->b->legs[p->seg.leg];
	int fixed = bq->fixed[p->seg.leg];
	struct io_uring_sqe *sqe;
	int mode;

	if (io->op == UBLKFW_OP_DISCARD && leg->blkdev) {
		/* No async discard for block devices in io_uring before 6.12's
		 * uring_cmd; a synchronous ioctl on the queue thread. */
		uint64_t range[2] = { p->seg.off, p->seg.len };

		part_finish(p, ioctl(leg->fd, BLKDISCARD, range) ? -errno : 0);
		return;
	}
	if (leg->sync_rw && (io->op == UBLKFW_OP_READ || io->op == UBLKFW_OP_WRITE)) {
		struct iovec v = { p->seg.buf + p->done, p->seg.len - p->done };
		ssize_t r;

		if (io->op == UBLKFW_OP_READ)
			r = preadv2(leg->fd, &v, 1, p->seg.off + p->done, 0);
		else
			r = pwritev2(leg->fd, &v, 1, p->seg.off + p->done,
				     (io->flags & UBLKFW_IO_F_FUA) ? RWF_DSYNC : 0);
		/* the same path as an io_uring completion: short I/O goes on */
		part_cb(bq->q, &p->op, r < 0 ? -errno : (int)r, 0);
		return;
	}
	sqe = ublkfw_queue_get_sqe(bq->q, &p->op);
	if (!sqe) {
		part_finish(p, -EIO);
		return;
	}
	switch (io->op) {
	case UBLKFW_OP_READ:
		io_uring_prep_read(sqe, fixed, p->seg.buf + p->done, p->seg.len - p->done,
				   p->seg.off + p->done);
		break;
	case UBLKFW_OP_WRITE:
		io_uring_prep_write(sqe, fixed, p->seg.buf + p->done, p->seg.len - p->done,
				    p->seg.off + p->done);
		if (io->flags & UBLKFW_IO_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case UBLKFW_OP_FLUSH:
		io_uring_prep_fsync(sqe, fixed, IORING_FSYNC_DATASYNC);
		break;
	case UBLKFW_OP_DISCARD:
		io_uring_prep_fallocate(sqe, fixed, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					p->seg.off, p->seg.len);
		break;
	default:	/* WRITE_ZEROES: keep the blocks allocated unless we may unmap */
		if (leg->blkdev || ((io->flags & UBLKFW_IO_F_NOUNMAP) && !p->punch))
			mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		else
			mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, fixed, mode, p->seg.off, p->seg.len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
}

void backing_queue_io(struct backing_queue *bq, struct ublkfw_io *io)
{
	struct backing *b = bq->b;
	struct bparent *par = &bq->parents[io->tag];
	struct bpart *parts = &bq->parts[(size_t)io->tag * bq->max_parts];
	unsigned int n, i;

	switch (io->op) {
	case UBLKFW_OP_READ:
	case UBLKFW_OP_WRITE:
	case UBLKFW_OP_DISCARD:
	case UBLKFW_OP_WRITE_ZEROES:
		if (b->read_only && io->op != UBLKFW_OP_READ) {
			ublkfw_io_complete(io, -EROFS);
			return;
		}
		n = backing_map(b->chunk, b->nr_legs, io->offset, io->len, io->data, bq->segs,
				bq->max_parts);
		break;
	case UBLKFW_OP_FLUSH:
		n = backing_flush_segs(b->nr_legs, bq->segs);
		break;
	default:
		ublkfw_io_complete(io, -EOPNOTSUPP);
		return;
	}
	if (!n) {
		ublkfw_io_complete(io, -EIO);	/* larger than the limits announced */
		return;
	}
	par->io = io;
	par->err = 0;
	par->pending = n;	/* before any submission: a part may finish at once */
	for (i = 0; i < n; i++) {
		parts[i].op.cb = part_cb;
		parts[i].bq = bq;
		parts[i].parent = par;
		parts[i].seg = bq->segs[i];
		parts[i].done = 0;
		parts[i].punch = false;
	}
	for (i = 0; i < n; i++)
		part_submit(&parts[i]);
}

/* ---- ready-made callbacks ------------------------------------------------ */

void backing_target_close(struct ublkfw_dev *dev)
{
	backing_close(ublkfw_dev_priv(dev));
}

int backing_target_queue_init(struct ublkfw_queue *q)
{
	struct backing_queue *bq;
	int ret = backing_queue_init(q, ublkfw_dev_priv(ublkfw_queue_dev(q)), &bq);

	if (!ret)
		ublkfw_queue_set_priv(q, bq);
	return ret;
}

void backing_target_queue_deinit(struct ublkfw_queue *q)
{
	backing_queue_deinit(ublkfw_queue_priv(q));
}

void backing_target_queue_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	backing_queue_io(ublkfw_queue_priv(q), io);
}
