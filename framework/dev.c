// SPDX-License-Identifier: MIT
/*
 * dev.c - a device's life: ADD_DEV, SET_PARAMS, queue threads, START_DEV,
 * serving until a signal, then STOP_DEV, drain, DEL_DEV.  Any failure after
 * ADD_DEV unwinds completely, so no half-created device is left behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "daemon.h"
#include "shmem.h"
#include "state.h"

#define QUEUE_DRAIN_MS	30000	/* after STOP_DEV, before queues are told to stop */

void ublkfw_dev_init(struct ublkfw_dev *dev, const struct ublkfw_target_ops *ops,
		     const char *prog)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = *ops;
	dev->conf.prog = prog;
	dev->conf.req_id = -1;
	dev->id = -1;
	dev->conf.nr_queues = UBLKFW_DEF_QUEUES;
	dev->conf.depth = UBLKFW_DEF_DEPTH;
	dev->conf.max_io = UBLKFW_DEF_MAX_IO;
	dev->conf.lbs = 512;
	dev->conf.pbs = 4096;
	dev->cdev_fd = -1;
	dev->daemon.ready_fd = -1;
	dev->daemon.log_fd = -1;
	dev->ctrl.fd = -1;
	pthread_mutex_init(&dev->startup.lock, NULL);
	pthread_cond_init(&dev->startup.cond, NULL);
}

/* ---- public accessors ---------------------------------------------------- */

uint64_t ublkfw_dev_size(const struct ublkfw_dev *dev) { return dev->conf.size; }
void ublkfw_dev_set_size(struct ublkfw_dev *dev, uint64_t bytes) { dev->conf.size = bytes; }
uint32_t ublkfw_dev_logical_block_size(const struct ublkfw_dev *dev) { return dev->conf.lbs; }
void ublkfw_dev_set_attrs(struct ublkfw_dev *dev, uint32_t attrs) { dev->conf.attrs = attrs; }
uint32_t ublkfw_dev_attrs(const struct ublkfw_dev *dev) { return dev->conf.attrs; }
int ublkfw_dev_id(const struct ublkfw_dev *dev) { return dev->id; }
unsigned int ublkfw_dev_nr_queues(const struct ublkfw_dev *dev) { return dev->conf.nr_queues; }
unsigned int ublkfw_dev_queue_depth(const struct ublkfw_dev *dev) { return dev->conf.depth; }
uint32_t ublkfw_dev_max_io_bytes(const struct ublkfw_dev *dev) { return dev->conf.max_io; }
const char *ublkfw_dev_target_name(const struct ublkfw_dev *dev) { return dev->ops.name; }
void *ublkfw_dev_priv(const struct ublkfw_dev *dev) { return dev->priv; }
void ublkfw_dev_set_priv(struct ublkfw_dev *dev, void *priv) { dev->priv = priv; }

int ublkfw_dev_set_block_size(struct ublkfw_dev *dev, uint32_t logical, uint32_t physical)
{
	if (!ublkfw_is_pow2(logical) || logical < 512 || logical > 4096)
		return -EINVAL;
	if (!physical)
		physical = logical;
	if (!ublkfw_is_pow2(physical) || physical < logical || physical > 65536)
		return -EINVAL;
	dev->conf.lbs = logical;
	dev->conf.pbs = physical;
	return 0;
}

void ublkfw_dev_set_discard(struct ublkfw_dev *dev, uint32_t granularity, uint32_t max_bytes)
{
	dev->conf.discard = true;
	dev->conf.discard_granularity = granularity;
	dev->conf.max_discard = max_bytes;
}

void ublkfw_dev_set_write_zeroes(struct ublkfw_dev *dev, uint32_t max_bytes)
{
	dev->conf.write_zeroes = true;
	dev->conf.max_write_zeroes = max_bytes;
}

static unsigned int ilog2_u32(uint32_t v)
{
	unsigned int r = 0;

	while (v >>= 1)
		r++;
	return r;
}

void ublkfw_dev_fill_params(const struct ublkfw_dev *dev, struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	p->basic.attrs = dev->conf.attrs;
	p->basic.logical_bs_shift = ilog2_u32(dev->conf.lbs);
	p->basic.physical_bs_shift = ilog2_u32(dev->conf.pbs);
	p->basic.io_min_shift = ilog2_u32(dev->conf.lbs);
	p->basic.io_opt_shift = ilog2_u32(dev->conf.pbs);
	p->basic.max_sectors = dev->conf.max_io >> 9;
	p->basic.dev_sectors = dev->conf.size >> 9;
	if (dev->conf.discard || dev->conf.write_zeroes) {
		uint32_t max_sec = UINT32_MAX >> 9;

		p->types |= UBLK_PARAM_TYPE_DISCARD;
		if (dev->conf.discard) {
			p->discard.discard_granularity =
				dev->conf.discard_granularity ? dev->conf.discard_granularity : dev->conf.lbs;
			p->discard.max_discard_sectors =
				dev->conf.max_discard ? dev->conf.max_discard >> 9 : max_sec;
			p->discard.max_discard_segments = 1;
		}
		if (dev->conf.write_zeroes)
			p->discard.max_write_zeroes_sectors =
				dev->conf.max_write_zeroes ? dev->conf.max_write_zeroes >> 9 : max_sec;
	}
}

/* ---- serving -------------------------------------------------------------- */

static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ublkfw_dev *dev = w->data;

	(void)revents;
	if (dev->started)
		ublkfw_info(dev, "signal %d: stopping device %d", w->signum, dev->id);
	dev->stop_signal = w->signum;
	ev_break(loop, EVBREAK_ALL);
}

static void queue_exit_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct ublkfw_dev *dev = w->data;

	(void)revents;
	/* A queue thread ended by itself: the kernel stopped the device (e.g.
	 * STOP_DEV from elsewhere) or the queue failed.  Shut down. */
	ublkfw_info(dev, "a queue ended: stopping device %d", dev->id);
	dev->exit_status = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* Start every queue thread and wait until each has set up and fetched. */
static int start_queues(struct ublkfw_dev *dev)
{
	unsigned int i;
	int ret = 0;

	dev->queues = calloc(dev->conf.nr_queues, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;
	for (i = 0; i < dev->conf.nr_queues; i++) {
		struct ublkfw_queue *q = &dev->queues[i];

		q->dev = dev;
		q->id = i;
		q->depth = dev->conf.depth;
		q->user_copy = dev->info.flags & UBLK_F_USER_COPY;
		if (ublkfw_ctrl_get_queue_affinity(&dev->ctrl, dev->id, i, &q->affinity) >= 0)
			q->has_affinity = CPU_COUNT(&q->affinity) > 0;
		else
			ublkfw_info(dev, "queue %u: no affinity (%s)", i, dev->ctrl.errmsg);
		ret = ublkfw_queue_start(q);
		if (ret) {
			ublkfw_err(dev, "queue %u: cannot create its thread: %s", i, strerror(-ret));
			break;
		}
	}
	pthread_mutex_lock(&dev->startup.lock);
	while (dev->startup.nr_ready < i)
		pthread_cond_wait(&dev->startup.cond, &dev->startup.lock);
	if (!ret)
		ret = dev->startup.first_queue_error;
	pthread_mutex_unlock(&dev->startup.lock);
	return ret;
}

static bool queues_ended(void *arg)
{
	struct ublkfw_dev *dev = arg;
	unsigned int started = 0;

	for (unsigned int i = 0; i < dev->conf.nr_queues; i++)
		started += dev->queues[i].thread_started;
	return atomic_load(&dev->queues_exited) >= started;
}

/* Wait until every queue thread has ended; after STOP_DEV they end by
 * themselves once the kernel aborted their tags and targets drained.  A
 * queue that does not end in time is told to stop (its ring's teardown then
 * cancels whatever is left). */
static void stop_queues(struct ublkfw_dev *dev, bool graceful)
{
	unsigned int i;

	if (!dev->queues)
		return;
	if (graceful)
		ublkfw_poll_until(queues_ended, dev, QUEUE_DRAIN_MS, 10000);
	for (i = 0; i < dev->conf.nr_queues; i++)
		ublkfw_queue_request_stop(&dev->queues[i]);
	for (i = 0; i < dev->conf.nr_queues; i++)
		ublkfw_queue_join(&dev->queues[i]);
	free(dev->queues);
	dev->queues = NULL;
}

struct cdev_open {
	const char *path;
	int fd, err;
};

static bool cdev_opened(void *arg)
{
	struct cdev_open *o = arg;

	o->fd = open(o->path, O_RDWR | O_CLOEXEC);
	o->err = errno;
	return o->fd >= 0 || o->err != ENOENT;
}

static int open_cdev(struct ublkfw_dev *dev)
{
	char path[64];
	struct cdev_open o = { .path = path };

	snprintf(path, sizeof(path), "/dev/ublkc%d", dev->id);
	/* devtmpfs creates the node at ADD_DEV; give a slow udev 2 s. */
	ublkfw_poll_until(cdev_opened, &o, 2000, 20000);
	dev->cdev_fd = o.fd;
	errno = o.err;
	if (dev->cdev_fd < 0) {
		ublkfw_err(dev, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* What the kernel granted at ADD_DEV, said where the user sees it when it
 * is less than what was asked. */
static void take_geometry(struct ublkfw_dev *dev, const struct ublksrv_ctrl_dev_info *info)
{
	if (info->nr_hw_queues != dev->conf.nr_queues)
		ublkfw_notice(dev, "device %d: %u queues asked for, the kernel gives %u (one per CPU at most)",
			      dev->id, dev->conf.nr_queues, info->nr_hw_queues);
	if (info->queue_depth != dev->conf.depth)
		ublkfw_notice(dev, "device %d: queue depth %u asked for, the kernel gives %u", dev->id,
			      dev->conf.depth, info->queue_depth);
	dev->conf.nr_queues = info->nr_hw_queues;
	dev->conf.depth = info->queue_depth;
	dev->conf.max_io = info->max_io_buf_bytes;
}

static int add_device(struct ublkfw_dev *dev)
{
	struct ublksrv_ctrl_dev_info *info = &dev->info;
	struct ublk_params p;
	uint64_t features = 0;
	int ret;

	ret = ublkfw_ctrl_get_features(&dev->ctrl, &features);
	if (ret < 0)
		features = 0;	/* pre-6.5 kernels: nothing beyond the basics */
	if ((dev->conf.flags_req & ~features) & ~(UBLK_F_CMD_IOCTL_ENCODE)) {
		char buf[256];

		ublkfw_err(dev, "this kernel lacks the requested feature(s) %s",
			   ublkfw_flags_str(dev->conf.flags_req & ~features, buf, sizeof(buf)));
		return -EOPNOTSUPP;
	}

	memset(info, 0, sizeof(*info));
	info->dev_id = dev->conf.req_id < 0 ? (uint32_t)-1 : (uint32_t)dev->conf.req_id;
	info->nr_hw_queues = dev->conf.nr_queues;
	info->queue_depth = dev->conf.depth;
	info->max_io_buf_bytes = dev->conf.max_io;
	info->flags = dev->conf.flags_req | UBLK_F_CMD_IOCTL_ENCODE;
	ret = ublkfw_ctrl_add_dev(&dev->ctrl, info);
	if (ret < 0) {
		if (ret == -EEXIST)
			ublkfw_err(dev, "device id %d is already in use: choose another -n ID or omit -n",
				   dev->conf.req_id);
		else if (ret == -EACCES && ublkfw_dev_is_unprivileged(dev))
			ublkfw_err(dev, "ADD_DEV: the kernel's limit of unprivileged devices is reached (ublk_drv parameter ublks_max): delete one, or ask root to raise it");
		else
			ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		return ret;
	}
	dev->id = info->dev_id;
	dev->added = true;
	ublkfw_daemon_notify(dev, "added");
	ublkfw_daemon_open_log(dev);
	ret = ublkfw_unpriv_wait_node(dev, 'c');
	if (ret < 0)
		return ret;

	/* Read back what the kernel kept: it drops flags it does not know
	 * and may lower the queue count or the buffer size. */
	ret = ublkfw_ctrl_get_info(&dev->ctrl, dev->id, info);
	if (ret < 0) {
		ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		return ret;
	}
	if ((info->flags & dev->conf.flags_req) != dev->conf.flags_req) {
		char buf[256];

		ublkfw_err(dev, "the kernel dropped requested feature(s) %s at ADD_DEV",
			   ublkfw_flags_str(dev->conf.flags_req & ~info->flags, buf, sizeof(buf)));
		return -EOPNOTSUPP;
	}
	take_geometry(dev, info);

	ublkfw_dev_fill_params(dev, &p);
	ret = ublkfw_ctrl_set_params(&dev->ctrl, dev->id, &p);
	if (ret < 0) {
		ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		return ret;
	}
	return 0;
}

/* Undo everything after ADD_DEV, in reverse order. */
static void teardown(struct ublkfw_dev *dev)
{
	int ret;

	dev->started = false;	/* no more state file updates (shmem_table.c) */
	ublkfw_sockets_stop(dev);
	if (dev->added) {
		/* STOP_DEV also aborts the FETCHes of a never-started device. */
		ret = ublkfw_ctrl_stop_dev(&dev->ctrl, dev->id);
		if (ret < 0 && ret != -ENODEV)
			ublkfw_err(dev, "%s", dev->ctrl.errmsg);
	}
	stop_queues(dev, dev->added);
	if (dev->cdev_fd >= 0) {
		close(dev->cdev_fd);
		dev->cdev_fd = -1;
	}
	if (dev->added) {
		/* DEL_DEV waits until the char device is released. */
		ret = ublkfw_ctrl_del_dev(&dev->ctrl, dev->id);
		if (ret < 0 && ret != -ENODEV)
			ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		ublkfw_state_remove(dev->id);
		dev->added = false;
	}
	/* The kernel has unpinned every buffer: drop the mappings. */
	ublkfw_shmem_release_all(dev);
}

static void main_loop_start(struct ublkfw_dev *dev)
{
	dev->main_loop = ev_default_loop(EVFLAG_NOENV);
	/* A closed stdout or socket peer is an error to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(stop_signals); i++) {
		ev_signal_init(&dev->stop_sig_w[i], sig_cb, stop_signals[i]);
		dev->stop_sig_w[i].data = dev;
		ev_signal_start(dev->main_loop, &dev->stop_sig_w[i]);
	}
	ev_async_init(&dev->queue_exit_w, queue_exit_cb);
	dev->queue_exit_w.data = dev;
	ev_async_start(dev->main_loop, &dev->queue_exit_w);
}

static void main_loop_stop(struct ublkfw_dev *dev)
{
	if (!dev->main_loop)
		return;
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(stop_signals); i++)
		ev_signal_stop(dev->main_loop, &dev->stop_sig_w[i]);
	ev_async_stop(dev->main_loop, &dev->queue_exit_w);
}

/* The pool table, and --htlb registered before START_DEV so that it is in
 * place for the first I/O. */
static int shmem_start(struct ublkfw_dev *dev)
{
	int ret;

	if (!(dev->info.flags & UBLK_F_SHMEM_ZC))
		return 0;
	ret = ublkfw_shmem_table_init(dev);
	if (ret || !dev->shm.htlb_pool)
		return ret;
	ret = ublkfw_dev_shmem_register(dev, dev->shm.htlb_pool,
					dev->shm.read_only ? UBLKFW_SHMEM_READ_ONLY : 0);
	if (ret < 0) {
		ublkfw_err(dev, "--htlb %s: %s", dev->shm.htlb_path, dev->ctrl.errmsg);
		return ret;
	}
	ublkfw_info(dev, "--htlb %s: registered as buffer %d", dev->shm.htlb_path, ret);
	dev->shm.htlb_pool = NULL;	/* the pool table owns it now */
	return 0;
}

/* START_DEV (or END_USER_RECOVERY), then what a live device offers:
 * sockets, state file, the word to a waiting parent. */
static int go_live(struct ublkfw_dev *dev)
{
	int ret;

	if (dev->conf.recover) {
		ret = ublkfw_recover_end(dev);
		if (ret < 0)
			return ret;
	} else {
		ret = ublkfw_ctrl_start_dev(&dev->ctrl, dev->id, getpid());
		if (ret < 0) {
			ublkfw_err(dev, "%s", dev->ctrl.errmsg);
			return ret;
		}
		ret = ublkfw_unpriv_wait_node(dev, 'b');
		if (ret < 0)
			return ret;
	}
	dev->started = true;
	ret = ublkfw_sockets_start(dev);
	if (ret < 0)
		ublkfw_err(dev, "cannot listen on %s/%d.sock and .ctl: %s (no statistics, no client pools)",
			   ublkfw_run_dir(), dev->id, strerror(-ret));
	ublkfw_state_write(dev);	/* a failure is logged and not fatal */
	/* A stop signal during start-up: fail it (the caller deletes the
	 * device) rather than report a device that goes away at once. */
	ev_run(dev->main_loop, EVRUN_NOWAIT);
	if (dev->stop_signal) {
		ublkfw_err(dev, "stopped by signal %d while starting: device %d deleted", dev->stop_signal,
			   dev->id);
		return -EINTR;
	}
	if (dev->exit_status) {		/* queue_exit_cb() ran just now */
		ublkfw_err(dev, "a queue ended while starting: device %d deleted", dev->id);
		return -EIO;
	}
	ublkfw_daemon_notify(dev, "ready");
	ublkfw_daemon_detach(dev);
	if (dev->conf.foreground) {
		printf("/dev/ublkb%d (id %d)\n", dev->id, dev->id);
		fflush(stdout);
	}
	return 0;
}

int ublkfw_dev_run(struct ublkfw_dev *dev)
{
	int ret;

	ret = ublkfw_ctrl_open(&dev->ctrl);
	if (ret < 0) {
		ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		goto out;
	}
	dev->ctrl_open = true;
	main_loop_start(dev);
	if (dev->conf.recover)
		ublkfw_daemon_open_log(dev);	/* the id is known already */
	ret = dev->conf.recover ? ublkfw_recover_begin(dev) : add_device(dev);
	if (!ret && dev->ops.attach && (ret = ublkfw_run_dir_make()) == 0 &&
	    (ret = dev->ops.attach(dev)) > 0)
		ret = -EINVAL;
	if (!ret)
		ret = shmem_start(dev);
	if (!ret)
		ret = open_cdev(dev);
	if (!ret)
		ret = start_queues(dev);
	if (!ret)
		ret = go_live(dev);
	if (!ret) {
		ev_run(dev->main_loop, 0);
		ret = dev->exit_status ? -EIO : 0;
	}
out:
	teardown(dev);
	if (ret)
		ublkfw_daemon_notify(dev, "fail");
	if (dev->daemon.log_fd >= 0)
		close(dev->daemon.log_fd);
	if (dev->ctrl_open)
		ublkfw_ctrl_close(&dev->ctrl);
	main_loop_stop(dev);
	return ret ? 1 : 0;
}
