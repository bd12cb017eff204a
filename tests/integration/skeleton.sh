#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 900
#
# The walking skeleton on a real kernel: null devices of several shapes,
# fio against them, reads returning zeroes after writes, list/del, signal
# handling, a SIGKILLed server, and every bad input of `ublk-fw-ctl add`.
. "$(dirname "$0")/lib.sh"

say "kernel $(uname -r); features: $("$CTL" features --json)"
check "features --json parses and names CMD_IOCTL_ENCODE" \
	sh -c "'$CTL' features --json | jq -e '.names | index(\"CMD_IOCTL_ENCODE\") != null'"
check "no device at start" sh -c "[ \"\$('$CTL' list --json | jq length)\" = 0 ]"

# ---- devices of several shapes, fio, list, del --------------------------
for shape in "1 1" "1 64" "2 128" "2 1"; do
	set -- $shape
	q=$1 d=$2
	tag="null q=$q d=$d"
	if ! id=$(add_dev -t null -q "$q" -d "$d" -s 256M); then
		fail "$tag: add"
		continue
	fi
	pass "$tag: add -> /dev/ublkb$id"
	check "$tag: size is 256M" sh -c "[ \$(blockdev --getsize64 /dev/ublkb$id) = 268435456 ]"
	check "$tag: logical block size 512" sh -c "[ \$(blockdev --getss /dev/ublkb$id) = 512 ]"
	check "$tag: list --json matches" sh -c "'$CTL' list -n $id --json | jq -e '.[0] |
		.id == $id and .state == \"LIVE\" and .queues == $q and .depth == $d and
		.size == 268435456 and .target == \"null\" and .pid > 0 and
		(.flag_names | index(\"CMD_IOCTL_ENCODE\") != null)'"
	check "$tag: list text shows it" sh -c "'$CTL' list | grep -E '^$id +LIVE +256M +$q +$d +null '"
	check "$tag: state file records the server" \
		sh -c "jq -e '.target == \"null\" and .pid > 0' /run/ublk-fw/$id.json"
	check "$tag: state file has what a restart needs" jq -e --arg q "$q" --arg d "$d" \
		'.argv == ["-q", $q, "-d", $d, "-s", "256M"] and .args == "-q \($q) -d \($d) -s 256M" and
		 (.executable | startswith("/") and endswith("/ublk-fw-ctl")) and .filters == [] and
		 .recovery == "none" and .shmem == {"htlb": null, "read_only": false, "registered": []}' \
		/run/ublk-fw/$id.json
	fio_ok "$tag: fio randread 4k QD16" --name=rr --filename=/dev/ublkb$id --rw=randread \
		--bs=4k --direct=1 --ioengine=io_uring --iodepth=16 --runtime=3 --time_based
	fio_ok "$tag: fio randwrite 4k QD16" --name=rw --filename=/dev/ublkb$id --rw=randwrite \
		--bs=4k --direct=1 --ioengine=io_uring --iodepth=16 --runtime=3 --time_based
	check "$tag: del" "$CTL" del -n "$id"
	check "$tag: both nodes gone" wait_gone "$id" 5
	check "$tag: list no longer has it" sh -c "! '$CTL' list --json | jq -e '.[] | select(.id == $id)'"
	check "$tag: state file removed" sh -c "[ ! -e /run/ublk-fw/$id.json ]"
done

# ---- large requests and flush/discard/write-zeroes ----------------------
if id=$(add_dev -t null -s 64M); then
	fio_ok "null: fio 512k sequential write+read" --name=seq --filename=/dev/ublkb$id \
		--rw=rw --bs=512k --direct=1 --ioengine=io_uring --iodepth=4 --size=64M
	check "null: blkdiscard succeeds" blkdiscard /dev/ublkb$id
	check "null: blkdiscard -z (write zeroes) succeeds" blkdiscard -z -l 1M /dev/ublkb$id
	fio_ok "null: fio with fsync=1 (flush)" --name=fs --filename=/dev/ublkb$id --rw=write \
		--bs=4k --ioengine=sync --fsync=1 --size=1M
	"$CTL" del -n "$id" > /dev/null
else
	fail "null 64M: add"
fi

# ---- null: reads return zeroes, whatever the tag's buffer held before ----
# One queue of depth 1: every request goes through tag 0 and its one copy
# buffer, so a read after a write sees whatever the write left there unless
# the target clears it.
is_zero() {	# is_zero DEV OFFSET-KIB KIB: O_DIRECT read of KIB KiB is all zeroes
	dd if="$1" of="$OUT/null-read.bin" bs=1K skip="$2" count="$3" iflag=direct 2>&1 &&
		cmp -n $(($3 * 1024)) "$OUT/null-read.bin" /dev/zero
}
if id=$(add_dev -t null -q 1 -d 1 -s 64M); then
	head -c 65536 /dev/zero | tr '\000' '\253' > "$OUT/null-ab.bin"
	check "null q=1 d=1: write 64K of 0xab at 0" \
		dd if="$OUT/null-ab.bin" of=/dev/ublkb$id bs=64K count=1 oflag=direct
	check "null q=1 d=1: a 4K read after it returns zeroes" is_zero /dev/ublkb$id 1024 4
	check "null q=1 d=1: a 64K read after that returns zeroes" is_zero /dev/ublkb$id 2048 64
	check "null q=1 d=1: write 4K of 0xab, then a 512K read returns zeroes" sh -c "
		dd if='$OUT/null-ab.bin' of=/dev/ublkb$id bs=4K count=1 oflag=direct 2>&1 &&
		dd if=/dev/ublkb$id of='$OUT/null-read.bin' bs=512K count=1 iflag=direct 2>&1 &&
		cmp -n 524288 '$OUT/null-read.bin' /dev/zero"
	"$CTL" del -n "$id" > /dev/null
else
	fail "null q=1 d=1: add"
fi
if id=$(add_dev -t null -q 2 -d 16 -s 64M); then
	fio_ok "null q=2 d=16: fio randrw 4k-128k QD16" --name=rw --filename=/dev/ublkb$id \
		--rw=randrw --bsrange=4k-128k --direct=1 --ioengine=io_uring --iodepth=16 \
		--size=16M --io_size=64M
	check "null q=2 d=16: after random writes, 16M read back are zeroes" \
		sh -c "dd if=/dev/ublkb$id bs=1M count=16 iflag=direct 2>/dev/null | cmp -n 16777216 - /dev/zero"
	"$CTL" del -n "$id" > /dev/null
else
	fail "null q=2 d=16: add"
fi

# ---- SIGTERM to a foreground server: stop, drain, delete, exit 0 --------
"$CTL" add -t null -n 3 -s 128M --foreground > "$OUT/fg.out" 2>&1 &
srv=$!
i=0; while [ ! -b /dev/ublkb3 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "SIGTERM: foreground server created /dev/ublkb3" test -b /dev/ublkb3
fio --name=bg --filename=/dev/ublkb3 --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
	--iodepth=16 --runtime=30 --time_based > /dev/null 2>&1 &
fio=$!
sleep 1
kill -TERM "$srv"
wait "$srv"
rc=$?
check "SIGTERM: server exit status is 0 (was $rc)" test "$rc" = 0
check "SIGTERM: device deleted" wait_gone 3 5
check "SIGTERM: state file removed" test ! -e /run/ublk-fw/3.json
kill "$fio" 2>/dev/null; wait "$fio" 2>/dev/null

# ---- SIGTERM to a daemonized server ------------------------------------
if id=$(add_dev -t null -s 128M); then
	pid=$(dev_json "$id" | jq .pid)
	kill -TERM "$pid"
	check "SIGTERM (daemon): device deleted" wait_gone "$id" 10
	check "SIGTERM (daemon): server process gone" \
		sh -c "i=0; while kill -0 $pid 2>/dev/null && ! grep -q '^State:.*Z' /proc/$pid/status; do i=\$((i+1)); [ \$i -gt 50 ] && exit 1; sleep 0.1; done"
else
	fail "SIGTERM (daemon): add"
fi

# ---- SIGKILL: the device stays until del; then the id is reusable ------
if id=$(add_dev -t null -n 5 -s 128M); then
	pid=$(dev_json "$id" | jq .pid)
	fio --name=k --filename=/dev/ublkb$id --rw=randread --bs=4k --direct=1 \
		--ioengine=io_uring --iodepth=16 --runtime=20 --time_based > /dev/null 2>&1 &
	fio=$!
	sleep 1
	kill -KILL "$pid"
	wait "$fio" 2>/dev/null
	check "SIGKILL: char device /dev/ublkc5 is left behind" test -e /dev/ublkc5
	check "SIGKILL: del removes the orphan" "$CTL" del -n 5
	check "SIGKILL: both nodes gone" wait_gone 5 5
	check "SIGKILL: state file removed" test ! -e /run/ublk-fw/5.json
	if id2=$(add_dev -t null -n 5 -s 128M); then
		pass "SIGKILL: the same id can be added again"
		"$CTL" del -n "$id2" > /dev/null
	else
		fail "SIGKILL: re-add with -n 5"
	fi
else
	fail "SIGKILL: add"
fi

# ---- bad input: one line, non-zero exit, nothing left behind ------------
before=$(nr_devices)
expect_error "unknown target" "unknown target 'nosuch'" "$CTL" add -t nosuch
expect_error "no target" "no target given" "$CTL" add -s 1G
expect_error "size 0" "invalid size '0'" "$CTL" add -t null -s 0
expect_error "size garbage" "invalid size '12X'" "$CTL" add -t null -s 12X
expect_error "size not a multiple of the block size" "not a multiple of the 512-byte" \
	"$CTL" add -t null -s 1000
expect_error "queues 0" "invalid queue count '0'" "$CTL" add -t null -q 0
expect_error "queues > 4096" "invalid queue count '4097'" "$CTL" add -t null -q 4097
expect_error "depth 0" "invalid queue depth '0'" "$CTL" add -t null -d 0
expect_error "depth > 4096" "invalid queue depth '5000'" "$CTL" add -t null -d 5000
expect_error "max-io not a power of two" "invalid --max-io '3000'" "$CTL" add -t null --max-io 3000
expect_error "unknown option" "unknown option '--bogus'" "$CTL" add -t null --bogus
expect_error "missing option value" "needs a value" "$CTL" add -t null -q
expect_error "not root" "must be run as root" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$CTL" add -t null
expect_error "no /dev/ublk-control" "modprobe ublk_drv" \
	unshare -m sh -c "mount -t tmpfs none /dev && exec '$CTL' add -t null"
if id=$(add_dev -t null -n 7 -s 64M); then
	expect_error "device id taken" "device id 7 is already in use" "$CTL" add -t null -n 7
	expect_error "del of a missing id" "no ublk device with id 99" "$CTL" del -n 99
	"$CTL" del -n 7 > /dev/null
else
	fail "device id taken: first add"
fi
check "bad input left no device behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ]"
check "bad input left no state file behind" sh -c "[ -z \"\$(ls /run/ublk-fw/*.json 2>/dev/null)\" ]"

# ---- del --all ----------------------------------------------------------
add_dev -t null -s 16M > /dev/null && add_dev -t null -q 2 -s 16M > /dev/null
check "del --all removes every device" sh -c "'$CTL' del --all > /dev/null && [ \$('$CTL' list --json | jq length) = 0 ]"

t_summary
