#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pages.py TRACE PLT_OFFSET MAPS - distinct 4 KiB pages a server touches per
request, from a valgrind --tool=lackey --trace-mem=yes trace (bench/profile.sh
--what pages).

A request is the stretch of the trace between two calls of the server's
io_uring_submit_and_wait() (PLT_OFFSET: its PLT stub's offset in the server's
binary, whose load address MAPS, the server's /proc/PID/maps, gives): at QD1
one wait per request.  The middle fifth of the requests is counted (start-up
and tear-down left out).  Prints the median and mean of code and data pages
per request, then every page touched by at least 5 % of them, with the share
of requests that touch it and the mapping it is in.  In an emulated guest,
which empties its soft TLB at every context switch, each is a page walk per
request (docs/benchmarks.md).
"""
import collections
import statistics
import sys


def load_maps(path):
    regions = []
    for line in open(path):
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        regions.append((lo, hi, f[5] if len(f) > 5 else "[anon]", f[1]))
    return regions


def region(regions, page):
    a = page << 12
    for lo, hi, name, perm in regions:
        if lo <= a < hi:
            return f"{name.split('/')[-1]} {perm} +0x{a - lo:x}"
    return "?"


def main(trace, plt, maps, exe_names=("ublk-fw-ctl", "raw-null")):
    regions = load_maps(maps)
    base = min(lo for lo, hi, name, perm in regions if name.endswith(exe_names))
    marker = "I  %08x" % (base + plt)
    lines, starts = [], []
    with open(trace) as f:
        for line in f:
            if line[:2] in ("I ", " L", " S", " M"):
                if line.startswith(marker):
                    starts.append(len(lines))
                lines.append(line)
    mid = starts[len(starts) * 4 // 10:len(starts) * 6 // 10]
    ncode, ndata, seen = [], [], collections.Counter()
    for s, e in zip(mid, mid[1:]):
        code, data = set(), set()
        for line in lines[s:e]:
            (code if line[0] == "I" else data).add(int(line[3:].split(",")[0], 16) >> 12)
        ncode.append(len(code))
        ndata.append(len(data))
        seen.update(("code", p) for p in code)
        seen.update(("data", p) for p in data)
    n = len(ncode)
    if n < 10:
        sys.exit(f"pages: only {len(starts)} calls of the marker {marker} in {trace}: not a QD1 run?")
    print(f"{n} requests (of {len(starts)} waits): code pages median {statistics.median(ncode)} "
          f"mean {sum(ncode) / n:.2f}; data pages median {statistics.median(ndata)} "
          f"mean {sum(ndata) / n:.2f}")
    print()
    print("| kind | page | share of requests | mapping |")
    print("|---|---|---|---|")
    for (kind, p), c in sorted(seen.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
        if c >= n * 0.05:
            print(f"| {kind} | 0x{p << 12:x} | {c / n:.2f} | {region(regions, p)} |")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: bench/pages.py TRACE PLT_OFFSET_HEX MAPS")
    main(sys.argv[1], int(sys.argv[2], 16), sys.argv[3])
