/* SPDX-License-Identifier: MIT */
/* targets.h - the table of targets built into ublk-fw-ctl. */
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

const struct ublkfw_target_ops *ublkfw_find_target(const char *name);

#endif
