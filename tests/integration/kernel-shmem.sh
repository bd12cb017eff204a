#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: patched
# timeout: 900
#
# Kernel-level tests of UBLK_F_SHMEM_ZC (tests/kernel/shmem_zc_test.c): the
# REG_BUF/UNREG_BUF UAPI and errno, memfd and hugetlbfs buffers, hits and
# misses with exact index/offset and byte checks, READ_ONLY buffers, pins in
# /proc/vmstat after DEL_DEV and after a killed server, REG/UNREG_BUF against
# a request the server holds (the queue freeze, and SIGKILL ending its wait),
# the release of trees of 96-160 separate page runs, and a register/
# unregister loop under fio verify; and UBLK_F_USER_RECOVERY_FAIL_IO (patch
# 0004): the recovery flags ADD_DEV accepts, FAIL_IO after a killed server
# (I/O fails at once), START/END_USER_RECOVERY from it. The program has its
# own minimal server (liburing only, no libublkfw), so this checks the
# kernel, not the framework.
#
# The program prints one line per check and closes with
# "kernel-shmem: N passed, M failed", which is this group's closing line.
TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${UBLKFW_OUT:-$TOP/tests/out/native/kernel-shmem}
mkdir -p "$OUT"
PROG="$TOP/build/tests/shmem_zc_test"

if [ ! -x "$PROG" ]; then
	echo "FAIL - $PROG is not built (make)"
	echo ""
	echo "kernel-shmem: 0 passed, 1 failed"
	exit 1
fi
echo "kernel: $(uname -r)"
log="$OUT/kernel-shmem.out"
# The program's exit status through the pipe: a file, as POSIX sh has no pipefail.
{ UBLKFW_OUT=$OUT "$PROG" "$@"; echo $? > "$log.rc"; } 2>&1 | tee "$log"
rc=$(cat "$log.rc" 2>/dev/null || echo 125)
if ! grep -Eq '^kernel-shmem: [0-9]+ passed, [0-9]+ failed$' "$log"; then
	# It died before its summary (crash, signal): count what it printed, plus this.
	p=$(grep -c '^ok   - ' "$log")
	f=$(grep -c '^FAIL - ' "$log")
	echo "FAIL - the test program ended without its summary (exit status $rc)"
	echo ""
	echo "kernel-shmem: $p passed, $((f + 1)) failed"
	exit 1
fi
exit "$rc"
