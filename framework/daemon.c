// SPDX-License-Identifier: MIT
/*
 * daemon.c - a server's daemon mode.  The process forks: the child creates
 * and serves the device, the parent waits on a pipe until the device is live
 * (prints "/dev/ublkbN (id N)", exit 0) or has failed (exit 1).  If the child
 * dies during start-up after ADD_DEV, the parent removes the device it left.
 * Once the device id is known the child logs to <run dir>/<id>.log, and once
 * it is live all of its output goes there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "state.h"

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
		char log[256];

		fprintf(stderr, "%s: the server process died during start-up%s\n", dev->conf.prog,
			added >= 0 ? "; removing the device it created" : "");
		if (added >= 0) {
			struct ublkfw_ctrl c;

			if (!ublkfw_state_keep_log(added, log, sizeof(log)))
				fprintf(stderr, "%s: its log: %s\n", dev->conf.prog, log);

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
void ublkfw_daemon_notify(struct ublkfw_dev *dev, const char *what)
{
	char msg[64];
	int n;

	if (dev->daemon.ready_fd < 0)
		return;
	n = snprintf(msg, sizeof(msg), "%s %d\n", what, dev->id);
	if (write(dev->daemon.ready_fd, msg, n) != n)
		return;
	if (strcmp(what, "added"))
		dev->daemon.ready_fd = (close(dev->daemon.ready_fd), -1);
}

/* Daemon mode, once the id is known: <run dir>/<id>.log.  Until "ready",
 * messages go there, and errors to the waiting user's terminal too. */
void ublkfw_daemon_open_log(struct ublkfw_dev *dev)
{
	char path[256];

	if (!dev->daemon.daemonized || dev->daemon.log_fd >= 0)
		return;
	ublkfw_run_path(dev->id, "log", path, sizeof(path));
	ublkfw_run_dir_make();
	/* a recovering server continues the dead one's log; a new one starts
	 * its own, never writing through a symlink planted in its place */
	if (!dev->conf.recover)
		unlink(path);
	dev->daemon.log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
				  (dev->conf.recover ? 0 : O_EXCL), 0600);
	if (dev->daemon.log_fd < 0)
		ublkfw_err(dev, "cannot open the log %s: %s (messages go to nowhere)", path,
			   strerror(errno));
}

/* After "ready": all of the server's output goes to the log. */
void ublkfw_daemon_detach(struct ublkfw_dev *dev)
{
	int null, out;

	if (!dev->daemon.daemonized)
		return;
	ublkfw_daemon_open_log(dev);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	out = dev->daemon.log_fd >= 0 ? dev->daemon.log_fd : null;
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	/* without a log, nowhere: never the caller's terminal or pipe */
	if (out >= 0) {
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		dev->daemon.detached = true;
	}
	if (null >= 0)
		close(null);
	if (dev->daemon.log_fd >= 0)
		close(dev->daemon.log_fd);
	dev->daemon.log_fd = -1;
}

int ublkfw_daemon_fork(struct ublkfw_dev *dev, int *status)
{
	int pipefd[2];
	pid_t child;

	fflush(stdout);
	fflush(stderr);
	if (pipe2(pipefd, O_CLOEXEC)) {
		ublkfw_err(dev, "pipe: %s", strerror(errno));
		return -1;
	}
	child = fork();
	if (child < 0) {
		ublkfw_err(dev, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (child > 0) {
		close(pipefd[1]);
		*status = wait_for_child(dev, child, pipefd[0]);
		return 1;
	}
	close(pipefd[0]);
	/* A daemon of its own: no controlling terminal, no directory it holds
	 * busy, no caller's umask (every file it makes has an explicit mode;
	 * anything else is its own).  The target opened its files already;
	 * the state file records the caller's directory for a recover. */
	setsid();
	umask(077);
	if (chdir("/"))
		ublkfw_err(dev, "chdir /: %s", strerror(errno));
	dev->daemon.ready_fd = pipefd[1];
	dev->daemon.daemonized = true;
	return 0;
}
