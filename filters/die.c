// SPDX-License-Identifier: MIT
/*
 * die.c - the die filter: the server dies at the Nth request (counted over
 * all queues, every kind of operation), which it never passes down, as a
 * crash would: SIGKILL by default (no clean-up at all), or _exit(1) or
 * abort().  For the tests of what a device does when its server is gone.
 *
 *   ublk-fw-ctl add -t memory -s 1G --filter die --die-after 10000
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filters.h"

enum die_how { DIE_KILL, DIE_EXIT, DIE_ABORT };

struct die_conf {			/* ublkfw_filter_priv() */
	uint64_t after;
	enum die_how how;
	atomic_uint_fast64_t seen;
};

static const struct ublkfw_option die_options[] = {
	{ "die-after", "N", "die at the Nth request, 1 or more (required)" },
	{ "die-how", "HOW", "kill (SIGKILL, the default), exit (exit status 1) or abort (SIGABRT)" },
	{ NULL, NULL, NULL },
};

static int die_config(struct ublkfw_filter *f, const char *key, const char *value)
{
	struct die_conf *c = ublkfw_filter_priv(f);

	if (!key || strncmp(key, "die-", 4))
		return UBLKFW_CONFIG_NEXT;
	if (!strcmp(key, "die-after"))
		return ublkfw_parse_uint(value, 1, UINT64_MAX, &c->after) ?
			filter_bad_value(f, key, value) : 0;
	if (!strcmp(value, "kill"))
		c->how = DIE_KILL;
	else if (!strcmp(value, "exit"))
		c->how = DIE_EXIT;
	else if (!strcmp(value, "abort"))
		c->how = DIE_ABORT;
	else
		return filter_bad_value(f, key, value);
	return 0;
}

static int die_open(struct ublkfw_filter *f, struct ublkfw_dev *dev)
{
	struct die_conf *c = ublkfw_filter_priv(f);

	if (!c->after) {
		ublkfw_err(dev, "die filter: give --die-after N, the request to die at");
		return -1;
	}
	return 0;
}

static void die_queue_io(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io)
{
	struct die_conf *c = ublkfw_filter_priv(f);

	if (atomic_fetch_add(&c->seen, 1) + 1 < c->after) {
		ublkfw_filter_next(f, io);
		return;
	}
	ublkfw_err(ublkfw_queue_dev(q), "die filter: request %llu (queue %u tag %u): dying by %s",
		   (unsigned long long)c->after, ublkfw_queue_id(q), io->tag,
		   c->how == DIE_KILL ? "SIGKILL" : c->how == DIE_EXIT ? "_exit(1)" : "abort()");
	if (c->how == DIE_EXIT)
		_exit(1);
	if (c->how == DIE_ABORT)
		abort();
	kill(getpid(), SIGKILL);
	pause();	/* SIGKILL is on its way; never pass the request on */
}

const struct ublkfw_filter_ops ublkfw_filter_die = {
	UBLKFW_FILTER_OPS_INIT,
	.name = "die",
	.description = "the server dies at the Nth request (SIGKILL, exit or abort)",
	.options = die_options,
	.priv_size = sizeof(struct die_conf),
	.config = die_config,
	.open = die_open,
	.queue_io = die_queue_io,
};
