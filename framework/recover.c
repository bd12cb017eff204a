// SPDX-License-Identifier: MIT
/*
 * recover.c - user recovery: a new server takes over a device whose server
 * died (UBLK_F_USER_RECOVERY).  The kernel kept the device QUIESCED: the
 * block device stays, new I/O waits, and the requests the dead server held
 * were requeued (--recovery reissue) or failed (requeue).  With fail-io
 * (UBLK_F_USER_RECOVERY_FAIL_IO) it is FAIL_IO instead: those requests
 * failed, and new I/O fails at once until the recovery ends.  The new
 * server checks the device, sends START_USER_RECOVERY once the old server's
 * files are closed, opens /dev/ublkcN, FETCHes every tag (the ordinary
 * queue start) and ends with END_USER_RECOVERY(pid): the device is LIVE
 * again and the waiting I/O flows.  dev.c calls the two halves around the queue start.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "state.h"

#define START_RECOVERY_WAIT_MS	10000	/* for the old server's files to close */
/* Indexes above the dead server's highest recorded one that are tried too:
 * it may have registered after its last state write (the kernel hands out
 * the lowest free index, so they are just above or in the gaps). */
#define STALE_INDEX_SLACK	64

static const struct {
	const char *name;
	uint64_t flags;
} modes[] = {
	{ "none", 0 },
	{ "reissue", UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE },
	{ "requeue", UBLK_F_USER_RECOVERY },
	{ "fail-io", UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO },
};

#define RECOVERY_FLAGS	(UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | \
			 UBLK_F_USER_RECOVERY_FAIL_IO)

int ublkfw_recovery_flags(const char *mode, uint64_t *flags)
{
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(modes); i++)
		if (!strcmp(modes[i].name, mode)) {
			*flags = modes[i].flags;
			return 0;
		}
	return -EINVAL;
}

const char *ublkfw_recovery_mode(uint64_t flags)
{
	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(modes); i++)
		if ((flags & RECOVERY_FLAGS) == modes[i].flags)
			return modes[i].name;
	return "unknown";
}

bool ublkfw_dev_is_recovering(const struct ublkfw_dev *dev)
{
	return dev->conf.recover;
}

int ublkfw_recover_check(struct ublkfw_ctrl *c, int id, struct ublksrv_ctrl_dev_info *info,
			 char *why, size_t len)
{
	int ret = ublkfw_ctrl_get_info(c, id, info);

	if (ret < 0) {
		ublkfw_ctrl_dev_error(c, id, ret, why, len);
		return ret;
	}
	if (!(info->flags & UBLK_F_USER_RECOVERY)) {
		snprintf(why, len, "device %d was created without --recovery: it cannot be recovered (delete it with ublk-fw-ctl del -n %d)",
			 id, id);
		return -EINVAL;
	}
	if (info->state == UBLK_S_DEV_LIVE) {
		snprintf(why, len, "device %d is LIVE, served by pid %d: nothing to recover", id,
			 info->ublksrv_pid);
		return -EBUSY;
	}
	return 0;
}

/* The device may be taken over; 0 or -errno after a one-line message. */
static int check_device(struct ublkfw_dev *dev, int id)
{
	char why[256];
	int ret = ublkfw_recover_check(&dev->ctrl, id, &dev->info, why, sizeof(why));

	if (ret)
		ublkfw_err(dev, "%s", why);
	return ret;
}

/* The target, opened with the recorded options, must describe the same
 * device. */
static int check_size(struct ublkfw_dev *dev)
{
	struct ublk_params p;
	int ret = ublkfw_ctrl_get_params(&dev->ctrl, dev->id, &p);

	if (ret < 0) {
		ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		return ret;
	}
	if ((p.basic.dev_sectors << 9) != dev->conf.size) {
		ublkfw_err(dev, "the target's size %llu differs from device %d's %llu: recover with the options the device was created with",
			   (unsigned long long)dev->conf.size, dev->id,
			   (unsigned long long)p.basic.dev_sectors << 9);
		return -EINVAL;
	}
	return 0;
}

struct start_recovery {
	struct ublkfw_dev *dev;
	int ret;
};

static bool recovery_started(void *arg)
{
	struct start_recovery *s = arg;

	s->ret = ublkfw_ctrl_cmd(&s->dev->ctrl, UBLK_U_CMD_START_USER_RECOVERY, s->dev->id,
				 (uint16_t)-1, NULL, 0, 0);
	return s->ret != -EBUSY;
}

/*
 * SHMEM_ZC: the buffers the dead server registered stay registered (and
 * pinned) while no server runs, under indexes only it could serve: its
 * clients' memfds and its mapping of the --htlb file died with it.  On the
 * quiesced device (no dispatch, so no freeze; a FAIL_IO one is frozen, with
 * nothing in flight to wait for) unregister each of them: an I/O from
 * those pages is then copied, never served through a wrong map.
 * The new server registers its --htlb file anew (shmem_start) and clients
 * reconnect and register theirs.  Returns how many were unregistered.
 */
static int unregister_stale_buffers(struct ublkfw_dev *dev)
{
	struct ublkfw_state st;
	int last = STALE_INDEX_SLACK - 1, n = 0;

	if (!ublkfw_state_read(dev->id, &st)) {
		for (unsigned int i = 0; i < st.nr_shmem_registered; i++)
			if (st.shmem_registered[i] + STALE_INDEX_SLACK > last)
				last = st.shmem_registered[i] + STALE_INDEX_SLACK;
		ublkfw_state_free(&st);
	}
	if (last > UBLK_SHMEM_BUF_MAX_INDEX)
		last = UBLK_SHMEM_BUF_MAX_INDEX;
	for (int i = 0; i <= last; i++)
		if (!ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_UNREG_BUF, dev->id, (uint16_t)-1,
				     NULL, 0, (uint64_t)i))
			n++;
	if (n)
		ublkfw_info(dev, "device %d: unregistered the %d shared-memory buffer%s of the dead server",
			    dev->id, n, n == 1 ? "" : "s");
	return n;
}

int ublkfw_recover_begin(struct ublkfw_dev *dev)
{
	struct start_recovery s = { dev, 0 };
	int ret = check_device(dev, dev->conf.req_id);

	if (ret)
		return ret;
	dev->id = dev->conf.req_id;
	ret = check_size(dev);
	if (ret)
		return ret;
	/* the device's own geometry, whatever this command line says */
	dev->conf.nr_queues = dev->info.nr_hw_queues;
	dev->conf.depth = dev->info.queue_depth;
	dev->conf.max_io = dev->info.max_io_buf_bytes;
	/* -EBUSY while the dead server's /dev/ublkcN is still being closed */
	ublkfw_poll_until(recovery_started, &s, START_RECOVERY_WAIT_MS, 20000);
	if (s.ret < 0) {
		ublkfw_err(dev, "START_USER_RECOVERY (dev %d): %s%s", dev->id, strerror(-s.ret),
			   s.ret == -EBUSY ? " (the old server still holds /dev/ublkc, or the device is neither QUIESCED nor FAIL_IO)" : "");
		return s.ret;
	}
	ublkfw_info(dev, "device %d: recovery started (mode %s)", dev->id,
		    ublkfw_recovery_mode(dev->info.flags));
	if (dev->info.flags & UBLK_F_SHMEM_ZC)
		unregister_stale_buffers(dev);
	return 0;
}

int ublkfw_recover_end(struct ublkfw_dev *dev)
{
	int ret = ublkfw_ctrl_cmd(&dev->ctrl, UBLK_U_CMD_END_USER_RECOVERY, dev->id, (uint16_t)-1,
				  NULL, 0, (uint64_t)getpid());

	if (ret < 0) {
		ublkfw_err(dev, "%s", dev->ctrl.errmsg);
		return ret;
	}
	/* From here on this server owns the device: a clean stop deletes it. */
	dev->added = true;
	ublkfw_info(dev, "device %d: recovered, LIVE again", dev->id);
	return 0;
}
