// SPDX-License-Identifier: MIT
/*
 * ublk-fw-ctl - create, list and delete ublk devices served by ublk-fw
 * targets, and show the kernel's ublk features.  See ublk-fw-ctl(8).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "targets.h"
#include "ctl.h"

static int usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " add -t TARGET [-n ID] [-q QUEUES] [-d DEPTH] [-s SIZE] [--foreground]\n"
		"                [--filter NAME [FILTER OPTIONS]]... [TARGET OPTIONS]\n"
		"       " PROG " del -n ID | --all\n"
		"       " PROG " list [-n ID] [--json]\n"
		"       " PROG " recover -n ID | --all\n"
		"       " PROG " stats -n ID [--json] [--watch [--interval SECONDS] [--count N]]\n"
		"       " PROG " features [--json]\n"
		"       " PROG " --help | --version\n"
		"\n"
		"  add       create a device served by TARGET; returns once it is live\n"
		"            (" PROG " add -t TARGET --help lists the target's options)\n"
		"  del       stop and delete a device, also when its server has died\n"
		"  list      devices: kernel state, size, queues, flags, target, server pid\n"
		"  recover   a new server for a device whose server died (add --recovery MODE)\n"
		"  stats     a device's stats filter: requests, bytes, errors, latency\n"
		"  features  the ublk features of the running kernel\n"
		"\n"
		"targets:\n");
	for (int i = 0; ublkfw_builtin_targets[i]; i++)
		fprintf(f, "  %-10s %s\n", ublkfw_builtin_targets[i]->name,
			ublkfw_builtin_targets[i]->description);
	for (int i = 0; ublkfw_module_targets[i]; i++) {
		const struct ublkfw_target_ops *t = ublkfw_find_target(ublkfw_module_targets[i]);

		fprintf(f, "  %-10s %s\n", ublkfw_module_targets[i],
			t ? t->description : ublkfw_target_error());
	}
	return f == stderr ? 2 : 0;
}

static int open_ctrl(struct ublkfw_ctrl *c)
{
	if (ublkfw_check_privileges(PROG))
		return -1;
	if (ublkfw_ctrl_open(c) < 0) {
		fprintf(stderr, PROG ": %s\n", c->errmsg);
		return -1;
	}
	return 0;
}

/* ---- add ------------------------------------------------------------------ */

static int cmd_add(int argc, char **argv)
{
	const struct ublkfw_target_ops *ops;
	const char *tname = NULL;
	char **nargv;
	int nargc = 1, ret;

	/* Take -t/--target out; everything else belongs to ublkfw_main(). */
	nargv = calloc(argc + 1, sizeof(*nargv));
	if (!nargv)
		return 1;
	nargv[0] = PROG;
	for (int i = 1; i < argc; i++) {
		const char *t = NULL;

		if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--target")) {
			if (i + 1 >= argc) {
				fprintf(stderr, PROG ": add: -t needs a target name\n");
				free(nargv);
				return 2;
			}
			t = argv[++i];
		} else if (!strncmp(argv[i], "--target=", 9)) {
			t = argv[i] + 9;
		} else {
			nargv[nargc++] = argv[i];
			continue;
		}
		if (tname) {
			fprintf(stderr, PROG ": add: two targets ('%s', then '%s'): give -t once\n", tname, t);
			free(nargv);
			return 2;
		}
		tname = t;
	}
	if (!tname) {
		for (int i = 1; i < nargc; i++)
			if (!strcmp(nargv[i], "-h") || !strcmp(nargv[i], "--help")) {
				free(nargv);
				return usage(stdout);
			}
		fprintf(stderr, PROG ": add: no target given: use -t TARGET (see " PROG " --help)\n");
		free(nargv);
		return 2;
	}
	ops = ublkfw_find_target(tname);
	if (!ops && *ublkfw_target_error()) {
		fprintf(stderr, PROG ": add: %s\n", ublkfw_target_error());
		free(nargv);
		return 2;
	}
	if (!ops) {
		char names[256] = "";

		for (int i = 0; ublkfw_builtin_targets[i]; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i ? ", " : "", ublkfw_builtin_targets[i]->name);
		for (int i = 0; ublkfw_module_targets[i]; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), ", %s",
				 ublkfw_module_targets[i]);
		fprintf(stderr, PROG ": add: unknown target '%s': choose one of %s\n", tname, names);
		free(nargv);
		return 2;
	}
	ret = ublkfw_main_cmd(ops, nargc, nargv, PROG " add -t");
	free(nargv);
	return ret;
}

/* ---- device enumeration ----------------------------------------------------- */

/* Does process pid hold /dev/ublkc<id> open, i.e. is it that device's server? */
static bool pid_serves(pid_t pid, int id)
{
	char dir[64], path[PATH_MAX], link[PATH_MAX], want[32];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (pid <= 0)
		return false;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "/dev/ublkc%d", id);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, want);
	}
	closedir(d);
	return found;
}

/* ---- del ------------------------------------------------------------------ */

struct server_gone {
	struct ublkfw_ctrl *c;
	int id;
	pid_t pid;
};

/* The device is gone, or its server is. */
static bool server_gone(void *arg)
{
	struct server_gone *g = arg;
	struct ublksrv_ctrl_dev_info info;

	return ublkfw_ctrl_get_info(g->c, g->id, &info) == -ENODEV || !pid_serves(g->pid, g->id);
}

static int del_one(struct ublkfw_ctrl *c, int id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublkfw_state st;
	char log[256];
	bool dead = false;
	pid_t pid = -1;
	int ret;

	char why[160];

	ret = ublkfw_ctrl_get_info(c, id, &info);
	if (ret == -ENODEV)
		ublkfw_state_remove(id);
	if (ret < 0) {
		fprintf(stderr, PROG ": del: %s\n", ublkfw_ctrl_dev_error(c, id, ret, why, sizeof(why)));
		return 1;
	}
	if (info.ublksrv_pid > 0) {
		pid = info.ublksrv_pid;
	} else if (!ublkfw_state_read(id, &st)) {
		pid = st.pid;
		ublkfw_state_free(&st);
	}

	dead = !pid_serves(pid, id);
	if (!dead) {
		/* A live server: let it stop, drain and delete its own device.
		 * One that has not let go of /dev/ublkcN after 30 s is killed:
		 * DEL_DEV below would otherwise wait for it forever. */
		struct server_gone g = { c, id, pid };

		kill(pid, SIGTERM);
		if (!ublkfw_poll_until(server_gone, &g, 30000, 20000)) {
			fprintf(stderr, PROG ": del: server %d did not stop in 30 s: killing it\n",
				(int)pid);
			kill(pid, SIGKILL);
			ublkfw_poll_until(server_gone, &g, 10000, 20000);
			dead = true;
		}
	}
	/* A dead (or stubborn) server: do it ourselves. */
	ret = ublkfw_ctrl_get_info(c, id, &info);
	if (ret != -ENODEV) {
		ret = ublkfw_ctrl_stop_dev(c, id);
		if (ret < 0 && ret != -ENODEV) {
			fprintf(stderr, PROG ": del: %s\n", c->errmsg);
			return 1;
		}
		ret = ublkfw_ctrl_del_dev(c, id);
		if (ret < 0 && ret != -ENODEV) {
			fprintf(stderr, PROG ": del: %s\n", c->errmsg);
			return 1;
		}
	}
	if (dead && !ublkfw_state_keep_log(id, log, sizeof(log)))
		printf("device %d's server had died: its last log is %s\n", id, log);
	ublkfw_state_remove(id);
	printf("deleted /dev/ublkb%d (id %d)\n", id, id);
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ublkfw_ctrl c;
	int id = -1, all = 0, opt, ret = 0;

	optind = 0;	/* 0, not 1: glibc also forgets a cluster it was in */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:ah", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (ctl_parse_id("del", optarg, &id))
				return 2;
			break;
		case 'a':
			all = 1;
			break;
		case 'h':
			return usage(stdout);
		default:
			return ctl_getopt_error("del", opt, argv);
		}
	}
	if (ctl_no_more_args("del", argc, argv))
		return 2;
	if ((id < 0) == !all) {
		fprintf(stderr, PROG ": del: give exactly one of -n ID or --all\n");
		return 2;
	}
	if (open_ctrl(&c))
		return 1;
	if (all) {
		int ids[1024], n = ctl_list_ids(ids, 1024);

		for (int i = 0; i < n; i++) {
			struct ublksrv_ctrl_dev_info info;
			int r = ublkfw_ctrl_get_info(&c, ids[i], &info);

			/* a user's --all is their own devices (root's: all) */
			if (r != -EACCES && r != -EPERM)
				ret |= del_one(&c, ids[i]);
		}
	} else {
		ret = del_one(&c, id);
	}
	ublkfw_ctrl_close(&c);
	return ret;
}

/* ---- list ----------------------------------------------------------------- */

static void human_size(uint64_t b, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	int u = 0;

	while (b >= 1024 && !(b % 1024) && u < 5) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu%c", (unsigned long long)b, units[u]);
}

static void print_flag_array(FILE *f, uint64_t flags)
{
	bool first = true;

	fputc('[', f);
	for (unsigned int bit = 0; bit < 64; bit++) {
		char unknown[16];

		if (!(flags & (1ULL << bit)))
			continue;
		fprintf(f, "%s", first ? "" : ", ");
		ublkfw_json_str(f, ublkfw_feature_label(bit, unknown));
		first = false;
	}
	fputc(']', f);
}

static void print_str_or_null(FILE *f, const char *s)
{
	if (s)
		ublkfw_json_str(f, s);
	else
		fputs("null", f);
}

/* A value of the server's stats object, 0 when absent. */
static long long stats_num(struct json_object *doc, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(doc, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

/*
 * The server's counters, from its statistics socket (if it runs): the JSON
 * object it answered, parsed into *doc, with *text cut after its last byte
 * (list --json shows it as the server wrote it).  false when there is no
 * server or its answer is not a stats object.
 */
static bool fetch_stats(int id, char *text, struct json_object **doc)
{
	struct json_tokener *tok;
	struct json_object *zc;
	int ret;

	*doc = NULL;
	ret = ublkfw_client_stats(id, text, CTL_STATS_BUF);
	if (ret == -ETIMEDOUT)
		fprintf(stderr, PROG ": list: device %d's server did not answer within %d s on %s/%d.ctl (stopped or hung?): its stats are not shown\n",
			id, UBLKFW_CLIENT_TIMEOUT_MS / 1000, ublkfw_run_dir(), id);
	if (ret)
		return false;
	tok = json_tokener_new();
	if (!tok)
		return false;
	*doc = json_tokener_parse_ex(tok, text, -1);
	if (json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_object_get_ex(*doc, "zc_ios", &zc)) {
		text[json_tokener_get_parse_end(tok)] = '\0';
	} else {
		json_object_put(*doc);
		*doc = NULL;
	}
	json_tokener_free(tok);
	return *doc;
}

static int list_one(struct ublkfw_ctrl *c, int id, bool json, bool first)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	struct ublkfw_state st;
	struct json_object *sdoc;
	uint64_t size = 0;
	unsigned int lbs = 0;
	bool have_state, have_stats;
	const char *state;
	char flags[512], sz[32], *stats;
	int ret = ublkfw_ctrl_get_info(c, id, &info);

	if (ret < 0)
		return ret;
	if (ublkfw_ctrl_get_params(c, id, &p) >= 0 && (p.types & UBLK_PARAM_TYPE_BASIC)) {
		size = p.basic.dev_sectors << 9;
		lbs = 1U << p.basic.logical_bs_shift;
	}
	have_state = !ublkfw_state_read(id, &st);
	stats = malloc(CTL_STATS_BUF);
	have_stats = stats && fetch_stats(id, stats, &sdoc);
	state = ublkfw_state_name(info.state);
	if (!state)
		state = "UNKNOWN";
	if (json) {
		printf("%s\n  {\"id\": %d, \"state\": \"%s\", \"size\": %llu, \"logical_block_size\": %u, "
		       "\"queues\": %u, \"depth\": %u, \"max_io\": %u, \"flags\": %llu, \"flag_names\": ",
		       first ? "" : ",", id, state, (unsigned long long)size, lbs, info.nr_hw_queues,
		       info.queue_depth, info.max_io_buf_bytes, (unsigned long long)info.flags);
		print_flag_array(stdout, info.flags);
		printf(", \"pid\": %d, \"target\": ", info.ublksrv_pid);
		print_str_or_null(stdout, have_state ? st.target : NULL);
		printf(", \"args\": ");
		print_str_or_null(stdout, have_state ? st.args : NULL);
		printf(", \"stats\": %s}", have_stats ? stats : "null");
	} else {
		human_size(size, sz, sizeof(sz));
		char zcs[64] = "-";

		if (have_stats)
			snprintf(zcs, sizeof(zcs), "%lld/%lld/%lld", stats_num(sdoc, "zc_ios"),
				 stats_num(sdoc, "copy_ios"), stats_num(sdoc, "zc_rejected"));
		printf("%-4d %-8s %-8s %-6u %-6u %-8s %-8d %-20s %s\n", id, state, sz,
		       info.nr_hw_queues, info.queue_depth, have_state && st.target ? st.target : "-",
		       info.ublksrv_pid, zcs, ublkfw_flags_str(info.flags, flags, sizeof(flags)));
	}
	if (have_stats)
		json_object_put(sdoc);
	free(stats);
	if (have_state)
		ublkfw_state_free(&st);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ublkfw_ctrl c;
	int ids[1024], n, id = -1, opt, ret = 0, shown = 0;
	bool json = false;

	optind = 0;	/* 0, not 1: glibc also forgets a cluster it was in */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (ctl_parse_id("list", optarg, &id))
				return 2;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return usage(stdout);
		default:
			return ctl_getopt_error("list", opt, argv);
		}
	}
	if (ctl_no_more_args("list", argc, argv))
		return 2;
	if (open_ctrl(&c))
		return 1;
	if (id >= 0) {
		ids[0] = id;
		n = 1;
	} else {
		n = ctl_list_ids(ids, 1024);
	}
	if (json)
		printf("[");
	else
		printf("%-4s %-8s %-8s %-6s %-6s %-8s %-8s %-20s %s\n", "ID", "STATE", "SIZE",
		       "QUEUES", "DEPTH", "TARGET", "PID", "ZC/COPY/REJECTED", "FLAGS");
	for (int i = 0; i < n; i++) {
		char why[160];
		int err = list_one(&c, ids[i], json, shown == 0);

		if (!err) {
			shown++;
		} else if (id >= 0) {
			fprintf(stderr, PROG ": list: %s\n",
				ublkfw_ctrl_dev_error(&c, id, err, why, sizeof(why)));
			ret = 1;
		}
	}
	if (json)
		printf("%s]\n", shown ? "\n" : "");
	ublkfw_ctrl_close(&c);
	return ret;
}

/* ---- features ------------------------------------------------------------- */

static int cmd_features(int argc, char **argv)
{
	struct ublkfw_ctrl c;
	uint64_t features;
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	int ret;

	if (argc > 1 + json) {
		fprintf(stderr, PROG ": features: unexpected argument '%s' (see " PROG " --help)\n",
			argv[1 + json]);
		return 2;
	}
	if (open_ctrl(&c))
		return 1;
	ret = ublkfw_ctrl_get_features(&c, &features);
	ublkfw_ctrl_close(&c);
	if (ret < 0) {
		fprintf(stderr, PROG ": features: %s\n", c.errmsg);
		return 1;
	}
	if (json) {
		printf("{\"features\": %llu, \"names\": ", (unsigned long long)features);
		print_flag_array(stdout, features);
		printf("}\n");
		return 0;
	}
	printf("features: 0x%llx\n", (unsigned long long)features);
	for (unsigned int bit = 0; bit < 64; bit++) {
		const char *name = ublkfw_feature_name(bit);

		if (features & (1ULL << bit))
			printf("  %-2u %s\n", bit, name ? name : "(unknown)");
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* Descriptors the caller leaked to us would live on in every server
	 * this starts: a tool that makes daemons closes them first. */
	close_range(3, ~0U, 0);
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf(PROG " (ublk-fw) " UBLKFW_VERSION "\n");
		return 0;
	}
	if (!strcmp(argv[1], "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return cmd_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recover"))
		return ctl_cmd_recover(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return ctl_cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "features"))
		return cmd_features(argc - 1, argv + 1);
	fprintf(stderr, PROG ": unknown command '%s' (see " PROG " --help)\n", argv[1]);
	return 2;
}
