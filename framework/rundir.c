// SPDX-License-Identifier: MIT
/*
 * rundir.c - the run directory, /run/ublk-fw (or $UBLKFW_RUN_DIR), where
 * every device has its files "<id>.<suffix>": the state file (state.c), the
 * log (daemon.c), the sockets (sockets.c) and the targets' own files
 * (ublkfw_dev_run_file()).  Their names, making and opening the directory,
 * removing a deleted device's files and keeping a dead server's log.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "dev.h"
#include "rundir.h"

/*
 * Root's devices: /run/ublk-fw.  A normal user's (unprivileged devices):
 * $XDG_RUNTIME_DIR/ublk-fw, or /run/ublk-fw/<uid> when there is no login
 * session (root makes that one: /run/ublk-fw is root's).
 */
const char *ublkfw_run_dir(void)
{
	static __thread char dir[512];
	const char *d = getenv("UBLKFW_RUN_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (d && *d)
		return d;
	if (geteuid() == 0)
		return UBLKFW_RUN_DIR_DEFAULT;
	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/ublk-fw", xdg);
	else
		snprintf(dir, sizeof(dir), UBLKFW_RUN_DIR_DEFAULT "/%u", (unsigned int)geteuid());
	return dir;
}

/* Root's is 0755 (list for everyone); a user's 0700: nobody else may reach
 * its sockets and files. */
static mode_t run_dir_mode(void)
{
	return geteuid() == 0 ? 0755 : 0700;
}

int ublkfw_run_dir_make(void)
{
	/* whatever the umask (a daemon's is 077), if we make it */
	if (!mkdir(ublkfw_run_dir(), run_dir_mode()))
		return chmod(ublkfw_run_dir(), run_dir_mode()) ? -errno : 0;
	return errno == EEXIST ? 0 : -errno;
}

void ublkfw_run_path(int id, const char *ext, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d.%s", ublkfw_run_dir(), id, ext);
}

int ublkfw_run_dir_open(void)
{
	const char *dir = ublkfw_run_dir();
	struct stat sb;
	int dfd = ublkfw_run_dir_make();

	if (dfd)
		return dfd;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0)
		return dfd;
	/* O_DIRECTORY | O_NOFOLLOW says ENOTDIR of a symlink */
	if (errno == ENOTDIR && !lstat(dir, &sb) && S_ISLNK(sb.st_mode))
		return -ELOOP;
	return -errno;
}

static bool have_session_dir(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *d = getenv("UBLKFW_RUN_DIR");

	return (d && *d) || (xdg && xdg[0] == '/');
}

/* What is wrong with the run directory as it stands (lstat: no symlink is
 * followed), in msg; 0 when nothing is. */
static int run_dir_wrong(const char *dir, const struct stat *sb, char *msg, size_t len)
{
	if (S_ISLNK(sb->st_mode)) {
		snprintf(msg, len, "the run directory %s is a symlink: remove it", dir);
		return -ELOOP;
	}
	if (sb->st_uid != geteuid()) {
		snprintf(msg, len, "the run directory %s belongs to uid %u, not to you (uid %u): remove it or give UBLKFW_RUN_DIR",
			 dir, (unsigned int)sb->st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if (!S_ISDIR(sb->st_mode)) {
		snprintf(msg, len, "the run directory %s is not a directory: remove it", dir);
		return -ENOTDIR;
	}
	if (sb->st_mode & 022) {
		snprintf(msg, len, "the run directory %s is writable by others (mode %o): anything may be planted in it; remove it",
			 dir, (unsigned int)(sb->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int ublkfw_run_dir_check(char *msg, size_t len)
{
	const char *dir = ublkfw_run_dir();
	struct stat sb;
	int ret = ublkfw_run_dir_make(), dfd;

	if (ret && !lstat(dir, &sb))
		ret = 0;	/* there, but not ours to make: say why below */
	if (ret == -EACCES || ret == -ENOENT) {
		if (geteuid() != 0 && !have_session_dir())
			snprintf(msg, len, "no run directory %s: set XDG_RUNTIME_DIR (a login session has one) or have root make it: install -d -m 0700 -o %u -g %u %s",
				 dir, (unsigned int)geteuid(), (unsigned int)getegid(), dir);
		else
			snprintf(msg, len, "cannot make the run directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (ret || lstat(dir, &sb)) {
		ret = ret ? ret : -errno;
		snprintf(msg, len, "cannot make the run directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	ret = run_dir_wrong(dir, &sb, msg, len);
	if (ret)
		return ret;
	/* a user's: nobody else may even look in */
	if (geteuid() != 0 && (sb.st_mode & 077)) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0 || fchmod(dfd, 0700)) {
			ret = -errno;
			snprintf(msg, len, "cannot make the run directory %s private (chmod 0700): %s",
				 dir, strerror(errno));
		}
		if (dfd >= 0)
			close(dfd);
	}
	return ret;
}

/* Every "<id>.<suffix>" of the run directory, once the device is gone: the
 * state, the log, the targets' files (ublkfw_dev_run_file()) and the
 * sockets a dead server left. */
void ublkfw_state_remove(int id)
{
	char prefix[32], path[512];
	struct dirent *e;
	DIR *d = opendir(ublkfw_run_dir());
	size_t n;

	if (!d)
		return;
	n = (size_t)snprintf(prefix, sizeof(prefix), "%d.", id);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ublkfw_run_dir(), e->d_name);
		unlink(path);
	}
	closedir(d);
}

int ublkfw_dev_run_file(const struct ublkfw_dev *dev, const char *suffix, char *buf, size_t len)
{
	static const char *const reserved[] = { "json", "log", "sock", "ctl", "tmp" };

	if (!suffix || !*suffix || strspn(suffix, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(suffix))
		return -EINVAL;
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(reserved); i++)
		if (!strcmp(suffix, reserved[i]))
			return -EINVAL;
	if (dev->id < 0)
		return -ENODEV;
	if ((size_t)snprintf(buf, len, "%s/%d.%s", ublkfw_run_dir(), dev->id, suffix) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int ublkfw_state_keep_log(int id, char *buf, size_t len)
{
	char from[256];

	ublkfw_run_path(id, "log", from, sizeof(from));
	snprintf(buf, len, "%s/dead-%d.log", ublkfw_run_dir(), id);
	/* rename() moves a symlink, never what it points to */
	return rename(from, buf) ? -errno : 0;
}

/*
 * The file is sparse, and a write into the mapping that the filesystem has
 * no room for is a SIGBUS that kills the server: refuse a file larger than
 * what the run directory's filesystem has free now (a tmpfs: /run is often
 * a tenth of RAM).  Others may still fill it later; say so in the log.
 */
static int check_room(const struct ublkfw_dev *dev, int fd, const char *path, uint64_t size)
{
	uint64_t room;
	struct statvfs sv;

	if (fstatvfs(fd, &sv))
		return 0;	/* cannot tell: try */
	room = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (size <= room)
		return 0;
	ublkfw_err(dev, "%s has room for %llu MiB, the device needs %llu MiB: give a smaller -s, or a roomier UBLKFW_RUN_DIR (a tmpfs)",
		   path, (unsigned long long)(room >> 20), (unsigned long long)(size >> 20));
	return -ENOSPC;
}

/* A new device: a new file of size bytes (holes: no memory yet). */
static int create_file(const struct ublkfw_dev *dev, const char *path, uint64_t size)
{
	int fd;

	unlink(path);	/* an id reused after a deleted device's file was left */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		ublkfw_err(dev, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (check_room(dev, fd, path, size)) {
		close(fd);
		unlink(path);
		return -ENOSPC;
	}
	return fd;
}

/* A device taken over: the dead server's file, of size bytes. */
static int find_file(const struct ublkfw_dev *dev, const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		ublkfw_err(dev, "cannot open %s: %s (the device's data is gone: delete it)", path,
			   strerror(errno));
		return -EIO;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		ublkfw_err(dev, "%s is not the device's data (not a regular file of %llu bytes)", path,
			   (unsigned long long)size);
		close(fd);
		return -EIO;
	}
	return fd;
}

int ublkfw_dev_open_run_file(const struct ublkfw_dev *dev, const char *suffix, uint64_t size,
			     char *buf, size_t len)
{
	char path[256];
	int ret = ublkfw_dev_run_file(dev, suffix, path, sizeof(path));

	if (ret) {
		ublkfw_err(dev, "no place for the device's file '%s': %s", suffix, strerror(-ret));
		return ret;
	}
	if (buf)
		snprintf(buf, len, "%s", path);
	return ublkfw_dev_is_recovering(dev) ? find_file(dev, path, size) :
					       create_file(dev, path, size);
}
