#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 900
# memory: 4G
#
# The rbd target against a real Ceph cluster started here: one ceph-mon and
# one ceph-osd (memstore) on 127.0.0.1 (tests/ceph/ceph-single.sh).  fio
# crc32c verify; ext4 made, filled, fsck'd clean and re-read, also through
# a new server in user-copy mode (and a verify there); DISCARD,
# WRITE_ZEROES, FLUSH and FUA seen on the cluster's side (its objects,
# librbd's counters in the server's admin socket); an OSD
# that stops answering fails I/O with EIO within --timeout and del works;
# bad pools, images, configs and a cluster that is not there are one line
# and no device.
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-rbd		# tmpfs in the guest
D=$W/ceph
CONF=$D/ceph.conf
CEPH=$TOP/tests/ceph/ceph-single.sh
TMO=5				# the devices' --timeout
rm -rf "$W"; mkdir -p "$W"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
rbd_() { timeout 60 rbd -c "$CONF" "$@"; }

# objects IMAGE: how many data objects the image has in the cluster
objects() {
	_o_prefix=$(rbd_ info --format json "rbd/$1" | jq -r .block_name_prefix)
	timeout 60 rados -c "$CONF" -p rbd ls | grep -c "^$_o_prefix\."
}

# perf ID EXPR: librbd's counters (EXPR: ".flush", ".discard + .ws") in
# device ID's server, from its admin socket
perf() {
	timeout 30 ceph --admin-daemon "$D/client.admin.$(server_pid "$1").asok" perf dump |
		jq "[to_entries[] | select(.key | startswith(\"librbd-\")) | .value | $2] | add"
}

# ublk_flushes ID: the FLUSH requests device ID's stats filter saw
ublk_flushes() { "$CTL" stats -n "$1" --json | jq '.[0].stats.ops.flush.ios'; }

# ---- the cluster -------------------------------------------------------
t0=$(now)
if ! "$CEPH" start "$D" > $W/ceph-start.log 2>&1; then
	fail "ceph-single.sh start" "$(tail -20 $W/ceph-start.log)"
	t_summary; exit
fi
pass "single-node cluster up (mon, osd, pool rbd, image rbd/img) in $(since "$t0") s"
rbd_ create --size 64M rbd/disc
rbd_ create --size 64M rbd/zero

# ---- fio verify, ext4 --------------------------------------------------
# the first device's config asks for librbd's cache, which the target turns
# off whatever the config says, and a thread count of its own, which the
# target keeps (it lowers only what the config leaves at librbd's default)
{ cat "$CONF"; printf '[client]\n\trbd cache = true\n\tlibrados thread count = 3\n'; } > $W/cache-on.conf
# conf_is ID OPTION VALUE: the server's librados has OPTION = VALUE
conf_is() {
	timeout 30 ceph --admin-daemon "$D/client.admin.$(server_pid "$1").asok" config get "$2" |
		jq -e --arg o "$2" --arg v "$3" '.[$o] == $v' > /dev/null
}
if with_dev "rbd" -t rbd -q 2 --filter stats --conf $W/cache-on.conf --timeout $TMO rbd/img; then
	check "rbd: size from the image (256M)" sh -c "[ \$(blockdev --getsize64 /dev/ublkb$id) = 268435456 ]"
	check "rbd: librbd's cache off in the server, though its config says rbd cache = true" \
		conf_is $id rbd_cache false
	check "rbd: librbd's dispatch thread skipped in the server (rbd_non_blocking_aio false)" \
		conf_is $id rbd_non_blocking_aio false
	check "rbd: one messenger worker in the server (ms_async_op_threads 1, the config has none)" \
		conf_is $id ms_async_op_threads 1
	check "rbd: the config's librados_thread_count = 3 kept (the target lowers only librbd's default)" \
		conf_is $id librados_thread_count 3
	check "rbd: write cache and FUA announced" sh -c \
		"grep -q 'write back' /sys/block/ublkb$id/queue/write_cache && [ \$(cat /sys/block/ublkb$id/queue/fua) = 1 ]"
	check "rbd: discard and write-zeroes announced" sh -c \
		"[ \$(cat /sys/block/ublkb$id/queue/discard_max_bytes) -gt 0 ] && [ \$(cat /sys/block/ublkb$id/queue/write_zeroes_max_bytes) -gt 0 ]"
	fio_verify "rbd, 2 queues" /dev/ublkb$id 12M
	fio_ok "rbd: fio crc32c verify, 128k sequential QD8" --name=s --filename=/dev/ublkb$id \
		--rw=write --bs=128k --iodepth=8 --ioengine=io_uring --direct=1 --offset=64M --size=16M \
		--verify=crc32c --verify_fatal=1 --do_verify=1

	# FLUSH and FUA reach librbd: its flush counter in the server (admin
	# socket) against the FLUSHes the kernel sent (the stats filter)
	l0=$(perf $id .flush) u0=$(ublk_flushes $id)
	fio_ok "rbd: fio fsync=1, 64 writes (FLUSH)" --name=f --filename=/dev/ublkb$id --rw=randwrite \
		--bs=4k --ioengine=psync --fsync=1 --size=256k --direct=1
	l1=$(perf $id .flush) u1=$(ublk_flushes $id)
	fio_ok "rbd: fio O_SYNC, 64 writes (FUA)" --name=s --filename=/dev/ublkb$id --rw=write \
		--bs=4k --ioengine=psync --sync=1 --size=256k --direct=1
	l2=$(perf $id .flush) u2=$(ublk_flushes $id)
	say "     (FLUSHes from the kernel $u0 -> $u1 -> $u2; librbd's flushes $l0 -> $l1 -> $l2)"
	# (the kernel may fold a FLUSH into one in flight: fio's 64 fsyncs were 63)
	check "rbd: each FLUSH is a librbd flush (fsync: $((u1 - u0)) FLUSH, $((l1 - l0)) flushes)" \
		sh -c "[ $((u1 - u0)) -ge 56 ] && [ $((l1 - l0)) -ge $((u1 - u0)) ]"
	check "rbd: each FUA write is a librbd flush too (O_SYNC: $((u2 - u1)) FLUSH, $((l2 - l1)) flushes)" \
		test $((l2 - l1)) -ge $((u2 - u1 + 64))

	fs_roundtrip "ext4 on rbd" /dev/ublkb$id 30 12M "mkfs.ext4 -q -F" e2fsck -fn
	check "rbd: del" "$CTL" del -n $id
fi
# The data is the cluster's: a new server of a new device reads it all,
# this one in user-copy mode (the data moves through /dev/ublkcN).
if with_dev "rbd again, --user-copy" -t rbd --user-copy --conf "$CONF" rbd/img; then
	is_user_copy "rbd again" $id
	check "ext4 on rbd, new server: e2fsck -fn clean" e2fsck -fn /dev/ublkb$id
	fs_verify "ext4 on rbd, new server" /dev/ublkb$id
	fio_verify "rbd, user copy" /dev/ublkb$id 8M 8k --offset=96M
	check "rbd again: del" "$CTL" del -n $id
fi

# ---- DISCARD and WRITE_ZEROES, seen in the cluster's objects -------------
if with_dev "rbd discard" -t rbd --conf "$CONF" rbd/disc; then
	dd if=/dev/urandom of=$W/16M bs=1M count=16 2>/dev/null
	for o in 0 16 32 48; do
		dd if=$W/16M of=/dev/ublkb$id bs=1M seek=$o oflag=direct conv=fsync 2>/dev/null
	done
	n0=$(objects disc)
	check "discard: 64M written: 16 objects of 4M in the pool (found $n0)" test "$n0" = 16
	# counted after a FLUSH (fsync of the device), which waits for any
	# discard librbd might still have in flight
	blkdiscard -o 8M -l 16M /dev/ublkb$id && sync /dev/ublkb$id
	n1=$(objects disc)
	check "discard: of 16M (4 whole objects): 12 objects left (found $n1)" test "$n1" = 12
	check "discard: the rest still reads back" sh -c \
		"dd if=/dev/ublkb$id bs=1M skip=32 count=16 iflag=direct 2>/dev/null | cmp -s - $W/16M"
	blkdiscard /dev/ublkb$id && sync /dev/ublkb$id
	n2=$(objects disc)
	check "discard: of the whole device: no object left (found $n2)" test "$n2" = 0
	check "rbd discard: del" "$CTL" del -n $id
fi
if with_dev "rbd write-zeroes" -t rbd --conf "$CONF" rbd/zero; then
	dd if=$W/16M of=/dev/ublkb$id bs=1M oflag=direct conv=fsync 2>/dev/null
	# BLKZEROOUT sets NOUNMAP: thick-provisioned zeroes, which librbd
	# writes as a write-same (its ws counter)
	z0=$(perf $id '.discard + .ws')
	check "write-zeroes: blkdiscard -z of 8M" sh -c "blkdiscard -z -o 4M -l 8M /dev/ublkb$id && sync /dev/ublkb$id"
	z1=$(perf $id '.discard + .ws')
	check "write-zeroes: reached librbd (its discard + write-same counters: $z0 -> $z1)" \
		test "$z1" -gt "$z0"
	check "write-zeroes: 8M read back as zeroes" sh -c \
		"dd if=/dev/ublkb$id bs=1M skip=4 count=8 iflag=direct 2>/dev/null | cmp -s -n 8388608 - /dev/zero"
	check "write-zeroes: the data around it intact" sh -c \
		"dd if=/dev/ublkb$id bs=1M count=4 iflag=direct 2>/dev/null | cmp -s -n 4194304 - $W/16M &&
		 dd if=/dev/ublkb$id bs=1M skip=12 count=4 iflag=direct 2>/dev/null | cmp -s -n 4194304 -i 0:12582912 - $W/16M"
	check "rbd write-zeroes: del" "$CTL" del -n $id
fi

# ---- bad input: one line, no device --------------------------------------
n=$(nr_devices)
no_dev() { check "$1: no device left behind" test "$(nr_devices)" = "$n"; }
expect_error "rbd: unknown pool" "no pool 'nopool' in the cluster" \
	"$CTL" add -t rbd --conf "$CONF" nopool/img
no_dev "unknown pool"
expect_error "rbd: unknown image" "no image 'nope' in pool 'rbd'" \
	"$CTL" add -t rbd --conf "$CONF" rbd/nope
no_dev "unknown image"
expect_error "rbd: a config that does not exist" "cannot read the Ceph config $W/none.conf: no such file" \
	"$CTL" add -t rbd --conf $W/none.conf rbd/img
printf 'this is [not a config\n' > $W/bad.conf
expect_error "rbd: a config that is not one" "$W/bad.conf is not a valid Ceph config" \
	"$CTL" add -t rbd --conf $W/bad.conf rbd/img
no_dev "bad config"
expect_error "rbd: an unknown cephx user" "no keyring for client.nobody" \
	"$CTL" add -t rbd --conf "$CONF" --user nobody rbd/img
expect_error "rbd: not POOL/IMAGE" "invalid image 'img'" "$CTL" add -t rbd --conf "$CONF" img
sed 's/^mon host = .*/mon host = 127.0.0.1:6799/' "$CONF" > $W/nomon.conf
t=$(now)
expect_error "rbd: no monitor at the address" "no answer from the cluster's monitors \\(127.0.0.1:6799\\) in 3 s" \
	"$CTL" add -t rbd --conf $W/nomon.conf --timeout 3 rbd/img
say "     (gave up after $(since "$t") s)"
no_dev "no monitor"

# ---- an OSD that stops answering -----------------------------------------
osd=$(cat $D/osd.0.pid)
# fail_within NAME SECONDS CMD...: CMD fails, and within SECONDS
fail_within() {
	_w_name=$1 _w_max=$2; shift 2
	_w_t=$(now)
	if "$@" > $W/outage.out 2>&1; then
		fail "$_w_name: succeeded while the OSD is stopped"
		return
	fi
	_w_s=$(since "$_w_t")
	if awk -v s="$_w_s" -v m="$_w_max" 'BEGIN { exit !(s <= m) }' &&
	    grep -q 'Input/output error' $W/outage.out; then
		pass "$_w_name: EIO after $_w_s s (--timeout $TMO)"
	else
		fail "$_w_name: after $_w_s s (at most $_w_max)" "$(cat $W/outage.out)"
	fi
}
# A read must reach the OSD to fail: librbd answers zeroes itself for an
# object its object map says does not exist (mkfs's discard removed most of
# them), so the reads below are of blocks this test wrote first (the target
# turns librbd's cache off, so no read is answered from the server).
if with_dev "rbd outage" -t rbd --conf "$CONF" --timeout $TMO rbd/img; then
	pid=$(server_pid $id)
	check "outage: a block written first, so that its object exists" \
		dd if=$W/16M of=/dev/ublkb$id bs=4k count=1 seek=1000 oflag=direct conv=fsync
	kill -STOP "$osd"
	fail_within "OSD stopped: a direct read" $((TMO + 10)) \
		dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 skip=1000 iflag=direct
	fail_within "OSD stopped: a direct write + fsync" $((TMO * 2 + 10)) \
		dd if=$W/16M of=/dev/ublkb$id bs=4k count=1 seek=2000 oflag=direct conv=fsync
	check "OSD stopped: the server lives, the device is LIVE" sh -c \
		"kill -0 $pid && [ \"\$('$CTL' list -n $id --json | jq -r '.[0].state')\" = LIVE ]"
	kill -CONT "$osd"
	check "OSD back: a direct read works again" \
		timeout 60 dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 skip=3000 iflag=direct
	# librbd may first have to take the image's lock again (its watch
	# lapsed while the OSD was stopped), and a resumed OSD in a loaded
	# emulated guest answers slowly for a while (requests then still time
	# out): wait until 3 writes + fsync and reads in a row work, up to 120 s
	t=$(now) ok=0
	while [ $ok -lt 3 ] && awk -v s="$(since "$t")" 'BEGIN { exit !(s < 120) }'; do
		if dd if=$W/16M of=/dev/ublkb$id bs=4k count=1 seek=$((2500 + ok)) oflag=direct \
		    conv=fsync 2>/dev/null &&
		    dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 skip=$((3500 + ok)) iflag=direct \
		    2>/dev/null; then
			ok=$((ok + 1))
		else
			ok=0
		fi
	done
	check "OSD back: writes + fsync and reads work again (3 in a row after $(since "$t") s)" \
		test $ok = 3
	fio_ok "OSD back: fio crc32c verify, with a flush at the end" --name=v --filename=/dev/ublkb$id \
		--rw=randwrite --bs=8k --iodepth=16 --ioengine=io_uring --direct=1 --size=8M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 --end_fsync=1
	kill -STOP "$osd"
	# block 1500 (6 MiB) is inside the 8 MiB fio just wrote whole
	fail_within "OSD stopped again: a direct read" $((TMO + 10)) \
		dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 skip=1500 iflag=direct
	cp /run/ublk-fw/$id.log "$OUT/outage-server.log" 2>/dev/null
	t=$(now)
	check "OSD stopped: del works" "$CTL" del -n $id
	say "     (del took $(since "$t") s)"
	check "OSD stopped: the device is gone" sh -c "! [ -e /dev/ublkb$id ] && ! [ -e /dev/ublkc$id ]"
	# the server ends once librbd has closed the image, which waits for the
	# cluster up to --timeout (twice: the image's lock, its watch)
	# (30 s: then del would have killed it)
	while kill -0 $pid 2>/dev/null && awk -v s="$(since "$t")" 'BEGIN { exit !(s < 30) }'; do
		sleep 0.2
	done
	check "OSD stopped: the server ended (after $(since "$t") s, at most 30)" \
		sh -c "! kill -0 $pid 2>/dev/null"
	kill -CONT "$osd"
fi

# ---- the end: the cluster stops by its pids ------------------------------
cp $D/client.admin.log "$OUT/ceph-client.log" 2>/dev/null
mon=$(cat $D/mon.a.pid)
check "ceph-single.sh stop" "$CEPH" stop "$D"
check "the mon and osd are gone" sh -c "! kill -0 $mon 2>/dev/null && ! kill -0 $osd 2>/dev/null"
expect_error "rbd: a cluster that is not there" "no answer from the cluster's monitors .* in 3 s" \
	"$CTL" add -t rbd --conf "$CONF" --timeout 3 rbd/img
no_dev "no cluster"
t_summary
