// SPDX-License-Identifier: MIT
/*
 * The filter stack without a kernel (filter.c through queue.c's dispatch
 * seam): the order in which layers see a request and its completion, the
 * per-layer private areas, a filter that answers a request itself, one that
 * holds a completion, the config chain, and filter registration.
 */
#include "fake_queue.h"

static struct fake_queue fq;
#define dev	(fq.dev)
#define q	(fq.q)
#define descs	(fq.descs)
static char trace[256];			/* "A> B> T B< A<" */
static struct ublkfw_io *held;
static int target_calls;

static void note(const char *s)
{
	strcat(trace, s);
}

static void target_io(struct ublkfw_queue *qq, struct ublkfw_io *io)
{
	(void)qq;
	target_calls++;
	note("T ");
	memset(ublkfw_io_priv(io), 0x77, 40);
	ublkfw_io_complete_ok(io);
}

static char target_keys[128];

static int target_config(struct ublkfw_dev *d, const char *key, const char *value)
{
	(void)d;
	strcat(target_keys, key ? key : value);
	strcat(target_keys, " ");
	return 0;
}

static const struct ublkfw_target_ops target = {
	UBLKFW_TARGET_OPS_INIT,
	.name = "t",
	.io_priv_size = 40,
	.config = target_config,
	.queue_io = target_io,
};

/* "mark": notes its name on the way down and up, fills its io area */
static void mark_io(struct ublkfw_filter *f, struct ublkfw_queue *qq, struct ublkfw_io *io)
{
	char s[8];

	(void)qq;
	snprintf(s, sizeof(s), "%u> ", f->layer);
	note(s);
	memset(ublkfw_filter_io_priv(f, io), 0x10 + (int)f->layer, 24);
	ublkfw_filter_next(f, io);
}

static void mark_done(struct ublkfw_filter *f, struct ublkfw_queue *qq, struct ublkfw_io *io,
		      int result)
{
	char s[8];
	unsigned char *p = ublkfw_filter_io_priv(f, io);

	(void)qq;
	/* the area is still ours: nobody below wrote over it */
	for (int i = 0; i < 24; i++)
		cr_assert_eq(p[i], 0x10 + f->layer, "layer %u io area overwritten", f->layer);
	snprintf(s, sizeof(s), "%u< ", f->layer);
	note(s);
	ublkfw_io_complete(io, result);
}

static int mark_config(struct ublkfw_filter *f, const char *key, const char *value)
{
	(void)value;
	if (key && !strcmp(key, "mark-me"))
		return f->layer == 0 ? 0 : UBLKFW_CONFIG_NEXT;
	return UBLKFW_CONFIG_NEXT;
}

static const struct ublkfw_filter_ops mark = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "t-mark",
	.io_priv_size = 24,
	.config = mark_config,
	.queue_io = mark_io,
	.io_done = mark_done,
};

/* "answer": fails every write itself */
static void answer_io(struct ublkfw_filter *f, struct ublkfw_queue *qq, struct ublkfw_io *io)
{
	(void)qq;
	note("X ");
	if (io->op == UBLKFW_OP_WRITE)
		ublkfw_io_complete(io, -EIO);
	else
		ublkfw_filter_next(f, io);
}

static const struct ublkfw_filter_ops answer = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "t-answer",
	.queue_io = answer_io,
};

/* "hold": keeps every completion until the test releases it */
static void hold_done(struct ublkfw_filter *f, struct ublkfw_queue *qq, struct ublkfw_io *io,
		      int result)
{
	(void)f;
	(void)qq;
	(void)result;
	note("H ");
	held = io;
}

static const struct ublkfw_filter_ops hold = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "t-hold",
	.io_done = hold_done,
};

static const struct ublkfw_filter_ops pass = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "t-pass",
};

static void register_once(void)
{
	static bool done;

	if (done)
		return;
	cr_assert_eq(ublkfw_filter_register(&mark), 0);
	cr_assert_eq(ublkfw_filter_register(&answer), 0);
	cr_assert_eq(ublkfw_filter_register(&hold), 0);
	cr_assert_eq(ublkfw_filter_register(&pass), 0);
	done = true;
}

static void setup(void)
{
	register_once();
	fake_queue_init(&fq, &target);
	trace[0] = target_keys[0] = '\0';
	held = NULL;
	target_calls = 0;
}

static void teardown(void)
{
	fake_queue_fini(&fq);
}

static void stack(const char *const *names)
{
	for (; *names; names++)
		cr_assert_eq(ublkfw_stack_push(&dev, *names), 0, "push %s", *names);
	fake_queue_slots(&fq);
	cr_assert_eq(ublkfw_stack_queue_init(&q), 0);
}

static struct io_slot *request(unsigned int tag, unsigned int op)
{
	struct io_slot *s = ublkfw_queue_slot(&q, tag);

	descs[tag].op_flags = op;
	descs[tag].start_sector = 0;
	descs[tag].nr_sectors = 8;
	ublkfw_queue_handle_cmd_cqe(&q, s, UBLK_IO_RES_OK);
	return s;
}

static int committed_result(void)
{
	struct io_uring_sqe *sqe;

	cr_assert_gt(io_uring_sq_ready(&q.ring), 0, "nothing was committed");
	sqe = &q.ring.sq.sqes[(q.ring.sq.sqe_tail - 1) & q.ring.sq.ring_mask];
	cr_assert_eq(sqe->cmd_op, UBLK_U_IO_COMMIT_AND_FETCH_REQ);
	return ((struct ublksrv_io_cmd *)sqe->cmd)->result;
}

TestSuite(filter_stack, .init = setup, .fini = teardown);

Test(filter_stack, layers_see_requests_down_and_completions_up_in_order)
{
	stack((const char *const[]){ "t-mark", "t-pass", "t-mark", NULL });
	request(1, UBLK_IO_OP_READ);
	cr_expect_str_eq(trace, "0> 2> T 2< 0< ");
	cr_expect_eq(committed_result(), 4096);
	cr_expect_eq(ublkfw_queue_slot(&q, 1)->state, IO_FETCHING);
}

Test(filter_stack, io_areas_are_separate_and_after_the_targets)
{
	struct io_slot *s;
	unsigned char *t;

	stack((const char *const[]){ "t-mark", "t-mark", NULL });
	s = request(3, UBLK_IO_OP_WRITE);
	t = ublkfw_io_priv(&s->io);
	cr_expect_eq(t[0], 0x77);
	cr_expect_eq(t[39], 0x77);
	cr_expect_geq((char *)ublkfw_filter_io_priv(&dev.stack.layers[0], &s->io), (char *)t + 40);
	cr_expect_geq((char *)ublkfw_filter_io_priv(&dev.stack.layers[1], &s->io),
		      (char *)ublkfw_filter_io_priv(&dev.stack.layers[0], &s->io) + 24);
	cr_expect_leq((char *)ublkfw_filter_io_priv(&dev.stack.layers[1], &s->io) + 24,
		      (char *)s + q.slot_stride);
}

Test(filter_stack, a_filter_that_answers_hides_the_request_from_the_layers_below)
{
	stack((const char *const[]){ "t-mark", "t-answer", "t-mark", NULL });
	request(0, UBLK_IO_OP_WRITE);
	cr_expect_str_eq(trace, "0> X 0< ");
	cr_expect_eq(target_calls, 0);
	cr_expect_eq(committed_result(), -EIO);
	trace[0] = '\0';
	request(1, UBLK_IO_OP_READ);
	cr_expect_str_eq(trace, "0> X 2> T 2< 0< ");
	cr_expect_eq(committed_result(), 4096);
}

Test(filter_stack, a_held_completion_commits_only_when_released)
{
	unsigned int before;

	stack((const char *const[]){ "t-mark", "t-hold", NULL });
	before = io_uring_sq_ready(&q.ring);
	request(2, UBLK_IO_OP_READ);
	cr_expect_str_eq(trace, "0> T H ");
	cr_assert_not_null(held);
	cr_expect_eq(io_uring_sq_ready(&q.ring), before, "committed while held");
	cr_expect_eq(ublkfw_queue_slot(&q, 2)->state, IO_IN_TARGET);
	ublkfw_io_complete(held, -ENOSPC);
	cr_expect_str_eq(trace, "0> T H 0< ");
	cr_expect_eq(committed_result(), -ENOSPC);
}

Test(filter_stack, no_filters_is_the_plain_path)
{
	stack((const char *const[]){ NULL });
	request(0, UBLK_IO_OP_FLUSH);
	cr_expect_str_eq(trace, "T ");
	cr_expect_eq(committed_result(), 0);
}

Test(filter_stack, config_keys_go_down_the_stack_to_the_target)
{
	stack((const char *const[]){ "t-mark", "t-mark", NULL });
	cr_expect_eq(ublkfw_stack_config(&dev, "mark-me", NULL), 0);
	cr_expect_eq(ublkfw_stack_config(&dev, "other", "1"), 0);
	cr_expect_eq(ublkfw_stack_config(&dev, NULL, "file.img"), 0);
	cr_expect_str_eq(target_keys, "other file.img ");
}

Test(filter_stack, registration_checks_name_and_version)
{
	struct ublkfw_filter_ops bad = { UBLKFW_FILTER_OPS_INIT, .name = "t-bad" };

	cr_expect_eq(ublkfw_filter_register(&mark), -EEXIST);
	bad.api_version = UBLKFW_API_VERSION + 1;
	cr_expect_eq(ublkfw_filter_register(&bad), -EINVAL);
	bad.api_version = UBLKFW_API_VERSION;
	bad.struct_size = 8;
	cr_expect_eq(ublkfw_filter_register(&bad), -EINVAL);
	cr_expect_eq(ublkfw_stack_push(&dev, "no-such-filter"), -ENOENT);
	cr_expect_not_null(ublkfw_filter_find("delay"));
	cr_expect_not_null(ublkfw_filter_find("t-hold"));
}
