#!/bin/sh
# SPDX-License-Identifier: MIT
#
# docs-check.sh - the code in the guides builds and runs as printed.
#
# In README.md and docs/*.md, a fenced code block right after a marker line
#
#   <!-- docs-check: program NAME [same-as PATH] -->   then a ```c block
#
# is a complete program: it is compiled with the project's warning flags
# (WARN of the Makefile: -Wall -Wextra -Werror ...) against the staged
# install of `make examples` (build/stage, through pkg-config
# --define-prefix), and `./NAME --help` must exit 0 and name it.  With
# same-as, the block must also be identical to PATH (so an embedded copy of
# an example cannot drift from the file the tree builds and tests).
#
#   <!-- docs-check: commands -->   then a ```sh block
#
# is run with sh -e in a scratch directory holding the programs above (as
# NAME.c), with STAGE set to the staged install: it must exit 0.
#
# Also: `make install` runs ldconfig when DESTDIR is empty, and only then
# (make -n).  One "ok   - ..." or "FAIL - ..." line per check, then
# "docs: N passed, M failed"; exits non-zero on any failure.  Needs
# `make all examples` first.  Run by tests/check.sh.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
T_NAME=docs
. "$TOP/tests/report.sh"

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

pkgconfigdir=$(sed -n 's/^PKGCONFIGDIR := //p' config.mk 2>/dev/null)
STAGE=$TOP/build/stage
if [ -z "$pkgconfigdir" ] || [ ! -f "$STAGE$pkgconfigdir/ublkfw.pc" ]; then
	fail "the staged install $STAGE$pkgconfigdir/ublkfw.pc exists (./configure; make all examples)"
	finish
fi
export STAGE
PC="env PKG_CONFIG_PATH=$STAGE$pkgconfigdir pkg-config --define-prefix"
WARN=$(sed -n 's/^WARN := //p' Makefile)
case $WARN in *-Werror*) ;; *) fail "the Makefile's WARN has -Werror ('$WARN')" ;; esac

# blocks FILE: for each marked block of FILE, "LINE<TAB>MARKER WORDS" on
# stdout and its text in $TMP/block.FILE-TAG.LINE (TAG: the file's base name).
blocks() {
	awk -v dir="$TMP" -v tag="$(basename "$1" .md)" '
	/^<!-- docs-check: .* -->$/ {
		m = $0; sub(/^<!-- docs-check: */, "", m); sub(/ *-->$/, "", m)
		want = 1; next
	}
	want && /^```/ {
		want = 0; inb = 1; start = NR + 1
		out = dir "/block." tag "." start
		printf "" > out
		print start "\t" m
		next
	}
	want && NF { want = 0 }
	inb && /^```/ { inb = 0; close(out); next }
	inb { print > out }
	' "$1"
}

programs=""
n_blocks=0
for md in README.md docs/*.md; do
	tag=$(basename "$md" .md)
	blocks "$md" > "$TMP/list"
	while IFS='	' read -r line marker; do
		n_blocks=$((n_blocks + 1))
		block=$TMP/block.$tag.$line
		# shellcheck disable=SC2086
		set -- $marker
		case $1 in
		program)
			name=${2:-}
			where="$md:$line: program $name"
			if [ -z "$name" ]; then
				fail "$md:$line: 'program' needs a NAME"
				continue
			fi
			if [ "${3:-}" = same-as ]; then
				if diff -u "${4:-/nonexistent}" "$block" > "$TMP/diff" 2>&1; then
					pass "$where: identical to $4"
				else
					fail "$where: differs from ${4:-(no PATH)}" "$(head -40 "$TMP/diff")"
				fi
			fi
			mkdir -p "$TMP/progs"
			cp "$block" "$TMP/progs/$name.c"
			# shellcheck disable=SC2046,SC2086
			if ${CC:-cc} -O2 $WARN $($PC --cflags ublkfw) -o "$TMP/progs/$name" \
				"$TMP/progs/$name.c" $($PC --libs ublkfw) \
				-Wl,-rpath,"$($PC --variable=libdir ublkfw)" > "$TMP/cc.out" 2>&1; then
				pass "$where: compiles with $WARN against the staged install"
			else
				fail "$where: does not compile with $WARN" "$(head -30 "$TMP/cc.out")"
				continue
			fi
			if out=$("$TMP/progs/$name" --help 2>&1) && printf '%s\n' "$out" | grep -q "$name"; then
				pass "$where: ./$name --help exits 0 and names it"
			else
				fail "$where: ./$name --help (exit $?)" "$out"
			fi
			programs="$programs $name"
			;;
		commands)
			where="$md:$line: commands"
			mkdir -p "$TMP/run"
			for p in $programs; do cp "$TMP/progs/$p.c" "$TMP/run/"; done
			if out=$(cd "$TMP/run" && sh -e "$block" 2>&1); then
				pass "$where: run with STAGE=build/stage, exit 0"
			else
				fail "$where: exit $? (STAGE=build/stage)" "$(printf '%s\n' "$out" | tail -30)"
			fi
			;;
		*)
			fail "$md:$line: unknown docs-check marker '$marker'"
			;;
		esac
	done < "$TMP/list"
done
if [ "$n_blocks" -gt 0 ]; then
	pass "$n_blocks marked blocks in README.md and docs/*.md"
else
	fail "no <!-- docs-check: ... --> block in README.md or docs/*.md"
fi

# ---- make install and ldconfig -----------------------------------------------
if "${MAKE:-make}" -s -n install DESTDIR= 2>/dev/null | grep -q '^ldconfig'; then
	pass "make install (no DESTDIR) runs ldconfig"
else
	fail "make install (no DESTDIR) does not run ldconfig"
fi
if "${MAKE:-make}" -s -n install DESTDIR="$TMP/destdir" 2>/dev/null | grep -q '^ldconfig'; then
	fail "make install DESTDIR=... runs ldconfig (it must not touch the host's cache)"
else
	pass "make install DESTDIR=... does not run ldconfig"
fi

# ---- a staged install has what unprivileged devices need ---------------------
if "${MAKE:-make}" -s install DESTDIR="$TMP/stage" > "$TMP/install.log" 2>&1; then
	pass "make install DESTDIR=... succeeds"
else
	fail "make install DESTDIR=... failed" "$(tail -5 "$TMP/install.log")"
fi
rule="$TMP/stage$(sed -n 's/^UDEVRULESDIR := //p' config.mk)/99-ublk-fw.rules"
helper="$(sed -n 's/^LIBEXECDIR := //p' config.mk)/ublk-fw/ublk-fw-udev"
if [ -x "$TMP/stage$helper" ] && grep -q "RUN+=\"$helper %k\"" "$rule" 2>/dev/null &&
   grep -q 'KERNEL=="ublk-control", MODE="0666"' "$rule"; then
	pass "make install puts the udev rule in place, naming the installed helper $helper"
else
	fail "make install: no udev rule naming an installed $helper" "$(cat "$rule" 2>&1)"
fi

finish
