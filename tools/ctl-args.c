// SPDX-License-Identifier: MIT
/* ctl-args.c - the argument errors every ublk-fw-ctl subcommand reports alike. */
#include <stdio.h>

#include "internal.h"
#include "ctl.h"

int ctl_parse_id(const char *cmd, const char *arg, int *id)
{
	if (!ublkfw_parse_dev_id(arg, id))
		return 0;
	fprintf(stderr, PROG ": %s: invalid device id '%s': use 0..%d\n", cmd, arg, UBLKFW_MAX_DEV_ID);
	return -1;
}

int ctl_bad_option(const char *cmd, const char *arg)
{
	fprintf(stderr, PROG ": %s: unknown option '%s' (see " PROG " --help)\n", cmd, arg);
	return 2;
}
