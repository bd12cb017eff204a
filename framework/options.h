/* SPDX-License-Identifier: MIT */
/*
 * options.h - the server program's command line (options.c) and ublkfw_main_cmd()
 * (main.c).
 */
#ifndef UBLKFW_OPTIONS_H
#define UBLKFW_OPTIONS_H

#include <stdio.h>
#include "dev.h"

/* ---- options (options.c) ----------------------------------------------- */

/* Parse the standard and the target's options into dev (calls ops.config).
 * Returns 0, 1 when --help/--version was handled (exit 0), or -1 after
 * printing a one-line error (exit 2). */
/* ublkfw_main() with the usage line of a subcommand ("ublk-fw-ctl add -t"). */
int ublkfw_main_cmd(const struct ublkfw_target_ops *ops, int argc, char **argv,
		    const char *usage_cmd);
int ublkfw_parse_args(struct ublkfw_dev *dev, int argc, char **argv);
void ublkfw_usage(const struct ublkfw_dev *dev, FILE *f);

#endif
