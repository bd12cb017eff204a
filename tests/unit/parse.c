// SPDX-License-Identifier: MIT
/* Size and number parsing. */
#include <criterion/criterion.h>

#include "internal.h"

static uint64_t size_of(const char *s)
{
	uint64_t v = 0;

	cr_assert_eq(ublkfw_parse_size(s, &v), 0, "parse_size(\"%s\") failed", s);
	return v;
}

Test(parse, sizes_with_suffixes)
{
	cr_expect_eq(size_of("4096"), 4096);
	cr_expect_eq(size_of("512B"), 512);
	cr_expect_eq(size_of("64K"), 64 << 10);
	cr_expect_eq(size_of("64k"), 64 << 10);
	cr_expect_eq(size_of("64KiB"), 64 << 10);
	cr_expect_eq(size_of("64KB"), 64 << 10);
	cr_expect_eq(size_of("1M"), 1 << 20);
	cr_expect_eq(size_of("10G"), 10ULL << 30);
	cr_expect_eq(size_of("2T"), 2ULL << 40);
}

Test(parse, bad_sizes)
{
	uint64_t v = 42;

	cr_expect_eq(ublkfw_parse_size("", &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_size("G", &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_size("-1", &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_size("12X", &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_size("1GG", &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_size("1 G", &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_size("99999999999999999999", &v), -ERANGE);
	cr_expect_eq(ublkfw_parse_size("17179869184G", &v), -ERANGE);
	cr_expect_eq(v, 42, "a failed parse must not write the result");
}

Test(parse, uints_in_range)
{
	uint64_t v;

	cr_expect_eq(ublkfw_parse_uint("1", 1, 4096, &v), 0);
	cr_expect_eq(v, 1);
	cr_expect_eq(ublkfw_parse_uint("4096", 1, 4096, &v), 0);
	cr_expect_eq(v, 4096);
	cr_expect_eq(ublkfw_parse_uint("0", 1, 4096, &v), -ERANGE);
	cr_expect_eq(ublkfw_parse_uint("4097", 1, 4096, &v), -ERANGE);
	cr_expect_eq(ublkfw_parse_uint("12a", 1, 4096, &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_uint("-3", 0, 4096, &v), -EINVAL);
	cr_expect_eq(ublkfw_parse_uint(NULL, 0, 4096, &v), -EINVAL);
}
