// SPDX-License-Identifier: MIT
/* ctl-util.c - what several ublk-fw-ctl subcommands share: argument errors
 * reported alike, and the list of ublk devices. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ctl.h"

int ctl_parse_id(const char *cmd, const char *arg, int *id)
{
	if (!ublkfw_parse_dev_id(arg, id))
		return 0;
	fprintf(stderr, PROG ": %s: invalid device id '%s': use 0..%d\n", cmd, arg, UBLKFW_MAX_DEV_ID);
	return -1;
}

int ctl_getopt_error(const char *cmd, int c, char *const *argv)
{
	char culprit[64];

	ublkfw_getopt_culprit(c, argv, culprit, sizeof(culprit));
	if (c == ':')
		fprintf(stderr, PROG ": %s: option '%s' needs a value (see " PROG " --help)\n", cmd,
			culprit);
	else
		fprintf(stderr, PROG ": %s: unknown option '%s' (see " PROG " --help)\n", cmd, culprit);
	return 2;
}

int ctl_no_more_args(const char *cmd, int argc, char *const *argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, PROG ": %s: unexpected argument '%s' (see " PROG " --help)\n", cmd,
		argv[optind]);
	return 2;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Ids of all ublk devices (from /dev/ublkcN), sorted; returns the count. */
int ctl_list_ids(int *ids, int max)
{
	struct dirent *de;
	DIR *d = opendir("/dev");
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char *end;
		long id;

		if (strncmp(de->d_name, "ublkc", 5) || !de->d_name[5])
			continue;
		id = strtol(de->d_name + 5, &end, 10);
		if (*end || id < 0)
			continue;
		ids[n++] = (int)id;
	}
	closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_int);
	return n;
}
