/* SPDX-License-Identifier: MIT */
/*
 * state.h - the state files (state.c), and what they stand on: the run
 * directory (rundir.h) and UTF-8-safe JSON strings (jsonstr.h).
 */
#ifndef UBLKFW_STATE_H
#define UBLKFW_STATE_H

#include <stdio.h>
#include <sys/types.h>
#include "dev.h"
#include "jsonstr.h"
#include "rundir.h"

/* ---- state files and JSON (state.c) ------------------------------------ */

#define UBLKFW_STATE_MAX_SIZE	(1 << 20)	/* a bigger state file is refused */

/* A state file as ublkfw_state_read() found it.  Every pointer is the
 * struct's own (ublkfw_state_free); a key the file lacks (or has as null)
 * leaves its field 0 or NULL. */
struct ublkfw_state {
	int id;
	pid_t pid;			/* the server */
	char *target;			/* the target's name */
	uint64_t flags;			/* UBLK_F_* as the kernel granted them */
	char *flag_names;
	unsigned int queues, depth;
	uint64_t size;
	char *args;			/* the command line after argv[0], shell-quoted */
	char **argv;			/* the same, one string each; NULL-terminated */
	int argc;			/* strings in argv */
	char *executable;		/* the server program, an absolute path */
	char **restart;			/* the command that starts it again: executable, ["add",
					 * "-t", target under ublk-fw-ctl], options; or NULL */
	char *cwd;			/* the directory it was started in (its relative paths) */
	uid_t owner;			/* who owns the file (the reader's fstat) */
	char **filters;			/* the stacked filters' names, top first; NULL-terminated */
	unsigned int nr_filters;
	char *recovery;			/* "none" */
	char *shmem_htlb;		/* --htlb FILE, or NULL */
	bool shmem_read_only;		/* --shmem-ro */
	int *shmem_registered;		/* the buffer indexes registered, ascending */
	unsigned int nr_shmem_registered;
};

/* (Re)write <run dir>/<id>.json for dev, atomically.  0, or a negative errno
 * after a one-line message (ublkfw_err).  Thread-safe. */
int ublkfw_state_write(const struct ublkfw_dev *dev);
/* Parse <run dir>/<id>.json into *st (to release with ublkfw_state_free).
 * 0; -ENOENT (no file); -EINVAL (not a regular file, not the JSON object a
 * server writes, no "pid", another "id"); -EFBIG (over
 * UBLKFW_STATE_MAX_SIZE); -ENOMEM.  On error *st is zeroed, nothing to free. */
int ublkfw_state_read(int id, struct ublkfw_state *st);
/* Free what *st holds and zero it; harmless on a zeroed struct. */
void ublkfw_state_free(struct ublkfw_state *st);

#endif
