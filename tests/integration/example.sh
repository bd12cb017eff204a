#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 600
#
# The out-of-tree example target (examples/ramdisk.c), compiled against the
# installed library through pkg-config by `make examples`, run as a user would;
# with it, what docs/writing-a-target.md says of DISCARD, WRITE_ZEROES and
# read-only devices.
. "$(dirname "$0")/lib.sh"

EX="$TOP/build/examples/ublk-ramdisk"
check "the example was built against the staged install" sh -c \
	"ldd '$EX' | grep -q 'libublkfw.so.0 => $TOP/build/stage/'"
expect_error "example: bad --fill" "invalid --fill '300'" "$EX" -s 64M --fill 300
expect_error "example: no size" "give the size with -s SIZE" "$EX"

out=$("$EX" -s 64M --fill 0xab 2>&1)
id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p')
if [ -n "$id" ] && [ -b "/dev/ublkb$id" ]; then
	pass "example: daemonized and printed /dev/ublkb$id"
	check "example: unwritten blocks read as the fill byte" sh -c \
		"[ \$(dd if=/dev/ublkb$id bs=4k count=1 skip=100 iflag=direct 2>/dev/null | wc -c) = 4096 ] &&
		 [ \$(dd if=/dev/ublkb$id bs=4k count=1 skip=100 iflag=direct 2>/dev/null | tr -d '\253' | wc -c) = 0 ]"
	check "example: list shows the ramdisk target" sh -c \
		"'$CTL' list -n $id --json | jq -e '.[0] | .target == \"ramdisk\" and .state == \"LIVE\"'"
	fio_ok "example: fio crc32c verify" --name=v --filename=/dev/ublkb$id --rw=randwrite \
		--bs=8k --iodepth=32 --ioengine=io_uring --direct=1 --size=32M --verify=crc32c \
		--verify_fatal=1 --do_verify=1
	# DISCARD and WRITE_ZEROES reach it (ublkfw_dev_set_discard/_set_write_zeroes)
	check "example: blkdiscard of the first MiB, which then reads as the fill byte" sh -c \
		"blkdiscard -o 0 -l 1M /dev/ublkb$id &&
		 [ \$(dd if=/dev/ublkb$id bs=1M count=1 iflag=direct 2>/dev/null | tr -d '\253' | wc -c) = 0 ]"
	check "example: blkdiscard -z of the second MiB, which then reads as zeroes" sh -c \
		"blkdiscard -z -o 1M -l 1M /dev/ublkb$id &&
		 dd if=/dev/ublkb$id bs=1M skip=1 count=1 iflag=direct 2>/dev/null | cmp -n 1048576 - /dev/zero"
	check "example: ublk-fw-ctl del stops it" "$CTL" del -n "$id"
	check "example: device gone" wait_gone "$id" 5
else
	fail "example: start" "$out"
fi

# UBLKFW_ATTR_READ_ONLY: the kernel refuses writes from user space (EPERM)
out=$("$EX" -s 64M --fill 0xab --read-only 2>&1)
id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p')
if [ -n "$id" ] && [ -b "/dev/ublkb$id" ]; then
	pass "example --read-only: started /dev/ublkb$id"
	check "example --read-only: the kernel shows it read-only" \
		sh -c "[ \$(blockdev --getro /dev/ublkb$id) = 1 ]"
	check "example --read-only: an O_DIRECT write fails with EPERM" sh -c \
		"! out=\$(dd if=/dev/zero of=/dev/ublkb$id bs=4k count=1 oflag=direct 2>&1) &&
		 printf '%s\n' \"\$out\" | grep 'Operation not permitted'"
	check "example --read-only: a buffered write fails with EPERM" sh -c \
		"! out=\$(dd if=/dev/zero of=/dev/ublkb$id bs=4k count=1 conv=fsync 2>&1) &&
		 printf '%s\n' \"\$out\" | grep 'Operation not permitted'"
	check "example --read-only: blkdiscard fails" sh -c "! blkdiscard /dev/ublkb$id"
	check "example --read-only: the data is untouched (reads as the fill byte)" sh -c \
		"[ \$(dd if=/dev/ublkb$id bs=1M count=1 iflag=direct 2>/dev/null | tr -d '\253' | wc -c) = 0 ]"
	check "example --read-only: del stops it" "$CTL" del -n "$id"
else
	fail "example --read-only: start" "$out"
fi
# recover works for an out-of-tree ublkfw_main() program: the state file
# records its executable and command line.  The example keeps its data in
# anonymous memory (no ublkfw_dev_run_file()), so a recovered ramdisk comes
# back empty: filled with the --fill byte of the recorded command line.
out=$("$EX" -s 64M --fill 0xab --recovery reissue 2>&1)
id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p')
if [ -n "$id" ] && [ -b "/dev/ublkb$id" ]; then
	check "example --recovery: the state file's restart command is the example's" jq -e \
		--arg ex "$(realpath "$EX")" '.restart == [$ex, "-s", "64M", "--fill", "0xab", "--recovery", "reissue"]' \
		/run/ublk-fw/$id.json
	dd if=/dev/zero of=/dev/ublkb$id bs=1M count=1 oflag=direct 2>/dev/null
	check "example --recovery: kill -9 its server" kill9 $id
	recover_ok "example --recovery" $id
	check "example --recovery: the new server is the example program" sh -c \
		"[ \"\$(readlink /proc/\$('$CTL' list -n $id --json | jq .[0].pid)/exe)\" = '$(realpath "$EX")' ]"
	check "example --recovery: its memory was the old process's: the first MiB reads as the fill byte again" sh -c \
		"[ \$(dd if=/dev/ublkb$id bs=1M count=1 iflag=direct 2>/dev/null | tr -d '\253' | wc -c) = 0 ]"
	fio_ok "example --recovery: fio crc32c verify on the new server" --name=v --filename=/dev/ublkb$id \
		--rw=randwrite --bs=8k --iodepth=32 --ioengine=io_uring --direct=1 --size=16M \
		--verify=crc32c --verify_fatal=1 --do_verify=1
	check "example --recovery: del stops it" "$CTL" del -n "$id"
	check "example --recovery: nothing left in /run/ublk-fw" sh -c "! ls /run/ublk-fw/$id.* 2>/dev/null"
else
	fail "example --recovery: start" "$out"
fi
t_summary
