// SPDX-License-Identifier: MIT
/* backing_map.c - linear and RAID-0 mapping of requests onto legs. */
#include "backing_map.h"

unsigned int backing_max_segs(uint64_t chunk, unsigned int nr_legs, uint32_t max_io)
{
	uint64_t data;

	if (!chunk)
		return 1;
	/* an unaligned request can touch one chunk more than its size needs */
	data = (max_io + chunk - 1) / chunk + 1;
	return data > nr_legs ? (unsigned int)data : nr_legs;
}

unsigned int backing_map(uint64_t chunk, unsigned int nr_legs, uint64_t off, uint32_t len,
			 void *buf, struct backing_seg *segs, unsigned int max_segs)
{
	char *p = buf;
	unsigned int n = 0;

	if (!chunk) {
		if (!max_segs)
			return 0;
		segs[0] = (struct backing_seg){ .leg = 0, .off = off, .buf = p, .len = len };
		return 1;
	}
	while (len) {
		uint64_t c = off / chunk, in = off % chunk;
		uint32_t seg = chunk - in < len ? (uint32_t)(chunk - in) : len;

		if (n == max_segs)
			return 0;
		segs[n++] = (struct backing_seg){
			.leg = (unsigned int)(c % nr_legs),
			.off = (c / nr_legs) * chunk + in,
			.buf = p,
			.len = seg,
		};
		off += seg;
		len -= seg;
		if (p)
			p += seg;
	}
	return n;
}

unsigned int backing_flush_segs(unsigned int nr_legs, struct backing_seg *segs)
{
	for (unsigned int i = 0; i < nr_legs; i++)
		segs[i] = (struct backing_seg){ .leg = i };
	return nr_legs;
}
