// SPDX-License-Identifier: MIT
/* ublkfw_version(): the run-time version string of the library. */
#include <regex.h>
#include <criterion/criterion.h>

#include "ublkfw.h"

Test(version, run_time_version_is_the_header_version)
{
	const char *v = ublkfw_version();

	cr_assert_not_null(v);
	cr_expect_str_eq(v, UBLKFW_VERSION);
	cr_expect_eq(ublkfw_version(), v, "a static string, the same each call");
}

Test(version, looks_like_major_minor_patch)
{
	regex_t re;

	cr_assert_eq(regcomp(&re, "^[0-9]+\\.[0-9]+\\.[0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	cr_expect_eq(regexec(&re, ublkfw_version(), 0, NULL, 0), 0, "'%s'", ublkfw_version());
	regfree(&re);
}
