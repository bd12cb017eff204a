#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the test guest's initramfs: busybox-static + tests/vm/init + (for a
# modular kernel such as Debian's) the modules the guest needs, decompressed
# from the kernel's .ko.xz files, with their dependencies, depmod'ed.
#
# usage: tests/vm/mkinitramfs.sh [MODDIR]
#
#   MODDIR  lib/modules/<kver> of the guest kernel (get-kernel.sh prints it);
#           empty or absent for a kernel with everything built in.
#
# The result is cached by content hash (kernel version, init, module list,
# this script, busybox) in ${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}/initramfs/;
# a cache hit is instant.  The last stdout line is the initramfs path.
set -eu -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}
MODDIR=${1:-}
BUSYBOX=/bin/busybox

# Modules wanted in the guest (names as in the kernel; dependencies are added
# automatically).  On Debian's 6.12 kernel all of these are modules (checked
# against modules.builtin); hugetlbfs, virtio-pci and the crc32c library code
# are built in.  init loads ublk_drv and loop; the kernel loads the file
# systems and crc32c on demand at mount time; null_blk and brd are only made
# loadable (`modprobe null_blk ...` in the guest), as loading creates devices;
# so are nbd, the kernel's NBD client (the nbd pair of `make bench`), and rbd
# (with libceph: the kernel RBD client of the rbd pair).
MODULES="netfs 9pnet 9pnet_virtio 9p overlay ublk_drv loop null_blk brd nbd rbd
	ext4 xfs crc32c_generic crc32c_intel"

die() { echo "mkinitramfs: $*" >&2; exit 1; }

[ -x "$BUSYBOX" ] || die "$BUSYBOX missing: apt-get install busybox-static"
# the initramfs has no libc: busybox must be the static one
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked: apt-get install busybox-static"

kver=""
if [ -n "$MODDIR" ]; then
	[ -d "$MODDIR/kernel" ] || die "$MODDIR is not a lib/modules/<kver> tree"
	MODDIR=$(cd "$MODDIR" && pwd)
	kver=$(basename "$MODDIR")
fi

key=$( {
	echo "kver=$kver moddir=$MODDIR"
	echo "modules=$MODULES"
	sha256sum "$HERE/init" "$HERE/mkinitramfs.sh" "$BUSYBOX"
} | sha256sum | cut -c1-16)
out=$CACHE/initramfs/initramfs-${kver:-builtin}-$key.cpio.gz
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$CACHE/initramfs"
work=$(mktemp -d "$CACHE/initramfs/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,newroot,lib/modules,etc}
cp "$BUSYBOX" "$root/bin/busybox"
install -m 755 "$HERE/init" "$root/init"

if [ -n "$MODDIR" ]; then
	# index: module name (dashes as underscores) -> path of its .ko[.xz]
	(cd "$MODDIR" && find kernel -name '*.ko*') |
		awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n); print n, $0 }' \
		> "$work/index"
	builtin() { grep -q "/$1\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null ||
		grep -q "/$(echo "$1" | tr _ -)\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; }
	declare -A done_mods=()
	add_module() {
		local name=${1//-/_} path dep
		[ -z "${done_mods[$name]:-}" ] || return 0
		done_mods[$name]=1
		path=$(awk -v n="$name" '$1 == n { print $2; exit }' "$work/index")
		if [ -z "$path" ]; then
			builtin "$name" && return 0
			die "module $name is neither in $MODDIR nor built in"
		fi
		for dep in $(modinfo -F depends "$MODDIR/$path" | tr , ' '); do
			add_module "$dep"
		done
		mkdir -p "$root/lib/modules/$kver/$(dirname "$path")"
		case $path in
		*.xz)	xz -dc "$MODDIR/$path" > "$root/lib/modules/$kver/${path%.xz}" ;;
		*.zst)	zstd -qdc "$MODDIR/$path" > "$root/lib/modules/$kver/${path%.zst}" ;;
		*.gz)	gzip -dc "$MODDIR/$path" > "$root/lib/modules/$kver/${path%.gz}" ;;
		*)	cp "$MODDIR/$path" "$root/lib/modules/$kver/$path" ;;
		esac
	}
	for m in $MODULES; do add_module "$m"; done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$MODDIR/$f" ] && cp "$MODDIR/$f" "$root/lib/modules/$kver/"
	done
	depmod -b "$root" "$kver" || die "depmod failed"
	echo "mkinitramfs: modules: $(cd "$root/lib/modules/$kver" && find kernel -name '*.ko' | sed 's,.*/,,; s,\.ko$,,' | sort | tr '\n' ' ')" >&2
fi

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
mv "$work/initramfs.cpio.gz" "$out"
# keep the newest few per kernel (a running guest has read its copy already)
ls -t "$CACHE/initramfs/initramfs-${kver:-builtin}-"*.cpio.gz | tail -n +5 | xargs -r rm -f
echo "$out"
