// SPDX-License-Identifier: MIT
/*
 * shmem.c - shared-memory zero-copy pools (UBLK_F_SHMEM_ZC).
 *
 * A pool is a MAP_SHARED mapping of a memfd or a hugetlbfs file.  A server
 * registers pools with its device (REG_BUF); the kernel pins their pages and,
 * when a request's data lies inside one, passes "index | offset" instead of
 * copying.  The queue layer turns that back into a pointer through the
 * device's pool table (ublkfw_shmem_lookup), checking index and bounds, so a
 * target sees an ordinary io->data.
 *
 * Also here: the per-device registration socket (<run>/<id>.sock, the kublk
 * protocol: a memfd in SCM_RIGHTS with a 1-byte payload, a 32-bit index or
 * negative errno back), the statistics socket (<run>/<id>.ctl: "stats" ->
 * one JSON line), and the client side of both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ALLOC_BLOCK	4096UL

struct ublkfw_shmem_pool {
	int fd;
	void *base;
	size_t size;
	int index;			/* registered index, -1 when not registered */
	pthread_mutex_t lock;		/* allocator */
	uint32_t *runs;			/* runs[i]: blocks allocated starting at block i */
	size_t nblocks;
};

/* The queue thread of this thread, if any: UNREG_BUF must never run there. */
static __thread const struct ublkfw_dev *tls_queue_dev;

void ublkfw_shmem_mark_queue_thread(const struct ublkfw_dev *dev)
{
	tls_queue_dev = dev;
}

/* ---- pools ---------------------------------------------------------------- */

static int pool_map(int fd, struct ublkfw_shmem_pool **poolp)
{
	struct ublkfw_shmem_pool *pool;
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	if (st.st_size % sysconf(_SC_PAGESIZE))
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->size = st.st_size;
	pool->base = mmap(NULL, pool->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (pool->base == MAP_FAILED) {
		/* a write-sealed memfd maps read-only */
		pool->base = mmap(NULL, pool->size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
		if (pool->base == MAP_FAILED) {
			int err = -errno;

			free(pool);
			return err;
		}
	}
	pool->fd = fd;
	pool->index = -1;
	pool->nblocks = pool->size / ALLOC_BLOCK;
	pthread_mutex_init(&pool->lock, NULL);
	*poolp = pool;
	return 0;
}

int ublkfw_shmem_pool_from_fd(int fd, struct ublkfw_shmem_pool **pool)
{
	int ret = pool_map(fd, pool);

	if (ret)
		close(fd);
	return ret;
}

int ublkfw_shmem_pool_create(size_t size, unsigned int flags, struct ublkfw_shmem_pool **pool)
{
	size_t unit = (flags & UBLKFW_SHMEM_HUGE) ? 2UL << 20 : (size_t)sysconf(_SC_PAGESIZE);
	int fd;

	if (!size)
		return -EINVAL;
	size = (size + unit - 1) / unit * unit;
	fd = memfd_create("ublkfw-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING |
			  ((flags & UBLKFW_SHMEM_HUGE) ? MFD_HUGETLB : 0));
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return ublkfw_shmem_pool_from_fd(fd, pool);
}

int ublkfw_shmem_pool_open_hugetlbfs(const char *path, struct ublkfw_shmem_pool **pool)
{
	struct statfs sfs;
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) || (unsigned long)sfs.f_type != HUGETLBFS_MAGIC) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size % sfs.f_bsize) {
		close(fd);
		return -EINVAL;
	}
	return ublkfw_shmem_pool_from_fd(fd, pool);
}

void ublkfw_shmem_pool_destroy(struct ublkfw_shmem_pool *pool)
{
	if (!pool)
		return;
	munmap(pool->base, pool->size);
	close(pool->fd);
	free(pool->runs);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

void *ublkfw_shmem_pool_base(const struct ublkfw_shmem_pool *pool) { return pool->base; }
size_t ublkfw_shmem_pool_size(const struct ublkfw_shmem_pool *pool) { return pool->size; }
int ublkfw_shmem_pool_fd(const struct ublkfw_shmem_pool *pool) { return pool->fd; }

/* ---- the client's allocator: first fit over 4 KiB blocks ---------------- */

void *ublkfw_shmem_alloc(struct ublkfw_shmem_pool *pool, size_t size)
{
	size_t need = (size + ALLOC_BLOCK - 1) / ALLOC_BLOCK, i = 0, run;
	void *p = NULL;

	if (!need || need > pool->nblocks)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	if (!pool->runs)
		pool->runs = calloc(pool->nblocks, sizeof(*pool->runs));
	while (pool->runs && i + need <= pool->nblocks) {
		for (run = 0; run < need && !pool->runs[i + run]; run++)
			;
		if (run == need) {
			/* runs[] marks every block of an allocation: its length at
			 * the first, UINT32_MAX at the others (in use). */
			pool->runs[i] = need;
			for (run = 1; run < need; run++)
				pool->runs[i + run] = UINT32_MAX;
			p = (char *)pool->base + i * ALLOC_BLOCK;
			break;
		}
		i += run + 1;
		while (i < pool->nblocks && pool->runs[i] == UINT32_MAX)
			i++;
	}
	pthread_mutex_unlock(&pool->lock);
	return p;
}

void ublkfw_shmem_free(struct ublkfw_shmem_pool *pool, void *ptr)
{
	size_t i, n;

	if (!ptr)
		return;
	i = ((char *)ptr - (char *)pool->base) / ALLOC_BLOCK;
	pthread_mutex_lock(&pool->lock);
	if (pool->runs && i < pool->nblocks && pool->runs[i] && pool->runs[i] != UINT32_MAX) {
		n = pool->runs[i];
		memset(&pool->runs[i], 0, n * sizeof(*pool->runs));
	}
	pthread_mutex_unlock(&pool->lock);
}

/* ---- the device's pool table ------------------------------------------- */

int ublkfw_shmem_table_init(struct ublkfw_dev *dev)
{
	dev->shm_pools = calloc(UBLK_SHMEM_BUF_MAX_INDEX + 1, sizeof(*dev->shm_pools));
	return dev->shm_pools ? 0 : -ENOMEM;
}

void *ublkfw_shmem_lookup(struct ublkfw_dev *dev, uint64_t addr, uint32_t len)
{
	uint64_t off = addr & UBLK_SHMEM_ZC_OFF_MASK;
	unsigned int idx = (addr >> UBLK_SHMEM_ZC_IDX_SHIFT) & UBLK_SHMEM_ZC_IDX_MASK;
	struct ublkfw_shmem_pool *pool;

	if (!dev->shm_pools || (addr >> 48))
		return NULL;
	pool = atomic_load_explicit(&dev->shm_pools[idx], memory_order_acquire);
	/*
	 * The kernel may hand out a new index as soon as REG_BUF returns, just
	 * before ublkfw_dev_shmem_register() records it here.  While a
	 * registration is in flight, wait for it rather than fail the I/O.
	 * The wait is bounded: REG_BUF may freeze the queue, which waits for
	 * this very request when its index is really bad.
	 */
	for (int i = 0; !pool && i < 2000 && atomic_load(&dev->shm_reg_pending); i++) {
		nanosleep(&(struct timespec){ 0, 50 * 1000 }, NULL);
		pool = atomic_load_explicit(&dev->shm_pools[idx], memory_order_acquire);
	}
	if (!pool || off + len > pool->size)
		return NULL;
	return (char *)pool->base + off;
}

int ublkfw_dev_shmem_register(struct ublkfw_dev *dev, struct ublkfw_shmem_pool *pool,
			      unsigned int flags)
{
	struct ublk_shmem_buf_reg reg = {
		.addr = (uint64_t)(uintptr_t)pool->base,
		.len = pool->size,
		.flags = (flags & UBLKFW_SHMEM_READ_ONLY) ? UBLK_SHMEM_BUF_READ_ONLY : 0,
	};
	int idx;

	if (!dev->added || !(dev->info.flags & UBLK_F_SHMEM_ZC) || !dev->shm_pools)
		return -EOPNOTSUPP;
	if (tls_queue_dev == dev)
		return -EDEADLK;
	if (pool->index >= 0)
		return -EBUSY;
	atomic_fetch_add(&dev->shm_reg_pending, 1);	/* see ublkfw_shmem_lookup() */
	idx = ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_REG_BUF, dev->id, (uint16_t)-1, &reg,
			      sizeof(reg), 0);
	if (idx > UBLK_SHMEM_BUF_MAX_INDEX) {
		ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_UNREG_BUF, dev->id, (uint16_t)-1, NULL, 0, idx);
		idx = -ERANGE;
	}
	if (idx >= 0) {
		pool->index = idx;
		atomic_store_explicit(&dev->shm_pools[idx], pool, memory_order_release);
	}
	atomic_fetch_sub(&dev->shm_reg_pending, 1);
	return idx;
}

int ublkfw_dev_shmem_unregister(struct ublkfw_dev *dev, int index, struct ublkfw_shmem_pool **poolp)
{
	struct ublkfw_shmem_pool *pool;
	int ret;

	if (index < 0 || index > UBLK_SHMEM_BUF_MAX_INDEX || !dev->shm_pools)
		return -EINVAL;
	if (tls_queue_dev == dev)
		return -EDEADLK;	/* UNREG_BUF freezes this very queue */
	pool = atomic_load(&dev->shm_pools[index]);
	if (!pool)
		return -ENOENT;
	/* The kernel first: it freezes the queue, so once it returns no
	 * request in flight uses the index and none will be given it again. */
	ret = ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_UNREG_BUF, dev->id, (uint16_t)-1, NULL, 0,
			      index);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	atomic_store_explicit(&dev->shm_pools[index], NULL, memory_order_release);
	pool->index = -1;
	if (poolp)
		*poolp = pool;
	else
		ublkfw_shmem_pool_destroy(pool);
	return 0;
}

/* After DEL_DEV: the kernel released its pins; drop our mappings. */
void ublkfw_shmem_release_all(struct ublkfw_dev *dev)
{
	if (!dev->shm_pools)
		return;
	for (unsigned int i = 0; i <= UBLK_SHMEM_BUF_MAX_INDEX; i++) {
		struct ublkfw_shmem_pool *pool = atomic_load(&dev->shm_pools[i]);

		if (pool)
			ublkfw_shmem_pool_destroy(pool);
	}
	free(dev->shm_pools);
	dev->shm_pools = NULL;
}

/* ---- sockets: registration (kublk protocol) and statistics -------------- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One registration request on a connected socket: returns the reply. */
static int32_t handle_register(struct ublkfw_dev *dev, int conn)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct ublkfw_shmem_pool *pool;
	struct cmsghdr *cm;
	int fd = -1, nfds = 0, ret;
	ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return n == 0 ? -ENODATA : -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (nfds++ == 0)
				fd = f;
			else
				close(f);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		if (fd >= 0)
			close(fd);
		ublkfw_err(dev, "shmem socket: too many fds in one message: refused");
		return -EINVAL;
	}
	if (fd < 0) {
		ublkfw_err(dev, "shmem socket: a message without a memfd: refused");
		return -EINVAL;
	}
	if (nfds > 1)
		ublkfw_err(dev, "shmem socket: %d fds in one message: only the first is used", nfds);
	if (!(dev->info.flags & UBLK_F_SHMEM_ZC)) {
		close(fd);
		ublkfw_err(dev, "shmem socket: refused a memfd: the device was not created with --shmem-zc");
		return -EOPNOTSUPP;
	}
	ret = ublkfw_shmem_pool_from_fd(fd, &pool);
	if (ret) {
		ublkfw_err(dev, "shmem socket: cannot map the client's fd: %s", strerror(-ret));
		return ret;
	}
	ret = ublkfw_dev_shmem_register(dev, pool, dev->shmem_ro ? UBLKFW_SHMEM_READ_ONLY : 0);
	if (ret < 0) {
		ublkfw_err(dev, "shmem socket: %s", ret == -EEXIST ?
			   "these pages are already registered" : strerror(-ret));
		ublkfw_shmem_pool_destroy(pool);
		return ret;
	}
	ublkfw_info(dev, "shmem socket: registered a %zu-byte memfd as buffer %d", pool->size, ret);
	return ret;
}

static void reg_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ublkfw_dev *dev = w->data;
	int32_t reply = handle_register(dev, w->fd);

	(void)revents;
	if (reply == -EAGAIN || reply == -EINTR)
		return;
	/* A client may register several fds on one connection; after an
	 * error (a protocol violation or a refusal) it gets one reply and the
	 * connection is closed, so garbage is answered once, not per byte. */
	if (reply == -ENODATA || reply == -ECONNRESET ||
	    send(w->fd, &reply, sizeof(reply), MSG_NOSIGNAL) != sizeof(reply) || reply < 0) {
		ev_io_stop(loop, w);
		close(w->fd);
		free(w);
	}
}

static void read_stats(struct ublkfw_queue *q, uint64_t v[5])
{
	v[0] = atomic_load_explicit(&q->stats.zc_ios, memory_order_relaxed);
	v[1] = atomic_load_explicit(&q->stats.zc_bytes, memory_order_relaxed);
	v[2] = atomic_load_explicit(&q->stats.copy_ios, memory_order_relaxed);
	v[3] = atomic_load_explicit(&q->stats.copy_bytes, memory_order_relaxed);
	v[4] = atomic_load_explicit(&q->stats.zc_rejected, memory_order_relaxed);
}

/* {"zc_ios": .., "zc_bytes": .., "copy_ios": .., "copy_bytes": .., "zc_rejected": ..,
 *  "queues": [{"queue": 0, ...}, ...]} - the device totals first. */
static void write_stats(struct ublkfw_dev *dev, FILE *f)
{
	static const char *const names[5] = { "zc_ios", "zc_bytes", "copy_ios", "copy_bytes",
					      "zc_rejected" };
	uint64_t t[5] = { 0 }, v[5];
	unsigned int i;
	int k;

	for (i = 0; i < dev->nr_queues && dev->queues; i++) {
		read_stats(&dev->queues[i], v);
		for (k = 0; k < 5; k++)
			t[k] += v[k];
	}
	fputc('{', f);
	for (k = 0; k < 5; k++)
		fprintf(f, "\"%s\": %llu, ", names[k], (unsigned long long)t[k]);
	fprintf(f, "\"queues\": [");
	for (i = 0; i < dev->nr_queues && dev->queues; i++) {
		read_stats(&dev->queues[i], v);
		fprintf(f, "%s{\"queue\": %u", i ? ", " : "", i);
		for (k = 0; k < 5; k++)
			fprintf(f, ", \"%s\": %llu", names[k], (unsigned long long)v[k]);
		fputc('}', f);
	}
	fprintf(f, "], \"filters\": ");
	ublkfw_stack_write_stats(dev, f);
	fprintf(f, "}\n");
}

static void ctl_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ublkfw_dev *dev = w->data;
	char req[64], *out = NULL;
	size_t outlen = 0;
	ssize_t n = recv(w->fd, req, sizeof(req) - 1, 0);
	FILE *f;

	(void)revents;
	if (n > 0) {
		req[n] = '\0';
		f = open_memstream(&out, &outlen);
		if (f) {
			int index;

			if (!strncmp(req, "stats", 5)) {
				write_stats(dev, f);
			} else if (sscanf(req, "unreg %d", &index) == 1) {
				/* on the main thread: UNREG_BUF may freeze the queue */
				int ret = ublkfw_dev_shmem_unregister(dev, index, NULL);

				fprintf(f, "{\"result\": %d}\n", ret);
				if (!ret)
					ublkfw_info(dev, "buffer %d unregistered", index);
			} else {
				fprintf(f, "{\"error\": \"unknown request: say stats or unreg INDEX\"}\n");
			}
			fclose(f);
			if (send(w->fd, out, outlen, MSG_NOSIGNAL) < 0)
				n = 0;
			free(out);
		}
	}
	/* One request per connection. */
	ev_io_stop(loop, w);
	close(w->fd);
	free(w);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ublkfw_dev *dev = w->data;
	int conn = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	ev_io *cw;

	(void)revents;
	if (conn < 0)
		return;
	cw = malloc(sizeof(*cw));
	if (!cw) {
		close(conn);
		return;
	}
	ev_io_init(cw, w == &dev->reg_w ? reg_conn_cb : ctl_conn_cb, conn, EV_READ);
	cw->data = dev;
	ev_io_start(loop, cw);
}

static void sock_path(int id, const char *ext, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d.%s", ublkfw_run_dir(), id, ext);
}

static int start_listener(struct ublkfw_dev *dev, ev_io *w, const char *ext)
{
	char path[256];
	int fd;

	sock_path(dev->id, ext, path, sizeof(path));
	fd = listen_unix(path);
	if (fd < 0)
		return fd;
	ev_io_init(w, accept_cb, fd, EV_READ);
	w->data = dev;
	ev_io_start(dev->main_loop, w);
	return 0;
}

static void stop_listener(struct ublkfw_dev *dev, ev_io *w, const char *ext)
{
	char path[256];

	if (!ev_is_active(w))
		return;
	ev_io_stop(dev->main_loop, w);
	close(w->fd);
	sock_path(dev->id, ext, path, sizeof(path));
	unlink(path);
}

int ublkfw_sockets_start(struct ublkfw_dev *dev)
{
	int ret;

	mkdir(ublkfw_run_dir(), 0755);
	dev->sockets = true;
	ret = start_listener(dev, &dev->reg_w, "sock");
	if (!ret)
		ret = start_listener(dev, &dev->ctl_w, "ctl");
	return ret;
}

void ublkfw_sockets_stop(struct ublkfw_dev *dev)
{
	if (!dev->sockets)
		return;
	stop_listener(dev, &dev->reg_w, "sock");
	stop_listener(dev, &dev->ctl_w, "ctl");
	dev->sockets = false;
}

/* ---- client side -------------------------------------------------------- */

static int connect_unix(int id, const char *ext)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	sock_path(id, ext, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ublkfw_client_register(int dev_id, const struct ublkfw_shmem_pool *pool)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int32_t reply;
	int fd, ret;

	fd = connect_unix(dev_id, "sock");
	if (fd < 0)
		return fd;
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pool->fd, sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != 1)
		ret = -errno;
	else if (recv(fd, &reply, sizeof(reply), MSG_WAITALL) != sizeof(reply))
		ret = -EPROTO;
	else
		ret = reply;
	close(fd);
	return ret;
}

static int ctl_request(int dev_id, const char *req, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd = connect_unix(dev_id, "ctl");

	if (fd < 0)
		return fd;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(fd);
		return -EIO;
	}
	while (off + 1 < len && (n = recv(fd, buf + off, len - 1 - off, 0)) > 0)
		off += n;
	buf[off] = '\0';
	close(fd);
	return off ? 0 : -EPROTO;
}

int ublkfw_client_stats(int dev_id, char *buf, size_t len)
{
	return ctl_request(dev_id, "stats\n", buf, len);
}

int ublkfw_client_unregister(int dev_id, int index)
{
	char req[32], reply[128];
	long long res;
	int ret;

	snprintf(req, sizeof(req), "unreg %d\n", index);
	ret = ctl_request(dev_id, req, reply, sizeof(reply));
	if (ret)
		return ret;
	return ublkfw_json_get_num(reply, "result", &res) ? -EPROTO : (int)res;
}
