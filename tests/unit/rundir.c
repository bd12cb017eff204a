// SPDX-License-Identifier: MIT
/*
 * The run directory (rundir.c): which one, and a server's check of it
 * before it makes anything - no symlink, nothing that is another user's or
 * that others may write to, a normal user's made private.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define USER_UID	64000

static char top[] = "/var/tmp/ublkfw-rundir-XXXXXX";
static char run[300], msg[600];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(top));
	cr_assert_eq(chmod(top, 0755), 0);
	snprintf(run, sizeof(run), "%s/run", top);
	setenv("UBLKFW_RUN_DIR", run, 1);
	msg[0] = '\0';
}

static void teardown(void)
{
	char cmd[400];

	unsetenv("UBLKFW_RUN_DIR");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(rundir, .init = setup, .fini = teardown);

Test(rundir, made_when_missing_root_0755)
{
	struct stat sb;

	cr_expect_eq(ublkfw_run_dir_check(msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(stat(run, &sb), 0);
	cr_expect(S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0755, "mode %o", sb.st_mode);
}

Test(rundir, symlink_is_refused)
{
	char real[320];

	snprintf(real, sizeof(real), "%s/real", top);
	cr_assert_eq(mkdir(real, 0755), 0);
	cr_assert_eq(symlink(real, run), 0);
	cr_expect_eq(ublkfw_run_dir_check(msg, sizeof(msg)), -ELOOP);
	cr_expect(strstr(msg, "is a symlink: remove it"), "%s", msg);
}

Test(rundir, another_users_is_refused)
{
	cr_assert_eq(mkdir(run, 0700), 0);
	cr_assert_eq(chown(run, USER_UID, USER_UID), 0);
	cr_expect_eq(ublkfw_run_dir_check(msg, sizeof(msg)), -EPERM);
	cr_expect(strstr(msg, "belongs to uid 64000, not to you (uid 0)"), "%s", msg);
}

Test(rundir, writable_by_others_is_refused)
{
	cr_assert_eq(mkdir(run, 0700), 0);
	cr_assert_eq(chmod(run, 0777), 0);
	cr_expect_eq(ublkfw_run_dir_check(msg, sizeof(msg)), -EPERM);
	cr_expect(strstr(msg, "is writable by others (mode 777)"), "%s", msg);
}

Test(rundir, a_file_is_refused)
{
	FILE *f = fopen(run, "w");

	cr_assert_not_null(f);
	fclose(f);
	cr_expect_eq(ublkfw_run_dir_check(msg, sizeof(msg)), -ENOTDIR);
	cr_expect(strstr(msg, "is not a directory"), "%s", msg);
}

/* The checks a normal user's server makes, in a child that became one. */
static int as_user(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (!pid) {
		if (setresgid(USER_UID, USER_UID, USER_UID) || setresuid(USER_UID, USER_UID, USER_UID))
			_exit(99);
		_exit(fn());
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int user_dirs(void)
{
	unsetenv("UBLKFW_RUN_DIR");
	setenv("XDG_RUNTIME_DIR", "/run/user/64000", 1);
	if (strcmp(ublkfw_run_dir(), "/run/user/64000/ublk-fw"))
		return 1;
	setenv("XDG_RUNTIME_DIR", "relative", 1);	/* not a session's */
	if (strcmp(ublkfw_run_dir(), "/run/ublk-fw/64000"))
		return 2;
	unsetenv("XDG_RUNTIME_DIR");
	return strcmp(ublkfw_run_dir(), "/run/ublk-fw/64000") ? 3 : 0;
}

Test(rundir, a_users_is_in_the_session_or_per_uid)
{
	cr_expect_eq(as_user(user_dirs), 0);
	unsetenv("UBLKFW_RUN_DIR");
	cr_expect_str_eq(ublkfw_run_dir(), "/run/ublk-fw", "root's");
}

static int user_made_private(void)
{
	struct stat sb;

	if (ublkfw_run_dir_check(msg, sizeof(msg)) || stat(run, &sb))
		return 1;
	return (sb.st_mode & 07777) == 0700 ? 0 : 2;
}

Test(rundir, a_users_readable_one_is_made_private)
{
	cr_assert_eq(mkdir(run, 0755), 0);
	cr_assert_eq(chown(run, USER_UID, USER_UID), 0);
	cr_expect_eq(as_user(user_made_private), 0);
}

static int user_no_session(void)
{
	int ret;

	unsetenv("XDG_RUNTIME_DIR");
	setenv("UBLKFW_RUN_DIR", "", 1);	/* empty: the default */
	ret = ublkfw_run_dir_check(msg, sizeof(msg));
	if (ret != -ENOENT && ret != -EACCES)
		return 1;
	return strstr(msg, "set XDG_RUNTIME_DIR (a login session has one) or have root make it: install -d -m 0700 -o 64000 -g 64000 /run/ublk-fw/64000") ? 0 : 2;
}

Test(rundir, a_user_without_a_session_is_told_what_to_do)
{
	struct stat sb;

	cr_assert(stat("/run/ublk-fw/64000", &sb), "a /run/ublk-fw/64000 exists here");
	cr_expect_eq(as_user(user_no_session), 0);
}
