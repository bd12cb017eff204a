#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 2400
#
# User recovery on a real kernel: a device outlives its server.  kill -9
# during a fio crc32c verify write phase, `ublk-fw-ctl recover`, then the
# verify phase, for memory, loop and stripe in reissue mode (null: LIVE again,
# fio ends without error); requeue mode's rule, checked block by block;
# ext4 across a kill; kill/recover cycles under load; the die filter;
# kill -9 without recovery; del racing I/O and add/del cycles; bad input.
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-recovery	# tmpfs in the guest
rm -rf "$W"; mkdir -p "$W"
PAT="python3 $TOP/tests/integration/pattern_io.py"
CYCLES=${UBLKFW_RECOVERY_CYCLES:-10}		# kill/recover under load
# del while fio runs: about 4 s a race in a TCG guest; 100 made this group
# the longest of make check (18 min), 20 by default (30 put a clean-clone
# make check at ~36 min warm, ~49 with the kernel build: over its 45-minute
# budget), UBLKFW_DEL_RACES=100 for the full run
DEL_RACES=${UBLKFW_DEL_RACES:-20}
# add/del with fio on each: 1000 took 27 min of a loaded TCG guest (about
# 1.6 s a cycle), more than make check's 45-minute budget allows once the
# network targets' groups joined it (150 took 190 s of a quiet guest); 40 by
# default (for the budget, as above), UBLKFW_ADD_DEL_CYCLES=1000 for the full run
ADD_DEL=${UBLKFW_ADD_DEL_CYCLES:-40}

# fio_verify_across_kill NAME ID: fio writes 48M with crc32c headers; the
# server is killed in the middle and recovered; then fio verifies it all.
fio_verify_across_kill() {
	fio --name=w --filename=/dev/ublkb$2 --rw=write --bs=8k --iodepth=16 --ioengine=io_uring \
		--direct=1 --size=48M --verify=crc32c --do_verify=0 --output-format=json \
		--output=$W/w.json >/dev/null 2>&1 &
	_fio=$!
	sleep 1
	check "$1: kill -9 the server during fio's write phase" kill9 "$2"
	recover_ok "$1" "$2"
	wait $_fio
	_rc=$?
	check "$1: fio's write phase ends without error across the kill (exit $_rc, $(jq '.jobs[0].error' $W/w.json 2>/dev/null) errors)" \
		sh -c "[ $_rc = 0 ] && [ \$(jq '.jobs[0].error' $W/w.json) = 0 ]"
	fio_ok "$1: fio crc32c verify phase after recovery" --name=w --filename=/dev/ublkb$2 \
		--rw=write --bs=8k --iodepth=16 --ioengine=io_uring --direct=1 --size=48M \
		--verify=crc32c --verify_only=1 --verify_fatal=1
}

# ---- reissue: nothing lost, for every data-bearing target ------------------
if id=$(add_dev -t memory -s 64M -q 2 --recovery reissue); then
	check "memory: list shows the recovery mode" sh -c \
		"'$CTL' list -n $id --json | jq -e '.[0].flag_names | index(\"USER_RECOVERY_REISSUE\") != null'"
	fio_verify_across_kill "memory reissue" $id
	check "memory: del removes the data file too" sh -c "'$CTL' del -n $id && ! ls /run/ublk-fw/$id.* 2>/dev/null"
else fail "memory reissue: add"; fi
mkfile $W/a.img 64M
if id=$(add_dev -t loop --recovery reissue $W/a.img); then
	fio_verify_across_kill "loop reissue" $id
	"$CTL" del -n $id >/dev/null
else fail "loop reissue: add"; fi
# a relative backing path: recover starts the server where the first one was
if id=$(cd $W && add_dev -t loop --recovery reissue a.img); then
	check "relative path: kill -9" kill9 $id
	recover_ok "relative path (recover run from another directory)" $id
	check "relative path: the new server serves a.img" sh -c \
		"ls -l /proc/\$('$CTL' list -n $id --json | jq .[0].pid)/fd | grep -q '$W/a.img'"
	"$CTL" del -n $id >/dev/null
else fail "relative path: add"; fi
mkfile $W/s1.img 32M; mkfile $W/s2.img 32M
if id=$(add_dev -t stripe --recovery reissue $W/s1.img $W/s2.img); then
	fio_verify_across_kill "stripe reissue" $id
	"$CTL" del -n $id >/dev/null
else fail "stripe reissue: add"; fi
if id=$(add_dev -t null -s 1G --recovery reissue); then
	fio --name=n --filename=/dev/ublkb$id --rw=randrw --bs=4k --iodepth=32 --ioengine=io_uring \
		--direct=1 --runtime=4 --time_based --output-format=json --output=$W/n.json >/dev/null 2>&1 &
	f=$!
	sleep 1
	check "null reissue: kill -9 under fio" kill9 $id
	recover_ok "null reissue" $id
	wait $f; rc=$?
	check "null reissue: fio finishes without error (exit $rc)" sh -c \
		"[ $rc = 0 ] && [ \$(jq '.jobs[0].error' $W/n.json) = 0 ]"
	"$CTL" del -n $id >/dev/null
else fail "null reissue: add"; fi

# ---- recover --all: every device whose server is gone ----------------------
if a=$(add_dev -t null -s 64M --recovery reissue) && b=$(add_dev -t memory -s 16M --recovery requeue) &&
   c=$(add_dev -t null -s 64M); then
	kill9 $a; kill9 $b
	check "recover --all: both dead servers' devices are QUIESCED" sh -c \
		"[ \"\$('$CTL' list -n $a --json | jq -r '.[0].state')\" = QUIESCED ] &&
		 [ \"\$('$CTL' list -n $b --json | jq -r '.[0].state')\" = QUIESCED ]"
	cpid=$(server_pid $c)
	check "recover --all" "$CTL" recover --all
	check "recover --all: both LIVE again, the live one untouched" sh -c \
		"[ \"\$('$CTL' list -n $a --json | jq -r '.[0].state')\" = LIVE ] &&
		 [ \"\$('$CTL' list -n $b --json | jq -r '.[0].state')\" = LIVE ] &&
		 [ \"\$('$CTL' list -n $c --json | jq '.[0].pid')\" = $cpid ]"
	check "recover --all with nothing to recover says so" sh -c "'$CTL' recover --all | grep -q 'no device to recover'"
	"$CTL" del --all > /dev/null
else fail "recover --all: add"; fi

# ---- requeue and reissue, block by block -----------------------------------
# USER_RECOVERY without REISSUE: a request the server had fetched and not
# completed when it died fails with EIO; requests after the death wait and are
# served by the new server.  One writer at QD1: at most one write may fail,
# and every acknowledged block reads back intact.  With REISSUE none fails.
# pattern_across_kill MODE WHAT-RESULT-MUST-MATCH
pattern_across_kill() {
	if ! id=$(add_dev -t memory -s 64M --recovery $1); then
		fail "$1 pattern: add"
		return
	fi
	$PAT write /dev/ublkb$id $W/$1.log 800 &
	_p=$!
	sleep 1
	check "$1: kill -9 during the writes" kill9 $id
	recover_ok "$1" $id
	wait $_p
	res=$($PAT check /dev/ublkb$id $W/$1.log)
	check "$1: all 800 writes answered, every acknowledged block intact, $3 ($res)" sh -c \
		"echo '$res' | grep -Eq '$2' && [ \$(wc -l < $W/$1.log) = 800 ]"
	"$CTL" del -n $id >/dev/null
}
pattern_across_kill requeue '^acked [0-9]+ failed [01] corrupt 0$' "at most the one in flight failed"
pattern_across_kill reissue '^acked 800 failed 0 corrupt 0$' "none failed"

# ---- ext4 across a kill ------------------------------------------------------
mkfile $W/fs.img 256M
if id=$(add_dev -t loop --recovery reissue $W/fs.img); then
	mkfs.ext4 -q -F /dev/ublkb$id && mkdir -p $W/mnt && mount /dev/ublkb$id $W/mnt
	: > $W/synced
	# 150 files: the kill comes 2 s in, a few files into the loop, and each
	# file costs ~4 program starts (~0.4 s under TCG): 400 made this the
	# group's longest part (150 s writing, 70 s reading back) for no more
	# files around the kill.
	( i=0; while [ $i -lt 150 ]; do
		head -c $((4096 + i * 97)) /dev/urandom > $W/mnt/f$i && sync $W/mnt/f$i &&
			echo "f$i $(sha256sum < $W/mnt/f$i | cut -d' ' -f1)" >> $W/synced
		i=$((i + 1)); done ) &
	w=$!
	sleep 2
	check "ext4: kill -9 mid-write" kill9 $id
	recover_ok "ext4" $id
	wait $w
	sync
	umount $W/mnt
	check "ext4: e2fsck -fn clean after the kill and recovery" e2fsck -fn /dev/ublkb$id
	mount /dev/ublkb$id $W/mnt
	bad=0; n=0
	while read -r f sum; do
		n=$((n + 1))
		[ "$(sha256sum < $W/mnt/$f | cut -d' ' -f1)" = "$sum" ] || bad=$((bad + 1))
	done < $W/synced
	check "ext4: all $n files fsynced before and after the kill read back ($bad differ)" test "$bad" = 0 -a "$n" -gt 100
	umount $W/mnt
	"$CTL" del -n $id >/dev/null
else fail "ext4: add"; fi

# ---- kill/recover cycles under load ---------------------------------------
if id=$(add_dev -t memory -s 64M -q 2 --recovery reissue); then
	fio --name=c --filename=/dev/ublkb$id --rw=randwrite --bs=4k --iodepth=16 --ioengine=io_uring \
		--direct=1 --size=32M --verify=crc32c --do_verify=0 --time_based --runtime=$((CYCLES * 3 + 5)) \
		--output-format=json --output=$W/c.json >/dev/null 2>&1 &
	f=$!
	ok=0
	for c in $(seq 1 $CYCLES); do
		sleep 1
		kill9 $id && "$CTL" recover -n $id >/dev/null && [ "$(dev_state $id)" = LIVE ] && ok=$((ok + 1))
		[ $c = 1 ] && len1=$(jq '.restart | length' /run/ublk-fw/$id.json)
	done
	check "cycles: $ok of $CYCLES kill -9 / recover cycles under fio came back LIVE" test "$ok" = "$CYCLES"
	len=$(jq '.restart | length' /run/ublk-fw/$id.json)
	check "cycles: the recorded restart command does not grow ($len1 words after the first, $len after the last)" \
		test "$len" = "$len1"
	check "cycles: it is the tool's add, the target and its options" jq -e --arg ctl "$(realpath "$CTL")" \
		'.restart[0] == $ctl and .restart[1:4] == ["add", "-t", "memory"] and (.restart | index("-s")) != null' /run/ublk-fw/$id.json
	wait $f; rc=$?
	check "cycles: fio ran through all of them without an error (exit $rc)" sh -c \
		"[ $rc = 0 ] && [ \$(jq '.jobs[0].error' $W/c.json) = 0 ]"
	"$CTL" del -n $id >/dev/null
else fail "cycles: add"; fi

# ---- a server that dies by itself mid-request (the die filter) -------------
# The filter kills its server at its 700th request, and every new server
# counts from 0 with the same options: the first dies during the 1000
# writes, the second during the read-back (its ~300 writes, then reads),
# the third serves the rest.  Each time the held request is re-issued.
wait_not_live() {
	_w_i=0
	while [ "$(dev_state $1)" = LIVE ] && [ $_w_i -lt 600 ]; do _w_i=$((_w_i + 1)); sleep 0.1; done
	[ "$(dev_state $1)" != LIVE ]
}
if id=$(add_dev -t memory -s 64M --recovery reissue --filter die --die-after 700); then
	$PAT write /dev/ublkb$id $W/die.log 1000 &
	p=$!
	check "die: the server died at request 700 during the writes" wait_not_live $id
	check "die: it said so in its log" grep -q "request 700 .*dying by SIGKILL" /run/ublk-fw/$id.log
	recover_ok "die" $id
	wait $p
	$PAT check /dev/ublkb$id $W/die.log > $W/die.check &
	p=$!
	check "die: the second server died at its request 700, during the read-back" wait_not_live $id
	recover_ok "die (second)" $id
	wait $p
	res=$(cat $W/die.check)
	check "die: two deaths in the log" test "$(grep -c 'dying by SIGKILL' /run/ublk-fw/$id.log)" = 2
	check "die: the re-issued write and read and all the rest completed ($res)" sh -c \
		"echo '$res' | grep -q '^acked 1000 failed 0 corrupt 0$'"
	"$CTL" del -n $id >/dev/null
else fail "die: add"; fi

# ---- fail-io needs Linux 6.13 -------------------------------------------
if "$CTL" features --json | jq -e '.names | index("USER_RECOVERY_FAIL_IO") == null' >/dev/null; then
	expect_error "fail-io: refused where the kernel lacks it" "lacks the requested feature.*USER_RECOVERY_FAIL_IO" \
		"$CTL" add -t null -s 16M --recovery fail-io
fi

# ---- without recovery: the device goes away ---------------------------------
if id=$(add_dev -t memory -s 32M); then
	kill9 $id
	i=0; while [ -e /dev/ublkb$id ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
	check "no recovery: the block device goes away with its server" test ! -e /dev/ublkb$id
	expect_error "no recovery: recover refuses" "created without --recovery|no ublk device" "$CTL" recover -n $id
	check "no recovery: del cleans up" "$CTL" del -n $id
	check "no recovery: nothing left in list or /run/ublk-fw" sh -c \
		"[ \$('$CTL' list --json | jq length) = 0 ] && ! ls /run/ublk-fw/$id.* 2>/dev/null"
else fail "no recovery: add"; fi

# ---- I/O against removal --------------------------------------------------
hung=0; left=0
for r in $(seq 1 $DEL_RACES); do
	id=$(add_dev -t null -s 256M -q 2) || { left=$((left + 1)); continue; }
	fio --name=r --filename=/dev/ublkb$id --rw=randrw --bs=4k --iodepth=128 --numjobs=2 \
		--ioengine=io_uring --direct=1 --runtime=20 --time_based >/dev/null 2>&1 &
	f=$!
	sleep 0.2
	timeout 60 "$CTL" del -n $id >/dev/null || hung=$((hung + 1))
	timeout 30 sh -c "while kill -0 $f 2>/dev/null; do sleep 0.1; done" || hung=$((hung + 1))
	kill -9 $f 2>/dev/null; wait $f 2>/dev/null
	[ -e /dev/ublkb$id ] && left=$((left + 1))
done
check "del under 2 fio jobs at QD128, $DEL_RACES times: no hang ($hung), nothing left ($left)" test $hung = 0 -a $left = 0
hung=0; left=0
for r in $(seq 1 $ADD_DEL); do
	id=$(add_dev -t null -s 64M) || { left=$((left + 1)); continue; }
	fio --name=a --filename=/dev/ublkb$id --rw=randread --bs=4k --iodepth=8 --ioengine=io_uring \
		--direct=1 --runtime=5 --time_based >/dev/null 2>&1 &
	f=$!
	timeout 60 "$CTL" del -n $id >/dev/null || hung=$((hung + 1))
	wait $f 2>/dev/null
done
check "$ADD_DEL add/del cycles with fio started on each: no hang ($hung), no failure ($left)" test $hung = 0 -a $left = 0
check "after the cycles: no device, no file in /run/ublk-fw" sh -c \
	"[ \$('$CTL' list --json | jq length) = 0 ] && [ -z \"\$(ls /run/ublk-fw | grep -v '^dead-[0-9]*\.log$')\" ]"

# ---- bad input -------------------------------------------------------------
expect_error "bad: --recovery mode" "invalid --recovery 'sometimes'" "$CTL" add -t null -s 16M --recovery sometimes
expect_error "bad: recover an unknown id" "no ublk device with id 4242" "$CTL" recover -n 4242
expect_error "bad: recover without -n" "give the device with -n ID or --all" "$CTL" recover
if id=$(add_dev -t null -s 16M --recovery reissue); then
	expect_error "bad: recover a LIVE device" "device $id is LIVE" "$CTL" recover -n $id
	expect_error "bad: --recover without -n" "--recover needs -n ID" "$CTL" add -t null -s 16M --recover
	check "bad input changed nothing: still LIVE" test "$(dev_state $id)" = LIVE
	"$CTL" del -n $id >/dev/null
else fail "bad: add"; fi
rm -rf "$W"

t_summary
