/* SPDX-License-Identifier: MIT */
/* ctl.h - the subcommands of ublk-fw-ctl that live in files of their own. */
#ifndef UBLKFW_CTL_H
#define UBLKFW_CTL_H

#define PROG "ublk-fw-ctl"

/* The most of a server's "stats" reply that list and stats read. */
#define CTL_STATS_BUF	(256 << 10)

/* Ids of all ublk devices (from /dev/ublkcN), sorted; returns the count
 * (ctl-util.c). */
int ctl_list_ids(int *ids, int max);
/* -n ID for subcommand cmd: 0, or -1 after a one-line message (ctl-util.c) */
int ctl_parse_id(const char *cmd, const char *arg, int *id);
/* getopt_long() returned c ('?' or ':'): "unknown option" or "needs a value"
 * for subcommand cmd, naming the option as given; returns the exit status 2 */
int ctl_getopt_error(const char *cmd, int c, char *const *argv);
/* "unexpected argument" when getopt left any; returns 0 or the exit status 2 */
int ctl_no_more_args(const char *cmd, int argc, char *const *argv);

/* ublk-fw-ctl recover (ctl-recover.c) */
int ctl_cmd_recover(int argc, char **argv);

/* ublk-fw-ctl stats (ctl-stats.c) */
int ctl_cmd_stats(int argc, char **argv);

#endif
