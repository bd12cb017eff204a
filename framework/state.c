// SPDX-License-Identifier: MIT
/*
 * state.c - /run/ublk-fw/<id>.json: what a running server records about its
 * device beside the kernel's own information - everything a later `recover`
 * needs to start the same server again (program, arguments, target, filters,
 * registered shared-memory buffers).  `ublk-fw-ctl list` shows it, `del`
 * removes it.  Written and read with json-c.
 *
 * The file is written whole to a temporary name and renamed, so readers never
 * see half a file.  A reader trusts nothing in it: only a regular file of at
 * most UBLKFW_STATE_MAX_SIZE bytes holding the object a server writes.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

/* ---- writing ------------------------------------------------------------ */

/* argv shell-quoted, as a new string (for humans and `list`). */
static char *join_args(int argc, char *const *argv)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool plain = *a != '\0';

		for (const char *p = a; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("-_./=:,+@%", *p))
				plain = false;
		if (i)
			fputc(' ', f);
		if (plain) {
			fputs(a, f);
			continue;
		}
		fputc('\'', f);
		for (const char *p = a; *p; p++) {
			if (*p == '\'')
				fputs("'\\''", f);
			else
				fputc(*p, f);
		}
		fputc('\'', f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static struct json_object *str_or_null(const char *s)
{
	return s ? ublkfw_json_string(s) : NULL;
}

/*
 * The command that starts this server again: the executable, "add -t
 * TARGET" when it runs under `ublk-fw-ctl add` (conf.usage_cmd), then the
 * options it was given.  null when the executable is unknown.
 */
static struct json_object *restart_json(const struct ublkfw_dev *dev, const char *exe)
{
	struct json_object *a;

	if (!exe[0] || !ublkfw_utf8_valid(exe))
		return NULL;
	/* JSON cannot carry other bytes: no restart rather than a wrong one */
	for (int i = 1; i < dev->conf.argc; i++)
		if (!ublkfw_utf8_valid(dev->conf.argv[i]))
			return NULL;
	a = json_object_new_array();
	if (!a)
		return NULL;
	json_object_array_add(a, json_object_new_string(exe));
	if (dev->conf.usage_cmd) {
		json_object_array_add(a, json_object_new_string("add"));
		json_object_array_add(a, json_object_new_string("-t"));
		json_object_array_add(a, json_object_new_string(dev->ops.name));
	}
	for (int i = 1; i < dev->conf.argc; i++)
		json_object_array_add(a, json_object_new_string(dev->conf.argv[i]));
	return a;
}

/* The file's object; NULL when out of memory. */
static struct json_object *state_json(const struct ublkfw_dev *dev)
{
	struct json_object *o = json_object_new_object(), *argv, *filters, *shm, *reg;
	char flags[512], exe[PATH_MAX];
	int nargs = dev->conf.argc > 1 ? dev->conf.argc - 1 : 0;
	char *args = join_args(nargs, nargs ? dev->conf.argv + 1 : NULL);

	argv = json_object_new_array();
	filters = json_object_new_array();
	shm = json_object_new_object();
	reg = json_object_new_array();
	if (!o || !args || !argv || !filters || !shm || !reg) {
		json_object_put(o);
		json_object_put(argv);
		json_object_put(filters);
		json_object_put(shm);
		json_object_put(reg);
		free(args);
		return NULL;
	}
	json_object_object_add(o, "id", json_object_new_int(dev->id));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "target", str_or_null(dev->ops.name));
	json_object_object_add(o, "flags", json_object_new_uint64(dev->info.flags));
	json_object_object_add(o, "flag_names", json_object_new_string(
		ublkfw_flags_str(dev->info.flags, flags, sizeof(flags))));
	json_object_object_add(o, "queues", json_object_new_int64(dev->conf.nr_queues));
	json_object_object_add(o, "depth", json_object_new_int64(dev->conf.depth));
	json_object_object_add(o, "size", json_object_new_uint64(dev->conf.size));
	/* The options after the program name; the target is recorded apart. */
	json_object_object_add(o, "args", ublkfw_json_string(args));
	free(args);
	for (int i = 1; i <= nargs; i++)
		json_object_array_add(argv, ublkfw_json_string(dev->conf.argv[i]));
	json_object_object_add(o, "argv", argv);
	if (!ublkfw_self_exe(exe, sizeof(exe)))
		exe[0] = '\0';
	json_object_object_add(o, "executable", exe[0] ? ublkfw_json_string(exe) : NULL);
	json_object_object_add(o, "restart", restart_json(dev, exe));
	json_object_object_add(o, "cwd", str_or_null(dev->conf.cwd));
	for (unsigned int i = 0; i < dev->stack.nr; i++)
		json_object_array_add(filters, json_object_new_string(dev->stack.layers[i].ops.name));
	json_object_object_add(o, "filters", filters);
	json_object_object_add(o, "recovery", json_object_new_string(
			       ublkfw_recovery_mode(dev->info.flags)));
	json_object_object_add(shm, "htlb", str_or_null(dev->shm.htlb_path));
	json_object_object_add(shm, "read_only", json_object_new_boolean(dev->shm.read_only));
	for (unsigned int i = 0; dev->shm.pools && i <= UBLK_SHMEM_BUF_MAX_INDEX; i++)
		if (atomic_load_explicit(&dev->shm.pools[i], memory_order_acquire))
			json_object_array_add(reg, json_object_new_int((int)i));
	json_object_object_add(shm, "registered", reg);
	json_object_object_add(o, "shmem", shm);
	return o;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* Serialises the writers (registrations may come from several threads):
 * the last file written is the last state seen. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;

/* <id>.json.tmp, written whole, renamed over <id>.json. */
static int state_write_locked(const struct ublkfw_dev *dev, int dfd)
{
	char name[32], tmp[48];
	struct json_object *o;
	const char *text;
	size_t len;
	int fd, ret;

	o = state_json(dev);
	if (!o)
		return -ENOMEM;
	text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	snprintf(name, sizeof(name), "%d.json", dev->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	/* A temporary name left by a server that died writing (the only other
	 * one that could have had this id): unlinked, never followed. */
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		json_object_put(o);
		return -errno;
	}
	ret = text ? 0 : -ENOMEM;
	if (!ret && fchmod(fd, 0644))	/* whatever the umask */
		ret = -errno;
	if (!ret)
		ret = write_all(fd, text, len);
	if (!ret)
		ret = write_all(fd, "\n", 1);
	json_object_put(o);
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(dfd, tmp, dfd, name))
		ret = -errno;
	if (ret)
		unlinkat(dfd, tmp, 0);
	return ret;
}

int ublkfw_state_write(const struct ublkfw_dev *dev)
{
	const char *dir = ublkfw_run_dir();
	int dfd = ublkfw_run_dir_open(), ret;

	if (dfd == -ELOOP) {
		ublkfw_err(dev, "the run directory %s is a symbolic link: refused (no state file: "
			   "list will not show the target)", dir);
		return dfd;
	}
	if (dfd < 0) {
		ublkfw_err(dev, "cannot open the run directory %s: %s (no state file: list will not "
			   "show the target)", dir, strerror(-dfd));
		return dfd;
	}
	pthread_mutex_lock(&state_lock);
	ret = state_write_locked(dev, dfd);
	pthread_mutex_unlock(&state_lock);
	close(dfd);
	if (ret)
		ublkfw_err(dev, "cannot write the state file %s/%d.json: %s (list will not show the "
			   "target)", dir, dev->id, strerror(-ret));
	return ret;
}

/* ---- reading ------------------------------------------------------------ */

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

void ublkfw_state_free(struct ublkfw_state *st)
{
	free(st->target);
	free(st->flag_names);
	free(st->args);
	strv_free(st->argv);
	free(st->executable);
	strv_free(st->restart);
	free(st->cwd);
	strv_free(st->filters);
	free(st->recovery);
	free(st->shmem_htlb);
	free(st->shmem_registered);
	memset(st, 0, sizeof(*st));
}

/* A key a reader may find missing: -ENOENT is no error. */
static int optional(int ret)
{
	return ret == -ENOENT ? 0 : ret;
}

/*
 * The value of key in o, of type type: 0, -ENOENT when o has no such key
 * (or has it as null: *v is then NULL), -EINVAL when it has another type.
 */
static int get(struct json_object *o, const char *key, enum json_type type,
	       struct json_object **v)
{
	if (!json_object_object_get_ex(o, key, v) || !*v)
		return -ENOENT;
	return json_object_is_type(*v, type) ? 0 : -EINVAL;
}

/* An integer in [min, max]: 0, -ENOENT or -EINVAL. */
static int get_int(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	int ret = get(o, key, json_type_int, &v);

	if (ret)
		return ret;
	*out = json_object_get_int64(v);	/* clamped to INT64_MIN/MAX */
	return *out < min || *out > max ? -EINVAL : 0;
}

static int get_uint(struct json_object *o, const char *key, unsigned int *out)
{
	int64_t v;
	int ret = get_int(o, key, 0, UINT_MAX, &v);

	if (!ret)
		*out = (unsigned int)v;
	return ret;
}

/* A non-negative integer up to UINT64_MAX. */
static int get_u64(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v;
	int ret = get(o, key, json_type_int, &v);

	if (ret)
		return ret;
	if (json_object_get_int64(v) < 0)	/* get_uint64 would say 0 */
		return -EINVAL;
	*out = json_object_get_uint64(v);
	return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *out)
{
	struct json_object *v;
	int ret = get(o, key, json_type_boolean, &v);

	if (!ret)
		*out = json_object_get_boolean(v);
	return ret;
}

/* A string as a new C string; one with a NUL inside is refused. */
static int dup_str(struct json_object *v, char **out)
{
	const char *s = json_object_get_string(v);

	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return -EINVAL;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int get_str(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;
	int ret = get(o, key, json_type_string, &v);

	return ret ? ret : dup_str(v, out);
}

/* An array of strings as a NULL-terminated array of new strings. */
static int get_strv(struct json_object *o, const char *key, char ***out, size_t *n)
{
	struct json_object *v;
	int ret = get(o, key, json_type_array, &v);
	char **sv;

	if (ret)
		return ret;
	*n = json_object_array_length(v);
	sv = calloc(*n + 1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	for (size_t i = 0; i < *n && !ret; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		ret = json_object_is_type(e, json_type_string) ? dup_str(e, &sv[i]) : -EINVAL;
	}
	if (ret) {
		strv_free(sv);
		return ret;
	}
	*out = sv;
	return 0;
}

/* "shmem": {"htlb": .., "read_only": .., "registered": [..]} */
static int parse_shmem(struct json_object *shm, struct ublkfw_state *st)
{
	struct json_object *v;
	int ret;

	if ((ret = optional(get_str(shm, "htlb", &st->shmem_htlb))) ||
	    (ret = optional(get_bool(shm, "read_only", &st->shmem_read_only))) ||
	    (ret = get(shm, "registered", json_type_array, &v)))
		return optional(ret);
	st->nr_shmem_registered = json_object_array_length(v);
	st->shmem_registered = calloc(st->nr_shmem_registered + 1, sizeof(int));
	if (!st->shmem_registered)
		return -ENOMEM;
	for (unsigned int i = 0; i < st->nr_shmem_registered; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		int64_t idx;

		if (!json_object_is_type(e, json_type_int))
			return -EINVAL;
		idx = json_object_get_int64(e);
		if (idx < 0 || idx > UBLK_SHMEM_BUF_MAX_INDEX)
			return -EINVAL;
		st->shmem_registered[i] = (int)idx;
	}
	return 0;
}

/* Every key is optional but "pid"; one of another type refuses the file. */
static int parse_state(struct json_object *doc, int id, struct ublkfw_state *st)
{
	struct json_object *shm;
	size_t nargv = 0, nfilters = 0, nrestart = 0;
	int64_t v;
	int ret;

	if (!json_object_is_type(doc, json_type_object))
		return -EINVAL;
	if (optional(get_int(doc, "id", id, id, &v)))
		return -EINVAL;		/* another device's file */
	st->id = id;
	if (get_int(doc, "pid", 1, INT_MAX, &v))
		return -EINVAL;
	st->pid = (pid_t)v;
	if ((ret = optional(get_str(doc, "target", &st->target))) ||
	    (ret = optional(get_u64(doc, "flags", &st->flags))) ||
	    (ret = optional(get_str(doc, "flag_names", &st->flag_names))) ||
	    (ret = optional(get_uint(doc, "queues", &st->queues))) ||
	    (ret = optional(get_uint(doc, "depth", &st->depth))) ||
	    (ret = optional(get_u64(doc, "size", &st->size))) ||
	    (ret = optional(get_str(doc, "args", &st->args))) ||
	    (ret = optional(get_strv(doc, "argv", &st->argv, &nargv))) ||
	    (ret = optional(get_str(doc, "executable", &st->executable))) ||
	    (ret = optional(get_strv(doc, "restart", &st->restart, &nrestart))) ||
	    (ret = optional(get_str(doc, "cwd", &st->cwd))) ||
	    (ret = optional(get_strv(doc, "filters", &st->filters, &nfilters))) ||
	    (ret = optional(get_str(doc, "recovery", &st->recovery))) ||
	    (ret = optional(get(doc, "shmem", json_type_object, &shm))))
		return ret;
	st->argc = (int)nargv;
	st->nr_filters = (unsigned int)nfilters;
	return shm ? parse_shmem(shm, st) : 0;
}

/* The file's bytes, NUL-terminated, in a new buffer *buf. */
static int slurp(const char *path, char **buf, size_t *len, uid_t *owner)
{
	struct stat sb;
	ssize_t n;
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	/* Neither a symlink (to anything) nor a FIFO, which would block. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == ENXIO ? -EINVAL : -errno;
	if (fstat(fd, &sb))
		ret = -errno;
	else if (!S_ISREG(sb.st_mode))
		ret = -EINVAL;
	else if (sb.st_size > UBLKFW_STATE_MAX_SIZE)
		ret = -EFBIG;
	else if (!(*buf = malloc(sb.st_size + 1)))
		ret = -ENOMEM;
	/* The writer renames whole files into place: it never changes under us. */
	while (!ret && *len < (size_t)sb.st_size) {
		n = read(fd, *buf + *len, sb.st_size - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		*len += n;
	}
	close(fd);
	if (ret) {
		free(*buf);
		*buf = NULL;
		return ret;
	}
	(*buf)[*len] = '\0';
	*owner = sb.st_uid;
	return 0;
}

int ublkfw_state_read(int id, struct ublkfw_state *st)
{
	struct json_tokener *tok;
	struct json_object *doc;
	char path[256], *buf = NULL;
	size_t len, end;
	uid_t owner = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	ublkfw_run_path(id, "json", path, sizeof(path));
	ret = slurp(path, &buf, &len, &owner);
	if (ret)
		return ret;
	tok = json_tokener_new();
	if (!tok) {
		free(buf);
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	ret = -EINVAL;
	if (doc && json_tokener_get_error(tok) == json_tokener_success) {
		/* One object, then at most white space. */
		for (end = json_tokener_get_parse_end(tok); end < len && buf[end] &&
		     strchr(" \t\r\n", buf[end]);)
			end++;
		if (end == len)
			ret = parse_state(doc, id, st);
	}
	json_object_put(doc);
	json_tokener_free(tok);
	free(buf);
	if (ret)
		ublkfw_state_free(st);
	else
		st->owner = owner;
	return ret;
}
