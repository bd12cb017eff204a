#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rbd-report.py RUNS.jsonl - the rbd pair of `make bench` as a table.

Reads bench/rbd-measure.sh's runs (one JSON line per fio run: device, job,
rep, iops, mbps, cpu_us_per_io, server_cpu_us_per_io) and prints, per job,
the median IOPS, MB/s and CPU per I/O of ublk-fw's rbd target and of the
kernel's RBD client, their ratio (the median of the paired ratios, one per
repeat: bench/pairing.py) and the goal it meets (issue 13: >= 1.0x at 4k
QD32, >= 1.2x at 128k sequential).  bench/rbd-pair.sh writes it into
bench/results/rbd.md.
"""
import json
import sys

from pairing import median, paired_median

FW, KERNEL = "ublk-fw-rbd", "kernel-rbd"


def goal(job):
    return 1.2 if "128k" in job else 1.0


def fmt(v, p=1):
    return "-" if v is None else f"{v:.{p}f}"


def main(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    runs = [r for r in runs if (r.get("iops") or 0) > 0]
    per = {}	# job -> device -> rep -> run
    for r in runs:
        per.setdefault(r["job"], {}).setdefault(r["device"], {})[r["rep"]] = r
    lines = ["| job | ublk-fw rbd IOPS | kernel rbd IOPS | ratio | paired ratios | goal | ublk-fw MB/s "
             "| kernel MB/s | guest CPU us/IO ublk-fw | kernel | ublk-fw server CPU us/IO |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    met = 0
    for job in sorted(per):
        u, k = per[job].get(FW, {}), per[job].get(KERNEL, {})
        m = lambda d, key: median([x.get(key) for x in d.values()])
        fig = lambda d, key: {rp: x.get(key) for rp, x in d.items()}
        ratio, pairs = paired_median(fig(u, "iops"), fig(k, "iops"), sorted(u))
        ok = ratio is not None and ratio >= goal(job)
        met += ok
        lines.append(f"| {job} | {fmt(m(u, 'iops'), 0)} | {fmt(m(k, 'iops'), 0)} | {fmt(ratio, 2)}x "
                     f"| {', '.join(fmt(x, 2) for x in pairs) or '-'} "
                     f"| >= {goal(job)}x {'met' if ok else '**missed**'} "
                     f"| {fmt(m(u, 'mbps'))} | {fmt(m(k, 'mbps'))} | {fmt(m(u, 'cpu_us_per_io'))} "
                     f"| {fmt(m(k, 'cpu_us_per_io'))} | {fmt(m(u, 'server_cpu_us_per_io'))} |")
    lines += ["", "The ratio is the median of the paired ratios (in each repeat the two clients ran "
              "back to back); the other figures are medians.",
              "", "Goals (issue 13): >= 1.0x the kernel client at 4k QD32, >= 1.2x at 128k sequential; "
              f"met: {met} of {len(per)}."]
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/rbd-report.py RUNS.jsonl (bench/rbd-measure.sh's output)")
    main(sys.argv[1])
