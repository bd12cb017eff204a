// SPDX-License-Identifier: MIT
/* The rbd target's command line: POOL/[NAMESPACE/]IMAGE and its options.
 * (Its I/O needs a cluster: tests/integration/rbd.sh.) */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>

#include "internal.h"
#include "rbd.h"
#include "targets.h"

static struct ublkfw_dev dev;
static struct rbd_target *t;

static void setup(void)
{
	ublkfw_dev_init(&dev, &ublkfw_target_rbd, "unit");
	dev.priv = t = calloc(1, sizeof(*t));
	cr_redirect_stderr();
}

static void teardown(void)
{
	free(t);
}

static int cfg(const char *key, const char *value)
{
	return ublkfw_target_rbd.config(&dev, key, value);
}

TestSuite(rbd, .init = setup, .fini = teardown);

Test(rbd, pool_and_image)
{
	cr_assert_eq(cfg(NULL, "rbd/vm1"), 0);
	cr_expect_str_eq(t->pool, "rbd");
	cr_expect_str_eq(t->ns, "");
	cr_expect_str_eq(t->image, "vm1");
	cr_expect_eq(cfg(NULL, "rbd/vm2"), -EINVAL, "a second image is refused");
}

Test(rbd, pool_namespace_image)
{
	cr_assert_eq(cfg(NULL, "pool/ns1/img"), 0);
	cr_expect_str_eq(t->pool, "pool");
	cr_expect_str_eq(t->ns, "ns1");
	cr_expect_str_eq(t->image, "img");
}

Test(rbd, bad_specs)
{
	const char *bad[] = { "img", "/img", "rbd/", "rbd//img", "a/b/c/d", "rbd/img@snap", "", "/" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(cfg(NULL, bad[i]), -EINVAL, "'%s' was taken", bad[i]);
	cr_expect_str_eq(t->pool, "", "nothing kept of a refused spec");
}

Test(rbd, options)
{
	cr_assert_eq(cfg("conf", "/etc/ceph/x.conf"), 0);
	cr_assert_eq(cfg("user", "ublk"), 0);
	cr_assert_eq(cfg("cluster", "prod"), 0);
	cr_assert_eq(cfg("timeout", "0"), 0);
	cr_expect_str_eq(t->conf, "/etc/ceph/x.conf");
	cr_expect_str_eq(t->id, "ublk");
	cr_expect_str_eq(t->cluster, "prod");
	cr_expect(t->timeout_set);
	cr_expect_eq(t->timeout, 0);
	cr_expect_eq(cfg("timeout", "86401"), -EINVAL);
	cr_expect_eq(cfg("timeout", "5s"), -EINVAL);
	cr_expect_eq(cfg("user", ""), -EINVAL);
}

Test(rbd, no_image_is_refused_at_open)
{
	cr_expect_eq(ublkfw_target_rbd.open(&dev), -EINVAL);
}
