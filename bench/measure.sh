#!/bin/bash
# SPDX-License-Identifier: MIT
#
# measure.sh - the measuring half of `make bench`: runs on a kernel with ublk
# and UBLK_F_SHMEM_ZC (the test guest booted by bench/bench.sh, or natively),
# sets up every device, runs the fio matrix and writes raw results:
#
#   OUT/meta.json     kernel, CPUs, settings, one entry per device
#   OUT/runs.jsonl    one line per fio run: device, job, repeat, server CPU
#                     ticks before/after, zero-copy counters, fio's exit code
#   OUT/fio/*.json    fio's own JSON output, one file per run
#
# bench/report.py turns them into the table, JSON and chart.
#
# usage: bench/measure.sh --out DIR [--smoke] [--repeats N] [--runtime S]
#                         [--size MIB] [--jobs "J1 J2"] [--devices "D1 D2"]
#                         [--rev GIT-REVISION (recorded in meta.json)]
#                         [--alt-ctl PATH]
#
# --alt-ctl: A/B-test a changed build of the framework or its targets: devices
# fw-null-alt, fw-mem-alt and fw-loop-alt are served by that ublk-fw-ctl binary
# (and raw-null-defer, on request, is raw-null with --defer rings;
# raw-null-touch3 is raw-null reading a byte of 3 more pages per request,
# the framework's extra pages per request: docs/benchmarks.md)
# (name them in --devices next to fw-null, fw-mem, fw-loop); the report then
# shows "alt / current" ratios.
#
# Measuring rules (from the project's measured perf notes): every device on
# the `none` scheduler; devices interleaved in each repeat (A B A B..., the
# order reversed every other job and every other repeat) so that paired
# devices run back to back;
# single-job fio runs pinned to CPU 0 (queue 0 of a 2-queue device, whose
# server thread is pinned there too), two-job runs split over CPUs 0 and 1.
set -u -o pipefail

TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/.." && pwd -P)}
CTL=$TOP/build/ublk-fw-ctl
RAW=$TOP/build/bench/raw-null
. "$TOP/bench/order.sh"	# flipped
OUT="" SMOKE=0 REPEATS=3 RUNTIME=5 SIZE_MB=256 JOBS="" DEVICES="" REV=unknown ALT_CTL=""
while [ $# -gt 0 ]; do
	case $1 in
	--out)		OUT=$2; shift 2 ;;
	--smoke)	SMOKE=1; shift ;;
	--repeats)	REPEATS=$2; shift 2 ;;
	--runtime)	RUNTIME=$2; shift 2 ;;
	--size)		SIZE_MB=$2; shift 2 ;;
	--jobs)		JOBS=$2; shift 2 ;;
	--devices)	DEVICES=$2; shift 2 ;;
	--rev)		REV=$2; shift 2 ;;
	--alt-ctl)	ALT_CTL=$2; shift 2 ;;
	*)		echo "measure: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$OUT" ] || { echo "measure: --out DIR is required" >&2; exit 2; }

ALL_JOBS="rr4k_qd1 rr4k_qd32 rw4k_qd32 rr4k_2q sr128k_qd8 sw128k_qd8 sr1m_qd8 sw1m_qd8"
SMOKE_JOBS="rr4k_qd32 rr4k_2q sr1m_qd8"
# Pairs sit next to each other: raw-null/fw-null, brd/fw-mem, kloop/fw-loop,
# fw-loop/fw-loop-uring (its tmpfs file served by io_uring, --io uring),
# copy/zero-copy, copy/user copy (fw-null/fw-null-uc, fw-mem/fw-mem-uc:
# --user-copy).
ALL_DEVICES="nullb raw-null fw-null fw-null-uc brd fw-mem fw-mem-uc kloop fw-loop fw-loop-uring fw-mem-hp fw-mem-zc fw-loop-hp fw-loop-zc"
[ -n "$JOBS" ] || { [ $SMOKE = 1 ] && JOBS=$SMOKE_JOBS || JOBS=$ALL_JOBS; }
[ -n "$DEVICES" ] || DEVICES=$ALL_DEVICES

say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

rm -rf "$OUT/fio"
mkdir -p "$OUT/fio" || die "cannot create $OUT"
: > "$OUT/runs.jsonl"
W=/dev/shm/ublkfw-bench		# tmpfs, natively and in the guest
HP=/dev/hugepages
HP_FILE_MB=16			# fio: 1M x QD8 buffers, rounded to huge pages
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

# ---- preconditions ----------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root"
[ -e /dev/ublk-control ] || modprobe ublk_drv 2>/dev/null
[ -e /dev/ublk-control ] || die "no /dev/ublk-control: this kernel has no ublk"
[ -x "$CTL" ] && [ -x "$RAW" ] || die "build first: make all build/bench/raw-null"
for c in fio jq losetup; do
	command -v $c > /dev/null || die "$c is not installed (scripts/install-deps.sh test)"
done
"$CTL" features --json | jq -e '.names | index("SHMEM_ZC")' > /dev/null ||
	die "this kernel's ublk has no SHMEM_ZC (boot the patched kernel: tests/vm/vmrun.sh -k patched)"
[ "$NCPU" -ge 2 ] || die "need at least 2 CPUs (have $NCPU)"

# ---- set-up, and tear-down on any exit ---------------------------------------
declare -A DEV PID FWID MEMOPT
# raw-null's devices and their options: raw-null-defer has SINGLE_ISSUER |
# DEFER_TASKRUN | COOP_TASKRUN rings, raw-null-touch3 reads a byte of 3 more
# pages per request
RAW_DEVS="raw-null raw-null-defer raw-null-touch3"
declare -A RAW_ARGS=([raw-null]="-q 2 -s 1G" [raw-null-defer]="-q 2 -s 1G --defer"
	[raw-null-touch3]="-q 2 -s 1G --touch 3")
LOADED_NULLB=0 LOADED_BRD=0 HP_ADDED=0 LOOPDEV=""
cleanup() {
	for id in "${FWID[@]}"; do "$CTL" del -n "$id" > /dev/null 2>&1; done
	for r in $RAW_DEVS; do
		if [ -n "${PID[$r]:-}" ]; then
			kill -TERM "${PID[$r]}" 2>/dev/null
			wait "${PID[$r]}" 2>/dev/null
		fi
	done
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null
	rm -rf "$W" "$HP"/ublkfw-bench-*
	if [ $HP_ADDED -gt 0 ]; then
		n=$(cat /proc/sys/vm/nr_hugepages)
		echo $((n - HP_ADDED)) > /proc/sys/vm/nr_hugepages
	fi
	[ $LOADED_NULLB = 1 ] && modprobe -r null_blk 2>/dev/null
	[ $LOADED_BRD = 1 ] && modprobe -r brd 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

needs() {	# needs DEVICE...: is any of them in the measured set?
	for d in "$@"; do case " $DEVICES " in *" $d "*) return 0 ;; esac; done
	return 1
}

# fw_add NAME ARGS...: an ublk-fw device; DEV[NAME], PID[NAME], FWID[NAME]
fw_add() {
	local name=$1 out id ctl=$CTL
	shift
	[[ $name == *-alt ]] && ctl=$ALT_CTL
	out=$("$ctl" add -q 2 "$@" 2>&1) || die "$ctl add $*: $out"
	id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id [0-9]*)$|\1|p')
	[ -n "$id" ] || die "ublk-fw-ctl add $*: unexpected output: $out"
	FWID[$name]=$id
	DEV[$name]=/dev/ublkb$id
	PID[$name]=$("$CTL" list -n "$id" --json | jq '.[0].pid')
	[ "${PID[$name]}" -gt 0 ] 2>/dev/null || die "$name: no server pid for ublk device $id"
}

prefill() {	# prefill DEV MIB: write every block once (brd and RAM disks allocate)
	dd if=/dev/zero of="$1" bs=1M count="$2" oflag=direct status=none ||
		die "prefilling $1 failed"
}

mkimg() {	# mkimg FILE: a backing file of SIZE_MB MiB of zeroes (on tmpfs)
	dd if=/dev/zero of="$1" bs=1M count="$SIZE_MB" status=none || die "no room for $1"
}

# start_raw NAME ARGS...: bench/raw-null in the background (it never
# daemonizes); DEV[NAME], PID[NAME]
start_raw() {
	local name=$1 i
	shift
	"$RAW" "$@" > "$W/$name.out" 2>&1 &
	PID[$name]=$!
	for i in $(seq 100); do
		grep -q '^/dev/ublkb' "$W/$name.out" 2>/dev/null && break
		kill -0 "${PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	DEV[$name]=$(sed -n 's|^\(/dev/ublkb[0-9]*\) .*|\1|p' "$W/$name.out")
	[ -b "${DEV[$name]}" ] || die "raw-null $* did not start: $(cat "$W/$name.out")"
}

mkdir -p "$W"
[ "$(stat -f -c %T "$W")" = tmpfs ] || die "$W is not on tmpfs"

if needs nullb; then
	if [ ! -b /dev/nullb0 ]; then
		[ -d /sys/module/null_blk ] && die "null_blk is loaded but has no /dev/nullb0"
		modprobe null_blk nr_devices=1 queue_mode=2 submit_queues=2 ||
			die "no /dev/nullb0 and modprobe null_blk failed"
		LOADED_NULLB=1
	fi
	DEV[nullb]=/dev/nullb0
fi
if needs brd; then
	if [ ! -b /dev/ram0 ]; then
		[ -d /sys/module/brd ] && die "brd is loaded but has no /dev/ram0"
		modprobe brd rd_nr=1 rd_size=$((SIZE_MB * 1024)) || die "no /dev/ram0 and modprobe brd failed"
		LOADED_BRD=1
	fi
	DEV[brd]=/dev/ram0
	prefill /dev/ram0 "$SIZE_MB"
fi
for r in $RAW_DEVS; do
	# shellcheck disable=SC2086
	needs $r && start_raw $r ${RAW_ARGS[$r]}
done
needs fw-null && fw_add fw-null -t null -s 1G
needs fw-null-uc && fw_add fw-null-uc -t null -s 1G --user-copy
if needs fw-mem fw-mem-hp; then
	fw_add fw-mem -t memory -s ${SIZE_MB}M
	prefill "${DEV[fw-mem]}" "$SIZE_MB"
	DEV[fw-mem-hp]=${DEV[fw-mem]} PID[fw-mem-hp]=${PID[fw-mem]} FWID[fw-mem-hp]=${FWID[fw-mem]}
fi
if needs fw-mem-uc; then
	fw_add fw-mem-uc -t memory -s ${SIZE_MB}M --user-copy
	prefill "${DEV[fw-mem-uc]}" "$SIZE_MB"
fi
if needs kloop; then
	mkimg "$W/kloop.img"
	LOOPDEV=$(losetup --direct-io=on -f --show "$W/kloop.img") || die "losetup failed"
	[ "$(cat /sys/block/${LOOPDEV#/dev/}/loop/dio)" = 1 ] || die "$LOOPDEV: direct I/O did not take"
	DEV[kloop]=$LOOPDEV
fi
if needs fw-loop fw-loop-hp fw-loop-zc; then
	mkimg "$W/fwloop.img"
fi
if needs fw-loop fw-loop-hp; then
	fw_add fw-loop -t loop "$W/fwloop.img"
	DEV[fw-loop-hp]=${DEV[fw-loop]} PID[fw-loop-hp]=${PID[fw-loop]} FWID[fw-loop-hp]=${FWID[fw-loop]}
fi
if needs fw-loop-uring; then
	mkimg "$W/fwloop-uring.img"
	fw_add fw-loop-uring -t loop --io uring "$W/fwloop-uring.img"
fi
if needs fw-null-alt fw-mem-alt fw-loop-alt; then
	[ -x "$ALT_CTL" ] || die "fw-*-alt devices need --alt-ctl PATH (an executable ublk-fw-ctl)"
	needs fw-null-alt && fw_add fw-null-alt -t null -s 1G
	if needs fw-mem-alt; then
		fw_add fw-mem-alt -t memory -s ${SIZE_MB}M
		prefill "${DEV[fw-mem-alt]}" "$SIZE_MB"
	fi
	if needs fw-loop-alt; then
		mkimg "$W/fwloop-alt.img"
		fw_add fw-loop-alt -t loop "$W/fwloop-alt.img"
	fi
fi
if needs fw-mem-hp fw-mem-zc fw-loop-hp fw-loop-zc; then
	mountpoint -q $HP || { mkdir -p $HP && mount -t hugetlbfs none $HP; } || die "no hugetlbfs on $HP"
	n=$(cat /proc/sys/vm/nr_hugepages)
	HP_ADDED=$((2 * HP_FILE_MB / 2))	# two files of HP_FILE_MB MiB in 2 MiB pages
	echo $((n + HP_ADDED)) > /proc/sys/vm/nr_hugepages
	for f in mem loop; do
		fallocate -l ${HP_FILE_MB}M $HP/ublkfw-bench-$f ||
			die "cannot allocate $HP/ublkfw-bench-$f (${HP_FILE_MB} MiB of huge pages)"
	done
	MEMOPT[fw-mem-hp]=$HP/ublkfw-bench-mem MEMOPT[fw-mem-zc]=$HP/ublkfw-bench-mem
	MEMOPT[fw-loop-hp]=$HP/ublkfw-bench-loop MEMOPT[fw-loop-zc]=$HP/ublkfw-bench-loop
fi
if needs fw-mem-zc; then
	fw_add fw-mem-zc -t memory -s ${SIZE_MB}M --shmem-zc --htlb $HP/ublkfw-bench-mem
	prefill "${DEV[fw-mem-zc]}" "$SIZE_MB"
fi
needs fw-loop-zc && fw_add fw-loop-zc -t loop --shmem-zc --htlb $HP/ublkfw-bench-loop "$W/fwloop.img"

# Every device on the none scheduler.
for d in $DEVICES; do
	[ -n "${DEV[$d]:-}" ] || die "device $d was not set up"
	s=/sys/block/${DEV[$d]#/dev/}/queue/scheduler
	[ -e "$s" ] || continue		# bio-based (brd): no I/O scheduler at all
	echo none > "$s" 2>/dev/null
	grep -q '\[none\]\|^none$' "$s" || die "${DEV[$d]}: scheduler is not none: $(cat "$s")"
done

# ---- meta.json ------------------------------------------------------------
# cpulist "0-2, 5" -> "0,1,2,5": sysfs and /proc/PID/status spell them apart
cpulist() {
	local out="" r
	for r in $(tr -d ' ' <<< "$1" | tr ',' ' '); do
		out+=$(seq -s, "${r%-*}" "${r#*-}"),
	done
	echo "${out%,}"
}
# json_lines: stdin's non-empty lines as a JSON array of strings
json_lines() { jq -Rsc 'split("\n") | map(select(. != ""))'; }
# placement DEV PID: the CPUs of each hardware queue and of each server
# thread (bench.sh checks that every queue has a thread pinned to its CPUs)
placement() {
	local b=${1#/dev/} f qs="" ts=""
	for f in /sys/block/$b/mq/*/cpu_list; do qs+="$(cpulist "$(cat "$f")")"$'\n'; done
	for f in /proc/$2/task/*/status; do
		ts+="$(cpulist "$(awk '/^Cpus_allowed_list:/ { print $2 }' "$f")")"$'\n'
	done
	printf '"queue_cpus": %s, "thread_cpus": %s, ' \
		"$(printf '%s' "$qs" | json_lines)" "$(printf '%s' "$ts" | json_lines)"
}
param() { cat "/sys/module/$1/parameters/$2" 2>/dev/null || echo "?"; }
{
	printf '{"kernel": "%s", "cpus": %d, "mem_kb": %d, "clk_tck": %d, "guest": %s,\n' \
		"$(uname -r)" "$NCPU" "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" "$CLK_TCK" \
		"$([ "${UBLKFW_GUEST:-0}" = 1 ] && echo true || echo false)"
	printf ' "cmdline": %s, "rev": "%s",\n' "$(jq -Rs 'rtrimstr("\n")' /proc/cmdline)" "$REV"
	printf ' "fio": "%s", "smoke": %s, "repeats": %d, "runtime_s": %d, "size_mib": %d,\n' \
		"$(fio --version)" "$([ $SMOKE = 1 ] && echo true || echo false)" "$REPEATS" "$RUNTIME" "$SIZE_MB"
	printf ' "clocksource": "%s",\n' "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
	printf ' "null_blk": {"submit_queues": "%s", "queue_mode": "%s", "hw_queue_depth": "%s"},\n' \
		"$(param null_blk submit_queues)" "$(param null_blk queue_mode)" "$(param null_blk hw_queue_depth)"
	printf ' "brd": {"rd_size_kib": "%s"},\n' "$(param brd rd_size)"
	printf ' "jobs": %s, "devices": {' "$(printf '%s\n' $JOBS | json_lines)"
	sep=""
	for d in $DEVICES; do
		b=${DEV[$d]#/dev/}
		nq=$(ls -d /sys/block/$b/mq/* 2>/dev/null | wc -l)
		args=""
		[ -n "${FWID[$d]:-}" ] && args=$("$CTL" list -n "${FWID[$d]}" --json | jq -c '.[0] | {args, flag_names}')
		[ -n "${RAW_ARGS[$d]:-}" ] && args="{\"args\": \"raw-null ${RAW_ARGS[$d]}\"}"
		[[ $d == *-alt ]] && args=$(jq -c --arg c "$ALT_CTL" '. + {ctl: $c}' <<< "$args")
		printf '%s\n  "%s": {"path": "%s", "pid": %s, "hw_queues": %d, "max_sectors_kb": %s, "scheduler": "%s", "fio_mem": "%s", %s"server": %s}' \
			"$sep" "$d" "${DEV[$d]}" "${PID[$d]:-null}" "$nq" \
			"$(cat /sys/block/$b/queue/max_sectors_kb)" \
			"$(cat /sys/block/$b/queue/scheduler 2>/dev/null || echo 'none (bio-based)')" \
			"${MEMOPT[$d]:+mmaphuge:${MEMOPT[$d]}}" \
			"$([ -n "${PID[$d]:-}" ] && placement "${DEV[$d]}" "${PID[$d]}")" "${args:-null}"
		sep=","
	done
	printf '\n}}\n'
} > "$OUT/meta.json"
jq -e . "$OUT/meta.json" > /dev/null || die "meta.json is not valid JSON"

# ---- one run ----------------------------------------------------------------
# Between two runs only shell builtins: in the emulated guest every exec costs
# 0.1-0.2 s (binaries come over 9p), which added seconds per run.

# stat_ticks FILE: utime + stime (fields 14, 15) of a /proc stat file into TK
stat_ticks() {
	local line f
	TK=0
	read -r line < "$1" 2>/dev/null || return 1
	line=${line##*) }		# after "pid (comm) ": field 3 is now $1
	read -r -a f <<< "$line"
	TK=$(( f[11] + f[12] ))
}
# proc_sample PID: the whole process's ticks (every thread, also ended ones:
# e.g. io_uring's io-wq workers) into P_TICKS; per live thread its ticks and
# context switches into the arrays T_TICKS[tid], T_CS[tid], T_WQ[tid] (1 for an
# io-wq worker)
declare -A T_TICKS T_CS T_WQ
proc_sample() {
	local t tid comm k v cs
	T_TICKS=() T_CS=() T_WQ=()
	stat_ticks "/proc/$1/stat"
	P_TICKS=$TK
	for t in /proc/$1/task/*; do
		tid=${t##*/}
		stat_ticks "$t/stat" || continue
		T_TICKS[$tid]=$TK
		comm=""
		read -r comm < "$t/comm" 2>/dev/null
		[[ $comm == iou-wrk* ]] && T_WQ[$tid]=1
		cs=0
		while read -r k v; do
			[[ $k == *ctxt_switches: ]] && cs=$((cs + v))
		done < "$t/status"
		T_CS[$tid]=$cs
	done
}
# mem_sample PID: the server's anonymous resident memory (its I/O buffers,
# the memory target's RAM disk is a shared file mapping and not in it) and
# its long-term pinned memory, in KiB, into MEM (JSON)
mem_sample() {
	local k v u anon=null pin=null
	while read -r k v u; do
		case $k in
		RssAnon:) anon=$v ;;
		VmPin:) pin=$v ;;
		esac
	done < "/proc/$1/status"
	MEM="{\"rss_anon_kb\": $anon, \"vm_pin_kb\": $pin}"
}
stats() {	# stats NAME: the server's zero-copy counters into STATS (JSON), or {}
	STATS='{}'
	# only where they matter: copy versus zero copy (huge-page fio buffers)
	if [ -n "${FWID[$1]:-}" ] && [ -n "${MEMOPT[$1]:-}" ]; then
		STATS=$("$CTL" list -n "${FWID[$1]}" --json | jq -c '.[0].stats // {} | del(.queues)')
	fi
}

fio_args() {	# fio_args JOB: the job's fio options
	case $1 in
	rr4k_qd1)	echo "--rw=randread --bs=4k --iodepth=1" ;;
	rr4k_qd32)	echo "--rw=randread --bs=4k --iodepth=32" ;;
	rw4k_qd32)	echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	rr4k_2q)	echo "--rw=randread --bs=4k --iodepth=32 --numjobs=2" ;;
	sr128k_qd8)	echo "--rw=read --bs=128k --iodepth=8" ;;
	sw128k_qd8)	echo "--rw=write --bs=128k --iodepth=8" ;;
	sr1m_qd8)	echo "--rw=read --bs=1M --iodepth=8" ;;
	sw1m_qd8)	echo "--rw=write --bs=1M --iodepth=8" ;;
	*)		die "unknown job $1" ;;
	esac
}

SEQ=0
run_one() {	# run_one REP JOB DEVICE
	local rep=$1 job=$2 d=$3 f pid cpus s0 s1 rc iops extra="" w0 w1 w2 w3 tid
	local t0=null t1=null wq=0 nwq=0 cs=0 mem=null
	local -A b_ticks b_cs
	f=$OUT/fio/$rep-$job-$d.json
	pid=${PID[$d]:-}
	case $job in
	*_2q)	cpus="--cpus_allowed=0-1 --cpus_allowed_policy=split" ;;
	*)	cpus="--cpus_allowed=0" ;;
	esac
	[ -n "${MEMOPT[$d]:-}" ] && extra="--mem=mmaphuge:${MEMOPT[$d]} --hugepage-size=2M"
	w0=$EPOCHREALTIME
	stats "$d"
	s0=$STATS
	if [ -n "$pid" ]; then
		proc_sample "$pid"
		t0=$P_TICKS
		for tid in "${!T_TICKS[@]}"; do b_ticks[$tid]=${T_TICKS[$tid]} b_cs[$tid]=${T_CS[$tid]}; done
	fi
	w1=$EPOCHREALTIME
	# shellcheck disable=SC2046
	fio --name="$job" --filename="${DEV[$d]}" --ioengine=io_uring --direct=1 \
		--time_based --runtime="$RUNTIME" --norandommap --randrepeat=0 \
		--group_reporting $cpus $extra $(fio_args "$job") \
		--output-format=json --output="$f" > "$W/fio.err" 2>&1
	rc=$?
	w2=$EPOCHREALTIME
	if [ -n "$pid" ]; then
		proc_sample "$pid"
		t1=$P_TICKS
		# per thread: io-wq worker ticks and context switches over the run
		# (threads that ended during it are missing: lower bounds)
		for tid in "${!T_TICKS[@]}"; do
			cs=$(( cs + T_CS[$tid] - ${b_cs[$tid]:-0} ))
			if [ -n "${T_WQ[$tid]:-}" ]; then
				wq=$(( wq + T_TICKS[$tid] - ${b_ticks[$tid]:-0} ))
				nwq=$((nwq + 1))
			fi
		done
	fi
	stats "$d"
	s1=$STATS
	[ -n "$pid" ] && mem_sample "$pid" && mem=$MEM
	[ $rc = 0 ] || { say "fio failed on $d ($job): $(tail -3 "$W/fio.err")"; cp "$W/fio.err" "$f.err"; }
	SEQ=$((SEQ + 1))
	w3=$EPOCHREALTIME
	printf '{"dev": "%s", "job": "%s", "rep": %d, "seq": %d, "time": %s, "file": "%s", "fio_rc": %d, "ticks_before": %s, "ticks_after": %s, "wq_ticks": %d, "wq_threads": %d, "ctx_switches": %s, "stats_before": %s, "stats_after": %s, "mem_after": %s, "wall_s": [%s, %s, %s]}\n' \
		"$d" "$job" "$rep" $SEQ "${w0%.*}" "fio/${f##*/}" $rc $t0 $t1 $wq $nwq \
		"$([ -n "$pid" ] && echo $cs || echo null)" "$s0" "$s1" "$mem" \
		"$(elapsed "$w0" "$w1")" "$(elapsed "$w1" "$w2")" "$(elapsed "$w2" "$w3")" >> "$OUT/runs.jsonl"
	iops=$(jq -r '.jobs[0] | (.read.iops + .write.iops) | floor' "$f" 2>/dev/null)
	printf 'bench: %s/%s %-10s %-11s %8s IOPS%s\n' "$rep" "$REPEATS" "$job" "$d" "${iops:-?}" \
		"$([ -n "$pid" ] && echo " cpu $((t1 - t0)) ticks")"
}
# elapsed A B: B - A in seconds with 2 decimals (EPOCHREALTIME values)
elapsed() {
	local a=${1/./} b=${2/./}
	local d=$(( (10#$b - 10#$a) / 10000 ))
	printf '%d.%02d' $((d / 100)) $((d % 100))
}

say "kernel $(uname -r), $NCPU CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB;" \
	"$REPEATS x ${RUNTIME}s; jobs: $JOBS"
for d in $DEVICES; do say "  $d = ${DEV[$d]}${PID[$d]:+ (server pid ${PID[$d]})}"; done
start=$EPOCHSECONDS
k=0
for rep in $(seq "$REPEATS"); do
	for job in $JOBS; do
		k=$((k + 1))
		order=$DEVICES
		# A B C ... then ... C B A: paired devices stay adjacent
		flipped $k "$rep" && order=$(printf '%s\n' $DEVICES | tac | tr '\n' ' ')
		for d in $order; do
			run_one "$rep" "$job" "$d"
		done
	done
done
say "measured $SEQ runs in $(( EPOCHSECONDS - start )) s"
# Every server must still be alive and every device intact.
for d in $DEVICES; do
	[ -n "${PID[$d]:-}" ] && ! kill -0 "${PID[$d]}" 2>/dev/null && die "the server of $d (pid ${PID[$d]}) died"
done
exit 0
