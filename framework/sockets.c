// SPDX-License-Identifier: MIT
/*
 * sockets.c - a serving device's two unix sockets in the run directory, on
 * the main loop: <id>.sock takes clients' memfds to register (the kernel
 * selftests' kublk protocol: a memfd in SCM_RIGHTS with a 1-byte payload, a
 * 32-bit index or negative errno back) and <id>.ctl answers one request per
 * connection ("stats": devstats.c; "unreg INDEX").
 *
 * Both are ways into the server for anyone who can connect, so: the
 * sockets are mode 0600 and a peer that is neither root nor the server's
 * own user (SO_PEERCRED) is closed at once; at most SOCK_MAX_CONNS
 * connections are open (then the listeners pause), each closed after
 * SOCK_IDLE_S without a request; out of descriptors, accepting pauses for
 * SOCK_PAUSE_S instead of spinning on EMFILE.
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

#define SOCK_MAX_CONNS	32	/* per device, both sockets together */
#define SOCK_IDLE_S	5.0	/* a connection silent for this long is closed */
#define SOCK_PAUSE_S	0.5	/* no accept() for this long after EMFILE */
#define SOCK_IO_TIMEOUT_MS	1000	/* a reply the peer does not read */

struct ublkfw_sock_conn {
	ev_io io;			/* first: callbacks get &io */
	ev_timer idle;
	struct ublkfw_dev *dev;
	struct ublkfw_sock_conn *prev, *next;
};

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
	/* 0600 whatever the umask (the peer check below is the real gate) */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
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

/* ---- connections ----------------------------------------------------------- */

static void listeners_set(struct ublkfw_dev *dev, bool on)
{
	ev_io *ws[] = { &dev->shm.reg_w, &dev->shm.ctl_w };

	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(ws); i++) {
		if (ws[i]->fd < 0)
			continue;
		if (on)
			ev_io_start(dev->main_loop, ws[i]);
		else
			ev_io_stop(dev->main_loop, ws[i]);
	}
}

/* Accept again unless at the limit or pausing after EMFILE. */
static void listeners_resume(struct ublkfw_dev *dev)
{
	if (dev->shm.sockets && dev->shm.nr_conns < SOCK_MAX_CONNS &&
	    !ev_is_active(&dev->shm.accept_pause))
		listeners_set(dev, true);
}

static void conn_close(struct ublkfw_sock_conn *c)
{
	struct ublkfw_dev *dev = c->dev;

	ev_io_stop(dev->main_loop, &c->io);
	ev_timer_stop(dev->main_loop, &c->idle);
	close(c->io.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		dev->shm.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	dev->shm.nr_conns--;
	listeners_resume(dev);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ublkfw_sock_conn *c = w->data;

	(void)loop;
	(void)revents;
	conn_close(c);
}

static void reg_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ublkfw_sock_conn *c = (struct ublkfw_sock_conn *)w;
	int32_t reply = handle_register(c->dev, w->fd);

	(void)revents;
	if (reply == -EAGAIN || reply == -EINTR)
		return;
	ev_timer_again(loop, &c->idle);
	/* A client may register several fds on one connection; after an
	 * error (a protocol violation or a refusal) it gets one reply and the
	 * connection is closed, so garbage is answered once, not per byte. */
	if (reply == -ENODATA || reply == -ECONNRESET ||
	    send(w->fd, &reply, sizeof(reply), MSG_NOSIGNAL) != sizeof(reply) || reply < 0)
		conn_close(c);
}

static void ctl_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ublkfw_sock_conn *c = (struct ublkfw_sock_conn *)w;
	struct ublkfw_dev *dev = c->dev;
	char req[64], *out = NULL;
	size_t outlen = 0;
	ssize_t n = recv(w->fd, req, sizeof(req) - 1, 0);
	FILE *f;

	(void)loop;
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
			/* bounded by SO_SNDTIMEO: a peer that does not read */
			send(w->fd, out, outlen, MSG_NOSIGNAL);
			free(out);
		}
	}
	/* One request per connection. */
	conn_close(c);
}

/* Root or the server's own user; anyone else is closed at once. */
static bool peer_allowed(struct ublkfw_dev *dev, int conn)
{
	static time_t last_said;	/* main thread only */
	struct ucred cred;
	socklen_t len = sizeof(cred);
	time_t now = time(NULL);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		ublkfw_err(dev, "socket: cannot tell who connected (%s): refused", strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	/* said at most once a second: a flood must not fill the log */
	if (now != last_said)
		ublkfw_err(dev, "socket: refused a connection of uid %u (pid %d): only root and uid %u may talk to this server",
			   (unsigned int)cred.uid, (int)cred.pid, (unsigned int)geteuid());
	last_said = now;
	return false;
}

static void accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ublkfw_dev *dev = w->data;

	(void)loop;
	(void)revents;
	listeners_resume(dev);
}

/* accept() failed: out of descriptors or memory pauses accepting rather
 * than spin on a listener that stays readable. */
static void accept_failed(struct ublkfw_dev *dev, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;		/* EAGAIN, ECONNABORTED, ...: nothing to wait for */
	ublkfw_err(dev, "socket: cannot accept: %s: not accepting for %.1f s", strerror(err),
		   SOCK_PAUSE_S);
	listeners_set(dev, false);
	ev_timer_set(&dev->shm.accept_pause, SOCK_PAUSE_S, 0.);
	ev_timer_start(dev->main_loop, &dev->shm.accept_pause);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ublkfw_dev *dev = w->data;
	struct timeval tv = { 0, SOCK_IO_TIMEOUT_MS * 1000 };
	struct ublkfw_sock_conn *c;
	int conn = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);

	(void)revents;
	if (conn < 0) {
		accept_failed(dev, errno);
		return;
	}
	if (!peer_allowed(dev, conn) || !(c = calloc(1, sizeof(*c)))) {
		close(conn);
		return;
	}
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->dev = dev;
	ev_io_init(&c->io, w == &dev->shm.reg_w ? reg_conn_cb : ctl_conn_cb, conn, EV_READ);
	ev_timer_init(&c->idle, idle_cb, 0., SOCK_IDLE_S);
	c->idle.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_again(loop, &c->idle);
	c->next = dev->shm.conns;
	if (c->next)
		c->next->prev = c;
	dev->shm.conns = c;
	if (++dev->shm.nr_conns >= SOCK_MAX_CONNS)
		listeners_set(dev, false);	/* until one closes */
}

/* ---- listeners ------------------------------------------------------------- */

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

	if (w->fd < 0)
		return;
	ev_io_stop(dev->main_loop, w);
	close(w->fd);
	w->fd = -1;
	ublkfw_run_path(dev->id, ext, path, sizeof(path));
	unlink(path);
}

int ublkfw_sockets_start(struct ublkfw_dev *dev)
{
	int ret;

	ublkfw_run_dir_make();
	dev->shm.reg_w.fd = dev->shm.ctl_w.fd = -1;
	ev_timer_init(&dev->shm.accept_pause, accept_pause_cb, SOCK_PAUSE_S, 0.);
	dev->shm.accept_pause.data = dev;
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
	dev->shm.sockets = false;	/* no listeners_resume() from here on */
	ev_timer_stop(dev->main_loop, &dev->shm.accept_pause);
	while (dev->shm.conns)
		conn_close(dev->shm.conns);
	stop_listener(dev, &dev->shm.reg_w, "sock");
	stop_listener(dev, &dev->shm.ctl_w, "ctl");
}

