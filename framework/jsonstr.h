/* SPDX-License-Identifier: MIT */
/*
 * jsonstr.h - UTF-8-safe strings for the JSON we write (jsonstr.c).
 */
#ifndef UBLKFW_JSONSTR_H
#define UBLKFW_JSONSTR_H

#include <stdbool.h>
#include <stdio.h>

struct json_object;

/* s is well-formed UTF-8 (what a JSON string can hold as it is). */
bool ublkfw_utf8_valid(const char *s);
/* s as a json-c string; bytes not in a well-formed sequence become U+FFFD.
 * NULL when out of memory. */
struct json_object *ublkfw_json_string(const char *s);
/* JSON string literal of s (with quotes) on f, for the small JSON written
 * with fprintf (the stats reply, ublk-fw-ctl list); the same U+FFFD rule. */
void ublkfw_json_str(FILE *f, const char *s);

#endif
