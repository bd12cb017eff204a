// SPDX-License-Identifier: MIT
/*
 * shmem_zc_test.c - kernel-level tests of UBLK_F_SHMEM_ZC (shared-memory zero
 * copy): the UAPI of UBLK_U_CMD_REG_BUF / UNREG_BUF and the driver's buffer
 * matching in the I/O path, checked directly against the kernel.
 *
 * No framework: liburing and framework/ublk_uapi.h only, with a minimal server
 * of its own (control ring with SQE128, one queue thread doing FETCH_REQ /
 * COMMIT_AND_FETCH_REQ in copy mode, a RAM store) so that every request the
 * driver hands out can be logged and its data checked:
 *   - a SHMEM_ZC hit is served from (WRITE) / into (READ) the registered
 *     memory at the offset the driver encoded in iod->addr; the per-tag
 *     buffers are poisoned whenever the driver is not about to read them, so
 *     a WRITE hit whose data the driver copied anyway, or a READ hit it copied
 *     back over, shows;
 *   - a miss is served through the per-tag buffer as usual;
 *   - the server can hold a request (not commit it) to test REG/UNREG_BUF
 *     against requests in flight, and a killed server.
 * Two cases check UBLK_F_USER_RECOVERY_FAIL_IO (kernel/patches/0004) the same
 * way: recovery-flags (GET_FEATURES bit 9, the recovery flag combinations
 * ADD_DEV accepts and refuses) and fail-io (a child server is killed while it
 * holds a READ; the device goes to FAIL_IO, where I/O fails at once, also
 * between START_ and END_USER_RECOVERY; REG/UNREG_BUF do not wait; this
 * process then recovers the device as its new server).
 * Each case creates its own device(s) and deletes them (STOP_DEV + DEL_DEV),
 * so a failure does not cascade.
 *
 * usage: shmem_zc_test [-v] [-l] [CASE...]   (-l lists the cases)
 * Output: one "ok   - NAME" or "FAIL - NAME (detail)" line per check, then
 * "kernel-shmem: N passed, M failed"; exit status 0 only if all passed.
 * Needs root, /dev/ublk-control, a kernel with UBLK_F_SHMEM_ZC, hugetlbfs
 * (mounted on /dev/hugepages if it is not) and fio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ublk_uapi.h"

#define GROUP		"kernel-shmem"
#define QD		32			/* queue depth of every test device */
#define MAX_IO		(256u << 10)		/* max_io_buf_bytes */
#define DEV_SIZE	(64ull << 20)
#define POISON		0xEE			/* per-tag buffers between requests */
#define CLIENT_FILL	0x5A			/* read buffers before a read */
#define LOG_MAX		1024
#define HTLB_SZ		(2ul << 20)
#define HTLB_NEED	24			/* free huge pages the cases use */
#define HUGETLBFS_MAGIC_	0x958458f6
#define KiB		1024ul

static long pg;				/* page size */
static int verbose;
static int npass, nfail;
static const char *htlb_dir = "/dev/hugepages";
static bool htlb_ok;
static const char *out_dir = "/tmp";

/* ---- reporting ---------------------------------------------------------- */

static bool report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool report(bool ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		npass++;
		printf("ok   - %s\n", name);
	} else {
		char detail[1024] = "";
		va_list ap;

		nfail++;
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(detail, sizeof(detail), fmt, ap);
			va_end(ap);
		}
		printf("FAIL - %s (%s)\n", name, detail);
	}
	fflush(stdout);
	return ok;
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fputs("#    ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

/* "-EINVAL", "0", "3": a command's result, for messages (rotating buffers) */
static const char *rs(long r)
{
	static char bufs[8][32];
	static unsigned int n;
	char *b = bufs[n++ % 8];

	if (r < 0) {
		const char *e = strerrorname_np((int)-r);

		if (e)
			snprintf(b, 32, "-%s", e);
		else
			snprintf(b, 32, "%ld", r);
	} else {
		snprintf(b, 32, "%ld", r);
	}
	return b;
}

static bool expect_ret(const char *name, long got, long want)
{
	return report(got == want, name, "got %s, want %s", rs(got), rs(want));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- control commands ---------------------------------------------------- */

/* One control ring per thread that sends commands. */
struct ctrl {
	int fd;
	struct io_uring ring;
};

static int ctrl_open(struct ctrl *c)
{
	int ret;

	c->fd = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		close(c->fd);
		c->fd = -1;
	}
	return ret;
}

static void ctrl_close(struct ctrl *c)
{
	if (c->fd < 0)
		return;
	io_uring_queue_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
}

static int ctrl_cmd(struct ctrl *c, __u32 dev_id, __u32 op, const void *buf, __u16 len,
		    __u64 data0)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *cmd;
	int ret;

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));	/* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = dev_id;
	cmd->queue_id = 0xffff;
	cmd->addr = (__u64)(uintptr_t)buf;
	cmd->len = len;
	cmd->data[0] = data0;
	ret = io_uring_submit(&c->ring);
	if (ret < 0)
		return ret;
	do {
		ret = io_uring_wait_cqe(&c->ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	return ret;
}

static int reg_buf_raw(struct ctrl *c, __u32 dev_id, const void *addr, __u64 len, __u32 flags,
		       __u32 reserved)
{
	struct ublk_shmem_buf_reg r = {
		.addr = (__u64)(uintptr_t)addr, .len = len, .flags = flags, .reserved = reserved,
	};

	return ctrl_cmd(c, dev_id, UBLK_U_CMD_REG_BUF, &r, sizeof(r), 0);
}

static int reg_buf(struct ctrl *c, __u32 dev_id, const void *addr, __u64 len, __u32 flags)
{
	return reg_buf_raw(c, dev_id, addr, len, flags, 0);
}

static int unreg_buf(struct ctrl *c, __u32 dev_id, __u64 index)
{
	return ctrl_cmd(c, dev_id, UBLK_U_CMD_UNREG_BUF, NULL, 0, index);
}

/* ---- pinned pages (/proc/vmstat) ----------------------------------------- */

/*
 * nr_foll_pin_acquired - nr_foll_pin_released, or LONG_MIN. The counters
 * have per-CPU deltas that /proc/vmstat does not show until they are folded:
 * fold them first (writing /proc/sys/vm/stat_refresh does it, as root).
 */
static long pins_held(void)
{
	long acq = -1, rel = -1, v;
	char key[64];
	FILE *f;
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			vlog("stat_refresh: %s", strerror(errno));
		close(fd);
	}
	f = fopen("/proc/vmstat", "r");

	if (!f)
		return LONG_MIN;
	while (fscanf(f, "%63s %ld", key, &v) == 2) {
		if (!strcmp(key, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(key, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return acq < 0 || rel < 0 ? LONG_MIN : acq - rel;
}

/* The baseline of a case: a value that holds for 3 reads 20 ms apart. */
static long pins_base(void)
{
	long v = pins_held(), prev = LONG_MIN;
	int same = 0;

	for (int i = 0; i < 100 && same < 2; i++) {
		usleep(20000);
		prev = v;
		v = pins_held();
		same = v == prev ? same + 1 : 0;
	}
	return v;
}

/* Wait up to 5 s for pins_held() == want (others may pin for a moment). */
static long pins_wait(long want)
{
	long got = pins_held();

	for (int i = 0; i < 100 && got != want; i++) {
		usleep(50000);
		got = pins_held();
	}
	return got;
}

static bool check_pins(const char *name, long want)
{
	long got = pins_wait(want);

	return report(got == want, name,
		      "nr_foll_pin_acquired - nr_foll_pin_released = %ld, want %ld", got, want);
}

/* ---- memory --------------------------------------------------------------- */

static void *memfd_map(size_t len, int *fdp, unsigned int seals)
{
	int fd = memfd_create("ublkfw-kt", MFD_CLOEXEC | (seals ? MFD_ALLOW_SEALING : 0));
	void *p;

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, len) < 0)
		goto fail;
	if (seals) {
		/* the content first, then the seal, then a read-only mapping */
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			goto fail;
		memset(p, 0x11, len);
		munmap(p, len);
		if (fcntl(fd, F_ADD_SEALS, seals) < 0)
			goto fail;
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	}
	if (p == MAP_FAILED)
		goto fail;
	if (!seals)
		memset(p, 0x11, len);	/* populate */
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return p;
fail:
	close(fd);
	return NULL;
}

/* A mapping of a (removed) file on hugetlbfs, len a multiple of 2 MiB */
static void *htlb_map(size_t len)
{
	static unsigned int n;
	char path[512];
	void *p;
	int fd;

	if (!htlb_ok)
		return NULL;
	snprintf(path, sizeof(path), "%s/ublkfw-kt-%d-%u", htlb_dir, (int)getpid(), n++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (ftruncate(fd, len) < 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x22, len);
	return p;
}

static void fill_pattern(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		if (!(i & 7)) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		p[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
}

/* offset of the first difference, or -1 */
static long first_diff(const unsigned char *a, const unsigned char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* ---- the test server ------------------------------------------------------ */

struct reqrec {
	__u32 op_flags;
	__u32 nr_sectors;
	__u64 start_sector;
	__u64 addr;
};

/* What the server knows of a registered buffer: its own mapping of it. */
struct zbuf {
	_Atomic(uintptr_t) base;	/* 0 = not registered (as far as we know) */
	size_t len;
	unsigned int flags;
};

struct dev {
	struct ctrl *ctrl;
	__u32 id;
	bool added, thread_started, started;
	struct ublksrv_ctrl_dev_info info;
	int cdev_fd, bdev_fd;
	size_t size;
	unsigned char *store;
	unsigned char *tagbuf[QD];
	/*
	 * Bytes of each tag buffer that may hold something else than POISON
	 * (the driver's copy of a WRITE, the server's data of a READ).
	 */
	__u32 dirty[QD];
	struct ublksrv_io_desc *descs;
	size_t descs_len;
	pthread_t thread;
	sem_t ready;
	int thread_err;
	struct zbuf *zb;		/* UBLK_SHMEM_BUF_MAX_INDEX + 1 entries */

	pthread_mutex_t lock;		/* log, err */
	struct reqrec log[LOG_MAX];
	unsigned int nlog;
	bool log_overflow;
	char err[512];			/* the server's first protocol error */
	atomic_uint nerr;

	atomic_ulong zc_ios, copy_ios;
	atomic_ulong zc_writes_checked;	/* WRITE hits on an all-POISON tag buffer */
	__u64 count_from;		/* copy_hi counts misses at/after this byte */
	atomic_ulong copy_hi, zc_hi;

	/*
	 * Hold (don't commit) the next READ or WRITE starting at hold_sector,
	 * write a byte to hold_fd when it arrives, commit it when release is set.
	 */
	_Atomic __u64 hold_sector;	/* UINT64_MAX: none */
	int hold_fd;
	int held_tag;			/* -1: none (queue thread only) */
	atomic_bool release;
};

static void srv_err(struct dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_err(struct dev *d, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&d->lock);
	if (!atomic_load(&d->nerr)) {
		va_start(ap, fmt);
		vsnprintf(d->err, sizeof(d->err), fmt, ap);
		va_end(ap);
	}
	atomic_fetch_add(&d->nerr, 1);
	pthread_mutex_unlock(&d->lock);
}

static void zpub(struct dev *d, int idx, const void *base, size_t len, unsigned int flags)
{
	if (idx < 0 || idx > UBLK_SHMEM_BUF_MAX_INDEX)
		return;
	d->zb[idx].len = len;
	d->zb[idx].flags = flags;
	atomic_store_explicit(&d->zb[idx].base, (uintptr_t)base, memory_order_release);
}

static void zclear(struct dev *d, int idx)
{
	if (idx < 0 || idx > UBLK_SHMEM_BUF_MAX_INDEX)
		return;
	atomic_store_explicit(&d->zb[idx].base, 0, memory_order_release);
}

/*
 * The server's mapping of buffer idx. A hit may come right after REG_BUF
 * returned, before the registering thread published the index: wait a bit.
 */
static unsigned char *zlookup(struct dev *d, unsigned int idx)
{
	double t0 = 0;

	for (int i = 0;; i++) {
		uintptr_t b = atomic_load_explicit(&d->zb[idx].base, memory_order_acquire);

		if (b)
			return (unsigned char *)b;
		if (i == 100)
			t0 = now_s();
		if (i > 100) {
			if (now_s() - t0 > 3)
				return NULL;
			usleep(10);
		}
	}
}

static void log_req(struct dev *d, const struct ublksrv_io_desc *iod)
{
	pthread_mutex_lock(&d->lock);
	if (d->nlog < LOG_MAX) {
		struct reqrec *r = &d->log[d->nlog++];

		r->op_flags = iod->op_flags;
		r->nr_sectors = iod->nr_sectors;
		r->start_sector = iod->start_sector;
		r->addr = iod->addr;
	} else {
		d->log_overflow = true;
	}
	pthread_mutex_unlock(&d->lock);
}

static void log_reset(struct dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->nlog = 0;
	d->log_overflow = false;
	pthread_mutex_unlock(&d->lock);
}

/* Serve one request; returns the result to commit. */
static int serve(struct dev *d, unsigned int tag, const struct ublksrv_io_desc *iod_shared)
{
	const struct ublksrv_io_desc iod = *iod_shared;
	unsigned int op = ublksrv_get_op(&iod);
	__u64 off = iod.start_sector << 9, len = (__u64)iod.nr_sectors << 9;
	unsigned char *tb = d->tagbuf[tag];

	log_req(d, &iod);
	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		break;
	case UBLK_IO_OP_FLUSH:
		return 0;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		if (off + len > d->size)
			return -EIO;
		memset(d->store + off, 0, len);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
	if (!len || off + len > d->size || len > MAX_IO) {
		srv_err(d, "tag %u: op %u sectors %llu+%u out of the device or too long", tag, op,
			(unsigned long long)iod.start_sector, iod.nr_sectors);
		return -EIO;
	}
	if (iod.op_flags & UBLK_IO_F_SHMEM_ZC) {
		unsigned int idx = (iod.addr >> UBLK_SHMEM_ZC_IDX_SHIFT) & UBLK_SHMEM_ZC_IDX_MASK;
		__u64 boff = iod.addr & UBLK_SHMEM_ZC_OFF_MASK;
		unsigned char *base;

		if (iod.addr >> 48) {
			srv_err(d, "SHMEM_ZC addr 0x%llx has bits 48-63 set",
				(unsigned long long)iod.addr);
			return -EIO;
		}
		base = zlookup(d, idx);
		if (!base) {
			srv_err(d, "SHMEM_ZC hit on buffer %u, which is not registered", idx);
			return -EIO;
		}
		if (boff + len > d->zb[idx].len) {
			srv_err(d, "SHMEM_ZC hit buffer %u offset %llu + %llu beyond its %zu bytes",
				idx, (unsigned long long)boff, (unsigned long long)len,
				d->zb[idx].len);
			return -EIO;
		}
		atomic_fetch_add(&d->zc_ios, 1);
		if (off >= d->count_from)
			atomic_fetch_add(&d->zc_hi, 1);
		if (op == UBLK_IO_OP_WRITE) {
			/* the driver must not have copied the data into the tag buffer */
			for (__u64 i = 0; !d->dirty[tag] && i < len; i++) {
				if (tb[i] != POISON) {
					srv_err(d, "WRITE hit (buffer %u): the tag buffer was written "
						"at byte %llu (the driver copied)", idx,
						(unsigned long long)i);
					break;
				}
			}
			if (!d->dirty[tag])
				atomic_fetch_add(&d->zc_writes_checked, 1);
			memcpy(d->store + off, base + boff, len);
		} else {
			if (d->zb[idx].flags & UBLK_SHMEM_BUF_READ_ONLY) {
				srv_err(d, "READ hit on READ_ONLY buffer %u", idx);
				return -EIO;
			}
			memcpy(base + boff, d->store + off, len);
		}
		return (int)len;
	}
	atomic_fetch_add(&d->copy_ios, 1);
	if (off >= d->count_from)
		atomic_fetch_add(&d->copy_hi, 1);
	if (len > d->dirty[tag])
		d->dirty[tag] = len;	/* the driver's copy (WRITE) or ours (READ) */
	if (op == UBLK_IO_OP_WRITE)
		memcpy(d->store + off, tb, len);
	else
		memcpy(tb, d->store + off, len);
	return (int)len;
}

static void queue_io_cmd(struct io_uring *ring, struct dev *d, unsigned int op, unsigned int tag,
			 int result)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct ublksrv_io_cmd *cmd;

	if (!sqe)
		abort();	/* QD entries, one command per tag at most */
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->cdev_fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = 0;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = (__u64)(uintptr_t)d->tagbuf[tag];
	sqe->user_data = tag;
}

/* serve a request and queue its COMMIT_AND_FETCH_REQ */
static void serve_commit(struct dev *d, struct io_uring *ring, unsigned int tag)
{
	const struct ublksrv_io_desc *iod = &d->descs[tag];
	int ret = serve(d, tag, iod);

	/*
	 * Poison the tag buffer again unless the driver reads it at the commit
	 * (a READ miss). Only here: once committed, the tag may get its next
	 * request (and the driver's copy of a WRITE) at any time.
	 */
	if (!(ublksrv_get_op(iod) == UBLK_IO_OP_READ && ret > 0 &&
	      !(iod->op_flags & UBLK_IO_F_SHMEM_ZC)) && d->dirty[tag]) {
		memset(d->tagbuf[tag], POISON, d->dirty[tag]);
		d->dirty[tag] = 0;
	}
	queue_io_cmd(ring, d, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, ret);
}

static void *queue_thread(void *arg)
{
	struct dev *d = arg;
	unsigned int tag, ended = 0, npend;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_queue_init(2 * QD, &ring, 0);
	if (ret < 0) {
		d->thread_err = ret;
		sem_post(&d->ready);
		return NULL;
	}
	for (tag = 0; tag < QD; tag++) {
		memset(d->tagbuf[tag], POISON, MAX_IO);
		queue_io_cmd(&ring, d, UBLK_U_IO_FETCH_REQ, tag, -1);
	}
	ret = io_uring_submit(&ring);
	d->thread_err = ret == QD ? 0 : ret < 0 ? ret : -EIO;
	sem_post(&d->ready);
	if (d->thread_err)
		goto out;

	while (ended < QD) {
		struct __kernel_timespec ts = { .tv_nsec = 10000000 };
		unsigned int head, n = 0;

		if (d->held_tag >= 0 && atomic_load(&d->release)) {
			serve_commit(d, &ring, d->held_tag);
			d->held_tag = -1;
			atomic_store(&d->release, false);
			io_uring_submit(&ring);
		}
		/* while holding a request, look at the release flag every 10 ms */
		if (d->held_tag >= 0)
			ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		else
			ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret == -EINTR || ret == -ETIME)
			continue;
		if (ret < 0) {
			srv_err(d, "queue ring wait: %s", strerror(-ret));
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			tag = (unsigned int)cqe->user_data;
			if (cqe->res == UBLK_IO_RES_ABORT) {
				ended++;
				continue;
			}
			if (cqe->res != UBLK_IO_RES_OK) {
				srv_err(d, "tag %u: I/O command result %s", tag, rs(cqe->res));
				ended++;
				continue;
			}
			const struct ublksrv_io_desc *iod = &d->descs[tag];
			unsigned int op = ublksrv_get_op(iod);

			if (d->held_tag < 0 && iod->start_sector == atomic_load(&d->hold_sector) &&
			    (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)) {
				char c = 'h';

				atomic_store(&d->hold_sector, UINT64_MAX);
				d->held_tag = (int)tag;
				if (d->hold_fd >= 0 && write(d->hold_fd, &c, 1) != 1)
					srv_err(d, "hold pipe: %s", strerror(errno));
				continue;	/* until release (or until the server dies) */
			}
			serve_commit(d, &ring, tag);
		}
		io_uring_cq_advance(&ring, n);
		npend = io_uring_sq_ready(&ring);
		if (npend) {
			ret = io_uring_submit(&ring);
			if (ret != (int)npend)
				srv_err(d, "submit of %u commits: %s", npend, rs(ret));
		}
	}
out:
	io_uring_queue_exit(&ring);
	return NULL;
}

static void dev_init(struct dev *d, struct ctrl *c)
{
	memset(d, 0, sizeof(*d));
	d->ctrl = c;
	d->cdev_fd = d->bdev_fd = d->hold_fd = d->held_tag = -1;
	d->hold_sector = UINT64_MAX;
	d->size = DEV_SIZE;
	d->count_from = UINT64_MAX;
	pthread_mutex_init(&d->lock, NULL);
	sem_init(&d->ready, 0, 0);
}

/*
 * The server side of device d->id: its store and tag buffers, /dev/ublkcN,
 * the descriptors and the queue thread (FETCH_REQ). After ADD_DEV, or after
 * START_USER_RECOVERY for a new server of an existing device.
 */
static int dev_serve(struct dev *d, char *why, size_t wl)
{
	char path[64];
	int ret;

	d->store = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	d->zb = calloc(UBLK_SHMEM_BUF_MAX_INDEX + 1, sizeof(*d->zb));
	if (d->store == MAP_FAILED || !d->zb) {
		d->store = NULL;
		snprintf(why, wl, "out of memory");
		return -ENOMEM;
	}
	for (int t = 0; t < QD; t++) {
		if (posix_memalign((void **)&d->tagbuf[t], pg, MAX_IO)) {
			snprintf(why, wl, "out of memory");
			return -ENOMEM;
		}
	}

	snprintf(path, sizeof(path), "/dev/ublkc%u", d->id);
	for (int i = 0; i < 100; i++) {	/* the node may take a moment natively */
		d->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (d->cdev_fd >= 0 || errno != ENOENT)
			break;
		usleep(20000);
	}
	if (d->cdev_fd < 0) {
		ret = -errno;
		snprintf(why, wl, "open %s: %s", path, strerror(errno));
		return ret;
	}
	d->descs_len = (QD * sizeof(struct ublksrv_io_desc) + pg - 1) & ~(pg - 1);
	d->descs = mmap(NULL, d->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE, d->cdev_fd,
			UBLKSRV_CMD_BUF_OFFSET);
	if (d->descs == MAP_FAILED) {
		ret = -errno;
		d->descs = NULL;
		snprintf(why, wl, "mmap descriptors: %s", strerror(errno));
		return ret;
	}
	ret = pthread_create(&d->thread, NULL, queue_thread, d);
	if (ret) {
		snprintf(why, wl, "pthread_create: %s", strerror(ret));
		return -ret;
	}
	d->thread_started = true;
	sem_wait(&d->ready);
	if (d->thread_err) {
		snprintf(why, wl, "FETCH_REQ: %s", rs(d->thread_err));
		return d->thread_err;
	}
	return 0;
}

/* ADD_DEV + SET_PARAMS + the queue thread (FETCH_REQ); no START_DEV yet. */
static int dev_create(struct dev *d, struct ctrl *c, __u64 flags, char *why, size_t wl)
{
	struct ublk_params p;
	int ret;

	dev_init(d, c);
	d->info.nr_hw_queues = 1;
	d->info.queue_depth = QD;
	d->info.max_io_buf_bytes = MAX_IO;
	d->info.dev_id = (__u32)-1;
	d->info.flags = flags;
	ret = ctrl_cmd(c, (__u32)-1, UBLK_U_CMD_ADD_DEV, &d->info, sizeof(d->info), 0);
	if (ret < 0) {
		snprintf(why, wl, "ADD_DEV: %s", rs(ret));
		return ret;
	}
	d->added = true;
	d->id = d->info.dev_id;

	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC;
	p.basic.logical_bs_shift = 9;
	p.basic.physical_bs_shift = 12;
	p.basic.io_opt_shift = 12;
	p.basic.io_min_shift = 9;
	p.basic.max_sectors = MAX_IO >> 9;
	p.basic.dev_sectors = d->size >> 9;
	ret = ctrl_cmd(c, d->id, UBLK_U_CMD_SET_PARAMS, &p, sizeof(p), 0);
	if (ret < 0) {
		snprintf(why, wl, "SET_PARAMS: %s", rs(ret));
		return ret;
	}
	return dev_serve(d, why, wl);
}

static int dev_start(struct dev *d, char *why, size_t wl)
{
	char path[64];
	int ret = ctrl_cmd(d->ctrl, d->id, UBLK_U_CMD_START_DEV, NULL, 0, getpid());

	if (ret < 0) {
		snprintf(why, wl, "START_DEV: %s", rs(ret));
		return ret;
	}
	d->started = true;
	snprintf(path, sizeof(path), "/dev/ublkb%u", d->id);
	for (int i = 0; i < 100; i++) {
		d->bdev_fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (d->bdev_fd >= 0 || errno != ENOENT)
			break;
		usleep(20000);
	}
	if (d->bdev_fd < 0) {
		ret = -errno;
		snprintf(why, wl, "open %s: %s", path, strerror(errno));
		return ret;
	}
	return 0;
}

/* dev_create + dev_start, reporting a failure as a FAIL line of NAME */
static bool dev_up(struct dev *d, struct ctrl *c, __u64 flags, const char *name)
{
	char why[256] = "";
	char n[256];

	if (dev_create(d, c, flags, why, sizeof(why)) || dev_start(d, why, sizeof(why))) {
		snprintf(n, sizeof(n), "%s: set up a device", name);
		report(false, n, "%s", why);
		return false;
	}
	return true;
}

/* STOP_DEV, wait for the queue, DEL_DEV, free. Returns DEL_DEV's result. */
static int dev_destroy(struct dev *d)
{
	int ret = 0, r;

	/* a held request would keep STOP_DEV waiting */
	atomic_store(&d->hold_sector, UINT64_MAX);
	atomic_store(&d->release, true);
	if (d->bdev_fd >= 0)
		close(d->bdev_fd);
	d->bdev_fd = -1;
	if (d->added) {
		r = ctrl_cmd(d->ctrl, d->id, UBLK_U_CMD_STOP_DEV, NULL, 0, 0);
		if (r < 0)
			fprintf(stderr, "%s: STOP_DEV %u: %s\n", GROUP, d->id, rs(r));
	}
	if (d->thread_started)
		pthread_join(d->thread, NULL);
	d->thread_started = false;
	if (d->descs)
		munmap(d->descs, d->descs_len);
	d->descs = NULL;
	if (d->cdev_fd >= 0)
		close(d->cdev_fd);
	d->cdev_fd = -1;
	if (d->added) {
		ret = ctrl_cmd(d->ctrl, d->id, UBLK_U_CMD_DEL_DEV, NULL, 0, 0);
		if (ret < 0)
			report(false, "delete a test device", "DEL_DEV %u: %s", d->id, rs(ret));
		d->added = false;
	}
	for (int t = 0; t < QD; t++)
		free(d->tagbuf[t]);
	if (d->store)
		munmap(d->store, d->size);
	free(d->zb);
	sem_destroy(&d->ready);
	pthread_mutex_destroy(&d->lock);
	memset(d->tagbuf, 0, sizeof(d->tagbuf));
	d->store = NULL;
	d->zb = NULL;
	return ret;
}

/* ---- one checked I/O ------------------------------------------------------ */

struct xio {
	const char *label;
	bool write;		/* pwrite from buf, else pread into buf */
	unsigned char *buf;	/* client memory */
	size_t len;
	__u64 devoff;
	bool zc;		/* expect UBLK_IO_F_SHMEM_ZC on every request */
	int idx;		/* expected buffer index (zc) */
	__u64 boff;		/* expected offset of buf in that buffer (zc) */
};

/*
 * Check the server's log of the requests that covered [devoff, devoff+len):
 * all of the I/O's op, together exactly the range, each with or without
 * SHMEM_ZC as expected and, on a hit, iod->addr = index << 32 | the offset of
 * that request's data in the buffer.
 */
static bool check_log(struct dev *d, const struct xio *x, char *why, size_t wl)
{
	unsigned int want_op = x->write ? UBLK_IO_OP_WRITE : UBLK_IO_OP_READ;
	__u64 start = x->devoff >> 9, end = (x->devoff + x->len) >> 9, covered = 0;
	bool ok = true;

	pthread_mutex_lock(&d->lock);
	if (d->log_overflow) {
		snprintf(why, wl, "request log overflow");
		ok = false;
	}
	for (unsigned int i = 0; ok && i < d->nlog; i++) {
		const struct reqrec *r = &d->log[i];
		unsigned int op = r->op_flags & 0xff;
		__u64 rs_ = r->start_sector, re = rs_ + r->nr_sectors;
		bool zc = r->op_flags & UBLK_IO_F_SHMEM_ZC;

		if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE)
			continue;
		if (re <= start || rs_ >= end)
			continue;	/* not ours (a probe of the disk, natively) */
		if (op != want_op || rs_ < start || re > end) {
			snprintf(why, wl, "request %u: op %u sectors %llu+%u, outside the I/O's "
				 "op %u sectors %llu+%llu", i, op, (unsigned long long)rs_,
				 r->nr_sectors, want_op, (unsigned long long)start,
				 (unsigned long long)(end - start));
			ok = false;
			break;
		}
		if (zc != x->zc) {
			snprintf(why, wl, "request %u (sectors %llu+%u): op_flags 0x%x, SHMEM_ZC %s "
				 "where a %s was expected (addr 0x%llx)", i,
				 (unsigned long long)rs_, r->nr_sectors, r->op_flags,
				 zc ? "set" : "not set", x->zc ? "hit" : "miss",
				 (unsigned long long)r->addr);
			ok = false;
			break;
		}
		if (zc) {
			__u64 want = ((__u64)x->idx << 32) | (x->boff + ((rs_ - start) << 9));

			if (r->addr != want) {
				snprintf(why, wl, "request %u (sectors %llu+%u): iod->addr 0x%llx "
					 "(index %llu offset %llu), want 0x%llx (index %d offset %llu)",
					 i, (unsigned long long)rs_, r->nr_sectors,
					 (unsigned long long)r->addr,
					 (unsigned long long)(r->addr >> 32),
					 (unsigned long long)(r->addr & 0xffffffffull),
					 (unsigned long long)want, x->idx,
					 (unsigned long long)(want & 0xffffffffull));
				ok = false;
				break;
			}
		}
		covered += r->nr_sectors;
	}
	if (ok && covered != end - start) {
		snprintf(why, wl, "the server saw %llu of the I/O's %llu sectors",
			 (unsigned long long)covered, (unsigned long long)(end - start));
		ok = false;
	}
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static bool xio_run(struct dev *d, const struct xio *x)
{
	static uint64_t seed = 1;
	unsigned char *exp = malloc(x->len);
	unsigned int nerr0 = atomic_load(&d->nerr);
	char name[512], why[768] = "";
	bool ok = false;
	ssize_t n;
	long diff;

	if (x->zc)
		snprintf(name, sizeof(name), "%s: %s %zu bytes at buffer offset %llu -> hit, "
			 "addr %d:%llu, data %s in place", x->label, x->write ? "write" : "read",
			 x->len, (unsigned long long)x->boff, x->idx,
			 (unsigned long long)x->boff, x->write ? "read" : "written");
	else
		snprintf(name, sizeof(name), "%s: %s %zu bytes -> miss, copied, data correct",
			 x->label, x->write ? "write" : "read", x->len);
	if (!exp) {
		report(false, name, "out of memory");
		return false;
	}
	fill_pattern(exp, x->len, seed++);
	if (x->write) {
		memcpy(x->buf, exp, x->len);
	} else {
		memcpy(d->store + x->devoff, exp, x->len);
		memset(x->buf, CLIENT_FILL, x->len);
	}
	log_reset(d);
	if (x->write)
		n = pwrite(d->bdev_fd, x->buf, x->len, x->devoff);
	else
		n = pread(d->bdev_fd, x->buf, x->len, x->devoff);
	if (n != (ssize_t)x->len) {
		snprintf(why, sizeof(why), "%s returned %zd (%s)", x->write ? "pwrite" : "pread",
			 n, n < 0 ? strerror(errno) : "short");
		goto out;
	}
	if (atomic_load(&d->nerr) != nerr0) {
		snprintf(why, sizeof(why), "server: %s", d->err);
		goto out;
	}
	if (!check_log(d, x, why, sizeof(why)))
		goto out;
	diff = first_diff(x->write ? d->store + x->devoff : x->buf, exp, x->len);
	if (diff >= 0) {
		unsigned char got = x->write ? d->store[x->devoff + diff] : x->buf[diff];

		snprintf(why, sizeof(why), "%s differs at byte %ld: 0x%02x, want 0x%02x%s",
			 x->write ? "the data the server stored" : "the data read", diff, got,
			 exp[diff], got == POISON ? " (the poisoned tag buffer)" :
			 got == CLIENT_FILL ? " (nothing was written there)" : "");
		goto out;
	}
	ok = true;
out:
	free(exp);
	return report(ok, name, "%s", why);
}

/* ---- cases ----------------------------------------------------------------- */

static struct ctrl gctrl;

static void case_features(void)
{
	struct ublksrv_ctrl_dev_info info;
	__u64 feat = 0;
	char why[256];
	struct dev d;
	int ret;

	ret = ctrl_cmd(&gctrl, (__u32)-1, UBLK_U_CMD_GET_FEATURES, &feat, sizeof(feat), 0);
	report(ret == 0 && (feat & UBLK_F_SHMEM_ZC), "features: GET_FEATURES reports SHMEM_ZC (bit 19)",
	       "result %s, features 0x%llx", rs(ret), (unsigned long long)feat);

	if (dev_create(&d, &gctrl, UBLK_F_SHMEM_ZC, why, sizeof(why))) {
		report(false, "features: ADD_DEV with SHMEM_ZC", "%s", why);
		dev_destroy(&d);
		return;
	}
	report(d.info.flags & UBLK_F_SHMEM_ZC, "features: ADD_DEV keeps SHMEM_ZC (dev_info.flags)",
	       "flags 0x%llx", (unsigned long long)d.info.flags);
	memset(&info, 0, sizeof(info));
	ret = ctrl_cmd(&gctrl, d.id, UBLK_U_CMD_GET_DEV_INFO, &info, sizeof(info), 0);
	report(ret == 0 && (info.flags & UBLK_F_SHMEM_ZC),
	       "features: GET_DEV_INFO shows SHMEM_ZC", "result %s, flags 0x%llx", rs(ret),
	       (unsigned long long)info.flags);
	dev_destroy(&d);

	if (dev_create(&d, &gctrl, 0, why, sizeof(why))) {
		report(false, "features: ADD_DEV without SHMEM_ZC", "%s", why);
	} else {
		report(!(d.info.flags & UBLK_F_SHMEM_ZC),
		       "features: a device added without SHMEM_ZC does not get it",
		       "flags 0x%llx", (unsigned long long)d.info.flags);
	}
	dev_destroy(&d);
}

static void case_reg_errors(void)
{
	size_t len = 16 * pg;
	unsigned char *buf = NULL, *area;
	void *hole, *none;
	long pins0 = pins_base();
	char why[256];
	struct dev d, nd;
	int fd, ret;

	/* the memfd, followed by 2 PROT_NONE guard pages */
	area = mmap(NULL, len + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("ublkfw-kt", MFD_CLOEXEC);
	if (area != MAP_FAILED && fd >= 0 && ftruncate(fd, len) == 0)
		buf = mmap(area, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (!buf || buf == MAP_FAILED) {
		report(false, "reg-errors: set up", "memfd: %s", strerror(errno));
		return;
	}
	memset(buf, 0x11, len);
	if (dev_create(&d, &gctrl, UBLK_F_SHMEM_ZC, why, sizeof(why))) {
		report(false, "reg-errors: set up", "%s", why);
		dev_destroy(&d);
		munmap(area, len + 2 * pg);
		return;
	}
	/* a PROT_NONE mapping, and an address range that is not mapped at all */
	none = mmap(NULL, 4 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, 4 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 4 * pg);

	expect_ret("reg-errors: unknown flag (1 << 1) -> -EINVAL",
		   reg_buf(&gctrl, d.id, buf, len, 1u << 1), -EINVAL);
	expect_ret("reg-errors: unknown flag (1 << 31) -> -EINVAL",
		   reg_buf(&gctrl, d.id, buf, len, 1u << 31), -EINVAL);
	expect_ret("reg-errors: reserved != 0 -> -EINVAL",
		   reg_buf_raw(&gctrl, d.id, buf, len, 0, 1), -EINVAL);
	expect_ret("reg-errors: len 0 -> -EINVAL", reg_buf(&gctrl, d.id, buf, 0, 0), -EINVAL);
	expect_ret("reg-errors: len 4 GiB + 1 page -> -EINVAL",
		   reg_buf(&gctrl, d.id, buf, (4ull << 30) + pg, 0), -EINVAL);
	expect_ret("reg-errors: len 2^63 -> -EINVAL",
		   reg_buf(&gctrl, d.id, buf, 1ull << 63, 0), -EINVAL);
	expect_ret("reg-errors: addr not page aligned (+512) -> -EINVAL",
		   reg_buf(&gctrl, d.id, buf + 512, 4 * pg, 0), -EINVAL);
	expect_ret("reg-errors: len not page aligned (4 pages + 512) -> -EINVAL",
		   reg_buf(&gctrl, d.id, buf, 4 * pg + 512, 0), -EINVAL);
	expect_ret("reg-errors: unmapped address -> -EFAULT",
		   reg_buf(&gctrl, d.id, hole, 4 * pg, 0), -EFAULT);
	expect_ret("reg-errors: unmapped address, READ_ONLY -> -EFAULT",
		   reg_buf(&gctrl, d.id, hole, 4 * pg, UBLK_SHMEM_BUF_READ_ONLY), -EFAULT);
	if (none != MAP_FAILED)
		expect_ret("reg-errors: PROT_NONE mapping -> -EFAULT",
			   reg_buf(&gctrl, d.id, none, 4 * pg, 0), -EFAULT);
	expect_ret("reg-errors: a range ending in PROT_NONE guard pages -> -EFAULT",
		   reg_buf(&gctrl, d.id, buf + len - 2 * pg, 4 * pg, 0), -EFAULT);
	expect_ret("reg-errors: struct ublk_shmem_buf_reg at an unmapped address -> -EFAULT",
		   ctrl_cmd(&gctrl, d.id, UBLK_U_CMD_REG_BUF, hole,
			    sizeof(struct ublk_shmem_buf_reg), 0), -EFAULT);
	check_pins("reg-errors: the failed registrations hold no pin", pins0);

	/* IDA: the first successful registration of this device gets index 0 */
	ret = reg_buf(&gctrl, d.id, buf, 4 * pg, 0);
	expect_ret("reg-errors: then a valid registration gets index 0 (nothing leaked)", ret, 0);
	{
		/* the first, 16-byte layout (u64 addr, u64 len): copied and zero-filled */
		struct { __u64 addr, len; } old = { (__u64)(uintptr_t)(buf + 4 * pg), 4 * pg };

		ret = ctrl_cmd(&gctrl, d.id, UBLK_U_CMD_REG_BUF, &old, sizeof(old), 0);
		expect_ret("reg-errors: a 16-byte payload (ctrl.len = 16) registers as index 1",
			   ret, 1);
	}
	check_pins("reg-errors: 8 pages pinned by the two buffers", pins0 + 8);
	dev_destroy(&d);
	check_pins("reg-errors: pins released by DEL_DEV", pins0);

	if (dev_create(&nd, &gctrl, 0, why, sizeof(why))) {
		report(false, "reg-errors: a device without SHMEM_ZC", "%s", why);
	} else {
		expect_ret("reg-errors: REG_BUF on a device without SHMEM_ZC -> -EOPNOTSUPP",
			   reg_buf(&gctrl, nd.id, buf, 4 * pg, 0), -EOPNOTSUPP);
		expect_ret("reg-errors: UNREG_BUF on a device without SHMEM_ZC -> -EOPNOTSUPP",
			   unreg_buf(&gctrl, nd.id, 0), -EOPNOTSUPP);
	}
	dev_destroy(&nd);
	check_pins("reg-errors: no pin left", pins0);
	if (none != MAP_FAILED)
		munmap(none, 4 * pg);
	munmap(area, len + 2 * pg);
}

/* memfd and hugetlbfs buffers registered before START_DEV, then hits through both */
static void case_register(void)
{
	size_t mlen = 64 * pg, hlen = 2 * HTLB_SZ;
	unsigned char *m = memfd_map(mlen, NULL, 0), *h = htlb_map(hlen);
	long pins0 = pins_base();
	int im, ih, ret;
	char why[256];
	struct dev d;

	if (!m || !h) {
		report(false, "register: memfd and hugetlbfs (2 MiB pages) mappings",
		       "%s", !m ? "memfd" : htlb_ok ? "hugetlbfs mmap failed (no free huge pages?)" :
		       "no hugetlbfs");
		goto out_unmap;
	}
	if (dev_create(&d, &gctrl, UBLK_F_SHMEM_ZC, why, sizeof(why))) {
		report(false, "register: set up a device", "%s", why);
		dev_destroy(&d);
		goto out_unmap;
	}
	im = reg_buf(&gctrl, d.id, m, mlen, 0);
	report(im >= 0 && im <= UBLK_SHMEM_BUF_MAX_INDEX,
	       "register: memfd buffer (256 KiB) registers before START_DEV", "result %s", rs(im));
	ih = reg_buf(&gctrl, d.id, h, hlen, 0);
	report(ih >= 0 && ih <= UBLK_SHMEM_BUF_MAX_INDEX,
	       "register: hugetlbfs buffer (2 x 2 MiB pages) registers", "result %s", rs(ih));
	report(im != ih, "register: the two indices are distinct", "memfd %d, hugetlbfs %d", im, ih);
	check_pins("register: pins held = pages registered (64 + 1024)",
		   pins0 + (long)((mlen + hlen) / pg));
	zpub(&d, im, m, mlen, 0);
	zpub(&d, ih, h, hlen, 0);

	if (dev_start(&d, why, sizeof(why))) {
		report(false, "register: START_DEV with buffers registered", "%s", why);
		goto out_dev;
	}
	if (im >= 0) {
		xio_run(&d, &(struct xio){ "register: memfd", true, m + 5 * pg, 32 * KiB,
					   8 << 20, true, im, 5 * pg });
		xio_run(&d, &(struct xio){ "register: memfd", false, m + 5 * pg, 32 * KiB,
					   8 << 20, true, im, 5 * pg });
	}
	if (ih >= 0) {
		/* one multi-page bvec inside the first huge page, at a sub-page offset */
		xio_run(&d, &(struct xio){ "register: hugetlbfs, inside a huge page", true,
					   h + (1 << 20) + pg + 512, 64 * KiB + 1024, 16 << 20,
					   true, ih, (1 << 20) + pg + 512 });
		xio_run(&d, &(struct xio){ "register: hugetlbfs, inside a huge page", false,
					   h + (1 << 20) + pg + 512, 64 * KiB + 1024, 16 << 20,
					   true, ih, (1 << 20) + pg + 512 });
		/* across the boundary of the two huge pages, still one buffer */
		xio_run(&d, &(struct xio){ "register: hugetlbfs, across two huge pages", true,
					   h + HTLB_SZ - 32 * KiB, 128 * KiB, 20 << 20, true, ih,
					   HTLB_SZ - 32 * KiB });
		xio_run(&d, &(struct xio){ "register: hugetlbfs, across two huge pages", false,
					   h + HTLB_SZ - 32 * KiB, 128 * KiB, 20 << 20, true, ih,
					   HTLB_SZ - 32 * KiB });
	}
	ret = unreg_buf(&gctrl, d.id, ih);
	expect_ret("register: UNREG_BUF of the hugetlbfs buffer on the live device", ret, 0);
	if (ret == 0)
		zclear(&d, ih);
	check_pins("register: its 1024 pins released", pins0 + (long)(mlen / pg));
out_dev:
	dev_destroy(&d);
	check_pins("register: DEL_DEV released the memfd buffer's pins", pins0);
out_unmap:
	if (m)
		munmap(m, mlen);
	if (h)
		munmap(h, hlen);
}

static void case_dup(void)
{
	size_t len = 32 * pg;
	int fd, a, b, ret;
	unsigned char *m = memfd_map(len, &fd, 0), *m2 = NULL, *twice = NULL;
	long pins0 = pins_base();
	char why[256];
	struct dev d;

	if (!m || dev_create(&d, &gctrl, UBLK_F_SHMEM_ZC, why, sizeof(why))) {
		report(false, "dup: set up", "%s", m ? why : "memfd");
		if (m)
			dev_destroy(&d);
		goto out;
	}
	m2 = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	/* two virtual pages backed by one page of the memfd (page 20) */
	twice = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 20 * pg);
	if (m2 == MAP_FAILED || twice == MAP_FAILED ||
	    mmap(twice + pg, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 20 * pg) ==
	    MAP_FAILED) {
		report(false, "dup: second mappings of the memfd", "%s", strerror(errno));
		m2 = m2 == MAP_FAILED ? NULL : m2;
		twice = twice == MAP_FAILED ? NULL : twice;
		goto out_dev;
	}

	a = reg_buf(&gctrl, d.id, m + 4 * pg, 4 * pg, 0);
	report(a >= 0, "dup: register pages 4-7", "result %s", rs(a));
	expect_ret("dup: the same range again -> -EEXIST",
		   reg_buf(&gctrl, d.id, m + 4 * pg, 4 * pg, 0), -EEXIST);
	expect_ret("dup: the same range, READ_ONLY -> -EEXIST",
		   reg_buf(&gctrl, d.id, m + 4 * pg, 4 * pg, UBLK_SHMEM_BUF_READ_ONLY), -EEXIST);
	expect_ret("dup: the same pages through another mapping -> -EEXIST",
		   reg_buf(&gctrl, d.id, m2 + 4 * pg, 4 * pg, 0), -EEXIST);
	expect_ret("dup: pages 2-5 (overlap at the end) -> -EEXIST",
		   reg_buf(&gctrl, d.id, m + 2 * pg, 4 * pg, 0), -EEXIST);
	expect_ret("dup: pages 6-9 (overlap at the start) -> -EEXIST",
		   reg_buf(&gctrl, d.id, m + 6 * pg, 4 * pg, 0), -EEXIST);
	expect_ret("dup: pages 0-11 (contains it) -> -EEXIST",
		   reg_buf(&gctrl, d.id, m, 12 * pg, 0), -EEXIST);
	expect_ret("dup: page 5 alone, through the other mapping -> -EEXIST",
		   reg_buf(&gctrl, d.id, m2 + 5 * pg, pg, 0), -EEXIST);
	expect_ret("dup: a range mapping one page twice -> -EEXIST",
		   reg_buf(&gctrl, d.id, twice, 2 * pg, 0), -EEXIST);
	check_pins("dup: the refused registrations hold no pin (4 pages pinned)", pins0 + 4);

	b = reg_buf(&gctrl, d.id, m, 4 * pg, 0);
	report(b >= 0 && b != a,
	       "dup: pages 0-3 (adjacent, partly tried before) register under a new index",
	       "result %s, first index %d", rs(b), a);
	expect_ret("dup: UNREG_BUF of an unknown index (1234) -> -ENOENT",
		   unreg_buf(&gctrl, d.id, 1234), -ENOENT);
	expect_ret("dup: UNREG_BUF 65535 (in range, unknown) -> -ENOENT",
		   unreg_buf(&gctrl, d.id, 65535), -ENOENT);
	expect_ret("dup: UNREG_BUF 65536 -> -EINVAL", unreg_buf(&gctrl, d.id, 65536), -EINVAL);
	expect_ret("dup: UNREG_BUF 2^32 + first index -> -EINVAL (no truncation)",
		   unreg_buf(&gctrl, d.id, (1ull << 32) + (unsigned int)a), -EINVAL);
	expect_ret("dup: UNREG_BUF 2^63 -> -EINVAL", unreg_buf(&gctrl, d.id, 1ull << 63), -EINVAL);
	expect_ret("dup: the first buffer is still registered (same range -> -EEXIST)",
		   reg_buf(&gctrl, d.id, m + 4 * pg, 4 * pg, 0), -EEXIST);
	ret = unreg_buf(&gctrl, d.id, a);
	expect_ret("dup: UNREG_BUF of the first buffer", ret, 0);
	expect_ret("dup: UNREG_BUF of it again -> -ENOENT", unreg_buf(&gctrl, d.id, a), -ENOENT);
	check_pins("dup: its pins released (4 left)", pins0 + 4);
	ret = reg_buf(&gctrl, d.id, m2 + 4 * pg, 4 * pg, 0);
	report(ret >= 0, "dup: its pages register again, through the other mapping",
	       "result %s", rs(ret));
	check_pins("dup: 8 pages pinned", pins0 + 8);
out_dev:
	dev_destroy(&d);
	check_pins("dup: DEL_DEV with two buffers registered released all pins", pins0);
out:
	if (twice)
		munmap(twice, 2 * pg);
	if (m2)
		munmap(m2, len);
	if (m) {
		munmap(m, len);
		close(fd);
	}
}

static void case_hit(void)
{
	size_t len = 64 * pg;
	int fd, idx;
	unsigned char *m = memfd_map(len, &fd, 0), *c = NULL;
	long pins0 = pins_base();
	struct dev d;

	if (!m) {
		report(false, "hit: memfd", "%s", strerror(errno));
		return;
	}
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "hit"))
		goto out_dev;
	idx = reg_buf(&gctrl, d.id, m, len, 0);
	if (!report(idx >= 0, "hit: register a 256 KiB memfd buffer on the live device",
		    "result %s", rs(idx)))
		goto out_dev;
	zpub(&d, idx, m, len, 0);
	xio_run(&d, &(struct xio){ "hit: page aligned", true, m + 2 * pg, 64 * KiB, 1 << 20,
				   true, idx, 2 * pg });
	xio_run(&d, &(struct xio){ "hit: page aligned", false, m + 2 * pg, 64 * KiB, 1 << 20,
				   true, idx, 2 * pg });
	xio_run(&d, &(struct xio){ "hit: sub-page offset", true, m + 3 * pg + 512, 9 * KiB,
				   (1 << 20) + 64 * KiB, true, idx, 3 * pg + 512 });
	xio_run(&d, &(struct xio){ "hit: sub-page offset", false, m + 3 * pg + 512, 9 * KiB,
				   (1 << 20) + 64 * KiB, true, idx, 3 * pg + 512 });
	xio_run(&d, &(struct xio){ "hit: one sector at the buffer's last byte", true,
				   m + len - 512, 512, 2 << 20, true, idx, len - 512 });
	xio_run(&d, &(struct xio){ "hit: one sector at the buffer's last byte", false,
				   m + len - 512, 512, 2 << 20, true, idx, len - 512 });
	xio_run(&d, &(struct xio){ "hit: the whole buffer", true, m, len, 3 << 20, true, idx, 0 });
	xio_run(&d, &(struct xio){ "hit: the whole buffer", false, m, len, 3 << 20, true, idx, 0 });

	/* a client's own mapping of the same memfd: same pages, so a hit */
	c = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		c = NULL;
		report(false, "hit: a second mapping of the memfd", "%s", strerror(errno));
	} else {
		xio_run(&d, &(struct xio){ "hit: from another mapping of the memfd", true,
					   c + 17 * pg, 20 * KiB, 4 << 20, true, idx, 17 * pg });
		xio_run(&d, &(struct xio){ "hit: into another mapping of the memfd", false,
					   c + 17 * pg, 20 * KiB, 4 << 20, true, idx, 17 * pg });
	}
	report(atomic_load(&d.zc_writes_checked) > 0,
	       "hit: WRITE hits on a poisoned tag buffer found it untouched (no copy)",
	       "no WRITE hit landed on a poisoned tag buffer");
	vlog("hit: %lu WRITE hits checked against a poisoned tag buffer",
	     atomic_load(&d.zc_writes_checked));
	report(atomic_load(&d.nerr) == 0, "hit: the server saw no protocol error", "%s", d.err);
out_dev:
	dev_destroy(&d);
	check_pins("hit: pins balanced after DEL_DEV", pins0);
	if (c)
		munmap(c, len);
	munmap(m, len);
	close(fd);
}

static void case_miss(void)
{
	size_t len = 32 * pg;
	unsigned char *m = memfd_map(len, NULL, 0), *m2 = memfd_map(len, NULL, 0);
	unsigned char *m3 = memfd_map(len, NULL, 0), *h = htlb_map(HTLB_SZ), *plain = NULL;
	long pins0 = pins_base();
	int a, b, c, e, ha, hb;
	struct dev d;

	if (!m || !m2 || !m3 || posix_memalign((void **)&plain, pg, 64 * KiB)) {
		report(false, "miss: memory", "%s", strerror(errno));
		goto out;
	}
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "miss"))
		goto out_dev;
	/* A = pages 0-7, B = pages 8-15 of m: adjacent buffers */
	a = reg_buf(&gctrl, d.id, m, 8 * pg, 0);
	b = reg_buf(&gctrl, d.id, m + 8 * pg, 8 * pg, 0);
	c = reg_buf(&gctrl, d.id, m2, 8 * pg, 0);		/* pages 0-7 of m2 */
	e = reg_buf(&gctrl, d.id, m3 + 8 * pg, 8 * pg, 0);	/* pages 8-15 of m3 */
	if (!report(a >= 0 && b >= 0 && c >= 0 && e >= 0, "miss: register four memfd buffers",
		    "results %s %s %s %s", rs(a), rs(b), rs(c), rs(e)))
		goto out_dev;
	zpub(&d, a, m, 8 * pg, 0);
	zpub(&d, b, m + 8 * pg, 8 * pg, 0);
	zpub(&d, c, m2, 8 * pg, 0);
	zpub(&d, e, m3 + 8 * pg, 8 * pg, 0);

	xio_run(&d, &(struct xio){ "miss: control, inside buffer A", true, m + pg, 8 * KiB,
				   1 << 20, true, a, pg });
	xio_run(&d, &(struct xio){ "miss: straddling buffers A and B", true, m + 6 * pg,
				   16 * KiB, 2 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: straddling buffers A and B", false, m + 6 * pg,
				   16 * KiB, 2 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: starting inside a buffer, ending outside", true,
				   m2 + 6 * pg, 16 * KiB, 3 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: starting inside a buffer, ending outside", false,
				   m2 + 6 * pg, 16 * KiB, 3 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: starting outside a buffer, ending inside", true,
				   m3 + 6 * pg, 16 * KiB, 4 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: starting outside a buffer, ending inside", false,
				   m3 + 6 * pg, 16 * KiB, 4 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: unregistered memory", true, plain, 64 * KiB, 5 << 20,
				   false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: unregistered memory", false, plain, 64 * KiB, 5 << 20,
				   false, 0, 0 });

	/*
	 * Inside one huge page, the request is a single multi-page bvec: its
	 * last page, not only its first, must be in the buffer.
	 */
	if (!h) {
		report(false, "miss: a hugetlbfs mapping", "%s",
		       htlb_ok ? "mmap failed (no free huge pages?)" : "no hugetlbfs");
		goto out_dev;
	}
	ha = reg_buf(&gctrl, d.id, h + 256 * KiB, 64 * KiB, 0);
	hb = reg_buf(&gctrl, d.id, h + 320 * KiB, 64 * KiB, 0);
	if (!report(ha >= 0 && hb >= 0,
		    "miss: register two adjacent 64 KiB buffers inside one huge page",
		    "results %s %s", rs(ha), rs(hb)))
		goto out_dev;
	zpub(&d, ha, h + 256 * KiB, 64 * KiB, 0);
	zpub(&d, hb, h + 320 * KiB, 64 * KiB, 0);
	xio_run(&d, &(struct xio){ "miss: control, huge page sub-buffer", true,
				   h + 256 * KiB + 4 * KiB, 32 * KiB, 6 << 20, true, ha, 4 * KiB });
	xio_run(&d, &(struct xio){ "miss: one bvec straddling two buffers in a huge page", true,
				   h + 288 * KiB, 64 * KiB, 7 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: one bvec straddling two buffers in a huge page", false,
				   h + 288 * KiB, 64 * KiB, 7 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: one bvec from a huge page sub-buffer to beyond it", true,
				   h + 352 * KiB, 64 * KiB, 8 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: one bvec from a huge page sub-buffer to beyond it", false,
				   h + 352 * KiB, 64 * KiB, 8 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "miss: one bvec from before a huge page sub-buffer into it",
				   true, h + 224 * KiB, 64 * KiB, 9 << 20, false, 0, 0 });
	report(atomic_load(&d.nerr) == 0, "miss: the server saw no protocol error", "%s", d.err);
out_dev:
	dev_destroy(&d);
	check_pins("miss: pins balanced after DEL_DEV", pins0);
out:
	if (m)
		munmap(m, len);
	if (m2)
		munmap(m2, len);
	if (m3)
		munmap(m3, len);
	if (h)
		munmap(h, HTLB_SZ);
	free(plain);
}

static void case_readonly(void)
{
	size_t len = 32 * pg;
	unsigned char *m = memfd_map(len, NULL, 0);
	unsigned char *s = memfd_map(len, NULL, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
	long pins0 = pins_base();
	int idx, si;
	struct dev d;

	if (!m || !s) {
		report(false, "readonly: memfds", "%s", strerror(errno));
		goto out;
	}
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "readonly"))
		goto out_dev;
	idx = reg_buf(&gctrl, d.id, m, len, UBLK_SHMEM_BUF_READ_ONLY);
	if (!report(idx >= 0, "readonly: register a writable memfd READ_ONLY", "result %s", rs(idx)))
		goto out_dev;
	zpub(&d, idx, m, len, UBLK_SHMEM_BUF_READ_ONLY);
	xio_run(&d, &(struct xio){ "readonly: write from a READ_ONLY buffer", true, m + 4 * pg,
				   24 * KiB, 1 << 20, true, idx, 4 * pg });
	xio_run(&d, &(struct xio){ "readonly: read into a READ_ONLY buffer", false, m + 4 * pg,
				   24 * KiB, 1 << 20, false, 0, 0 });

	/* a write-sealed memfd, mapped read-only: pinning for write fails */
	expect_ret("readonly: write-sealed memfd without READ_ONLY -> -EFAULT",
		   reg_buf(&gctrl, d.id, s, len, 0), -EFAULT);
	si = reg_buf(&gctrl, d.id, s, len, UBLK_SHMEM_BUF_READ_ONLY);
	if (report(si >= 0 && si != idx, "readonly: write-sealed memfd with READ_ONLY registers",
		   "result %s", rs(si))) {
		unsigned char *exp = malloc(16 * KiB);
		struct xio x = { 0 };
		char why[256] = "";
		ssize_t n;

		zpub(&d, si, s, len, UBLK_SHMEM_BUF_READ_ONLY);
		/* can't fill it: write what it holds (0x11) and check the log */
		x.write = true;
		x.buf = s + 8 * pg;
		x.len = 16 * KiB;
		x.devoff = 2 << 20;
		x.zc = true;
		x.idx = si;
		x.boff = 8 * pg;
		memset(d.store + x.devoff, 0, x.len);
		log_reset(&d);
		n = pwrite(d.bdev_fd, x.buf, x.len, x.devoff);
		if (n != (ssize_t)x.len)
			snprintf(why, sizeof(why), "pwrite returned %zd (%s)", n, strerror(errno));
		else if (check_log(&d, &x, why, sizeof(why)) && exp) {
			memset(exp, 0x11, x.len);
			if (memcmp(d.store + x.devoff, exp, x.len))
				snprintf(why, sizeof(why), "stored data differ from the sealed memfd's");
		}
		report(!why[0], "readonly: write from the sealed memfd -> hit, data read in place",
		       "%s", why);
		free(exp);
	}
	report(atomic_load(&d.nerr) == 0, "readonly: the server saw no protocol error", "%s", d.err);
out_dev:
	dev_destroy(&d);
	check_pins("readonly: pins balanced after DEL_DEV", pins0);
out:
	if (m)
		munmap(m, len);
	if (s)
		munmap(s, len);
}

static void case_unreg_idle(void)
{
	size_t len = 32 * pg;
	unsigned char *m = memfd_map(len, NULL, 0);
	long pins0 = pins_base();
	struct dev d;
	int idx, ret;

	if (!m) {
		report(false, "unreg: memfd", "%s", strerror(errno));
		return;
	}
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "unreg"))
		goto out_dev;
	idx = reg_buf(&gctrl, d.id, m, len, 0);
	if (!report(idx >= 0, "unreg: register a memfd buffer", "result %s", rs(idx)))
		goto out_dev;
	zpub(&d, idx, m, len, 0);
	xio_run(&d, &(struct xio){ "unreg: while registered", true, m + pg, 16 * KiB, 1 << 20,
				   true, idx, pg });
	ret = unreg_buf(&gctrl, d.id, idx);
	expect_ret("unreg: UNREG_BUF while idle", ret, 0);
	if (ret == 0)
		zclear(&d, idx);
	check_pins("unreg: its pins are released at once", pins0);
	xio_run(&d, &(struct xio){ "unreg: after UNREG_BUF", true, m + pg, 16 * KiB, 1 << 20,
				   false, 0, 0 });
	xio_run(&d, &(struct xio){ "unreg: after UNREG_BUF", false, m + pg, 16 * KiB, 1 << 20,
				   false, 0, 0 });
	idx = reg_buf(&gctrl, d.id, m, len, 0);
	if (report(idx >= 0, "unreg: the same memory registers again", "result %s", rs(idx))) {
		zpub(&d, idx, m, len, 0);
		xio_run(&d, &(struct xio){ "unreg: registered again", false, m + pg, 16 * KiB,
					   1 << 20, true, idx, pg });
	}
	report(atomic_load(&d.nerr) == 0, "unreg: the server saw no protocol error", "%s", d.err);
out_dev:
	dev_destroy(&d);
	check_pins("unreg: pins balanced after DEL_DEV", pins0);
	munmap(m, len);
}

/* Buffers registered, hits done, then the device deleted without UNREG_BUF. */
static void case_pins_delete(void)
{
	size_t mlen = 256 * pg, hlen = HTLB_SZ;
	unsigned char *m = memfd_map(mlen, NULL, 0), *h = htlb_map(hlen);
	long pins0 = pins_base();
	struct dev d;
	int im, ih;

	if (!m || !h) {
		report(false, "pins-delete: memfd and hugetlbfs mappings", "%s",
		       !m ? "memfd" : "hugetlbfs");
		goto out;
	}
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "pins-delete"))
		goto out_dev;
	im = reg_buf(&gctrl, d.id, m, mlen, 0);
	ih = reg_buf(&gctrl, d.id, h, hlen, UBLK_SHMEM_BUF_READ_ONLY);
	if (!report(im >= 0 && ih >= 0, "pins-delete: register a memfd and a hugetlbfs buffer",
		    "results %s %s", rs(im), rs(ih)))
		goto out_dev;
	zpub(&d, im, m, mlen, 0);
	zpub(&d, ih, h, hlen, UBLK_SHMEM_BUF_READ_ONLY);
	check_pins("pins-delete: pins held = 256 + 512 pages", pins0 + (long)((mlen + hlen) / pg));
	xio_run(&d, &(struct xio){ "pins-delete: memfd", true, m, 128 * KiB, 0, true, im, 0 });
	xio_run(&d, &(struct xio){ "pins-delete: hugetlbfs", true, h + 64 * KiB, 128 * KiB,
				   1 << 20, true, ih, 64 * KiB });
	check_pins("pins-delete: the I/O left no pin of its own", pins0 + (long)((mlen + hlen) / pg));
out_dev:
	dev_destroy(&d);
	check_pins("pins-delete: nr_foll_pin_acquired == nr_foll_pin_released after DEL_DEV", pins0);
out:
	if (m)
		munmap(m, mlen);
	if (h)
		munmap(h, hlen);
}

/* ---- the server is killed with buffers registered ------------------------ */

struct kill_info {
	int ret;		/* 0 or -errno of the set-up */
	bool added;		/* the device exists (delete it) */
	__u32 dev_id;
	int im, ih;
	char why[200];
};

#define STALL_SECTOR	((8ull << 20) >> 9)

/* In the child: a server that registers buffers and serves until killed. */
/* What a child server of kill_child() or failio_child() is given. */
struct child_args {
	int memfd;
	size_t mlen;
};

/* A child server's device: created with flags, started, holding the READ of
 * STALL_SECTOR (its word on stall_fd).  ki->ret, with ki->why. */
static int child_dev_up(struct dev *d, struct ctrl *c, __u64 flags, int stall_fd,
			struct kill_info *ki)
{
	ki->ret = dev_create(d, c, flags, ki->why, sizeof(ki->why));
	ki->added = d->added;
	ki->dev_id = d->id;
	if (ki->ret)
		return ki->ret;
	d->hold_sector = STALL_SECTOR;
	d->hold_fd = stall_fd;
	ki->ret = dev_start(d, ki->why, sizeof(ki->why));
	if (!ki->ret) {
		close(d->bdev_fd);
		d->bdev_fd = -1;
	}
	return ki->ret;
}

static void __attribute__((noreturn)) kill_child(const struct child_args *a, int info_fd,
						 int stall_fd)
{
	int memfd = a->memfd;
	size_t mlen = a->mlen;
	struct kill_info ki = { 0 };
	unsigned char *m, *h;
	struct ctrl c;
	struct dev d;

	ki.im = ki.ih = -1;
	ki.ret = ctrl_open(&c);
	if (ki.ret) {
		snprintf(ki.why, sizeof(ki.why), "control: %s", rs(ki.ret));
		goto report;
	}
	m = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	h = htlb_map(HTLB_SZ);
	if (m == MAP_FAILED || !h) {
		ki.ret = -ENOMEM;
		snprintf(ki.why, sizeof(ki.why), "child mappings");
		goto report;
	}
	if (child_dev_up(&d, &c, UBLK_F_SHMEM_ZC, stall_fd, &ki))
		goto report;
	ki.im = reg_buf(&c, d.id, m, mlen, 0);
	ki.ih = reg_buf(&c, d.id, h, HTLB_SZ, 0);
	if (ki.im < 0 || ki.ih < 0) {
		ki.ret = ki.im < 0 ? ki.im : ki.ih;
		snprintf(ki.why, sizeof(ki.why), "REG_BUF: %s %s", rs(ki.im), rs(ki.ih));
		goto report;
	}
	zpub(&d, ki.im, m, mlen, 0);
	zpub(&d, ki.ih, h, HTLB_SZ, 0);
report:
	if (write(info_fd, &ki, sizeof(ki)) != sizeof(ki))
		_exit(1);
	for (;;)
		pause();	/* serve until SIGKILL */
}

struct stalled_read {
	int fd;
	void *buf;
	ssize_t n;
	int err;
	atomic_bool done;
};

static void *stalled_read_fn(void *arg)
{
	struct stalled_read *s = arg;

	s->n = pread(s->fd, s->buf, 4096, STALL_SECTOR << 9);
	s->err = errno;
	atomic_store(&s->done, true);
	return NULL;
}

static bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

/* 64 KiB of pattern seed at 1 MiB through bfd, read back into buf + 64K. */
static bool write_read_back(int bfd, unsigned char *buf, int seed)
{
	fill_pattern(buf, 64 * KiB, seed);
	if (pwrite(bfd, buf, 64 * KiB, 1 << 20) != 64 * KiB)
		return false;
	memset(buf + 64 * KiB, 0, 64 * KiB);
	return pread(bfd, buf + 64 * KiB, 64 * KiB, 1 << 20) == 64 * KiB &&
	       !memcmp(buf, buf + 64 * KiB, 64 * KiB);
}

/* A READ of STALL_SECTOR into buf that the child server holds (its word
 * on stall_fd); true once it does. */
static bool hold_read(struct stalled_read *sr, pthread_t *rt, int bfd, void *buf, int stall_fd,
		      const char *name)
{
	bool started;

	sr->fd = bfd;
	sr->buf = buf;
	started = pthread_create(rt, NULL, stalled_read_fn, sr) == 0;
	report(started && wait_readable(stall_fd, 30000), name, "no word from the child");
	return started;
}

/* SIGKILL the child server; the READ it held must fail with EIO.  Returns
 * false if the reader is still blocked (then it is left: the device cannot
 * be deleted under it). */
static bool kill_child_server(pid_t pid, struct stalled_read *sr, pthread_t rt, bool rt_started,
			      const char *killed, const char *read_fails)
{
	int status, ret = kill(pid, SIGKILL) ? -1 : waitpid(pid, &status, 0);

	report(ret == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, killed,
	       "waitpid %d, status 0x%x", ret, ret == pid ? status : 0);
	if (!rt_started)
		return true;
	for (int i = 0; i < 600 && !atomic_load(&sr->done); i++)
		usleep(100000);
	report(atomic_load(&sr->done) && sr->n < 0 && sr->err == EIO, read_fails, "%s",
	       !atomic_load(&sr->done) ? "still blocked after 60 s" :
	       sr->n < 0 ? strerror(sr->err) : "it succeeded");
	if (!atomic_load(&sr->done))
		return false;
	pthread_join(rt, NULL);
	return true;
}

/*
 * Fork a child server (fn, which never returns) and wait up to 60 s for its
 * struct kill_info on info_pipe.  The pid, or -1 after a report if the fork
 * failed; ki->ret says whether the child's set-up worked.
 */
static pid_t start_child_server(const char *name,
				void (*fn)(const struct child_args *, int, int),
				const struct child_args *a, int info_pipe[2], int stall_pipe[2],
				struct kill_info *ki)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(false, name, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(info_pipe[0]);
		close(stall_pipe[0]);
		fn(a, info_pipe[1], stall_pipe[1]);
	}
	close(info_pipe[1]);
	close(stall_pipe[1]);
	memset(ki, 0, sizeof(*ki));
	ki->ret = -ETIMEDOUT;
	if (!wait_readable(info_pipe[0], 60000) || read(info_pipe[0], ki, sizeof(*ki)) != sizeof(*ki))
		snprintf(ki->why, sizeof(ki->why), "no word from the child server");
	return pid;
}

static void case_pins_kill(void)
{
	size_t mlen = 64 * pg;
	int memfd, info_pipe[2], stall_pipe[2];
	unsigned char *m = memfd_map(mlen, &memfd, 0);
	struct stalled_read sr = { .fd = -1 };
	long pins0 = pins_base();
	struct kill_info ki;
	pthread_t rt;
	bool rt_started = false;
	char path[64];
	pid_t pid;
	int bfd = -1;

	if (!m || pipe2(info_pipe, O_CLOEXEC) || pipe2(stall_pipe, O_CLOEXEC)) {
		report(false, "pins-kill: set up", "%s", strerror(errno));
		return;
	}
	pid = start_child_server("pins-kill: fork", kill_child, &(struct child_args){ memfd, mlen },
				 info_pipe, stall_pipe, &ki);
	if (pid < 0)
		goto out;
	if (!report(ki.ret == 0, "pins-kill: a child server with a memfd and a hugetlbfs buffer",
		    "%s", ki.why))
		goto kill;
	check_pins("pins-kill: pins held = 64 + 512 pages", pins0 + (long)((mlen + HTLB_SZ) / pg));

	snprintf(path, sizeof(path), "/dev/ublkb%u", ki.dev_id);
	bfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (!report(bfd >= 0, "pins-kill: open the device", "%s: %s", path, strerror(errno)))
		goto kill;
	/* a hit through the child server, checked by reading it back */
	report(write_read_back(bfd, m, 77),
	       "pins-kill: I/O from the shared memfd through the child server", "%s", strerror(errno));
	/* a READ that the child holds (a hit into the memfd) when it dies */
	rt_started = hold_read(&sr, &rt, bfd, m + 128 * KiB, stall_pipe[0],
			       "pins-kill: the child server holds a READ");
kill:
	kill_child_server(pid, &sr, rt, rt_started, "pins-kill: the child server is killed (SIGKILL)",
			  "pins-kill: the held READ fails with EIO");
	if (ki.ret == 0) {
		if (bfd >= 0)
			close(bfd);
		bfd = -1;
		/* the buffers outlive the server: released at device release only */
		check_pins("pins-kill: the pins survive the server",
			   pins0 + (long)((mlen + HTLB_SZ) / pg));
		expect_ret("pins-kill: STOP_DEV from the parent",
			   ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_STOP_DEV, NULL, 0, 0), 0);
		expect_ret("pins-kill: DEL_DEV from the parent",
			   ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_DEL_DEV, NULL, 0, 0), 0);
	} else if (ki.added) {
		/* set-up failed in the child: delete what it may have left */
		ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_STOP_DEV, NULL, 0, 0);
		ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_DEL_DEV, NULL, 0, 0);
	}
	check_pins("pins-kill: nr_foll_pin_acquired == nr_foll_pin_released after DEL_DEV", pins0);
out:
	if (bfd >= 0)
		close(bfd);
	close(info_pipe[0]);
	close(stall_pipe[0]);
	munmap(m, mlen);
	close(memfd);
}

/* ---- UBLK_F_USER_RECOVERY_FAIL_IO (kernel/patches/0004) ------------------ */

#define RECOVERY_FLAGS	(UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | \
			 UBLK_F_USER_RECOVERY_FAIL_IO)

static void case_recovery_flags(void)
{
	static const struct {
		const char *name;
		__u64 flags;
		bool valid;
	} combos[] = {
		{ "no recovery flag", 0, true },
		{ "USER_RECOVERY", UBLK_F_USER_RECOVERY, true },
		{ "USER_RECOVERY|REISSUE", UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE, true },
		{ "USER_RECOVERY|FAIL_IO", UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO, true },
		{ "REISSUE alone", UBLK_F_USER_RECOVERY_REISSUE, false },
		{ "FAIL_IO alone", UBLK_F_USER_RECOVERY_FAIL_IO, false },
		{ "REISSUE|FAIL_IO", UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO,
		  false },
		{ "USER_RECOVERY|REISSUE|FAIL_IO", RECOVERY_FLAGS, false },
	};
	__u64 feat = 0;
	char name[160];
	int ret;

	ret = ctrl_cmd(&gctrl, (__u32)-1, UBLK_U_CMD_GET_FEATURES, &feat, sizeof(feat), 0);
	report(ret == 0 && (feat & UBLK_F_USER_RECOVERY_FAIL_IO),
	       "recovery-flags: GET_FEATURES reports USER_RECOVERY_FAIL_IO (bit 9)",
	       "result %s, features 0x%llx", rs(ret), (unsigned long long)feat);

	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		struct ublksrv_ctrl_dev_info info = {
			.nr_hw_queues = 1, .queue_depth = QD, .max_io_buf_bytes = MAX_IO,
			.dev_id = (__u32)-1, .flags = combos[i].flags,
		};

		/* ADD_DEV alone: no server, nothing started */
		ret = ctrl_cmd(&gctrl, (__u32)-1, UBLK_U_CMD_ADD_DEV, &info, sizeof(info), 0);
		if (combos[i].valid) {
			snprintf(name, sizeof(name),
				 "recovery-flags: ADD_DEV with %s is accepted and keeps them",
				 combos[i].name);
			report(ret == 0 && (info.flags & RECOVERY_FLAGS) == combos[i].flags, name,
			       "result %s, flags 0x%llx", rs(ret), (unsigned long long)info.flags);
		} else {
			snprintf(name, sizeof(name), "recovery-flags: ADD_DEV with %s fails with "
				 "-EINVAL", combos[i].name);
			expect_ret(name, ret, -EINVAL);
		}
		if (ret == 0) {
			ret = ctrl_cmd(&gctrl, info.dev_id, UBLK_U_CMD_DEL_DEV, NULL, 0, 0);
			if (ret)
				report(false, "recovery-flags: delete a test device",
				       "DEL_DEV %u: %s", info.dev_id, rs(ret));
		}
	}
}

/* In the child: the server of a USER_RECOVERY|FAIL_IO device, until SIGKILL. */
static void __attribute__((noreturn)) failio_child(const struct child_args *a, int info_fd,
						   int stall_fd)
{
	struct kill_info ki = { .im = -1, .ih = -1 };
	struct ctrl c;
	struct dev d;

	(void)a;	/* it makes its own device, no shared memory */

	ki.ret = ctrl_open(&c);
	if (ki.ret) {
		snprintf(ki.why, sizeof(ki.why), "control: %s", rs(ki.ret));
		goto report;
	}
	child_dev_up(&d, &c, UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO | UBLK_F_SHMEM_ZC,
		     stall_fd, &ki);
report:
	if (write(info_fd, &ki, sizeof(ki)) != sizeof(ki))
		_exit(1);
	for (;;)
		pause();	/* serve until SIGKILL */
}

/* The device's state, or -errno; its dev_info in *info */
static int dev_state(__u32 id, struct ublksrv_ctrl_dev_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = ctrl_cmd(&gctrl, id, UBLK_U_CMD_GET_DEV_INFO, info, sizeof(*info), 0);
	return ret < 0 ? ret : info->state;
}

/* Wait up to secs for state want; the last state seen, or -errno */
static int wait_state(__u32 id, int want, double secs)
{
	struct ublksrv_ctrl_dev_info info;
	double t0 = now_s();
	int st;

	for (;;) {
		st = dev_state(id, &info);
		if (st < 0 || st == want || now_s() - t0 > secs)
			return st;
		usleep(10000);
	}
}

/* One O_DIRECT 4 KiB read or write at off: 0, an errno, or -1 (short); *secs its time */
static int timed_io(int fd, bool wr, void *buf, off_t off, double *secs)
{
	double t0 = now_s();
	ssize_t n = wr ? pwrite(fd, buf, 4096, off) : pread(fd, buf, 4096, off);
	int err = n < 0 ? errno : n == 4096 ? 0 : -1;

	*secs = now_s() - t0;
	return err;
}

static const char *io_res(int err)
{
	return err == 0 ? "success" : err < 0 ? "a short transfer" : strerrorname_np(err);
}

/* I/O must fail at once with EREMOTEIO (BLK_STS_TARGET, as in 6.13) */
static void check_fails_fast(int bfd, void *buf, const char *when)
{
	char name[200];
	double secs;

	for (int w = 0; w < 2; w++) {
		int err = timed_io(bfd, w, buf, 2 << 20, &secs);

		printf("#    fail-io: a %s %s: %s after %.2f ms\n", w ? "write" : "read", when,
		       io_res(err), secs * 1e3);
		snprintf(name, sizeof(name), "fail-io: a %s %s fails at once with EREMOTEIO "
			 "(< 1 s)", w ? "write" : "read", when);
		report(err == EREMOTEIO && secs < 1.0, name, "%s after %.3f s", io_res(err),
		       secs);
	}
}

static void case_fail_io(void)
{
	static struct stalled_read sr;	/* a blocked reader may outlive the case */
	int info_pipe[2], stall_pipe[2], ret, memfd = -1, bfd = -1;
	struct ublksrv_ctrl_dev_info info;
	unsigned char *buf = NULL, *m = NULL;
	bool rt_started = false, have_srv = false;
	struct kill_info ki;
	char path[64], why[256] = "";
	struct dev d;
	double t0;
	pthread_t rt;
	pid_t pid;

	memset(&sr, 0, sizeof(sr));
	sr.fd = -1;
	if (pipe2(info_pipe, O_CLOEXEC) || pipe2(stall_pipe, O_CLOEXEC) ||
	    posix_memalign((void **)&buf, pg, 128 * KiB)) {
		report(false, "fail-io: set up", "%s", strerror(errno));
		return;
	}
	pid = start_child_server("fail-io: fork", failio_child, &(struct child_args){ -1, 0 },
				 info_pipe, stall_pipe, &ki);
	if (pid < 0)
		goto out;
	if (!report(ki.ret == 0, "fail-io: a child server of a USER_RECOVERY|FAIL_IO device",
		    "%s", ki.why))
		goto kill;
	ret = dev_state(ki.dev_id, &info);
	report(ret == UBLK_S_DEV_LIVE && (info.flags & RECOVERY_FLAGS) ==
	       (UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO),
	       "fail-io: GET_DEV_INFO: LIVE, flags USER_RECOVERY|FAIL_IO",
	       "state %s, flags 0x%llx", rs(ret), (unsigned long long)info.flags);

	snprintf(path, sizeof(path), "/dev/ublkb%u", ki.dev_id);
	bfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (!report(bfd >= 0, "fail-io: open the device", "%s: %s", path, strerror(errno)))
		goto kill;
	report(write_read_back(bfd, buf, 91), "fail-io: I/O through the child server", "%s",
	       strerror(errno));
	/* a READ that the child holds when it dies */
	rt_started = hold_read(&sr, &rt, bfd, buf + 64 * KiB, stall_pipe[0],
			       "fail-io: the child server holds a READ");
kill:
	kill_child_server(pid, &sr, rt, rt_started, "fail-io: the child server is killed (SIGKILL)",
			  "fail-io: the READ the dead server held fails with EIO");
	if (ki.ret || bfd < 0)
		goto cleanup;

	ret = wait_state(ki.dev_id, UBLK_S_DEV_FAIL_IO, 10);
	if (!report(ret == UBLK_S_DEV_FAIL_IO, "fail-io: the device goes to state FAIL_IO (3)",
		    "state %s after 10 s", rs(ret)))
		goto cleanup;
	check_fails_fast(bfd, buf, "in FAIL_IO");

	/* the request queue runs in FAIL_IO: the REG/UNREG_BUF freeze must not wait */
	m = memfd_map(16 * pg, &memfd, 0);
	t0 = now_s();
	ret = m ? reg_buf(&gctrl, ki.dev_id, m, 16 * pg, 0) : -ENOMEM;
	report(ret >= 0 && now_s() - t0 < 5, "fail-io: REG_BUF in FAIL_IO returns at once",
	       "%s after %.1f s", rs(ret), now_s() - t0);
	if (ret >= 0)
		expect_ret("fail-io: UNREG_BUF in FAIL_IO", unreg_buf(&gctrl, ki.dev_id, ret), 0);

	/* START_USER_RECOVERY, once the old server has let go of /dev/ublkcN */
	t0 = now_s();
	while ((ret = ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_START_USER_RECOVERY, NULL, 0, 0)) ==
	       -EBUSY && now_s() - t0 < 10)
		usleep(20000);
	if (!expect_ret("fail-io: START_USER_RECOVERY in FAIL_IO", ret, 0))
		goto cleanup;
	ret = dev_state(ki.dev_id, &info);
	report(ret == UBLK_S_DEV_FAIL_IO, "fail-io: still FAIL_IO after START_USER_RECOVERY",
	       "state %s", rs(ret));
	check_fails_fast(bfd, buf, "between START_ and END_USER_RECOVERY");

	/* the new server: this process */
	dev_init(&d, &gctrl);
	d.id = ki.dev_id;
	d.added = true;		/* dev_destroy() stops and deletes it */
	have_srv = true;
	ret = dev_serve(&d, why, sizeof(why));
	if (!report(ret == 0, "fail-io: a new server opens /dev/ublkcN and fetches", "%s", why))
		goto cleanup;
	ret = ctrl_cmd(&gctrl, d.id, UBLK_U_CMD_END_USER_RECOVERY, NULL, 0, getpid());
	if (!expect_ret("fail-io: END_USER_RECOVERY", ret, 0))
		goto cleanup;
	ret = dev_state(d.id, &info);
	report(ret == UBLK_S_DEV_LIVE && info.ublksrv_pid == getpid(),
	       "fail-io: LIVE again, served by the new server", "state %s, ublksrv_pid %d",
	       rs(ret), info.ublksrv_pid);
	d.bdev_fd = bfd;
	bfd = -1;
	xio_run(&d, &(struct xio){ "fail-io: after recovery", true, buf, 64 * KiB, 1 << 20,
				   false, 0, 0 });
	xio_run(&d, &(struct xio){ "fail-io: after recovery", false, buf, 64 * KiB, 1 << 20,
				   false, 0, 0 });
cleanup:
	if (bfd >= 0)
		close(bfd);
	bfd = -1;
	if (have_srv) {
		expect_ret("fail-io: STOP_DEV + DEL_DEV", dev_destroy(&d), 0);
	} else if (ki.added) {
		expect_ret("fail-io: STOP_DEV from the parent",
			   ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_STOP_DEV, NULL, 0, 0), 0);
		expect_ret("fail-io: DEL_DEV from the parent",
			   ctrl_cmd(&gctrl, ki.dev_id, UBLK_U_CMD_DEL_DEV, NULL, 0, 0), 0);
	}
out:
	if (m)
		munmap(m, 16 * pg);
	if (memfd >= 0)
		close(memfd);
	close(info_pipe[0]);
	close(stall_pipe[0]);
	free(buf);
}

/* ---- REG/UNREG_BUF and requests in flight (the queue freeze) ------------ */

/* an O_DIRECT read or write in a thread of its own */
struct bgio {
	pthread_t th;
	bool started;
	int fd;
	bool write;
	void *buf;
	size_t len;
	off_t off;
	ssize_t n;
	int err;
	atomic_bool done;
};

static void *bgio_fn(void *arg)
{
	struct bgio *b = arg;

	b->n = b->write ? pwrite(b->fd, b->buf, b->len, b->off) : pread(b->fd, b->buf, b->len, b->off);
	b->err = errno;
	atomic_store(&b->done, true);
	return NULL;
}

static bool bgio_start(struct bgio *b, int fd, bool write, void *buf, size_t len, off_t off)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->write = write;
	b->buf = buf;
	b->len = len;
	b->off = off;
	b->started = pthread_create(&b->th, NULL, bgio_fn, b) == 0;
	return b->started;
}

static bool wait_flag(atomic_bool *f, double secs)
{
	double t0 = now_s();

	while (!atomic_load(f) && now_s() - t0 < secs)
		usleep(5000);
	return atomic_load(f);
}

/* true once the I/O is over and joined; false if it is still blocked */
static bool bgio_wait(struct bgio *b, double secs)
{
	if (!b->started)
		return true;
	if (!wait_flag(&b->done, secs))
		return false;
	pthread_join(b->th, NULL);
	b->started = false;
	return true;
}

/* REG_BUF or UNREG_BUF from a thread with a control ring of its own */
struct bgctl {
	pthread_t th;
	bool started;
	__u32 dev_id;
	bool unreg;
	__u64 index;
	void *addr;
	size_t len;
	int ret;
	atomic_bool done;
};

static void *bgctl_fn(void *arg)
{
	struct bgctl *b = arg;
	struct ctrl c;

	b->ret = ctrl_open(&c);
	if (!b->ret) {
		b->ret = b->unreg ? unreg_buf(&c, b->dev_id, b->index) :
			 reg_buf(&c, b->dev_id, b->addr, b->len, 0);
		ctrl_close(&c);
	}
	atomic_store(&b->done, true);
	return NULL;
}

static bool bgctl_start(struct bgctl *b, __u32 dev_id, bool unreg, __u64 index, void *addr,
			size_t len)
{
	memset(b, 0, sizeof(*b));
	b->dev_id = dev_id;
	b->unreg = unreg;
	b->index = index;
	b->addr = addr;
	b->len = len;
	b->started = pthread_create(&b->th, NULL, bgctl_fn, b) == 0;
	return b->started;
}

static bool bgctl_wait(struct bgctl *b, double secs)
{
	if (!b->started)
		return true;
	if (!wait_flag(&b->done, secs))
		return false;
	pthread_join(b->th, NULL);
	b->started = false;
	return true;
}

/* arm the server to hold the next READ/WRITE at sector */
static void hold_arm(struct dev *d, __u64 sector)
{
	atomic_store(&d->release, false);
	atomic_store(&d->hold_sector, sector);
}

/* true once the server says it holds the request */
static bool hold_wait(int hold_rd)
{
	char c;

	return wait_readable(hold_rd, 30000) && read(hold_rd, &c, 1) == 1;
}

/* The held READ rd of len bytes into m + off completed as a hit of buffer
 * idx at offset off, with the server's data exp. */
static void held_read_done(struct dev *d, struct bgio *rd, unsigned char *m, size_t off,
			   const void *exp, size_t len, __u64 hoff, int idx, const char *name)
{
	char why[512] = "";

	if (!bgio_wait(rd, 60))
		snprintf(why, sizeof(why), "still blocked after 60 s");
	else if (rd->n != (ssize_t)len)
		snprintf(why, sizeof(why), "pread: %zd (%s)", rd->n, strerror(rd->err));
	else if (memcmp(m + off, exp, len))
		snprintf(why, sizeof(why), "the data differ");
	else
		check_log(d, &(struct xio){ "", false, m + off, len, hoff, true, idx, off },
			  why, sizeof(why));
	report(!why[0], name, "%s", why);
}

#define HOLD_SECTOR	((8ull << 20) >> 9)

static void case_freeze(void)
{
	size_t len = 64 * pg, len2 = 16 * pg;
	unsigned char *m = memfd_map(len, NULL, 0), *m2 = memfd_map(len2, NULL, 0);
	unsigned char *plain = NULL, *exp = malloc(64 * KiB);
	const __u64 hoff = HOLD_SECTOR << 9;
	int hp[2] = { -1, -1 }, a = -1, b = -1, c2 = -1, sync_pipe[2] = { -1, -1 };
	long pins0 = pins_base();
	struct bgio rd = { 0 }, wr = { 0 };
	struct bgctl ctl = { 0 };
	struct dev d;
	bool ok;

	if (!m || !m2 || !exp || pipe2(hp, O_CLOEXEC) || pipe2(sync_pipe, O_CLOEXEC) ||
	    posix_memalign((void **)&plain, pg, 64 * KiB)) {
		report(false, "freeze: set up", "%s", strerror(errno));
		goto out;
	}
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "freeze"))
		goto out_dev;
	d.hold_fd = hp[1];
	a = reg_buf(&gctrl, d.id, m, len, 0);
	if (!report(a >= 0, "freeze: register a memfd buffer", "result %s", rs(a)))
		goto out_dev;
	zpub(&d, a, m, len, 0);

	/* 1: UNREG_BUF while the server holds a hit */
	fill_pattern(exp, 32 * KiB, 1001);
	memcpy(d.store + hoff, exp, 32 * KiB);
	log_reset(&d);
	hold_arm(&d, HOLD_SECTOR);
	bgio_start(&rd, d.bdev_fd, false, m + 4 * pg, 32 * KiB, hoff);
	ok = hold_wait(hp[0]);
	if (!report(ok, "freeze: the server holds a READ from the buffer", "it never came"))
		goto out_dev;
	bgctl_start(&ctl, d.id, true, a, NULL, 0);
	usleep(500000);
	report(!atomic_load(&ctl.done), "freeze: UNREG_BUF waits while a request is in flight",
	       "it returned %s at once", rs(ctl.ret));
	fill_pattern(plain, 16 * KiB, 1002);
	bgio_start(&wr, d.bdev_fd, true, plain, 16 * KiB, 16 << 20);
	usleep(300000);
	report(!atomic_load(&wr.done), "freeze: a new write waits while UNREG_BUF freezes the queue",
	       "it completed: %zd", wr.n);
	atomic_store(&d.release, true);
	ok = bgctl_wait(&ctl, 60);
	report(ok && ctl.ret == 0, "freeze: UNREG_BUF returns 0 once the held request is committed",
	       "%s", ok ? rs(ctl.ret) : "still waiting after 60 s");
	if (ok && ctl.ret == 0)
		zclear(&d, a);
	held_read_done(&d, &rd, m, 4 * pg, exp, 32 * KiB, hoff, a,
		       "freeze: the held READ completes as a hit with the data");
	ok = bgio_wait(&wr, 60);
	report(ok && wr.n == 16 * KiB && !memcmp(d.store + (16 << 20), plain, 16 * KiB),
	       "freeze: the waiting write completes after the unfreeze, data stored",
	       "%s", !ok ? "still blocked after 60 s" : wr.n < 0 ? strerror(wr.err) : "bad data");
	check_pins("freeze: UNREG_BUF released the buffer's pins", pins0);

	/* 2: REG_BUF while the server holds a hit */
	b = reg_buf(&gctrl, d.id, m, len, 0);
	if (!report(b >= 0, "freeze: register the buffer again", "result %s", rs(b)))
		goto out_dev;
	zpub(&d, b, m, len, 0);
	memcpy(d.store + hoff, exp, 16 * KiB);
	hold_arm(&d, HOLD_SECTOR);
	log_reset(&d);
	bgio_start(&rd, d.bdev_fd, false, m + 8 * pg, 16 * KiB, hoff);
	ok = hold_wait(hp[0]);
	if (!report(ok, "freeze: the server holds another READ", "it never came"))
		goto out_dev;
	bgctl_start(&ctl, d.id, false, 0, m2, len2);
	usleep(500000);
	report(!atomic_load(&ctl.done), "freeze: REG_BUF waits while a request is in flight",
	       "it returned %s at once", rs(ctl.ret));
	atomic_store(&d.release, true);
	ok = bgctl_wait(&ctl, 60);
	c2 = ok ? ctl.ret : -ETIMEDOUT;
	report(ok && c2 >= 0 && c2 != b, "freeze: REG_BUF returns a new index once the request is committed",
	       "%s", ok ? rs(c2) : "still waiting after 60 s");
	if (c2 >= 0)
		zpub(&d, c2, m2, len2, 0);
	held_read_done(&d, &rd, m, 8 * pg, exp, 16 * KiB, hoff, b,
		       "freeze: the held READ completes as a hit with the data");

	/* 3: a fatal signal ends the wait (-EINTR); the queue must not stay frozen */
	memcpy(d.store + hoff, exp, 16 * KiB);
	hold_arm(&d, HOLD_SECTOR);
	log_reset(&d);
	bgio_start(&rd, d.bdev_fd, false, m + 12 * pg, 16 * KiB, hoff);
	ok = hold_wait(hp[0]);
	if (!report(ok, "freeze: the server holds a third READ", "it never came"))
		goto out_dev;
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		struct ctrl cc;
		char ch = 'u';

		if (ctrl_open(&cc))
			_exit(2);
		if (write(sync_pipe[1], &ch, 1) != 1)
			_exit(3);
		_exit(unreg_buf(&cc, d.id, b) == 0 ? 0 : 1);	/* blocks */
	}
	if (!report(pid > 0, "freeze: fork a process for UNREG_BUF", "%s", strerror(errno)))
		goto out_dev;
	{
		char ch;
		int status = 0, w = 0;

		ok = wait_readable(sync_pipe[0], 30000) && read(sync_pipe[0], &ch, 1) == 1;
		usleep(500000);
		report(ok && waitpid(pid, &status, WNOHANG) == 0,
		       "freeze: UNREG_BUF from another process waits as well",
		       "the process ended (status 0x%x)", status);
		kill(pid, SIGKILL);
		for (int i = 0; i < 300 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++)
			usleep(100000);
		report(w == pid && WIFSIGNALED(status),
		       "freeze: SIGKILL ends the waiting UNREG_BUF (-EINTR) and its process",
		       "waitpid %d status 0x%x after 30 s", w, status);
		if (w == 0) {
			atomic_store(&d.release, true);
			waitpid(pid, &status, 0);
		}
	}
	atomic_store(&d.release, true);
	held_read_done(&d, &rd, m, 12 * pg, exp, 16 * KiB, hoff, b,
		       "freeze: the held READ completes as a hit (the buffer is still registered)");
	expect_ret("freeze: the interrupted UNREG_BUF left the buffer (same range -> -EEXIST)",
		   reg_buf(&gctrl, d.id, m, len, 0), -EEXIST);
	xio_run(&d, &(struct xio){ "freeze: the queue is not left frozen", true, plain, 16 * KiB,
				   20 << 20, false, 0, 0 });
	xio_run(&d, &(struct xio){ "freeze: and the buffer still hits", true, m + pg, 16 * KiB,
				   24 << 20, true, b, pg });
	expect_ret("freeze: UNREG_BUF of it now", unreg_buf(&gctrl, d.id, b), 0);
	zclear(&d, b);
	report(atomic_load(&d.nerr) == 0, "freeze: the server saw no protocol error", "%s", d.err);
out_dev:
	atomic_store(&d.release, true);
	bgio_wait(&rd, 60);
	bgio_wait(&wr, 60);
	bgctl_wait(&ctl, 60);
	dev_destroy(&d);
	check_pins("freeze: pins balanced after DEL_DEV", pins0);
out:
	for (int i = 0; i < 2; i++) {
		if (hp[i] >= 0)
			close(hp[i]);
		if (sync_pipe[i] >= 0)
			close(sync_pipe[i]);
	}
	free(plain);
	free(exp);
	if (m)
		munmap(m, len);
	if (m2)
		munmap(m2, len2);
}

/* ---- a tree of many separate page runs, then the device's release ------- */

/* Runs of consecutive pfns in [p, p + npages * pg): the tree entries a
 * registration makes.  -1 if /proc/self/pagemap shows no pfn (not root). */
static int pfn_runs(const void *p, size_t npages)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	unsigned long long prev = 0, e;
	int runs = 0;

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < npages; i++) {
		off_t off = (off_t)(((uintptr_t)p / pg + i) * sizeof(e));
		unsigned long long pfn;

		if (pread(fd, &e, sizeof(e), off) != sizeof(e) || !(e >> 63) ||
		    !(pfn = e & ((1ULL << 55) - 1))) {
			runs = -1;
			break;
		}
		if (!i || pfn != prev + 1)
			runs++;
		prev = pfn;
	}
	close(fd);
	return runs;
}

/*
 * 6.12's maple tree, in RCU mode, freed a wrong node at mtree_destroy() once
 * about 120 separate ranges filled an internal node (a KASAN double free, or
 * a crash in __slab_free, at the device's release); the series does not use
 * RCU mode.  Buffers of 96 to 160 pages whose pages were faulted in
 * alternately with a scratch memfd's (so pfns rarely touch) make that many
 * ranges; each is registered on a fresh device, which is then deleted.
 * A regression shows as a kernel splat (the group fails on it) or a crash.
 */
static void case_many_ranges(void)
{
	long pins0 = pins_base();
	int tried = 0, lo = INT_MAX, hi = 0, failed = 0;
	char why[256] = "";

	for (size_t n = 96; n <= 160 && !failed; n++) {
		unsigned char *b = memfd_map(n * pg, NULL, 0);	/* populated: re-fault below */
		unsigned char *a = memfd_map(n * pg, NULL, 0);
		int runs, idx;
		struct dev d;

		if (!b || !a) {
			snprintf(why, sizeof(why), "memfd: %s", strerror(errno));
			failed = 1;
			goto next;
		}
		/* give the buffer fresh pages, allocated between the scratch's */
		madvise(b, n * pg, MADV_REMOVE);
		madvise(a, n * pg, MADV_REMOVE);
		for (size_t i = 0; i < n; i++) {
			a[i * pg] = 1;
			b[i * pg] = 2;
		}
		runs = pfn_runs(b, n);
		if (runs < 0) {
			snprintf(why, sizeof(why), "no pfns in /proc/self/pagemap");
			failed = 1;
			goto next;
		}
		if (dev_create(&d, &gctrl, UBLK_F_SHMEM_ZC, why, sizeof(why))) {
			failed = 1;
			goto next;
		}
		idx = reg_buf(&gctrl, d.id, b, n * pg, 0);
		if (idx < 0) {
			snprintf(why, sizeof(why), "REG_BUF of %zu pages: %s", n, rs(idx));
			failed = 1;
		}
		dev_destroy(&d);	/* the release destroys the tree */
		tried++;
		lo = runs < lo ? runs : lo;
		hi = runs > hi ? runs : hi;
next:
		if (b)
			munmap(b, n * pg);
		if (a)
			munmap(a, n * pg);
	}
	report(!failed, "many-ranges: 65 devices, each with a buffer of 96-160 separate page runs, deleted",
	       "%s", why);
	printf("#    many-ranges: %d buffers, %d to %d pfn runs each\n", tried, lo, hi);
	report(!failed && lo >= 86, "many-ranges: the buffers' pages were mostly apart (>= 86 runs each)",
	       "only %d runs", lo);
	check_pins("many-ranges: pins balanced after the deletes", pins0);
}

/* ---- register/unregister loop while fio runs ----------------------------- */

#define CLIENT_FROM	(48ull << 20)	/* fio: [0, 32M), the client thread: [48M, 64M) */

struct conc {
	struct dev *d;
	unsigned char *m, *h;	/* registered and unregistered in a loop */
	size_t mlen, hlen;
	atomic_bool stop;
	/* registrar */
	unsigned long cycles;
	int reg_err;
	char reg_why[256];
	/* client */
	unsigned long ios;
	char cli_why[256];
};

static void *registrar_fn(void *arg)
{
	struct conc *cc = arg;
	struct ctrl c;
	int ret;

	ret = ctrl_open(&c);
	if (ret) {
		cc->reg_err = ret;
		snprintf(cc->reg_why, sizeof(cc->reg_why), "control ring: %s", rs(ret));
		return NULL;
	}
	while (!atomic_load(&cc->stop)) {
		bool h_first = cc->cycles & 1;
		int im = -1, ih = -1;

		/*
		 * Vary the indices: every other cycle the hugetlbfs buffer goes
		 * first. Publish each index to the server as soon as REG_BUF
		 * returns it: the next REG_BUF freezes the queue, which waits
		 * for a hit the server can only serve once it knows the index.
		 */
		if (h_first) {
			ih = reg_buf(&c, cc->d->id, cc->h, cc->hlen, 0);
			zpub(cc->d, ih, cc->h, cc->hlen, 0);
		}
		im = reg_buf(&c, cc->d->id, cc->m, cc->mlen, 0);
		zpub(cc->d, im, cc->m, cc->mlen, 0);
		if (!h_first) {
			ih = reg_buf(&c, cc->d->id, cc->h, cc->hlen, UBLK_SHMEM_BUF_READ_ONLY);
			zpub(cc->d, ih, cc->h, cc->hlen, UBLK_SHMEM_BUF_READ_ONLY);
		}
		if (im < 0 || ih < 0) {
			cc->reg_err = im < 0 ? im : ih;
			snprintf(cc->reg_why, sizeof(cc->reg_why), "cycle %lu: REG_BUF %s %s",
				 cc->cycles, rs(im), rs(ih));
			break;
		}
		usleep(2000);
		ret = unreg_buf(&c, cc->d->id, im);
		if (ret == 0)
			zclear(cc->d, im);
		if (ret == 0) {
			ret = unreg_buf(&c, cc->d->id, ih);
			if (ret == 0)
				zclear(cc->d, ih);
		}
		if (ret) {
			cc->reg_err = ret;
			snprintf(cc->reg_why, sizeof(cc->reg_why), "cycle %lu: UNREG_BUF %s",
				 cc->cycles, rs(ret));
			break;
		}
		cc->cycles++;
		usleep(1000);
	}
	ctrl_close(&c);
	return NULL;
}

/* O_DIRECT writes from, and reads into, the memfd being (un)registered */
static void *client_fn(void *arg)
{
	struct conc *cc = arg;
	size_t half = cc->mlen / 2;
	unsigned char *exp = malloc(64 * KiB);
	uint64_t x = 12345;

	if (!exp) {
		snprintf(cc->cli_why, sizeof(cc->cli_why), "out of memory");
		return NULL;
	}
	while (!atomic_load(&cc->stop)) {
		size_t len, boff, roff;
		__u64 devoff;
		ssize_t n;
		long diff;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = (1 + x % 16) * 4 * KiB;
		boff = ((x >> 8) % ((half - len) / 512)) * 512;
		roff = half + ((x >> 24) % ((half - len) / 512)) * 512;
		devoff = CLIENT_FROM + ((x >> 40) % ((DEV_SIZE - CLIENT_FROM - len) / 512)) * 512;
		fill_pattern(exp, len, x);
		memcpy(cc->m + boff, exp, len);
		n = pwrite(cc->d->bdev_fd, cc->m + boff, len, devoff);
		if (n != (ssize_t)len) {
			snprintf(cc->cli_why, sizeof(cc->cli_why), "pwrite %zu at %llu: %zd %s",
				 len, (unsigned long long)devoff, n, strerror(errno));
			break;
		}
		memset(cc->m + roff, CLIENT_FILL, len);
		n = pread(cc->d->bdev_fd, cc->m + roff, len, devoff);
		if (n != (ssize_t)len) {
			snprintf(cc->cli_why, sizeof(cc->cli_why), "pread %zu at %llu: %zd %s",
				 len, (unsigned long long)devoff, n, strerror(errno));
			break;
		}
		diff = first_diff(cc->m + roff, exp, len);
		if (diff >= 0) {
			snprintf(cc->cli_why, sizeof(cc->cli_why),
				 "I/O %lu: %zu bytes at %llu read back differ at byte %ld", cc->ios,
				 len, (unsigned long long)devoff, diff);
			break;
		}
		cc->ios++;
	}
	free(exp);
	return NULL;
}

static void case_concurrent(void)
{
	char fio_file[512], out[600], dev[64], size[32], mem[600];
	char *argv[] = {
		"fio", "--name=kshmem", dev, "--ioengine=io_uring", "--direct=1",
		"--rw=randwrite", "--bsrange=4k-64k", "--iodepth=16", size, "--offset=0",
		"--time_based", "--runtime=5", "--verify=crc32c", "--do_verify=1",
		"--verify_backlog=64", "--verify_fatal=1", "--verify_state_save=0", mem, out,
		NULL,
	};
	struct conc cc = { 0 };
	pthread_t rt, ct;
	bool rt_ok = false, ct_ok = false;
	long pins0 = pins_base();
	int status = -1, fd;
	double t0, secs;
	pid_t pid;
	struct dev d;

	cc.mlen = 256 * pg;
	cc.hlen = HTLB_SZ;
	cc.m = memfd_map(cc.mlen, NULL, 0);
	cc.h = htlb_map(cc.hlen);
	snprintf(fio_file, sizeof(fio_file), "%s/ublkfw-kt-fio-%d", htlb_dir, (int)getpid());
	fd = htlb_ok ? open(fio_file, O_RDWR | O_CREAT | O_TRUNC, 0600) : -1;
	if (!cc.m || !cc.h || fd < 0 || ftruncate(fd, 2 * HTLB_SZ) < 0) {
		report(false, "concurrent: memfd, hugetlbfs buffer and fio's hugetlbfs file", "%s",
		       strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (!dev_up(&d, &gctrl, UBLK_F_SHMEM_ZC, "concurrent"))
		goto out_dev;
	d.count_from = CLIENT_FROM;
	cc.d = &d;

	snprintf(out, sizeof(out), "--output=%s/kernel-shmem-fio.log", out_dir);
	snprintf(dev, sizeof(dev), "--filename=/dev/ublkb%u", d.id);
	snprintf(size, sizeof(size), "--size=%llu", 32ull << 20);
	snprintf(mem, sizeof(mem), "--mem=mmaphuge:%s", fio_file);

	fflush(stdout);
	t0 = now_s();
	pid = fork();
	if (pid == 0) {
		execvp("fio", argv);
		_exit(127);
	}
	if (!report(pid > 0, "concurrent: start fio", "%s", strerror(errno)))
		goto out_dev;
	rt_ok = pthread_create(&rt, NULL, registrar_fn, &cc) == 0;
	ct_ok = pthread_create(&ct, NULL, client_fn, &cc) == 0;
	/* fio runs ~5 s (slower on a debug kernel); give up after 10 minutes */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_s() - t0 > 600) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -2;
			break;
		}
		usleep(100000);
	}
	secs = now_s() - t0;
	atomic_store(&cc.stop, true);
	if (rt_ok)
		pthread_join(rt, NULL);
	if (ct_ok)
		pthread_join(ct, NULL);

	if (!report(status == 0, "concurrent: fio randwrite + crc32c verify while buffers are "
		    "registered and unregistered: exit 0", "status %d after %.1f s, see %s",
		    status, secs, out + 9)) {
		char line[512];
		FILE *f = fopen(out + 9, "r");

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "err") || strstr(line, "verify") || strstr(line, "fio:"))
				printf("#    fio: %s", line);
		if (f)
			fclose(f);
	}
	report(rt_ok && cc.reg_err == 0 && cc.cycles > 0,
	       "concurrent: REG_BUF/UNREG_BUF loop from a control thread: no error",
	       "%lu cycles, %s", cc.cycles, cc.reg_why);
	report(ct_ok && !cc.cli_why[0] && cc.ios > 0,
	       "concurrent: O_DIRECT I/O from the buffer being (un)registered: data verified",
	       "%lu I/Os, %s", cc.ios, cc.cli_why);
	report(atomic_load(&d.zc_hi) > 0 && atomic_load(&d.copy_hi) > 0,
	       "concurrent: that I/O both hit and missed", "%lu hits, %lu misses",
	       atomic_load(&d.zc_hi), atomic_load(&d.copy_hi));
	report(atomic_load(&d.nerr) == 0, "concurrent: the server saw no protocol error", "%s",
	       d.err);
	printf("#    concurrent: %.1f s, %lu register/unregister cycles, client %lu I/Os "
	       "(%lu hits, %lu misses), %lu requests in all\n", secs, cc.cycles, cc.ios,
	       atomic_load(&d.zc_hi), atomic_load(&d.copy_hi),
	       atomic_load(&d.zc_ios) + atomic_load(&d.copy_ios));
out_dev:
	dev_destroy(&d);
	check_pins("concurrent: pins balanced after DEL_DEV", pins0);
out:
	unlink(fio_file);
	if (cc.m)
		munmap(cc.m, cc.mlen);
	if (cc.h)
		munmap(cc.h, cc.hlen);
}

/* ---- set-up and main ------------------------------------------------------- */

static long read_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

static long meminfo(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

#define NR_HP "/proc/sys/vm/nr_hugepages"
static long hp_orig = -1;

/* hugetlbfs on /dev/hugepages with 2 MiB pages, and HTLB_NEED free pages */
static bool hugetlb_setup(char *why, size_t wl)
{
	struct statfs sfs;
	long nr, nfree;

	if (statfs(htlb_dir, &sfs) || sfs.f_type != HUGETLBFS_MAGIC_) {
		mkdir(htlb_dir, 0755);
		if (mount("none", htlb_dir, "hugetlbfs", 0, "pagesize=2M")) {
			snprintf(why, wl, "mount hugetlbfs on %s: %s", htlb_dir, strerror(errno));
			return false;
		}
		if (statfs(htlb_dir, &sfs) || sfs.f_type != HUGETLBFS_MAGIC_) {
			snprintf(why, wl, "%s is not hugetlbfs after mounting it", htlb_dir);
			return false;
		}
	}
	if (sfs.f_bsize != (long)HTLB_SZ) {
		snprintf(why, wl, "%s has %ld-byte pages, not 2 MiB", htlb_dir, (long)sfs.f_bsize);
		return false;
	}
	nr = read_long(NR_HP);
	nfree = meminfo("HugePages_Free");
	if (nr < 0 || nfree < 0) {
		snprintf(why, wl, "no %s or HugePages_Free", NR_HP);
		return false;
	}
	if (nfree < HTLB_NEED) {
		hp_orig = nr;
		if (!write_long(NR_HP, nr + HTLB_NEED - nfree)) {
			snprintf(why, wl, "write %s: %s", NR_HP, strerror(errno));
			return false;
		}
		nfree = meminfo("HugePages_Free");
		if (nfree < HTLB_NEED) {
			snprintf(why, wl, "only %ld free huge pages after raising nr_hugepages",
				 nfree);
			return false;
		}
	}
	return true;
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "features", case_features },
	{ "reg-errors", case_reg_errors },
	{ "register", case_register },
	{ "dup", case_dup },
	{ "hit", case_hit },
	{ "miss", case_miss },
	{ "readonly", case_readonly },
	{ "unreg", case_unreg_idle },
	{ "pins-delete", case_pins_delete },
	{ "pins-kill", case_pins_kill },
	{ "freeze", case_freeze },
	{ "many-ranges", case_many_ranges },
	{ "concurrent", case_concurrent },
	{ "recovery-flags", case_recovery_flags },
	{ "fail-io", case_fail_io },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

int main(int argc, char **argv)
{
	char why[256] = "";
	bool run[NR_CASES];
	int opt, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pg = sysconf(_SC_PAGESIZE);
	if (getenv("UBLKFW_OUT"))
		out_dir = getenv("UBLKFW_OUT");
	while ((opt = getopt(argc, argv, "vlh")) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 'l':
			for (size_t i = 0; i < NR_CASES; i++)
				printf("%s\n", cases[i].name);
			return 0;
		default:
			fprintf(stderr, "usage: %s [-v] [-l] [CASE...]\n", argv[0]);
			return 2;
		}
	}
	for (size_t i = 0; i < NR_CASES; i++)
		run[i] = optind >= argc;
	for (int a = optind; a < argc; a++) {
		size_t i;

		for (i = 0; i < NR_CASES && strcmp(argv[a], cases[i].name); i++)
			;
		if (i == NR_CASES) {
			fprintf(stderr, "%s: no case '%s' (-l lists them)\n", argv[0], argv[a]);
			return 2;
		}
		run[i] = true;
	}

	ret = ctrl_open(&gctrl);
	if (!report(ret == 0, "open /dev/ublk-control and an SQE128 ring", "%s", rs(ret))) {
		printf("%s: %d passed, %d failed\n", GROUP, npass, nfail);
		return 1;
	}
	htlb_ok = hugetlb_setup(why, sizeof(why));
	report(htlb_ok, "hugetlbfs with 2 MiB pages and free huge pages", "%s", why);
	vlog("hugetlbfs %s, %ld free huge pages, pins held at start %ld", htlb_dir,
	     meminfo("HugePages_Free"), pins_held());

	for (size_t i = 0; i < NR_CASES; i++) {
		if (!run[i])
			continue;
		printf("# %s\n", cases[i].name);
		cases[i].fn();
	}
	ctrl_close(&gctrl);
	if (hp_orig >= 0)
		write_long(NR_HP, hp_orig);
	printf("%s: %d passed, %d failed\n", GROUP, npass, nfail);
	return nfail ? 1 : 0;
}
