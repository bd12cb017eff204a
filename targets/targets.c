// SPDX-License-Identifier: MIT
/* targets.c - the table of built-in targets, looked up by name (then the
 * module targets: modules.c). */
#include <string.h>

#include "targets.h"

const struct ublkfw_target_ops *const ublkfw_builtin_targets[] = {
	&ublkfw_target_null,
	&ublkfw_target_memory,
	&ublkfw_target_loop,
	&ublkfw_target_stripe,
	NULL,
};

const struct ublkfw_target_ops *ublkfw_find_target(const char *name)
{
	for (int i = 0; ublkfw_builtin_targets[i]; i++)
		if (!strcmp(ublkfw_builtin_targets[i]->name, name))
			return ublkfw_builtin_targets[i];
	return ublkfw_load_target_module(name);
}
