/* SPDX-License-Identifier: MIT */
/*
 * state.h - the run directory and state files (state.c).
 */
#ifndef UBLKFW_STATE_H
#define UBLKFW_STATE_H

#include <stdio.h>
#include <sys/types.h>
#include "dev.h"

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

const char *ublkfw_run_dir(void);	/* $UBLKFW_RUN_DIR or /run/ublk-fw */
int ublkfw_run_dir_make(void);		/* 0 or -errno */
/* "<run dir>/<id>.<ext>": the device's files (json, log, sock, ctl) */
void ublkfw_run_path(int id, const char *ext, char *buf, size_t len);
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
void ublkfw_state_remove(int id);
/* A server died: keep its log, <id>.log, as <run dir>/dead-<id>.log (the
 * last one per id; ublkfw_state_remove() leaves it) and put that path in
 * buf.  0, or -errno (-ENOENT: it had no log). */
int ublkfw_state_keep_log(int id, char *buf, size_t len);
/* s is well-formed UTF-8 (what a JSON string can hold as it is). */
bool ublkfw_utf8_valid(const char *s);
/* JSON string literal of s (with quotes) on f, for the small JSON written
 * with fprintf (the stats reply, ublk-fw-ctl list). */
void ublkfw_json_str(FILE *f, const char *s);

#endif
