// SPDX-License-Identifier: MIT
/* Linear and RAID-0 mapping of requests onto backing legs. */
#include <criterion/criterion.h>

#include "backing_map.h"

Test(backing_map, linear_is_one_segment)
{
	struct backing_seg s[4];
	char buf[8192];

	cr_assert_eq(backing_map(0, 1, 12288, 8192, buf, s, 4), 1);
	cr_expect_eq(s[0].leg, 0);
	cr_expect_eq(s[0].off, 12288);
	cr_expect_eq(s[0].len, 8192);
	cr_expect_eq(s[0].buf, buf);
	cr_expect_eq(backing_max_segs(0, 1, 1 << 20), 1);
}

Test(backing_map, stripe_splits_at_chunk_boundaries)
{
	/* 3 legs, 4K chunks: device chunk c is on leg c%3 at (c/3)*4K */
	struct backing_seg s[8];
	char buf[16384];
	unsigned int n = backing_map(4096, 3, 4096 + 1024, 12288, buf, s, 8);

	cr_assert_eq(n, 4);
	/* chunk 1, from 1K: leg 1 @ 0 + 1K, 3K long */
	cr_expect_eq(s[0].leg, 1);
	cr_expect_eq(s[0].off, 1024);
	cr_expect_eq(s[0].len, 3072);
	cr_expect_eq(s[0].buf, buf);
	/* chunk 2: leg 2 @ 0 */
	cr_expect_eq(s[1].leg, 2);
	cr_expect_eq(s[1].off, 0);
	cr_expect_eq(s[1].len, 4096);
	cr_expect_eq(s[1].buf, buf + 3072);
	/* chunk 3: leg 0 @ 4K (second row) */
	cr_expect_eq(s[2].leg, 0);
	cr_expect_eq(s[2].off, 4096);
	cr_expect_eq(s[2].len, 4096);
	/* chunk 4, first 1K: leg 1 @ 4K */
	cr_expect_eq(s[3].leg, 1);
	cr_expect_eq(s[3].off, 4096);
	cr_expect_eq(s[3].len, 1024);
	cr_expect_eq(s[3].buf, buf + 3072 + 8192);
}

Test(backing_map, segments_cover_the_request_exactly)
{
	struct backing_seg s[200];
	unsigned int max = backing_max_segs(4096, 2, 512 << 10);

	for (uint64_t off = 0; off < 65536; off += 512) {
		unsigned int n = backing_map(4096, 2, off, 512 << 10, NULL, s, max);
		uint64_t total = 0;

		cr_assert_gt(n, 0, "max_segs too small at off %llu", (unsigned long long)off);
		for (unsigned int i = 0; i < n; i++) {
			total += s[i].len;
			cr_assert_null(s[i].buf);
		}
		cr_assert_eq(total, 512 << 10);
	}
}

Test(backing_map, too_many_segments_is_refused_and_flush_hits_every_leg)
{
	struct backing_seg s[16];

	cr_expect_eq(backing_map(4096, 2, 0, 65536, NULL, s, 4), 0);
	cr_expect_eq(backing_flush_segs(3, s), 3);
	cr_expect_eq(s[2].leg, 2);
	cr_expect_eq(backing_max_segs(4096, 16, 4096), 16, "a flush needs one per leg");
}
