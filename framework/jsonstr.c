// SPDX-License-Identifier: MIT
/*
 * jsonstr.c - strings in the JSON the framework and ublk-fw-ctl write: JSON
 * must be UTF-8, and a command line or a path need not be.  Bytes that are
 * not part of a well-formed UTF-8 sequence become U+FFFD, so the output is
 * always valid JSON.
 */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "jsonstr.h"

/* Bytes of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * form, no surrogate, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
		   s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))) ||
	    (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))))
		return 0;
	return n;
}

bool ublkfw_utf8_valid(const char *s)
{
	for (size_t n; *s; s += n)
		if (!(n = utf8_seq((const unsigned char *)s)))
			return false;
	return true;
}

/* s as a JSON string, which must be UTF-8: each byte of s that is not part
 * of a well-formed sequence becomes U+FFFD. */
struct json_object *ublkfw_json_string(const char *s)
{
	struct json_object *o;
	char *buf;
	size_t k = 0;

	if (ublkfw_utf8_valid(s))
		return json_object_new_string(s);
	buf = malloc(strlen(s) * 3 + 1);
	if (!buf)
		return NULL;
	for (size_t n; *s; s += n ? n : 1) {
		n = utf8_seq((const unsigned char *)s);
		if (n) {
			memcpy(buf + k, s, n);
			k += n;
		} else {
			memcpy(buf + k, "\xef\xbf\xbd", 3);
			k += 3;
		}
	}
	buf[k] = '\0';
	o = json_object_new_string(buf);
	free(buf);
	return o;
}

void ublkfw_json_str(FILE *f, const char *s)
{
	size_t n;

	fputc('"', f);
	for (; s && *s; s += n) {
		unsigned char ch = *s;

		n = 1;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else if (ch < 0x80)
			fputc(ch, f);
		else if ((n = utf8_seq((const unsigned char *)s)))
			fwrite(s, 1, n, f);
		else {
			fputs("\\ufffd", f);	/* not UTF-8: JSON cannot carry it */
			n = 1;
		}
	}
	fputc('"', f);
}
