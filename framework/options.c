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

#include "options.h"

enum {
	OPT_FOREGROUND = 0x100,
	OPT_MAX_IO,
	OPT_SHMEM_ZC,
	OPT_HTLB,
	OPT_SHMEM_RO,
	OPT_FILTER,
	OPT_RECOVERY,
	OPT_RECOVER,
	OPT_USER_COPY,
	OPT_UNPRIVILEGED,
	OPT_LAYER_BASE = 0x1000,	/* + index in the layers' option table */
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
	{ "filter",	required_argument, NULL, OPT_FILTER },
	{ "recovery",	required_argument, NULL, OPT_RECOVERY },
	{ "recover",	no_argument,	   NULL, OPT_RECOVER },
	{ "user-copy",	no_argument,	   NULL, OPT_USER_COPY },
	{ "unprivileged", no_argument,	   NULL, OPT_UNPRIVILEGED },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, 'V' },
};

static void usage_options(FILE *f, const char *title, const char *name,
			  const struct ublkfw_option *o)
{
	if (!o)
		return;
	fprintf(f, "\n%s %s options:\n", name, title);
	for (; o->name; o++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "      %-20s %s\n", left, o->help ? o->help : "");
	}
}

void ublkfw_usage(const struct ublkfw_dev *dev, FILE *f)
{
	if (dev->conf.usage_cmd)
		fprintf(f, "usage: %s %s", dev->conf.usage_cmd, dev->ops.name);
	else
		fprintf(f, "usage: %s", dev->conf.prog);
	fprintf(f, " [OPTIONS] [--filter NAME [FILTER OPTIONS]]...%s%s%s\n",
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
		"      --filter NAME    stack a filter over the target (repeatable, the first\n"
		"                       is the top); --filter NAME --help shows its options\n"
		"      --foreground     do not daemonize; serve until SIGINT/SIGTERM\n"
		"      --recovery MODE  none (default), reissue, requeue or fail-io: the device\n"
		"                       outlives its server (see ublk-fw-ctl recover)\n"
		"      --recover        take over device -n ID whose server died (what\n"
		"                       ublk-fw-ctl recover runs)\n"
		"      --user-copy      move data with reads and writes of /dev/ublkcN\n"
		"                       (UBLK_F_USER_COPY): no buffer per idle tag\n"
		"      --unprivileged   a normal user's own device (UBLK_F_UNPRIVILEGED_DEV):\n"
		"                       only that user and root may open it; needs the\n"
		"                       ublk-fw udev rule\n"
		"      --shmem-zc       shared-memory zero copy (UBLK_F_SHMEM_ZC): clients may\n"
		"                       register memfds on /run/ublk-fw/ID.sock\n"
		"      --htlb PATH      register this hugetlbfs file at start (needs --shmem-zc)\n"
		"      --shmem-ro       register buffers read-only: only writes are zero-copy\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n",
		UBLK_MAX_NR_QUEUES, UBLKFW_DEF_QUEUES, UBLK_MAX_QUEUE_DEPTH, UBLKFW_DEF_DEPTH);
	fprintf(f, "\nFilters: ");
	ublkfw_filter_list(f);
	fprintf(f, "\n");
	for (unsigned int i = 0; i < dev->stack.nr; i++)
		usage_options(f, "filter", dev->stack.layers[i].ops.name,
			      dev->stack.layers[i].ops.options);
	usage_options(f, "target", dev->ops.name, dev->ops.options);
}

static int bad(const struct ublkfw_dev *dev, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", dev->conf.prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return -1;
}

/*
 * The filters are stacked before the real parse, so that their options are
 * known to it: the NAME of every "--filter NAME" or "--filter=NAME" in argv,
 * in order.  The parse checks that getopt saw the same ones.
 */
static const char *filter_arg(char **argv, int *i)
{
	if (!strncmp(argv[*i], "--filter=", 9))
		return argv[*i] + 9;
	if (!strcmp(argv[*i], "--filter") && argv[*i + 1])
		return argv[++*i];
	return NULL;
}

static int stack_filters(struct ublkfw_dev *dev, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *name = filter_arg(argv, &i);

		if (name && ublkfw_stack_push(dev, name))
			return -1;
	}
	return 0;
}

/* Options of every layer (filters from the top, then the target), each name
 * once: the first layer that declares it gets it first in config. */
struct layer_opts {
	const struct ublkfw_option *opt[512];
	size_t n;
};

static int add_layer_opts(const struct ublkfw_dev *dev, struct layer_opts *lo,
			  const struct ublkfw_option *o)
{
	for (; o && o->name; o++) {
		size_t i;

		for (i = 0; i < lo->n; i++)
			if (!strcmp(lo->opt[i]->name, o->name))
				break;
		if (i < lo->n) {
			if (!lo->opt[i]->arg != !o->arg)
				return bad(dev, "two layers disagree on whether --%s takes a value",
					   o->name);
			continue;
		}
		for (i = 0; i < UBLKFW_ARRAY_SIZE(std_options); i++)
			if (!strcmp(std_options[i].name, o->name))
				return bad(dev, "a layer redefines the standard option --%s", o->name);
		if (lo->n >= UBLKFW_ARRAY_SIZE(lo->opt))
			return bad(dev, "%s", "too many options");
		lo->opt[lo->n++] = o;
	}
	return 0;
}

static struct option *build_longopts(const struct ublkfw_dev *dev, struct layer_opts *lo)
{
	size_t nstd = UBLKFW_ARRAY_SIZE(std_options);
	struct option *longopts;

	lo->n = 0;
	for (unsigned int i = 0; i < dev->stack.nr; i++)
		if (add_layer_opts(dev, lo, dev->stack.layers[i].ops.options))
			return NULL;
	if (add_layer_opts(dev, lo, dev->ops.options))
		return NULL;
	longopts = calloc(nstd + lo->n + 1, sizeof(*longopts));
	if (!longopts) {
		bad(dev, "%s", "out of memory");
		return NULL;
	}
	memcpy(longopts, std_options, sizeof(std_options));
	for (size_t i = 0; i < lo->n; i++) {
		longopts[nstd + i].name = lo->opt[i]->name;
		longopts[nstd + i].has_arg = lo->opt[i]->arg ? required_argument : no_argument;
		longopts[nstd + i].val = OPT_LAYER_BASE + (int)i;
	}
	return longopts;
}

/* One standard option; 0 or -1 after a message. */
static int std_option(struct ublkfw_dev *dev, int c, const char *arg, unsigned int *nr_filters)
{
	uint64_t v;

	switch (c) {
	case 'n':
		if (ublkfw_parse_dev_id(arg, &dev->conf.req_id))
			return bad(dev, "invalid device id '%s': use 0..1048575", arg);
		return 0;
	case 'q':
		if (ublkfw_parse_uint(arg, 1, UBLK_MAX_NR_QUEUES, &v))
			return bad(dev, "invalid queue count '%s': use 1..4096", arg);
		dev->conf.nr_queues = v;
		return 0;
	case 'd':
		if (ublkfw_parse_uint(arg, 1, UBLK_MAX_QUEUE_DEPTH, &v))
			return bad(dev, "invalid queue depth '%s': use 1..4096", arg);
		dev->conf.depth = v;
		return 0;
	case 's':
		if (ublkfw_parse_size(arg, &v) || v == 0)
			return bad(dev, "invalid size '%s': use a positive number with an optional K, M, G or T suffix",
				   arg);
		dev->conf.size = v;
		return 0;
	case OPT_MAX_IO:
		if (ublkfw_parse_size(arg, &v) || !ublkfw_is_pow2(v) || v < 4096 ||
		    v > UBLKFW_MAX_MAX_IO)
			return bad(dev, "invalid --max-io '%s': use a power of two from 4K to 1M", arg);
		dev->conf.max_io = v;
		return 0;
	case OPT_FILTER:
		/* stacked by stack_filters(); an abbreviation (--filt) it missed */
		if (*nr_filters >= dev->stack.nr ||
		    strcmp(dev->stack.layers[*nr_filters].ops.name, arg))
			return bad(dev, "write --filter %s in full, as one option", arg);
		(*nr_filters)++;
		return 0;
	case OPT_FOREGROUND:
		dev->conf.foreground = true;
		return 0;
	case OPT_RECOVERY:
		if (ublkfw_recovery_flags(arg, &v))
			return bad(dev, "invalid --recovery '%s': use none, reissue, requeue or fail-io", arg);
		dev->conf.flags_req = (dev->conf.flags_req & ~(UBLK_F_USER_RECOVERY |
				       UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO)) | v;
		return 0;
	case OPT_RECOVER:
		dev->conf.recover = true;
		return 0;
	case OPT_UNPRIVILEGED:
		dev->conf.flags_req |= UBLK_F_UNPRIVILEGED_DEV;
		return 0;
	case OPT_SHMEM_ZC:
		dev->conf.flags_req |= UBLK_F_SHMEM_ZC;
		return 0;
	case OPT_USER_COPY:
		dev->conf.flags_req |= UBLK_F_USER_COPY;
		return 0;
	case OPT_HTLB:
		dev->shm.htlb_path = arg;
		return 0;
	case OPT_SHMEM_RO:
		dev->shm.read_only = true;
		return 0;
	}
	return bad(dev, "%s", "internal error: unhandled option");
}

/* getopt over argv; 1 after --help/--version, 0, or -1 after a message. */
static int parse_options(struct ublkfw_dev *dev, int argc, char **argv,
			 const struct option *longopts, const struct layer_opts *lo)
{
	unsigned int nr_filters = 0;
	char culprit[64];
	int c;

	optind = 0;	/* 0, not 1: glibc also forgets a cluster it was in */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:q:d:s:hV", longopts, NULL)) != -1) {
		const struct ublkfw_option *o;

		switch (c) {
		case 'h':
			ublkfw_usage(dev, stdout);
			return 1;
		case 'V':
			printf("%s (ublk-fw) %s\n", dev->conf.prog, UBLKFW_VERSION);
			return 1;
		case ':':
			return bad(dev, "option '%s' needs a value (see --help)",
				   ublkfw_getopt_culprit(c, argv, culprit, sizeof(culprit)));
		case '?':
			return bad(dev, "unknown option '%s' (see --help)",
				   ublkfw_getopt_culprit(c, argv, culprit, sizeof(culprit)));
		}
		if (c < OPT_LAYER_BASE) {
			if (std_option(dev, c, optarg, &nr_filters))
				return -1;
			continue;
		}
		o = lo->opt[c - OPT_LAYER_BASE];
		if (ublkfw_stack_config(dev, o->name, o->arg ? optarg : NULL))
			return -1;
	}
	return 0;
}

int ublkfw_parse_args(struct ublkfw_dev *dev, int argc, char **argv)
{
	struct layer_opts lo;
	struct option *longopts;
	int ret;

	dev->conf.argc = argc;
	dev->conf.argv = argv;
	if (stack_filters(dev, argc, argv))
		return -1;
	longopts = build_longopts(dev, &lo);
	if (!longopts)
		return -1;
	ret = parse_options(dev, argc, argv, longopts, &lo);
	free(longopts);
	if (ret)
		return ret;
	if (dev->conf.recover && dev->conf.req_id < 0)
		return bad(dev, "%s", "--recover needs -n ID, the device whose server died");
	if ((dev->shm.htlb_path || dev->shm.read_only) && !(dev->conf.flags_req & UBLK_F_SHMEM_ZC))
		return bad(dev, "%s needs --shmem-zc", dev->shm.htlb_path ? "--htlb" : "--shmem-ro");
	for (; optind < argc; optind++)
		if (ublkfw_stack_config(dev, NULL, argv[optind]))
			return -1;
	return 0;
}
