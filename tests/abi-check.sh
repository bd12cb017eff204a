#!/bin/sh
# SPDX-License-Identifier: MIT
#
# abi-check.sh [LIB] - the shared library's ABI against the header:
#   a. the dynamic symbols LIB defines are exactly the UBLKFW_API functions
#      of framework/include/ublkfw.h, each a function (type T), each at the
#      default version UBLKFW_0.1 (nm -D --with-symbol-versions): nothing
#      internal leaks out, nothing declared is missing;
#   b. LIB defines exactly one symbol version besides its base, UBLKFW_0.1,
#      the node of framework/libublkfw.map (objdump -p);
#   c. its SONAME is libublkfw.so.<SOVERSION of the Makefile>;
#   d. a program linked against LIB gets ublkfw_version() == the Makefile's
#      VERSION == the header's UBLKFW_VERSION.
# LIB defaults to build/libublkfw.so (build it first: make all).  Needs nm
# and objdump (binutils) and the C compiler.  One "ok   - ..." or
# "FAIL - ..." line per check, then "abi: N passed, M failed"; exits non-zero
# on any failure.  Run by tests/check.sh.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
HDR=$TOP/framework/include/ublkfw.h
LIB=${1:-$TOP/build/libublkfw.so}
VERSION_NODE=UBLKFW_0.1
T_NAME=abi
. "$TOP/tests/report.sh"

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

if [ ! -e "$LIB" ]; then
	fail "$LIB exists (make all)"
	finish
fi
mk_var() { sed -n "s/^$1 *:= *//p" "$TOP/Makefile" | head -1; }
mk_version=$(mk_var VERSION)
mk_soversion=$(mk_var SOVERSION)

# ---- a: exported symbols == UBLKFW_API functions ---------------------------
# The declared name: the identifier before the first "(" of each UBLKFW_API
# line (every declaration starts its name on that line).
grep '^UBLKFW_API[[:space:]]' "$HDR" |
	sed -n 's/^[^(]*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' |
	sort > "$TMP/api"
n_decl=$(grep -c '^UBLKFW_API[[:space:]]' "$HDR")
n_api=$(wc -l < "$TMP/api")
if [ "$n_api" -eq "$n_decl" ] && [ "$n_api" -gt 0 ]; then
	pass "header: $n_api UBLKFW_API functions in ublkfw.h"
else
	fail "header: parsed $n_api names from $n_decl UBLKFW_API lines" "$(cat "$TMP/api")"
fi

# "ADDRESS TYPE NAME@@VERSION" for every defined dynamic symbol; the version
# definition itself shows up as an absolute symbol "A UBLKFW_0.1".
if ! nm -D --defined-only --with-symbol-versions "$LIB" > "$TMP/nm" 2> "$TMP/nm.err"; then
	fail "nm -D --with-symbol-versions $LIB" "$(cat "$TMP/nm.err")"
	finish
fi
awk '!($2 == "A" && $3 == v)' v="$VERSION_NODE" "$TMP/nm" > "$TMP/syms"
sed 's/@.*//' "$TMP/syms" | awk '{ print $3 }' | sort > "$TMP/exported"
extra=$(comm -13 "$TMP/api" "$TMP/exported" | tr '\n' ' ')
missing=$(comm -23 "$TMP/api" "$TMP/exported" | tr '\n' ' ')
if [ -z "$extra" ]; then
	pass "exports: nothing but UBLKFW_API functions ($(wc -l < "$TMP/exported") symbols)"
else
	fail "exports: $(basename "$LIB") exports symbols ublkfw.h does not declare: $extra"
fi
if [ -z "$missing" ]; then
	pass "exports: every UBLKFW_API function of ublkfw.h"
else
	fail "exports: UBLKFW_API functions missing from $(basename "$LIB"): $missing"
fi
bad=$(awk '$2 != "T" || $3 !~ "@@" v "$" { print }' v="$VERSION_NODE" "$TMP/syms")
if [ -z "$bad" ]; then
	pass "exports: each a function (T) at the default version $VERSION_NODE"
else
	fail "exports: not a function at @@$VERSION_NODE" "$bad"
fi

# ---- b: one version node ---------------------------------------------------
# objdump -p: "Version definitions:" then "INDEX FLAGS HASH NAME" lines; the
# base definition (flag 0x01) is the file's own name.
objdump -p "$LIB" | awk '/^Version definitions:/ { d = 1; next } d && NF == 0 { exit }
	d && $2 != "0x01" { print $4 }' > "$TMP/vdefs"
if [ "$(cat "$TMP/vdefs")" = "$VERSION_NODE" ]; then
	pass "versions: $(basename "$LIB") defines $VERSION_NODE and no other version"
else
	fail "versions: expected only $VERSION_NODE, found: $(tr '\n' ' ' < "$TMP/vdefs")"
fi
if grep -q "^$VERSION_NODE[[:space:]]*{" "$TOP/framework/libublkfw.map"; then
	pass "versions: $VERSION_NODE is a node of framework/libublkfw.map"
else
	fail "versions: framework/libublkfw.map has no node $VERSION_NODE"
fi

# ---- c: SONAME ---------------------------------------------------------------
soname=$(objdump -p "$LIB" | awk '$1 == "SONAME" { print $2 }')
if [ -n "$mk_soversion" ] && [ "$soname" = "libublkfw.so.$mk_soversion" ]; then
	pass "soname: $soname"
else
	fail "soname: '$soname', the Makefile's SOVERSION is '$mk_soversion'"
fi

# ---- d: the run-time version -----------------------------------------------
cat > "$TMP/v.c" <<'EOF'
#include <stdio.h>
#include <ublkfw.h>
int main(void) { printf("%s %s\n", ublkfw_version(), UBLKFW_VERSION); return 0; }
EOF
libdir=$(cd "$(dirname "$LIB")" && pwd -P)
# shellcheck disable=SC2046
if ${CC:-cc} -Wall -Wextra -Werror -I"$TOP/framework/include" $(pkg-config --cflags liburing 2>/dev/null) \
	-o "$TMP/v" "$TMP/v.c" -L"$libdir" -Wl,-rpath,"$libdir" -lublkfw > "$TMP/cc.out" 2>&1; then
	got=$("$TMP/v" 2>&1)
	want="$mk_version $mk_version"
	if [ "$got" = "$want" ]; then
		pass "version: ublkfw_version() and UBLKFW_VERSION are the Makefile's VERSION $mk_version"
	else
		fail "version: ublkfw_version() UBLKFW_VERSION = '$got', the Makefile's VERSION is '$mk_version'"
	fi
	ref=$(nm -D --undefined-only --with-symbol-versions "$TMP/v" | awk '$2 ~ /^ublkfw_version@/ { print $2 }')
	if [ "$ref" = "ublkfw_version@$VERSION_NODE" ]; then
		pass "version: a program linked against it binds ublkfw_version@$VERSION_NODE"
	else
		fail "version: the program's reference is '$ref', not ublkfw_version@$VERSION_NODE"
	fi
else
	fail "version: a program calling ublkfw_version() builds against $LIB" "$(cat "$TMP/cc.out")"
fi

finish
