// SPDX-License-Identifier: MIT
/*
 * sockets.c - a serving device's two unix sockets in the run directory, on
 * the main loop: <id>.sock takes clients' memfds to register (the kernel
 * selftests' kublk protocol: a memfd in SCM_RIGHTS with a 1-byte payload, a
 * 32-bit index or negative errno back) and <id>.ctl answers one request per
 * connection ("stats": devstats.c; "unreg INDEX").
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

#include "shmem.h"
#include "state.h"


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
	ret = ublkfw_dev_shmem_register(dev, pool, dev->shm.read_only ? UBLKFW_SHMEM_READ_ONLY : 0);
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
				ublkfw_dev_write_stats(dev, f);
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
	ev_io_init(cw, w == &dev->shm.reg_w ? reg_conn_cb : ctl_conn_cb, conn, EV_READ);
	cw->data = dev;
	ev_io_start(loop, cw);
}

static int start_listener(struct ublkfw_dev *dev, ev_io *w, const char *ext)
{
	char path[256];
	int fd;

	ublkfw_run_path(dev->id, ext, path, sizeof(path));
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
	ublkfw_run_path(dev->id, ext, path, sizeof(path));
	unlink(path);
}

int ublkfw_sockets_start(struct ublkfw_dev *dev)
{
	int ret;

	ublkfw_run_dir_make();
	dev->shm.sockets = true;
	ret = start_listener(dev, &dev->shm.reg_w, "sock");
	if (!ret)
		ret = start_listener(dev, &dev->shm.ctl_w, "ctl");
	return ret;
}

void ublkfw_sockets_stop(struct ublkfw_dev *dev)
{
	if (!dev->shm.sockets)
		return;
	stop_listener(dev, &dev->shm.reg_w, "sock");
	stop_listener(dev, &dev->shm.ctl_w, "ctl");
	dev->shm.sockets = false;
}

