// SPDX-License-Identifier: MIT
/*
 * ctl-stats.c - `ublk-fw-ctl stats -n ID [--json] [--watch [--interval S]
 * [--count N]]`: the counters of a device's stats filter(s), read from the
 * server's control socket (/run/ublk-fw/ID.ctl) and parsed with json-c.
 * Text shows totals per kind of operation and latency percentiles; --watch
 * shows each interval's IOPS and bandwidth instead (with --json: each sample
 * as one JSON line).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ctl.h"

static const char *const kinds[] = { "read", "write", "flush", "discard", "write_zeroes" };
#define NR_KINDS	UBLKFW_ARRAY_SIZE(kinds)

/* The "stats" objects of every stats filter of device id, as a new array. */
static int fetch(int id, struct json_object **out)
{
	char *buf = malloc(CTL_STATS_BUF);
	struct json_object *doc, *filters, *arr;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = ublkfw_client_stats(id, buf, CTL_STATS_BUF);
	doc = ret ? NULL : json_tokener_parse(buf);
	free(buf);
	if (ret)
		return ret;
	if (!doc)
		return -EPROTO;
	arr = json_object_new_array();
	if (json_object_object_get_ex(doc, "filters", &filters)) {
		for (size_t i = 0; i < json_object_array_length(filters); i++) {
			struct json_object *f = json_object_array_get_idx(filters, i), *name;

			if (json_object_object_get_ex(f, "name", &name) &&
			    !strcmp(json_object_get_string(name), "stats"))
				json_object_array_add(arr, json_object_get(f));
		}
	}
	json_object_put(doc);
	*out = arr;
	return 0;
}

static uint64_t num(struct json_object *o, const char *kind, const char *key)
{
	struct json_object *ops, *k, *v;

	if (!json_object_object_get_ex(o, "stats", &o) || !json_object_object_get_ex(o, "ops", &ops) ||
	    !json_object_object_get_ex(ops, kind, &k) || !json_object_object_get_ex(k, key, &v))
		return 0;
	return (uint64_t)json_object_get_int64(v);
}

static void human(uint64_t b, char *buf, size_t len)
{
	static const char units[][4] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < UBLKFW_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void print_totals(int id, struct json_object *f)
{
	struct json_object *layer;

	json_object_object_get_ex(f, "layer", &layer);
	printf("device %d, stats filter at layer %d:\n", id, json_object_get_int(layer));
	printf("%-13s %10s %11s %8s %9s %9s %9s %9s\n", "OP", "IOS", "BYTES", "ERRORS", "MEAN_US",
	       "P50_US", "P99_US", "MAX_US");
	for (size_t k = 0; k < NR_KINDS; k++) {
		char b[32];

		human(num(f, kinds[k], "bytes"), b, sizeof(b));
		printf("%-13s %10llu %11s %8llu %9llu %9llu %9llu %9llu\n", kinds[k],
		       (unsigned long long)num(f, kinds[k], "ios"), b,
		       (unsigned long long)num(f, kinds[k], "errors"),
		       (unsigned long long)num(f, kinds[k], "lat_us_mean"),
		       (unsigned long long)num(f, kinds[k], "lat_us_p50"),
		       (unsigned long long)num(f, kinds[k], "lat_us_p99"),
		       (unsigned long long)num(f, kinds[k], "lat_us_max"));
	}
}

/* One --watch line: each kind's IOPS and bytes/s since the previous sample. */
static void print_rates(struct json_object *prev, struct json_object *cur, double dt)
{
	for (size_t k = 0; k < NR_KINDS; k++) {
		char b[32];
		uint64_t dios = num(cur, kinds[k], "ios") - num(prev, kinds[k], "ios");
		uint64_t dbytes = num(cur, kinds[k], "bytes") - num(prev, kinds[k], "bytes");

		human((uint64_t)(dbytes / dt), b, sizeof(b));
		printf("%s%s %.0f IOPS %s/s", k ? "  " : "", kinds[k], dios / dt, b);
	}
	printf("\n");
	fflush(stdout);
}

static int fetch_first(int id, struct json_object **arr, struct json_object **first)
{
	int ret = fetch(id, arr);

	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		fprintf(stderr, PROG ": stats: no server answers for device %d: is it running? (see " PROG " list)\n",
			id);
		return 1;
	}
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, PROG ": stats: device %d's server did not answer within %d s on %s/%d.ctl (stopped or hung?)\n",
			id, UBLKFW_CLIENT_TIMEOUT_MS / 1000, ublkfw_run_dir(), id);
		return 1;
	}
	if (ret) {
		fprintf(stderr, PROG ": stats: device %d: %s\n", id, strerror(-ret));
		return 1;
	}
	if (!json_object_array_length(*arr)) {
		fprintf(stderr, PROG ": stats: device %d has no stats filter: add the device with --filter stats\n",
			id);
		json_object_put(*arr);
		return 1;
	}
	*first = json_object_array_get_idx(*arr, 0);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int watch(int id, double interval, long count, bool json)
{
	struct json_object *prev_arr, *prev, *arr, *cur;
	double t0 = now_s(), t;

	if (fetch_first(id, &prev_arr, &prev))
		return 1;
	for (long i = 0; count < 0 || i < count; i++) {
		nanosleep(&(struct timespec){ (time_t)interval,
					      (long)((interval - (time_t)interval) * 1e9) }, NULL);
		if (fetch_first(id, &arr, &cur)) {
			json_object_put(prev_arr);
			return 1;
		}
		t = now_s();
		if (json) {
			printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
			fflush(stdout);
		} else {
			print_rates(prev, cur, t - t0);
		}
		json_object_put(prev_arr);
		prev_arr = arr;
		prev = cur;
		t0 = t;
	}
	json_object_put(prev_arr);
	return 0;
}

int ctl_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *arr, *first;
	int id = -1, opt;
	bool json = false, watching = false;
	double interval = 1;
	long count = -1;
	uint64_t v;
	char *end;

	optind = 0;	/* 0, not 1: glibc also forgets a cluster it was in */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:j", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (ctl_parse_id("stats", optarg, &id))
				return 2;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			watching = true;
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (!*optarg || *end || interval < 0.05 || interval > 3600) {
				fprintf(stderr, PROG ": stats: invalid --interval '%s': use 0.05 to 3600 seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			if (ublkfw_parse_uint(optarg, 1, 1000000, &v)) {
				fprintf(stderr, PROG ": stats: invalid --count '%s': use 1..1000000\n", optarg);
				return 2;
			}
			count = (long)v;
			break;
		default:
			return ctl_getopt_error("stats", opt, argv);
		}
	}
	if (ctl_no_more_args("stats", argc, argv))
		return 2;
	if (id < 0) {
		fprintf(stderr, PROG ": stats: give the device with -n ID (see " PROG " --help)\n");
		return 2;
	}
	if (!watching && (count >= 0 || interval != 1)) {
		fprintf(stderr, PROG ": stats: --interval and --count go with --watch\n");
		return 2;
	}
	if (watching)
		return watch(id, interval, count, json);
	if (fetch_first(id, &arr, &first))
		return 1;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	else
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			print_totals(id, json_object_array_get_idx(arr, i));
	json_object_put(arr);
	return 0;
}
