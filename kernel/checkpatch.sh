#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kernel's scripts/checkpatch.pl --strict on every patch of
# kernel/patches/, with checkpatch taken from the linux-source-6.12 tarball
# that build.sh downloads (run build.sh first). Exits non-zero if a patch
# has errors; warnings and checks are explained in kernel/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}
TARBALL=$(find "$CACHE/src" -mindepth 2 -maxdepth 2 -name linux-source-6.12.tar.xz 2>/dev/null |
	sort -V | tail -n1)
[ -n "$TARBALL" ] || { echo "checkpatch.sh: no linux-source-6.12 in $CACHE/src, run build.sh first" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$TARBALL" -C "$tmp" --strip-components=1 \
	linux-source-6.12/scripts/checkpatch.pl \
	linux-source-6.12/scripts/spelling.txt \
	linux-source-6.12/scripts/const_structs.checkpatch

rc=0
for p in "$HERE"/patches/*.patch; do
	echo "== ${p##*/}"
	perl "$tmp/scripts/checkpatch.pl" --strict --no-tree --showfile "$p" || rc=1
done
exit $rc
