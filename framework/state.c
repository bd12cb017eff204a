// SPDX-License-Identifier: MIT
/*
 * state.c - /run/ublk-fw/<id>.json: what a running server records about its
 * device (target, command line, flags, pid) beside the kernel's own
 * information.  `ublk-fw-ctl list` shows it, `del` removes it, and a later
 * `recover` will rebuild a server from it.
 *
 * The file is written whole to a temporary name and renamed, so readers never
 * see half a file.  The reader understands the flat object this file writes
 * (numbers and strings at the top level; arrays are skipped).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

const char *ublkfw_run_dir(void)
{
	const char *d = getenv("UBLKFW_RUN_DIR");

	return d && *d ? d : UBLKFW_RUN_DIR_DEFAULT;
}

int ublkfw_run_dir_make(void)
{
	return mkdir(ublkfw_run_dir(), 0755) && errno != EEXIST ? -errno : 0;
}

void ublkfw_run_path(int id, const char *ext, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d.%s", ublkfw_run_dir(), id, ext);
}

void ublkfw_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Shell-quote argv into buf (for humans and for `recover`). */
static void join_args(char *buf, size_t len, int argc, char **argv)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc && off + 4 < len; i++) {
		const char *a = argv[i];
		bool plain = *a != '\0';

		for (const char *p = a; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("-_./=:,+@%", *p))
				plain = false;
		if (off)
			buf[off++] = ' ';
		if (plain) {
			off += snprintf(buf + off, len - off, "%s", a);
		} else {
			buf[off++] = '\'';
			for (const char *p = a; *p && off + 6 < len; p++) {
				if (*p == '\'')
					off += snprintf(buf + off, len - off, "'\\''");
				else
					buf[off++] = *p;
			}
			buf[off++] = '\'';
			buf[off] = '\0';
		}
		if (off >= len)
			off = len - 1;
	}
}

int ublkfw_state_write(const struct ublkfw_dev *dev)
{
	char path[256], tmp[272], args[1024], flags[512];
	const char *dir = ublkfw_run_dir();
	FILE *f;
	int ret = 0;

	ret = ublkfw_run_dir_make();
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%d.json", dir, dev->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	/* The options after the program name; the target is recorded apart. */
	join_args(args, sizeof(args), dev->conf.argc - 1, dev->conf.argv + 1);
	fprintf(f, "{\n  \"id\": %d,\n  \"pid\": %d,\n  \"target\": ", dev->id, (int)getpid());
	ublkfw_json_str(f, dev->ops.name);
	fprintf(f, ",\n  \"flags\": %llu,\n  \"flag_names\": ",
		(unsigned long long)dev->info.flags);
	ublkfw_json_str(f, ublkfw_flags_str(dev->info.flags, flags, sizeof(flags)));
	fprintf(f, ",\n  \"queues\": %u,\n  \"depth\": %u,\n  \"size\": %llu,\n  \"args\": ",
		dev->conf.nr_queues, dev->conf.depth, (unsigned long long)dev->conf.size);
	ublkfw_json_str(f, args);
	fprintf(f, ",\n  \"argv\": [");
	for (int i = 1; i < dev->conf.argc; i++) {
		fprintf(f, "%s", i > 1 ? ", " : "");
		ublkfw_json_str(f, dev->conf.argv[i]);
	}
	fprintf(f, "]\n}\n");
	if (fflush(f) || ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* Every "<id>.<suffix>" of the run directory, once the device is gone: the
 * state, the log, the targets' files (ublkfw_dev_run_file()) and the
 * sockets a dead server left. */
void ublkfw_state_remove(int id)
{
	char prefix[32], path[512];
	struct dirent *e;
	DIR *d = opendir(ublkfw_run_dir());
	size_t n;

	if (!d)
		return;
	n = (size_t)snprintf(prefix, sizeof(prefix), "%d.", id);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ublkfw_run_dir(), e->d_name);
		unlink(path);
	}
	closedir(d);
}

int ublkfw_dev_run_file(const struct ublkfw_dev *dev, const char *suffix, char *buf, size_t len)
{
	static const char *const reserved[] = { "json", "log", "sock", "ctl", "tmp" };

	if (!suffix || !*suffix || strspn(suffix, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(suffix))
		return -EINVAL;
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(reserved); i++)
		if (!strcmp(suffix, reserved[i]))
			return -EINVAL;
	if (dev->id < 0)
		return -ENODEV;
	if ((size_t)snprintf(buf, len, "%s/%d.%s", ublkfw_run_dir(), dev->id, suffix) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Find "key": in a flat JSON object and return a pointer to its value. */
static const char *json_find(const char *doc, const char *key)
{
	size_t klen = strlen(key);
	const char *p = doc;

	while ((p = strchr(p, '"'))) {
		if (!strncmp(p + 1, key, klen) && p[1 + klen] == '"') {
			p += klen + 2;
			while (isspace((unsigned char)*p))
				p++;
			if (*p != ':')
				continue;
			p++;
			while (isspace((unsigned char)*p))
				p++;
			return p;
		}
		p++;
	}
	return NULL;
}

static int json_get_str(const char *doc, const char *key, char *out, size_t len)
{
	const char *p = json_find(doc, key);
	size_t o = 0;

	if (!p || *p != '"')
		return -ENOENT;
	for (p++; *p && *p != '"' && o + 1 < len; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			out[o++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return 0;
}

int ublkfw_json_get_num(const char *doc, const char *key, long long *v)
{
	const char *p = json_find(doc, key);
	char *end;

	if (!p)
		return -ENOENT;
	*v = strtoll(p, &end, 10);
	return end == p ? -EINVAL : 0;
}

int ublkfw_state_read(int id, struct ublkfw_state *st)
{
	char path[256], doc[8192];
	long long v;
	size_t n;
	FILE *f;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/%d.json", ublkfw_run_dir(), id);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	st->id = id;
	if (ublkfw_json_get_num(doc, "pid", &v))
		return -EINVAL;
	st->pid = (pid_t)v;
	if (!ublkfw_json_get_num(doc, "flags", &v))
		st->flags = (uint64_t)v;
	json_get_str(doc, "target", st->target, sizeof(st->target));
	json_get_str(doc, "args", st->args, sizeof(st->args));
	return 0;
}
