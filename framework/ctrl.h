/* SPDX-License-Identifier: MIT */
/*
 * ctrl.h - the control layer (ctrl.c): /dev/ublk-control commands.
 */
#ifndef UBLKFW_CTRL_H
#define UBLKFW_CTRL_H

#include <pthread.h>
#include <sched.h>
#include "ublkfw.h"
#include "ublk_uapi.h"
#include "util.h"

/* ---- control layer (ctrl.c) ------------------------------------------- */

struct ublkfw_ctrl {
	int fd;
	struct io_uring ring;
	pthread_mutex_t lock;
	/* whether path_dev is unprivileged (its commands carry its path) */
	bool path_probed, path_unpriv;
	uint32_t path_dev;
	char errmsg[160];	/* "ADD_DEV (dev 3): File exists" after a failure */
};

/* /dev/ublk-control, and root or a user it lets in (the udev rule of
 * unprivileged devices); else a one-line message on stderr and -errno. */
int ublkfw_check_privileges(const char *prog);
int ublkfw_ctrl_open(struct ublkfw_ctrl *c);
void ublkfw_ctrl_close(struct ublkfw_ctrl *c);
const char *ublkfw_ctrl_cmd_name(unsigned int cmd_op);
/* Raw command: returns cqe->res (>= 0) or a negative errno; sets errmsg. */
int ublkfw_ctrl_cmd(struct ublkfw_ctrl *c, unsigned int cmd_op, uint32_t dev_id,
		    uint16_t queue_id, void *buf, uint16_t len, uint64_t data0);
int ublkfw_ctrl_get_features(struct ublkfw_ctrl *c, uint64_t *features);
int ublkfw_ctrl_add_dev(struct ublkfw_ctrl *c, struct ublksrv_ctrl_dev_info *info);
int ublkfw_ctrl_del_dev(struct ublkfw_ctrl *c, uint32_t dev_id);
int ublkfw_ctrl_start_dev(struct ublkfw_ctrl *c, uint32_t dev_id, pid_t pid);
int ublkfw_ctrl_stop_dev(struct ublkfw_ctrl *c, uint32_t dev_id);
int ublkfw_ctrl_get_info(struct ublkfw_ctrl *c, uint32_t dev_id,
			 struct ublksrv_ctrl_dev_info *info);
int ublkfw_ctrl_set_params(struct ublkfw_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ublkfw_ctrl_get_params(struct ublkfw_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ublkfw_ctrl_get_queue_affinity(struct ublkfw_ctrl *c, uint32_t dev_id,
				   uint16_t q_id, cpu_set_t *set);

/* What a failed command on device id means to a user, in buf: no such
 * device, not theirs (EACCES/EPERM: root's, or another user's
 * unprivileged device), or the command's own error.  Returns buf. */
const char *ublkfw_ctrl_dev_error(const struct ublkfw_ctrl *c, int id, int ret, char *buf,
				  size_t len);

/* Feature bits and device states by name (NULL for unknown). */
const char *ublkfw_feature_name(unsigned int bit);
const char *ublkfw_state_name(unsigned int state);
/* The name of a feature bit, or "BIT<n>" (in buf) for one we do not know. */
const char *ublkfw_feature_label(unsigned int bit, char buf[16]);
/* "CMD_IOCTL_ENCODE|USER_COPY" into buf; returns buf. */
char *ublkfw_flags_str(uint64_t flags, char *buf, size_t len);

#endif
