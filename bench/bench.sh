#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench.sh - `make bench` and `make bench-smoke`.
#
#   bench/bench.sh            the full benchmark: 8 fio jobs x 14 devices,
#                             3 repeats of 5 s, interleaved; ~40 min in the guest
#   bench/bench.sh --smoke    the same harness in 1-second mode (1 repeat, 3 jobs,
#                             every device kind); used by `make check`
#   options: --repeats N --runtime S (override), --keep-going,
#            --devices "D1 D2" --jobs "J1 J2" (a part of the matrix: see
#            bench/measure.sh; e.g. the user-copy pairs:
#            --devices "fw-null fw-null-uc fw-mem fw-mem-uc"
#            --jobs "rr4k_qd32 sr1m_qd8 sw1m_qd8"; its report goes to
#            bench/results/part/)
#
# Measures natively when this machine has ublk with UBLK_F_SHMEM_ZC (root,
# /dev/ublk-control), else in ONE boot of the test guest on our patched kernel
# (tests/vm/vmrun.sh -k patched, whose kernel/build.sh build is reused from its
# cache or waited for), with null_blk and brd configured on its command line.
# Then bench/report.py writes, under bench/results/ (smoke: bench/results/smoke/):
#   results.md  results.json  chart.png  (+ chart data, raw/ inputs)
# and, from a second boot on Debian's stock kernel (which has the nbd
# module), the nbd pair: ublk-fw's nbd target vs the kernel's NBD client
# against one nbdkit memory server (bench/nbd-measure.sh, bench/nbd-report.py):
#   nbd.md  nbd.json
# and the outputs are checked (jq parses the JSON, `file` says PNG, every device
# kind measured, zero copy happened on the SHMEM_ZC devices).  Last line:
# "bench: N passed, M failed" (or "bench-smoke: ...").  Exit 0 iff M = 0.
set -u -o pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
CTL=$TOP/build/ublk-fw-ctl

SMOKE=0 REPEATS="" RUNTIME="" DEVICES="" JOBS=""
while [ $# -gt 0 ]; do
	case $1 in
	--smoke)	SMOKE=1; shift ;;
	--repeats)	REPEATS=$2; shift 2 ;;
	--runtime)	RUNTIME=$2; shift 2 ;;
	--devices)	DEVICES=$2; shift 2 ;;
	--jobs)		JOBS=$2; shift 2 ;;
	-h|--help)	sed -n '4,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*)		echo "bench: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

if [ $SMOKE = 1 ]; then
	NAME=bench-smoke RESULTS=$TOP/bench/results/smoke SIZE_MB=64 TMO=900
	REPEATS=${REPEATS:-1} RUNTIME=${RUNTIME:-1}
else
	NAME=bench RESULTS=$TOP/bench/results SIZE_MB=256 TMO=4500
	REPEATS=${REPEATS:-3} RUNTIME=${RUNTIME:-5}
fi
# a part of the matrix does not overwrite the whole one's report
[ -n "$DEVICES$JOBS" ] && [ $SMOKE = 0 ] && RESULTS=$TOP/bench/results/part
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- framework targets tools bench 2>/dev/null || REV="$REV+changes"
ARGS=(--repeats "$REPEATS" --runtime "$RUNTIME" --size "$SIZE_MB" --rev "$REV")
[ $SMOKE = 1 ] && ARGS+=(--smoke)
[ -n "$DEVICES" ] && ARGS+=(--devices "$DEVICES")
[ -n "$JOBS" ] && ARGS+=(--jobs "$JOBS")

for f in "$CTL" build/bench/raw-null; do
	[ -x "$f" ] || { echo "bench: $f is missing: run make first" >&2; exit 1; }
done
for c in fio jq gnuplot file python3; do
	command -v $c > /dev/null ||
		{ echo "bench: $c is missing (scripts/install-deps.sh test)" >&2; exit 1; }
done

native_ok() {
	[ "$(id -u)" = 0 ] && [ -e /dev/ublk-control ] &&
		"$CTL" features --json 2>/dev/null | jq -e '.names | index("SHMEM_ZC") != null' > /dev/null
}

t0=$(date +%s)
if native_ok; then
	DATA=$TOP/tests/out/$NAME
	echo "bench: natively on $(uname -r)"
	rm -rf "$DATA"
	mkdir -p "$DATA"
	bench/measure.sh --out "$DATA" "${ARGS[@]}" 2>&1 | tee "$TOP/tests/out/$NAME-measure.log"
	mrc=$?
else
	DATA=$TOP/tests/out/vm/$NAME/data
	# null_blk and brd are built into the patched kernel: configured here.
	# Memory: 6 x SIZE of RAM disks and tmpfs files (brd, two memory targets,
	# three loop backings) + 32 MiB of huge pages.
	APPEND="null_blk.nr_devices=1 null_blk.queue_mode=2 null_blk.submit_queues=2"
	APPEND="$APPEND brd.rd_nr=1 brd.rd_size=$((SIZE_MB * 1024))"
	echo "bench: in the test guest (patched kernel; waits for kernel/build.sh if it is building)"
	mkdir -p "$TOP/tests/out"
	UBLKFW_VM_WAIT=${UBLKFW_VM_WAIT:-1800} tests/vm/vmrun.sh -k patched -m 3G -t $TMO -n $NAME \
		--append "$APPEND" -- bench/measure.sh --out "$DATA" "${ARGS[@]}" 2>&1 |
		tee "$TOP/tests/out/$NAME-measure.log"
	mrc=$?
fi
echo "bench: measuring took $(( $(date +%s) - t0 )) s (exit $mrc)"

# ---- report and checks ---------------------------------------------------
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
ko() { fail=$((fail + 1)); echo "FAIL - $1"; }
chk() { local n=$1; shift; if "$@" > /dev/null 2>&1; then ok "$n"; else ko "$n"; fi; }

[ $mrc = 0 ] && ok "measurement ran (exit 0)" || ko "measurement ran (exit $mrc; see tests/out/$NAME-measure.log)"
if [ -s "$DATA/runs.jsonl" ] && [ -s "$DATA/meta.json" ]; then
	mkdir -p "$RESULTS"
	rm -f "$RESULTS"/results.md "$RESULTS"/results.json "$RESULTS"/chart.png
	chk "report written (bench/report.py)" python3 bench/report.py "$DATA" "$RESULTS"
else
	ko "raw results in $DATA"
fi
J=$RESULTS/results.json
ratio=ublk-fw\ null\ /\ raw-null
[ -n "$DEVICES" ] && ratio=""	# a part of the matrix: whatever pairs it has
chk "results.md has the goals and ratio tables" \
	sh -c "grep -q '^### Goals' '$RESULTS/results.md' && grep -q '^| $ratio' '$RESULTS/results.md'"
chk "results.json parses (jq)" jq -e .meta "$J"
chk "chart.png is a PNG image (file)" sh -c "file -b '$RESULTS/chart.png' | grep -q '^PNG image data'"
devs=$(jq -r '.meta.devices | keys[]' "$J" 2>/dev/null)
want=${DEVICES:-$(sed -n 's/^ALL_DEVICES="\(.*\)"$/\1/p' bench/measure.sh)}
want=$(echo "$want" | tr ' ' '\n' | grep . | sort)
[ -n "$want" ] && [ "$(echo "$devs" | sort)" = "$want" ] &&
	ok "all $(echo "$want" | grep -c .) device kinds set up" ||
	ko "all device kinds set up (want: $(echo $want); got: $(echo $devs))"
for d in $devs; do
	chk "$d: every job measured (IOPS > 0)" \
		jq -e --arg d "$d" '(.meta.jobs | length) as $n | [.results[$d][] | .median.iops // 0 | select(. > 0)] | length == $n' "$J"
done
for d in $(echo "$devs" | grep -- '-uc$'); do
	chk "$d: the device has UBLK_F_USER_COPY" \
		jq -e --arg d "$d" '.meta.devices[$d].server.flag_names | index("USER_COPY") != null' "$J"
done
for d in $(echo "$devs" | grep -x -e fw-mem-zc -e fw-loop-zc); do
	chk "$d: zero-copy I/Os counted by the server (zc_ios > 0)" jq -e --arg d "$d" '.zc_ios_total[$d] > 0' "$J"
done
for d in $(echo "$devs" | grep -x -e fw-mem-hp -e fw-loop-hp); do
	chk "$d: copy mode really copied (zc_ios = 0)" \
		jq -e --arg d "$d" '[.results[$d][] | .median.zc_ios // 0] | add == 0' "$J"
done
# a server that pins its queue threads by GET_QUEUE_AFFINITY: each hardware
# queue's CPUs are some thread's allowed CPUs (raw-null once asked for queue
# 0's set for every queue, and ran them all on CPU 0)
for d in $(jq -r '.meta.devices | to_entries[] | select(.value.queue_cpus) | .key' "$J" 2>/dev/null); do
	chk "$d: every hardware queue has a server thread pinned to its CPUs" \
		jq -e --arg d "$d" '.meta.devices[$d] | .thread_cpus as $t | all(.queue_cpus[]; . as $q | $t | index($q) != null)' "$J"
done
chk "no failed fio run" jq -e '.failed_runs | length == 0' "$J"
[ -s "$RESULTS/results.md" ] && { echo; sed -n '/^### Goals/,/^### Ratios/p' "$RESULTS/results.md" | sed '$d'; }

# ---- the nbd pair: ublk-fw nbd vs the kernel's NBD client, one nbdkit ------
# On Debian's stock kernel, which has the nbd module (natively when this
# kernel has ublk and nbd).
NDATA=$TOP/tests/out/vm/$NAME-nbd/data
NARGS=(--repeats "$REPEATS" --runtime "$RUNTIME" --size "$SIZE_MB" --rev "$REV")
if [ "$(id -u)" = 0 ] && [ -e /dev/ublk-control ] && modprobe nbd nbds_max=2 2>/dev/null; then
	NDATA=$TOP/tests/out/$NAME-nbd
	bench/nbd-measure.sh --out "$NDATA" "${NARGS[@]}" 2>&1 | tee "$TOP/tests/out/$NAME-nbd.log"
	nrc=$?
else
	echo "bench: the nbd pair in the test guest (stock kernel)"
	tests/vm/vmrun.sh -k stock -t $TMO -n $NAME-nbd -- bench/nbd-measure.sh --out "$NDATA" \
		"${NARGS[@]}" 2>&1 | tee "$TOP/tests/out/$NAME-nbd.log"
	nrc=$?
fi
[ $nrc = 0 ] && ok "nbd pair measured (exit 0)" || ko "nbd pair measured (exit $nrc; see tests/out/$NAME-nbd.log)"
mkdir -p "$RESULTS"
rm -f "$RESULTS/nbd.md" "$RESULTS/nbd.json"
chk "nbd pair: report written (bench/nbd-report.py)" python3 bench/nbd-report.py "$NDATA" "$RESULTS"
chk "nbd pair: both clients measured on every job (IOPS > 0)" jq -e \
	'[.jobs[] | .knbd.iops // 0, ."fw-nbd".iops // 0 | select(. > 0)] | length == 8' "$RESULTS/nbd.json"
chk "nbd pair: no failed fio run" jq -e '.failed_runs | length == 0' "$RESULTS/nbd.json"
[ -s "$RESULTS/nbd.md" ] && { echo; sed -n '/^| job/,$p' "$RESULTS/nbd.md"; }
echo "bench: results in ${RESULTS#$TOP/}/ (results.md, results.json, chart.png, nbd.md, nbd.json)"
echo "$NAME: $pass passed, $fail failed"
[ $fail -eq 0 ]
