/* SPDX-License-Identifier: MIT */
/*
 * backing_map.h - where a request's bytes live on the backing legs: linear
 * (one leg) or RAID-0 (legs in chunks).  Pure functions, unit-tested.
 */
#ifndef UBLKFW_BACKING_MAP_H
#define UBLKFW_BACKING_MAP_H

#include <stdint.h>

struct backing_seg {
	unsigned int leg;
	uint64_t off;		/* byte offset on the leg */
	char *buf;		/* NULL for operations without data */
	uint32_t len;
};

/* Most segments one request of at most max_io bytes (or a flush) needs. */
unsigned int backing_max_segs(uint64_t chunk, unsigned int nr_legs, uint32_t max_io);

/*
 * Split [off, off + len) of the device into segments on the legs: chunk 0
 * means one linear leg.  Chunk c of the device lives on leg c % nr_legs at
 * leg offset (c / nr_legs) * chunk.  Returns the number of segments, or 0 if
 * more than max_segs would be needed.
 */
unsigned int backing_map(uint64_t chunk, unsigned int nr_legs, uint64_t off, uint32_t len,
			 void *buf, struct backing_seg *segs, unsigned int max_segs);

/* A flush: one segment per leg. */
unsigned int backing_flush_segs(unsigned int nr_legs, struct backing_seg *segs);

#endif
