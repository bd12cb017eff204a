/* SPDX-License-Identifier: MIT */
/*
 * internal.h - libublkfw's private structures and functions, shared by the
 * framework's files and by the in-tree tools and tests (which link the static
 * library).  Not installed; no stability promise.
 */
#ifndef UBLKFW_INTERNAL_H
#define UBLKFW_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#include "ublkfw.h"
#include "ublk_uapi.h"
#include "filter.h"

#define UBLKFW_CTRL_DEV		"/dev/ublk-control"
#define UBLKFW_RUN_DIR_DEFAULT	"/run/ublk-fw"
#define UBLKFW_DEF_QUEUES	1
#define UBLKFW_DEF_DEPTH	128
#define UBLKFW_DEF_MAX_IO	(512U << 10)
#define UBLKFW_MAX_MAX_IO	(1U << 20)
#define UBLKFW_NR_FIXED_FILES	16	/* slot 0: /dev/ublkcN; the rest: targets */

#define UBLKFW_MAX_DEV_ID	((1 << 20) - 1)	/* the kernel's MINORMASK */

#define UBLKFW_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static inline bool ublkfw_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* n rounded up to a multiple of align, a power of two */
static inline size_t ublkfw_round_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}
#define ublkfw_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- control layer (ctrl.c) ------------------------------------------- */

struct ublkfw_ctrl {
	int fd;
	struct io_uring ring;
	pthread_mutex_t lock;
	char errmsg[160];	/* "ADD_DEV (dev 3): File exists" after a failure */
};

/* Root and /dev/ublk-control, or a one-line message on stderr and -errno. */
int ublkfw_check_privileges(const char *prog);
int ublkfw_ctrl_open(struct ublkfw_ctrl *c);
void ublkfw_ctrl_close(struct ublkfw_ctrl *c);
const char *ublkfw_ctrl_cmd_name(unsigned int cmd_op);
/* Raw command: returns cqe->res (>= 0) or a negative errno; sets errmsg. */
int ublkfw_ctrl_cmd(struct ublkfw_ctrl *c, unsigned int cmd_op, uint32_t dev_id,
		    uint16_t queue_id, void *buf, uint16_t len, uint64_t data0);
int ublkfw_ctrl_get_features(struct ublkfw_ctrl *c, uint64_t *features);
int ublkfw_ctrl_add_dev(struct ublkfw_ctrl *c, struct ublksrv_ctrl_dev_info *info);
int ublkfw_ctrl_del_dev(struct ublkfw_ctrl *c, uint32_t dev_id);
int ublkfw_ctrl_start_dev(struct ublkfw_ctrl *c, uint32_t dev_id, pid_t pid);
int ublkfw_ctrl_stop_dev(struct ublkfw_ctrl *c, uint32_t dev_id);
int ublkfw_ctrl_get_info(struct ublkfw_ctrl *c, uint32_t dev_id,
			 struct ublksrv_ctrl_dev_info *info);
int ublkfw_ctrl_set_params(struct ublkfw_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ublkfw_ctrl_get_params(struct ublkfw_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ublkfw_ctrl_get_queue_affinity(struct ublkfw_ctrl *c, uint32_t dev_id,
				   uint16_t q_id, cpu_set_t *set);

/* Feature bits and device states by name (NULL for unknown). */
const char *ublkfw_feature_name(unsigned int bit);
const char *ublkfw_state_name(unsigned int state);
/* The name of a feature bit, or "BIT<n>" (in buf) for one we do not know. */
const char *ublkfw_feature_label(unsigned int bit, char buf[16]);
/* "CMD_IOCTL_ENCODE|USER_COPY" into buf; returns buf. */
char *ublkfw_flags_str(uint64_t flags, char *buf, size_t len);

/* ---- queue layer (queue.c) -------------------------------------------- */

enum io_state {
	IO_FETCHING,	/* a FETCH or COMMIT_AND_FETCH is in the kernel */
	IO_IN_TARGET,	/* handed to queue_io(), not yet completed */
	IO_STOPPED,	/* the kernel ended the tag (UBLK_IO_RES_ABORT) */
};

/* Per-queue counters: written by the queue thread only (relaxed stores),
 * read by the main thread for the statistics socket. */
struct ublkfw_stats {
	_Atomic uint64_t zc_ios, zc_bytes;	/* READ/WRITE served zero-copy */
	_Atomic uint64_t copy_ios, copy_bytes;	/* READ/WRITE through the copy buffer */
	_Atomic uint64_t zc_rejected;		/* SHMEM_ZC descriptors we refused */
};

static inline void ublkfw_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

struct io_slot {
	struct ublkfw_io io;		/* public part, first */
	bool zero_copy;			/* io.data points into a shmem pool */
	uint8_t layer;			/* the stack's layer holding it (filter.h) */
	struct ublkfw_uring_op cmd_op;	/* completion of this tag's ublk command */
	void *buf;			/* per-tag copy buffer */
	enum io_state state;
	int remote_result;		/* ublkfw_io_complete_async() */
	struct io_slot *remote_next;
};

static inline struct io_slot *ublkfw_io_slot(const struct ublkfw_io *io)
{
	return ublkfw_container_of(io, struct io_slot, io);
}

struct ublkfw_queue {
	struct ublkfw_dev *dev;
	unsigned int id;
	unsigned int depth;
	pthread_t thread;
	bool thread_started;
	cpu_set_t affinity;
	bool has_affinity;

	struct io_uring ring;
	bool ring_ok;
	struct ev_loop *loop;
	ev_io ring_w;
	ev_prepare prepare_w;
	ev_check check_w;
	ev_async async_w;

	struct ublksrv_io_desc *descs;
	size_t descs_len;
	char *bufs;			/* depth * max_io bytes */
	size_t bufs_len;
	char *slots;			/* depth * slot_stride bytes */
	size_t slot_stride;

	unsigned int nr_stopped;	/* tags ended by the kernel */
	unsigned int target_inflight;	/* target SQEs not yet completed */
	unsigned int nr_files;		/* fixed-file slots in use */
	atomic_bool stop_req;		/* main thread asks the loop to end */

	pthread_mutex_t remote_lock;
	struct io_slot *remote_head;

	void *priv;
	char *filter_area;		/* the filters' per-queue areas (filter.h) */

	struct ublkfw_stats stats;
};

/* Test seam: dispatch of one ublk command completion (queue.c). */
void ublkfw_queue_handle_cmd_cqe(struct ublkfw_queue *q, struct io_slot *s, int res);
struct io_slot *ublkfw_queue_slot(struct ublkfw_queue *q, unsigned int tag);
/* Reap and dispatch every ready CQE (the loop's check watcher). */
void ublkfw_queue_reap(struct ublkfw_queue *q);
/* Allocate and initialise the per-tag slots (buffers from q->bufs). */
int ublkfw_queue_alloc_slots(struct ublkfw_queue *q);
int ublkfw_queue_start(struct ublkfw_queue *q);	/* spawn the thread, wait for init */
void ublkfw_queue_request_stop(struct ublkfw_queue *q);
void ublkfw_queue_join(struct ublkfw_queue *q);

/* ---- device (dev.c) ---------------------------------------------------- */

/* What the command line and the target asked for (options.c, the target's
 * open()); the kernel may lower queues, depth and max_io at ADD_DEV. */
struct ublkfw_dev_config {
	const char *prog;		/* program name for messages */
	const char *usage_cmd;		/* "ublk-fw-ctl add -t": usage shows it + name */
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
	bool added, started;
	int cdev_fd;
	struct ublkfw_queue *queues;
	void *priv;
	struct ev_loop *main_loop;
	ev_signal sigterm_w, sigint_w;
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
void ublkfw_dev_fill_params(const struct ublkfw_dev *dev, struct ublk_params *p);

/* ---- shared-memory zero copy (shmem_pool.c, shmem_table.c, sockets.c,
 *      client.c) ------------------------------------------------------------ */

void ublkfw_shmem_mark_queue_thread(const struct ublkfw_dev *dev);
int ublkfw_shmem_prepare(struct ublkfw_dev *dev);
int ublkfw_shmem_table_init(struct ublkfw_dev *dev);
/* SHMEM_ZC descriptor (iod->addr) -> pointer, or NULL if index or bounds are bad. */
void *ublkfw_shmem_lookup(struct ublkfw_dev *dev, uint64_t addr, uint32_t len);
void ublkfw_shmem_release_all(struct ublkfw_dev *dev);
int ublkfw_sockets_start(struct ublkfw_dev *dev);
void ublkfw_sockets_stop(struct ublkfw_dev *dev);
/* The device's counters as one JSON line (devstats.c). */
void ublkfw_dev_write_stats(struct ublkfw_dev *dev, FILE *f);
/* Client: the server's counters as one JSON line ("stats" on <id>.ctl). */
int ublkfw_client_stats(int dev_id, char *buf, size_t len);

/* ---- options (options.c) ----------------------------------------------- */

/* Parse the standard and the target's options into dev (calls ops.config).
 * Returns 0, 1 when --help/--version was handled (exit 0), or -1 after
 * printing a one-line error (exit 2). */
/* ublkfw_main() with the usage line of a subcommand ("ublk-fw-ctl add -t"). */
int ublkfw_main_cmd(const struct ublkfw_target_ops *ops, int argc, char **argv,
		    const char *usage_cmd);
int ublkfw_parse_args(struct ublkfw_dev *dev, int argc, char **argv);
void ublkfw_usage(const struct ublkfw_dev *dev, FILE *f);

/* ---- state files and JSON (state.c) ------------------------------------ */

struct ublkfw_state {
	int id;
	pid_t pid;
	char target[64];
	uint64_t flags;
	char args[1024];	/* the server's command line, shell-quoted */
};

const char *ublkfw_run_dir(void);	/* $UBLKFW_RUN_DIR or /run/ublk-fw */
/* "<run dir>/<id>.<ext>": the device's files (json, log, sock, ctl) */
void ublkfw_run_path(int id, const char *ext, char *buf, size_t len);
int ublkfw_state_write(const struct ublkfw_dev *dev);
int ublkfw_state_read(int id, struct ublkfw_state *st);
void ublkfw_state_remove(int id);
/* The first number of "key": in a flat JSON document. 0 or -ENOENT/-EINVAL. */
int ublkfw_json_get_num(const char *doc, const char *key, long long *v);
/* JSON string literal of s (with quotes) on f. */
void ublkfw_json_str(FILE *f, const char *s);

/* ---- logging (util.c) -------------------------------------------------- */

void ublkfw_vlog(const struct ublkfw_dev *dev, bool err, const char *fmt, va_list ap);
const char *ublkfw_progname(void);
/* Call done(arg) every step_us until it says true or timeout_ms passed;
 * its last answer.  The one sleep-poll loop of the project. */
bool ublkfw_poll_until(bool (*done)(void *arg), void *arg, unsigned int timeout_ms,
		       unsigned int step_us);
/* A device id, 0..UBLKFW_MAX_DEV_ID.  0 or -EINVAL/-ERANGE. */
int ublkfw_parse_dev_id(const char *s, int *id);

#endif /* UBLKFW_INTERNAL_H */
