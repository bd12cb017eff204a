// SPDX-License-Identifier: MIT
/*
 * main.c - ublkfw_main(): a target becomes a complete server program.
 *
 * Options are parsed and the target opened in the foreground, so every usage
 * or configuration error is printed directly.  Unless --foreground, the
 * process then forks: the child creates and serves the device, the parent
 * waits on a pipe until the device is live (prints "/dev/ublkbN (id N)",
 * exit 0) or has failed (exit 1).  If the child dies during start-up after
 * ADD_DEV, the parent removes the device it left.
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

#include "internal.h"

/* Parent side of daemon mode: wait for "added N", then "ready N" or "fail". */
static int wait_for_child(struct ublkfw_dev *dev, pid_t child, int fd)
{
	char buf[256];
	size_t len = 0;
	int added = -1, ready = -1, failed = 0, status;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
	}
	close(fd);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		int id;

		if (sscanf(line, "added %d", &id) == 1)
			added = id;
		else if (sscanf(line, "ready %d", &id) == 1)
			ready = id;
		else if (!strncmp(line, "fail", 4))
			failed = 1;
	}
	if (ready >= 0) {
		printf("/dev/ublkb%d (id %d)\n", ready, ready);
		return 0;
	}
	waitpid(child, &status, 0);
	if (!failed) {
		/* The server died without a word (crash, OOM kill, SIGKILL). */
		fprintf(stderr, "%s: the server process died during start-up%s\n", dev->prog,
			added >= 0 ? "; removing the device it created" : "");
		if (added >= 0) {
			struct ublkfw_ctrl c;

			if (!ublkfw_ctrl_open(&c)) {
				ublkfw_ctrl_stop_dev(&c, added);
				ublkfw_ctrl_del_dev(&c, added);
				ublkfw_ctrl_close(&c);
			}
			ublkfw_state_remove(added);
		}
	}
	return 1;
}

/* Child side: messages to the waiting parent. */
void ublkfw_dev_notify(struct ublkfw_dev *dev, const char *what)
{
	char msg[64];
	int n;

	if (dev->ready_fd < 0)
		return;
	n = snprintf(msg, sizeof(msg), "%s %d\n", what, dev->id);
	if (write(dev->ready_fd, msg, n) != n)
		return;
	if (strcmp(what, "added"))
		dev->ready_fd = (close(dev->ready_fd), -1);
}

/* Daemon mode, once the id is known: <run dir>/<id>.log.  Until "ready",
 * messages go there, and errors to the waiting user's terminal too. */
void ublkfw_dev_open_log(struct ublkfw_dev *dev)
{
	char path[256];

	if (!dev->daemonized || dev->log_fd >= 0)
		return;
	snprintf(path, sizeof(path), "%s/%d.log", ublkfw_run_dir(), dev->id);
	mkdir(ublkfw_run_dir(), 0755);
	dev->log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
}

/* After "ready": all of the server's output goes to the log. */
void ublkfw_dev_detach_stdio(struct ublkfw_dev *dev)
{
	int null;

	if (!dev->daemonized)
		return;
	ublkfw_dev_open_log(dev);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	if (dev->log_fd >= 0) {
		dup2(dev->log_fd, STDOUT_FILENO);
		dup2(dev->log_fd, STDERR_FILENO);
		close(dev->log_fd);
		dev->log_fd = -1;
		dev->detached = true;
	}
}

static int shmem_prepare(struct ublkfw_dev *dev)
{
	struct ublkfw_ctrl c;
	uint64_t features = 0;
	int ret;

	if (ublkfw_ctrl_open(&c) < 0) {
		fprintf(stderr, "%s: %s\n", dev->prog, c.errmsg);
		return -1;
	}
	ret = ublkfw_ctrl_get_features(&c, &features);
	ublkfw_ctrl_close(&c);
	if (ret < 0 || !(features & UBLK_F_SHMEM_ZC)) {
		fprintf(stderr, "%s: --shmem-zc: this kernel's ublk driver has no UBLK_F_SHMEM_ZC "
			"(it needs Linux 7.1 or later, or ublk-fw's kernel/ patch series for 6.12)\n",
			dev->prog);
		return -1;
	}
	if (!dev->htlb_path)
		return 0;
	ret = ublkfw_shmem_pool_open_hugetlbfs(dev->htlb_path, &dev->htlb_pool);
	if (ret == -EMEDIUMTYPE)
		fprintf(stderr, "%s: --htlb %s: not a file on hugetlbfs (mount -t hugetlbfs none DIR, "
			"then create the file there)\n", dev->prog, dev->htlb_path);
	else if (ret == -EINVAL)
		fprintf(stderr, "%s: --htlb %s: its size must be a non-zero multiple of the huge "
			"page size (fallocate -l 4M FILE)\n", dev->prog, dev->htlb_path);
	else if (ret)
		fprintf(stderr, "%s: --htlb %s: %s\n", dev->prog, dev->htlb_path, strerror(-ret));
	return ret ? -1 : 0;
}

int ublkfw_main(const struct ublkfw_target_ops *ops, int argc, char **argv)
{
	return ublkfw_main_cmd(ops, argc, argv, NULL);
}

int ublkfw_main_cmd(const struct ublkfw_target_ops *ops, int argc, char **argv,
		    const char *usage_cmd)
{
	struct ublkfw_target_ops copy;
	struct ublkfw_dev dev;
	char err[160];
	int pipefd[2], ret;
	pid_t child;

	if (ublkfw_target_ops_copy(&copy, ops, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", ublkfw_progname(), err);
		return 1;
	}
	ublkfw_dev_init(&dev, &copy, argc > 0 ? argv[0] : ublkfw_progname());
	if (strrchr(dev.prog, '/'))
		dev.prog = strrchr(dev.prog, '/') + 1;
	dev.usage_cmd = usage_cmd;
	if (copy.dev_priv_size && !(dev.priv = calloc(1, copy.dev_priv_size))) {
		fprintf(stderr, "%s: out of memory\n", dev.prog);
		return 1;
	}
	ret = ublkfw_parse_args(&dev, argc, argv);
	if (ret) {
		ret = ret > 0 ? 0 : 2;
		goto out;
	}

	ret = 1;
	if (ublkfw_check_privileges(dev.prog))
		goto out;
	/* Zero copy: check the kernel and open the hugetlbfs pool before
	 * anything is created, so a refusal leaves nothing behind. */
	if ((dev.flags_req & UBLK_F_SHMEM_ZC) && shmem_prepare(&dev))
		goto out;
	if (ublkfw_stack_open(&dev))
		goto out;
	dev.target_open = true;
	if (!dev.size) {
		ublkfw_err(&dev, "no device size: give one with -s SIZE");
		ret = 1;
		goto out;
	}
	if (dev.size % dev.lbs) {
		ublkfw_err(&dev, "size %llu is not a multiple of the %u-byte logical block size",
			   (unsigned long long)dev.size, dev.lbs);
		ret = 1;
		goto out;
	}

	if (!dev.foreground) {
		fflush(stdout);
		fflush(stderr);
		if (pipe2(pipefd, O_CLOEXEC)) {
			ublkfw_err(&dev, "pipe: %s", strerror(errno));
			ret = 1;
			goto out;
		}
		child = fork();
		if (child < 0) {
			ublkfw_err(&dev, "fork: %s", strerror(errno));
			ret = 1;
			goto out;
		}
		if (child > 0) {
			close(pipefd[1]);
			/* The child owns the target now; do not close it here. */
			return wait_for_child(&dev, child, pipefd[0]);
		}
		close(pipefd[0]);
		setsid();
		dev.ready_fd = pipefd[1];
		dev.daemonized = true;
	}
	ret = ublkfw_dev_run(&dev);
out:
	if (dev.target_open)
		ublkfw_stack_close(&dev);
	ublkfw_shmem_pool_destroy(dev.htlb_pool);	/* if never registered */
	ublkfw_stack_free(&dev);
	if (copy.dev_priv_size)
		free(dev.priv);
	return ret;
}
