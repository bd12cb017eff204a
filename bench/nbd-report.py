#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nbd-report.py DATA RESULTS - the nbd pair of `make bench` as ratios.

Reads DATA/meta.json and DATA/runs.jsonl (bench/nbd-measure.sh) and writes
RESULTS/nbd.md and RESULTS/nbd.json: per job the median IOPS and MiB/s of
ublk-fw's nbd target and of the kernel's NBD client against the same nbdkit
memory server, their ratio (the median of the paired ratios, one per repeat:
bench/pairing.py) against the issue's goals (>= 1.0 at 4k QD32, >= 1.2 at
128k sequential), and server CPU per I/O: nbdkit's for both, and
the ublk-fw server process's own (the kernel client's work is in kernel
threads that cannot be told apart from the rest, so it has none), and the
whole guest's busy CPU per I/O for both (every process, kernel thread and
softirq: the kernel client's work is in it) with how busy the guest was, in
CPUs: at ~2 of 2 the clients compete for CPU and the one that costs less
per I/O does more of them.
"""
import json
import sys

from pairing import median, paired_median

GOALS = {"rr4k_qd32": 1.0, "rw4k_qd32": 1.0, "sr128k_qd32": 1.2, "sw128k_qd32": 1.2}


def busy_cpus(run, tck, runtime_s):
    """How many CPUs the guest kept busy over the run's measured window (its
    wall time: fio's start and end included), or None without the ticks."""
    if run.get("guest_ticks") is None:
        return None
    wall = run["wall_ms"] / 1000 if run.get("wall_ms") else runtime_s
    return run["guest_ticks"] / tck / wall


def main(data, results):
    meta = json.load(open(f"{data}/meta.json"))
    tck = meta["clk_tck"]
    runs = [json.loads(line) for line in open(f"{data}/runs.jsonl") if line.strip()]
    per = {}
    failed = []
    for r in runs:
        if r["fio_rc"] != 0:
            failed.append(r)
            continue
        j = json.load(open(f"{data}/{r['file']}"))["jobs"][0]
        ios = j["read"]["total_ios"] + j["write"]["total_ios"]
        iops = j["read"]["iops"] + j["write"]["iops"]
        bw = (j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 2**20
        us = lambda t: (t / tck * 1e6 / ios) if ios and t is not None else None
        per.setdefault(r["job"], {}).setdefault(r["dev"], []).append(
            {"rep": r["rep"], "iops": iops, "mib_s": bw, "ios": ios, "nbdkit_us_per_io": us(r["nbdkit_ticks"]),
             "fw_us_per_io": us(r["fw_ticks"]), "guest_us_per_io": us(r.get("guest_ticks")),
             "guest_cpus": busy_cpus(r, tck, meta["runtime_s"])})
    out = {"meta": meta, "jobs": {}, "failed_runs": failed}
    lines = [
        "# ublk-fw nbd vs the kernel's NBD client",
        "",
        f"Kernel {meta['kernel']}, {meta['cpus']} CPUs; one server: {meta['server']}; "
        f"{meta['repeats']} x {meta['runtime_s']} s per job and device, interleaved; medians; "
        "the ratio is the median of the paired ratios (one per repeat, the two clients back to back). "
        "Both clients use two connections (ublk-fw: -q 2; kernel: nbd-client -C 2). "
        "Server CPU: nbdkit's microseconds per I/O for both; ublk-fw's own server process too "
        "(the kernel client works in kernel threads: not measured). Guest: the whole guest's "
        "busy CPU per I/O (both clients' work is in it) and how many CPUs were busy. "
        f"Largest request (max_sectors_kb): kernel {meta.get('max_sectors_kb', {}).get('knbd', '-')}, "
        f"ublk-fw {meta.get('max_sectors_kb', {}).get('fw-nbd', '-')}.",
        "",
        "| job | kernel nbd IOPS | ublk-fw nbd IOPS | ratio | paired ratios | goal | kernel MiB/s | ublk-fw MiB/s "
        "| nbdkit µs/IO kernel | nbdkit µs/IO ublk-fw | ublk-fw server µs/IO "
        "| guest µs/IO kernel | guest µs/IO ublk-fw | guest CPUs busy kernel / ublk-fw |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for job in meta["jobs"]:
        k, f = per.get(job, {}).get("knbd", []), per.get(job, {}).get("fw-nbd", [])
        m = lambda rs, key: median([x[key] for x in rs])
        ki, fi = m(k, "iops"), m(f, "iops")
        by_rep = lambda rs: {x["rep"]: x["iops"] for x in rs}
        ratio, pairs = paired_median(by_rep(f), by_rep(k), sorted(by_rep(f)))
        goal = GOALS.get(job)
        common = ("mib_s", "nbdkit_us_per_io", "guest_us_per_io", "guest_cpus")
        out["jobs"][job] = {"knbd": dict({"iops": ki}, **{c: m(k, c) for c in common}),
                            "fw-nbd": dict({"iops": fi, "fw_us_per_io": m(f, "fw_us_per_io")},
                                           **{c: m(f, c) for c in common}),
                            "ratio": ratio, "pairs": pairs, "goal": goal,
                            "goal_met": ratio is not None and goal is not None and ratio >= goal}
        fmt = lambda v, p=0: "-" if v is None else f"{v:.{p}f}"
        lines.append(f"| {job} | {fmt(ki)} | {fmt(fi)} | {fmt(ratio, 2)}× "
                     f"| {', '.join(fmt(x, 2) for x in pairs) or '-'} | ≥ {goal}× "
                     f"| {fmt(m(k, 'mib_s'), 1)} | {fmt(m(f, 'mib_s'), 1)} "
                     f"| {fmt(m(k, 'nbdkit_us_per_io'), 1)} | {fmt(m(f, 'nbdkit_us_per_io'), 1)} "
                     f"| {fmt(m(f, 'fw_us_per_io'), 1)} "
                     f"| {fmt(m(k, 'guest_us_per_io'), 1)} | {fmt(m(f, 'guest_us_per_io'), 1)} "
                     f"| {fmt(m(k, 'guest_cpus'), 2)} / {fmt(m(f, 'guest_cpus'), 2)} |")
    met = sum(1 for j in out["jobs"].values() if j["goal_met"])
    lines += ["", f"Goals met: {met} of {len(out['jobs'])}."]
    if failed:
        lines.append(f"Failed fio runs: {len(failed)}.")
    open(f"{results}/nbd.md", "w").write("\n".join(lines) + "\n")
    json.dump(out, open(f"{results}/nbd.json", "w"), indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
