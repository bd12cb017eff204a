// SPDX-License-Identifier: MIT
/* Pools, the client allocator and the zero-copy descriptor lookup (no kernel). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

Test(shmem, memfd_pool_is_shared_memory)
{
	struct ublkfw_shmem_pool *pool;
	char *base, *again;

	cr_assert_eq(ublkfw_shmem_pool_create(10000, 0, &pool), 0);
	cr_expect_eq(ublkfw_shmem_pool_size(pool), 12288, "rounded up to pages");
	base = ublkfw_shmem_pool_base(pool);
	strcpy(base + 5000, "hello");
	/* another mapping of the same fd sees it: what the server does */
	again = mmap(NULL, 12288, PROT_READ, MAP_SHARED, ublkfw_shmem_pool_fd(pool), 0);
	cr_assert_neq(again, MAP_FAILED);
	cr_expect_str_eq(again + 5000, "hello");
	munmap(again, 12288);
	ublkfw_shmem_pool_destroy(pool);
	cr_expect_eq(ublkfw_shmem_pool_create(0, 0, &pool), -EINVAL);
}

Test(shmem, allocator_first_fit_aligned_and_reusable)
{
	struct ublkfw_shmem_pool *pool;
	char *a, *b, *c, *d;

	cr_assert_eq(ublkfw_shmem_pool_create(64 << 10, 0, &pool), 0);	/* 16 blocks */
	a = ublkfw_shmem_alloc(pool, 1);
	b = ublkfw_shmem_alloc(pool, 8192);
	c = ublkfw_shmem_alloc(pool, 4096);
	cr_assert(a && b && c);
	cr_expect_eq((uintptr_t)a % 4096, 0);
	cr_expect_eq(b, a + 4096);
	cr_expect_eq(c, b + 8192);
	cr_expect_null(ublkfw_shmem_alloc(pool, 13 * 4096), "only 12 blocks left");
	d = ublkfw_shmem_alloc(pool, 12 * 4096);
	cr_expect_eq(d, c + 4096);
	ublkfw_shmem_free(pool, b);
	cr_expect_eq(ublkfw_shmem_alloc(pool, 8192), b, "the freed run is found again");
	cr_expect_null(ublkfw_shmem_alloc(pool, 4096), "full");
	ublkfw_shmem_free(pool, b + 4096);	/* not the start of a run: ignored */
	cr_expect_null(ublkfw_shmem_alloc(pool, 4096));
	ublkfw_shmem_pool_destroy(pool);
}

Test(shmem, hugetlbfs_open_refuses_other_files)
{
	struct ublkfw_shmem_pool *pool;

	cr_expect_eq(ublkfw_shmem_pool_open_hugetlbfs("/nonexistent/x", &pool), -ENOENT);
	cr_expect_eq(ublkfw_shmem_pool_open_hugetlbfs("/proc/self/status", &pool), -EMEDIUMTYPE);
}

Test(shmem, zero_copy_descriptor_lookup_checks_index_and_bounds)
{
	struct ublkfw_shmem_pool *pool;
	struct ublkfw_dev dev;
	char *base;

	memset(&dev, 0, sizeof(dev));
	cr_expect_null(ublkfw_shmem_lookup(&dev, 0, 4096), "no table: device without SHMEM_ZC");
	cr_assert_eq(ublkfw_shmem_table_init(&dev), 0);
	cr_assert_eq(ublkfw_shmem_pool_create(1 << 20, 0, &pool), 0);
	base = ublkfw_shmem_pool_base(pool);
	atomic_store(&dev.shm.pools[7], pool);

	cr_expect_eq(ublkfw_shmem_lookup(&dev, (7ULL << 32) | 8192, 4096), base + 8192);
	cr_expect_eq(ublkfw_shmem_lookup(&dev, (7ULL << 32) | ((1 << 20) - 4096), 4096),
		     base + (1 << 20) - 4096, "the last page");
	cr_expect_null(ublkfw_shmem_lookup(&dev, (7ULL << 32) | ((1 << 20) - 4096), 8192),
		       "past the end");
	cr_expect_null(ublkfw_shmem_lookup(&dev, (8ULL << 32) | 0, 4096), "unregistered index");
	cr_expect_null(ublkfw_shmem_lookup(&dev, (1ULL << 48) | (7ULL << 32), 4096),
		       "bits 48..63 must be zero");
	ublkfw_shmem_release_all(&dev);
	cr_expect_null(dev.shm.pools);
}

Test(shmem, unregister_refused_on_the_device_queue_thread)
{
	struct ublkfw_dev dev;

	memset(&dev, 0, sizeof(dev));
	cr_assert_eq(ublkfw_shmem_table_init(&dev), 0);
	cr_expect_eq(ublkfw_dev_shmem_unregister(&dev, 70000, NULL), -EINVAL);
	cr_expect_eq(ublkfw_dev_shmem_unregister(&dev, 5, NULL), -ENOENT);
	ublkfw_shmem_mark_queue_thread(&dev);	/* as a queue thread of dev does */
	cr_expect_eq(ublkfw_dev_shmem_unregister(&dev, 5, NULL), -EDEADLK,
		     "UNREG_BUF freezes the queue this thread serves");
	ublkfw_shmem_mark_queue_thread(NULL);
	ublkfw_shmem_release_all(&dev);
}

static struct ublkfw_dev race_dev;
static struct ublkfw_shmem_pool *race_pool;

static void *late_store(void *arg)
{
	(void)arg;
	usleep(5000);	/* REG_BUF has returned; the table is written a bit later */
	atomic_store(&race_dev.shm.pools[2], race_pool);
	atomic_fetch_sub(&race_dev.shm.reg_pending, 1);
	return NULL;
}

Test(shmem, lookup_waits_for_a_registration_in_flight)
{
	pthread_t t;
	char *p;

	memset(&race_dev, 0, sizeof(race_dev));
	cr_assert_eq(ublkfw_shmem_table_init(&race_dev), 0);
	cr_assert_eq(ublkfw_shmem_pool_create(1 << 20, 0, &race_pool), 0);
	atomic_store(&race_dev.shm.reg_pending, 1);
	cr_assert_eq(pthread_create(&t, NULL, late_store, NULL), 0);
	p = ublkfw_shmem_lookup(&race_dev, (2ULL << 32) | 4096, 4096);
	pthread_join(t, NULL);
	cr_expect_eq(p, (char *)ublkfw_shmem_pool_base(race_pool) + 4096,
		     "a hit on an index being registered must not fail");
	cr_expect_null(ublkfw_shmem_lookup(&race_dev, 5ULL << 32, 4096),
		       "no registration in flight: an unknown index fails at once");
	ublkfw_shmem_release_all(&race_dev);
}

/* A client's memfd is checked before it is mapped: one over the kernel's
 * 4 GiB per-buffer limit is refused at once, and none is populated. */
Test(shmem, client_memfd_size_checked_before_mapping)
{
	struct ublkfw_shmem_pool *pool;
	size_t len = 1UL << 30, resident = 0;
	unsigned char *vec = malloc(len / 4096);
	int fd = memfd_create("unit-huge", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)UBLK_SHMEM_BUF_MAX_LEN + 4096), 0);
	cr_expect_eq(ublkfw_shmem_pool_from_fd(fd, &pool), -E2BIG);	/* and fd is closed */
	fd = memfd_create("unit-big", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)len), 0);
	cr_assert_eq(ublkfw_shmem_pool_from_fd(fd, &pool), 0);
	cr_expect_eq(ublkfw_shmem_pool_size(pool), len);
	cr_assert_eq(mincore(ublkfw_shmem_pool_base(pool), len, vec), 0);
	for (size_t i = 0; i < len / 4096; i++)
		resident += vec[i] & 1;
	cr_expect_eq(resident, 0, "mapping a 1 GiB memfd must not populate it (%zu pages)", resident);
	ublkfw_shmem_pool_destroy(pool);
	free(vec);
}
