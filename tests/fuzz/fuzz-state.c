// SPDX-License-Identifier: MIT
/*
 * fuzz-state.c - the state file reader (what `list` and `recover` trust) on
 * any file content: no crash, no leak, and a file it accepts is consistent
 * (counts match the arrays, every string terminated, indexes in range).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char dir[] = "/tmp/ublkfw-fuzz-state-XXXXXX";
static char path[sizeof(dir) + 16];

static void check(const struct ublkfw_state *st)
{
	int n = 0;

	for (char **a = st->argv; a && *a; a++)
		n++;
	if (st->argv && n != st->argc)
		abort();
	for (unsigned int i = 0; i < st->nr_shmem_registered; i++)
		if (st->shmem_registered[i] < 0 || st->shmem_registered[i] > UBLK_SHMEM_BUF_MAX_INDEX)
			abort();
	if (st->pid <= 0 || st->id != 0)
		abort();
	for (char **a = st->restart; a && *a; a++)
		(void)strlen(*a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ublkfw_state st;
	FILE *f;

	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		setenv("UBLKFW_RUN_DIR", dir, 1);
		snprintf(path, sizeof(path), "%s/0.json", dir);
	}
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		abort();
	if (!ublkfw_state_read(0, &st)) {
		check(&st);
		ublkfw_state_free(&st);
	}
	return 0;
}
