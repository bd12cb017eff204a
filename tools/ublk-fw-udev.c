// SPDX-License-Identifier: MIT
/*
 * ublk-fw-udev - run by udev (udev/99-ublk-fw.rules) when /dev/ublkcN or
 * /dev/ublkbN appears: an unprivileged device's nodes go to the user who
 * made it (the kernel's owner_uid/owner_gid), mode 0600, so that user -
 * and nobody else but root - may open them and send the device's control
 * commands.  Root's own devices are left as they are.
 *
 * usage: ublk-fw-udev ublkcN|ublkbN      (udev's %k; the node is /dev/%k)
 * Exit 0 when done or nothing to do; 1 with a line on stderr otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrl.h"

#define PROG "ublk-fw-udev"

/* "ublkc12" -> 'c', 12; -1 for anything else. */
static int parse_name(const char *name, char *kind, int *id)
{
	char *end;
	long v;

	if (strncmp(name, "ublk", 4) || (name[4] != 'c' && name[4] != 'b') ||
	    name[5] < '0' || name[5] > '9')
		return -1;
	errno = 0;
	v = strtol(name + 5, &end, 10);
	if (*end || errno || v > UBLKFW_MAX_DEV_ID)
		return -1;
	*kind = name[4];
	*id = (int)v;
	return 0;
}

/* The node must be the device's own kind: never chown something else
 * that was put at the path. */
static int give_node(const char *path, char kind, uid_t uid, gid_t gid)
{
	struct stat sb;

	if (lstat(path, &sb)) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (kind == 'c' ? !S_ISCHR(sb.st_mode) : !S_ISBLK(sb.st_mode)) {
		fprintf(stderr, PROG ": %s is not a %s device node: left alone\n", path,
			kind == 'c' ? "character" : "block");
		return 1;
	}
	if (chown(path, uid, gid) || chmod(path, 0600)) {
		fprintf(stderr, PROG ": cannot give %s to uid %u: %s\n", path, (unsigned int)uid,
			strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublkfw_ctrl c;
	char kind, path[64];
	int id, ret;

	if (argc != 2 || parse_name(argv[1], &kind, &id)) {
		fprintf(stderr, "usage: " PROG " ublkcN|ublkbN (run by udev, see ublk-fw-ctl(8))\n");
		return 2;
	}
	if (ublkfw_ctrl_open(&c) < 0) {
		fprintf(stderr, PROG ": %s\n", c.errmsg);
		return 1;
	}
	ret = ublkfw_ctrl_get_info(&c, (uint32_t)id, &info);
	ublkfw_ctrl_close(&c);
	if (ret < 0) {
		fprintf(stderr, PROG ": %s\n", c.errmsg);
		return 1;
	}
	if (!(info.flags & UBLK_F_UNPRIVILEGED_DEV))
		return 0;
	snprintf(path, sizeof(path), "/dev/%s", argv[1]);
	return give_node(path, kind, info.owner_uid, info.owner_gid);
}
