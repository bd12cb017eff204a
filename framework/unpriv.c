// SPDX-License-Identifier: MIT
/*
 * unpriv.c - unprivileged devices (UBLK_F_UNPRIVILEGED_DEV, --unprivileged):
 * a normal user's own device, which only that user and root may open.
 *
 * The kernel lets anyone who can open /dev/ublk-control add one, and
 * checks every later command of the device against the caller's right to
 * open its /dev/ublkcN (ctrl.c sends that path).  The node is root's when
 * devtmpfs makes it: the udev rule (udev/99-ublk-fw.rules.in) runs
 * ublk-fw-udev, which gives /dev/ublkcN and /dev/ublkbN to the device's
 * owner.  Here: what is refused before ADD_DEV, and the waits for udev.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"

#define RECOVERY_FLAGS	(UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | \
			 UBLK_F_USER_RECOVERY_FAIL_IO)
#define UDEV_CONTROL	"/run/udev/control"

bool ublkfw_dev_is_unprivileged(const struct ublkfw_dev *dev)
{
	return dev->conf.flags_req & UBLK_F_UNPRIVILEGED_DEV;
}

/* Who may ask for what: root's devices are privileged, a user's are not. */
static int check_who(struct ublkfw_dev *dev, bool unpriv)
{
	if (unpriv && geteuid() == 0) {
		ublkfw_err(dev, "--unprivileged is a normal user's own device, and root's devices are privileged: run it as that user, or leave out --unprivileged");
		return -EINVAL;
	}
	if (!unpriv && geteuid() != 0) {
		ublkfw_err(dev, "not root: a normal user's device must be unprivileged: add --unprivileged (see ublk-fw-ctl(8), UNPRIVILEGED DEVICES)");
		return -EPERM;
	}
	return 0;
}

/* What 6.12's ublk_ctrl_add_dev() drops (recovery) or refuses (user copy)
 * for an unprivileged device, refused here with a reason. */
static int check_flags(struct ublkfw_dev *dev)
{
	if (dev->conf.recover || (dev->conf.flags_req & RECOVERY_FLAGS)) {
		ublkfw_err(dev, "%s is not for unprivileged devices (the kernel takes recovery away from them): leave it out",
			   dev->conf.recover ? "--recover" : "--recovery");
		return -EINVAL;
	}
	if (dev->conf.flags_req & UBLK_F_USER_COPY) {
		ublkfw_err(dev, "--user-copy is not for unprivileged devices (the kernel refuses it): leave it out");
		return -EINVAL;
	}
	return 0;
}

int ublkfw_unpriv_check(struct ublkfw_dev *dev)
{
	bool unpriv = ublkfw_dev_is_unprivileged(dev);
	int ret = check_who(dev, unpriv);

	if (ret || !unpriv)
		return ret;
	ret = check_flags(dev);
	if (ret)
		return ret;
	if (access(UDEV_CONTROL, F_OK)) {
		ublkfw_err(dev, "udev is not running (no " UDEV_CONTROL "): an unprivileged device's nodes are handed to you by udev with the ublk-fw rule (make install)");
		return -ENODEV;
	}
	return 0;
}

struct node_wait {
	const char *path;
};

static bool node_is_ours(void *arg)
{
	const struct node_wait *w = arg;

	return !access(w->path, R_OK | W_OK);
}

int ublkfw_unpriv_wait_node(struct ublkfw_dev *dev, char kind)
{
	char path[32];
	struct node_wait w = { path };

	if (!ublkfw_dev_is_unprivileged(dev))
		return 0;
	snprintf(path, sizeof(path), "/dev/ublk%c%d", kind, dev->id);
	if (ublkfw_poll_until(node_is_ours, &w, UBLKFW_UDEV_WAIT_MS, 10000))
		return 0;
	if (kind == 'c')
		ublkfw_err(dev, "udev did not give you %s within %d s: is the ublk-fw udev rule installed (make install)? Only root can delete device %d now: ublk-fw-ctl del -n %d",
			   path, UBLKFW_UDEV_WAIT_MS / 1000, dev->id, dev->id);
	else
		ublkfw_err(dev, "udev did not give you %s within %d s: is the ublk-fw udev rule installed (make install)?",
			   path, UBLKFW_UDEV_WAIT_MS / 1000);
	return -ETIMEDOUT;
}
