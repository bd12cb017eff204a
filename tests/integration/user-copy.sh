#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 900
#
# User-copy mode (--user-copy, UBLK_F_USER_COPY) on a real kernel: the flag
# reaches the device; null serves I/O and its reads are zeroes even after
# writes; fio crc32c verify on memory (1 and 2 queues, 4k..512k requests),
# loop, stripe and a filter stack (stats, delay, error: its error range
# fails); ext4 survives mkfs, files, e2fsck and remount; a kill -9 and
# recover with the data intact; the server's buffer
# memory follows the requests in flight, not the tags (copy mode alongside);
# and the refusals.  Each fio run is a few seconds on a TCG guest.  The nbd
# and rbd targets are verified in user-copy mode in their own groups, which
# start their servers.
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-uc	# tmpfs in the guest
rm -rf "$W"; mkdir -p "$W"

check "the kernel offers USER_COPY (GET_FEATURES)" sh -c \
	"'$CTL' features --json | jq -e '.names | index(\"USER_COPY\") != null'"

# ---- null: I/O, and reads are zeroes --------------------------------------
with_dev "null" -t null -s 1G --user-copy && {
	is_user_copy "null" $id
	fio_ok "null: fio randrw 4k QD32, 2 s" --name=n --filename=/dev/ublkb$id --rw=randrw \
		--bs=4k --iodepth=32 --ioengine=io_uring --direct=1 --runtime=2 --time_based
	fio_ok "null: fio 1M sequential read QD8, 2 s" --name=s --filename=/dev/ublkb$id --rw=read \
		--bs=1M --iodepth=8 --ioengine=io_uring --direct=1 --runtime=2 --time_based
	head -c 1M /dev/urandom > $W/rand
	dd if=$W/rand of=/dev/ublkb$id bs=64k oflag=direct 2>/dev/null
	check "null: reads after writes return zeroes (no writer's data in a reader's buffer)" sh -c \
		"dd if=/dev/ublkb$id bs=64k count=16 iflag=direct 2>/dev/null | cmp -s - /dev/zero -n 1048576"
	check "null: flush, discard and write-zeroes succeed" sh -c \
		"blkdiscard -o 0 -l 1M /dev/ublkb$id && blkdiscard -z -o 0 -l 1M /dev/ublkb$id &&
		 dd if=/dev/zero of=/dev/ublkb$id bs=4k count=1 oflag=direct conv=fsync 2>/dev/null"
	"$CTL" del -n $id >/dev/null
}

# ---- the data-bearing targets --------------------------------------------
with_dev "memory" -t memory -s 64M --user-copy && {
	is_user_copy "memory" $id
	fio_verify "memory" /dev/ublkb$id
	fio_ok "memory: fio crc32c verify, randrw 4k..512k QD8" --name=b --filename=/dev/ublkb$id \
		--rw=randrw --bsrange=4k-512k --iodepth=8 --ioengine=io_uring --direct=1 --size=48M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0
	"$CTL" del -n $id >/dev/null
}
with_dev "memory, 2 queues" -t memory -q 2 -s 64M --user-copy && {
	check "memory, 2 queues: the device has 2 hardware queues" \
		sh -c "[ \$(ls /sys/block/ublkb$id/mq | wc -l) = 2 ]"
	# one job per CPU, so per queue, each on its own half
	fio_ok "memory, 2 queues: fio crc32c verify, a job on each CPU" --filename=/dev/ublkb$id \
		--rw=randwrite --bs=16k --iodepth=16 --size=32M --ioengine=io_uring --direct=1 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--name=a --offset=0 --cpus_allowed=0 --name=b --offset=32M --cpus_allowed=1
	"$CTL" del -n $id >/dev/null
}
mkfile $W/a.img 64M
with_dev "loop" -t loop --user-copy $W/a.img && {
	is_user_copy "loop" $id
	fio_verify "loop" /dev/ublkb$id
	fio_ok "loop: fio fsync=1 (FLUSH without data)" --name=f --filename=/dev/ublkb$id \
		--rw=randwrite --bs=4k --ioengine=psync --fsync=1 --size=2M --direct=1
	"$CTL" del -n $id >/dev/null
}
mkfile $W/s0.img 32M; mkfile $W/s1.img 32M
with_dev "stripe" -t stripe --chunk-size 16K --user-copy $W/s0.img $W/s1.img && {
	is_user_copy "stripe" $id
	fio_verify "stripe" /dev/ublkb$id 32M 64k
	"$CTL" del -n $id >/dev/null
}

# ---- a filter stack: verify through it, its error range fails ------------
# sectors 65536-69631 (32 MiB .. 34 MiB) always fail
with_dev "memory + stats/delay/error" -t memory -s 64M --user-copy --filter stats \
	--filter delay --delay-us 200 --filter error --error-op any --error-sectors 65536-69631 \
	--error-rate 1 && {
	fio_verify "memory + stats/delay/error" /dev/ublkb$id 16M
	check "filter stack: a read in the error range fails" sh -c \
		"! dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 skip=$((33 << 8)) iflag=direct 2>/dev/null"
	check "filter stack: a write in the error range fails" sh -c \
		"! dd if=/dev/zero of=/dev/ublkb$id bs=4k count=1 seek=$((33 << 8)) oflag=direct 2>/dev/null"
	check "filter stack: stats counted the reads' bytes" sh -c \
		"[ \$('$CTL' stats -n $id --json | jq '.[0].stats.ops.read.bytes') -ge $((16 << 20)) ]"
	"$CTL" del -n $id >/dev/null
}

# ---- ext4 ----------------------------------------------------------------
mkfile $W/fs.img 96M
with_dev "ext4 on loop" -t loop --user-copy $W/fs.img && {
	mkdir -p $W/mnt
	if mkfs.ext4 -q -F /dev/ublkb$id && mount /dev/ublkb$id $W/mnt; then
		i=0
		while [ $i -lt 20 ]; do
			head -c $((4096 * (i % 5 + 1) + i * 17)) /dev/urandom > $W/mnt/f$i
			i=$((i + 1))
		done
		head -c 16M /dev/urandom > $W/mnt/big
		(cd $W/mnt && sha256sum f* big) > $W/sums
		umount $W/mnt
		check "ext4: e2fsck clean" e2fsck -fn /dev/ublkb$id
		if mount /dev/ublkb$id $W/mnt; then
			check "ext4: checksums match after remount" sh -c "cd $W/mnt && sha256sum --quiet -c $W/sums"
			umount $W/mnt
		else
			fail "ext4: remount"
		fi
	else
		fail "ext4: mkfs and mount"
	fi
	"$CTL" del -n $id >/dev/null
}

# ---- recovery: the new server takes the device over in user-copy mode ----
with_dev "memory --recovery reissue" -t memory -s 32M --user-copy --recovery reissue && {
	head -c 8M /dev/urandom > $W/pat
	dd if=$W/pat of=/dev/ublkb$id bs=1M oflag=direct 2>/dev/null
	if kill9 $id; then
		recover_ok "memory --user-copy" $id
		is_user_copy "recovered" $id
		check "recovered: the data written before the kill reads back" sh -c \
			"dd if=/dev/ublkb$id bs=1M count=8 iflag=direct 2>/dev/null | cmp -s - $W/pat"
		fio_verify "recovered" /dev/ublkb$id 16M
	else
		fail "memory --user-copy: kill -9 of the server"
	fi
	"$CTL" del -n $id >/dev/null
}

# ---- buffers follow the requests in flight, not the tags ----------------
# 512k writes at QD4 over depth 128: the kernel cycles through the tags, so
# in copy mode each tag's own buffer fills in turn (up to 128 x 512k); in
# user-copy mode a handful of the pool's buffers serve every request.
rss_growth() {	# rss_growth ADD-ARGS...: KiB the server's RSS grew by over the writes
	_id=$(add_dev -t null -s 1G "$@") || { echo fail; return; }
	_pid=$(server_pid $_id)
	_a=$(awk '/^VmRSS/ { print $2 }' /proc/$_pid/status)
	fio --name=w --filename=/dev/ublkb$_id --rw=randwrite --bs=512k --iodepth=4 \
		--ioengine=io_uring --direct=1 --number_ios=600 --size=1G > /dev/null 2>&1
	_b=$(awk '/^VmRSS/ { print $2 }' /proc/$_pid/status)
	"$CTL" del -n $_id >/dev/null
	echo $((_b - _a))
}
copy_kb=$(rss_growth)
uc_kb=$(rss_growth --user-copy)
check "buffers: a user-copy server grew by $uc_kb KiB, copy mode by $copy_kb KiB (under a quarter)" \
	sh -c "[ '$uc_kb' != fail ] && [ '$copy_kb' != fail ] && [ $((uc_kb * 4)) -lt $copy_kb ]"

# ---- refusals: one line, before anything exists ---------------------------
before=$(nr_devices)
expect_error "--user-copy with --shmem-zc is refused" \
	"--user-copy: cannot be combined with --shmem-zc.*choose one" \
	"$CTL" add -t null -s 1G --user-copy --shmem-zc
expect_error "--user-copy with --shmem-zc in a ublkfw_main() program too" \
	"--user-copy: cannot be combined with --shmem-zc" \
	"$TOP/build/examples/ublk-ramdisk" -s 16M --user-copy --shmem-zc
check "the refusals left no device behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ]"
rm -rf "$W"

t_summary
