/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - daemon mode (daemon.c).
 */
#ifndef UBLKFW_DAEMON_H
#define UBLKFW_DAEMON_H

#include "dev.h"

/* ---- daemon mode (daemon.c) --------------------------------------------- */

/* Fork.  In the parent: 1, with the exit status for the user in *status
 * once the child is live or has failed; in the child: 0; -1 on error. */
int ublkfw_daemon_fork(struct ublkfw_dev *dev, int *status);
/* Child: tell the waiting parent "added", "ready" or "fail". */
void ublkfw_daemon_notify(struct ublkfw_dev *dev, const char *what);
/* Child: <run dir>/<id>.log once the id is known. */
void ublkfw_daemon_open_log(struct ublkfw_dev *dev);
/* Child, after "ready": stdio to the log file. */
void ublkfw_daemon_detach(struct ublkfw_dev *dev);

#endif
