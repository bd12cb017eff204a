/* SPDX-License-Identifier: MIT */
/* shmem.h - shared-memory zero copy inside the framework: the pool object
 * (shmem_pool.c), the device's pool table, the sockets and their client. */
#ifndef UBLKFW_SHMEM_H
#define UBLKFW_SHMEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dev.h"

struct ublkfw_shmem_pool {
	int fd;
	void *base;
	size_t size;
	int index;			/* registered index, -1 when not registered */
	pthread_mutex_t lock;		/* allocator */
	uint32_t *runs;			/* runs[i]: blocks allocated starting at block i */
	size_t nblocks;
};

/* ---- the device's pool table (shmem_table.c), sockets (sockets.c) and
 *      their client (client.c) --------------------------------------------- */

void ublkfw_shmem_mark_queue_thread(const struct ublkfw_dev *dev);
int ublkfw_shmem_prepare(struct ublkfw_dev *dev);
int ublkfw_shmem_table_init(struct ublkfw_dev *dev);
/* SHMEM_ZC descriptor (iod->addr) -> pointer, or NULL if index or bounds are bad. */
void *ublkfw_shmem_lookup(struct ublkfw_dev *dev, uint64_t addr, uint32_t len);
void ublkfw_shmem_release_all(struct ublkfw_dev *dev);
int ublkfw_sockets_start(struct ublkfw_dev *dev);
void ublkfw_sockets_stop(struct ublkfw_dev *dev);
/* A stopped (SIGSTOP) or wedged server must not hang its clients: every
 * connect, send and receive of client.c gives up after this long
 * (-ETIMEDOUT). */
#define UBLKFW_CLIENT_TIMEOUT_MS	3000
/* Client: the server's counters as one JSON line ("stats" on <id>.ctl). */
int ublkfw_client_stats(int dev_id, char *buf, size_t len);

#endif
