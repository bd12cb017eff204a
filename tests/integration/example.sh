#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 600
#
# The out-of-tree example target (examples/ramdisk.c), compiled against the
# installed library through pkg-config by `make examples`, run as a user would.
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
	check "example: ublk-fw-ctl del stops it" "$CTL" del -n "$id"
	check "example: device gone" wait_gone "$id" 5
else
	fail "example: start" "$out"
fi
t_summary
