/* SPDX-License-Identifier: MIT */
/* ctl.h - the subcommands of ublk-fw-ctl that live in files of their own. */
#ifndef UBLKFW_CTL_H
#define UBLKFW_CTL_H

#define PROG "ublk-fw-ctl"

/* ublk-fw-ctl stats (ctl-stats.c) */
int ctl_cmd_stats(int argc, char **argv);

#endif
