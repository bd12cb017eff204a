/* SPDX-License-Identifier: MIT */
/*
 * nbd_conn.h - one queue's NBD connection (nbd_conn.c) for the nbd target
 * (nbd.c): a libnbd handle driven by the queue's libev loop, the requests
 * waiting for it and in flight on it, and the reconnect.  Queue thread only.
 */
#ifndef UBLKFW_NBD_CONN_H
#define UBLKFW_NBD_CONN_H

#include <stdbool.h>
#include <sys/queue.h>
#include <libnbd.h>

#include "ublkfw.h"
#include "nbd_map.h"

struct nbd_dev {			/* ublkfw_dev_priv() */
	const char *uri;		/* in the command line, which outlives us */
	unsigned int timeout;		/* --timeout, seconds */
	bool timeout_set, have_uri;
	struct nbd_caps caps;
};

enum { R_IDLE, R_WAITING, R_INFLIGHT, R_DONE };

struct nbd_req {			/* ublkfw_io_priv() */
	TAILQ_ENTRY(nbd_req) link;
	struct ublkfw_io *io;
	struct nbd_queue *nq;
	double wait_since;		/* when it began waiting for a connection */
	unsigned int gen;		/* the connection it was sent on */
	int state;
	int err;
};
TAILQ_HEAD(req_list, nbd_req);

struct nbd_queue {		/* ublkfw_queue_priv() */
	struct nbd_dev *nd;
	struct ublkfw_dev *dev;
	struct ublkfw_queue *q;
	struct ev_loop *loop;
	struct nbd_handle *h;		/* NULL while disconnected */
	bool ready;			/* h finished its handshake */
	bool failing;			/* down for --timeout: new I/O fails at once */
	unsigned int gen;		/* bumped whenever a handle is given up */
	ev_io io_w;
	ev_timer retry_w, tick_w;
	ev_prepare uncork_w;		/* active while corked: ends the batch */
	bool can_cork;			/* the connection is TCP */
	double backoff;
	double connect_started, down_since, last_progress;
	unsigned int nr_inflight;
	struct req_list waiting, inflight, done;
	char why[256];			/* why the last connection ended */
};

/* CLOCK_MONOTONIC in seconds. */
double nbd_conn_now(void);
/* libnbd's last error, one line. */
const char *nbd_conn_why(void);
/* A handle set up as every connection of ours wants it; NULL: no memory. */
struct nbd_handle *nbd_conn_handle(void);

/* nq (zeroed) for queue q: set up, and the first connection started. */
void nq_start(struct nbd_queue *nq, struct ublkfw_queue *q);
/* After q's last request: the watchers stopped, the handle closed. */
void nq_stop(struct nbd_queue *nq);
/* Send r (r->io set) on the connection, or make it wait for one. */
void nq_submit(struct nbd_queue *nq, struct nbd_req *r);

#endif
