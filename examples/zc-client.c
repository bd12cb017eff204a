// SPDX-License-Identifier: MIT
/*
 * zc-client.c - a client of a --shmem-zc device: it creates a memfd pool,
 * hands it to the server (ublkfw_client_register), allocates O_DIRECT
 * buffers from it, writes a pattern and reads it back, and prints how many
 * of its I/Os the server saw zero-copy.
 *
 *   ublk-fw-ctl add -t memory -s 256M --shmem-zc       # /dev/ublkb0 (id 0)
 *   ./ublk-zc-client 0 [COUNT]
 *
 * At the end it unregisters the pool (ublkfw_client_unregister) and does one
 * more write and read from it, which the server now sees copied.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ublkfw.h>

#define IO_SIZE		(64 << 10)
#define POOL_SIZE	(4 << 20)

int main(int argc, char **argv)
{
	struct ublkfw_shmem_pool *pool;
	int id, count, fd, idx, ret, bad = 0;
	char path[64], *wbuf, *rbuf;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DEVICE-ID [COUNT]\n", argv[0]);
		return 2;
	}
	id = atoi(argv[1]);
	count = argc > 2 ? atoi(argv[2]) : 64;

	ret = ublkfw_shmem_pool_create(POOL_SIZE, 0, &pool);
	if (ret) {
		fprintf(stderr, "zc-client: memfd pool: %s\n", strerror(-ret));
		return 1;
	}
	idx = ublkfw_client_register(id, pool);
	if (idx < 0) {
		fprintf(stderr, "zc-client: registering the pool with device %d: %s\n", id,
			strerror(-idx));
		return 1;
	}
	wbuf = ublkfw_shmem_alloc(pool, IO_SIZE);
	rbuf = ublkfw_shmem_alloc(pool, IO_SIZE);
	if (!wbuf || !rbuf) {
		fprintf(stderr, "zc-client: pool allocation failed\n");
		return 1;
	}

	snprintf(path, sizeof(path), "/dev/ublkb%d", id);
	fd = open(path, O_RDWR | O_DIRECT);	/* O_DIRECT: page-cache pages never match */
	if (fd < 0) {
		fprintf(stderr, "zc-client: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = 0; i < count; i++) {
		off_t off = (off_t)i * IO_SIZE;

		for (int j = 0; j < IO_SIZE; j++)
			wbuf[j] = (char)(i * 31 + j * 7);
		memset(rbuf, 0, IO_SIZE);
		if (pwrite(fd, wbuf, IO_SIZE, off) != IO_SIZE ||
		    pread(fd, rbuf, IO_SIZE, off) != IO_SIZE) {
			fprintf(stderr, "zc-client: I/O at %lld: %s\n", (long long)off, strerror(errno));
			return 1;
		}
		if (memcmp(wbuf, rbuf, IO_SIZE))
			bad++;
	}
	printf("zc-client: pool index %d, %d writes and %d reads of %d KiB, %d mismatches\n",
	       idx, count, count, IO_SIZE >> 10, bad);

	/* Give the memory back: the kernel unpins it, later I/O is copied. */
	ret = ublkfw_client_unregister(id, idx);
	if (ret) {
		fprintf(stderr, "zc-client: unregistering buffer %d: %s\n", idx, strerror(-ret));
		return 1;
	}
	if (pwrite(fd, wbuf, IO_SIZE, 0) != IO_SIZE || pread(fd, rbuf, IO_SIZE, 0) != IO_SIZE ||
	    memcmp(wbuf, rbuf, IO_SIZE)) {
		fprintf(stderr, "zc-client: I/O after unregistering failed or mismatched\n");
		return 1;
	}
	printf("zc-client: buffer %d unregistered; 1 write and 1 read after it\n", idx);
	close(fd);
	ublkfw_shmem_free(pool, wbuf);
	ublkfw_shmem_free(pool, rbuf);
	ublkfw_shmem_pool_destroy(pool);
	return bad ? 1 : 0;
}
