#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build, or reuse from the cache, the ublk-fw test kernel: Debian's
# linux-source-6.12 with the UBLK_F_SHMEM_ZC series of kernel/patches/,
# configured as tinyconfig + kernel/config/ublk-guest.config
# [+ kernel/config/debug.config].
#
# usage: kernel/build.sh [--debug]
#
# The last line on stdout is the absolute path of the bzImage; everything
# else goes to stderr. Exits non-zero on failure.
#
# Environment:
#   UBLKFW_CACHE           cache root (default: $HOME/.cache/ublk-fw)
#   UBLKFW_KERNEL_VERSION  linux-source-6.12 package version to build
#                          (default: apt's candidate, see `apt-cache policy`)
#   UBLKFW_KEEP_BUILD=1    keep the build tree after a successful build
#
# Layout under $UBLKFW_CACHE:
#   src/<version>/linux-source-6.12.tar.xz   from `apt-get download`
#   kernel/<hash>/{bzImage,config,System.map,build.log,info}
#   kernel/<hash>.build/   build tree, removed after success
#   kernel/<hash>.log      log of the last build attempt
# <hash> is the sha256 of the package version, the patches, the config
# fragments, the debug switch, the compiler version and this script.
set -euo pipefail

PKG=linux-source-6.12
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}
DEBUG=0

log() { echo "kernel/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { echo "usage: $0 [--debug]" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--debug) DEBUG=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage; exit 2 ;;
	esac
	shift
done

# Nothing from the caller's environment may leak into the kernel build: a
# parent make's MAKEFLAGS can carry variable overrides (CC=..., V=...).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS KBUILD_OUTPUT \
	KBUILD_EXTMOD O ARCH CROSS_COMPILE LLVM CC KCFLAGS KCPPFLAGS KAFLAGS \
	KBUILD_CFLAGS KBUILD_AFLAGS
export KBUILD_BUILD_USER=ublk-fw KBUILD_BUILD_HOST=ublk-fw

mkdir -p "$CACHE/src" "$CACHE/kernel"
CACHE=$(cd "$CACHE" && pwd)

# --- which source package version -------------------------------------------
candidate() {
	apt-cache policy "$PKG" 2>/dev/null | awk '/Candidate:/ { print $2 }'
}

VER=${UBLKFW_KERNEL_VERSION:-}
if [ -z "$VER" ]; then
	VER=$(candidate)
	if { [ -z "$VER" ] || [ "$VER" = "(none)" ]; } && [ "$(id -u)" = 0 ]; then
		log "no candidate for $PKG, running apt-get update"
		apt-get update -q >/dev/null 2>&1 || true
		VER=$(candidate)
	fi
	if [ -z "$VER" ] || [ "$VER" = "(none)" ]; then
		# offline: use the newest version already in the cache
		VER=$(find "$CACHE/src" -mindepth 2 -maxdepth 2 \
			-name "$PKG.tar.xz" -printf '%h\n' 2>/dev/null |
			xargs -r -n1 basename | sort -V | tail -n1)
		[ -n "$VER" ] || die "apt knows no $PKG and none is cached"
		log "apt knows no $PKG, using cached $VER"
	fi
fi

# --- cache key ----------------------------------------------------------------
PATCHES=("$HERE"/patches/*.patch)
[ -e "${PATCHES[0]}" ] || die "no patches in $HERE/patches"
FRAGS=("$HERE/config/ublk-guest.config")
[ "$DEBUG" = 1 ] && FRAGS+=("$HERE/config/debug.config")
for f in "${FRAGS[@]}"; do [ -f "$f" ] || die "missing $f"; done

CC_VERSION=$(gcc --version 2>/dev/null | head -n1 || true)
HASH=$( {
	echo "package $PKG $VER"
	echo "debug $DEBUG"
	echo "cc $CC_VERSION"
	for f in "${PATCHES[@]}" "${FRAGS[@]}" "$HERE/build.sh"; do
		echo "file ${f#"$HERE"/} $(sha256sum <"$f" | cut -d' ' -f1)"
	done
} | sha256sum | cut -d' ' -f1)

OUT=$CACHE/kernel/$HASH
if [ -f "$OUT/bzImage" ]; then
	log "cached: $PKG $VER$([ "$DEBUG" = 1 ] && echo ' (debug)')"
	echo "$OUT/bzImage"
	exit 0
fi

# One build per hash at a time; a second caller waits and then reuses it.
exec 9>"$CACHE/kernel/$HASH.lock"
if ! flock -n 9; then
	log "another build of $HASH is running, waiting for it"
	flock 9
fi
if [ -f "$OUT/bzImage" ]; then
	echo "$OUT/bzImage"
	exit 0
fi

"$ROOT/scripts/install-deps.sh" kernel >&2 ||
	die "missing packages (scripts/install-deps.sh kernel)"

# --- source -------------------------------------------------------------------
SRC=$CACHE/src/$VER
TARBALL=$SRC/$PKG.tar.xz
if [ ! -f "$TARBALL" ]; then
	exec 8>"$CACHE/src/.lock"
	flock 8
	if [ ! -f "$TARBALL" ]; then
		log "downloading $PKG=$VER"
		tmp=$(mktemp -d "$CACHE/src/.dl.XXXXXX")
		(cd "$tmp" && apt-get download -q "$PKG=$VER") >&2 2>"$tmp/apt.err" || {
			cat "$tmp/apt.err" >&2
			rm -rf "$tmp"
			die "apt-get download $PKG=$VER failed"
		}
		dpkg -x "$tmp"/*.deb "$tmp/x"
		[ -f "$tmp/x/usr/src/$PKG.tar.xz" ] ||
			{ rm -rf "$tmp"; die "no /usr/src/$PKG.tar.xz in the package"; }
		mkdir -p "$SRC"
		mv "$tmp/x/usr/src/$PKG.tar.xz" "$TARBALL.tmp"
		mv "$TARBALL.tmp" "$TARBALL"
		rm -rf "$tmp"
	fi
	flock -u 8
fi

# --- unpack, patch, configure ---------------------------------------------------
BUILD=$CACHE/kernel/$HASH.build
LOG=$CACHE/kernel/$HASH.log
rm -rf "$BUILD"
mkdir -p "$BUILD"
: >"$LOG"
log "building $PKG $VER$([ "$DEBUG" = 1 ] && echo ' (debug)') in $BUILD"
log "log: $LOG"

fail() {
	log "error: $*"
	tail -n 40 "$LOG" >&2
	log "full log: $LOG"
	exit 1
}

t0=$(date +%s)
tar -xJf "$TARBALL" -C "$BUILD" --strip-components=1 >>"$LOG" 2>&1 ||
	fail "unpacking $TARBALL"

cd "$BUILD"
for p in "${PATCHES[@]}"; do
	echo "applying ${p##*/}" >>"$LOG"
	patch -p1 --batch --forward --no-backup-if-mismatch <"$p" >>"$LOG" 2>&1 ||
		fail "patch ${p##*/} does not apply to $PKG $VER"
done

{
	make tinyconfig &&
	scripts/kconfig/merge_config.sh -m .config "${FRAGS[@]}" &&
	make olddefconfig
} >>"$LOG" 2>&1 || fail "configuration failed"

# Every option the fragments set must have survived olddefconfig.
bad=""
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n)
		opt=${line%%=*}
		grep -Eq "^$opt=[ym]$" .config && bad="$bad $opt(wanted n)" ;;
	CONFIG_*=*)
		grep -Fxq "$line" .config || bad="$bad $line" ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		grep -Eq "^$opt=[ym]$" .config && bad="$bad $opt(wanted unset)" ;;
	esac
done < <(cat "${FRAGS[@]}")

# And the ones the test bed depends on, whatever the fragments say.
REQUIRED="BLK_DEV_UBLK IO_URING HUGETLBFS HUGETLB_PAGE MEMFD_CREATE SHMEM TMPFS
	TRANSPARENT_HUGEPAGE EXT4_FS XFS_FS 9P_FS NET_9P NET_9P_VIRTIO VIRTIO_PCI
	BLK_DEV_LOOP BLK_DEV_NULL_BLK BLK_DEV_RAM OVERLAY_FS ACPI NET UNIX EVENTFD
	EPOLL SIGNALFD TIMERFD FUTEX PROC_FS SYSFS DEVTMPFS FHANDLE KALLSYMS
	SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP BINFMT_SCRIPT"
[ "$DEBUG" = 1 ] && REQUIRED="$REQUIRED KASAN PROVE_LOCKING DEBUG_VM
	DEBUG_ATOMIC_SLEEP"
for opt in $REQUIRED; do
	grep -Fxq "CONFIG_$opt=y" .config || bad="$bad CONFIG_$opt=y"
done
grep -Eq '^CONFIG_MODULES=y' .config && bad="$bad CONFIG_MODULES(wanted unset)"
[ -z "$bad" ] || fail "the final .config lacks:$bad"

# --- build --------------------------------------------------------------------------
JOBS=$(nproc)
log "make -j$JOBS bzImage (about 10 minutes on 2 cores)"
make -j"$JOBS" bzImage >>"$LOG" 2>&1 || fail "make bzImage failed"
[ -f arch/x86/boot/bzImage ] || fail "no arch/x86/boot/bzImage"
t1=$(date +%s)

# --- install into the cache ---------------------------------------------------------
mkdir -p "$OUT"
cp .config "$OUT/config"
cp System.map "$OUT/System.map"
cp "$LOG" "$OUT/build.log"
{
	echo "package: $PKG $VER"
	echo "kernelrelease: $(make -s kernelrelease 2>/dev/null)"
	echo "debug: $DEBUG"
	echo "cc: $CC_VERSION"
	echo "patches:"
	for p in "${PATCHES[@]}"; do echo "  ${p##*/}"; done
	echo "build seconds: $((t1 - t0))"
	echo "built: $(date -u +%FT%TZ)"
} >"$OUT/info"
cp arch/x86/boot/bzImage "$OUT/bzImage.tmp"
mv -f "$OUT/bzImage.tmp" "$OUT/bzImage"

cd /
[ "${UBLKFW_KEEP_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
log "built in $((t1 - t0)) s"
echo "$OUT/bzImage"
