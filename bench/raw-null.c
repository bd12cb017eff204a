// SPDX-License-Identifier: MIT
/*
 * raw-null.c - the thinnest ublk null server we know how to write: the
 * baseline that `make bench` measures libublkfw's null target against.
 *
 * liburing only (no libev, no framework), copy mode, one thread per hardware
 * queue, each thread one plain io_uring ring and one loop:
 *
 *     for (;;) {
 *         io_uring_submit_and_wait(ring, 1);    <- the only syscall per batch
 *         for each CQE: COMMIT_AND_FETCH_REQ(tag, result) into the SQ
 *     }
 *
 * It does what the framework does on the kernel's side (same UAPI header,
 * framework/ublk_uapi.h; same ring type; the char device as fixed file 0;
 * per-tag buffers of max_io bytes; each queue thread pinned to the CPUs of
 * GET_QUEUE_AFFINITY) and nothing else, so the difference between the two
 * is the framework's own cost.
 *
 * usage: raw-null [-q QUEUES] [-d DEPTH] [-s SIZE] [-m MAX_IO] [--defer]
 *                 [--no-pin] [--touch PAGES] [--calls N] [--foreground]
 *   Always stays in the foreground (--foreground is accepted for symmetry
 *   with ublk-fw-ctl add).  Prints "/dev/ublkbN (id N)" once the device is
 *   live; SIGTERM or SIGINT: STOP_DEV, wait for the queues, DEL_DEV, exit 0.
 *   --defer: rings with SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN.
 *   --touch PAGES: an experiment, not a baseline: each request also reads one
 *   byte from each of PAGES distinct pages of the queue's own, so that the
 *   cost of the pages a server touches per request can be measured
 *   (docs/benchmarks.md, "4k QD1").
 *   --calls N: an experiment too: each request also calls N (at most 16)
 *   distinct functions that do next to nothing, so that the cost of a call
 *   and its return, apart from their instructions, can be measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ublk_uapi.h"

#define MAX_QUEUES	64

struct queue {
	unsigned int id;
	pthread_t thread;
	cpu_set_t cpus;
	bool pin;
	int setup_err;		/* 0 once every tag is fetched */
};

static struct {
	int ctrl_fd, cdev_fd;
	struct io_uring ctrl_ring;
	struct ublksrv_ctrl_dev_info info;
	unsigned int nr_queues, depth, max_io;
	unsigned long long size;
	bool defer, pin;
	unsigned int touch;		/* --touch PAGES */
	unsigned int calls;		/* --calls N */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int nr_ready;
	struct queue queues[MAX_QUEUES];
} g = {
	.ctrl_fd = -1, .cdev_fd = -1, .nr_queues = 1, .depth = 128,
	.max_io = 512 << 10, .size = 1ULL << 30, .pin = true,
	.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("raw-null: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- control commands: one at a time on an SQE128 ring ---------------- */

static int ctrl_cmd(unsigned int op, uint16_t q_id, void *buf, uint16_t len, uint64_t data0)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&g.ctrl_ring);
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *c;
	int ret;

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));	/* SQE128: the command is 80 bytes */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = g.ctrl_fd;
	sqe->cmd_op = op;
	c = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	c->dev_id = g.info.dev_id;
	c->queue_id = q_id;
	c->addr = (uint64_t)(uintptr_t)buf;
	c->len = len;
	c->data[0] = data0;
	ret = io_uring_submit(&g.ctrl_ring);
	if (ret < 0)
		return ret;
	do {
		ret = io_uring_wait_cqe(&g.ctrl_ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&g.ctrl_ring, cqe);
	return ret;
}

/* ---- the data path ----------------------------------------------------- */

static inline void queue_cmd(struct io_uring *ring, unsigned int op, unsigned int q_id,
			     unsigned int tag, int result, void *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct ublksrv_io_cmd *cmd;

	/* The SQ has depth entries and a tag has at most one command in it. */
	if (__builtin_expect(!sqe, 0))
		abort();
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = 0;			/* fixed file 0: /dev/ublkcN */
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = q_id;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = (uint64_t)(uintptr_t)buf;
	sqe->user_data = tag;
}

/* --touch: one byte of each of n pages (one cache line further into each
 * page than the last, so they do not all fall into one cache set) */
static unsigned int touch_pages(const volatile char *pages, unsigned int n)
{
	unsigned int i, sum = 0;

	for (i = 0; i < n; i++)
		sum += pages[(size_t)i * 4096 + (i * 64) % 4096];
	return sum;
}

/* --calls: callees 0..n-1 in turn, each its own call site and return
 * address; the empty asm keeps them from being folded into one */
#define CALLEE(i)							\
	static __attribute__((noinline)) unsigned int callee##i(unsigned int x) \
	{								\
		__asm__ volatile("" : "+r"(x));				\
		return x + i;						\
	}
CALLEE(0) CALLEE(1) CALLEE(2) CALLEE(3) CALLEE(4) CALLEE(5) CALLEE(6) CALLEE(7)
CALLEE(8) CALLEE(9) CALLEE(10) CALLEE(11) CALLEE(12) CALLEE(13) CALLEE(14) CALLEE(15)

static unsigned int call_n(unsigned int n, unsigned int x)
{
	switch (n) {
	default: x = callee15(x); /* fall through */
	case 15: x = callee14(x); /* fall through */
	case 14: x = callee13(x); /* fall through */
	case 13: x = callee12(x); /* fall through */
	case 12: x = callee11(x); /* fall through */
	case 11: x = callee10(x); /* fall through */
	case 10: x = callee9(x); /* fall through */
	case 9: x = callee8(x); /* fall through */
	case 8: x = callee7(x); /* fall through */
	case 7: x = callee6(x); /* fall through */
	case 6: x = callee5(x); /* fall through */
	case 5: x = callee4(x); /* fall through */
	case 4: x = callee3(x); /* fall through */
	case 3: x = callee2(x); /* fall through */
	case 2: x = callee1(x); /* fall through */
	case 1: x = callee0(x); /* fall through */
	case 0: break;
	}
	return x;
}

static void queue_ready(struct queue *q, int err)
{
	pthread_mutex_lock(&g.lock);
	q->setup_err = err;
	g.nr_ready++;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
}

static void *queue_thread(void *arg)
{
	struct queue *q = arg;
	long pg = sysconf(_SC_PAGESIZE);
	size_t stride = (UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc) + pg - 1) & ~(pg - 1);
	size_t descs_len = (g.depth * sizeof(struct ublksrv_io_desc) + pg - 1) & ~(pg - 1);
	unsigned int depth = g.depth, ended = 0, tag, called = 0;
	const struct ublksrv_io_desc *descs;
	struct io_uring_params p;
	struct io_uring ring;
	char *bufs, *touch = NULL;
	int ret;

	if (q->pin && CPU_COUNT(&q->cpus))
		pthread_setaffinity_np(pthread_self(), sizeof(q->cpus), &q->cpus);
	descs = mmap(NULL, descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE, g.cdev_fd,
		     UBLKSRV_CMD_BUF_OFFSET + (off_t)q->id * stride);
	bufs = mmap(NULL, (size_t)depth * g.max_io, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.touch)
		touch = mmap(NULL, (size_t)g.touch * 4096, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (descs == MAP_FAILED || bufs == MAP_FAILED || touch == MAP_FAILED) {
		fprintf(stderr, "raw-null: queue %u: mmap: %s\n", q->id, strerror(errno));
		queue_ready(q, -ENOMEM);
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	if (g.defer)
		p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			  IORING_SETUP_COOP_TASKRUN;
	ret = io_uring_queue_init_params(depth, &ring, &p);
	if (!ret)
		ret = io_uring_register_files(&ring, &g.cdev_fd, 1);
	if (ret < 0) {
		fprintf(stderr, "raw-null: queue %u: io_uring: %s\n", q->id, strerror(-ret));
		queue_ready(q, ret);
		return NULL;
	}
	for (tag = 0; tag < depth; tag++)
		queue_cmd(&ring, UBLK_U_IO_FETCH_REQ, q->id, tag, -1, bufs + (size_t)tag * g.max_io);
	ret = io_uring_submit(&ring);
	queue_ready(q, ret < 0 ? ret : 0);
	if (ret < 0)
		return NULL;

	while (ended < depth) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "raw-null: queue %u: %s\n", q->id, strerror(-ret));
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			const struct ublksrv_io_desc *iod;
			int res;

			n++;
			tag = (unsigned int)cqe->user_data;
			if (cqe->res != UBLK_IO_RES_OK) {	/* ABORT: the device stops */
				ended++;
				continue;
			}
			iod = &descs[tag];
			if (touch)	/* volatile reads: never elided */
				(void)touch_pages(touch, g.touch);
			if (g.calls)
				called += call_n(g.calls, tag);
			switch (ublksrv_get_op(iod)) {
			case UBLK_IO_OP_READ:
			case UBLK_IO_OP_WRITE:
				res = (int)(iod->nr_sectors << 9);
				break;
			case UBLK_IO_OP_FLUSH:
			case UBLK_IO_OP_DISCARD:
			case UBLK_IO_OP_WRITE_ZEROES:
				res = 0;
				break;
			default:
				res = -EOPNOTSUPP;
			}
			queue_cmd(&ring, UBLK_U_IO_COMMIT_AND_FETCH_REQ, q->id, tag, res,
				  bufs + (size_t)tag * g.max_io);
		}
		io_uring_cq_advance(&ring, n);
	}
	__asm__ volatile("" : : "r"(called));	/* --calls: a use of their results */
	io_uring_queue_exit(&ring);
	munmap((void *)descs, descs_len);
	munmap(bufs, (size_t)depth * g.max_io);
	if (touch)
		munmap(touch, (size_t)g.touch * 4096);
	/* Ended without being asked (STOP_DEV from elsewhere): tell main. */
	kill(getpid(), SIGUSR1);
	return NULL;
}

/* ---- set-up and tear-down --------------------------------------------- */

static int parse_size(const char *s, unsigned long long *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'T': case 't': n <<= 10; /* fall through */
	case 'G': case 'g': n <<= 10; /* fall through */
	case 'M': case 'm': n <<= 10; /* fall through */
	case 'K': case 'k': n <<= 10; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end && strcmp(end, "iB") && strcmp(end, "B"))
		return -1;
	*v = n;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: raw-null [-q QUEUES] [-d DEPTH] [-s SIZE] [-m MAX_IO] [--defer] [--no-pin]\n"
		   "                [--touch PAGES] [--calls N] [--foreground]\n"
		   "  The thinnest ublk null server (liburing only, copy mode): the baseline of\n"
		   "  `make bench`.  Prints /dev/ublkbN (id N) when live; SIGTERM/SIGINT deletes it.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "max-io", required_argument, NULL, 'm' },
		{ "defer", no_argument, NULL, 'D' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "touch", required_argument, NULL, 'T' },
		{ "calls", required_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	struct ublk_params p;
	sigset_t sigs;
	char path[64];
	unsigned int i, started = 0;
	int opt, ret, sig, status = 0;

	while ((opt = getopt_long(argc, argv, "q:d:s:m:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			if (parse_size(optarg, &v) || v < 1 || v > MAX_QUEUES)
				die("bad -q '%s' (1..%d)", optarg, MAX_QUEUES);
			g.nr_queues = v;
			break;
		case 'd':
			if (parse_size(optarg, &v) || v < 1 || v > UBLK_MAX_QUEUE_DEPTH)
				die("bad -d '%s' (1..%d)", optarg, UBLK_MAX_QUEUE_DEPTH);
			g.depth = v;
			break;
		case 's':
			if (parse_size(optarg, &v) || v < 4096 || v % 4096)
				die("bad -s '%s' (a multiple of 4K)", optarg);
			g.size = v;
			break;
		case 'm':
			if (parse_size(optarg, &v) || v < 4096 || v > (1 << 20) || v % 4096)
				die("bad -m '%s' (4K..1M, a multiple of 4K)", optarg);
			g.max_io = v;
			break;
		case 'D': g.defer = true; break;
		case 'P': g.pin = false; break;
		case 'T':
			if (parse_size(optarg, &v) || v > 4096)
				die("bad --touch '%s' (0..4096 pages)", optarg);
			g.touch = v;
			break;
		case 'C':
			if (parse_size(optarg, &v) || v > 16)
				die("bad --calls '%s' (0..16 functions)", optarg);
			g.calls = v;
			break;
		case 'f': break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	g.ctrl_fd = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
	if (g.ctrl_fd < 0)
		die("/dev/ublk-control: %s", strerror(errno));
	ret = io_uring_queue_init(4, &g.ctrl_ring, IORING_SETUP_SQE128);
	if (ret < 0)
		die("control ring: %s", strerror(-ret));

	memset(&g.info, 0, sizeof(g.info));
	g.info.dev_id = (uint32_t)-1;		/* the kernel picks the id */
	g.info.nr_hw_queues = g.nr_queues;
	g.info.queue_depth = g.depth;
	g.info.max_io_buf_bytes = g.max_io;
	g.info.flags = UBLK_F_CMD_IOCTL_ENCODE;
	ret = ctrl_cmd(UBLK_U_CMD_ADD_DEV, 0xffff, &g.info, sizeof(g.info), 0);
	if (ret < 0)
		die("ADD_DEV: %s", strerror(-ret));
	ret = ctrl_cmd(UBLK_U_CMD_GET_DEV_INFO, 0xffff, &g.info, sizeof(g.info), 0);
	if (ret < 0) {
		fprintf(stderr, "raw-null: GET_DEV_INFO: %s\n", strerror(-ret));
		status = 1;
		goto del;
	}
	g.nr_queues = g.info.nr_hw_queues;
	g.depth = g.info.queue_depth;
	g.max_io = g.info.max_io_buf_bytes;

	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
	p.basic.logical_bs_shift = 9;
	p.basic.physical_bs_shift = 12;
	p.basic.io_min_shift = 9;
	p.basic.io_opt_shift = 12;
	p.basic.max_sectors = g.max_io >> 9;
	p.basic.dev_sectors = g.size >> 9;
	p.discard.discard_granularity = 512;	/* same as the framework's null target */
	p.discard.max_discard_sectors = UINT32_MAX >> 9;
	p.discard.max_write_zeroes_sectors = UINT32_MAX >> 9;
	p.discard.max_discard_segments = 1;
	ret = ctrl_cmd(UBLK_U_CMD_SET_PARAMS, 0xffff, &p, sizeof(p), 0);
	if (ret < 0) {
		fprintf(stderr, "raw-null: SET_PARAMS: %s\n", strerror(-ret));
		status = 1;
		goto del;
	}

	snprintf(path, sizeof(path), "/dev/ublkc%u", g.info.dev_id);
	for (i = 0; i < 100; i++) {	/* devtmpfs creates it at ADD_DEV; be patient */
		g.cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (g.cdev_fd >= 0 || errno != ENOENT)
			break;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	if (g.cdev_fd < 0) {
		fprintf(stderr, "raw-null: %s: %s\n", path, strerror(errno));
		status = 1;
		goto del;
	}

	/* Signals go to sigwait() in this thread only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	for (i = 0; i < g.nr_queues; i++) {
		struct queue *q = &g.queues[i];

		q->id = i;
		q->pin = g.pin;
		CPU_ZERO(&q->cpus);
		/* the kernel reads the queue from data[0], not queue_id */
		if (ctrl_cmd(UBLK_U_CMD_GET_QUEUE_AFFINITY, (uint16_t)-1, &q->cpus,
			     sizeof(q->cpus), i) < 0)
			CPU_ZERO(&q->cpus);
		if (pthread_create(&q->thread, NULL, queue_thread, q)) {
			fprintf(stderr, "raw-null: cannot create queue thread %u\n", i);
			status = 1;
			break;
		}
		started++;
	}
	pthread_mutex_lock(&g.lock);
	while (g.nr_ready < started)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
	for (i = 0; i < started; i++)
		if (g.queues[i].setup_err)
			status = 1;

	if (!status) {
		ret = ctrl_cmd(UBLK_U_CMD_START_DEV, 0xffff, NULL, 0, getpid());
		if (ret < 0) {
			fprintf(stderr, "raw-null: START_DEV: %s\n", strerror(-ret));
			status = 1;
		}
	}
	if (!status) {
		printf("/dev/ublkb%u (id %u)\n", g.info.dev_id, g.info.dev_id);
		fflush(stdout);
		sigwait(&sigs, &sig);
	}

	/* STOP_DEV aborts every tag's command: the queue threads end. */
	ret = ctrl_cmd(UBLK_U_CMD_STOP_DEV, 0xffff, NULL, 0, 0);
	if (ret < 0 && ret != -ENODEV)
		fprintf(stderr, "raw-null: STOP_DEV: %s\n", strerror(-ret));
	for (i = 0; i < started; i++)
		pthread_join(g.queues[i].thread, NULL);
	close(g.cdev_fd);
del:
	ret = ctrl_cmd(UBLK_U_CMD_DEL_DEV, 0xffff, NULL, 0, 0);
	if (ret < 0 && ret != -ENODEV) {
		fprintf(stderr, "raw-null: DEL_DEV: %s\n", strerror(-ret));
		status = 1;
	}
	return status;
}
