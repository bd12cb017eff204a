#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check.sh - everything `make check` runs, after the build:
#   1. unit tests (criterion) on the host;
#   2. integration test groups on a real kernel (tests/run-integration.sh:
#      natively with ublk, else in the qemu guest);
#   3. `make bench-smoke`: the benchmark harness in 1-second mode, so that it
#      cannot rot (it times nothing worth reading; its checks are that every
#      device kind runs and every output file is produced and parses).
# Ends with "check: N passed, M failed" summing all three; exits non-zero on
# any failure.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
mkdir -p tests/out

echo "=== unit tests (criterion, on the host)"
build/tests/unit-tests --jobs 1 > tests/out/unit.log 2>&1
unit_rc=$?
cat tests/out/unit.log
# "[====] Synthesis: Tested: 24 | Passing: 24 | Failing: 0 | Crashing: 0"
syn=$(grep 'Synthesis:' tests/out/unit.log | tail -1)
up=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
uf=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
uc=$(echo "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
up=${up:-0}
uf=$((${uf:-0} + ${uc:-0}))
[ "$unit_rc" -ne 0 ] && [ "$uf" -eq 0 ] && uf=1

echo
tests/run-integration.sh > tests/out/integration.log 2>&1 &
runner=$!
# Show the integration output as it comes.
tail -n +1 -f tests/out/integration.log --pid=$runner
wait $runner
int_rc=$?
line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed$' tests/out/integration.log | tail -1)
ip=$(echo "$line" | sed -n 's/^integration: \([0-9]*\) passed.*/\1/p')
if=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
ip=${ip:-0}
if=${if:-1}
[ "$int_rc" -ne 0 ] && [ "$if" -eq 0 ] && if=1

echo
echo "=== bench-smoke (make bench-smoke)"
${MAKE:-make} --no-print-directory bench-smoke > tests/out/bench-smoke.log 2>&1 &
runner=$!
tail -n +1 -f tests/out/bench-smoke.log --pid=$runner
wait $runner
bench_rc=$?
line=$(grep -E '^bench-smoke: [0-9]+ passed, [0-9]+ failed$' tests/out/bench-smoke.log | tail -1)
bp=$(echo "$line" | sed -n 's/^bench-smoke: \([0-9]*\) passed.*/\1/p')
bf=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
bp=${bp:-0}
bf=${bf:-1}
[ "$bench_rc" -ne 0 ] && [ "$bf" -eq 0 ] && bf=1

echo
echo "unit: $up passed, $uf failed"
echo "integration: $ip passed, $if failed"
echo "bench-smoke: $bp passed, $bf failed"
echo "check: $((up + ip + bp)) passed, $((uf + if + bf)) failed"
[ $((uf + if + bf)) -eq 0 ]
