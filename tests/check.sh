#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check.sh - everything `make check` runs, after the build:
#   1. unit tests (criterion) on the host;
#   2. integration test groups on a real kernel (tests/run-integration.sh:
#      natively with ublk, else in the qemu guest);
#   3. the benchmark harness in 1-second mode (make bench-smoke), so it
#      cannot rot; it times nothing;
#   4. the manual pages against the header (tests/man-check.sh);
#   5. the shared library's exported symbols and their version against the
#      header (tests/abi-check.sh);
#   6. the programs and commands printed in README.md and docs/ build and run
#      (tests/docs-check.sh);
#   7. libFuzzer harnesses of the parsers and the state file reader, 20 s
#      each (tests/fuzz-check.sh).
# Ends with "check: N passed, M failed" summing all steps; exits non-zero on
# any failure.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
mkdir -p tests/out
total_p=0 total_f=0 summary=""

# step NAME CMD...: run CMD with its output shown live and kept in
# tests/out/NAME.log, then read its closing "NAME: N passed, M failed" line.
# A step that fails without one counts as one failure.
step() {
	name=$1; shift
	echo
	echo "=== $name"
	"$@" > "tests/out/$name.log" 2>&1 &
	pid=$!
	tail -n +1 -f "tests/out/$name.log" --pid=$pid
	wait $pid
	rc=$?
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "tests/out/$name.log" | tail -1)
	p=$(echo "$line" | sed -n "s/^$name: \([0-9]*\) passed.*/\1/p")
	f=$(echo "$line" | sed -n 's/.* passed, \([0-9]*\) failed.*/\1/p')
	p=${p:-0}
	f=${f:-1}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	total_p=$((total_p + p))
	total_f=$((total_f + f))
	summary="$summary
$name: $p passed, $f failed"
}

# criterion closes with "[====] Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C"
unit() {
	build/tests/unit-tests --jobs 1 > tests/out/unit.raw 2>&1
	rc=$?
	cat tests/out/unit.raw
	syn=$(grep 'Synthesis:' tests/out/unit.raw | tail -1)
	p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 + \2/p')
	echo "unit: ${p:-0} passed, $((${f:-1})) failed"
	[ "$rc" -eq 0 ]
}

step unit unit
step integration tests/run-integration.sh
step bench-smoke "${MAKE:-make}" --no-print-directory bench-smoke
step man tests/man-check.sh
step abi tests/abi-check.sh
step docs tests/docs-check.sh
step fuzz tests/fuzz-check.sh

echo "$summary"
echo "check: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
