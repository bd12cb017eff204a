#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py - turn bench/measure.sh's raw results into the benchmark report.

usage: bench/report.py IN_DIR OUT_DIR

IN_DIR holds meta.json, runs.jsonl and fio/*.json (bench/measure.sh --out).
Writes into OUT_DIR:
  results.md    goals, ratio table (ours / baseline), absolute figures
  results.json  the same, machine-readable, with every run
  chart.png     gnuplot chart (ratios; IOPS and MiB/s per device)
  chart-*.dat   the chart's data; raw/ a copy of the inputs

Ratios are medians of *paired* ratios (bench/pairing.py: in each repeat the
two devices of a pair ran back to back, their ratio is taken there, and the
median over the repeats is reported).
"""
import json
import os
import re
import shutil
import subprocess
import sys

from pairing import median, paired_ratios

JOB_TITLES = {
    "rr4k_qd1": "4k randread QD1",
    "rr4k_qd32": "4k randread QD32",
    "rw4k_qd32": "4k randwrite QD32",
    "rr4k_2q": "4k randread 2 jobs x QD32 (2 queues)",
    "sr128k_qd8": "128k read QD8",
    "sw128k_qd8": "128k write QD8",
    "sr1m_qd8": "1M read QD8",
    "sw1m_qd8": "1M write QD8",
}
JOB_SHORT = {
    "rr4k_qd1": "4k rr QD1", "rr4k_qd32": "4k rr QD32", "rw4k_qd32": "4k rw QD32",
    "rr4k_2q": "4k rr 2x32", "sr128k_qd8": "128k r", "sw128k_qd8": "128k w",
    "sr1m_qd8": "1M r", "sw1m_qd8": "1M w",
}
DEV_TITLES = {
    "nullb": "kernel null_blk",
    "raw-null": "raw-null (bench/raw-null.c)",
    "fw-null": "ublk-fw null",
    "fw-null-uc": "ublk-fw null --user-copy",
    "brd": "kernel brd",
    "fw-mem": "ublk-fw memory",
    "fw-mem-uc": "ublk-fw memory --user-copy",
    "kloop": "kernel loop (dio, tmpfs file)",
    "fw-loop": "ublk-fw loop (tmpfs file)",
    "fw-loop-uring": "ublk-fw loop --io uring (tmpfs file)",
    "fw-mem-hp": "ublk-fw memory, copy, fio huge-page buffers",
    "fw-mem-zc": "ublk-fw memory, SHMEM_ZC",
    "fw-loop-hp": "ublk-fw loop, copy, fio huge-page buffers",
    "fw-loop-zc": "ublk-fw loop, SHMEM_ZC",
    "raw-null-defer": "raw-null --defer (DEFER_TASKRUN rings)",
    "raw-null-touch3": "raw-null --touch 3 (3 more pages per request)",
    "fw-null-alt": "ublk-fw null, --alt-ctl build",
    "fw-mem-alt": "ublk-fw memory, --alt-ctl build",
    "fw-loop-alt": "ublk-fw loop, --alt-ctl build",
}
# (key, ours, baseline, title)
PAIRS = [
    ("null_vs_raw", "fw-null", "raw-null", "ublk-fw null / raw-null"),
    ("raw_vs_nullblk", "raw-null", "nullb", "raw-null / null_blk"),
    ("null_vs_nullblk", "fw-null", "nullb", "ublk-fw null / null_blk"),
    ("mem_vs_brd", "fw-mem", "brd", "ublk-fw memory / brd"),
    ("loop_vs_kloop", "fw-loop", "kloop", "ublk-fw loop / kernel loop"),
    ("loop_sync_vs_uring", "fw-loop", "fw-loop-uring", "ublk-fw loop: --io auto (sync on tmpfs) / --io uring"),
    ("memzc_vs_copy", "fw-mem-zc", "fw-mem-hp", "memory SHMEM_ZC / copy"),
    ("loopzc_vs_copy", "fw-loop-zc", "fw-loop-hp", "loop SHMEM_ZC / copy"),
    ("mem_vs_null", "fw-mem", "fw-null", "ublk-fw memory / ublk-fw null"),
    ("loop_vs_null", "fw-loop", "fw-null", "ublk-fw loop / ublk-fw null"),
    ("nulluc_vs_copy", "fw-null-uc", "fw-null", "null --user-copy / copy"),
    ("memuc_vs_copy", "fw-mem-uc", "fw-mem", "memory --user-copy / copy"),
    # A/B tests of a changed build (bench/measure.sh --alt-ctl) and of ring flags
    ("defer_vs_raw", "raw-null-defer", "raw-null", "raw-null --defer / raw-null"),
    ("null_vs_rawdefer", "fw-null", "raw-null-defer", "ublk-fw null / raw-null --defer"),
    ("touch3_vs_raw", "raw-null-touch3", "raw-null", "raw-null --touch 3 / raw-null"),
    ("null_vs_touch3", "fw-null", "raw-null-touch3", "ublk-fw null / raw-null --touch 3"),
    ("null_alt", "fw-null-alt", "fw-null", "null: alt build / current"),
    ("mem_alt", "fw-mem-alt", "fw-mem", "memory: alt build / current"),
    ("loop_alt", "fw-loop-alt", "fw-loop", "loop: alt build / current"),
    ("loop_alt_vs_kloop", "fw-loop-alt", "kloop", "loop alt build / kernel loop"),
    ("mem_alt_vs_brd", "fw-mem-alt", "brd", "memory alt build / brd"),
]
# (key, kind, args, metric, op, target, title)
#   kind "pair": args = (pair key, job); "scale": args = (device, job_hi, job_lo)
GOALS = [
    ("null_iops_rr", "pair", ("null_vs_raw", "rr4k_qd32"), "iops", ">=", 0.95,
     "ublk-fw null IOPS >= 0.95x raw-null, 4k randread QD32"),
    ("null_iops_rw", "pair", ("null_vs_raw", "rw4k_qd32"), "iops", ">=", 0.95,
     "ublk-fw null IOPS >= 0.95x raw-null, 4k randwrite QD32"),
    ("null_cpu_rr", "pair", ("null_vs_raw", "rr4k_qd32"), "cpu_us_per_io", "<=", 1.10,
     "ublk-fw null server CPU/IO <= 1.1x raw-null, 4k randread QD32"),
    ("null_cpu_rw", "pair", ("null_vs_raw", "rw4k_qd32"), "cpu_us_per_io", "<=", 1.10,
     "ublk-fw null server CPU/IO <= 1.1x raw-null, 4k randwrite QD32"),
    ("loop_rr", "pair", ("loop_vs_kloop", "rr4k_qd32"), "iops", ">=", 1.0,
     "ublk-fw loop >= 1.0x kernel loop, 4k randread QD32"),
    ("loop_rw", "pair", ("loop_vs_kloop", "rw4k_qd32"), "iops", ">=", 1.0,
     "ublk-fw loop >= 1.0x kernel loop, 4k randwrite QD32"),
    ("mem_rr", "pair", ("mem_vs_brd", "rr4k_qd32"), "iops", ">=", 0.6,
     "ublk-fw memory >= 0.6x brd, 4k randread QD32"),
    ("mem_rw", "pair", ("mem_vs_brd", "rw4k_qd32"), "iops", ">=", 0.6,
     "ublk-fw memory >= 0.6x brd, 4k randwrite QD32"),
    ("memzc_r", "pair", ("memzc_vs_copy", "sr1m_qd8"), "mibs", ">=", 1.5,
     "memory SHMEM_ZC >= 1.5x copy, 1M read"),
    ("memzc_w", "pair", ("memzc_vs_copy", "sw1m_qd8"), "mibs", ">=", 1.5,
     "memory SHMEM_ZC >= 1.5x copy, 1M write"),
    ("loopzc_r", "pair", ("loopzc_vs_copy", "sr1m_qd8"), "mibs", ">=", 1.5,
     "loop SHMEM_ZC >= 1.5x copy, 1M read"),
    ("loopzc_w", "pair", ("loopzc_vs_copy", "sw1m_qd8"), "mibs", ">=", 1.5,
     "loop SHMEM_ZC >= 1.5x copy, 1M write"),
    ("null_2q", "scale", ("fw-null", "rr4k_2q", "rr4k_qd32"), "iops", ">=", 1.7,
     "ublk-fw null: 2 queues x 2 jobs >= 1.7x 1 queue x 1 job (4k randread QD32)"),
    # issue 14: lead on every job
    ("null_lead_qd32", "pair", ("null_vs_raw", "rr4k_qd32"), "iops", ">=", 1.5,
     "ublk-fw null IOPS >= 1.5x raw-null, 4k randread QD32 (the lead kept)"),
] + [
    (f"null_{m}_{jb}", "pair", ("null_vs_raw", jb), m, op, 1.0,
     f"ublk-fw null {what} raw-null, {title}")
    for jb, title in (("rr4k_qd1", "4k randread QD1"), ("rr4k_2q", "4k randread 2 queues x 2 jobs"),
                      ("sr1m_qd8", "1M read QD8"), ("sw1m_qd8", "1M write QD8"))
    for m, op, what in (("iops", ">=", "IOPS >= 1.0x"), ("cpu_us_per_io", "<=", "server CPU/IO <= 1.0x"))
] + [
    (f"{t}_vs_null_{jb}", "pair", (f"{t}_vs_null", jb), "iops", ">=", 0.95,
     f"ublk-fw {t if t == 'loop' else 'memory'} IOPS >= 0.95x ublk-fw null, {title}")
    for t in ("mem", "loop")
    for jb, title in (("rr4k_qd1", "4k randread QD1"), ("rr4k_qd32", "4k randread QD32"))
]
SCALE_INFO = ["nullb", "raw-null", "raw-null-defer", "fw-null", "brd", "fw-mem", "kloop", "fw-loop", "fw-loop-uring",
              "fw-null-alt", "fw-mem-alt", "fw-loop-alt"]


def fio_figures(path, clk_tck, run):
    """One run's figures from fio's JSON and the server's tick counts."""
    try:
        with open(path) as f:
            text = f.read()
        # fio may print notes before the JSON object
        j = json.loads(text[text.index("{"):])
        job = j["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    r, w = job["read"], job["write"]
    d = r if r["total_ios"] >= w["total_ios"] else w
    ios = r["total_ios"] + w["total_ios"]
    if ios <= 0 or job.get("error", 0):
        return None
    pct = d["clat_ns"].get("percentile", {})
    fig = {
        "iops": r["iops"] + w["iops"],
        "mibs": (r["bw_bytes"] + w["bw_bytes"]) / 1048576.0,
        "clat_mean_us": d["clat_ns"]["mean"] / 1000.0,
        "clat_p99_us": pct.get("99.000000", 0) / 1000.0 if pct else None,
        "ios": ios,
        "fio_cpu_pct": job.get("usr_cpu", 0) + job.get("sys_cpu", 0),
        "cpu_us_per_io": None, "server_cpu_s": None, "wq_share": None, "cs_per_io": None,
    }
    t0, t1 = run.get("ticks_before"), run.get("ticks_after")
    if t0 is not None and t1 is not None:
        cpu_s = (t1 - t0) / float(clk_tck)
        fig["server_cpu_s"] = cpu_s
        fig["cpu_us_per_io"] = cpu_s * 1e6 / ios
        fig["wq_share"] = (run.get("wq_ticks", 0) / float(t1 - t0)) if t1 > t0 else 0.0
        if run.get("ctx_switches") is not None:
            fig["cs_per_io"] = run["ctx_switches"] / float(ios)
    s0, s1 = run.get("stats_before") or {}, run.get("stats_after") or {}
    for k in ("zc_ios", "copy_ios", "zc_rejected"):
        if k in s0 and k in s1:
            fig[k] = s1[k] - s0[k]
    mem = run.get("mem_after") or {}
    fig["rss_anon_kb"], fig["vm_pin_kb"] = mem.get("rss_anon_kb"), mem.get("vm_pin_kb")
    return fig


def fmt(v, nd=2):
    if v is None:
        return "n/a"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, float) and abs(v) >= 100:
        return f"{v:.0f}"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "meta.json")) as f:
        meta = json.load(f)
    runs = []
    with open(os.path.join(src, "runs.jsonl")) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    clk = meta.get("clk_tck", 100)
    jobs = meta["jobs"]
    devices = list(meta["devices"].keys())
    reps = sorted({r["rep"] for r in runs})

    # per (dev, job, rep): figures
    fig = {}
    failed = []
    for r in runs:
        f = fio_figures(os.path.join(src, r["file"]), clk, r) if r["fio_rc"] == 0 else None
        if f is None:
            failed.append(f'{r["dev"]}/{r["job"]}/rep{r["rep"]}')
        fig[(r["dev"], r["job"], r["rep"])] = f

    metrics = ["iops", "mibs", "clat_mean_us", "clat_p99_us", "cpu_us_per_io", "wq_share", "cs_per_io",
               "fio_cpu_pct", "zc_ios", "copy_ios", "zc_rejected", "rss_anon_kb", "vm_pin_kb"]
    results = {}
    for d in devices:
        results[d] = {}
        for jb in jobs:
            per = [fig.get((d, jb, rp)) for rp in reps]
            med = {}
            for m in metrics:
                vals = [p[m] for p in per if p and p.get(m) is not None]
                if m in ("zc_ios", "copy_ios", "zc_rejected"):
                    med[m] = sum(vals) if vals else None	# totals over the repeats
                elif m in ("rss_anon_kb", "vm_pin_kb"):
                    med[m] = max(vals) if vals else None	# levels: the highest after the job
                else:
                    med[m] = median(vals)
            results[d][jb] = {"median": med, "runs": per}

    def figure(d, jb, m):	# repeat -> one figure of device d on job jb
        return {rp: (fig.get((d, jb, rp)) or {}).get(m) for rp in reps}

    def paired(a, b, jb, m, jb_b=None):
        return paired_ratios(figure(a, jb, m), figure(b, jb_b or jb, m), reps)

    ratios = {}
    for key, a, b, title in PAIRS:
        if a not in devices or b not in devices:
            continue
        ratios[key] = {"ours": a, "baseline": b, "title": title, "jobs": {}}
        for jb in jobs:
            e = {}
            for m in ("iops", "mibs", "clat_mean_us", "cpu_us_per_io"):
                v = paired(a, b, jb, m)
                e[m] = {"median": median(v), "pairs": v}
            ratios[key]["jobs"][jb] = e
    scaling = {}
    if "rr4k_2q" in jobs and "rr4k_qd32" in jobs:
        for d in devices:
            v = paired(d, d, "rr4k_2q", "iops", "rr4k_qd32")
            scaling[d] = {"median": median(v), "pairs": v}

    goals = []
    for key, kind, args, m, op, target, title in GOALS:
        if kind == "pair":
            pk, jb = args
            v = ratios.get(pk, {}).get("jobs", {}).get(jb, {}).get(m, {}).get("pairs", [])
        else:
            d, hi, lo = args
            v = paired(d, d, hi, m, lo) if d in devices and hi in jobs and lo in jobs else []
        med = median(v)
        met = None if med is None else (med >= target if op == ">=" else med <= target)
        goals.append({"key": key, "title": title, "metric": m, "op": op, "target": target,
                      "median": med, "pairs": v, "met": met})

    zc_check = {}
    for d in devices:
        if d.endswith("-zc"):
            tot = [results[d][jb]["median"].get("zc_ios") for jb in jobs]
            zc_check[d] = sum(t for t in tot if t)

    os.makedirs(out, exist_ok=True)
    doc = {"meta": meta, "jobs": {jb: JOB_TITLES.get(jb, jb) for jb in jobs},
           "devices": {d: DEV_TITLES.get(d, d) for d in devices},
           "results": {d: {jb: results[d][jb] for jb in jobs} for d in devices},
           "ratios": ratios, "scaling_2q": scaling, "goals": goals,
           "zc_ios_total": zc_check, "failed_runs": failed}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    # ---- Markdown ----------------------------------------------------------
    L = []
    accel = "KVM" if re.search(r"\bVMACCEL=kvm\b", meta.get("cmdline", "")) else "TCG"
    where = f"qemu {accel} guest" if meta.get("guest") else "natively"
    L.append(f"Measured {where} at revision {meta.get('rev', '?')}: kernel {meta['kernel']}, {meta['cpus']} CPUs, "
             f"{meta['mem_kb'] // 1024} MiB, clocksource {meta.get('clocksource', '?')}, "
             f"{meta['fio']}; {len(reps)} repeat(s) x {meta['runtime_s']} s per run"
             f"{' (SMOKE MODE: not a measurement)' if meta.get('smoke') else ''}.")
    L.append("Ratios are medians of paired ratios (the two devices ran back to back in each "
             "repeat); absolute figures are medians.")
    if failed:
        L.append(f"**Failed runs** (left out): {', '.join(failed)}")
    L.append("")
    L.append("### Goals")
    L.append("")
    L.append("| goal | measured (median) | paired ratios | target | met |")
    L.append("|---|---|---|---|---|")
    for g in goals:
        pr = ", ".join(f"{x:.2f}" for x in g["pairs"]) or "n/a"
        met = "n/a" if g["met"] is None else ("yes" if g["met"] else "**no**")
        L.append(f"| {g['title']} ({g['metric']}) | {fmt(g['median'])} | {pr} | "
                 f"{g['op']} {g['target']} | {met} |")
    L.append("")
    if zc_check:
        L.append("Zero-copy I/Os counted by the SHMEM_ZC servers over all their runs: " +
                 ", ".join(f"{d} {n}" for d, n in zc_check.items()) + ".")
        L.append("")
    L.append("### Ratios, ours / baseline (IOPS; CPU/IO where both have a server)")
    L.append("")
    L.append("| comparison | " + " | ".join(JOB_SHORT.get(j, j) for j in jobs) + " |")
    L.append("|---|" + "---|" * len(jobs))
    for key, r in ratios.items():
        row = []
        for jb in jobs:
            e = r["jobs"][jb]
            s = fmt(e["iops"]["median"])
            if e["cpu_us_per_io"]["median"] is not None:
                s += f" (cpu {fmt(e['cpu_us_per_io']['median'])})"
            row.append(s)
        L.append(f"| {r['title']} | " + " | ".join(row) + " |")
    L.append("")
    if scaling:
        L.append("### Queue scaling: 4k randread, 2 queues x 2 jobs / 1 queue x 1 job, same device")
        L.append("")
        L.append("| device | ratio (median) | paired ratios |")
        L.append("|---|---|---|")
        for d in SCALE_INFO:
            if d in scaling:
                pr = ", ".join(f"{x:.2f}" for x in scaling[d]["pairs"]) or "n/a"
                L.append(f"| {DEV_TITLES.get(d, d)} | {fmt(scaling[d]['median'])} | {pr} |")
        L.append("")
    mem_devs = [d for d in devices if any(results[d][jb]["median"].get("rss_anon_kb") is not None
                                          for jb in jobs)]
    if mem_devs:
        L.append("### Server memory")
        L.append("")
        L.append("Anonymous resident memory of the server process after each job, the highest "
                 "over the repeats, in MiB (its I/O buffers and heap; the memory target's RAM "
                 "disk is a shared file mapping, not counted), and its long-term pinned memory "
                 "(VmPin). Levels, not per-job figures: a buffer once touched stays resident, so "
                 "each value is what the jobs so far made the server keep.")
        L.append("")
        L.append("| device | " + " | ".join(JOB_SHORT.get(j, j) for j in jobs) + " | VmPin |")
        L.append("|---|" + "---|" * (len(jobs) + 1))
        for d in mem_devs:
            row = [fmt(None if results[d][jb]["median"]["rss_anon_kb"] is None
                       else results[d][jb]["median"]["rss_anon_kb"] / 1024.0, 1) for jb in jobs]
            pins = [results[d][jb]["median"]["vm_pin_kb"] for jb in jobs]
            pins = [p for p in pins if p is not None]
            row.append(f"{max(pins)} KiB" if pins else "n/a")
            L.append(f"| {DEV_TITLES.get(d, d)} | " + " | ".join(row) + " |")
        L.append("")
    L.append("### Absolute figures (medians)")
    L.append("")
    L.append("IOPS; MiB/s; mean and p99 completion latency (us); server CPU per I/O (us, "
             "utime+stime of the whole server process); share of that CPU in io_uring io-wq "
             "workers; server context switches per I/O; zero-copy / copied I/Os (totals "
             "over the repeats).")
    for jb in jobs:
        L.append("")
        L.append(f"**{JOB_TITLES.get(jb, jb)}**")
        L.append("")
        L.append("| device | IOPS | MiB/s | clat mean | clat p99 | CPU/IO | io-wq | cs/IO | zc / copy |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for d in devices:
            m = results[d][jb]["median"]
            wq = "n/a" if m["wq_share"] is None else f"{m['wq_share'] * 100:.0f}%"
            zc = "n/a" if m.get("zc_ios") is None else f"{m['zc_ios']} / {m['copy_ios']}"
            L.append(f"| {DEV_TITLES.get(d, d)} | {fmt(m['iops'])} | {fmt(m['mibs'], 1)} | "
                     f"{fmt(m['clat_mean_us'], 1)} | {fmt(m['clat_p99_us'], 1)} | "
                     f"{fmt(m['cpu_us_per_io'], 1)} | {wq} | {fmt(m['cs_per_io'])} | {zc} |")
    L.append("")
    L.append("Devices: " + "; ".join(
        f"{d} = {meta['devices'][d]['path']} ({meta['devices'][d]['hw_queues']} hw queues, "
        f"max {meta['devices'][d]['max_sectors_kb']} KiB"
        f"{', fio --mem=' + meta['devices'][d]['fio_mem'] if meta['devices'][d]['fio_mem'] else ''})"
        for d in devices) + ".")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(L) + "\n")

    # ---- chart ------------------------------------------------------------------
    with open(os.path.join(out, "chart-ratios.dat"), "w") as f:
        f.write("job " + " ".join('"%s"' % r["title"] for r in ratios.values()) + "\n")
        for jb in jobs:
            vals = [ratios[k]["jobs"][jb]["iops"]["median"] for k in ratios]
            f.write('"%s" ' % JOB_SHORT.get(jb, jb) +
                    " ".join("%.4f" % v if v is not None else "NaN" for v in vals) + "\n")
    with open(os.path.join(out, "chart-iops.dat"), "w") as f:
        f.write("job " + " ".join('"%s"' % d for d in devices) + "\n")
        for jb in jobs:
            vals = [results[d][jb]["median"]["iops"] for d in devices]
            f.write('"%s" ' % JOB_SHORT.get(jb, jb) +
                    " ".join("%.1f" % v if v else "NaN" for v in vals) + "\n")
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chart.gp")
    title = (f"ublk-fw benchmarks: {meta['kernel']}, {where}, {meta['cpus']} CPUs"
             f"{' (smoke)' if meta.get('smoke') else ''}")
    cmd = ["gnuplot", "-e", f"outdir='{out}'; ttl='{title}'; nratios={len(ratios)}; "
           f"ndev={len(devices)}", gp]
    rc = subprocess.call(cmd)
    if rc != 0:
        print("report: gnuplot failed", file=sys.stderr)
        return 1

    raw = os.path.join(out, "raw")
    if os.path.abspath(src) != os.path.abspath(raw):
        shutil.rmtree(raw, ignore_errors=True)
        shutil.copytree(src, raw, ignore=shutil.ignore_patterns("console.log", "dmesg.log", ".*"))
    print(f"report: {out}/results.md, results.json, chart.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
