// SPDX-License-Identifier: MIT
/* filters.c - the table of the filters built into libublkfw. */
#include "filter.h"
#include "filters.h"

const struct ublkfw_filter_ops *const ublkfw_builtin_filters[] = {
	&ublkfw_filter_delay,
	&ublkfw_filter_error,
	&ublkfw_filter_die,
	&ublkfw_filter_stats,
	&ublkfw_filter_rate,
	NULL,
};
