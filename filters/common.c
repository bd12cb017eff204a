// SPDX-License-Identifier: MIT
/* common.c - option parsing shared by the built-in filters. */
#include <errno.h>
#include <stdlib.h>

#include "filters.h"

int filter_parse_fraction(const char *s, double *v)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	*v = strtod(s, &end);
	return !*end && *v >= 0 && *v <= 1 ? 0 : -EINVAL;
}

int filter_bad_value(struct ublkfw_filter *f, const char *key, const char *value)
{
	ublkfw_err(ublkfw_filter_dev(f), "%s filter: invalid --%s '%s' (see --help)",
		   ublkfw_filter_name(f), key, value ? value : "");
	return -EINVAL;
}
