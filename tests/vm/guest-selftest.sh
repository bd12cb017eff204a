#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest-side check of the test bed itself:
#   tests/vm/vmrun.sh -k stock -- tests/vm/guest-selftest.sh
# Prints one "ok"/"FAIL" line per check and "N passed, N failed"; exits 1 on
# any failure.
pass=0 fail=0
check() {
	desc=$1; shift
	if "$@" >/tmp/selftest.out 2>&1; then
		echo "ok   $desc"; pass=$((pass + 1))
	else
		echo "FAIL $desc"; sed 's/^/     /' /tmp/selftest.out; fail=$((fail + 1))
	fi
}
modular() { [ -d /run/ublkfw/kmods ]; }

accel=$(sed -n 's/.*VMACCEL=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "selftest: kernel $(uname -r), $(nproc) cpus, accel ${accel:-?}, cwd $(pwd)"
check "UBLKFW_GUEST=1" test "$UBLKFW_GUEST" = 1
check "cwd is UBLKFW_TOP ($UBLKFW_TOP)" test "$(pwd -P)" = "$UBLKFW_TOP"
check "the checkout is visible (even one under /tmp)" test -f "$UBLKFW_TOP/tests/vm/guest-selftest.sh"
check "HOME=/root" test "$HOME" = /root
check "/dev/ublk-control exists" test -c /dev/ublk-control
check "hugetlbfs mounted on /dev/hugepages" sh -c 'grep -q " /dev/hugepages hugetlbfs " /proc/mounts'
check "nr_hugepages can be set" sh -c 'echo 4 > /proc/sys/vm/nr_hugepages && test "$(cat /proc/sys/vm/nr_hugepages)" -ge 1 && echo 0 > /proc/sys/vm/nr_hugepages'
check "/tmp writable" sh -c 'echo x > /tmp/w && test "$(cat /tmp/w)" = x'
check "UBLKFW_OUT ($UBLKFW_OUT) writable" sh -c 'echo x > "$UBLKFW_OUT/w" && test "$(cat "$UBLKFW_OUT/w")" = x'
check "/ is read-only (unless --overlay)" sh -c '! touch /selftest.ro 2>/dev/null || grep -q "^overlay / " /proc/mounts'
check "host tools visible (fio)" fio --version
check "modprobe ublk_drv (loaded or built in)" modprobe ublk_drv
if modular; then
	check "modprobe null_blk nr_devices=1" sh -c 'modprobe null_blk nr_devices=1 && test -b /dev/nullb0 && modprobe -r null_blk'
	check "modprobe brd rd_nr=1 rd_size=65536" sh -c 'modprobe brd rd_nr=1 rd_size=65536 && test -b /dev/ram0 && modprobe -r brd'
fi
check "loop device over a /tmp file" sh -c 'truncate -s 64M /tmp/loop.img && d=$(losetup -f --show /tmp/loop.img) && test -b "$d" && losetup -d "$d"'
check "mkfs.ext4 + mount on a loop device" sh -c '
	truncate -s 64M /tmp/e.img && d=$(losetup -f --show /tmp/e.img) &&
	mkfs.ext4 -q "$d" && mkdir -p /tmp/m && mount "$d" /tmp/m && echo hi > /tmp/m/f &&
	umount /tmp/m && losetup -d "$d"'
check "mkfs.xfs + mount on a loop device" sh -c '
	truncate -s 320M /tmp/x.img && d=$(losetup -f --show /tmp/x.img) &&
	mkfs.xfs -q -f "$d" && mkdir -p /tmp/m && mount "$d" /tmp/m && echo hi > /tmp/m/f &&
	umount /tmp/m && losetup -d "$d" && rm /tmp/x.img'
check "fio 4k randrw io_uring on a /tmp file" sh -c '
	fio --name=selftest --filename=/tmp/fio.dat --size=32M --rw=randrw --bs=4k \
	    --ioengine=io_uring --iodepth=8 --runtime=2 --time_based \
	    --output-format=terse --terse-version=3 > /tmp/fio.terse &&
	cut -d";" -f3,8,49 /tmp/fio.terse'
cat /tmp/fio.terse 2>/dev/null | awk -F';' '{ printf "selftest: fio read %s IOPS, write %s IOPS\n", $8, $49 }'
echo "selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
