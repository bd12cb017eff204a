// SPDX-License-Identifier: MIT
/*
 * options.c - the standard command line of every ublk-fw server, merged with
 * the target's own long options (struct ublkfw_option).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum {
	OPT_FOREGROUND = 0x100,
	OPT_MAX_IO,
	OPT_SHMEM_ZC,
	OPT_HTLB,
	OPT_SHMEM_RO,
	OPT_TARGET_BASE = 0x1000,	/* + index in ops.options */
};

static const struct option std_options[] = {
	{ "id",		required_argument, NULL, 'n' },
	{ "queues",	required_argument, NULL, 'q' },
	{ "depth",	required_argument, NULL, 'd' },
	{ "size",	required_argument, NULL, 's' },
	{ "max-io",	required_argument, NULL, OPT_MAX_IO },
	{ "foreground",	no_argument,	   NULL, OPT_FOREGROUND },
	{ "shmem-zc",	no_argument,	   NULL, OPT_SHMEM_ZC },
	{ "htlb",	required_argument, NULL, OPT_HTLB },
	{ "shmem-ro",	no_argument,	   NULL, OPT_SHMEM_RO },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, 'V' },
};

void ublkfw_usage(const struct ublkfw_dev *dev, FILE *f)
{
	const struct ublkfw_option *o;

	if (dev->usage_cmd)
		fprintf(f, "usage: %s %s", dev->usage_cmd, dev->ops.name);
	else
		fprintf(f, "usage: %s", dev->prog);
	fprintf(f, " [OPTIONS]%s%s%s\n",
		dev->ops.options ? " [TARGET OPTIONS]" : "",
		dev->ops.args_usage ? " " : "", dev->ops.args_usage ? dev->ops.args_usage : "");
	fprintf(f, "Serve a ublk block device with the '%s' target%s%s.\n\n", dev->ops.name,
		dev->ops.description ? ": " : "",
		dev->ops.description ? dev->ops.description : "");
	fprintf(f,
		"  -n, --id ID          device id (default: the kernel picks one)\n"
		"  -q, --queues N       hardware queues, 1..%u (default %u)\n"
		"  -d, --depth N        queue depth, 1..%u (default %u)\n"
		"  -s, --size SIZE      device size, with K, M, G or T suffix\n"
		"      --max-io SIZE    largest request, a power of two 4K..1M (default 512K)\n"
		"      --foreground     do not daemonize; serve until SIGINT/SIGTERM\n"
		"      --shmem-zc       shared-memory zero copy (UBLK_F_SHMEM_ZC): clients may\n"
		"                       register memfds on /run/ublk-fw/ID.sock\n"
		"      --htlb PATH      register this hugetlbfs file at start (needs --shmem-zc)\n"
		"      --shmem-ro       register buffers read-only: only writes are zero-copy\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n",
		UBLK_MAX_NR_QUEUES, UBLKFW_DEF_QUEUES, UBLK_MAX_QUEUE_DEPTH, UBLKFW_DEF_DEPTH);
	if (!dev->ops.options)
		return;
	fprintf(f, "\n%s target options:\n", dev->ops.name);
	for (o = dev->ops.options; o->name; o++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "      %-20s %s\n", left, o->help ? o->help : "");
	}
}

static int bad(const struct ublkfw_dev *dev, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", dev->prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return -1;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int ublkfw_parse_args(struct ublkfw_dev *dev, int argc, char **argv)
{
	size_t nstd = UBLKFW_ARRAY_SIZE(std_options), ntgt = 0, i;
	struct option *longopts;
	uint64_t v;
	int c, ret = 0;

	if (dev->ops.options)
		while (dev->ops.options[ntgt].name)
			ntgt++;
	longopts = calloc(nstd + ntgt + 1, sizeof(*longopts));
	if (!longopts)
		return bad(dev, "%s", "out of memory");
	memcpy(longopts, std_options, sizeof(std_options));
	for (i = 0; i < ntgt; i++) {
		longopts[nstd + i].name = dev->ops.options[i].name;
		longopts[nstd + i].has_arg =
			dev->ops.options[i].arg ? required_argument : no_argument;
		longopts[nstd + i].val = OPT_TARGET_BASE + (int)i;
	}

	dev->argc = argc;
	dev->argv = argv;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:q:d:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (ublkfw_parse_uint(optarg, 0, (1U << 20) - 1, &v))
				ret = bad(dev, "invalid device id '%s': use 0..1048575", optarg);
			else
				dev->req_id = (int)v;
			break;
		case 'q':
			if (ublkfw_parse_uint(optarg, 1, UBLK_MAX_NR_QUEUES, &v))
				ret = bad(dev, "invalid queue count '%s': use 1..4096", optarg);
			else
				dev->nr_queues = v;
			break;
		case 'd':
			if (ublkfw_parse_uint(optarg, 1, UBLK_MAX_QUEUE_DEPTH, &v))
				ret = bad(dev, "invalid queue depth '%s': use 1..4096", optarg);
			else
				dev->depth = v;
			break;
		case 's':
			if (ublkfw_parse_size(optarg, &v) || v == 0)
				ret = bad(dev, "invalid size '%s': use a positive number with an optional K, M, G or T suffix",
					  optarg);
			else
				dev->size = v;
			break;
		case OPT_MAX_IO:
			if (ublkfw_parse_size(optarg, &v) || !is_pow2(v) || v < 4096 ||
			    v > UBLKFW_MAX_MAX_IO)
				ret = bad(dev, "invalid --max-io '%s': use a power of two from 4K to 1M",
					  optarg);
			else
				dev->max_io = v;
			break;
		case OPT_FOREGROUND:
			dev->foreground = true;
			break;
		case OPT_SHMEM_ZC:
			dev->flags_req |= UBLK_F_SHMEM_ZC;
			break;
		case OPT_HTLB:
			dev->htlb_path = optarg;
			break;
		case OPT_SHMEM_RO:
			dev->shmem_ro = true;
			break;
		case 'h':
			ublkfw_usage(dev, stdout);
			free(longopts);
			return 1;
		case 'V':
			printf("%s (ublk-fw) %s\n", dev->prog, UBLKFW_VERSION);
			free(longopts);
			return 1;
		case ':':
			ret = bad(dev, "option '%s' needs a value (see --help)", argv[optind - 1]);
			break;
		case '?':
			ret = bad(dev, "unknown option '%s' (see --help)", argv[optind - 1]);
			break;
		default:
			if (c >= OPT_TARGET_BASE && c < OPT_TARGET_BASE + (int)ntgt) {
				const struct ublkfw_option *o = &dev->ops.options[c - OPT_TARGET_BASE];

				if (!dev->ops.config)
					ret = bad(dev, "target has no config callback for --%s", o->name);
				else if (dev->ops.config(dev, o->name, o->arg ? optarg : NULL))
					ret = -1;
			}
			break;
		}
		if (ret)
			break;
	}
	free(longopts);
	if (ret)
		return ret;
	if ((dev->htlb_path || dev->shmem_ro) && !(dev->flags_req & UBLK_F_SHMEM_ZC))
		return bad(dev, "%s needs --shmem-zc", dev->htlb_path ? "--htlb" : "--shmem-ro");
	for (; optind < argc; optind++) {
		if (!dev->ops.config)
			return bad(dev, "unexpected argument '%s' (see --help)", argv[optind]);
		if (dev->ops.config(dev, NULL, argv[optind]))
			return -1;
	}
	return 0;
}
