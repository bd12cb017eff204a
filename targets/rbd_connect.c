// SPDX-License-Identifier: MIT
/*
 * rbd_connect.c - the rbd target's connection to its cluster: librados
 * (config, timeouts, monitors, cephx), the pool's I/O context, the image.
 * Each way it can fail is one line naming the problem and what to do;
 * librados's own messages are kept off stderr so that it stays one line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rbd.h"

static int set(rados_t r, const char *key, const char *value)
{
	return rados_conf_set(r, key, value);
}

/*
 * librados quiet on stderr; librbd's cache off; librbd's dispatch thread
 * skipped; --timeout for the monitors, the OSDs, the mount.  The cache: the
 * page cache above /dev/ublkbN is the device's cache, and a second one in the
 * server would hold writes it has acknowledged in a process that can die, and
 * with --recovery a device outlives its server without the kernel ever seeing
 * a crash.  Off, a write completes when the OSDs have it, as with the
 * kernel's RBD client (which has no cache); measured, it also does not cost
 * IOPS (docs/rbd.md).
 * rbd_non_blocking_aio: librbd hands each request to a dispatch thread of its
 * own so that the caller never waits; the caller here is a queue thread that
 * only hands requests on, so that hop is latency (it can still wait where
 * librbd's thread would: the objecter's in-flight throttle, which holds back
 * the requests behind it either way).
 */
static int rbd_settings(struct rbd_target *t)
{
	char s[16];
	int ret = 0;

	ret |= set(t->rados, "err_to_stderr", "false");
	ret |= set(t->rados, "log_to_stderr", "false");
	ret |= set(t->rados, "rbd_cache", "false");
	ret |= set(t->rados, "rbd_non_blocking_aio", "false");
	if (t->timeout) {
		snprintf(s, sizeof(s), "%u", t->timeout);
		ret |= set(t->rados, "rados_osd_op_timeout", s);
		ret |= set(t->rados, "rados_mon_op_timeout", s);
		ret |= set(t->rados, "client_mount_timeout", s);
	}
	return ret ? -EINVAL : 0;
}

/*
 * One image per process: one asio thread for librados's completions and one
 * messenger worker hand each request over less than librbd's 2 and 3
 * (docs/rbd.md has the measurement).  Only where the config left librbd's
 * default: librados ranks a value set here above the file's.
 */
static const struct {
	const char *key, *librbd_default, *ours;
} thread_defaults[] = {
	{ "librados_thread_count", "2", "1" },
	{ "ms_async_op_threads", "3", "1" },
};

static int rbd_thread_defaults(struct rbd_target *t)
{
	char v[32];
	size_t i;

	for (i = 0; i < sizeof(thread_defaults) / sizeof(thread_defaults[0]); i++) {
		if (rados_conf_get(t->rados, thread_defaults[i].key, v, sizeof(v)) < 0)
			return -EINVAL;
		if (!strcmp(v, thread_defaults[i].librbd_default) &&
		    set(t->rados, thread_defaults[i].key, thread_defaults[i].ours))
			return -EINVAL;
	}
	return 0;
}

static int rbd_read_conf(struct ublkfw_dev *dev, struct rbd_target *t)
{
	int ret = rados_conf_read_file(t->rados, t->conf);

	if (ret == -ENOENT && !t->conf)
		ublkfw_err(dev, "no Ceph config found (/etc/ceph/%s.conf, $CEPH_CONF): give the cluster's with --conf FILE",
			   t->cluster);
	else if (ret == -ENOENT)
		ublkfw_err(dev, "cannot read the Ceph config %s: no such file: give the cluster's ceph.conf with --conf FILE",
			   t->conf);
	else if (ret == -EINVAL)
		ublkfw_err(dev, "%s is not a valid Ceph config (a parse error): check the file",
			   t->conf ? t->conf : "the Ceph config found");
	else if (ret < 0)
		ublkfw_err(dev, "cannot read the Ceph config %s: %s", t->conf ? t->conf : "", strerror(-ret));
	/* The file must not turn librados's messages, the cache, the dispatch
	 * thread or our timeouts back; the thread counts are its to choose. */
	if (!ret && (rbd_settings(t) || rbd_thread_defaults(t)))
		ret = -EINVAL, ublkfw_err(dev, "librados refused the target's settings (--timeout, rbd_cache, rbd_non_blocking_aio, thread counts): is it the librados the target was built with?");
	return ret;
}

static void rbd_connect_error(struct ublkfw_dev *dev, struct rbd_target *t, int ret)
{
	char mons[256] = "?";

	rados_conf_get(t->rados, "mon_host", mons, sizeof(mons));
	if (ret == -ETIMEDOUT)
		ublkfw_err(dev, "no answer from the cluster's monitors (%s) in %u s: is the cluster up, and its mon host right in the config?",
			   mons, t->timeout ? t->timeout : 300);
	else if (ret == -ENOENT)
		ublkfw_err(dev, "no keyring for client.%s: give the cluster's keyring (keyring = FILE in the config) or another --user",
			   t->id);
	else if (ret == -EACCES || ret == -EPERM)
		ublkfw_err(dev, "the cluster refused client.%s (cephx): check its key in the keyring and --user", t->id);
	else
		ublkfw_err(dev, "cannot connect to the cluster (mon host %s): %s", mons, strerror(-ret));
}

static int rbd_open_image(struct ublkfw_dev *dev, struct rbd_target *t)
{
	int ret = rados_ioctx_create(t->rados, t->pool, &t->ioctx);

	if (ret == -ENOENT) {
		ublkfw_err(dev, "no pool '%s' in the cluster: name another, or create it (ceph osd pool create %s; rbd pool init %s)",
			   t->pool, t->pool, t->pool);
		return ret;
	}
	if (ret < 0) {
		ublkfw_err(dev, "cannot open pool '%s': %s", t->pool, strerror(-ret));
		return ret;
	}
	rados_ioctx_set_namespace(t->ioctx, t->ns[0] ? t->ns : NULL);
	ret = rbd_open(t->ioctx, t->image, &t->image_h, NULL);
	if (ret == -ENOENT)
		ublkfw_err(dev, "no image '%s' in pool '%s%s%s': name another, or create it (rbd create --size SIZE %s/%s%s%s)",
			   t->image, t->pool, t->ns[0] ? "/" : "", t->ns, t->pool, t->ns,
			   t->ns[0] ? "/" : "", t->image);
	else if (ret < 0)
		ublkfw_err(dev, "cannot open image %s/%s: %s", t->pool, t->image, strerror(-ret));
	if (ret < 0)
		rados_ioctx_destroy(t->ioctx);
	return ret;
}

int rbd_connect(struct ublkfw_dev *dev, struct rbd_target *t)
{
	char name[128];
	int ret;

	snprintf(name, sizeof(name), "client.%s", t->id);
	ret = rados_create2(&t->rados, t->cluster, name, 0);
	if (ret < 0) {
		ublkfw_err(dev, "cannot set up librados for %s of cluster %s: %s", name, t->cluster,
			   strerror(-ret));
		return ret;
	}
	if (!(ret = rbd_settings(t)) && !(ret = rbd_read_conf(dev, t))) {
		ret = rados_connect(t->rados);
		if (ret < 0)
			rbd_connect_error(dev, t, ret);
	}
	if (!ret && !(ret = rbd_open_image(dev, t))) {
		t->connected = true;
		return 0;
	}
	rados_shutdown(t->rados);
	return ret;
}

void rbd_disconnect(struct rbd_target *t)
{
	if (!t->connected)
		return;
	rbd_close(t->image_h);
	rados_ioctx_destroy(t->ioctx);
	rados_shutdown(t->rados);
	t->connected = false;
}
