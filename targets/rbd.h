/* SPDX-License-Identifier: MIT */
/*
 * rbd.h - the rbd target's device: which image of which cluster, and the
 * librados/librbd handles once connected (rbd_connect.c connects, rbd.c
 * serves the I/O).
 */
#ifndef UBLKFW_RBD_H
#define UBLKFW_RBD_H

#include <stdatomic.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "ublkfw.h"

#define RBD_DEFAULT_TIMEOUT	30	/* seconds */

struct rbd_target {			/* ublkfw_dev_priv() */
	/* the command line */
	char pool[256], ns[256], image[256];	/* POOL/[NAMESPACE/]IMAGE */
	const char *conf;		/* --conf FILE, NULL: librados's search */
	const char *id;			/* --user CLIENT, without "client." */
	const char *cluster;		/* --cluster NAME */
	unsigned int timeout;		/* --timeout S, 0: librados's defaults */
	bool timeout_set;
	/* the connection */
	rados_t rados;
	rados_ioctx_t ioctx;
	rbd_image_t image_h;
	bool connected;
	_Atomic long err_logged_at;	/* time() of the last I/O error logged */
};

/*
 * Connect to the cluster and open the image: 0, or a negative errno after
 * one ublkfw_err() line naming the problem and what to do.  Nothing is
 * left open on failure.
 */
int rbd_connect(struct ublkfw_dev *dev, struct rbd_target *t);
/* Close the image and the connection (waits for librbd's work to end). */
void rbd_disconnect(struct rbd_target *t);

#endif
