// SPDX-License-Identifier: MIT
/*
 * /run/ublk-fw/<id>.json (state.c): written by a server, read by ublk-fw-ctl
 * and a later `recover`.  The run directory is $UBLKFW_RUN_DIR, a fresh
 * directory per test; the expectations read the file with json-c too.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "targets.h"

static char dir[] = "/var/tmp/ublkfw-unit-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	setenv("UBLKFW_RUN_DIR", dir, 1);
}

static void setup_quiet(void)
{
	setup();
	cr_redirect_stderr();
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Every argument a shell and JSON could trip on. */
static char *args[] = {
	"ublk-fw-ctl", "-s", "1G", "--name", "it's \"quoted\"", "two  words", "",
	"line\nbreak\ttab\r", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x92\xbe", "back\\slash",
	"/a/path", "$HOME `id` *", "\x01\x1f\x7f", "--filter", "stats", NULL,
};
#define NR_ARGS	((int)UBLKFW_ARRAY_SIZE(args) - 1)

/* Only its address matters: the table says "registered". */
static struct ublkfw_shmem_pool fake_pool;

static void fake_dev(struct ublkfw_dev *dev, int id)
{
	ublkfw_dev_init(dev, ublkfw_find_target("null"), "unit");
	dev->id = id;
	dev->info.flags = UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_SHMEM_ZC;
	dev->conf.argc = NR_ARGS;
	dev->conf.argv = args;
	dev->conf.nr_queues = 2;
	dev->conf.depth = 64;
	dev->conf.size = 1ULL << 30;
	dev->conf.cwd = "/srv/disks";
}

static void fake_dev_free(struct ublkfw_dev *dev)
{
	ublkfw_stack_free(dev);
	free(dev->shm.pools);
	dev->shm.pools = NULL;
}

static void state_path(int id, char *buf, size_t len)
{
	ublkfw_run_path(id, "json", buf, len);
}

static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	cr_assert_not_null(f, "open %s", path);
	do {
		cap += 4096;
		buf = realloc(buf, cap + 1);
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (len == cap);
	fclose(f);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

static void put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* The words sh makes of a shell-quoted line, NUL-separated. */
static size_t shell_words(const char *line, char *out, size_t cap)
{
	FILE *p;
	size_t n;

	setenv("UBLKFW_T_ARGS", line, 1);
	p = popen("eval \"set -- $UBLKFW_T_ARGS\"; for a; do printf '%s' \"$a\"; printf '\\000'; done",
		  "r");
	cr_assert_not_null(p);
	n = fread(out, 1, cap, p);
	cr_assert_eq(pclose(p), 0);
	return n;
}

Test(state, round_trip, .init = setup, .fini = teardown)
{
	struct ublkfw_state st;
	struct ublkfw_dev dev;
	char flags[512], words[4096], *w = words;
	size_t n;

	fake_dev(&dev, 5);
	cr_assert_eq(ublkfw_stack_push(&dev, "stats"), 0);
	cr_assert_eq(ublkfw_stack_push(&dev, "delay"), 0);
	cr_assert_eq(ublkfw_shmem_table_init(&dev), 0);
	dev.shm.pools[3] = &fake_pool;
	dev.shm.pools[70] = &fake_pool;
	dev.shm.htlb_path = "/dev/hugepages/pool \"one\"";
	dev.shm.read_only = true;
	cr_assert_eq(ublkfw_state_write(&dev), 0);

	cr_assert_eq(ublkfw_state_read(5, &st), 0);
	cr_expect_eq(st.id, 5);
	cr_expect_eq(st.pid, getpid());
	cr_expect_str_eq(st.target, "null");
	cr_expect_eq(st.flags, UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_SHMEM_ZC);
	cr_expect_str_eq(st.flag_names, ublkfw_flags_str(dev.info.flags, flags, sizeof(flags)));
	cr_expect_eq(st.queues, 2);
	cr_expect_eq(st.depth, 64);
	cr_expect_eq(st.size, 1ULL << 30);
	cr_assert_eq(st.argc, NR_ARGS - 1);
	for (int i = 0; i < st.argc; i++)
		cr_expect_str_eq(st.argv[i], args[i + 1], "argv[%d]", i);
	cr_expect_null(st.argv[st.argc]);
	cr_assert_eq(st.nr_filters, 2);
	cr_expect_str_eq(st.filters[0], "stats");
	cr_expect_str_eq(st.filters[1], "delay");
	cr_expect_null(st.filters[2]);
	cr_expect_str_eq(st.recovery, "none");
	cr_expect_str_eq(st.shmem_htlb, "/dev/hugepages/pool \"one\"");
	cr_expect(st.shmem_read_only);
	cr_assert_eq(st.nr_shmem_registered, 2);
	cr_expect_eq(st.shmem_registered[0], 3);
	cr_expect_eq(st.shmem_registered[1], 70);
	cr_expect_str_eq(st.args, "-s 1G --name 'it'\\''s \"quoted\"' 'two  words' '' "
			 "'line\nbreak\ttab\r' 'caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x92\xbe' "
			 "'back\\slash' /a/path '$HOME `id` *' '\x01\x1f\x7f' --filter stats");
	/* "args" is what a shell makes back into argv. */
	n = shell_words(st.args, words, sizeof(words));
	for (int i = 1; i < NR_ARGS; i++) {
		cr_assert_lt((size_t)(w - words), n, "only %d words from sh", i - 1);
		cr_expect_str_eq(w, args[i]);
		w += strlen(w) + 1;
	}
	cr_expect_eq((size_t)(w - words), n);
	ublkfw_state_free(&st);
	cr_expect_null(st.argv);

	/* Rewritten with the buffers registered now. */
	dev.shm.pools[3] = NULL;
	dev.shm.htlb_path = NULL;
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_assert_eq(ublkfw_state_read(5, &st), 0);
	cr_assert_eq(st.nr_shmem_registered, 1);
	cr_expect_eq(st.shmem_registered[0], 70);
	cr_expect_null(st.shmem_htlb);
	ublkfw_state_free(&st);
	fake_dev_free(&dev);
}

/* The keys, their types, as jq and a recover see them. */
Test(state, the_file_has_every_key, .init = setup, .fini = teardown)
{
	static const struct { const char *key; enum json_type type; } keys[] = {
		{ "id", json_type_int }, { "pid", json_type_int }, { "target", json_type_string },
		{ "flags", json_type_int }, { "flag_names", json_type_string },
		{ "queues", json_type_int }, { "depth", json_type_int }, { "size", json_type_int },
		{ "args", json_type_string }, { "argv", json_type_array },
		{ "executable", json_type_string }, { "restart", json_type_array },
		{ "cwd", json_type_string },
		{ "filters", json_type_array },
		{ "recovery", json_type_string }, { "shmem", json_type_object },
	};
	struct json_object *doc, *v, *shm;
	struct ublkfw_dev dev;
	char path[256], *text;

	fake_dev(&dev, 6);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	state_path(6, path, sizeof(path));
	text = slurp(path, NULL);
	doc = json_tokener_parse(text);
	cr_assert(json_object_is_type(doc, json_type_object), "%s", text);
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(keys); i++) {
		cr_expect(json_object_object_get_ex(doc, keys[i].key, &v), "no \"%s\"", keys[i].key);
		cr_expect(json_object_is_type(v, keys[i].type), "\"%s\" is %s", keys[i].key,
			  json_type_to_name(json_object_get_type(v)));
	}
	cr_expect_eq(json_object_object_length(doc), UBLKFW_ARRAY_SIZE(keys), "%s", text);
	cr_assert(json_object_object_get_ex(doc, "shmem", &shm));
	cr_expect(json_object_object_get_ex(shm, "htlb", &v) && !v, "htlb null without --htlb");
	cr_expect(json_object_object_get_ex(shm, "read_only", &v) &&
		  json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
	cr_expect(json_object_object_get_ex(shm, "registered", &v) &&
		  json_object_is_type(v, json_type_array) && !json_object_array_length(v),
		  "no pool table, nothing registered");
	cr_expect(json_object_object_get_ex(doc, "filters", &v) && !json_object_array_length(v));
	cr_expect(json_object_object_get_ex(doc, "argv", &v) &&
		  json_object_array_length(v) == NR_ARGS - 1);
	cr_expect(strstr(text, "\"target\": \"null\""), "readable by grep too: %s", text);
	json_object_put(doc);
	free(text);
	fake_dev_free(&dev);
}

Test(state, executable_is_an_absolute_path, .init = setup, .fini = teardown)
{
	char self[PATH_MAX];
	struct ublkfw_state st;
	struct ublkfw_dev dev;

	fake_dev(&dev, 7);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_assert_eq(ublkfw_state_read(7, &st), 0);
	cr_assert_not_null(st.executable);
	cr_expect_eq(st.executable[0], '/', "%s", st.executable);
	cr_assert_not_null(realpath("/proc/self/exe", self));
	cr_expect_str_eq(st.executable, self);
	cr_expect_eq(access(st.executable, X_OK), 0);
	ublkfw_state_free(&st);
}

/* recover runs "restart": the program, then what it was given. */
Test(state, restart_is_the_command_line, .init = setup, .fini = teardown)
{
	struct ublkfw_state st;
	struct ublkfw_dev dev;

	fake_dev(&dev, 8);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_assert_eq(ublkfw_state_read(8, &st), 0);
	cr_assert_not_null(st.restart);
	cr_expect_str_eq(st.restart[0], st.executable);
	for (int i = 1; i < NR_ARGS; i++)
		cr_expect_str_eq(st.restart[i], args[i], "restart[%d]", i);
	cr_expect_null(st.restart[NR_ARGS]);
	cr_expect_str_eq(st.cwd, "/srv/disks", "relative paths need where it started");
	cr_expect_eq(st.owner, geteuid());
	ublkfw_state_free(&st);
}

/* A server of `ublk-fw-ctl add -t null` restarts as that. */
Test(state, restart_under_ctl_add, .init = setup, .fini = teardown)
{
	struct ublkfw_state st;
	struct ublkfw_dev dev;

	fake_dev(&dev, 9);
	dev.conf.usage_cmd = "ublk-fw-ctl add -t";
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_assert_eq(ublkfw_state_read(9, &st), 0);
	cr_assert_not_null(st.restart);
	cr_expect_str_eq(st.restart[1], "add");
	cr_expect_str_eq(st.restart[2], "-t");
	cr_expect_str_eq(st.restart[3], "null");
	cr_expect_str_eq(st.restart[4], args[1]);
	ublkfw_state_free(&st);
}

Test(state, file_mode_and_no_temporary_left, .init = setup, .fini = teardown)
{
	struct ublkfw_dev dev;
	struct dirent *de;
	struct stat sb;
	char path[256];
	int entries = 0;
	DIR *d;

	fake_dev(&dev, 8);
	umask(077);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_assert_eq(ublkfw_state_write(&dev), 0);	/* replaces it */
	state_path(8, path, sizeof(path));
	cr_assert_eq(lstat(path, &sb), 0);
	cr_expect(S_ISREG(sb.st_mode));
	cr_expect_eq(sb.st_mode & 07777, 0644, "mode %o", sb.st_mode & 07777);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			cr_expect_str_eq(de->d_name, "8.json");
			entries++;
		}
	closedir(d);
	cr_expect_eq(entries, 1);
}

/* A temporary name planted as a symlink is replaced, never written through. */
Test(state, temporary_symlink_is_not_followed, .init = setup, .fini = teardown)
{
	char tmp[300], victim[300], path[256];
	struct ublkfw_state st;
	struct ublkfw_dev dev;
	struct stat sb;

	fake_dev(&dev, 9);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	state_path(9, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_eq(symlink(victim, tmp), 0);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_expect_neq(lstat(victim, &sb), 0, "wrote through the symlink");
	cr_expect_neq(lstat(tmp, &sb), 0, "temporary left");
	cr_expect_eq(ublkfw_state_read(9, &st), 0);
	ublkfw_state_free(&st);
}

Test(state, run_dir_symlink_is_refused, .init = setup_quiet, .fini = teardown)
{
	char real[300], link[300], path[400], msg[700];
	struct ublkfw_dev dev;
	struct stat sb;

	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(mkdir(real, 0755), 0);
	cr_assert_eq(symlink(real, link), 0);
	setenv("UBLKFW_RUN_DIR", link, 1);
	fake_dev(&dev, 4);
	cr_expect_eq(ublkfw_state_write(&dev), -ELOOP);
	snprintf(path, sizeof(path), "%s/4.json", real);
	cr_expect_neq(stat(path, &sb), 0, "wrote through the symlinked run directory");
	fflush(stderr);
	snprintf(msg, sizeof(msg), "unit: null: the run directory %s is a symbolic link: refused "
		 "(no state file: list will not show the target)\n", link);
	cr_expect_stderr_eq_str(msg);
}

Test(state, run_dir_from_environment, .init = setup, .fini = teardown)
{
	char path[256];

	cr_expect_str_eq(ublkfw_run_dir(), dir);
	ublkfw_run_path(3, "json", path, sizeof(path));
	cr_expect(!strncmp(path, dir, strlen(dir)) && !strcmp(path + strlen(dir), "/3.json"), "%s", path);
	setenv("UBLKFW_RUN_DIR", "", 1);
	cr_expect_str_eq(ublkfw_run_dir(), "/run/ublk-fw");
	unsetenv("UBLKFW_RUN_DIR");
	cr_expect_str_eq(ublkfw_run_dir(), "/run/ublk-fw");
}

/* A server started without arguments (or with none recorded). */
Test(state, no_arguments, .init = setup, .fini = teardown)
{
	struct ublkfw_state st;
	struct ublkfw_dev dev;

	fake_dev(&dev, 12);
	dev.conf.argc = 0;
	dev.conf.argv = NULL;
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	cr_assert_eq(ublkfw_state_read(12, &st), 0);
	cr_expect_str_eq(st.args, "");
	cr_assert_not_null(st.argv);
	cr_expect_eq(st.argc, 0);
	cr_expect_null(st.argv[0]);
	ublkfw_state_free(&st);
}

Test(state, missing_and_removed, .init = setup, .fini = teardown)
{
	struct ublkfw_state st;
	struct ublkfw_dev dev;
	char path[256], other[256], keep[256];

	cr_expect_eq(ublkfw_state_read(5, &st), -ENOENT);
	fake_dev(&dev, 5);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	ublkfw_run_path(5, "log", path, sizeof(path));
	put_file(path, "log\n", 4);
	ublkfw_run_path(5, "mem", other, sizeof(other));
	put_file(other, "data", 4);
	ublkfw_run_path(55, "json", keep, sizeof(keep));
	put_file(keep, "{}", 2);
	ublkfw_state_remove(5);
	cr_expect_eq(ublkfw_state_read(5, &st), -ENOENT);
	cr_expect_neq(access(path, F_OK), 0, "the log is removed too");
	cr_expect_neq(access(other, F_OK), 0, "a target's run file is removed too");
	cr_expect_eq(access(keep, F_OK), 0, "device 55's file is not device 5's");
}

/* Documents that are not what a server writes: refused, *st left zeroed. */
Test(state, malformed_is_refused, .init = setup, .fini = teardown)
{
	static const char *const bad[] = {
		"", " \n", "{", "}", "null", "[]", "42", "\"str\"", "not json",
		"{\"pid\": 1,}", "{\"pid\": 1} {}", "{\"pid\": 1} x", "{\"pid\": 1}]",
		"{}", "{\"pid\": \"1\"}", "{\"pid\": 0}", "{\"pid\": -5}", "{\"pid\": 99999999999}",
		"{\"pid\": 1.5}", "{\"pid\": null}", "{\"id\": 8, \"pid\": 1}", "{\"id\": \"9\", \"pid\": 1}",
		"{\"pid\": 1, \"target\": 5}", "{\"pid\": 1, \"target\": \"a\\u0000b\"}",
		"{\"pid\": 1, \"argv\": \"-s 1G\"}", "{\"pid\": 1, \"argv\": [\"a\", 1]}",
		"{\"pid\": 1, \"argv\": [\"a\", null]}", "{\"pid\": 1, \"argv\": [\"a\\u0000\"]}",
		"{\"pid\": 1, \"filters\": {}}", "{\"pid\": 1, \"flags\": -1}",
		"{\"pid\": 1, \"size\": 1e3}", "{\"pid\": 1, \"queues\": 4294967296}",
		"{\"pid\": 1, \"depth\": -1}", "{\"pid\": 1, \"executable\": [\"/bin/x\"]}",
		"{\"pid\": 1, \"recovery\": true}", "{\"pid\": 1, \"shmem\": []}",
		"{\"pid\": 1, \"shmem\": {\"registered\": [65536]}}",
		"{\"pid\": 1, \"shmem\": {\"registered\": [-1]}}",
		"{\"pid\": 1, \"shmem\": {\"registered\": [\"1\"]}}",
		"{\"pid\": 1, \"shmem\": {\"registered\": 1}}",
		"{\"pid\": 1, \"shmem\": {\"read_only\": 1}}", "{\"pid\": 1, \"shmem\": {\"htlb\": 0}}",
		"\xff\xfe{\"pid\": 1}",
	};
	struct ublkfw_state st;
	char path[256], deep[2100];

	state_path(9, path, sizeof(path));
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(bad); i++) {
		put_file(path, bad[i], strlen(bad[i]));
		memset(&st, 0x5a, sizeof(st));
		cr_expect_eq(ublkfw_state_read(9, &st), -EINVAL, "accepted: %s", bad[i]);
		cr_expect(!st.pid && !st.target && !st.argv && !st.shmem_registered,
			  "not zeroed after: %s", bad[i]);
	}
	/* A NUL after the object, and nesting deeper than the parser goes. */
	put_file(path, "{\"pid\": 1}\0{}", 13);
	cr_expect_eq(ublkfw_state_read(9, &st), -EINVAL);
	strcpy(deep, "{\"pid\": 1, \"x\": ");
	for (int i = 0; i < 1000; i++)
		strcat(deep, "[");
	put_file(path, deep, strlen(deep));
	cr_expect_eq(ublkfw_state_read(9, &st), -EINVAL);
}

/* The least a reader needs, and nulls where a value may be missing. */
Test(state, minimal_is_accepted, .init = setup, .fini = teardown)
{
	static const char doc[] = "\n{\"pid\": 42, \"executable\": null, \"shmem\": {\"htlb\": null},"
				  " \"later\": {\"keys\": [1, 2]}}\n\n";
	struct ublkfw_state st;
	char path[256];

	state_path(9, path, sizeof(path));
	put_file(path, doc, strlen(doc));
	cr_assert_eq(ublkfw_state_read(9, &st), 0);
	cr_expect_eq(st.id, 9);
	cr_expect_eq(st.pid, 42);
	cr_expect(!st.target && !st.argv && !st.executable && !st.shmem_htlb && !st.filters);
	cr_expect_eq(st.argc, 0);
	ublkfw_state_free(&st);
	ublkfw_state_free(&st);		/* harmless twice */
}

/* Every prefix of a real file (a writer that died midway, a full disk). */
Test(state, truncated_is_refused, .init = setup, .fini = teardown)
{
	struct ublkfw_state st;
	struct ublkfw_dev dev;
	char path[256], *text;
	size_t len, last;

	fake_dev(&dev, 3);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	state_path(3, path, sizeof(path));
	text = slurp(path, &len);
	last = strrchr(text, '}') - text;
	for (size_t n = 0; n <= last; n++) {
		put_file(path, text, n);
		cr_expect_eq(ublkfw_state_read(3, &st), -EINVAL, "accepted %zu of %zu bytes", n, len);
	}
	put_file(path, text, last + 1);
	cr_expect_eq(ublkfw_state_read(3, &st), 0);
	ublkfw_state_free(&st);
	free(text);
}

Test(state, huge_is_refused, .init = setup, .fini = teardown)
{
	static const char doc[] = "{\"pid\": 1}";
	struct ublkfw_state st;
	char path[256];
	int fd;

	state_path(2, path, sizeof(path));
	/* Exactly the limit: a valid object padded with white space. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
	for (size_t off = strlen(doc); off < UBLKFW_STATE_MAX_SIZE; off++)
		cr_assert_eq(write(fd, " ", 1), 1);
	close(fd);
	cr_expect_eq(ublkfw_state_read(2, &st), 0);
	ublkfw_state_free(&st);
	/* One byte more. */
	cr_assert_eq(truncate(path, UBLKFW_STATE_MAX_SIZE + 1), 0);
	cr_expect_eq(ublkfw_state_read(2, &st), -EFBIG);
	cr_assert_eq(truncate(path, 1ULL << 40), 0);	/* sparse */
	cr_expect_eq(ublkfw_state_read(2, &st), -EFBIG);
}

Test(state, symlink_is_refused, .init = setup, .fini = teardown)
{
	char real[300], path[256];
	struct ublkfw_state st;
	struct ublkfw_dev dev;

	fake_dev(&dev, 1);
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	state_path(1, path, sizeof(path));
	snprintf(real, sizeof(real), "%s/elsewhere", dir);
	cr_assert_eq(rename(path, real), 0);
	cr_assert_eq(symlink(real, path), 0);
	cr_expect_eq(ublkfw_state_read(1, &st), -EINVAL);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(symlink("/nonexistent", path), 0);
	cr_expect_eq(ublkfw_state_read(1, &st), -EINVAL);
}

/* Not regular files: a FIFO without a writer (must not block), a
 * directory, a socket. */
Test(state, fifo_and_others_are_refused, .init = setup, .fini = teardown, .timeout = 10)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ublkfw_state st;
	char path[256];
	int fd;

	state_path(1, path, sizeof(path));
	cr_assert_eq(mkfifo(path, 0644), 0);
	cr_expect_eq(ublkfw_state_read(1, &st), -EINVAL);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_expect_eq(ublkfw_state_read(1, &st), -EINVAL);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_expect_eq(ublkfw_state_read(1, &st), -EINVAL);
	close(fd);
}

struct writer {
	struct ublkfw_dev *dev;
	int failures;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < 50; i++)
		w->failures += ublkfw_state_write(w->dev) != 0;
	return NULL;
}

/* Registrations may come from several threads at once. */
Test(state, concurrent_writers, .init = setup, .fini = teardown)
{
	struct writer w[4];
	pthread_t t[4];
	struct ublkfw_state st;
	struct ublkfw_dev dev;

	fake_dev(&dev, 11);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ &dev, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(w[i].failures, 0);
	}
	cr_expect_eq(ublkfw_state_read(11, &st), 0);
	ublkfw_state_free(&st);
}

Test(state, utf8_validity)
{
	cr_expect(ublkfw_utf8_valid(""));
	cr_expect(ublkfw_utf8_valid("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x92\xbe \x7f"));
	cr_expect_not(ublkfw_utf8_valid("\xff"));
	cr_expect_not(ublkfw_utf8_valid("a\xc0\x80"), "overlong NUL");
	cr_expect_not(ublkfw_utf8_valid("\xe0\x80\xaf"), "overlong /");
	cr_expect_not(ublkfw_utf8_valid("\xed\xa0\x80"), "a surrogate");
	cr_expect_not(ublkfw_utf8_valid("\xf4\x90\x80\x80"), "above U+10FFFF");
	cr_expect_not(ublkfw_utf8_valid("\xe6\x97"), "cut short");
	cr_expect_not(ublkfw_utf8_valid("\x80"), "a lone continuation byte");
}

/* Bytes that are not UTF-8 in the command line: the file is still UTF-8
 * JSON (each such byte shown as U+FFFD), and there is no restart command
 * rather than one that would open another path. */
Test(state, non_utf8_arguments, .init = setup, .fini = teardown)
{
	static char *bad[] = { "ublk-fw-ctl", "-s", "1G", "/srv/caf\xe9.img", "\xff\xfe", NULL };
	struct ublkfw_state st;
	struct ublkfw_dev dev;
	char path[256], *text;

	fake_dev(&dev, 11);
	dev.conf.argc = 5;
	dev.conf.argv = bad;
	cr_assert_eq(ublkfw_state_write(&dev), 0);
	state_path(11, path, sizeof(path));
	text = slurp(path, NULL);
	cr_expect(ublkfw_utf8_valid(text), "the file is UTF-8: %s", text);
	cr_assert_eq(ublkfw_state_read(11, &st), 0);
	cr_expect_str_eq(st.argv[2], "/srv/caf\xef\xbf\xbd.img");
	cr_expect_str_eq(st.argv[3], "\xef\xbf\xbd\xef\xbf\xbd");
	cr_expect_null(st.restart, "no restart command that names another file");
	cr_expect_str_eq(st.argv[0], "-s");
	ublkfw_state_free(&st);
	free(text);
}

Test(state, json_str_replaces_what_is_not_utf8)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ublkfw_json_str(f, "a\xff" "b\xc3\xa9\"\n");
	fclose(f);
	cr_expect_str_eq(out, "\"a\\ufffdb\xc3\xa9\\\"\\n\"");
	free(out);
}

/* A target's run file: created sparse and 0600 for a new device, found
 * again (and only if it is the device's) when recovering. */
Test(state, open_run_file_creates_then_finds, .init = setup_quiet, .fini = teardown)
{
	struct ublkfw_dev dev;
	char path[256], link[300];
	struct stat st;
	int fd;

	fake_dev(&dev, 12);
	fd = ublkfw_dev_open_run_file(&dev, "mem", 1 << 20, path, sizeof(path));
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, 1 << 20);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_eq(st.st_blocks, 0, "sparse: no memory yet");
	cr_expect_eq(pwrite(fd, "data", 4, 4096), 4);
	close(fd);
	dev.conf.recover = true;
	fd = ublkfw_dev_open_run_file(&dev, "mem", 1 << 20, NULL, 0);
	cr_assert_geq(fd, 0, "recovering finds it");
	cr_expect_eq(pread(fd, link, 4, 4096), 4);
	cr_expect_eq(memcmp(link, "data", 4), 0, "with its data");
	close(fd);
	cr_expect_eq(ublkfw_dev_open_run_file(&dev, "mem", 2 << 20, NULL, 0), -EIO,
		     "another size is not the device's");
	cr_expect_eq(ublkfw_dev_open_run_file(&dev, "gone", 1 << 20, NULL, 0), -EIO);
	/* a new device never writes through a symlink planted in its place */
	dev.conf.recover = false;
	snprintf(link, sizeof(link), "%s/victim", dir);
	put_file(link, "keep", 4);
	unlink(path);
	cr_assert_eq(symlink(link, path), 0);
	fd = ublkfw_dev_open_run_file(&dev, "mem", 1 << 20, NULL, 0);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(lstat(path, &st), 0);
	cr_expect(S_ISREG(st.st_mode), "the symlink was replaced by the device's file");
	cr_assert_eq(stat(link, &st), 0);
	cr_expect_eq(st.st_size, 4, "the victim is untouched");
	cr_expect_eq(ublkfw_dev_open_run_file(&dev, "json", 4096, NULL, 0), -EINVAL);
	fake_dev_free(&dev);
}
