#!/bin/bash
# SPDX-License-Identifier: MIT
#
# nbd-measure.sh - the measuring half of the nbd pair of `make bench`:
# ublk-fw's nbd target against the kernel's NBD client (nbd-client, module
# nbd), both connected to ONE `nbdkit memory` server on 127.0.0.1 with two
# connections each (-q 2 / nbd-client -C 2).  Runs where the kernel has ublk
# and nbd: Debian's stock kernel in the test guest (bench/bench.sh boots it).
#
#   OUT/runs.jsonl   one line per fio run: device, job, repeat, fio file,
#                    CPU ticks of nbdkit and of the ublk-fw server over it,
#                    and the whole guest's busy ticks (bench/cpu.sh)
#   OUT/meta.json    kernel, CPUs, settings, each device's largest request
#                    (max_sectors_kb)
#   OUT/fio/*.json   fio's JSON output
#
# bench/nbd-report.py turns them into ratios.
#
# usage: bench/nbd-measure.sh --out DIR [--repeats N] [--runtime S] [--size MIB]
set -u -o pipefail

TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/.." && pwd -P)}
CTL=$TOP/build/ublk-fw-ctl
OUT="" REPEATS=3 RUNTIME=5 SIZE_MB=256 REV=unknown
while [ $# -gt 0 ]; do
	case $1 in
	--out)		OUT=$2; shift 2 ;;
	--repeats)	REPEATS=$2; shift 2 ;;
	--runtime)	RUNTIME=$2; shift 2 ;;
	--size)		SIZE_MB=$2; shift 2 ;;
	--rev)		REV=$2; shift 2 ;;
	*)		echo "nbd-measure: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$OUT" ] || { echo "nbd-measure: --out DIR is required" >&2; exit 2; }

JOBS="rr4k_qd32 rw4k_qd32 sr128k_qd32 sw128k_qd32"
DEVICES="knbd fw-nbd"
PORT=10809

say() { printf 'bench-nbd: %s\n' "$*"; }
die() { printf 'bench-nbd: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
for c in fio jq nbdkit nbd-client; do
	command -v $c > /dev/null || die "$c is not installed (scripts/install-deps.sh test)"
done
[ -e /dev/ublk-control ] || modprobe ublk_drv 2>/dev/null
[ -e /dev/ublk-control ] || die "no /dev/ublk-control: this kernel has no ublk"
[ -e /dev/nbd0 ] || modprobe nbd nbds_max=2 2>/dev/null
[ -e /dev/nbd0 ] || die "no /dev/nbd0: this kernel has no nbd module"
rm -rf "$OUT/fio"
mkdir -p "$OUT/fio" || die "cannot create $OUT"
: > "$OUT/runs.jsonl"
W=$(mktemp -d /tmp/ublkfw-bench-nbd.XXXXXX) || die "no temporary directory"

NK="" FWID="" FWPID="" KNBD=0
cleanup() {
	[ -n "$FWID" ] && "$CTL" del -n "$FWID" > /dev/null 2>&1
	[ $KNBD = 1 ] && nbd-client -d /dev/nbd0 > /dev/null 2>&1
	if [ -n "$NK" ]; then kill "$NK" 2>/dev/null; wait "$NK" 2>/dev/null; fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# one server, shared by both clients
nbdkit -f -i 127.0.0.1 -p $PORT memory ${SIZE_MB}M > "$W/nbdkit.out" 2>&1 &
NK=$!
for _ in $(seq 100); do
	grep -qi "^ *[0-9]*: 0100007F:$(printf %04X $PORT) 00000000:0000 0A" /proc/net/tcp && break
	kill -0 $NK 2>/dev/null || die "nbdkit died: $(cat "$W/nbdkit.out")"
	sleep 0.1
done

out=$("$CTL" add -t nbd -q 2 nbd://127.0.0.1:$PORT/ 2>&1) || die "ublk-fw-ctl add -t nbd: $out"
FWID=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id [0-9]*)$|\1|p')
[ -n "$FWID" ] || die "ublk-fw-ctl add: unexpected output: $out"
FWPID=$("$CTL" list -n "$FWID" --json | jq '.[0].pid')
out=$(nbd-client 127.0.0.1 $PORT /dev/nbd0 -N "" -C 2 2>&1) || die "nbd-client: $out"
KNBD=1
declare -A DEV=([knbd]=/dev/nbd0 [fw-nbd]=/dev/ublkb$FWID)
for _ in $(seq 50); do
	[ "$(blockdev --getsize64 /dev/nbd0 2>/dev/null)" = $((SIZE_MB << 20)) ] && break
	sleep 0.1
done
[ "$(blockdev --getsize64 /dev/nbd0)" = $((SIZE_MB << 20)) ] || die "/dev/nbd0 has not the export's size"
for d in $DEVICES; do echo none > /sys/block/${DEV[$d]#/dev/}/queue/scheduler 2>/dev/null; done
# the server's memory is written once, so that reads read real data
dd if=/dev/zero of=/dev/ublkb$FWID bs=1M count=$SIZE_MB oflag=direct status=none ||
	die "prefilling the export failed"

. "$TOP/bench/cpu.sh"	# guest_busy, proc_ticks
. "$TOP/bench/order.sh"	# flipped
fio_args() {
	case $1 in
	rr4k_qd32)	echo "--rw=randread --bs=4k --iodepth=32" ;;
	rw4k_qd32)	echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	sr128k_qd32)	echo "--rw=read --bs=128k --iodepth=32" ;;
	sw128k_qd32)	echo "--rw=write --bs=128k --iodepth=32" ;;
	esac
}
max_kb() { cat "/sys/block/${1#/dev/}/queue/max_sectors_kb" 2>/dev/null || echo null; }
cat > "$OUT/meta.json" <<EOF
{"kernel": "$(uname -r)", "cpus": $(nproc), "repeats": $REPEATS, "runtime_s": $RUNTIME,
 "max_sectors_kb": {"knbd": $(max_kb /dev/nbd0), "fw-nbd": $(max_kb /dev/ublkb$FWID)},
 "size_mib": $SIZE_MB, "rev": "$REV", "clk_tck": $(getconf CLK_TCK),
 "server": "nbdkit $(nbdkit --version | cut -d' ' -f2) memory ${SIZE_MB}M on 127.0.0.1:$PORT",
 "devices": {"knbd": "kernel nbd client (nbd-client -C 2)", "fw-nbd": "ublk-fw -t nbd -q 2"},
 "jobs": $(printf '%s\n' $JOBS | jq -R . | jq -cs .)}
EOF

say "kernel $(uname -r), $(nproc) CPUs; $REPEATS x ${RUNTIME}s; jobs: $JOBS"
k=0
for rep in $(seq "$REPEATS"); do
	for job in $JOBS; do
		k=$((k + 1))
		order=$DEVICES
		flipped $k "$rep" && order="fw-nbd knbd"
		for d in $order; do
			f=$OUT/fio/$rep-$job-$d.json
			n0=$(proc_ticks $NK) s0=$(proc_ticks "$FWPID") g0=$(guest_busy) t0=$(date +%s%N)
			# shellcheck disable=SC2046
			fio --name="$job" --filename="${DEV[$d]}" --ioengine=io_uring --direct=1 \
				--time_based --runtime="$RUNTIME" --norandommap --randrepeat=0 \
				$(fio_args "$job") --output-format=json --output="$f" > "$W/fio.err" 2>&1
			rc=$?
			n1=$(proc_ticks $NK) s1=$(proc_ticks "$FWPID") g1=$(guest_busy) t1=$(date +%s%N)
			[ $rc = 0 ] || say "fio failed on $d ($job): $(tail -3 "$W/fio.err")"
			fw=null
			[ "$d" = fw-nbd ] && fw=$((s1 - s0))
			printf '{"dev": "%s", "job": "%s", "rep": %d, "file": "fio/%s", "fio_rc": %d, "nbdkit_ticks": %d, "fw_ticks": %s, "guest_ticks": %d, "wall_ms": %d}\n' \
				"$d" "$job" "$rep" "${f##*/}" $rc $((n1 - n0)) $fw $((g1 - g0)) \
				$(((t1 - t0) / 1000000)) >> "$OUT/runs.jsonl"
			say "$rep/$REPEATS $job $d $(jq -r '.jobs[0] | (.read.iops + .write.iops) | floor' "$f" 2>/dev/null) IOPS"
		done
	done
done
kill -0 "$FWPID" 2>/dev/null || die "the ublk-fw server died"
exit 0
