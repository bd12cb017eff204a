/* SPDX-License-Identifier: MIT */
/*
 * queue.h - the queue layer (queue.c, and queue_wait.c for how its thread
 * waits): a queue thread, its ring, loop and per-tag slots.
 */
#ifndef UBLKFW_QUEUE_H
#define UBLKFW_QUEUE_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "ublkfw.h"
#include "ublk_uapi.h"
#include "usercopy.h"
#include "util.h"

/* ---- queue layer (queue.c) -------------------------------------------- */

enum io_state {
	IO_FETCHING,	/* a FETCH or COMMIT_AND_FETCH is in the kernel */
	IO_COPY_IN,	/* user copy: a WRITE's data is being read from the cdev */
	IO_IN_TARGET,	/* handed to queue_io(), not yet completed */
	IO_COPY_OUT,	/* user copy: a READ's data is being written to the cdev */
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
	void *buf;			/* copy buffer: the tag's own, or lent (user copy) */
	enum io_state state;
	struct ublkfw_uring_op copy_op;	/* user copy: completion of the cdev read/write */
	unsigned int uc_buf;		/* user copy: the pool's buffer number in buf */
	int uc_result;			/* user copy: the result to commit after IO_COPY_OUT */
	int remote_result;		/* ublkfw_io_complete_async() */
	struct io_slot *remote_next;
	atomic_bool remote_queued;	/* on remote_head's list */
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
	/* how the thread waits (queue_wait.c) */
	struct ev_loop *loop;
	ev_io ring_w;
	ev_prepare prepare_w;
	ev_check check_w;
	bool wait_libev;		/* in libev for good (else by the load) */
	bool done;			/* the loop ends */
	unsigned int last_reaped;	/* CQEs the last reap found */
	int wake_fd;			/* eventfd the ring reads: cross-thread wake-up */
	uint64_t wake_val;
	struct ublkfw_uring_op wake_op;
	atomic_bool wake_pending;	/* written, not yet read by the ring */

	struct ublksrv_io_desc *descs;
	size_t descs_len;
	char *bufs;			/* depth * max_io bytes */
	size_t bufs_len;
	bool user_copy;			/* UBLK_F_USER_COPY: bufs is a pool (usercopy.c) */
	struct ublkfw_uc_pool uc;
	char *slots;			/* depth * slot_stride bytes */
	size_t slot_stride;

	unsigned int nr_stopped;	/* tags ended by the kernel */
	unsigned int target_inflight;	/* SQEs but ublk commands (the target's, user
					 * copies) not yet completed */
	unsigned int nr_files;		/* fixed-file slots in use */
	atomic_bool stop_req;		/* main thread asks the loop to end */

	/* ublkfw_io_complete_async()'s list: pushed by any thread (CAS),
	 * taken whole by the queue thread (exchange); no lock */
	_Atomic(struct io_slot *) remote_head;

	void *priv;
	char *filter_area;		/* the filters' per-queue areas (filter.h) */

	struct ublkfw_stats stats;
};

/* Test seam: dispatch of one ublk command completion (queue.c). */
void ublkfw_queue_handle_cmd_cqe(struct ublkfw_queue *q, struct io_slot *s, int res);
struct io_slot *ublkfw_queue_slot(struct ublkfw_queue *q, unsigned int tag);
/* The request on s is done: give its result to the kernel with
 * COMMIT_AND_FETCH_REQ (and its user-copy buffer back). */
void ublkfw_queue_commit(struct ublkfw_queue *q, struct io_slot *s, int result);
/* Reap and dispatch every ready CQE (after every wait). */
void ublkfw_queue_reap(struct ublkfw_queue *q);
int ublkfw_queue_submit(struct ublkfw_queue *q);
/* An SQE (inline: every request takes one); a full SQ is flushed first
 * (ublkfw_queue_sqe_flushed()); NULL if even that failed. */
struct io_uring_sqe *ublkfw_queue_sqe_flushed(struct ublkfw_queue *q);
static inline struct io_uring_sqe *ublkfw_queue_sqe(struct ublkfw_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	return sqe ? sqe : ublkfw_queue_sqe_flushed(q);
}
/* Complete what other threads handed over with ublkfw_io_complete_async(). */
void ublkfw_queue_take_remote(struct ublkfw_queue *q);

/* queue_wait.c: how the thread waits. */
int ublkfw_queue_wait_setup(struct ublkfw_queue *q);	/* the loop, the wake-up */
void ublkfw_queue_wait_run(struct ublkfw_queue *q);	/* until ublkfw_queue_finish() */
void ublkfw_queue_wait_libev(struct ublkfw_queue *q);	/* from now on, wait in libev */
void ublkfw_queue_finish(struct ublkfw_queue *q);	/* end the loop */
void ublkfw_queue_wake(struct ublkfw_queue *q);		/* any thread */
bool ublkfw_queue_wait_owns(const struct ublkfw_queue *q, const struct ublkfw_uring_op *op);
void ublkfw_queue_wait_destroy(struct ublkfw_queue *q);	/* after the join */
/* Allocate and initialise the per-tag slots (buffers from q->bufs; the
 * user-copy pool when q->user_copy). */
int ublkfw_queue_alloc_slots(struct ublkfw_queue *q);
int ublkfw_queue_start(struct ublkfw_queue *q);	/* spawn the thread, wait for init */
void ublkfw_queue_request_stop(struct ublkfw_queue *q);
void ublkfw_queue_join(struct ublkfw_queue *q);

#endif
