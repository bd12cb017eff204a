// SPDX-License-Identifier: MIT
/* The built-in target table and the ops struct negotiation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "targets.h"

Test(targets, table_is_complete_and_well_formed)
{
	int n = 0;

	for (int i = 0; ublkfw_builtin_targets[i]; i++, n++) {
		const struct ublkfw_target_ops *t = ublkfw_builtin_targets[i];
		struct ublkfw_target_ops copy;
		char err[160];

		cr_expect_not_null(t->name);
		cr_expect_not_null(t->description, "%s has no description", t->name);
		cr_expect_not_null(t->queue_io, "%s has no queue_io", t->name);
		cr_expect_eq(t->struct_size, sizeof(struct ublkfw_target_ops));
		cr_expect_eq(ublkfw_target_ops_copy(&copy, t, err, sizeof(err)), 0, "%s: %s",
			     t->name, err);
		cr_expect_eq(ublkfw_find_target(t->name), t);
	}
	cr_expect_geq(n, 1);
	cr_expect_not_null(ublkfw_find_target("null"));
	cr_expect_null(ublkfw_find_target("nosuch"));
	cr_expect_null(ublkfw_find_target(""));
}

static void io(struct ublkfw_queue *q, struct ublkfw_io *i)
{
	(void)q;
	(void)i;
}

Test(targets, older_smaller_ops_struct_is_accepted)
{
	/* A target compiled when the struct ended at queue_io, with garbage
	 * beyond: the library must copy only struct_size bytes. */
	struct {
		struct ublkfw_target_ops ops;
		char garbage[64];
	} old;
	struct ublkfw_target_ops copy;
	char err[160];

	memset(&old, 0xff, sizeof(old));
	memset(&old.ops, 0, sizeof(old.ops));
	old.ops.api_version = 1;
	old.ops.struct_size = offsetof(struct ublkfw_target_ops, queue_io) + sizeof(void *);
	old.ops.name = "old";
	old.ops.queue_io = io;
	cr_assert_eq(ublkfw_target_ops_copy(&copy, &old.ops, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(copy.queue_io, io);
	cr_expect_eq(copy.struct_size, sizeof(copy));
}

Test(targets, bad_ops_are_refused)
{
	struct ublkfw_target_ops ops = { UBLKFW_TARGET_OPS_INIT, .name = "x", .queue_io = io };
	struct ublkfw_target_ops copy;
	char err[160];

	ops.api_version = UBLKFW_API_VERSION + 1;
	cr_expect_eq(ublkfw_target_ops_copy(&copy, &ops, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "API version") != NULL, "message: %s", err);
	ops.api_version = UBLKFW_API_VERSION;
	ops.struct_size = 8;
	cr_expect_eq(ublkfw_target_ops_copy(&copy, &ops, err, sizeof(err)), -EINVAL);
	ops.struct_size = sizeof(ops);
	ops.queue_io = NULL;
	cr_expect_eq(ublkfw_target_ops_copy(&copy, &ops, err, sizeof(err)), -EINVAL);
}

Test(targets, device_params_from_target_settings)
{
	struct ublkfw_dev dev;
	struct ublk_params p;

	ublkfw_dev_init(&dev, ublkfw_find_target("null"), "unit");
	ublkfw_dev_set_size(&dev, 1ULL << 30);
	cr_expect_eq(ublkfw_dev_set_block_size(&dev, 4096, 0), 0);
	cr_expect_eq(ublkfw_dev_set_block_size(&dev, 1000, 0), -EINVAL);
	cr_expect_eq(ublkfw_dev_set_block_size(&dev, 256, 0), -EINVAL);
	cr_expect_eq(ublkfw_dev_set_block_size(&dev, 4096, 2048), -EINVAL);
	ublkfw_dev_set_attrs(&dev, UBLKFW_ATTR_VOLATILE_CACHE | UBLKFW_ATTR_FUA);
	ublkfw_dev_fill_params(&dev, &p);
	cr_expect_eq(p.len, sizeof(p));
	cr_expect_eq(p.types, UBLK_PARAM_TYPE_BASIC);
	cr_expect_eq(p.basic.dev_sectors, (1ULL << 30) >> 9);
	cr_expect_eq(p.basic.logical_bs_shift, 12);
	cr_expect_eq(p.basic.physical_bs_shift, 12);
	cr_expect_eq(p.basic.max_sectors, (512U << 10) >> 9);
	cr_expect_eq(p.basic.attrs, UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA);

	ublkfw_dev_set_discard(&dev, 0, 1 << 20);
	ublkfw_dev_set_write_zeroes(&dev, 0);
	ublkfw_dev_fill_params(&dev, &p);
	cr_expect_eq(p.types, UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD);
	cr_expect_eq(p.discard.discard_granularity, 4096);
	cr_expect_eq(p.discard.max_discard_sectors, 2048);
	cr_expect_eq(p.discard.max_discard_segments, 1);
	cr_expect_gt(p.discard.max_write_zeroes_sectors, 0);
}

/* The module targets (modules.c) are named, and a module that is not where
 * it is looked for gives NULL with a reason naming the path. */
Test(targets, module_not_found_says_where)
{
	cr_assert_eq(setenv("UBLKFW_TARGET_DIR", "/nonexistent-ublkfw-dir", 1), 0);
	cr_expect_null(ublkfw_find_target("rbd"));
	cr_expect_not_null(strstr(ublkfw_target_error(), "/nonexistent-ublkfw-dir/ublkfw-rbd.so"),
			   "%s", ublkfw_target_error());
	cr_expect_null(ublkfw_find_target("nosuch"));
	cr_expect_str_eq(ublkfw_target_error(), "");
	unsetenv("UBLKFW_TARGET_DIR");
	cr_expect_str_eq(ublkfw_module_targets[0], "nbd");
	cr_expect_str_eq(ublkfw_module_targets[1], "rbd");
	cr_expect_null(ublkfw_module_targets[2]);
}

/* load_from DIR: ublkfw_find_target("nbd") with UBLKFW_TARGET_DIR=DIR; the
 * loader's reason */
static const char *load_from(const char *dir)
{
	cr_assert_eq(setenv("UBLKFW_TARGET_DIR", dir, 1), 0);
	cr_expect_null(ublkfw_find_target("nbd"));
	unsetenv("UBLKFW_TARGET_DIR");
	return ublkfw_target_error();
}

/* A module another user could have replaced is not loaded: a file or a
 * directory writable by others, or not a regular file.  A file of the
 * caller's own group with g+w (umask 002) gets as far as the loader. */
Test(targets, module_writable_by_others_is_refused)
{
	char dir[] = "/tmp/ublkfw-modXXXXXX", so[64];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(so, sizeof(so), "%s/ublkfw-nbd.so", dir);
	cr_assert_not_null(f = fopen(so, "w"));
	fputs("not an ELF file\n", f);
	fclose(f);

	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(chmod(so, 0666), 0);
	cr_expect_not_null(strstr(load_from(dir), "refusing to load module"), "%s",
			   ublkfw_target_error());
	cr_expect_not_null(strstr(ublkfw_target_error(), "mode 0666"), "%s", ublkfw_target_error());

	cr_assert_eq(chmod(so, 0644), 0);
	cr_assert_eq(chmod(dir, 0777), 0);
	cr_expect_not_null(strstr(load_from(dir), "refusing to load the module in directory"),
			   "%s", ublkfw_target_error());

	cr_assert_eq(chmod(dir, 0775), 0);	/* the caller's own group */
	cr_assert_eq(chmod(so, 0664), 0);
	cr_expect_not_null(strstr(load_from(dir), "cannot be loaded"), "%s",
			   ublkfw_target_error());

	cr_assert_eq(unlink(so), 0);
	cr_assert_eq(mkdir(so, 0755), 0);
	cr_expect_not_null(strstr(load_from(dir), "is not a regular file"), "%s",
			   ublkfw_target_error());
	rmdir(so);
	rmdir(dir);
}
