#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Find (and if needed fetch or build) a kernel for the test guest.
#
# usage: tests/vm/get-kernel.sh stock|patched|patched-debug
#
#   stock          newest linux-image-6.12.*+deb12-amd64-unsigned known to apt,
#                  fetched with `apt-get download` and unpacked with `dpkg -x`
#                  (never installed) into
#                  ${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}/debian-kernel/<debversion>/
#                  A cache hit downloads nothing.
#   patched        <top>/kernel/build.sh          (all built in, no modules)
#   patched-debug  <top>/kernel/build.sh --debug
#
# The LAST stdout line is always
#   KERNEL=<abs path of the kernel image> MODDIR=<abs path of lib/modules/<kver>, or empty>
# Progress goes to stderr.
set -eu -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CACHE=${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}

die() { echo "get-kernel: $*" >&2; exit 1; }
say() { echo "get-kernel: $*" >&2; }

# "<package> <version>" of the newest linux-image-6.12.N+deb12-amd64-unsigned
# known to apt.  An apt-cache call costs about a second here, so the answer
# is remembered until apt's package lists change.
newest_pkg() {
	local memo=$CACHE/debian-kernel/.newest
	if [ -s "$memo" ] && [ -d /var/lib/apt/lists ] &&
	   [ -z "$(find /var/lib/apt/lists -maxdepth 1 -newer "$memo" -print -quit)" ]; then
		cat "$memo"
		return
	fi
	apt-cache show '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' 2>/dev/null |
		awk '/^Package: / { p = $2 } /^Version: / { print p, $2 }' |
		sort -V | tail -n 1 > "$memo.$$"
	if [ -s "$memo.$$" ]; then mv "$memo.$$" "$memo"; cat "$memo"; else rm -f "$memo.$$"; fi
}

# fetch <pkg> <version> <dir>: apt-get download + dpkg -x into <dir>
fetch() {
	local pkg=$1 ver=$2 dir=$3 tmp
	say "fetching $pkg $ver into $dir"
	tmp=$(mktemp -d "$CACHE/debian-kernel/.tmp.XXXXXX")
	chmod 755 "$tmp"
	# APT::Sandbox::User=root: the cache may be where the _apt user cannot write
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
		rm -rf "$tmp"
		say "apt-get download $pkg=$ver failed"
		return 1
	fi
	mkdir -p "$tmp/root"
	dpkg -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; say "dpkg -x failed"; return 1; }
	rm -f "$tmp"/*.deb
	touch "$tmp/root/.complete"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rmdir "$tmp"
}

# newest kernel already unpacked in the cache (for when apt cannot help)
newest_cached() {
	local d
	d=$(ls -d "$CACHE"/debian-kernel/*/.complete 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && echo "${d%/.complete}"
}

stock() {
	local pkg ver dir="" kver
	command -v apt-cache >/dev/null || die "apt-cache not found (Debian host needed)"
	mkdir -p "$CACHE/debian-kernel"
	# one fetcher at a time; a second caller waits and then hits the cache
	exec 9>"$CACHE/debian-kernel/.lock"
	flock 9
	read -r pkg ver <<<"$(newest_pkg)"
	if [ -z "$pkg" ]; then
		say "apt-cache knows no linux-image-6.12.*+deb12-amd64-unsigned; running apt-get update"
		apt-get update -q >/dev/null 2>&1 || say "apt-get update failed"
		read -r pkg ver <<<"$(newest_pkg)"
	fi
	if [ -n "$pkg" ]; then
		dir=$CACHE/debian-kernel/$ver
		if [ ! -e "$dir/.complete" ] && ! fetch "$pkg" "$ver" "$dir"; then
			# stale package lists: the archive may have moved on
			say "running apt-get update and retrying"
			apt-get update -q >/dev/null 2>&1 || say "apt-get update failed"
			read -r pkg ver <<<"$(newest_pkg)"
			dir=$CACHE/debian-kernel/$ver
			[ -n "$pkg" ] && { [ -e "$dir/.complete" ] || fetch "$pkg" "$ver" "$dir"; } || dir=""
		fi
	fi
	if [ -z "$dir" ]; then
		dir=$(newest_cached) ||
			die "cannot fetch linux-image-6.12.*+deb12-amd64-unsigned and none is cached"
		say "apt cannot provide the kernel; using the cached $dir"
	fi
	exec 9>&-
	kver=$(ls "$dir/lib/modules" | head -n 1)
	[ -n "$kver" ] && [ -f "$dir/boot/vmlinuz-$kver" ] || die "$dir is incomplete; remove it and retry"
	echo "KERNEL=$dir/boot/vmlinuz-$kver MODDIR=$dir/lib/modules/$kver"
}

patched() {
	local img
	local build=$TOP/kernel/build.sh
	[ -f "$build" ] ||
		die "$build does not exist (yet): cannot build the patched kernel; use -k stock"
	say "kernel/build.sh $* (its output follows on stderr)"
	# build.sh's last stdout line is the image path; its progress is on
	# stderr already. (Not `tee /dev/stderr`: when stderr is a log file,
	# that reopens it truncated and garbles the log.)
	img=$(bash "$build" "$@" | tail -n 1) || die "kernel/build.sh $* failed"
	[ -n "$img" ] && [ -f "$img" ] || die "kernel/build.sh $* did not print an existing image path (got '$img')"
	case $img in /*) ;; *) img=$(cd "$(dirname "$img")" && pwd)/$(basename "$img") ;; esac
	echo "KERNEL=$img MODDIR="
}

case "${1:-}" in
stock)		stock ;;
patched)	patched ;;
patched-debug)	patched --debug ;;
*)		echo "usage: $0 stock|patched|patched-debug" >&2; exit 2 ;;
esac
