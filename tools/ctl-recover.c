// SPDX-License-Identifier: MIT
/*
 * ctl-recover.c - `ublk-fw-ctl recover -n ID | --all`: start a new server
 * for a device whose server died, from what the dead one recorded in its
 * state file (its "restart" command line: the program, "add -t TARGET" for
 * a server of ublk-fw-ctl, the options), with --recover -n ID added.  The
 * file is trusted only if root or the caller owns it, and only if it names
 * an absolute program that exists.  The new server takes the device over (framework/recover.c) and
 * daemonizes; this returns once the device is LIVE again.  A device that is
 * LIVE, was made without --recovery, or does not exist is refused with one
 * line and left as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "ctl.h"

#define LIVE_WAIT_MS	30000

/* 0 when device id may be recovered, else 1 after a one-line message. */
static int recoverable(struct ublkfw_ctrl *c, int id)
{
	struct ublksrv_ctrl_dev_info info;
	char why[256];

	if (!ublkfw_recover_check(c, id, &info, why, sizeof(why)))
		return 0;
	fprintf(stderr, PROG ": recover: %s\n", why);
	return 1;
}

/* The recorded command line with --recover -n ID; --foreground dropped (a
 * recovered server always daemonizes), and the "--recover -n ID" an earlier
 * recover appended (so that it does not grow with every recovery).
 * NULL-terminated, malloc'ed. */
static char **recover_argv(const struct ublkfw_state *st, char *idbuf)
{
	size_t n = 0, k = 0;
	char **av;

	while (st->restart[n])
		n++;
	if (n >= 4 && !strcmp(st->restart[n - 3], "--recover") && !strcmp(st->restart[n - 2], "-n") &&
	    !strcmp(st->restart[n - 1], idbuf))
		n -= 3;
	av = calloc(n + 4, sizeof(*av));
	if (!av)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(st->restart[i], "--foreground"))
			av[k++] = st->restart[i];
	av[k++] = "--recover";
	av[k++] = "-n";
	av[k++] = idbuf;
	return av;
}

struct live {
	struct ublkfw_ctrl *c;
	int id;
};

static bool is_live(void *arg)
{
	struct live *l = arg;
	struct ublksrv_ctrl_dev_info info;

	return ublkfw_ctrl_get_info(l->c, l->id, &info) >= 0 && info.state == UBLK_S_DEV_LIVE;
}

/* Run the new server and wait for its word (it daemonizes once LIVE). */
static int run_server(struct ublkfw_ctrl *c, int id, char **av, const char *cwd)
{
	struct live l = { c, id };
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, PROG ": recover: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		/* the options' relative paths are the dead server's */
		if (cwd && chdir(cwd)) {
			fprintf(stderr, PROG ": recover: cannot enter %s, where device %d's server was started: %s\n",
				cwd, id, strerror(errno));
			_exit(1);
		}
		execv(av[0], av);
		fprintf(stderr, PROG ": recover: cannot run %s: %s\n", av[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;	/* the server said why */
	if (!ublkfw_poll_until(is_live, &l, LIVE_WAIT_MS, 20000)) {
		fprintf(stderr, PROG ": recover: device %d is not LIVE after %d s (see %s/%d.log)\n",
			id, LIVE_WAIT_MS / 1000, ublkfw_run_dir(), id);
		return 1;
	}
	return 0;
}

static int recover_one(struct ublkfw_ctrl *c, int id)
{
	struct ublkfw_state st;
	char idbuf[16], **av;
	int ret;

	if (recoverable(c, id))
		return 1;
	if (ublkfw_state_read(id, &st)) {
		fprintf(stderr, PROG ": recover: no usable state file %s/%d.json: cannot tell how device %d's server was started\n",
			ublkfw_run_dir(), id, id);
		return 1;
	}
	if (st.owner != 0 && st.owner != geteuid()) {
		fprintf(stderr, PROG ": recover: %s/%d.json belongs to uid %u, not to root or you: refused\n",
			ublkfw_run_dir(), id, (unsigned int)st.owner);
		ublkfw_state_free(&st);
		return 1;
	}
	if (!st.restart) {
		fprintf(stderr, PROG ": recover: device %d's state file has no restart command (its program is unknown, or its command line is not UTF-8): start its server by hand with --recover -n %d\n",
			id, id);
		ublkfw_state_free(&st);
		return 1;
	}
	if (!st.restart[0] || st.restart[0][0] != '/' || access(st.restart[0], X_OK)) {
		fprintf(stderr, PROG ": recover: device %d's state file names no program that can run (%s): start its server by hand with --recover -n %d\n",
			id, st.restart && st.restart[0] ? st.restart[0] : "none recorded", id);
		ublkfw_state_free(&st);
		return 1;
	}
	snprintf(idbuf, sizeof(idbuf), "%d", id);
	av = recover_argv(&st, idbuf);
	ret = av ? run_server(c, id, av, st.cwd) : 1;
	free(av);
	ublkfw_state_free(&st);
	return ret;
}

/* Every device whose server is gone and that was made for recovery. */
static int recover_all(struct ublkfw_ctrl *c)
{
	int ids[1024], n = ctl_list_ids(ids, 1024), ret = 0, done = 0;

	for (int i = 0; i < n; i++) {
		struct ublksrv_ctrl_dev_info info;
		char why[256];

		if (ublkfw_recover_check(c, ids[i], &info, why, sizeof(why)))
			continue;	/* gone, not for recovery, or served */
		ret |= recover_one(c, ids[i]);
		done++;
	}
	if (!done)
		printf("no device to recover\n");
	return ret;
}

int ctl_cmd_recover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct ublkfw_ctrl c;
	int id = -1, opt, ret;
	bool all = false;

	optind = 0;	/* 0, not 1: glibc also forgets a cluster it was in */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:a", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (ctl_parse_id("recover", optarg, &id))
				return 2;
			break;
		case 'a':
			all = true;
			break;
		default:
			return ctl_getopt_error("recover", opt, argv);
		}
	}
	if (ctl_no_more_args("recover", argc, argv))
		return 2;
	if ((id < 0) == !all) {
		fprintf(stderr, PROG ": recover: give the device with -n ID or --all (see " PROG " --help)\n");
		return 2;
	}
	if (ublkfw_check_privileges(PROG))
		return 1;
	if (ublkfw_ctrl_open(&c) < 0) {
		fprintf(stderr, PROG ": recover: %s\n", c.errmsg);
		return 1;
	}
	ret = all ? recover_all(&c) : recover_one(&c, id);
	ublkfw_ctrl_close(&c);
	return ret;
}
