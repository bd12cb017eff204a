#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-integration.sh [GROUP...] - run integration test groups on a real
# kernel.  A group is tests/integration/GROUP.sh; its header says which kernel
# it needs ("# kernel: stock" = any kernel with ublk, "# kernel: patched" =
# one with UBLK_F_SHMEM_ZC, "# kernel: nozc" = one without it, which the
# guest boots as Debian's stock kernel) and its time limit
# ("# timeout: SECONDS") and, in the guest, its memory ("# memory: SIZE",
# vmrun's -m; 2G when it says nothing).
#
# Natively when we are root, /dev/ublk-control exists and the running kernel
# has what the group needs; otherwise in the qemu test guest
# (tests/vm/vmrun.sh), one boot per group.  Same test programs either way.
#
# Prints each group's output and ends with "integration: N passed, M failed".
# A group that hangs or panics the guest counts as one failure, and so does a
# kernel splat (tests/vm/splat.ere: WARNING, BUG, KASAN, lockdep reports...).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
CTL="$TOP/build/ublk-fw-ctl"
cd "$TOP" || exit 1

groups=${*:-$(ls tests/integration/*.sh | sed -n 's|.*/\([^/]*\)\.sh$|\1|p' | grep -v '^lib\(-.*\)\{0,1\}$')}
pass=0 fail=0 failed=""

native_ok() {	# native_ok KERNEL-NEED
	[ "$(id -u)" = 0 ] && [ -e /dev/ublk-control ] || return 1
	has_zc=no
	"$CTL" features --json 2>/dev/null | jq -e '.names | index("SHMEM_ZC") != null' \
		>/dev/null && has_zc=yes
	case $1 in
	stock) return 0 ;;
	nozc) [ $has_zc = no ] ;;
	*) [ $has_zc = yes ] ;;
	esac
}

# after_line LINE: stdin's lines after the last one equal to LINE, or all of
# them if there is none
after_line() {
	awk -v m="$1" '{ a[NR] = $0; if ($0 == m) k = NR } END { for (i = k + 1; i <= NR; i++) print a[i] }'
}

for g in $groups; do
	script=tests/integration/$g.sh
	[ -f "$script" ] || { echo "run-integration: no test group '$g' ($script)" >&2; exit 2; }
	need=$(sed -n 's/^# kernel: *//p' "$script" | head -1)
	tmo=$(sed -n 's/^# timeout: *//p' "$script" | head -1)
	mem=$(sed -n 's/^# memory: *//p' "$script" | head -1)
	need=${need:-stock}
	log="$TOP/tests/out/$g.log"
	mkdir -p "$TOP/tests/out"
	splat=""
	if native_ok "$need"; then
		echo "=== $g: natively on $(uname -r)"
		mark=$(dmesg 2>/dev/null | tail -n 1)
		UBLKFW_TOP=$TOP UBLKFW_OUT=$TOP/tests/out/native/$g sh "$script" 2>&1 | tee "$log"
		# the dmesg lines after the mark (all of them if the ring buffer
		# wrapped past it)
		splat=$(dmesg 2>/dev/null | after_line "$mark" | grep -Ef tests/vm/splat.ere | head -1)
	else
		kernel=$need
		[ "$need" = nozc ] && kernel=stock
		echo "=== $g: in the test guest ($kernel kernel, ${mem:-2G})"
		tests/vm/vmrun.sh -k "$kernel" -n "$g" -t "${tmo:-900}" -m "${mem:-2G}" -- "$script" 2>&1 |
			tee "$log"
		splat=$(sed -n 's/^vmrun: kernel splat: //p' "$log" | head -n 1)
	fi
	# The group's own closing line; a guest that hung or panicked has none.
	line=$(grep -E "^$g: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed 's/.*: \([0-9]*\) passed.*/\1/')
		f=$(echo "$line" | sed 's/.* \([0-9]*\) failed$/\1/')
	else
		echo "run-integration: group $g ended without its summary (hang, panic or crash): counted as 1 failure"
		p=0 f=1
	fi
	# A kernel warning, lockdep report, KASAN report or oops fails the group,
	# whatever its own checks said.
	if [ -n "$splat" ]; then
		echo "FAIL - $g: the kernel logged a splat: $splat"
		f=$((f + 1))
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed="$failed $g"
done
echo
[ -n "$failed" ] && echo "integration: failing groups:$failed"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
