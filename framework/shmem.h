/* SPDX-License-Identifier: MIT */
/* shmem.h - the pool object shared by shmem_pool.c, shmem_table.c and the
 * sockets; the functions are declared in internal.h. */
#ifndef UBLKFW_SHMEM_H
#define UBLKFW_SHMEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct ublkfw_shmem_pool {
	int fd;
	void *base;
	size_t size;
	int index;			/* registered index, -1 when not registered */
	pthread_mutex_t lock;		/* allocator */
	uint32_t *runs;			/* runs[i]: blocks allocated starting at block i */
	size_t nblocks;
};

#endif
