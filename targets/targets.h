/* SPDX-License-Identifier: MIT */
/* targets.h - the targets ublk-fw-ctl knows: built in (targets.c) and
 * loadable modules (modules.c). */
#ifndef UBLKFW_TARGETS_H
#define UBLKFW_TARGETS_H

#include "ublkfw.h"

extern const struct ublkfw_target_ops ublkfw_target_null;
extern const struct ublkfw_target_ops ublkfw_target_memory;
extern const struct ublkfw_target_ops ublkfw_target_loop;
extern const struct ublkfw_target_ops ublkfw_target_stripe;
extern const struct ublkfw_target_ops ublkfw_target_nbd;
extern const struct ublkfw_target_ops ublkfw_target_rbd;

/* NULL-terminated, in the order `ublk-fw-ctl --help` lists them. */
extern const struct ublkfw_target_ops *const ublkfw_builtin_targets[];
/* The names of the targets built as modules, NULL-terminated. */
extern const char *const ublkfw_module_targets[];

/* A built-in target, or a module target (loaded on first use), by name;
 * NULL if there is none, or the module cannot be loaded: then
 * ublkfw_target_error() says why (it is "" for an unknown name). */
const struct ublkfw_target_ops *ublkfw_find_target(const char *name);
const struct ublkfw_target_ops *ublkfw_load_target_module(const char *name);
const char *ublkfw_target_error(void);

#endif
