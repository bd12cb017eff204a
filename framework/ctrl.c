// SPDX-License-Identifier: MIT
/*
 * ctrl.c - the control layer: synchronous ublk control commands on
 * /dev/ublk-control through a small SQE128 io_uring.  Every function returns
 * 0 (or a non-negative result) or a negative errno, and on failure leaves a
 * message naming the command in c->errmsg.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrl.h"

static const struct {
	unsigned int op;
	const char *name;
} cmd_names[] = {
	{ UBLK_U_CMD_GET_QUEUE_AFFINITY, "GET_QUEUE_AFFINITY" },
	{ UBLK_U_CMD_GET_DEV_INFO, "GET_DEV_INFO" },
	{ UBLK_U_CMD_ADD_DEV, "ADD_DEV" },
	{ UBLK_U_CMD_DEL_DEV, "DEL_DEV" },
	{ UBLK_U_CMD_START_DEV, "START_DEV" },
	{ UBLK_U_CMD_STOP_DEV, "STOP_DEV" },
	{ UBLK_U_CMD_SET_PARAMS, "SET_PARAMS" },
	{ UBLK_U_CMD_GET_PARAMS, "GET_PARAMS" },
	{ UBLK_U_CMD_START_USER_RECOVERY, "START_USER_RECOVERY" },
	{ UBLK_U_CMD_END_USER_RECOVERY, "END_USER_RECOVERY" },
	{ UBLK_U_CMD_GET_DEV_INFO2, "GET_DEV_INFO2" },
	{ UBLK_U_CMD_GET_FEATURES, "GET_FEATURES" },
	{ UBLK_U_CMD_DEL_DEV_ASYNC, "DEL_DEV_ASYNC" },
	{ UBLK_U_CMD_UPDATE_SIZE, "UPDATE_SIZE" },
	{ UBLK_U_CMD_QUIESCE_DEV, "QUIESCE_DEV" },
	{ UBLK_U_CMD_TRY_STOP_DEV, "TRY_STOP_DEV" },
	{ UBLK_U_CMD_REG_BUF, "REG_BUF" },
	{ UBLK_U_CMD_UNREG_BUF, "UNREG_BUF" },
};

const char *ublkfw_ctrl_cmd_name(unsigned int cmd_op)
{
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(cmd_names); i++)
		if (cmd_names[i].op == cmd_op)
			return cmd_names[i].name;
	return "UNKNOWN_CMD";
}

static const char *const feature_names[] = {
	"SUPPORT_ZERO_COPY", "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",
	"USER_RECOVERY", "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV",
	"CMD_IOCTL_ENCODE", "USER_COPY", "ZONED", "USER_RECOVERY_FAIL_IO",
	"UPDATE_SIZE", "AUTO_BUF_REG", "QUIESCE", "PER_IO_DAEMON",
	"BUF_REG_OFF_DAEMON", "BATCH_IO", "INTEGRITY", "SAFE_STOP_DEV",
	"NO_AUTO_PART_SCAN", "SHMEM_ZC", "IO_DESC_SIZE",
};

const char *ublkfw_feature_name(unsigned int bit)
{
	return bit < UBLKFW_ARRAY_SIZE(feature_names) ? feature_names[bit] : NULL;
}

const char *ublkfw_feature_label(unsigned int bit, char buf[16])
{
	const char *name = ublkfw_feature_name(bit);

	if (name)
		return name;
	snprintf(buf, 16, "BIT%u", bit);
	return buf;
}

const char *ublkfw_state_name(unsigned int state)
{
	static const char *const names[] = { "DEAD", "LIVE", "QUIESCED", "FAIL_IO" };

	return state < UBLKFW_ARRAY_SIZE(names) ? names[state] : NULL;
}

char *ublkfw_flags_str(uint64_t flags, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int bit = 0; bit < 64; bit++) {
		char unknown[16];
		int n;

		if (!(flags & (1ULL << bit)))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? "|" : "",
			     ublkfw_feature_label(bit, unknown));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += n;
	}
	return buf;
}

#define NO_CTRL_DEV_FMT "%s does not exist: load the ublk driver with 'modprobe ublk_drv'"

int ublkfw_check_privileges(const char *prog)
{
	if (access(UBLKFW_CTRL_DEV, F_OK)) {
		fprintf(stderr, "%s: " NO_CTRL_DEV_FMT "\n", prog, UBLKFW_CTRL_DEV);
		return -ENODEV;
	}
	/* A normal user gets in where the udev rule of unprivileged devices
	 * opened the control node to everyone; the kernel checks the rest. */
	if (geteuid() != 0 && access(UBLKFW_CTRL_DEV, R_OK | W_OK)) {
		fprintf(stderr, "%s: must be run as root: %s is root's only (with the ublk-fw udev rule installed, a normal user may make their own devices with --unprivileged)\n",
			prog, UBLKFW_CTRL_DEV);
		return -EPERM;
	}
	return 0;
}

int ublkfw_ctrl_open(struct ublkfw_ctrl *c)
{
	int ret;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->fd = open(UBLKFW_CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			snprintf(c->errmsg, sizeof(c->errmsg), NO_CTRL_DEV_FMT, UBLKFW_CTRL_DEV);
		else if (ret == -EACCES || ret == -EPERM)
			snprintf(c->errmsg, sizeof(c->errmsg),
				 "cannot open %s: %s (run as root)", UBLKFW_CTRL_DEV, strerror(-ret));
		else
			snprintf(c->errmsg, sizeof(c->errmsg), "cannot open %s: %s",
				 UBLKFW_CTRL_DEV, strerror(-ret));
		return ret;
	}
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		snprintf(c->errmsg, sizeof(c->errmsg), "io_uring_queue_init: %s", strerror(-ret));
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	return 0;
}

void ublkfw_ctrl_close(struct ublkfw_ctrl *c)
{
	if (c->fd < 0)
		return;
	io_uring_queue_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_destroy(&c->lock);
}

static int ctrl_submit(struct ublkfw_ctrl *c, unsigned int cmd_op, uint32_t dev_id,
		       uint16_t queue_id, void *buf, uint16_t len, uint16_t path_len,
		       uint64_t data0)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *cmd;
	int ret;

	sqe = io_uring_get_sqe(&c->ring);
	if (!sqe)
		return -EBUSY;
	/* SQE128: zero the SQE and its 80-byte command area separately
	 * (one 128-byte memset trips gcc's -Warray-bounds). */
	memset(sqe, 0, sizeof(*sqe));
	memset(sqe->cmd, 0, 80);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->fd;
	sqe->cmd_op = cmd_op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = dev_id;
	cmd->queue_id = queue_id;
	cmd->addr = (uint64_t)(uintptr_t)buf;
	cmd->len = len;
	cmd->dev_path_len = path_len;
	cmd->data[0] = data0;

	do {
		ret = io_uring_submit_and_wait(&c->ring, 1);
	} while (ret == -EINTR);
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

/* The command with the char device's path in front of its buffer, as the
 * kernel wants it for an unprivileged device: it checks that the caller may
 * open that node, then skips the path.  Output is copied back to buf. */
static int ctrl_submit_with_path(struct ublkfw_ctrl *c, unsigned int cmd_op, uint32_t dev_id,
				 uint16_t queue_id, void *buf, uint16_t len, uint64_t data0)
{
	char path[32], *both;
	uint16_t plen;
	int ret;

	plen = (uint16_t)snprintf(path, sizeof(path), "/dev/ublkc%u", dev_id);
	both = malloc((size_t)plen + len);
	if (!both)
		return -ENOMEM;
	memcpy(both, path, plen);
	if (len)
		memcpy(both + plen, buf, len);
	ret = ctrl_submit(c, cmd_op, dev_id, queue_id, both, plen + len, plen, data0);
	if (ret >= 0 && len)
		memcpy(buf, both + plen, len);
	/* no node: the device is gone, or going (its cdev goes first) */
	if (ret == -ENOENT)
		ret = -ENODEV;
	free(both);
	return ret;
}

/*
 * Whether dev_id's commands carry its path (UBLK_F_UNPRIVILEGED_DEV).  A
 * normal user can only reach unprivileged devices, so always.  Root asks
 * GET_DEV_INFO2, which takes the path on every device, once per device
 * (cached); without a node to name, the device is taken as root's own.
 */
static bool dev_wants_path(struct ublkfw_ctrl *c, uint32_t dev_id)
{
	struct ublksrv_ctrl_dev_info info;

	if (geteuid() != 0)
		return true;
	if (c->path_probed && c->path_dev == dev_id)
		return c->path_unpriv;
	memset(&info, 0, sizeof(info));
	c->path_probed = true;
	c->path_dev = dev_id;
	c->path_unpriv = ctrl_submit_with_path(c, UBLK_U_CMD_GET_DEV_INFO2, dev_id, (uint16_t)-1,
					       &info, sizeof(info), 0) >= 0 &&
			 (info.flags & UBLK_F_UNPRIVILEGED_DEV);
	return c->path_unpriv;
}

int ublkfw_ctrl_cmd(struct ublkfw_ctrl *c, unsigned int cmd_op, uint32_t dev_id,
		    uint16_t queue_id, void *buf, uint16_t len, uint64_t data0)
{
	bool per_dev = dev_id != (uint32_t)-1 && cmd_op != UBLK_U_CMD_ADD_DEV &&
		       cmd_op != UBLK_U_CMD_GET_FEATURES;
	int ret;

	pthread_mutex_lock(&c->lock);
	if (cmd_op == UBLK_U_CMD_ADD_DEV)
		c->path_probed = false;	/* an id may come back as another device */
	if (per_dev && dev_wants_path(c, dev_id))
		ret = ctrl_submit_with_path(c, cmd_op, dev_id, queue_id, buf, len, data0);
	else
		ret = ctrl_submit(c, cmd_op, dev_id, queue_id, buf, len, 0, data0);
	if (ret < 0) {
		if (dev_id == (uint32_t)-1)
			snprintf(c->errmsg, sizeof(c->errmsg), "%s: %s",
				 ublkfw_ctrl_cmd_name(cmd_op), strerror(-ret));
		else
			snprintf(c->errmsg, sizeof(c->errmsg), "%s (device %u): %s",
				 ublkfw_ctrl_cmd_name(cmd_op), dev_id, strerror(-ret));
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

const char *ublkfw_ctrl_dev_error(const struct ublkfw_ctrl *c, int id, int ret, char *buf,
				  size_t len)
{
	if (ret == -ENODEV)
		snprintf(buf, len, "no ublk device with id %d (see ublk-fw-ctl list)", id);
	else if (ret == -EACCES || ret == -EPERM)
		snprintf(buf, len, "device %d is not yours: only root and the user who made it may act on it",
			 id);
	else
		snprintf(buf, len, "%s", c->errmsg);
	return buf;
}

int ublkfw_ctrl_get_features(struct ublkfw_ctrl *c, uint64_t *features)
{
	*features = 0;
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_GET_FEATURES, (uint32_t)-1, (uint16_t)-1,
			       features, sizeof(*features), 0);
}

int ublkfw_ctrl_add_dev(struct ublkfw_ctrl *c, struct ublksrv_ctrl_dev_info *info)
{
	/* The kernel requires cmd.dev_id == info.dev_id ((u32)-1: it picks). */
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_ADD_DEV, info->dev_id, (uint16_t)-1,
			       info, sizeof(*info), 0);
}

int ublkfw_ctrl_del_dev(struct ublkfw_ctrl *c, uint32_t dev_id)
{
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_DEL_DEV, dev_id, (uint16_t)-1, NULL, 0, 0);
}

int ublkfw_ctrl_start_dev(struct ublkfw_ctrl *c, uint32_t dev_id, pid_t pid)
{
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_START_DEV, dev_id, (uint16_t)-1, NULL, 0,
			       (uint64_t)pid);
}

int ublkfw_ctrl_stop_dev(struct ublkfw_ctrl *c, uint32_t dev_id)
{
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_STOP_DEV, dev_id, (uint16_t)-1, NULL, 0, 0);
}

int ublkfw_ctrl_get_info(struct ublkfw_ctrl *c, uint32_t dev_id,
			 struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_GET_DEV_INFO, dev_id, (uint16_t)-1, info,
			       sizeof(*info), 0);
}

int ublkfw_ctrl_set_params(struct ublkfw_ctrl *c, uint32_t dev_id, struct ublk_params *p)
{
	p->len = sizeof(*p);
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_SET_PARAMS, dev_id, (uint16_t)-1, p, sizeof(*p), 0);
}

int ublkfw_ctrl_get_params(struct ublkfw_ctrl *c, uint32_t dev_id, struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_GET_PARAMS, dev_id, (uint16_t)-1, p, sizeof(*p), 0);
}

int ublkfw_ctrl_get_queue_affinity(struct ublkfw_ctrl *c, uint32_t dev_id,
				   uint16_t q_id, cpu_set_t *set)
{
	CPU_ZERO(set);
	/* The queue goes in data[0]; the kernel fills a cpumask of len bytes. */
	return ublkfw_ctrl_cmd(c, UBLK_U_CMD_GET_QUEUE_AFFINITY, dev_id, (uint16_t)-1, set,
			       sizeof(*set), q_id);
}
