// SPDX-License-Identifier: MIT
/*
 * client.c - the client side of a device's sockets (sockets.c): register a
 * pool, unregister an index, fetch the statistics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json.h>
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


/* -ETIMEDOUT for a socket call that ran into UBLKFW_CLIENT_TIMEOUT_MS. */
static int sock_err(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
}

static int connect_unix(int id, const char *ext)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { UBLKFW_CLIENT_TIMEOUT_MS / 1000, UBLKFW_CLIENT_TIMEOUT_MS % 1000 * 1000 };
	int fd, err;

	ublkfw_run_path(id, ext, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_SNDTIMEO also bounds connect() to a full backlog (AF_UNIX). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = sock_err();
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
		ret = sock_err();
	else if ((ret = recv(fd, &reply, sizeof(reply), MSG_WAITALL)) != sizeof(reply))
		ret = ret < 0 ? sock_err() : -EPROTO;
	else
		ret = reply;
	close(fd);
	return ret;
}

static int ctl_request(int dev_id, const char *req, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n = 0;
	int fd = connect_unix(dev_id, "ctl");

	if (fd < 0)
		return fd;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		n = sock_err();
		close(fd);
		return (int)n;
	}
	while (off + 1 < len && (n = recv(fd, buf + off, len - 1 - off, 0)) > 0)
		off += n;
	if (n < 0) {
		n = sock_err();
		close(fd);
		return (int)n;
	}
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
	struct json_object *doc, *res;
	int64_t v;
	int ret;

	snprintf(req, sizeof(req), "unreg %d\n", index);
	ret = ctl_request(dev_id, req, reply, sizeof(reply));
	if (ret)
		return ret;
	/* {"result": 0 or -errno} */
	doc = json_tokener_parse(reply);
	ret = -EPROTO;
	if (json_object_object_get_ex(doc, "result", &res) && json_object_is_type(res, json_type_int)) {
		v = json_object_get_int64(res);
		if (v <= 0 && v >= -4095)
			ret = (int)v;
	}
	json_object_put(doc);
	return ret;
}

