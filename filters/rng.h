/* SPDX-License-Identifier: MIT */
/*
 * rng.h - the filters' random numbers: xorshift64*, one generator per queue
 * seeded from the user's --*-seed and the queue id, so that one seed gives
 * one sequence of choices on each queue.
 */
#ifndef UBLKFW_FILTER_RNG_H
#define UBLKFW_FILTER_RNG_H

#include <stdint.h>

static inline uint64_t rng_seed(uint64_t seed, unsigned int queue)
{
	/* splitmix-style spread; never 0, which xorshift cannot leave */
	return ((seed + 1) * 0x9e3779b97f4a7c15ULL + queue) | 1;
}

/* A number in [0, 1). */
static inline double rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / (double)(1ULL << 53);
}

#endif
