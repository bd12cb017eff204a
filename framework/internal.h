/* SPDX-License-Identifier: MIT */
/*
 * internal.h - every internal header of libublkfw at once, for the in-tree
 * tools and tests (which link the static library).  The framework's own
 * files include the layer headers they use.  Not installed; no stability
 * promise.
 */
#ifndef UBLKFW_INTERNAL_H
#define UBLKFW_INTERNAL_H

#include "util.h"
#include "ctrl.h"
#include "queue.h"
#include "filter.h"
#include "dev.h"
#include "daemon.h"
#include "shmem.h"
#include "options.h"
#include "state.h"

#endif /* UBLKFW_INTERNAL_H */
