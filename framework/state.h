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

struct ublkfw_state {
	int id;
	pid_t pid;
	char target[64];
	uint64_t flags;
	char args[1024];	/* the server's command line, shell-quoted */
};

const char *ublkfw_run_dir(void);	/* $UBLKFW_RUN_DIR or /run/ublk-fw */
int ublkfw_run_dir_make(void);		/* 0 or -errno */
/* "<run dir>/<id>.<ext>": the device's files (json, log, sock, ctl) */
void ublkfw_run_path(int id, const char *ext, char *buf, size_t len);
int ublkfw_state_write(const struct ublkfw_dev *dev);
int ublkfw_state_read(int id, struct ublkfw_state *st);
void ublkfw_state_remove(int id);
/* The first number of "key": in a flat JSON document. 0 or -ENOENT/-EINVAL. */
int ublkfw_json_get_num(const char *doc, const char *key, long long *v);
/* JSON string literal of s (with quotes) on f. */
void ublkfw_json_str(FILE *f, const char *s);

#endif
