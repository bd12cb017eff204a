# SPDX-License-Identifier: MIT
# report.sh - the results of a check script (POSIX sh, sourced): one
# "ok   - ..." or "FAIL - ..." line per check, then "NAME: N passed, M failed",
# the line tests/check.sh reads.  Set T_NAME before sourcing.
#   pass MSG          one check passed
#   fail MSG [DETAIL] one check failed; DETAIL (lines) is shown indented
#   finish            the closing line; exits 0 only if nothing failed
T_PASS=0
T_FAIL=0
T_FAILED=""

pass() { T_PASS=$((T_PASS + 1)); printf 'ok   - %s\n' "$1"; }
fail() {
	T_FAIL=$((T_FAIL + 1))
	T_FAILED="$T_FAILED
  $1"
	printf 'FAIL - %s\n' "$1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/       /'
	return 0
}
finish() {
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit
}
