/* SPDX-License-Identifier: MIT */
/* filters.h - the filters built into libublkfw (one file each) and the
 * option parsing they share. */
#ifndef UBLKFW_FILTERS_H
#define UBLKFW_FILTERS_H

#include "ublkfw.h"

extern const struct ublkfw_filter_ops ublkfw_filter_delay;
extern const struct ublkfw_filter_ops ublkfw_filter_error;
extern const struct ublkfw_filter_ops ublkfw_filter_die;
extern const struct ublkfw_filter_ops ublkfw_filter_stats;
extern const struct ublkfw_filter_ops ublkfw_filter_rate;

/* A fraction in [0, 1] ("0.25"). 0 or -EINVAL. */
int filter_parse_fraction(const char *s, double *v);

/* "invalid --KEY 'VALUE' (see --help)" and -EINVAL. */
int filter_bad_value(struct ublkfw_filter *f, const char *key, const char *value);

#endif
