#!/bin/sh
# SPDX-License-Identifier: MIT
#
# man-check.sh - keep the manual pages in man/ honest against the header:
#   a. every UBLKFW_API function of framework/include/ublkfw.h has a page
#      man/<name>.3: a real page naming it, or a ".so man3/<page>.3" link to
#      one; no page documents a function the header lacks; ublkfw.7 lists them;
#   b. every page renders without warnings (groff -man -ww -z, for the
#      default device and for -Tutf8; .so links are followed as man(1) does
#      after `make install`);
#   c. the SYNOPSIS of every real section-3 page, as rendered, declares
#      exactly the functions of its NAME line, each with the header's
#      prototype (whitespace-normalised: return type, name, argument types
#      and names; the UBLKFW_API and UBLKFW_PRINTF() attributes left out).
# Needs sh, awk, sed and groff (Debian: groff-base).  One "ok   - ..." or
# "FAIL - ..." line per check, then "man: N passed, M failed"; exits non-zero
# on any failure.  Run by tests/check.sh; cheap enough to run by hand.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
HDR=$TOP/framework/include/ublkfw.h
MAN=$TOP/man
T_NAME=man
. "$TOP/tests/report.sh"

if ! command -v groff >/dev/null 2>&1; then
	fail "groff is installed (Debian package groff-base; scripts/install-deps.sh test)"
	finish
fi

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
# A man hierarchy whose man3/, man7/ and man8/ are man/, so that
# ".so man3/X.3" resolves the way it does in an installed tree.
mkdir "$TMP/root"
for s in 3 7 8; do ln -s "$MAN" "$TMP/root/man$s"; done

# Whitespace normalisation and the declared name (the first identifier that
# is followed by "("), shared by the header and the pages.
NORM='
function norm(s) {
	gsub(/[ \t\r\n]+/, " ", s)
	gsub(/ *\( */, "(", s)
	gsub(/ *\) */, ")", s)
	gsub(/ *, */, ", ", s)
	gsub(/ *; */, ";", s)
	sub(/^ /, "", s)
	sub(/ $/, "", s)
	return s
}
function fname(s) {
	if (match(s, /[A-Za-z_][A-Za-z0-9_]*\(/))
		return substr(s, RSTART, RLENGTH - 1)
	return ""
}'

# The header's prototypes: "name<TAB>normalised prototype", one per line.
awk "$NORM"'
/^UBLKFW_API[ \t]/ { c = 1; buf = "" }
c {
	buf = buf " " $0
	if (index($0, ";")) {
		c = 0
		sub(/;.*/, ";", buf)
		sub(/UBLKFW_API/, "", buf)
		gsub(/UBLKFW_PRINTF\([^)]*\)/, "", buf)
		buf = norm(buf)
		print fname(buf) "\t" buf
	}
}' "$HDR" > "$TMP/api"
cut -f1 "$TMP/api" > "$TMP/names"
n_api=$(wc -l < "$TMP/names")
n_decl=$(grep -c '^UBLKFW_API[[:space:]]' "$HDR")
if [ "$n_api" -eq "$n_decl" ] && [ "$n_api" -gt 0 ] && ! grep -qv '^ublkfw_' "$TMP/names"; then
	pass "header: $n_api UBLKFW_API prototypes parsed from ublkfw.h"
else
	fail "header: parsed $n_api prototypes, ublkfw.h has $n_decl UBLKFW_API lines" \
		"$(cat "$TMP/api")"
fi

# so_target PAGE: the page a ".so man3/X.3" link points to (X.3), or nothing.
so_target() {
	sed -n '/^\.\\"/d; /^\.so[[:space:]]/{ s|^\.so[[:space:]]*man3/\([^[:space:]]*\)$|\1|p; q; }; q' "$1"
}
# names_of PAGE: the names of the NAME section (before "\-"), one per line.
names_of() {
	awk '/^\.SH[ \t]/ { insec = ($2 == "NAME"); next } insec { printf "%s ", $0 }' "$1" |
		sed 's/\\-.*//; s/,/ /g' | tr -s ' \t' '\n' | sed '/^$/d'
}
render() { (cd "$TMP/root" && groff -man -Tascii -P-cbou "$1" 2>/dev/null); }

# ---- a: a page per function ------------------------------------------------
while read -r name; do
	page=$MAN/$name.3
	if [ ! -f "$page" ]; then
		fail "page: man/$name.3 is missing"
		continue
	fi
	tgt=$(so_target "$page")
	real=$page
	if [ -n "$tgt" ]; then
		real=$MAN/$tgt
		if [ ! -f "$real" ]; then
			fail "page: man/$name.3 links to man3/$tgt, which does not exist"
			continue
		fi
		if [ -n "$(so_target "$real")" ]; then
			fail "page: man/$name.3 links to man3/$tgt, itself a link"
			continue
		fi
	fi
	if names_of "$real" | grep -qx "$name"; then
		pass "page: $name.3${tgt:+ -> $tgt}"
	else
		fail "page: the NAME section of man/$(basename "$real") does not name $name"
	fi
done < "$TMP/names"

stale=""
for page in "$MAN"/*.3; do
	[ -e "$page" ] || continue
	grep -qx "$(basename "$page" .3)" "$TMP/names" || stale="$stale $(basename "$page")"
done
if [ -z "$stale" ]; then
	pass "pages: every man/*.3 documents a UBLKFW_API function"
else
	fail "pages: no UBLKFW_API function in ublkfw.h for:$stale"
fi

missing=""
while read -r name; do
	grep -q "^\.BR $name (3)" "$MAN/ublkfw.7" 2>/dev/null || missing="$missing $name"
done < "$TMP/names"
if [ -z "$missing" ]; then
	pass "ublkfw.7 lists all $n_api functions"
else
	fail "ublkfw.7 does not list:$missing"
fi

# ---- b: every page renders without warnings ----------------------------------
for page in "$MAN"/*.[1-8]; do
	[ -e "$page" ] || continue
	# The default (typesetter) device and the terminal, at man(1)'s default
	# width: lines that cannot be adjusted show up only on the latter.
	out=$(cd "$TMP/root" && groff -man -ww -z "$page" 2>&1 &&
		groff -man -Tutf8 -ww -z "$page" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		pass "render: $(basename "$page")"
	else
		fail "render: $(basename "$page") (groff -man [-Tutf8] -ww -z: exit $rc)" "$out"
	fi
done

# ---- c: SYNOPSIS prototypes match the header -------------------------------
for page in "$MAN"/*.3; do
	[ -e "$page" ] || continue
	[ -n "$(so_target "$page")" ] && continue
	base=$(basename "$page")
	names=$(names_of "$page" | tr '\n' ' ')
	render "$page" > "$TMP/rendered"
	# The rendered SYNOPSIS section without #include lines, one declaration
	# (split at ";") per line.
	awk '/^[A-Z][A-Z ]*$/ { ins = ($0 == "SYNOPSIS"); next } ins' "$TMP/rendered" |
		grep -v '#include' | tr '\n' ' ' | tr ';' '\n' > "$TMP/synopsis"
	problems=$(awk -F'\t' -v names="$names" "$NORM"'
FNR == NR { api[$1] = $2; next }
{
	if (norm($0) == "")
		next
	s = norm($0 ";")
	n = fname(s)
	if (n == "") {
		print "not a function prototype: " s
		next
	}
	seen[n]++
	if (!(n in api))
		print n ": not a UBLKFW_API function of ublkfw.h"
	else if (api[n] != s)
		print n ":\n  SYNOPSIS: " s "\n  ublkfw.h: " api[n]
	else
		good++
}
END {
	k = split(names, nm, / +/)
	for (i = 1; i <= k; i++) {
		if (nm[i] == "")
			continue
		named[nm[i]] = 1
		if (!(nm[i] in seen))
			print nm[i] ": in NAME but not declared in SYNOPSIS"
	}
	for (n in seen) {
		if (seen[n] > 1)
			print n ": declared " seen[n] " times"
		if (!(n in named))
			print n ": declared in SYNOPSIS but not in NAME"
	}
	if (!good)
		print "no prototype in SYNOPSIS"
}' "$TMP/api" "$TMP/synopsis")
	if [ -z "$problems" ]; then
		pass "synopsis: $base ($(grep -c "[^[:space:]]" "$TMP/synopsis") declarations match ublkfw.h)"
	else
		fail "synopsis: $base" "$problems"
	fi
done

finish
