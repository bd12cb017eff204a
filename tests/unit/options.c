// SPDX-License-Identifier: MIT
/* The standard command line merged with a target's options. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "internal.h"

static char calls[8][64];
static int ncalls;
static int fail_on_value;

static int fake_config(struct ublkfw_dev *dev, const char *key, const char *value)
{
	(void)dev;
	snprintf(calls[ncalls++], sizeof(calls[0]), "%s=%s", key ? key : "(arg)",
		 value ? value : "(flag)");
	if (fail_on_value && value && !strcmp(value, "bad")) {
		ublkfw_err(dev, "bad value");
		return -EINVAL;
	}
	return 0;
}

static void fake_io(struct ublkfw_queue *q, struct ublkfw_io *io)
{
	(void)q;
	(void)io;
}

static const struct ublkfw_option fake_options[] = {
	{ "chunk-size", "BYTES", "chunk" },
	{ "buffered", NULL, "no O_DIRECT" },
	{ NULL, NULL, NULL },
};

static const struct ublkfw_target_ops fake_ops = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "fake",
	.options = fake_options,
	.args_usage = "FILE...",
	.config = fake_config,
	.queue_io = fake_io,
};

static struct ublkfw_dev dev;

static int parse(int argc, char **argv)
{
	ncalls = 0;
	fail_on_value = 1;
	ublkfw_dev_init(&dev, &fake_ops, "unit");
	return ublkfw_parse_args(&dev, argc, argv);
}

#define ARGV(...) ((char *[]){ "prog", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "prog", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

Test(options, defaults)
{
	cr_assert_eq(parse(1, (char *[]){ "prog", NULL }), 0);
	cr_expect_eq(dev.conf.req_id, -1);
	cr_expect_eq(dev.conf.nr_queues, 1);
	cr_expect_eq(dev.conf.depth, 128);
	cr_expect_eq(dev.conf.max_io, 512 << 10);
	cr_expect_eq(dev.conf.size, 0);
	cr_expect_not(dev.conf.foreground);
}

Test(options, standard_options)
{
	cr_assert_eq(PARSE("-n", "7", "-q", "2", "-d", "64", "-s", "2G", "--max-io", "1M",
			   "--foreground"), 0);
	cr_expect_eq(dev.conf.req_id, 7);
	cr_expect_eq(dev.conf.nr_queues, 2);
	cr_expect_eq(dev.conf.depth, 64);
	cr_expect_eq(dev.conf.size, 2ULL << 30);
	cr_expect_eq(dev.conf.max_io, 1 << 20);
	cr_expect(dev.conf.foreground);
	cr_expect_eq(ncalls, 0);
}

Test(options, target_options_and_arguments_in_order, .init = cr_redirect_stderr)
{
	cr_assert_eq(PARSE("--chunk-size", "64K", "a.img", "--buffered", "-q", "2", "b.img"), 0);
	cr_assert_eq(ncalls, 4);
	cr_expect_str_eq(calls[0], "chunk-size=64K");
	cr_expect_str_eq(calls[1], "buffered=(flag)");
	/* positional arguments come after the options (getopt permutes) */
	cr_expect_str_eq(calls[2], "(arg)=a.img");
	cr_expect_str_eq(calls[3], "(arg)=b.img");
	cr_expect_eq(dev.conf.nr_queues, 2);
}

Test(options, bad_values_are_refused, .init = cr_redirect_stderr)
{
	cr_expect_eq(PARSE("-q", "0"), -1);
	cr_expect_eq(PARSE("-q", "4097"), -1);
	cr_expect_eq(PARSE("-d", "0"), -1);
	cr_expect_eq(PARSE("-d", "5000"), -1);
	cr_expect_eq(PARSE("-s", "0"), -1);
	cr_expect_eq(PARSE("-s", "1Q"), -1);
	cr_expect_eq(PARSE("-n", "x"), -1);
	cr_expect_eq(PARSE("--max-io", "3000"), -1);	/* not a power of two */
	cr_expect_eq(PARSE("--max-io", "2M"), -1);
	cr_expect_eq(PARSE("--nope"), -1);
	cr_expect_eq(PARSE("-q"), -1);			/* missing value */
	cr_expect_eq(PARSE("--chunk-size", "bad"), -1);	/* the target refuses */
}

Test(options, error_message_names_the_problem, .init = cr_redirect_stderr)
{
	cr_assert_eq(PARSE("-q", "0"), -1);
	fflush(stderr);
	cr_expect_stderr_eq_str("unit: invalid queue count '0': use 1..4096\n");
}

Test(options, help_and_version_stop_parsing, .init = cr_redirect_stdout)
{
	cr_expect_eq(PARSE("--help"), 1);
	cr_expect_eq(PARSE("-V"), 1);
}

Test(options, user_copy_asks_for_the_flag)
{
	cr_assert_eq(PARSE("-s", "1G"), 0);
	cr_expect_eq(dev.conf.flags_req & UBLK_F_USER_COPY, 0, "copy mode by default");
	cr_assert_eq(PARSE("--user-copy", "-s", "1G"), 0);
	cr_expect_eq(dev.conf.flags_req & UBLK_F_USER_COPY, UBLK_F_USER_COPY);
}
