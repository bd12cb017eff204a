#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages ublk-fw needs to build, test and run its test
# guest.  Idempotent: installs only what is missing.  Used by `make check`,
# `make demo` and `make bench`; safe to run by hand.
#
# usage: scripts/install-deps.sh [build|test|kernel|all]   (default: all)
set -eu

BUILD_PKGS="gcc make pkg-config liburing-dev libev-dev libcriterion-dev libjson-c-dev libnbd-dev librbd-dev"
TEST_PKGS="clang libclang-rt-14-dev udev fio jq strace python3 e2fsprogs xfsprogs util-linux qemu-system-x86 busybox-static cpio kmod xz-utils gzip procps gnuplot-nox file groff-base nbdkit qemu-utils nbd-client ceph-mon ceph-osd ceph-common python3-rados"
KERNEL_PKGS="flex bison bc libelf-dev libssl-dev dwarves perl rsync gcc make libc6-dev patch xz-utils"

case "${1:-all}" in
build)	want="$BUILD_PKGS" ;;
test)	want="$BUILD_PKGS $TEST_PKGS" ;;
kernel)	want="$KERNEL_PKGS" ;;
all)	want="$BUILD_PKGS $TEST_PKGS $KERNEL_PKGS" ;;
*)	echo "usage: $0 [build|test|kernel|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing; run as root: apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list makes apt-get install fail: refresh it once.
apt-get update -q >/dev/null || { echo "install-deps: apt-get update failed" >&2; exit 1; }
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
	{ echo "install-deps: apt-get install$missing failed" >&2; exit 1; }
