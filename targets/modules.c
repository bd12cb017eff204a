// SPDX-License-Identifier: MIT
/*
 * modules.c - the targets built as loadable modules, loaded by name when a
 * device uses one.
 *
 * The nbd target needs libnbd (with GnuTLS and libxml2) and the rbd target
 * librbd and librados (libceph-common, Boost, ~40 libraries).  Linked into
 * ublk-fw-ctl they were mapped and initialised by every command, `list` and
 * `del` included: 28 ms and 1600 page faults per exec natively, 0.84 s in a
 * TCG guest against 0.06 s without them.  So each is its own shared object,
 * ublkfw-NAME.so, exporting its ops as ublkfw_target_NAME, and calls only
 * the public API (ublkfw.h), which ublk-fw-ctl exports to it.
 *
 * Where a module is looked for, in this order:
 *   1. $UBLKFW_TARGET_DIR, when set (the caller's own choice, as any
 *      program's environment: ublk-fw-ctl is not set-uid);
 *   2. targets/ next to the running executable (the build tree:
 *      build/ublk-fw-ctl and build/targets/);
 *   3. UBLKFW_TARGETDIR, compiled in: $(LIBDIR)/ublk-fw/targets.
 * Only the names in ublkfw_module_targets[] are ever loaded, and only from
 * a regular file that neither the file's nor its directory's permissions
 * let another user replace: owned by root or the caller, not writable by
 * others or by a group other than root's or the caller's (a root `add`
 * would otherwise run their code).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "targets.h"
#include "util.h"

#ifndef UBLKFW_TARGETDIR
#define UBLKFW_TARGETDIR "/usr/local/lib/ublk-fw/targets"
#endif

const char *const ublkfw_module_targets[] = { "nbd", "rbd", NULL };

static char load_error[PATH_MAX + 256];

const char *ublkfw_target_error(void)
{
	return load_error;
}

static bool is_module(const char *name)
{
	for (int i = 0; ublkfw_module_targets[i]; i++)
		if (!strcmp(ublkfw_module_targets[i], name))
			return true;
	return false;
}

/* The running executable's directory's targets/ into buf, or false. */
static bool beside_exe(char *buf, size_t len)
{
	char exe[PATH_MAX];
	int n;

	if (!ublkfw_self_exe(exe, sizeof(exe)))
		return false;
	*strrchr(exe, '/') = '\0';	/* an absolute path has one */
	n = snprintf(buf, len, "%s/targets", exe);
	return n > 0 && (size_t)n < len;
}

/* DIR/ublkfw-NAME.so into path; false if it does not fit */
static bool join(char *path, size_t len, const char *dir, const char *name)
{
	int n = snprintf(path, len, "%s/ublkfw-%s.so", dir, name);

	return n > 0 && (size_t)n < len;
}

/* Where NAME's module is: the first directory of the search that has it
 * (or the last one, for the error message). */
static void module_path(const char *name, char *path, size_t len)
{
	const char *env = getenv("UBLKFW_TARGET_DIR");
	char dir[PATH_MAX];

	if (env && *env) {
		if (join(path, len, env, name))
			return;
	} else if (beside_exe(dir, sizeof(dir)) && join(path, len, dir, name) &&
		   access(path, F_OK) == 0) {
		return;
	}
	join(path, len, UBLKFW_TARGETDIR, name);
}

/* Whether PATH is owned by root or the caller and writable by no one else
 * (a group write bit counts only for a group other than root's or the
 * caller's: a umask of 002 is common); if not, the reason goes to
 * load_error. */
static bool owned_safely(const char *name, const char *what, const char *path,
			 const struct stat *st)
{
	bool group_ok = st->st_gid == 0 || st->st_gid == getegid();

	if ((st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & S_IWOTH) &&
	    (group_ok || !(st->st_mode & S_IWGRP)))
		return true;
	snprintf(load_error, sizeof(load_error),
		 "target '%s': refusing to load %s %s: owned by uid %u gid %u, mode %04o; another user could replace it (chmod go-w, or reinstall ublk-fw)",
		 name, what, path, (unsigned int)st->st_uid, (unsigned int)st->st_gid,
		 (unsigned int)(st->st_mode & 07777));
	return false;
}

/* A module file another user cannot have planted: a regular file, it and its
 * directory owned safely.  A missing file is left to dlopen's message. */
static bool module_is_trusted(const char *name, const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	if (stat(path, &st) != 0)
		return true;
	if (!S_ISREG(st.st_mode)) {
		snprintf(load_error, sizeof(load_error),
			 "target '%s': %s is not a regular file (reinstall ublk-fw, or set UBLKFW_TARGET_DIR)",
			 name, path);
		return false;
	}
	if (!owned_safely(name, "module", path, &st))
		return false;
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';	/* join() put one there */
	if (stat(*dir ? dir : "/", &st) != 0)
		return true;
	return owned_safely(name, "the module in directory", *dir ? dir : "/", &st);
}

const struct ublkfw_target_ops *ublkfw_load_target_module(const char *name)
{
	char path[PATH_MAX], sym[64];
	const struct ublkfw_target_ops *ops;
	void *h;

	load_error[0] = '\0';
	if (!is_module(name))
		return NULL;
	module_path(name, path, sizeof(path));
	if (!module_is_trusted(name, path))
		return NULL;
	/* never closed: the ops and the callbacks live as long as the process */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_error, sizeof(load_error),
			 "target '%s' is a module that cannot be loaded: %s (reinstall ublk-fw, or set UBLKFW_TARGET_DIR)",
			 name, dlerror());
		return NULL;
	}
	snprintf(sym, sizeof(sym), "ublkfw_target_%s", name);
	ops = dlsym(h, sym);
	if (!ops) {
		snprintf(load_error, sizeof(load_error),
			 "%s has no %s: it is not a ublk-fw target module", path, sym);
		return NULL;
	}
	return ops;
}
