// SPDX-License-Identifier: MIT
/*
 * fuzz-size.c - ublkfw_parse_size(), ublkfw_parse_uint() and the device-id
 * parser on any string: no crash, no undefined behaviour, and what they
 * accept is what the string says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);
	uint64_t v;
	int id;

	if (!s)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	if (!ublkfw_parse_size(s, &v) && strspn(s, "0123456789") == strlen(s)) {
		/* plain digits: the number itself */
		char back[32];

		snprintf(back, sizeof(back), "%" PRIu64, v);
		if (strtoull(s, NULL, 10) != v)
			abort();
		(void)back;
	}
	if (!ublkfw_parse_uint(s, 7, 4096, &v) && (v < 7 || v > 4096))
		abort();
	if (!ublkfw_parse_dev_id(s, &id) && (id < 0 || id > UBLKFW_MAX_DEV_ID))
		abort();
	free(s);
	return 0;
}
