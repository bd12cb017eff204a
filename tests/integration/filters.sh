#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 1500
#
# Filters on a real kernel: a stack of stats, delay and error over loop,
# memory, stripe and the out-of-tree example passes fio crc32c verify while
# the error range fails; the error filter's rate, --error-after and seed;
# delays that overlap on libev timers; the stack's order; the die filter's
# crash; ublk-fw-ctl stats (exact counts, --json, --watch); the rate filter's
# limits; and bad input.
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-filters	# tmpfs in the guest
rm -rf "$W"; mkdir -p "$W"
EX="$TOP/build/examples/ublk-ramdisk"

# stat_of ID OP KEY: a counter of the device's (first) stats filter
stat_of() {
	"$CTL" stats -n "$1" --json | jq -e ".[0].stats.ops.$2.$3"
}

# ---- a stack over every data-bearing target --------------------------------
# The first 32 MiB verify; sectors 131072-139263 (64 MiB .. 68 MiB) always fail.
STACK="--filter stats --filter delay --delay-us 300 --delay-random --delay-seed 3
       --filter error --error-op any --error-sectors 131072-139263 --error-rate 1"
stack_checks() {	# stack_checks NAME ID
	fio_ok "$1 + stats/delay/error: fio crc32c verify" --name=v --filename=/dev/ublkb$2 \
		--rw=randwrite --bs=8k --iodepth=16 --ioengine=io_uring --direct=1 --size=32M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0
	check "$1: a read in the error range fails" sh -c \
		"! dd if=/dev/ublkb$2 of=/dev/null bs=4k count=1 skip=$((65 << 8)) iflag=direct 2>/dev/null"
	check "$1: a write in the error range fails" sh -c \
		"! dd if=/dev/zero of=/dev/ublkb$2 bs=4k count=1 seek=$((66 << 8)) oflag=direct 2>/dev/null"
	check "$1: a read just before the range succeeds" \
		dd if=/dev/ublkb$2 of=/dev/null bs=4k count=1 skip=$(((64 << 8) - 1)) iflag=direct
	check "$1: stats (top) counted the errors from below" sh -c \
		"[ \$('$CTL' stats -n $2 --json | jq '.[0].stats.ops.read.errors + .[0].stats.ops.write.errors') -ge 2 ]"
	check "$1: list --json shows the stats filter" sh -c \
		"'$CTL' list -n $2 --json | jq -e '.[0].stats.filters | map(.name) == [\"stats\", \"error\"]'"
	"$CTL" del -n $2 >/dev/null
}
mkfile $W/a.img 96M
# shellcheck disable=SC2086
with_dev "loop" -t loop $STACK $W/a.img && stack_checks "loop" $id
# shellcheck disable=SC2086
with_dev "memory" -t memory -s 96M $STACK && stack_checks "memory" $id
mkfile $W/s1.img 48M; mkfile $W/s2.img 48M
# shellcheck disable=SC2086
with_dev "stripe" -t stripe --chunk-size 64K $STACK $W/s1.img $W/s2.img && stack_checks "stripe" $id
# shellcheck disable=SC2086
out=$("$EX" -s 96M $STACK 2>&1)
id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p')
if [ -n "$id" ]; then
	stack_checks "example (out of tree)" $id
else
	fail "example (out of tree): start with filters" "$out"
fi

# ---- error ---------------------------------------------------------------
# 20% of reads fail; fio counts them (continue_on_error)
with_dev "error rate" -t null -s 256M --filter error --error-rate 0.2 --error-op read --error-seed 7 && {
	fio --name=e --filename=/dev/ublkb$id --rw=randread --bs=4k --direct=1 --ioengine=psync \
		--number_ios=4000 --size=256M --continue_on_error=all --output-format=json \
		--output=$W/err.json > /dev/null 2>&1
	errs=$(jq '.jobs[0].total_err' $W/err.json)
	ios=$(jq '.jobs[0].read.total_ios' $W/err.json)	# errors included
	check "error: observed read error rate $errs/$ios is 0.2 +- 0.03" \
		awk "BEGIN { r = $errs / $ios; exit !(r > 0.17 && r < 0.23) }"
	check "error: writes unaffected with --error-op read" dd if=/dev/zero of=/dev/ublkb$id \
		bs=64k count=256 oflag=direct
	"$CTL" del -n $id >/dev/null
}
# the same seed and the same single-queue I/O sequence fail the same requests
for run in 1 2; do
	id=$(add_dev -t null -s 64M --filter error --error-rate 0.3 --error-seed 42) ||
		{ fail "error seed: add"; break; }
	i=0; res=""
	while [ $i -lt 60 ]; do
		if dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 skip=$i iflag=direct 2>/dev/null; then
			res="${res}o"
		else
			res="${res}x"
		fi
		i=$((i + 1))
	done
	eval "pattern$run=$res"
	"$CTL" del -n $id >/dev/null
done
check "error: --error-seed 42 gives the same error pattern twice ($pattern1)" \
	sh -c "[ '$pattern1' = '$pattern2' ] && echo '$pattern1' | grep -q x && echo '$pattern1' | grep -q o"
mkfile $W/f.img 64M
with_dev "error after" -t loop --filter error --error-rate 1 --error-op write --error-after 2000 $W/f.img && {
	fio --name=w --filename=/dev/ublkb$id --rw=write --bs=4k --direct=1 --ioengine=psync \
		--size=12M --continue_on_error=all --output-format=json \
		--output=$W/after.json > /dev/null 2>&1
	check "error: --error-after 2000: the first 2000 writes succeed, the other 1072 fail ($(jq .jobs[0].total_err $W/after.json) errors of 3072)" \
		test "$(jq .jobs[0].total_err $W/after.json)" = 1072
	check "error: reads still served after the errors" dd if=/dev/ublkb$id of=/dev/null bs=1M \
		count=32 iflag=direct
	check "error: its own counters say 1072 injected" sh -c \
		"'$CTL' list -n $id --json | jq -e '.[0].stats.filters[0].stats.injected == 1072'"
	"$CTL" del -n $id >/dev/null
}

# sector 0 is a range like any other
with_dev "error sector 0" -t null -s 16M --filter error --error-sectors 0-0 --error-rate 1 && {
	check "error: --error-sectors 0-0 fails a read of sector 0" sh -c \
		"! dd if=/dev/ublkb$id of=/dev/null bs=512 count=1 iflag=direct 2>/dev/null"
	check "error: --error-sectors 0-0 leaves sector 8000 alone" \
		dd if=/dev/ublkb$id of=/dev/null bs=512 count=1 skip=8000 iflag=direct
	"$CTL" del -n $id >/dev/null
}

# ---- delay -----------------------------------------------------------------
# delays run on libev timers: 16 requests in flight each take >= 2 ms, concurrently
with_dev "delay" -t null -s 64M --filter delay --delay-read-us 2000 && {
	fio --name=d --filename=/dev/ublkb$id --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=16 --runtime=3 --time_based --output-format=json --output=$W/delay.json >/dev/null 2>&1
	# total latency (lat): fio's clat of an async engine starts after submission
	lat=$(jq '.jobs[0].read.lat_ns.min / 1000 | floor' $W/delay.json)
	iops=$(jq '.jobs[0].read.iops | floor' $W/delay.json)
	check "delay: every read delayed >= 2000 us (min total latency $lat us)" test "$lat" -ge 2000
	check "delay: delays overlap, the loop never sleeps ($iops IOPS at QD16 > 1000; one request at a time gives < 500)" \
		test "$iops" -gt 1000
	# A delay is a lower bound on every request's latency: a delayed write
	# could not have a minimum under 2 ms, however busy the host (the mean
	# could, and did, pass 2 ms on a loaded host with undelayed writes).
	check "delay: --delay-read-us leaves writes undelayed (fastest of 200 writes < 2000 us)" sh -c \
		"fio --name=w --filename=/dev/ublkb$id --rw=randwrite --bs=4k --direct=1 --ioengine=psync \
		 --number_ios=200 --output-format=json 2>/dev/null | jq -e '.jobs[0].write.lat_ns.min < 2000000'"
	"$CTL" del -n $id >/dev/null
}

# ---- order: the stack is top first ------------------------------------------
with_dev "order stats/error" -t null -s 64M --filter stats --filter error --error-rate 1 --error-op read && {
	dd if=/dev/ublkb$id of=/dev/null bs=4k count=5 skip=100 iflag=direct 2>/dev/null
	e=$(stat_of $id read errors)
	check "order: stats above error sees the failed reads ($e errors)" test "$e" -ge 5
	check "order: the state file lists the filters top first" \
		jq -e '.filters == ["stats", "error"]' /run/ublk-fw/$id.json
	"$CTL" del -n $id >/dev/null
}
with_dev "order error/stats" -t null -s 64M --filter error --error-rate 1 --error-op read --filter stats && {
	r0=$(stat_of $id read ios)
	dd if=/dev/ublkb$id of=/dev/null bs=4k count=5 skip=100 iflag=direct 2>/dev/null
	r1=$(stat_of $id read ios); e=$(stat_of $id read errors)
	check "order: stats below error never sees the reads error answered ($r0 reads before, $r1 after, $e errors)" \
		test "$r1" = "$r0" -a "$e" = 0
	"$CTL" del -n $id >/dev/null
}

# ---- stats -----------------------------------------------------------------
with_dev "stats" -t memory -s 64M -q 2 --filter stats && {
	r0=$(stat_of $id read ios); b0=$(stat_of $id read bytes); w0=$(stat_of $id write ios)
	dd if=/dev/ublkb$id of=/dev/null bs=4k count=100 iflag=direct 2>/dev/null
	dd if=/dev/urandom of=/dev/ublkb$id bs=64k count=10 oflag=direct 2>/dev/null
	r1=$(stat_of $id read ios); b1=$(stat_of $id read bytes)
	w1=$(stat_of $id write ios); wb=$(stat_of $id write bytes)
	check "stats: exactly 100 more reads of 4 KiB ($r0 -> $r1 reads, $b0 -> $b1 bytes)" \
		test "$r1" = $((r0 + 100)) -a "$b1" = $((b0 + 409600))
	check "stats: exactly 10 more writes of 64 KiB ($w0 -> $w1, $wb bytes)" \
		test "$w1" = $((w0 + 10)) -a "$wb" -ge 655360
	check "stats: the latency histogram holds every read" sh -c \
		"'$CTL' stats -n $id --json | jq -e '.[0].stats.ops.read | (.hist_us_log2 | add) == .ios and .lat_us_p50 <= .lat_us_p99 and .lat_us_p99 <= .lat_us_max'"
	check "stats: text shows a read line with the count" sh -c \
		"'$CTL' stats -n $id | grep -Eq '^read +$((r0 + 100)) '"
	check "stats: --watch --interval 0.2 --count 2 prints two lines of rates" sh -c \
		"[ \$('$CTL' stats -n $id --watch --interval 0.2 --count 2 | grep -c 'read .* IOPS') = 2 ]"
	check "stats: --watch --json prints one JSON sample a line" sh -c \
		"'$CTL' stats -n $id --watch --json --interval 0.1 --count 2 | jq -s -e 'length == 2 and (.[1][0].stats.ops.read.ios >= 100)'"
	"$CTL" del -n $id >/dev/null
}
with_dev "stats: none" -t null -s 16M && {
	expect_error "stats: a device without the stats filter" "has no stats filter: add the device with --filter stats" \
		"$CTL" stats -n $id
	"$CTL" del -n $id >/dev/null
}
expect_error "stats: no such device" "no server answers for device 4242" "$CTL" stats -n 4242
expect_error "stats: no -n" "give the device with -n ID" "$CTL" stats

# ---- rate -----------------------------------------------------------------
with_dev "rate iops" -t null -s 64M --filter rate --rate-iops 200 && {
	fio --name=r --filename=/dev/ublkb$id --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=16 --runtime=3 --time_based --output-format=json --output=$W/rate.json >/dev/null 2>&1
	iops=$(jq '.jobs[0].read.iops' $W/rate.json)
	check "rate: --rate-iops 200 holds fio at QD16 to $iops IOPS (<= 230, > 100)" \
		awk "BEGIN { exit !($iops <= 230 && $iops > 100) }"
	check "rate: requests waited" sh -c \
		"'$CTL' list -n $id --json | jq -e '.[0].stats.filters[0].stats.waited > 0'"
	"$CTL" del -n $id >/dev/null
}
with_dev "rate bw" -t null -s 64M -q 2 --filter rate --rate-bw 4M && {
	fio --name=r --filename=/dev/ublkb$id --rw=read --bs=64k --direct=1 --ioengine=io_uring \
		--iodepth=8 --numjobs=2 --group_reporting --runtime=3 --time_based --output-format=json \
		--output=$W/bw.json >/dev/null 2>&1
	bw=$(jq '.jobs[0].read.bw_bytes' $W/bw.json)
	check "rate: --rate-bw 4M over 2 queues holds 2 fio jobs to $bw bytes/s (<= 4.6 MiB/s, > 2 MiB/s)" \
		awk "BEGIN { exit !($bw <= 4.6 * 1048576 && $bw > 2 * 1048576) }"
	"$CTL" del -n $id >/dev/null
}

# more queues asked for than the kernel gives (it caps them at the CPUs):
# the limit is shared among the queues that exist
ncpu=$(nproc)
with_dev "rate capped queues" -t null -s 64M -q $((ncpu * 2)) --filter rate --rate-iops 400 && {
	nq=$("$CTL" list -n $id --json | jq '.[0].queues')
	fio --name=r --filename=/dev/ublkb$id --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=16 --numjobs=$ncpu --group_reporting --runtime=3 --time_based \
		--output-format=json --output=$W/rq.json >/dev/null 2>&1
	iops=$(jq '.jobs[0].read.iops' $W/rq.json)
	check "rate: -q $((ncpu * 2)) on $ncpu CPUs ($nq queues) still gives --rate-iops 400: $iops IOPS (<= 460, > 300)" \
		awk "BEGIN { exit !($iops <= 460 && $iops > 300) }"
	"$CTL" del -n $id >/dev/null
}

# ---- die -----------------------------------------------------------------
with_dev "die" -t memory -s 64M --filter die --die-after 300 && {
	pid=$("$CTL" list -n $id --json | jq '.[0].pid')
	fio --name=d --filename=/dev/ublkb$id --rw=randread --bs=4k --direct=1 --ioengine=psync \
		--number_ios=1000 --runtime=20 --output-format=json --output=$W/die.json >/dev/null 2>&1
	check "die: the server (pid $pid) is gone" sh -c \
		"i=0; while kill -0 $pid 2>/dev/null; do i=\$((i+1)); [ \$i -gt 100 ] && exit 1; sleep 0.1; done"
	check "die: its log says it died at request 300 by SIGKILL" \
		grep -q "die filter: request 300 .*dying by SIGKILL" /run/ublk-fw/$id.log
	check "die: fio saw the I/O fail after the death" sh -c \
		"[ \$(jq '.jobs[0].read.total_ios' $W/die.json) -lt 1000 ] || [ \$(jq '.jobs[0].error' $W/die.json) != 0 ]"
	check "die: del removes the dead server's device" "$CTL" del -n $id
	check "die: device gone" wait_gone "$id" 10
}

# ---- bad input: one line, non-zero exit, nothing left behind ---------------
before=$(nr_devices)
expect_error "bad: unknown filter" "unknown filter 'bogus': choose one of delay, error, die, stats, rate" \
	"$CTL" add -t null -s 16M --filter bogus
expect_error "bad: abbreviated --filter" "write --filter delay in full" "$CTL" add -t null -s 16M --filt delay
expect_error "bad: error rate" "invalid --error-rate '1.5'" "$CTL" add -t null -s 16M --filter error --error-rate 1.5
expect_error "bad: error op" "invalid --error-op 'trim'" "$CTL" add -t null -s 16M --filter error --error-op trim
expect_error "bad: error sectors" "invalid --error-sectors '9-3'" "$CTL" add -t null -s 16M --filter error --error-sectors 9-3
expect_error "bad: --interval without --watch" "--interval and --count go with --watch" "$CTL" stats -n 0 --interval 2
expect_error "bad: delay too long" "invalid --delay-us '99999999999'" "$CTL" add -t null -s 16M --filter delay --delay-us 99999999999
expect_error "bad: die without --die-after" "give --die-after N" "$CTL" add -t null -s 16M --filter die
expect_error "bad: rate without a limit" "give --rate-iops N or --rate-bw BYTES" "$CTL" add -t null -s 16M --filter rate
expect_error "bad: a filter's option without the filter" "unknown option '--delay-us'" "$CTL" add -t null -s 16M --delay-us 5
expect_error "bad: the example refuses an unknown filter too" "unknown filter 'nope'" "$EX" -s 16M --filter nope
check "bad input left no device behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ]"
rm -rf "$W"

t_summary
