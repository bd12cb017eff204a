/* SPDX-License-Identifier: MIT */
/*
 * usercopy.h - user-copy mode (usercopy.c, UBLK_F_USER_COPY): a request's
 * data moves between the kernel and a buffer of the queue's pool by
 * io_uring reads and writes of /dev/ublkcN, instead of by the kernel into
 * a buffer each tag owns.
 */
#ifndef UBLKFW_USERCOPY_H
#define UBLKFW_USERCOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "ublk_uapi.h"

struct ublkfw_queue;
struct io_slot;

/* A queue's buffers: q->bufs cut into depth buffers of max_io bytes, lent
 * to requests while they carry data and taken back at commit.  The free
 * ones sit on LIFO stacks by two marks, so that a request gets one like the
 * last it used and the buffers nobody needs stay untouched (not resident):
 *   clean or dirty: whether it may hold a WRITE's data; a READ gets a clean
 *     one, or a dirty one cleared, so a target that fills nothing (null)
 *     never hands a reader a writer's data;
 *   small or large: whether more than UC_SMALL bytes of it were ever used,
 *     so that many small requests and a few large ones make few buffers
 *     large (the pool's resident size ~ the large requests in flight times
 *     their size, plus the small ones').
 * Buffers never used are clean and small. */
enum { UC_CLEAN_SMALL, UC_CLEAN_LARGE, UC_DIRTY_SMALL, UC_DIRTY_LARGE, UC_NR_STACKS };
#define UC_SMALL	(64U << 10)

struct ublkfw_uc_pool {
	unsigned int *free[UC_NR_STACKS];	/* buffer numbers, LIFO */
	unsigned int nr_free[UC_NR_STACKS];
	uint32_t *dirty;			/* per buffer: bytes a WRITE may have set */
	uint32_t *used;				/* per buffer: bytes ever used */
};

/* The char device offset of a request's data, as the kernel decodes it
 * (ublk_pos_to_hwq/tag/buf_off in drivers/block/ublk_drv.c). */
static inline uint64_t ublkfw_uc_pos(unsigned int q_id, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((uint64_t)q_id << UBLK_QID_OFF) +
	       ((uint64_t)tag << UBLK_TAG_OFF);
}

/* The refusal of --user-copy for this request and these kernel features:
 * NULL when it may go ahead, else the one-line reason and what to do.  The
 * mode's rules live here but one: on an unprivileged device it is refused
 * with the other flags the kernel refuses them (unpriv.c). */
const char *ublkfw_uc_refusal(uint64_t flags_req, uint64_t features);

/* The pool of a queue whose q->bufs is set; 0 or -ENOMEM. */
int ublkfw_uc_pool_init(struct ublkfw_queue *q);
void ublkfw_uc_pool_free(struct ublkfw_queue *q);

/* A READ or WRITE arrived on a user-copy queue: lend it a buffer, then
 * fetch a WRITE's data (IO_COPY_IN) or hand a READ to the stack. */
void ublkfw_uc_begin(struct ublkfw_queue *q, struct io_slot *s);
/* The stack completed s with result: true when its data goes to the kernel
 * first (a READ with data: IO_COPY_OUT, committed once written). */
bool ublkfw_uc_end(struct ublkfw_queue *q, struct io_slot *s, int result);
/* At commit: give s's buffer back, if it has one. */
void ublkfw_uc_release(struct ublkfw_queue *q, struct io_slot *s);

#endif
