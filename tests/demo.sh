#!/bin/sh
# SPDX-License-Identifier: MIT
#
# demo.sh - `make demo`: a real /dev/ublkbN served by the null target, a short
# fio run against it, its IOPS printed.  Natively when this machine has ublk
# (root + /dev/ublk-control), else inside the qemu test guest.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
if [ "$(id -u)" = 0 ] && [ -e /dev/ublk-control ]; then
	echo "demo: this machine has ublk: running natively"
	exec sh tests/demo-guest.sh
fi
echo "demo: no ublk on this machine: running in the qemu test guest (Debian's 6.12 kernel)"
exec tests/vm/vmrun.sh -k stock -n demo -t 300 -- tests/demo-guest.sh
