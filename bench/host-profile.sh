#!/bin/bash
# SPDX-License-Identifier: MIT
#
# host-profile.sh - the per-I/O user-space cost of libublkfw's queue layer
# against bench/raw-null.c's loop, on any machine (no ublk needed): builds
# bench/host-loop.c (see there: the kernel's half is faked with io_uring NOPs)
# and reports, for queue depth 1 and 32:
#   - wall time per I/O (best of 5 runs),
#   - syscalls per I/O (strace -c -f),
#   - instructions per I/O, total and by function (valgrind --tool=callgrind,
#     (Ir(N2) - Ir(N1)) / (N2 - N1): set-up cancels out);
#   - at depth 1, the distinct 4 KiB pages touched per I/O, code and data
#     (valgrind --tool=lackey --trace-mem=yes, 3000 I/Os, the pages of the
#     middle tenth of the trace: the same pages every request).  In an
#     emulated guest, which empties its soft TLB at every context switch,
#     each page is a walk per request (docs/benchmarks.md).
# Needs a build (make) and valgrind, strace.  Output: tests/out/host-profile.md
set -u -o pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$TOP" || exit 1
. ./config.mk 2>/dev/null || true
OUT=$TOP/tests/out/host-profile
MD=$TOP/tests/out/host-profile.md
BIN=$TOP/build/bench/host-loop
mkdir -p "$OUT"
for c in valgrind strace callgrind_annotate; do
	command -v $c > /dev/null || { echo "host-profile: $c is missing" >&2; exit 1; }
done
[ -f build/libublkfw.a ] && [ -f build/targets/null.o ] || { echo "host-profile: run make first" >&2; exit 1; }
cc -std=gnu11 -Wall -Wextra -Werror -O2 -g -DNDEBUG -Iframework/include -Iframework -Itargets \
	-o "$BIN" bench/host-loop.c build/targets/null.o build/libublkfw.a -luring -lev -ljson-c -lpthread ||
	exit 1

: > "$MD"
md() { printf '%s\n' "$*" >> "$MD"; }
md "## Host driver (bench/host-loop.c): user-space cost per I/O, kernel faked with NOPs"
md ""
md "| loop | depth | wall ns/IO (best of 5) | I/Os per iteration | syscalls/IO | by name | instructions/IO |"
md "|---|---|---|---|---|---|---|"
N1=200000 N2=400000
for depth in 1 32; do
	for mode in raw fw fw-libev; do
		best=""
		for _ in 1 2 3 4 5; do
			l=$("$BIN" $mode $depth 1000000)
			ns=$(echo "$l" | sed -n 's/.* \([0-9]*\) ns\/IO.*/\1/p')
			[ -z "$best" ] || [ "$ns" -lt "$best" ] && best=$ns
		done
		per=$(echo "$l" | sed -n 's/.* \([0-9.]*\) I\/Os per loop.*/\1/p')
		strace -c -f -o "$OUT/strace-$mode-$depth.txt" "$BIN" $mode $depth 100000 > /dev/null
		sc=$(awk -v n=100000 '$NF == "total" { printf "%.2f", $4 / n }' "$OUT/strace-$mode-$depth.txt")
		byname=$(awk -v n=100000 '$NF != "total" && $4 ~ /^[0-9]+$/ && NF >= 5 && $4 / n >= 0.01 {
			printf "%s %.2f, ", $NF, $4 / n }' "$OUT/strace-$mode-$depth.txt")
		for n in $N1 $N2; do
			valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-$mode-$depth-$n.out" \
				"$BIN" $mode $depth $n > /dev/null 2>&1
			callgrind_annotate --auto=no --inclusive=no --threshold=100 \
				"$OUT/cg-$mode-$depth-$n.out" > "$OUT/cg-$mode-$depth-$n.txt" 2>/dev/null
		done
		python3 - "$OUT/cg-$mode-$depth-$N1.txt" "$OUT/cg-$mode-$depth-$N2.txt" $N1 $N2 \
			> "$OUT/cg-$mode-$depth.md" <<'EOF'
import re, sys
def load(p):
    tot, fn = 0, {}
    for line in open(p):
        m = re.match(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(?:PROGRAM TOTALS|(.+?))\s*$", line)
        if not m:
            continue
        v = int(m.group(1).replace(",", ""))
        if m.group(2) is None:
            tot = v
        else:
            name = re.sub(r"\s*\[.*\]$", "", m.group(2))
            name = re.sub(r"^.*:", "", name)
            fn[name] = fn.get(name, 0) + v
    return tot, fn
a, b, n1, n2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ta, fa = load(a)
tb, fb = load(b)
dn = n2 - n1
print("TOTAL %.0f" % ((tb - ta) / dn))
for k in sorted(set(fa) | set(fb), key=lambda k: -(fb.get(k, 0) - fa.get(k, 0))):
    v = (fb.get(k, 0) - fa.get(k, 0)) / dn
    if v >= 0.5:
        print("| `%s` | %.1f |" % (k, v))
EOF
		ir=$(sed -n 's/^TOTAL //p' "$OUT/cg-$mode-$depth.md")
		md "| $mode | $depth | $best | $per | $sc | ${byname%, } | $ir |"
		echo "host-profile: $mode depth $depth: $best ns/IO, $sc syscalls/IO, $ir instructions/IO"
	done
done
for depth in 1 32; do
	for mode in raw fw fw-libev; do
		md ""
		md "### $mode, depth $depth: instructions per I/O by function"
		md ""
		md "| function | Ir/IO |"
		md "|---|---|"
		sed -n '2,26p' "$OUT/cg-$mode-$depth.md" >> "$MD"
	done
done
md ""
md "### Pages touched per I/O at depth 1 (valgrind lackey, middle tenth of 3000 I/Os)"
md ""
md "| loop | code pages | data pages |"
md "|---|---|---|"
for mode in raw fw; do
	valgrind --tool=lackey --trace-mem=yes --log-file="$OUT/lackey-$mode.txt" "$BIN" $mode 1 3000 > /dev/null 2>&1
	pages=$(python3 - "$OUT/lackey-$mode.txt" <<'EOF'
import sys
tr = [l for l in open(sys.argv[1]) if l[:2] in ("I ", " L", " S", " M")]
code, data = set(), set()
for l in tr[len(tr) * 5 // 10:len(tr) * 6 // 10]:
    (code if l[0] == "I" else data).add(int(l[3:].split(",")[0], 16) >> 12)
print(len(code), len(data))
EOF
)
	md "| $mode | ${pages% *} | ${pages#* } |"
	echo "host-profile: $mode depth 1: ${pages% *} code and ${pages#* } data pages per I/O"
done
echo "host-profile: written ${MD#$TOP/}"
