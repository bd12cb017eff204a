// SPDX-License-Identifier: MIT
/*
 * shmem_pool.c - shared-memory pools (UBLK_F_SHMEM_ZC): a MAP_SHARED mapping
 * of a memfd or a hugetlbfs file, usable by a server and its clients alike,
 * and the clients' allocator of O_DIRECT buffers inside one.
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

#define ALLOC_BLOCK	4096UL

/* ---- pools ---------------------------------------------------------------- */

static int pool_map(int fd, struct ublkfw_shmem_pool **poolp)
{
	struct ublkfw_shmem_pool *pool;
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	if (st.st_size % sysconf(_SC_PAGESIZE))
		return -EINVAL;
	/* Checked before anything is mapped: the kernel registers no more. */
	if ((uint64_t)st.st_size > UBLK_SHMEM_BUF_MAX_LEN)
		return -E2BIG;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->size = st.st_size;
	/* Not populated: REG_BUF pins (and so faults in) the pages it
	 * registers, and a client's pool is its own to touch first. */
	pool->base = mmap(NULL, pool->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pool->base == MAP_FAILED) {
		/* a write-sealed memfd maps read-only */
		pool->base = mmap(NULL, pool->size, PROT_READ, MAP_SHARED, fd, 0);
		if (pool->base == MAP_FAILED) {
			int err = -errno;

			free(pool);
			return err;
		}
	}
	pool->fd = fd;
	pool->index = -1;
	pool->nblocks = pool->size / ALLOC_BLOCK;
	pthread_mutex_init(&pool->lock, NULL);
	*poolp = pool;
	return 0;
}

int ublkfw_shmem_pool_from_fd(int fd, struct ublkfw_shmem_pool **pool)
{
	int ret = pool_map(fd, pool);

	if (ret)
		close(fd);
	return ret;
}

int ublkfw_shmem_pool_create(size_t size, unsigned int flags, struct ublkfw_shmem_pool **pool)
{
	size_t unit = (flags & UBLKFW_SHMEM_HUGE) ? 2UL << 20 : (size_t)sysconf(_SC_PAGESIZE);
	int fd;

	if (!size)
		return -EINVAL;
	size = (size + unit - 1) / unit * unit;
	fd = memfd_create("ublkfw-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING |
			  ((flags & UBLKFW_SHMEM_HUGE) ? MFD_HUGETLB : 0));
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return ublkfw_shmem_pool_from_fd(fd, pool);
}

int ublkfw_shmem_pool_open_hugetlbfs(const char *path, struct ublkfw_shmem_pool **pool)
{
	struct statfs sfs;
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) || (unsigned long)sfs.f_type != HUGETLBFS_MAGIC) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size % sfs.f_bsize) {
		close(fd);
		return -EINVAL;
	}
	return ublkfw_shmem_pool_from_fd(fd, pool);
}

void ublkfw_shmem_pool_destroy(struct ublkfw_shmem_pool *pool)
{
	if (!pool)
		return;
	munmap(pool->base, pool->size);
	close(pool->fd);
	free(pool->runs);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

void *ublkfw_shmem_pool_base(const struct ublkfw_shmem_pool *pool) { return pool->base; }
size_t ublkfw_shmem_pool_size(const struct ublkfw_shmem_pool *pool) { return pool->size; }
int ublkfw_shmem_pool_fd(const struct ublkfw_shmem_pool *pool) { return pool->fd; }

/* ---- the client's allocator: first fit over 4 KiB blocks ---------------- */

void *ublkfw_shmem_alloc(struct ublkfw_shmem_pool *pool, size_t size)
{
	size_t need = (size + ALLOC_BLOCK - 1) / ALLOC_BLOCK, i = 0, run;
	void *p = NULL;

	if (!need || need > pool->nblocks)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	if (!pool->runs)
		pool->runs = calloc(pool->nblocks, sizeof(*pool->runs));
	while (pool->runs && i + need <= pool->nblocks) {
		for (run = 0; run < need && !pool->runs[i + run]; run++)
			;
		if (run == need) {
			/* runs[] marks every block of an allocation: its length at
			 * the first, UINT32_MAX at the others (in use). */
			pool->runs[i] = need;
			for (run = 1; run < need; run++)
				pool->runs[i + run] = UINT32_MAX;
			p = (char *)pool->base + i * ALLOC_BLOCK;
			break;
		}
		i += run + 1;
		while (i < pool->nblocks && pool->runs[i] == UINT32_MAX)
			i++;
	}
	pthread_mutex_unlock(&pool->lock);
	return p;
}

void ublkfw_shmem_free(struct ublkfw_shmem_pool *pool, void *ptr)
{
	size_t i, n;

	if (!ptr)
		return;
	i = ((char *)ptr - (char *)pool->base) / ALLOC_BLOCK;
	pthread_mutex_lock(&pool->lock);
	if (pool->runs && i < pool->nblocks && pool->runs[i] && pool->runs[i] != UINT32_MAX) {
		n = pool->runs[i];
		memset(&pool->runs[i], 0, n * sizeof(*pool->runs));
	}
	pthread_mutex_unlock(&pool->lock);
}

