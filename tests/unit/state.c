// SPDX-License-Identifier: MIT
/* /run/ublk-fw/<id>.json: written by a server, read by ublk-fw-ctl. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "targets.h"

static char dir[] = "/var/tmp/ublkfw-unit-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	setenv("UBLKFW_RUN_DIR", dir, 1);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(state, write_then_read_round_trip, .init = setup, .fini = teardown)
{
	char *argv[] = { "ublk-fw-ctl", "-s", "1G", "--name", "it's \"quoted\"", NULL };
	struct ublkfw_state st;
	struct ublkfw_dev dev;
	char path[256], doc[4096];
	FILE *f;
	size_t n;

	ublkfw_dev_init(&dev, ublkfw_find_target("null"), "unit");
	dev.id = 5;
	dev.info.flags = UBLK_F_CMD_IOCTL_ENCODE;
	dev.conf.argc = 5;
	dev.conf.argv = argv;
	cr_assert_eq(ublkfw_state_write(&dev), 0);

	cr_assert_eq(ublkfw_state_read(5, &st), 0);
	cr_expect_eq(st.id, 5);
	cr_expect_eq(st.pid, getpid());
	cr_expect_str_eq(st.target, "null");
	cr_expect_eq(st.flags, UBLK_F_CMD_IOCTL_ENCODE);
	cr_expect_str_eq(st.args, "-s 1G --name 'it'\\''s \"quoted\"'");

	snprintf(path, sizeof(path), "%s/5.json", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	cr_expect(strstr(doc, "\"argv\": [\"-s\", \"1G\", \"--name\", \"it's \\\"quoted\\\"\"]"),
		  "argv array: %s", doc);

	ublkfw_state_remove(5);
	cr_expect_eq(ublkfw_state_read(5, &st), -ENOENT);
}
