/* SPDX-License-Identifier: MIT */
/*
 * dev.h - a device and its server (dev.c, abi.c, devstats.c): struct ublkfw_dev
 * in its named parts.
 */
#ifndef UBLKFW_DEV_H
#define UBLKFW_DEV_H

#include <stdatomic.h>
#include <stdio.h>
#include "ctrl.h"
#include "filter.h"
#include "queue.h"

/* ---- device (dev.c) ---------------------------------------------------- */

/* What the command line and the target asked for (options.c, the target's
 * open()); the kernel may lower queues, depth and max_io at ADD_DEV. */
struct ublkfw_dev_config {
	const char *prog;		/* program name for messages */
	const char *usage_cmd;		/* "ublk-fw-ctl add -t": usage shows it + name */
	char *cwd;			/* where it was started (relative paths), or NULL */
	int req_id;			/* -1: let the kernel choose */
	unsigned int nr_queues;
	unsigned int depth;
	uint32_t max_io;
	uint64_t size;
	uint32_t lbs, pbs;
	uint32_t attrs;
	bool discard;
	uint32_t discard_granularity, max_discard;
	bool write_zeroes;
	uint32_t max_write_zeroes;
	bool foreground;
	bool recover;			/* --recover: take over device req_id */
	uint64_t flags_req;		/* UBLK_F_* the server asks for */
	int argc;			/* the command line, for the state file */
	char **argv;
	const char *run_dir;
};

/* Daemon mode (daemon.c). */
struct ublkfw_dev_daemon {
	int ready_fd;			/* pipe to the waiting parent, or -1 */
	bool daemonized;
	bool detached;			/* stdio now goes to the log file */
	int log_fd;			/* the log before detaching, or -1 */
};

/* Shared-memory zero copy (shmem_table.c, sockets.c). */
struct ublkfw_dev_shmem {
	const char *htlb_path;		/* --htlb: registered at start */
	bool read_only;			/* --shmem-ro: register read-only */
	struct ublkfw_shmem_pool *htlb_pool;
	_Atomic(struct ublkfw_shmem_pool *) *pools;	/* index -> pool */
	atomic_int reg_pending;		/* REG_BUFs in flight (lookup waits) */
	ev_io reg_w, ctl_w;		/* <id>.sock and <id>.ctl listeners */
	bool sockets;
	struct ublkfw_sock_conn *conns;	/* their open connections (sockets.c) */
	unsigned int nr_conns;
	ev_timer accept_pause;		/* out of descriptors: accept again after it */
};

/* The queue threads' start-up handshake with the main thread. */
struct ublkfw_dev_startup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int nr_ready;
	int first_queue_error;
};

struct ublkfw_dev {
	struct ublkfw_target_ops ops;	/* normalised copy, see ublkfw_target_ops_copy() */
	struct ublkfw_stack stack;	/* the filters over the target */
	struct ublkfw_dev_config conf;
	struct ublkfw_dev_daemon daemon;
	struct ublkfw_dev_shmem shm;
	struct ublkfw_dev_startup startup;

	/* runtime (dev.c) */
	bool target_open;
	struct ublkfw_ctrl ctrl;
	bool ctrl_open;
	struct ublksrv_ctrl_dev_info info;	/* as read back from the kernel */
	int id;
	bool added;
	bool started;			/* from START_DEV to teardown: the state file is kept */
	int cdev_fd;
	struct ublkfw_queue *queues;
	void *priv;
	void *priv_area;		/* ops.dev_priv_size bytes, or NULL */
	struct ev_loop *main_loop;
	ev_signal stop_sig_w[3];	/* SIGTERM, SIGINT, SIGHUP: a clean stop */
	int stop_signal;		/* the one received, or 0 */
	ev_async queue_exit_w;
	atomic_uint queues_exited;
	int exit_status;
};

/* Copy a target's or filter's ops (any older struct_size) into a zeroed
 * full struct (abi.c).  0, or -EINVAL with a message when it is unusable. */
int ublkfw_target_ops_copy(struct ublkfw_target_ops *dst, const struct ublkfw_target_ops *src,
			   char *err, size_t errlen);
int ublkfw_filter_ops_copy(struct ublkfw_filter_ops *dst, const struct ublkfw_filter_ops *src,
			   char *err, size_t errlen);
void ublkfw_dev_init(struct ublkfw_dev *dev, const struct ublkfw_target_ops *ops,
		     const char *prog);
/* Everything after option parsing: create, start, serve, tear down.
 * Returns the exit status. */
int ublkfw_dev_run(struct ublkfw_dev *dev);
void ublkfw_dev_fill_params(const struct ublkfw_dev *dev, struct ublk_params *p);
/* ---- unprivileged devices (unpriv.c) ---- */

/* How long udev may take to give a user the nodes of their device. */
#define UBLKFW_UDEV_WAIT_MS	10000
bool ublkfw_dev_is_unprivileged(const struct ublkfw_dev *dev);
/* Before ADD_DEV: root's devices privileged, a user's --unprivileged, and
 * nothing the kernel drops or refuses for those; udev running.  0, or
 * -errno with the reason logged. */
int ublkfw_unpriv_check(struct ublkfw_dev *dev);
/* An unprivileged device: wait until udev has given us /dev/ublk<kind><id>
 * (kind 'c' after ADD_DEV, 'b' after START_DEV).  0, or -ETIMEDOUT logged. */
int ublkfw_unpriv_wait_node(struct ublkfw_dev *dev, char kind);

/* ---- user recovery (recover.c) ---- */

/* --recovery MODE -> UBLK_F_* flags; 0 or -EINVAL. */
int ublkfw_recovery_flags(const char *mode, uint64_t *flags);
/* The mode name of a device's flags: none, reissue, requeue, fail-io. */
const char *ublkfw_recovery_mode(uint64_t flags);
/* Check device req_id and START_USER_RECOVERY; takes its geometry. */
int ublkfw_recover_begin(struct ublkfw_dev *dev);
/* Device id may be taken over: it exists, was made with --recovery and no
 * server serves it (QUIESCED or FAIL_IO).  0, or -ENODEV, -EINVAL, -EBUSY or
 * the control error, with the one-line reason in why.  *info is filled.
 * Shared by the recovering server and ublk-fw-ctl recover. */
int ublkfw_recover_check(struct ublkfw_ctrl *c, int id, struct ublksrv_ctrl_dev_info *info,
			 char *why, size_t len);
/* END_USER_RECOVERY once every tag is fetched: LIVE again. */
int ublkfw_recover_end(struct ublkfw_dev *dev);

/* The device's counters as one JSON line (devstats.c). */
void ublkfw_dev_write_stats(struct ublkfw_dev *dev, FILE *f);

#endif
