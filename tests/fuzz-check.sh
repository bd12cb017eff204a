#!/bin/sh
# SPDX-License-Identifier: MIT
#
# fuzz-check.sh - builds the libFuzzer harnesses of tests/fuzz/ (make fuzz:
# clang, ASan, UBSan) and runs each for $UBLKFW_FUZZ_SECONDS (default 20)
# from its seed corpus, in a scratch copy.  A crash, a leak, undefined
# behaviour, a timeout (5 s per input) or running out of memory fails it:
# the sanitizer's report and the input are kept in tests/out/fuzz/.  One
# "ok   - ..." or "FAIL - ..." line per harness, then "fuzz: N passed,
# M failed".  Run by tests/check.sh.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
T_NAME=fuzz
. "$TOP/tests/report.sh"
SECONDS_EACH=${UBLKFW_FUZZ_SECONDS:-20}
OUT=$TOP/tests/out/fuzz
rm -rf "$OUT"; mkdir -p "$OUT"

if ! "${MAKE:-make}" --no-print-directory fuzz > "$OUT/build.log" 2>&1; then
	fail "make fuzz builds the harnesses (clang and libclang-rt-14-dev: scripts/install-deps.sh test)" \
		"$(tail -20 "$OUT/build.log")"
	finish
fi
pass "make fuzz builds the harnesses"
for f in tests/fuzz/fuzz-*.c; do
	n=$(basename "$f" .c); n=${n#fuzz-}
	cp -r "tests/fuzz/corpus/$n" "$OUT/$n.corpus"
	ASAN_OPTIONS=log_path=$OUT/$n.asan:detect_leaks=1 UBSAN_OPTIONS=log_path=$OUT/$n.ubsan:print_stacktrace=1 \
		"build/fuzz/fuzz-$n" -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=1024 \
		-artifact_prefix="$OUT/$n-" "$OUT/$n.corpus" > "$OUT/$n.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$OUT/$n.log")
	if [ "$rc" -eq 0 ] && [ -n "$runs" ] && [ -z "$(ls "$OUT" | grep -E "^$n-(crash|leak|timeout|oom)-")" ]; then
		pass "$n: $runs inputs in ${SECONDS_EACH} s, no crash, leak or undefined behaviour"
	else
		fail "$n: the fuzzer found a problem (exit $rc): see $OUT/$n.* and the input $(ls "$OUT" | grep -E "^$n-" | head -1)" \
			"$(cat "$OUT/$n".asan* "$OUT/$n".ubsan* 2>/dev/null | head -20)"
	fi
done
finish
