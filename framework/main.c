// SPDX-License-Identifier: MIT
/*
 * main.c - ublkfw_main(): a target becomes a complete server program.
 *
 * Options are parsed and the target and its filters opened in the
 * foreground, so every usage or configuration error is printed directly.
 * Unless --foreground, the process then becomes a daemon (daemon.c), and
 * the child creates and serves the device (dev.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dev.h"
#include "options.h"
#include "state.h"
#include "shmem.h"
#include "daemon.h"
#include "usercopy.h"

int ublkfw_main(const struct ublkfw_target_ops *ops, int argc, char **argv)
{
	return ublkfw_main_cmd(ops, argc, argv, NULL);
}

/* The device before its command line: ops negotiated, the target's area. */
static int dev_prepare(struct ublkfw_dev *dev, struct ublkfw_target_ops *copy,
		       const struct ublkfw_target_ops *ops, const char *prog,
		       const char *usage_cmd)
{
	char err[160];

	if (ublkfw_target_ops_copy(copy, ops, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", ublkfw_progname(), err);
		return -1;
	}
	ublkfw_dev_init(dev, copy, prog);
	if (strrchr(dev->conf.prog, '/'))
		dev->conf.prog = strrchr(dev->conf.prog, '/') + 1;
	dev->conf.usage_cmd = usage_cmd;
	dev->conf.cwd = getcwd(NULL, 0);	/* before a daemon's chdir("/") */
	if (copy->dev_priv_size && !(dev->priv = dev->priv_area = calloc(1, copy->dev_priv_size))) {
		fprintf(stderr, "%s: out of memory\n", dev->conf.prog);
		return -1;
	}
	return 0;
}

/* --user-copy against the other options and the kernel's features. */
static bool user_copy_refused(struct ublkfw_dev *dev)
{
	struct ublkfw_ctrl c;
	uint64_t features = 0;
	const char *why;

	if (ublkfw_ctrl_open(&c) < 0) {
		fprintf(stderr, "%s: %s\n", dev->conf.prog, c.errmsg);
		return true;
	}
	if (ublkfw_ctrl_get_features(&c, &features) < 0)
		features = 0;	/* pre-6.5 kernels: no GET_FEATURES, no USER_COPY */
	ublkfw_ctrl_close(&c);
	why = ublkfw_uc_refusal(dev->conf.flags_req, features);
	if (why)
		fprintf(stderr, "%s: --user-copy: %s\n", dev->conf.prog, why);
	return why != NULL;
}

/* Everything that may refuse, before anything exists in the kernel:
 * privileges, zero copy, the target and its filters, the size. */
static int dev_check_and_open(struct ublkfw_dev *dev)
{
	char msg[512];

	if (ublkfw_check_privileges(dev->conf.prog) || ublkfw_unpriv_check(dev))
		return -1;
	if (ublkfw_run_dir()[0] != '/') {
		ublkfw_err(dev, "UBLKFW_RUN_DIR '%s' is not an absolute path: give one (a daemon works in /)",
			   ublkfw_run_dir());
		return -1;
	}
	if (ublkfw_run_dir_check(msg, sizeof(msg))) {
		ublkfw_err(dev, "%s", msg);
		return -1;
	}
	if (dev->conf.recover)
		dev->id = dev->conf.req_id;	/* known to the target from open() on */
	if ((dev->conf.flags_req & UBLK_F_USER_COPY) && user_copy_refused(dev))
		return -1;
	/* Zero copy: check the kernel and open the hugetlbfs pool before
	 * anything is created, so a refusal leaves nothing behind. */
	if ((dev->conf.flags_req & UBLK_F_SHMEM_ZC) && ublkfw_shmem_prepare(dev))
		return -1;
	if (ublkfw_stack_open(dev))
		return -1;
	dev->target_open = true;
	if (!dev->conf.size) {
		ublkfw_err(dev, "no device size: give one with -s SIZE");
		return -1;
	}
	if (dev->conf.size > UBLKFW_MAX_DEV_SIZE) {
		ublkfw_err(dev, "size %llu is more than the kernel can address: give at most %llu bytes (8 EiB - 512)",
			   (unsigned long long)dev->conf.size, (unsigned long long)UBLKFW_MAX_DEV_SIZE);
		return -1;
	}
	if (dev->conf.size % dev->conf.lbs) {
		ublkfw_err(dev, "size %llu is not a multiple of the %u-byte logical block size",
			   (unsigned long long)dev->conf.size, dev->conf.lbs);
		return -1;
	}
	return 0;
}

static void dev_release(struct ublkfw_dev *dev)
{
	if (dev->target_open)
		ublkfw_stack_close(dev);
	ublkfw_shmem_pool_destroy(dev->shm.htlb_pool);	/* if never registered */
	ublkfw_stack_free(dev);
	free(dev->priv_area);
	free(dev->conf.cwd);
}

int ublkfw_main_cmd(const struct ublkfw_target_ops *ops, int argc, char **argv,
		    const char *usage_cmd)
{
	struct ublkfw_target_ops copy;
	struct ublkfw_dev dev;
	int ret, status;

	if (dev_prepare(&dev, &copy, ops, argc > 0 ? argv[0] : ublkfw_progname(), usage_cmd))
		return 1;
	ret = ublkfw_parse_args(&dev, argc, argv);
	if (ret) {
		ret = ret > 0 ? 0 : 2;
	} else if (dev_check_and_open(&dev)) {
		ret = 1;
	} else if (!dev.conf.foreground && (ret = ublkfw_daemon_fork(&dev, &status)) != 0) {
		if (ret > 0)
			return status;	/* the parent; the child owns the target now */
		ret = 1;
	} else {
		ret = ublkfw_dev_run(&dev);
	}
	dev_release(&dev);
	return ret;
}
