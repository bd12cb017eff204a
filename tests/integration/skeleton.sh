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
i=0; while ! grep -q '^/dev/ublkb3 (id 3)$' "$OUT/fg.out" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
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

# ---- SIGHUP (terminal gone) and SIGPIPE (stdout closed) of a foreground
# server: a clean stop, and no death ----------------------------------------
"$CTL" add -t null -n 3 -s 128M --foreground > "$OUT/fg.out" 2>&1 &
srv=$!
# once it has said so (a signal earlier is one during start-up: see below)
i=0; while ! grep -q '^/dev/ublkb3 (id 3)$' "$OUT/fg.out" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -HUP "$srv"
wait "$srv"
rc=$?
check "SIGHUP: a clean stop, exit status 0 (was $rc)" test "$rc" = 0
check "SIGHUP: device deleted" wait_gone 3 5
# head exits at once: the server's "/dev/ublkb3 (id 3)" meets a closed pipe
"$CTL" add -t null -n 3 -s 128M --foreground 2> "$OUT/fg.err" | head -c 0 &
i=0; while [ "$(dev_state 3)" != LIVE ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
check "SIGPIPE: a foreground server whose stdout is closed serves on" sh -c \
	"[ \"\$('$CTL' list -n 3 --json | jq -r '.[0].state')\" = LIVE ] &&
	 kill -0 \$('$CTL' list -n 3 --json | jq .[0].pid)"
check "SIGPIPE: and stops cleanly on del" "$CTL" del -n 3
wait

# ---- a stopped server: list and stats answer anyway, naming the device -----
if id=$(add_dev -t null -s 64M --filter stats); then
	pid=$(server_pid $id)
	kill -STOP $pid
	t0=$(date +%s%N)
	out=$(timeout 30 "$CTL" list -n $id --json 2> "$OUT/stop.err")
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "SIGSTOP: list returns ($rc) within the 3 s client timeout (${ms} ms)" test "$rc" = 0 -a "$ms" -lt 8000
	check "SIGSTOP: list shows the device, without stats" sh -c \
		"echo '$out' | jq -e '.[0].state == \"LIVE\" and .[0].stats == null'"
	check "SIGSTOP: and says which device did not answer" \
		grep -q "device $id's server did not answer within 3 s" "$OUT/stop.err"
	expect_error "SIGSTOP: stats names the device" "device $id's server did not answer within 3 s" \
		timeout 30 "$CTL" stats -n $id
	kill -CONT $pid
	check "SIGCONT: stats answer again" sh -c "'$CTL' list -n $id --json | jq -e '.[0].stats.zc_ios == 0'"
	"$CTL" del -n $id > /dev/null
else
	fail "SIGSTOP: add"
fi

# ---- a daemon of its own: no inherited descriptor, /, umask 077, no tty ----
if id=$(sh -c "exec 7< /etc/hostname; umask 000; cd /tmp && exec '$CTL' add -t null -s 64M" |
	sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p') && [ -n "$id" ]; then
	pid=$(server_pid $id)
	check "daemon: works in /" test "$(readlink /proc/$pid/cwd)" = /
	check "daemon: umask 077, not the caller's 000" grep -q "^Umask:[[:space:]]*0077" /proc/$pid/status
	check "daemon: stdin is /dev/null, stdout and stderr the log" sh -c \
		"[ \$(readlink /proc/$pid/fd/0) = /dev/null ] && [ \$(readlink /proc/$pid/fd/1) = /run/ublk-fw/$id.log ] &&
		 [ \$(readlink /proc/$pid/fd/2) = /run/ublk-fw/$id.log ]"
	check "daemon: the caller's descriptor 7 is not inherited" sh -c \
		"! ls -l /proc/$pid/fd | grep -q /etc/hostname"
	check "daemon: its own session (no controlling terminal)" test "$(ps -o sid= -p $pid | tr -d ' ')" = "$pid"
	check "daemon: the state file records where it was started" jq -e '.cwd == "/tmp"' /run/ublk-fw/$id.json
	"$CTL" del -n $id > /dev/null
else
	fail "daemon: add"
fi
# a symlink planted where the log goes is replaced, never written through
echo keep > "$OUT/victim"; mkdir -p /run/ublk-fw; ln -sf "$OUT/victim" /run/ublk-fw/6.log
if id=$(add_dev -t null -n 6 -s 64M); then
	check "log: a planted symlink is not written through" sh -c "[ \"\$(cat '$OUT/victim')\" = keep ]"
	check "log: the server's log is a regular file of mode 0600" sh -c \
		"[ -f /run/ublk-fw/6.log ] && [ ! -L /run/ublk-fw/6.log ] && [ \$(stat -c %a /run/ublk-fw/6.log) = 600 ]"
	"$CTL" del -n 6 > /dev/null
else
	fail "log: add -n 6 over a planted symlink"
fi
expect_error "a relative UBLKFW_RUN_DIR" "UBLKFW_RUN_DIR 'run' is not an absolute path" \
	env UBLKFW_RUN_DIR=run "$CTL" add -t null -s 64M

# ---- the server's sockets against other users and floods -----------------
PEER="python3 $TOP/tests/integration/sock_peer.py"
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
if id=$(add_dev -t null -s 64M); then
	pid=$(server_pid $id); S=/run/ublk-fw/$id
	check "sockets: .sock and .ctl are mode 0600" sh -c \
		"[ \$(stat -c %a $S.sock) = 600 ] && [ \$(stat -c %a $S.ctl) = 600 ]"
	chmod 666 $S.sock $S.ctl	# a careless admin: the peer check still holds
	check "sockets: another user is closed without an answer" sh -c \
		"[ \"\$(setpriv --reuid=65534 --regid=65534 --clear-groups $PEER ask $S.ctl)\" = closed ]"
	check "sockets: and the server says who it refused" grep -q "refused a connection of uid 65534" /run/ublk-fw/$id.log
	check "sockets: root still gets its answer" sh -c "$PEER ask $S.ctl | grep -q '^reply [1-9]'"
	# 100 silent connections: at most 32 are taken, the rest wait or fail
	: > "$OUT/hold.out"
	$PEER hold $S.ctl 100 3 > "$OUT/hold.out" &
	h=$!
	i=0; while [ ! -s "$OUT/hold.out" ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
	fds=$(ls /proc/$pid/fd | wc -l); t0=$(cpu_ticks $pid); sleep 1; t1=$(cpu_ticks $pid)
	check "flood: the server holds a bounded number of descriptors ($fds)" test "$fds" -lt 80
	check "flood: and does not spin ($((t1 - t0)) ticks of CPU in 1 s)" test $((t1 - t0)) -lt 20
	wait $h
	check "flood: the flood got only part of its 100 connections ($(cat "$OUT/hold.out"))" sh -c \
		"n=\$(sed -n 's/connected //p' '$OUT/hold.out'); [ \$n -ge 32 ] && [ \$n -lt 100 ]"
	check "flood: served again once it is over" sh -c "sleep 1; $PEER ask $S.ctl | grep -q '^reply [1-9]'"
	# idle connections are closed after 5 s
	: > "$OUT/hold.out"
	$PEER hold $S.ctl 32 8 > "$OUT/hold.out" &
	h=$!
	i=0; while [ ! -s "$OUT/hold.out" ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
	check "idle: 32 silent connections lock others out" sh -c "timeout 2 $PEER ask $S.ctl; [ \$? != 0 ]"
	sleep 6
	check "idle: after 5 s of silence they are closed and others served" sh -c "$PEER ask $S.ctl | grep -q '^reply [1-9]'"
	wait $h
	# out of descriptors: accepting pauses, no spin on EMFILE
	prlimit --pid $pid --nofile=$(( $(ls /proc/$pid/fd | wc -l) + 4 ))
	$PEER hold $S.ctl 30 3 > /dev/null &
	h=$!
	sleep 1
	t0=$(cpu_ticks $pid); sleep 1; t1=$(cpu_ticks $pid)
	check "EMFILE: the server does not spin ($((t1 - t0)) ticks of CPU in 1 s)" test $((t1 - t0)) -lt 20
	check "EMFILE: it pauses accepting and says so" grep -q "cannot accept: Too many open files: not accepting for 0.5 s" /run/ublk-fw/$id.log
	wait $h
	prlimit --pid $pid --nofile=1024
	check "EMFILE: served again once descriptors are free" sh -c "sleep 1; $PEER ask $S.ctl | grep -q '^reply [1-9]'"
	"$CTL" del -n $id > /dev/null
else
	fail "sockets: add"
fi

# ---- a stop signal during start-up: add fails and leaves nothing ----------
# ^C in a terminal: SIGINT to add's whole process group, at moments spread
# over the start-up; either add reported a LIVE device, or there is none.
bad=0
for d in 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.7; do
	setsid sh -c "exec '$CTL' add -t null -n 4 -s 64M > '$OUT/int.out' 2>&1" &
	sleep $d
	pg=$(ps -o pgid= -p $! 2>/dev/null | tr -d ' ')
	[ -n "$pg" ] && kill -INT -- -"$pg" 2>/dev/null
	wait $! 2>/dev/null
	sleep 1
	st=$(dev_state 4)
	if grep -q '^/dev/ublkb4 (id 4)$' "$OUT/int.out"; then
		[ "$st" = LIVE ] || { bad=$((bad + 1)); say "     $d s: add reported /dev/ublkb4, now ${st:-gone}"; }
	elif [ -n "$st" ] || ls /run/ublk-fw/4.* > /dev/null 2>&1; then
		bad=$((bad + 1)); say "     $d s: add failed ($(head -1 "$OUT/int.out")), but device ${st:-files} left"
	fi
	"$CTL" del -n 4 > /dev/null 2>&1
	wait_gone 4 5
done
check "SIGINT to add's process group at 8 moments of start-up: no half-started device ($bad)" test "$bad" = 0

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
	echo "a line of the dead server" >> /run/ublk-fw/5.log
	"$CTL" del -n 5 > "$OUT/del5.out"
	rc=$?
	check "SIGKILL: del removes the orphan (exit $rc: $(cat "$OUT/del5.out"))" test $rc = 0
	check "SIGKILL: del says where the dead server's log is" \
		grep -q "device 5's server had died: its last log is /run/ublk-fw/dead-5.log" "$OUT/del5.out"
	check "SIGKILL: and it is kept there" grep -q "a line of the dead server" /run/ublk-fw/dead-5.log
	check "SIGKILL: both nodes gone" wait_gone 5 5
	check "SIGKILL: state file removed" test ! -e /run/ublk-fw/5.json
	if id2=$(add_dev -t null -n 5 -s 128M); then
		pass "SIGKILL: the same id can be added again"
		check "SIGKILL: the new server's log did not replace the dead one's" \
			grep -q "a line of the dead server" /run/ublk-fw/dead-5.log
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
expect_error "size beyond what the kernel addresses (8 EiB)" "more than the kernel can address: give at most 9223372036854775296 bytes" \
	"$CTL" add -t null -s 8192P
expect_error "size 16383P" "more than the kernel can address" "$CTL" add -t null -s 16383P
expect_error "size 2^64 - 512" "more than the kernel can address" "$CTL" add -t null -s 18446744073709551104
expect_error "size over 64 bits" "invalid size '16384P'" "$CTL" add -t null -s 16384P
expect_error "queues 0" "invalid queue count '0'" "$CTL" add -t null -q 0
expect_error "queues > 4096" "invalid queue count '4097'" "$CTL" add -t null -q 4097
expect_error "depth 0" "invalid queue depth '0'" "$CTL" add -t null -d 0
expect_error "depth > 4096" "invalid queue depth '5000'" "$CTL" add -t null -d 5000
expect_error "max-io not a power of two" "invalid --max-io '3000'" "$CTL" add -t null --max-io 3000
expect_error "unknown option" "unknown option '--bogus'" "$CTL" add -t null --bogus
expect_error "missing option value" "option '-q' needs a value" "$CTL" add -t null -q
expect_error "unknown option in a cluster names it" "unknown option '-x'" "$CTL" add -t null -xq 2
expect_error "unknown long option without its value" "unknown option '--bogus' " "$CTL" add -t null --bogus=3
expect_error "two targets" "two targets \('null', then 'loop'\): give -t once" "$CTL" add -t null -t loop
for sub in list del stats recover; do
	expect_error "$sub -n without a value" "$sub: option '-n' needs a value" "$CTL" $sub -n
done
expect_error "list with an extra argument" "list: unexpected argument 'garbage'" "$CTL" list garbage
expect_error "features with an extra argument" "features: unexpected argument 'extra'" "$CTL" features --json extra
expect_error "stats with an extra argument" "stats: unexpected argument 'x'" "$CTL" stats -n 1 x
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
# more queues than CPUs: the kernel gives fewer, and add says so
out=$("$CTL" add -t null -s 64M -q 1000 2>&1)
id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p')
check "-q 1000: add says how many queues the kernel gave ($(printf '%s' "$out" | head -1))" sh -c \
	"printf '%s' '$out' | grep -q '1000 queues asked for, the kernel gives $(nproc)'"
[ -n "$id" ] && "$CTL" del -n $id > /dev/null
# the largest size accepted gives a working device
if id=$(add_dev -t null -s 8191P); then
	check "size 8191P: the block device has 8191 PiB" test "$(blockdev --getsize64 /dev/ublkb$id)" = 9222246136947933184
	check "size 8191P: its last 4K block reads" dd if=/dev/ublkb$id of=/dev/null bs=4k iflag=direct \
		skip=$((9222246136947933184 / 4096 - 1)) count=1
	"$CTL" del -n $id > /dev/null
else
	fail "size 8191P: add"
fi
check "bad input left no device behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ]"
check "bad input left no state file behind" sh -c "[ -z \"\$(ls /run/ublk-fw/*.json 2>/dev/null)\" ]"

# ---- del --all ----------------------------------------------------------
add_dev -t null -s 16M > /dev/null && add_dev -t null -q 2 -s 16M > /dev/null
check "del --all removes every device" sh -c "'$CTL' del --all > /dev/null && [ \$('$CTL' list --json | jq length) = 0 ]"

t_summary
