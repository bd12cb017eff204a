// SPDX-License-Identifier: MIT
/*
 * shmem_table.c - a device's table of registered pools, on the data path.
 * A server registers pools with its device (REG_BUF); the kernel pins their
 * pages and, when a request's data lies inside one, passes "index | offset"
 * instead of copying.  The queue layer turns that back into a pointer here
 * (ublkfw_shmem_lookup), checking index and bounds, so a target sees an
 * ordinary io->data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "shmem.h"
#include "state.h"

/* The queue thread of this thread, if any: UNREG_BUF must never run there. */
static __thread const struct ublkfw_dev *tls_queue_dev;

void ublkfw_shmem_mark_queue_thread(const struct ublkfw_dev *dev)
{
	tls_queue_dev = dev;
}

/* ---- the device's pool table ------------------------------------------- */

/* The registered buffers changed: while the device serves, its state file
 * says which are (a later recover registers them again). */
static void pools_changed(struct ublkfw_dev *dev)
{
	if (dev->started)
		ublkfw_state_write(dev);	/* a failure is logged */
}

int ublkfw_shmem_table_init(struct ublkfw_dev *dev)
{
	dev->shm.pools = calloc(UBLK_SHMEM_BUF_MAX_INDEX + 1, sizeof(*dev->shm.pools));
	return dev->shm.pools ? 0 : -ENOMEM;
}

struct pending_lookup {
	struct ublkfw_dev *dev;
	unsigned int idx;
	struct ublkfw_shmem_pool *pool;
};

static bool registered_or_idle(void *arg)
{
	struct pending_lookup *pl = arg;

	pl->pool = atomic_load_explicit(&pl->dev->shm.pools[pl->idx], memory_order_acquire);
	return pl->pool || !atomic_load(&pl->dev->shm.reg_pending);
}

void *ublkfw_shmem_lookup(struct ublkfw_dev *dev, uint64_t addr, uint32_t len)
{
	uint64_t off = addr & UBLK_SHMEM_ZC_OFF_MASK;
	unsigned int idx = (addr >> UBLK_SHMEM_ZC_IDX_SHIFT) & UBLK_SHMEM_ZC_IDX_MASK;
	struct ublkfw_shmem_pool *pool;

	if (!dev->shm.pools || (addr >> 48))
		return NULL;
	pool = atomic_load_explicit(&dev->shm.pools[idx], memory_order_acquire);
	/*
	 * The kernel may hand out a new index as soon as REG_BUF returns, just
	 * before ublkfw_dev_shmem_register() records it here.  While a
	 * registration is in flight, wait for it rather than fail the I/O.
	 * The wait is bounded: REG_BUF may freeze the queue, which waits for
	 * this very request when its index is really bad.
	 */
	if (!pool && atomic_load(&dev->shm.reg_pending)) {
		struct pending_lookup pl = { dev, idx, NULL };

		ublkfw_poll_until(registered_or_idle, &pl, 100, 50);
		pool = pl.pool;
	}
	if (!pool || off + len > pool->size)
		return NULL;
	return (char *)pool->base + off;
}

int ublkfw_dev_shmem_register(struct ublkfw_dev *dev, struct ublkfw_shmem_pool *pool,
			      unsigned int flags)
{
	struct ublk_shmem_buf_reg reg = {
		.addr = (uint64_t)(uintptr_t)pool->base,
		.len = pool->size,
		.flags = (flags & UBLKFW_SHMEM_READ_ONLY) ? UBLK_SHMEM_BUF_READ_ONLY : 0,
	};
	int idx;

	/* a recovering server registers before END_USER_RECOVERY */
	if ((!dev->added && !dev->conf.recover) || !(dev->info.flags & UBLK_F_SHMEM_ZC) ||
	    !dev->shm.pools)
		return -EOPNOTSUPP;
	if (tls_queue_dev == dev)
		return -EDEADLK;
	if (pool->index >= 0)
		return -EBUSY;
	atomic_fetch_add(&dev->shm.reg_pending, 1);	/* see ublkfw_shmem_lookup() */
	idx = ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_REG_BUF, dev->id, (uint16_t)-1, &reg,
			      sizeof(reg), 0);
	if (idx > UBLK_SHMEM_BUF_MAX_INDEX) {
		ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_UNREG_BUF, dev->id, (uint16_t)-1, NULL, 0, idx);
		idx = -ERANGE;
	}
	if (idx >= 0) {
		pool->index = idx;
		atomic_store_explicit(&dev->shm.pools[idx], pool, memory_order_release);
	}
	atomic_fetch_sub(&dev->shm.reg_pending, 1);
	if (idx >= 0)
		pools_changed(dev);
	return idx;
}

int ublkfw_dev_shmem_unregister(struct ublkfw_dev *dev, int index, struct ublkfw_shmem_pool **poolp)
{
	struct ublkfw_shmem_pool *pool;
	int ret;

	if (index < 0 || index > UBLK_SHMEM_BUF_MAX_INDEX || !dev->shm.pools)
		return -EINVAL;
	if (tls_queue_dev == dev)
		return -EDEADLK;	/* UNREG_BUF freezes this very queue */
	pool = atomic_load(&dev->shm.pools[index]);
	if (!pool)
		return -ENOENT;
	/* The kernel first: it freezes the queue, so once it returns no
	 * request in flight uses the index and none will be given it again. */
	ret = ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_UNREG_BUF, dev->id, (uint16_t)-1, NULL, 0,
			      index);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	atomic_store_explicit(&dev->shm.pools[index], NULL, memory_order_release);
	pool->index = -1;
	if (poolp)
		*poolp = pool;
	else
		ublkfw_shmem_pool_destroy(pool);
	pools_changed(dev);
	return 0;
}

/* After DEL_DEV: the kernel released its pins; drop our mappings. */
void ublkfw_shmem_release_all(struct ublkfw_dev *dev)
{
	if (!dev->shm.pools)
		return;
	for (unsigned int i = 0; i <= UBLK_SHMEM_BUF_MAX_INDEX; i++) {
		struct ublkfw_shmem_pool *pool = atomic_load(&dev->shm.pools[i]);

		if (pool)
			ublkfw_shmem_pool_destroy(pool);
	}
	free(dev->shm.pools);
	dev->shm.pools = NULL;
}

/* Before anything is created: the kernel must have SHMEM_ZC, and the
 * --htlb file must be a pool.  0, or -1 after a one-line message. */
int ublkfw_shmem_prepare(struct ublkfw_dev *dev)
{
	struct ublkfw_ctrl c;
	uint64_t features = 0;
	int ret;

	if (ublkfw_ctrl_open(&c) < 0) {
		fprintf(stderr, "%s: %s\n", dev->conf.prog, c.errmsg);
		return -1;
	}
	ret = ublkfw_ctrl_get_features(&c, &features);
	ublkfw_ctrl_close(&c);
	if (ret < 0 || !(features & UBLK_F_SHMEM_ZC)) {
		fprintf(stderr, "%s: --shmem-zc: this kernel's ublk driver has no UBLK_F_SHMEM_ZC "
			"(it needs Linux 7.1 or later, or ublk-fw's kernel/ patch series for 6.12)\n",
			dev->conf.prog);
		return -1;
	}
	if (!dev->shm.htlb_path)
		return 0;
	ret = ublkfw_shmem_pool_open_hugetlbfs(dev->shm.htlb_path, &dev->shm.htlb_pool);
	if (ret == -EMEDIUMTYPE)
		fprintf(stderr, "%s: --htlb %s: not a file on hugetlbfs (mount -t hugetlbfs none DIR, "
			"then create the file there)\n", dev->conf.prog, dev->shm.htlb_path);
	else if (ret == -EINVAL)
		fprintf(stderr, "%s: --htlb %s: its size must be a non-zero multiple of the huge "
			"page size (fallocate -l 4M FILE)\n", dev->conf.prog, dev->shm.htlb_path);
	else if (ret)
		fprintf(stderr, "%s: --htlb %s: %s\n", dev->conf.prog, dev->shm.htlb_path, strerror(-ret));
	return ret ? -1 : 0;
}
