// SPDX-License-Identifier: MIT
/*
 * usercopy.c - user-copy mode (--user-copy, UBLK_F_USER_COPY).
 *
 * The kernel keeps a request's data in its own pages and the server moves
 * it with read()/write() on /dev/ublkcN at ublkfw_uc_pos(queue, tag).  Here
 * both are io_uring operations on the queue's ring (the char device is its
 * fixed file 0), so the queue thread never blocks, and a target sees
 * io->data exactly as in copy mode:
 *
 *   FETCH CQE, WRITE  -> IO_COPY_IN  (cdev read into the buffer) -> IO_IN_TARGET
 *   FETCH CQE, READ   -> IO_IN_TARGET -> complete -> IO_COPY_OUT (cdev write)
 *   then COMMIT_AND_FETCH with the result (queue.c), the buffer given back.
 *
 * A copy that fails or comes up short fails the request with its errno (a
 * short one with EIO); the target never sees a WRITE whose data did not
 * arrive.  Requests without data (FLUSH, DISCARD, WRITE_ZEROES) take no
 * buffer and copy nothing.  SHMEM_ZC requests cannot happen: the two modes
 * are refused together.
 *
 * The buffers: idle tags, which in copy mode each hold a max_io buffer the
 * kernel may copy into, hold none here.  A request borrows one from the
 * queue's pool (usercopy.h) for as long as it carries data, so the server's
 * resident buffer memory follows the requests in flight, not the depth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "usercopy.h"

const char *ublkfw_uc_refusal(uint64_t flags_req, uint64_t features)
{
	if (!(flags_req & UBLK_F_USER_COPY))
		return NULL;
	if (flags_req & UBLK_F_SHMEM_ZC)
		return "cannot be combined with --shmem-zc (zero-copy requests need the copy-mode "
		       "data path): choose one";
	if (!(features & UBLK_F_USER_COPY))
		return "this kernel's ublk driver has no UBLK_F_USER_COPY (it needs Linux 6.5 or "
		       "later): leave out --user-copy";
	return NULL;
}

static void copy_cqe_cb(struct ublkfw_queue *q, struct ublkfw_uring_op *op, int res,
			unsigned int flags);

/* ---- the queue's pool ------------------------------------------------------ */

int ublkfw_uc_pool_init(struct ublkfw_queue *q)
{
	struct ublkfw_uc_pool *p = &q->uc;
	bool ok = true;

	for (int i = 0; i < UC_NR_STACKS; i++) {
		p->free[i] = calloc(q->depth, sizeof(*p->free[i]));
		p->nr_free[i] = 0;
		ok = ok && p->free[i];
	}
	p->dirty = calloc(q->depth, sizeof(*p->dirty));
	p->used = calloc(q->depth, sizeof(*p->used));
	if (!ok || !p->dirty || !p->used) {
		ublkfw_uc_pool_free(q);
		return -ENOMEM;
	}
	/* Buffer 0 on top: the first requests touch the first pages. */
	for (unsigned int i = 0; i < q->depth; i++) {
		p->free[UC_CLEAN_SMALL][i] = q->depth - 1 - i;
		ublkfw_queue_slot(q, i)->copy_op.cb = copy_cqe_cb;
	}
	p->nr_free[UC_CLEAN_SMALL] = q->depth;
	return 0;
}

void ublkfw_uc_pool_free(struct ublkfw_queue *q)
{
	for (int i = 0; i < UC_NR_STACKS; i++) {
		free(q->uc.free[i]);
		q->uc.free[i] = NULL;
	}
	free(q->uc.dirty);
	free(q->uc.used);
	q->uc.dirty = q->uc.used = NULL;
}

/* The stacks a request tries, in order: a reader clean ones first (no
 * clearing), a writer dirty ones (clean ones stay clean); of those, one of
 * its own size first (a large request on a small buffer makes it large). */
static const uint8_t uc_prefer[2][2][UC_NR_STACKS] = {
	/* READ */  { { UC_CLEAN_SMALL, UC_CLEAN_LARGE, UC_DIRTY_SMALL, UC_DIRTY_LARGE },
		      { UC_CLEAN_LARGE, UC_CLEAN_SMALL, UC_DIRTY_LARGE, UC_DIRTY_SMALL } },
	/* WRITE */ { { UC_DIRTY_SMALL, UC_DIRTY_LARGE, UC_CLEAN_SMALL, UC_CLEAN_LARGE },
		      { UC_DIRTY_LARGE, UC_DIRTY_SMALL, UC_CLEAN_LARGE, UC_CLEAN_SMALL } },
};

/* A free buffer for a request of len bytes (depth buffers for depth tags:
 * one is always free). */
static unsigned int pool_pop(struct ublkfw_uc_pool *p, bool write, uint32_t len)
{
	const uint8_t *order = uc_prefer[write][len > UC_SMALL];
	int i = 0;

	while (!p->nr_free[order[i]])
		i++;
	return p->free[order[i]][--p->nr_free[order[i]]];
}

/* Lend s's request a buffer; a reader's is cleared of any writer's data. */
static void buf_get(struct ublkfw_queue *q, struct io_slot *s)
{
	struct ublkfw_uc_pool *p = &q->uc;
	bool write = s->io.op == UBLKFW_OP_WRITE;
	unsigned int b = pool_pop(p, write, s->io.len);
	char *buf = q->bufs + (size_t)b * q->dev->conf.max_io;

	if (!write && p->dirty[b]) {
		memset(buf, 0, p->dirty[b]);
		p->dirty[b] = 0;
	}
	if (write && s->io.len > p->dirty[b])
		p->dirty[b] = s->io.len;
	if (s->io.len > p->used[b])
		p->used[b] = s->io.len;
	s->uc_buf = b;
	s->buf = buf;
	s->io.data = buf;
}

void ublkfw_uc_release(struct ublkfw_queue *q, struct io_slot *s)
{
	struct ublkfw_uc_pool *p = &q->uc;
	unsigned int b = s->uc_buf;
	int stack;

	if (!s->buf)
		return;
	stack = (p->dirty[b] ? UC_DIRTY_SMALL : UC_CLEAN_SMALL) + (p->used[b] > UC_SMALL);
	p->free[stack][p->nr_free[stack]++] = b;
	s->buf = NULL;
}

/* ---- the copies -------------------------------------------------------------- */

/* Queue the cdev read (into the buffer) or write (from it) of len bytes. */
static int copy_submit(struct ublkfw_queue *q, struct io_slot *s, bool to_kernel, unsigned int len)
{
	struct io_uring_sqe *sqe = ublkfw_queue_get_sqe(q, &s->copy_op);

	if (!sqe)
		return -EAGAIN;
	io_uring_prep_rw(to_kernel ? IORING_OP_WRITE : IORING_OP_READ, sqe, 0, s->io.data, len,
			 ublkfw_uc_pos(q->id, s->io.tag));
	sqe->flags = IOSQE_FIXED_FILE;	/* fixed file 0: /dev/ublkcN */
	return 0;
}

/* A copy's result: the bytes it had to move, else the errno to fail with. */
static int copy_status(struct ublkfw_queue *q, struct io_slot *s, int res, unsigned int want)
{
	if (res >= 0 && (unsigned int)res == want)
		return 0;
	ublkfw_err(q->dev, "queue %u tag %u: user copy %s %u bytes: %s", q->id, s->io.tag,
		   s->state == IO_COPY_IN ? "from the kernel of" : "to the kernel of", want,
		   res < 0 ? strerror(-res) : "short");
	return res < 0 ? res : -EIO;
}

static void copy_cqe_cb(struct ublkfw_queue *q, struct ublkfw_uring_op *op, int res,
			unsigned int flags)
{
	struct io_slot *s = ublkfw_container_of(op, struct io_slot, copy_op);
	int err;

	(void)flags;
	if (s->state == IO_COPY_IN) {
		err = copy_status(q, s, res, s->io.len);
		if (err) {
			ublkfw_queue_commit(q, s, err);
			return;
		}
		s->state = IO_IN_TARGET;
		ublkfw_stack_dispatch(q, &s->io);
		return;
	}
	err = copy_status(q, s, res, (unsigned int)s->uc_result);
	ublkfw_queue_commit(q, s, err ? err : s->uc_result);
}

void ublkfw_uc_begin(struct ublkfw_queue *q, struct io_slot *s)
{
	buf_get(q, s);
	if (s->io.op == UBLKFW_OP_READ) {
		ublkfw_stack_dispatch(q, &s->io);
		return;
	}
	s->state = IO_COPY_IN;
	if (copy_submit(q, s, false, s->io.len))
		ublkfw_queue_commit(q, s, -EIO);
}

bool ublkfw_uc_end(struct ublkfw_queue *q, struct io_slot *s, int result)
{
	if (!s->buf || s->io.op != UBLKFW_OP_READ || result <= 0)
		return false;
	s->state = IO_COPY_OUT;
	s->uc_result = result;
	/* more than asked is a target bug: never copy past the request */
	if ((unsigned int)result > s->io.len || copy_submit(q, s, true, (unsigned int)result))
		ublkfw_queue_commit(q, s, -EIO);
	return true;
}
