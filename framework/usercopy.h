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
 * to requests while they carry data and taken back at commit.  Two LIFO
 * stacks of free buffer numbers: CLEAN ones (never held a WRITE's data
 * since they were last cleared) for READs, DIRTY ones for WRITEs, so that
 * a target that fills nothing (null) never hands a reader a writer's data;
 * LIFO keeps the few buffers in use hot and the rest untouched (no RSS). */
enum { UC_CLEAN, UC_DIRTY, UC_NR_STACKS };

struct ublkfw_uc_pool {
	unsigned int *free[UC_NR_STACKS];	/* buffer numbers, LIFO */
	unsigned int nr_free[UC_NR_STACKS];
	uint32_t *dirty;			/* per buffer: bytes a WRITE may have set */
};

/* The char device offset of a request's data, as the kernel decodes it
 * (ublk_pos_to_hwq/tag/buf_off in drivers/block/ublk_drv.c). */
static inline uint64_t ublkfw_uc_pos(unsigned int q_id, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((uint64_t)q_id << UBLK_QID_OFF) +
	       ((uint64_t)tag << UBLK_TAG_OFF);
}

/* The refusal of --user-copy for this request and these kernel features:
 * NULL when it may go ahead, else the one-line reason and what to do.
 * Every rule of the mode's combinations lives here. */
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
