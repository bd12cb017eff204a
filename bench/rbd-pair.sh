#!/bin/sh
# SPDX-License-Identifier: MIT
#
# rbd-pair.sh [--runtime S] [--repeats N] - `make bench`'s rbd pair: ublk-fw's
# rbd target against the kernel's RBD client, same boot (Debian's stock 6.12,
# which has the rbd module), same single-node cluster, same image; 4k random
# read and write at QD32, 128k sequential read and write at QD8, N repeats
# (default 3) interleaved (bench/rbd-measure.sh).  Writes
# bench/results/rbd.md (bench/rbd-report.py): median IOPS, MB/s, the
# ratios ublk-fw / kernel (medians of the paired ratios) and the goals they
# meet, and CPU per I/O (the guest's, and the ublk-fw server's own).  Under TCG the numbers measure the emulator as much
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
	rm -f "$RES"
	accel=$(grep -o '^vmrun: accel [a-z]*' "$TOP/tests/out/bench-rbd.log" | head -1 | sed 's/^vmrun: //')
	if python3 bench/rbd-report.py "$J" > "$RES.tmp" &&
	   { printf '# ublk-fw rbd vs the kernel RBD client\n\n%s, %s x %s s a job and client, interleaved, medians; %s\n\n' \
		"$(date -u +%F)" "$REPEATS" "$RUNTIME" "$accel"; cat "$RES.tmp"; } > "$RES"; then
		ok "report written (bench/rbd-report.py)"
	else
		rm -f "$RES"
		ko "report written (bench/rbd-report.py)"
	fi
	rm -f "$RES.tmp"
	for d in ublk-fw-rbd kernel-rbd; do
		n=$(jq -s --arg d "$d" '[.[] | select(.device == $d and .iops > 0 and .error == 0)] | length' "$J")
		[ "$n" = $((4 * REPEATS)) ] && ok "$d: 4 jobs x $REPEATS repeats measured" ||
			ko "$d: 4 jobs x $REPEATS repeats measured ($n runs)"
	done
	[ -s "$RES" ] && cat "$RES"
else
	ko "raw results in $J"
fi
echo "bench-rbd: $pass passed, $fail failed"
[ $fail -eq 0 ]
