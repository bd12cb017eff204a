#!/bin/sh
# SPDX-License-Identifier: MIT
#
# rbd-pair.sh [--runtime S] [--repeats N] - `make bench`'s rbd pair: ublk-fw's
# rbd target against the kernel's RBD client, same boot (Debian's stock 6.12,
# which has the rbd module), same single-node cluster, same image; 4k random
# read and write at QD32, 128k sequential read and write at QD8, N repeats
# (default 3) interleaved (bench/rbd-measure.sh).  Writes
# bench/results/rbd.md: median IOPS, MB/s, the ratios ublk-fw / kernel of
# the medians and the goals they meet, and CPU per I/O (the guest's, and the
# ublk-fw server's own).  Under TCG the numbers measure the emulator as much
# as the clients; the ratios are what to read.  Last line: "bench-rbd: N
# passed, M failed".
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
RUNTIME=5 REPEATS=3
while [ $# -gt 0 ]; do
	case $1 in
	--runtime)	RUNTIME=$2; shift 2 ;;
	--repeats)	REPEATS=$2; shift 2 ;;
	*)		echo "bench-rbd: unknown argument '$1' (--runtime S, --repeats N)" >&2; exit 2 ;;
	esac
done
for v in "$RUNTIME" "$REPEATS"; do
	case $v in
	''|*[!0-9]*|0) echo "bench-rbd: --runtime and --repeats take a whole number above 0, not '$v'" >&2; exit 2 ;;
	esac
done
DATA=$TOP/tests/out/vm/bench-rbd/data
RES=$TOP/bench/results/rbd.md
mkdir -p "$TOP/tests/out" "$TOP/bench/results"
tests/vm/vmrun.sh -k stock -m 4G -t $((300 + REPEATS * 200)) -n bench-rbd -- bench/rbd-measure.sh "$DATA" "$RUNTIME" "$REPEATS" \
	> "$TOP/tests/out/bench-rbd.log" 2>&1
rc=$?
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
ko() { fail=$((fail + 1)); echo "FAIL - $1"; }
[ $rc = 0 ] && ok "measurement ran" || ko "measurement ran (exit $rc; tests/out/bench-rbd.log)"
J=$DATA/runs.jsonl
if [ -s "$J" ]; then
	jq -rs '
	  def f(x): if x == null then "-" else (x * 10 | round / 10 | tostring) end;
	  def med: map(select(. != null)) | sort |
	    if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
	    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	  # per device and job, the median of each figure over the repeats
	  def medians(d): map(select(.device == d and (.iops // 0) > 0)) | group_by(.job) |
	    map({key: .[0].job, value: {iops: map(.iops) | med, mbps: map(.mbps) | med,
	      cpu_us_per_io: map(.cpu_us_per_io) | med,
	      server_cpu_us_per_io: map(.server_cpu_us_per_io) | med}}) | from_entries;
	  medians("ublk-fw-rbd") as $u | medians("kernel-rbd") as $k |
	  def goal(j): if (j | test("128k")) then 1.2 else 1.0 end;
	  def ratio(j): if ($k[j].iops // 0) > 0 and $u[j].iops != null then $u[j].iops / $k[j].iops else null end;
	  def r2(x): if x == null then "-" else (x * 100 | round / 100 | tostring) end;
	  "| job | ublk-fw rbd IOPS | kernel rbd IOPS | ratio | goal | ublk-fw MB/s | kernel MB/s | guest CPU us/IO ublk-fw | kernel | ublk-fw server CPU us/IO |",
	  "|---|---|---|---|---|---|---|---|---|---|",
	  ($u | keys[] as $j | "| \($j) | \(f($u[$j].iops)) | \(f($k[$j].iops)) | \(r2(ratio($j)))x | >= \(goal($j))x \(if (ratio($j) // 0) >= goal($j) then "met" else "**missed**" end) | \(f($u[$j].mbps)) | \(f($k[$j].mbps)) | \(f($u[$j].cpu_us_per_io)) | \(f($k[$j].cpu_us_per_io)) | \(f($u[$j].server_cpu_us_per_io)) |"),
	  "",
	  "Goals (issue 13): >= 1.0x the kernel client at 4k QD32, >= 1.2x at 128k sequential; met: \([$u | keys[] | select((ratio(.) // 0) >= goal(.))] | length) of \($u | length)."
	' "$J" > "$RES.tmp" && { printf '# ublk-fw rbd vs the kernel RBD client\n\n%s, %s x %s s a job and client, interleaved, medians; %s\n\n' \
		"$(date -u +%F)" "$REPEATS" "$RUNTIME" "$(grep -o '^vmrun: accel [a-z]*' "$TOP/tests/out/bench-rbd.log" | head -1 | sed 's/^vmrun: //')"; cat "$RES.tmp"; } > "$RES"
	rm -f "$RES.tmp"
	for d in ublk-fw-rbd kernel-rbd; do
		n=$(jq -s --arg d "$d" '[.[] | select(.device == $d and .iops > 0 and .error == 0)] | length' "$J")
		[ "$n" = $((4 * REPEATS)) ] && ok "$d: 4 jobs x $REPEATS repeats measured" ||
			ko "$d: 4 jobs x $REPEATS repeats measured ($n runs)"
	done
	cat "$RES"
else
	ko "raw results in $J"
fi
echo "bench-rbd: $pass passed, $fail failed"
[ $fail -eq 0 ]
