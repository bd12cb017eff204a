/* SPDX-License-Identifier: MIT */
/*
 * rundir.h - the run directory and the devices' files in it (rundir.c).
 */
#ifndef UBLKFW_RUNDIR_H
#define UBLKFW_RUNDIR_H

#include <stddef.h>

/* $UBLKFW_RUN_DIR, else root: /run/ublk-fw; a normal user:
 * $XDG_RUNTIME_DIR/ublk-fw or /run/ublk-fw/<uid>. */
const char *ublkfw_run_dir(void);
int ublkfw_run_dir_make(void);		/* 0 or -errno */
/* The run directory, made if missing, as an O_DIRECTORY fd; -ELOOP when it
 * is a symlink (a server usually runs as root, and writes nothing through
 * one), else -errno. */
int ublkfw_run_dir_open(void);
/* A server's check before it makes anything: the run directory exists (made
 * if it can be), is no symlink, is ours and lets nobody else write (a user's:
 * nobody else in); one line in msg and -errno otherwise. */
int ublkfw_run_dir_check(char *msg, size_t len);
/* "<run dir>/<id>.<ext>": the device's files (json, log, sock, ctl) */
void ublkfw_run_path(int id, const char *ext, char *buf, size_t len);
/* Every "<id>.*" of the run directory, once the device is gone. */
void ublkfw_state_remove(int id);
/* A server died: keep its log, <id>.log, as <run dir>/dead-<id>.log (the
 * last one per id; ublkfw_state_remove() leaves it) and put that path in
 * buf.  0, or -errno (-ENOENT: it had no log). */
int ublkfw_state_keep_log(int id, char *buf, size_t len);

#endif
