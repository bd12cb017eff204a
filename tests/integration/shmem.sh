#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: patched
# timeout: 1500
#
# Shared-memory zero copy on a kernel with UBLK_F_SHMEM_ZC: the upstream
# selftests' four cases (null, loop + verify, ext4 + verify, read-only), a
# memfd client over the socket, the copy path on the same device, and bad
# input.  Every case reads the server's counters and asserts that zero copy
# happened (> 0) or did not (= 0).
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-shmem
rm -rf $W; mkdir -p $W
HP=/dev/hugepages
mountpoint -q $HP || { mkdir -p $HP && mount -t hugetlbfs none $HP; }
echo 20 > /proc/sys/vm/nr_hugepages
HF=$HP/ublkfw-zc
rm -f $HF; fallocate -l 4M $HF
check "hugetlbfs file of 2 huge pages" sh -c "[ \$(stat -c %s $HF) = 4194304 ]"
check "the kernel has SHMEM_ZC" sh -c "'$CTL' features --json | jq -e '.names | index(\"SHMEM_ZC\")'"

stat_of() {	# stat_of ID KEY: a total from the server's counters
	"$CTL" list -n "$1" --json | jq ".[0].stats.$2"
}
pins_balanced() {
	# /proc/vmstat leaves out the per-CPU deltas until they are folded
	# (kernel/README.md, "Pin counters"): fold them first
	echo 1 > /proc/sys/vm/stat_refresh
	awk '/^nr_foll_pin_acquired/ {a=$2} /^nr_foll_pin_released/ {r=$2} END {exit a != r}' /proc/vmstat
}

# ---- seed 01: null, fio randwrite O_DIRECT 4k through the registered file --
if id=$(add_dev -t null -s 256M --shmem-zc --htlb $HF); then
	check "01 null: the device has SHMEM_ZC" sh -c "'$CTL' list -n $id --json | jq -e '.[0].flag_names | index(\"SHMEM_ZC\")'"
	check "01 null: the server registered --htlb" grep -q "registered as buffer 0" /run/ublk-fw/$id.log
	check "01 null: the state file records the --htlb buffer" jq -e --arg h "$HF" \
		'.shmem == {"htlb": $h, "read_only": false, "registered": [0]} and .recovery == "none"' \
		/run/ublk-fw/$id.json
	fio_ok "01 null: fio randwrite 4k QD16 --mem=mmaphuge" --name=zc --filename=/dev/ublkb$id \
		--rw=randwrite --bs=4k --direct=1 --ioengine=io_uring --iodepth=16 --runtime=3 \
		--time_based --mem=mmaphuge:$HF
	zc=$(stat_of $id zc_ios); rej=$(stat_of $id zc_rejected)
	say "     counters: $("$CTL" list -n $id --json | jq -c '.[0].stats | del(.queues)')"
	check "01 null: zero-copy I/Os counted ($zc > 0)" test "$zc" -gt 0
	check "01 null: no descriptor rejected" test "$rej" = 0
	"$CTL" del -n $id > /dev/null
else
	fail "01 null: add"
fi

# ---- seed 02: loop over a file, crc32c verify through the shared buffer ---
truncate -s 128M $W/loop.img
if id=$(add_dev -t loop --shmem-zc --htlb $HF $W/loop.img); then
	fio_ok "02 loop: fio crc32c verify randwrite 8k QD32 --mem=mmaphuge" --name=v \
		--filename=/dev/ublkb$id --rw=randwrite --bs=8k --iodepth=32 --ioengine=io_uring \
		--direct=1 --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 --mem=mmaphuge:$HF
	zc=$(stat_of $id zc_ios)
	say "     counters: $("$CTL" list -n $id --json | jq -c '.[0].stats | del(.queues)')"
	check "02 loop: zero-copy reads and writes counted ($zc >= 16384)" test "$zc" -ge 16384
	"$CTL" del -n $id > /dev/null
else
	fail "02 loop: add"
fi

# ---- seed 03: ext4 on the loop target, fio verify on a file inside it -----
truncate -s 256M $W/ext4.img
if id=$(add_dev -t loop --shmem-zc --htlb $HF $W/ext4.img); then
	mkdir -p $W/mnt
	if mkfs.ext4 -q -F /dev/ublkb$id && mount /dev/ublkb$id $W/mnt; then
		before=$(stat_of $id zc_ios)
		fio_ok "03 ext4: fio verify on a 128M file, --mem=mmaphuge" --name=f \
			--filename=$W/mnt/data --size=128M --rw=randwrite --bs=8k --iodepth=16 \
			--ioengine=io_uring --direct=1 --verify=crc32c --verify_fatal=1 \
			--do_verify=1 --mem=mmaphuge:$HF
		zc=$(( $(stat_of $id zc_ios) - before ))
		umount $W/mnt
		check "03 ext4: fsck clean" e2fsck -fn /dev/ublkb$id
		check "03 ext4: zero-copy I/Os through the filesystem ($zc > 0)" test "$zc" -gt 0
	else
		fail "03 ext4: mkfs and mount"
	fi
	"$CTL" del -n $id > /dev/null
else
	fail "03 ext4: add"
fi

# ---- seed 04: read-only registration: writes zero-copy, reads copied -------
truncate -s 128M $W/ro.img
if id=$(add_dev -t loop --shmem-zc --shmem-ro --htlb $HF $W/ro.img); then
	check "04 read-only: the state file says read-only" jq -e '.shmem.read_only' /run/ublk-fw/$id.json
	fio_ok "04 read-only: fio write --mem=mmaphuge" --name=w --filename=/dev/ublkb$id \
		--rw=write --bs=64k --iodepth=8 --ioengine=io_uring --direct=1 --size=32M \
		--mem=mmaphuge:$HF --verify=crc32c --do_verify=0
	zcw=$(stat_of $id zc_ios); cw=$(stat_of $id copy_ios)
	fio_ok "04 read-only: fio verify (reads) --mem=mmaphuge" --name=w --filename=/dev/ublkb$id \
		--rw=write --bs=64k --iodepth=8 --ioengine=io_uring --direct=1 --size=32M \
		--mem=mmaphuge:$HF --verify=crc32c --verify_only --verify_fatal=1
	zcr=$(( $(stat_of $id zc_ios) - zcw )); cr=$(( $(stat_of $id copy_ios) - cw ))
	check "04 read-only: the 512 writes were zero-copy ($zcw >= 512)" test "$zcw" -ge 512
	check "04 read-only: no read was zero-copy ($zcr = 0)" test "$zcr" = 0
	check "04 read-only: the 512 reads were copied ($cr >= 512)" test "$cr" -ge 512
	"$CTL" del -n $id > /dev/null
else
	fail "04 read-only: add"
fi

# ---- a memfd over the socket: the example client ---------------------------
if id=$(add_dev -t memory -s 64M --shmem-zc); then
	out=$("$TOP/build/examples/ublk-zc-client" $id 64 2>&1)
	rc=$?
	say "     $out"
	check "memfd client: exit 0 and no mismatch" sh -c "[ $rc = 0 ] && echo '$out' | grep -q ', 0 mismatches'"
	zc=$(stat_of $id zc_ios); copies=$(stat_of $id copy_ios)
	check "memfd client: its 64 writes and 64 reads were zero-copy ($zc = 128)" test "$zc" = 128
	check "memfd client: unregistered its buffer through the server" sh -c \
		"echo '$out' | grep -q 'unregistered; 1 write and 1 read after it' && grep -q 'buffer 0 unregistered' /run/ublk-fw/$id.log"
	check "memfd client: the I/O after UNREG_BUF was copied ($copies >= 2)" test "$copies" -ge 2
	# ---- the copy path on the same device: fio without mmaphuge ------------
	before=$(stat_of $id zc_ios); cbefore=$(stat_of $id copy_ios)
	fio_ok "no mmaphuge: fio crc32c verify through the copy path" --name=c \
		--filename=/dev/ublkb$id --rw=randwrite --bs=8k --iodepth=16 --ioengine=io_uring \
		--direct=1 --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1
	check "no mmaphuge: no zero-copy I/O ($(stat_of $id zc_ios) - $before = 0)" \
		test "$(stat_of $id zc_ios)" = "$before"
	check "no mmaphuge: all of it copied" test "$(stat_of $id copy_ios)" -ge $((cbefore + 8192))
	# ---- bad clients: clear errors, the server keeps serving ----------------
	S=/run/ublk-fw/$id.sock
	py() { python3 "$TOP/tests/integration/shmem_sock.py" "$S" "$@"; }
	check "socket: garbage without an fd gets -EINVAL" sh -c "[ \$(python3 '$TOP/tests/integration/shmem_sock.py' $S garbage) = -22 ]"
	check "socket: no fd gets -EINVAL" sh -c "[ \$(python3 '$TOP/tests/integration/shmem_sock.py' $S nofd) = -22 ]"
	check "socket: a memfd whose size is not page-aligned gets -EINVAL" sh -c \
		"[ \$(python3 '$TOP/tests/integration/shmem_sock.py' $S memfd 5000) = -22 ]"
	check "memfd client: the state file lists no buffer after it unregistered" \
		jq -e '.shmem.registered == []' /run/ublk-fw/$id.json
	twice=$(python3 "$TOP/tests/integration/shmem_sock.py" $S twice 1048576)
	check "socket: the same memfd twice: an index, then -EEXIST ($twice)" sh -c \
		"echo '$twice' | grep -Eq '^[0-9]+ -17$'"
	check "socket: the state file lists the buffer the server now holds" \
		jq -e --argjson i "${twice%% *}" '.shmem.registered == [$i]' /run/ublk-fw/$id.json
	check "socket: the server logged each refusal" sh -c \
		"grep -c 'shmem socket' /run/ublk-fw/$id.log | grep -q '^[4-9]'"
	fio_ok "socket: the device still serves after bad clients" --name=after \
		--filename=/dev/ublkb$id --rw=randrw --bs=4k --iodepth=8 --ioengine=io_uring \
		--direct=1 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1
	"$CTL" del -n $id > /dev/null
else
	fail "memfd client: add"
fi

# ---- bad --htlb input: one line, non-zero exit, nothing left -------------
before=$(nr_devices)
truncate -s 4M $W/not-huge
touch $HP/empty
expect_error "--htlb: nonexistent path" "--htlb $HP/nosuch: No such file" \
	"$CTL" add -t null --shmem-zc --htlb $HP/nosuch
expect_error "--htlb: not on hugetlbfs" "not a file on hugetlbfs" \
	"$CTL" add -t null --shmem-zc --htlb $W/not-huge
expect_error "--htlb: empty file (size not a huge-page multiple)" "multiple of the huge page size" \
	"$CTL" add -t null --shmem-zc --htlb $HP/empty
check "bad --htlb left no device behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ]"
rm -f $HP/empty

# ---- user recovery: the dead server's buffers are not served by the new one -
# The kernel keeps every registration while no server runs.  The new server
# unregisters the dead one's indexes on the quiesced device, registers its
# --htlb file anew, and a client registers its memfd again: the same pages
# get an index (not -EEXIST), zero copy goes on, nothing is mis-served.
pinned() {	# pages pinned right now (FOLL_PIN), by anyone
	awk '/^nr_foll_pin_acquired/ {a=$2} /^nr_foll_pin_released/ {r=$2} END {print a - r}' /proc/vmstat
}
# The count is global: an O_DIRECT request in flight pins its pages for a
# moment. The base is the lowest of ten samples (a transient only adds), and
# a pinned count is waited for up to 5 s, so neither catches one.
base=$(pinned)
i=0; while [ $i -lt 10 ]; do _p=$(pinned); [ "$_p" -lt "$base" ] && base=$_p; i=$((i + 1)); sleep 0.1; done
pinned_reaches() {	# pinned_reaches N: true once N pages above base are pinned
	_i=0
	while [ $(($(pinned) - base)) != "$1" ] && [ $_i -lt 50 ]; do _i=$((_i + 1)); sleep 0.1; done
	[ $(($(pinned) - base)) = "$1" ]
}
truncate -s 64M $W/rec.img
if id=$(add_dev -t loop --shmem-zc --htlb $HF --recovery reissue $W/rec.img); then
	mkfifo $W/again
	python3 "$TOP/tests/integration/shmem_sock.py" /run/ublk-fw/$id.sock again 4194304 \
		< $W/again > $W/again.out &
	cl=$!
	exec 7> $W/again
	i=0; while [ ! -s $W/again.out ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
	check "recovery: a client memfd registered as buffer 1 ($(head -1 $W/again.out))" \
		test "$(head -1 $W/again.out)" = 1
	check "recovery: the state file records buffers 0 and 1" \
		jq -e '.shmem.registered == [0, 1]' /run/ublk-fw/$id.json
	pinned_reaches 2048
	check "recovery: 2 x 4 MiB pinned ($(($(pinned) - base)) pages)" test $(($(pinned) - base)) = 2048
	fio --name=zw --filename=/dev/ublkb$id --rw=write --bs=8k --iodepth=16 --ioengine=io_uring \
		--direct=1 --size=32M --verify=crc32c --do_verify=0 --mem=mmaphuge:$HF \
		--output-format=json --output=$W/zw.json > /dev/null 2>&1 &
	f=$!
	# fio's zero-copy writes have begun (a loaded guest may take seconds)
	i=0; while [ "$(stat_of $id zc_ios)" = 0 ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.1; done
	zc_before=$(stat_of $id zc_ios)
	check "recovery: zero copy before the kill ($zc_before > 0)" test "$zc_before" -gt 0
	check "recovery: kill -9 the server during fio's zero-copy writes" kill9 $id
	recover_ok "recovery" $id
	wait $f; rc=$?
	check "recovery: fio's write phase ends without error across the kill (exit $rc)" \
		sh -c "[ $rc = 0 ] && [ \$(jq '.jobs[0].error' $W/zw.json) = 0 ]"
	check "recovery: the new server unregistered the dead one's 2 buffers" \
		grep -q "unregistered the 2 shared-memory buffers of the dead server" /run/ublk-fw/$id.log
	check "recovery: and registered --htlb anew" sh -c \
		"grep 'registered as buffer' /run/ublk-fw/$id.log | tail -1 | grep -q 'buffer 0'"
	# a pin of I/O still completing is let go within a moment
	pinned_reaches 1024
	check "recovery: only the --htlb file is pinned now ($(($(pinned) - base)) pages)" \
		test $(($(pinned) - base)) = 1024
	echo >&7; exec 7>&-
	wait $cl
	check "recovery: the client's same memfd registers again ($(tail -1 $W/again.out), not -EEXIST)" \
		test "$(tail -1 $W/again.out)" = 1
	check "recovery: the state file records both again" \
		jq -e '.shmem.registered == [0, 1]' /run/ublk-fw/$id.json
	fio_ok "recovery: fio crc32c verify of the 32M through the huge pages after recovery" \
		--name=zw --filename=/dev/ublkb$id --rw=write --bs=8k --iodepth=16 \
		--ioengine=io_uring --direct=1 --size=32M --verify=crc32c --verify_only=1 \
		--verify_fatal=1 --mem=mmaphuge:$HF
	zc=$(stat_of $id zc_ios); rej=$(stat_of $id zc_rejected)
	check "recovery: zero-copy I/Os counted by the new server ($zc >= 4096)" test "$zc" -ge 4096
	check "recovery: no descriptor rejected ($rej)" test "$rej" = 0
	"$CTL" del -n $id > /dev/null
	check "recovery: pins balanced after del" pins_balanced
else
	fail "recovery: add"
fi

# ---- pins: all released once the devices are gone, also after SIGKILL ------
check "pins balanced after the devices above were deleted" pins_balanced
if id=$(add_dev -t null -s 64M --shmem-zc --htlb $HF); then
	pid=$(dev_json $id | jq .pid)
	kill -KILL $pid
	sleep 1
	"$CTL" del -n $id > /dev/null
	check "SIGKILL with a registered buffer: device deleted" wait_gone $id 5
	check "SIGKILL with a registered buffer: pins balanced after del" pins_balanced
else
	fail "pins after SIGKILL: add"
fi
rm -rf $W $HF
t_summary
