#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 1500
#
# The data-bearing targets on a real kernel: fio crc32c verify on loop (file
# and block device, direct and buffered), memory and stripe (2 and 3 legs);
# ext4 and xfs kept intact across umount/fsck/remount; fstrim and
# write-zeroes reaching the backing; flush and FUA; the bad inputs of the
# file targets; and how a queue thread waits (syscalls per request at QD1).
# (Fault injection: the filters group.)
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-targets	# tmpfs in the guest
rm -rf "$W"; mkdir -p "$W"

# ---- fio verify on every data-bearing target ---------------------------
mkfile $W/a.img 128M
with_dev "loop file direct" -t loop $W/a.img && {
	check "loop: size defaults to the file's" sh -c "[ \$(blockdev --getsize64 /dev/ublkb$id) = 134217728 ]"
	check "loop: write cache and FUA announced" sh -c \
		"grep -q 'write back' /sys/block/ublkb$id/queue/write_cache && [ \$(cat /sys/block/ublkb$id/queue/fua) = 1 ]"
	fio_verify "loop file direct" /dev/ublkb$id 64M
	fio_ok "loop: fio fsync=1 (FLUSH)" --name=f --filename=/dev/ublkb$id --rw=randwrite \
		--bs=4k --ioengine=psync --fsync=1 --size=4M --direct=1
	fio_ok "loop: fio O_SYNC writes (FUA)" --name=s --filename=/dev/ublkb$id --rw=write \
		--bs=16k --ioengine=psync --sync=1 --size=4M --direct=1
	fio_ok "loop: fio 1M sequential read QD8" --name=seq --filename=/dev/ublkb$id --rw=read \
		--bs=1M --iodepth=8 --ioengine=io_uring --direct=1 --size=128M
	"$CTL" del -n $id >/dev/null
}
with_dev "loop file buffered" -t loop --buffered $W/a.img && {
	fio_verify "loop file buffered" /dev/ublkb$id 64M
	"$CTL" del -n $id >/dev/null
}
# --io: auto serves a tmpfs file synchronously when io_uring would hand its
# reads and writes to an io-wq worker, which is when RWF_NOWAIT gets
# EOPNOTSUPP (no FMODE_NOWAIT).  The probe here is independent of ublk-fw's.
punted=$(python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
    print("nowait")
except OSError as e:
    print("punted" if e.errno == errno.EOPNOTSUPP else "error: %s" % e)' $W/a.img)
case $punted in
punted) auto_mode="synchronous on the queue thread" ;;
*) auto_mode="by io_uring" ;;
esac
io_mode() {	# io_mode NAME ID FILE MODE: the server's log says how FILE is served
	check "$1: $3 served $4" grep -q "$3: reads and writes $4" /run/ublk-fw/$2.log
}
with_dev "loop --io auto" -t loop -q 2 $W/a.img && {
	io_mode "loop --io auto (RWF_NOWAIT probe on tmpfs: $punted)" $id $W/a.img "$auto_mode"
	"$CTL" del -n $id >/dev/null
}
with_dev "loop --io uring" -t loop --io uring $W/a.img && {
	io_mode "loop --io uring" $id $W/a.img "by io_uring"
	fio_verify "loop --io uring" /dev/ublkb$id 64M
	fio_ok "loop --io uring: fio O_SYNC writes (FUA)" --name=s --filename=/dev/ublkb$id --rw=write \
		--bs=16k --ioengine=psync --sync=1 --size=4M --direct=1
	"$CTL" del -n $id >/dev/null
}
mkfile $W/blk.img 160M
lo=$(losetup -f --show $W/blk.img)
with_dev "loop --io sync on a block device" -t loop --io sync "$lo" && {
	io_mode "loop --io sync" $id "$lo" "synchronous on the queue thread"
	fio_verify "loop --io sync ($lo)" /dev/ublkb$id 64M
	"$CTL" del -n $id >/dev/null
}
with_dev "loop block device" -t loop -q 2 "$lo" && {
	io_mode "loop --io auto on a block device" $id "$lo" "by io_uring"
	check "loop on $lo: size is the block device's" sh -c "[ \$(blockdev --getsize64 /dev/ublkb$id) = \$(blockdev --getsize64 $lo) ]"
	fio_verify "loop block device ($lo)" /dev/ublkb$id 64M
	check "loop on $lo: blkdiscard (BLKDISCARD on the backing)" blkdiscard -o 0 -l 16M /dev/ublkb$id
	"$CTL" del -n $id >/dev/null
}
losetup -d "$lo"
with_dev "memory" -t memory -q 2 -s 128M && {
	fio_verify "memory" /dev/ublkb$id 64M
	"$CTL" del -n $id >/dev/null
}
mkfile $W/s0.img 64M; mkfile $W/s1.img 64M; mkfile $W/s2.img 64M
with_dev "stripe 2 legs, --io uring" -t stripe --io uring --chunk-size 16K $W/s0.img $W/s1.img && {
	check "stripe 2 legs: size is 2 x 64M" sh -c "[ \$(blockdev --getsize64 /dev/ublkb$id) = 134217728 ]"
	fio_verify "stripe 2 legs (--io uring)" /dev/ublkb$id 64M
	"$CTL" del -n $id >/dev/null
}
with_dev "stripe 3 legs" -t stripe -q 2 --chunk-size 4K $W/s0.img $W/s1.img $W/s2.img && {
	fio_verify "stripe 3 legs" /dev/ublkb$id 64M
	fio_ok "stripe 3 legs: 512k requests across every leg" --name=big --filename=/dev/ublkb$id \
		--rw=randrw --bs=512k --iodepth=4 --ioengine=io_uring --direct=1 --size=96M \
		--verify=crc32c --verify_fatal=1 --do_verify=1
	"$CTL" del -n $id >/dev/null
}
check "stripe: data is really striped (leg 1 holds device chunk 1)" sh -c "
	printf 'chunk-one-marker' | dd of=$W/marker bs=16 count=1 2>/dev/null
	id=\$('$CTL' add -t stripe --chunk-size 4K $W/s0.img $W/s1.img | sed -n 's|^/dev/ublkb\([0-9]*\) .*|\1|p')
	dd if=$W/marker of=/dev/ublkb\$id bs=4096 seek=1 conv=sync oflag=direct 2>/dev/null
	'$CTL' del -n \$id >/dev/null
	dd if=$W/s1.img bs=16 count=1 2>/dev/null | grep -q chunk-one-marker"
rm -f $W/s*.img

# ---- filesystems: ext4 and xfs survive umount, fsck and remount ---------
mkfile $W/fs.img 128M
with_dev "ext4 on loop" -t loop $W/fs.img && {
	fs_roundtrip "ext4 on loop" /dev/ublkb$id 40 20M "mkfs.ext4 -q -F" e2fsck -fn
	"$CTL" del -n $id >/dev/null
}
mkfile $W/xfs.img 320M		# xfsprogs 6.1 wants at least 300M
with_dev "xfs on loop" -t loop $W/xfs.img && {
	fs_roundtrip "xfs on loop" /dev/ublkb$id 40 20M "mkfs.xfs -q -f" xfs_repair -n
	"$CTL" del -n $id >/dev/null
}
rm -f $W/xfs.img

# ---- fstrim and write-zeroes reach the backing file ---------------------
with_dev "fstrim on ext4 over loop" -t loop $W/fs.img && {
	mkfs.ext4 -q -F /dev/ublkb$id && mount /dev/ublkb$id $W/mnt &&
		head -c 60M /dev/urandom > $W/mnt/junk && sync
	full=$(du -k $W/fs.img | cut -f1)
	rm -f $W/mnt/junk; sync
	fstrim $W/mnt
	trimmed=$(du -k $W/fs.img | cut -f1)
	umount $W/mnt
	check "fstrim punched holes in the backing file ($full KiB -> $trimmed KiB allocated)" \
		test "$trimmed" -lt $((full - 40000))
	head -c 8M /dev/urandom | dd of=/dev/ublkb$id bs=1M seek=100 oflag=direct 2>/dev/null
	check "blkdiscard -z: write-zeroes succeeds" blkdiscard -z -o $((100 << 20)) -l $((8 << 20)) /dev/ublkb$id
	check "write-zeroes: the range reads back as zeroes" sh -c \
		"dd if=/dev/ublkb$id bs=1M skip=100 count=8 iflag=direct 2>/dev/null | cmp -s - /dev/zero -n $((8 << 20))"
	check "write-zeroes: zeroed on the backing file too" sh -c \
		"dd if=$W/fs.img bs=1M skip=100 count=8 2>/dev/null | cmp -s - /dev/zero -n $((8 << 20))"
	"$CTL" del -n $id >/dev/null
}

# ---- bad inputs: one line, non-zero exit, nothing left behind ------------
before=$(nr_devices)
mkfile $W/small.img 16M; mkfile $W/small2.img 16M
mkfile $W/locked.img 16M; chmod 000 $W/locked.img
mkfile $W/ro.img 16M
mount --bind $W/ro.img $W/ro.img && mount -o remount,bind,ro $W/ro.img
expect_error "loop: missing backing file" "cannot open $W/nosuch.img: No such file" \
	"$CTL" add -t loop $W/nosuch.img
expect_error "loop: no backing file given" "no backing file" "$CTL" add -t loop
expect_error "loop: a directory" "is not a regular file or a block device" "$CTL" add -t loop $W
expect_error "loop: /dev/null is not a backing (not 'use --buffered')" "/dev/null is not a regular file or a block device" \
	"$CTL" add -t loop /dev/null
mkfifo $W/fifo
expect_error "loop: a FIFO is not a backing" "$W/fifo is not a regular file or a block device" \
	"$CTL" add -t loop $W/fifo
head -c 100 /dev/zero > $W/tiny.img
expect_error "loop: a file smaller than one block (not 'give -s SIZE')" "$W/tiny.img is smaller than one block of 512 bytes" \
	"$CTL" add -t loop --buffered $W/tiny.img
expect_error "stripe: legs smaller than one chunk" "smaller than one chunk of 65536 bytes" \
	"$CTL" add -t stripe --buffered $W/tiny.img $W/small.img
expect_error "loop: unreadable file" "cannot open $W/locked.img: Permission denied" \
	setpriv --inh-caps=-dac_override,-dac_read_search \
	--bounding-set=-dac_override,-dac_read_search "$CTL" add -t loop $W/locked.img
expect_error "loop: size larger than the backing" "is larger than the backing" \
	"$CTL" add -t loop -s 1G $W/small.img
expect_error "loop: block size not a power of two" "invalid --block-size '1000'" \
	"$CTL" add -t loop --block-size 1000 $W/small.img
expect_error "loop: block size below 512" "invalid --block-size '256'" \
	"$CTL" add -t loop --block-size 256 $W/small.img
expect_error "stripe: chunk not a multiple of the block size" "not a multiple of the 4096-byte block size" \
	"$CTL" add -t stripe --block-size 4096 --chunk-size 6K $W/small.img $W/small2.img
expect_error "stripe: one leg" "too few backing files" "$CTL" add -t stripe $W/small.img
# the same file twice would put two chunks at one place: refused by inode
ln -sf $W/small.img $W/small-sym.img; ln -f $W/small.img $W/small-hard.img
expect_error "stripe: the same file twice" "$W/small.img and $W/small.img are the same file" \
	"$CTL" add -t stripe $W/small.img $W/small.img
expect_error "stripe: the same file under a symlink" "are the same file: give each backing once" \
	"$CTL" add -t stripe $W/small.img $W/small2.img $W/small-sym.img
expect_error "stripe: the same file under a hard link" "are the same file: give each backing once" \
	"$CTL" add -t stripe $W/small-hard.img $W/small.img
lo=$(losetup -f --show $W/small2.img)
ln -sf "$lo" $W/lo-sym
expect_error "stripe: the same block device twice" "are the same block device: give each backing once" \
	"$CTL" add -t stripe "$lo" $W/lo-sym
losetup -d "$lo"
expect_error "loop: bad --io" "invalid --io 'fast': use auto, uring or sync" \
	"$CTL" add -t loop --io fast $W/small.img
expect_error "loop: read-only file opened read-write" "cannot be opened read-write.*use --read-only" \
	"$CTL" add -t loop $W/ro.img
expect_error "memory: no size" "give the RAM disk's size" "$CTL" add -t memory
# its data lives in the run directory's tmpfs: not more than that has free
mkdir -p $W/smallrun && mount -t tmpfs -o size=8M,mode=0755 none $W/smallrun
expect_error "memory: larger than the run directory has room for" \
	"$W/smallrun/[0-9]*.mem has room for 8 MiB, the device needs 64 MiB: give a smaller -s" \
	env UBLKFW_RUN_DIR=$W/smallrun "$CTL" add -t memory -s 64M
check "memory: and it left nothing in that run directory" sh -c "[ -z \"\$(ls $W/smallrun)\" ]"
umount $W/smallrun
check "bad inputs left no device behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ]"
if id=$(add_dev -t loop --read-only $W/ro.img); then
	check "loop --read-only: the device is read-only" sh -c "[ \$(blockdev --getro /dev/ublkb$id) = 1 ]"
	check "loop --read-only: reads work" dd if=/dev/ublkb$id of=/dev/null bs=1M count=4 iflag=direct
	"$CTL" del -n $id >/dev/null
else
	fail "loop --read-only: add"
fi
umount $W/ro.img

# ---- how a queue thread waits (framework/queue_wait.c) --------------------
# A queue whose target and filters have no libev watcher (null) waits in
# io_uring alone while the load is light: at QD1 one io_uring_enter() per
# request and no epoll_wait.
# The delay filter asks for the loop (its timers) at its first request, and
# from then on the queue waits in libev: epoll_wait + io_uring_enter.
# UBLKFW_QUEUE_WAIT=libev is that wiring from the start.  Counted with
# strace -c -f on the server while fio does 1000 4k reads, one at a time.
# wait_syscalls NAME: prints "ENTER EPOLL", the calls per read on device $id
wait_syscalls() {
	strace -f -c -p "$(server_pid $id)" -o $W/wait-$1.txt 2>/dev/null &
	_ws_pid=$!
	sleep 1
	fio --name=w --filename=/dev/ublkb$id --rw=randread --bs=4k --iodepth=1 --ioengine=psync \
		--direct=1 --number_ios=1000 --size=64M --randrepeat=0 \
		--output-format=json --output=$W/wait-$1.json > /dev/null 2>&1
	kill -INT $_ws_pid
	wait $_ws_pid
	_ws_ios=$(jq '.jobs[0].read.total_ios' $W/wait-$1.json 2>/dev/null)
	awk -v n="${_ws_ios:-0}" '$NF == "io_uring_enter" { e = $4 } $NF == "epoll_wait" { p = $4 }
		END { if (n > 0) printf "%.2f %.2f\n", e / n, p / n; else print "none none" }' $W/wait-$1.txt
}
# in_range V LO HI: LO <= V <= HI
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "none" && v >= lo && v <= hi) }'; }
# wait_check NAME ENTER_LO ENTER_HI EPOLL_LO EPOLL_HI ADD-ARGS...
wait_check() {
	_wc_name=$1 _wc_e0=$2 _wc_e1=$3 _wc_p0=$4 _wc_p1=$5; shift 5
	if with_dev "wait: $_wc_name" "$@"; then
		set -- $(wait_syscalls "$id")
		check "wait: $_wc_name: $1 io_uring_enter per read (want $_wc_e0-$_wc_e1)" \
			in_range "$1" $_wc_e0 $_wc_e1
		check "wait: $_wc_name: $2 epoll_wait per read (want $_wc_p0-$_wc_p1)" \
			in_range "$2" $_wc_p0 $_wc_p1
		"$CTL" del -n $id > /dev/null
	fi
}
wait_check "null at QD1, in io_uring alone" 0.9 1.1 0 0.05 -t null -s 64M
wait_check "null + delay filter, in libev" 0.9 1.2 1.5 2.5 -t null -s 64M --filter delay --delay-us 1
export UBLKFW_QUEUE_WAIT=libev
wait_check "null, UBLKFW_QUEUE_WAIT=libev" 0.9 1.2 0.9 1.2 -t null -s 64M
unset UBLKFW_QUEUE_WAIT
rm -rf "$W"

t_summary
