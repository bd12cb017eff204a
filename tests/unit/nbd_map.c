// SPDX-License-Identifier: MIT
/* The nbd target's pure decisions: URIs, --timeout, the device from the
 * server's flags, the command flags of a request. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libnbd.h>

#include "ublkfw.h"
#include "nbd_map.h"

static int uri(const char *u, char *why)
{
	return nbd_uri_check(u, why, 256);
}

Test(nbd_map, uris_taken)
{
	char why[256] = "";

	cr_expect_eq(uri("nbd://127.0.0.1:10809/exp", why), 0);
	cr_expect_eq(uri("nbd://localhost", why), 0);
	cr_expect_eq(uri("nbd+unix:///exp?socket=/run/nbd.sock", why), 0);
	cr_expect_eq(uri("NBD+UNIX:///?socket=/s", why), 0);
	cr_expect_eq(uri("nbd+vsock:///", why), 0);
}

Test(nbd_map, uris_refused_with_a_reason)
{
	char why[256];

	cr_expect_eq(uri("", why), -EINVAL);
	cr_expect(strstr(why, "empty URI"), "%s", why);
	cr_expect_eq(uri("/dev/nbd0", why), -EINVAL);
	cr_expect(strstr(why, "'/dev/nbd0' is not an NBD URI: give nbd://"), "%s", why);
	cr_expect_eq(uri("http://example.com/disk", why), -EINVAL);
	cr_expect(strstr(why, "is not an NBD URI"), "%s", why);
	cr_expect_eq(uri("nbd:/missing-slashes", why), -EINVAL);
	cr_expect_eq(uri("nbds://host/exp", why), -EINVAL);
	cr_expect(strstr(why, "TLS (nbds://) is not supported"), "%s", why);
	cr_expect_eq(uri("nbds+unix:///?socket=/s", why), -EINVAL);
	cr_expect(strstr(why, "TLS"), "%s", why);
	cr_expect(!strchr(why, '\n'));
}

Test(nbd_map, timeout)
{
	unsigned int t = 99;

	cr_expect_eq(nbd_parse_timeout("0", &t), 0);
	cr_expect_eq(t, 0);
	cr_expect_eq(nbd_parse_timeout("30", &t), 0);
	cr_expect_eq(t, 30);
	cr_expect_eq(nbd_parse_timeout("86400", &t), 0);
	cr_expect_eq(nbd_parse_timeout("86401", &t), -EINVAL);
	cr_expect_eq(nbd_parse_timeout("-1", &t), -EINVAL);
	cr_expect_eq(nbd_parse_timeout("5s", &t), -EINVAL);
	cr_expect_eq(nbd_parse_timeout("", &t), -EINVAL);
	cr_expect_eq(nbd_parse_timeout(NULL, &t), -EINVAL);
	cr_expect_eq(t, 86400);
}

static const struct nbd_caps all = {
	.size = 1 << 30, .flush = true, .fua = true, .trim = true, .zero = true,
	.multi_conn = true,
};

Test(nbd_map, everything_advertised_is_announced)
{
	struct nbd_devconf dc;
	char why[256];

	cr_assert_eq(nbd_devconf_from_caps(&all, 0, 4, 512 << 10, &dc, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(dc.size, 1 << 30);
	cr_expect_eq(dc.attrs, UBLKFW_ATTR_VOLATILE_CACHE | UBLKFW_ATTR_FUA);
	cr_expect(dc.discard);
	cr_expect(dc.write_zeroes);
	cr_expect_eq(dc.lbs, 512);
	cr_expect_eq(dc.pbs, 4096);
}

Test(nbd_map, nothing_advertised_nothing_announced)
{
	struct nbd_caps c = { .size = 1 << 20 };
	struct nbd_devconf dc;
	char why[256];

	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(dc.attrs, 0);	/* no flush: no cache, no FUA */
	cr_expect(!dc.discard);
	cr_expect(!dc.write_zeroes);
	c.fua = true;			/* FUA without FLUSH means nothing */
	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0);
	cr_expect_eq(dc.attrs, 0);
	c.flush = true;
	c.fua = false;
	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0);
	cr_expect_eq(dc.attrs, UBLKFW_ATTR_VOLATILE_CACHE);
}

Test(nbd_map, read_only_export)
{
	struct nbd_caps c = all;
	struct nbd_devconf dc;
	char why[256];

	c.read_only = true;
	c.multi_conn = false;	/* a read-only export needs no multi-conn for -q 2 */
	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 2, 512 << 10, &dc, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(dc.attrs, UBLKFW_ATTR_READ_ONLY);
	cr_expect(!dc.discard);
	cr_expect(!dc.write_zeroes);
}

Test(nbd_map, size)
{
	struct nbd_caps c = all;
	struct nbd_devconf dc;
	char why[256];

	c.size = (1 << 20) + 100;	/* rounded down to whole blocks */
	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0);
	cr_expect_eq(dc.size, 1 << 20);
	cr_assert_eq(nbd_devconf_from_caps(&c, 65536, 1, 512 << 10, &dc, why, sizeof(why)), 0);
	cr_expect_eq(dc.size, 65536);
	cr_expect_eq(nbd_devconf_from_caps(&c, 2 << 20, 1, 512 << 10, &dc, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "-s 2097152 is larger than the export (1048676 bytes)"), "%s", why);
	c.size = 100;
	cr_expect_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "smaller than one block of 512 bytes"), "%s", why);
}

Test(nbd_map, block_sizes)
{
	struct nbd_caps c = all;
	struct nbd_devconf dc;
	char why[256];

	c.min_block = 4096;
	c.pref_block = 65536;
	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(dc.lbs, 4096);
	cr_expect_eq(dc.pbs, 65536);
	c.min_block = 8192;
	cr_expect_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "minimum block size 8192"), "%s", why);
	c.min_block = 1;		/* byte-granular servers: 512 */
	c.pref_block = 3000;		/* not a power of two: default */
	cr_assert_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0);
	cr_expect_eq(dc.lbs, 512);
	cr_expect_eq(dc.pbs, 4096);
	c.max_block = 100000;		/* smaller than our largest request */
	cr_expect_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "at most 100000 bytes: give --max-io 65536 or less"), "%s", why);
	cr_expect_eq(nbd_devconf_from_caps(&c, 0, 1, 64 << 10, &dc, why, sizeof(why)), 0);
}

Test(nbd_map, several_queues_need_multi_conn)
{
	struct nbd_caps c = all;
	struct nbd_devconf dc;
	char why[256];

	c.multi_conn = false;
	cr_expect_eq(nbd_devconf_from_caps(&c, 0, 1, 512 << 10, &dc, why, sizeof(why)), 0);
	cr_expect_eq(nbd_devconf_from_caps(&c, 0, 2, 512 << 10, &dc, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "does not advertise multi-conn") && strstr(why, "use -q 1"), "%s", why);
}

Test(nbd_map, command_flags)
{
	struct nbd_caps nofua = all;

	nofua.fua = false;
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_WRITE, UBLKFW_IO_F_FUA, &all), LIBNBD_CMD_FLAG_FUA);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_WRITE, 0, &all), 0);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_WRITE, UBLKFW_IO_F_FUA, &nofua), 0);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_READ, UBLKFW_IO_F_FUA, &all), 0);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_FLUSH, UBLKFW_IO_F_FUA, &all), 0);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_DISCARD, UBLKFW_IO_F_FUA, &all), LIBNBD_CMD_FLAG_FUA);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_WRITE_ZEROES, UBLKFW_IO_F_NOUNMAP, &all),
		     LIBNBD_CMD_FLAG_NO_HOLE);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_WRITE_ZEROES, 0, &all), 0);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_WRITE_ZEROES, UBLKFW_IO_F_NOUNMAP | UBLKFW_IO_F_FUA,
				   &all), LIBNBD_CMD_FLAG_NO_HOLE | LIBNBD_CMD_FLAG_FUA);
	cr_expect_eq(nbd_cmd_flags(UBLKFW_OP_DISCARD, UBLKFW_IO_F_NOUNMAP, &all), 0);
}

Test(nbd_map, wait_expiry)
{
	cr_expect(!nbd_wait_expired(100.0, 104.9, 5));
	cr_expect(nbd_wait_expired(100.0, 105.0, 5));
	cr_expect(nbd_wait_expired(100.0, 100.0, 0));
}
