#!/bin/bash
# SPDX-License-Identifier: MIT
#
# profile.sh - where a server's time goes, per I/O: the diagnostics behind the
# findings in docs/benchmarks.md.  Not part of `make bench` (it perturbs what
# it measures); run it in the guest like bench/measure.sh:
#
#   tests/vm/vmrun.sh -k patched -m 3G -t 3600 -n profile -- \
#       bench/profile.sh --out $PWD/tests/out/vm/profile/data [--what "cs strace callgrind perf"]
#       [--servers "raw-null fw-null fw-mem fw-loop raw-null-touch8 raw-null-calls8"]
#       [--jobs "rr4k_qd1 rr4k_qd32"] [--alt-ctl PATH (servers alt-null, alt-loop)]
#       [--rounds N (perf: N rounds, each starting one server later)]
#
# strace:    strace -c -f attached to the server during a 4 s fio run:
#            syscalls per I/O by name (strace slows the server, which makes
#            batches larger at QD32: read it as an upper bound of the batch
#            cost, exact at QD1).
# callgrind: the server under valgrind --tool=callgrind, fio doing exactly N1
#            and then (a fresh server) N2 I/Os; instructions per I/O =
#            (Ir(N2) - Ir(N1)) / (N2 - N1), start-up and tear-down cancel out;
#            the same difference per function (callgrind_annotate).
# cs:        no tracer: IOPS, server CPU and context switches per I/O, and each
#            server thread's allowed CPUs and last CPU.
# perf:      perf record -a -e cpu-clock for 5 s in the middle of a 9 s fio run:
#            the whole guest's samples as microseconds per I/O, by process
#            (server, fio, idle) and, for the server, by symbol (user and
#            kernel); a sampler, so read differences of a few samples as noise.
#            Each run's server user and kernel time and fio's go to
#            perf.jsonl; with --rounds N > 1 a summary gives each server's
#            medians and its paired ratios to the first server named, also
#            relative to fio's own CPU per I/O: at QD1 fio's path is the same
#            for every server, so that ratio takes out how fast the guest ran
#            in that run (which moves fio's own cost by up to 1.5x).
# Output: DIR/profile.md and the raw files.
set -u -o pipefail
TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/.." && pwd -P)}
CTL=$TOP/build/ublk-fw-ctl
RAW=$TOP/build/bench/raw-null
OUT="" WHAT="cs strace callgrind" SERVERS="raw-null fw-null" JOBS="rr4k_qd1 rr4k_qd32"
N1=3000 N2=9000 ALT_CTL="" ROUNDS=1
while [ $# -gt 0 ]; do
	case $1 in
	--out)		OUT=$2; shift 2 ;;
	--what)		WHAT=$2; shift 2 ;;
	--servers)	SERVERS=$2; shift 2 ;;
	--jobs)		JOBS=$2; shift 2 ;;
	--n)		N1=$2; N2=$3; shift 3 ;;
	--alt-ctl)	ALT_CTL=$2; shift 2 ;;
	--rounds)	ROUNDS=$2; shift 2 ;;
	*)		echo "profile: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$OUT" ] || { echo "profile: --out DIR is required" >&2; exit 2; }
mkdir -p "$OUT" || { echo "profile: cannot create $OUT (in the guest, only the share under tests/out/vm is writable)" >&2; exit 2; }
W=/dev/shm/ublkfw-profile
. "$TOP/bench/cpu.sh"	# proc_ticks
mkdir -p $W
MD=$OUT/profile.md
: > "$MD"
say() { printf 'profile: %s\n' "$*"; }
md() { printf '%s\n' "$*" >> "$MD"; }

fio_args() {
	case $1 in
	rr4k_qd1)	echo "--rw=randread --bs=4k --iodepth=1" ;;
	rr4k_qd32)	echo "--rw=randread --bs=4k --iodepth=32" ;;
	rr4k_2q)	echo "--rw=randread --bs=4k --iodepth=32 --numjobs=2 --group_reporting" ;;
	rw4k_qd32)	echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	sr128k_qd8)	echo "--rw=read --bs=128k --iodepth=8" ;;
	sr1m_qd8)	echo "--rw=read --bs=1M --iodepth=8" ;;
	sw1m_qd8)	echo "--rw=write --bs=1M --iodepth=8" ;;
	*)		echo "profile: unknown job $1" >&2; exit 2 ;;
	esac
}

cpus() {	# the CPU placement of bench/measure.sh
	case $1 in *_2q) echo "--cpus_allowed=0-1 --cpus_allowed_policy=split" ;; *) echo "--cpus_allowed=0" ;; esac
}
# threads PID: per thread: name, allowed CPUs, last CPU, context switches
threads() {
	for t in /proc/$1/task/*; do
		printf '%s %s allowed=%s last_cpu=%s cs=%s; ' "${t##*/}" "$(cat $t/comm)" \
			"$(sed -n 's/^Cpus_allowed_list:\s*//p' $t/status)" \
			"$(awk '{ sub(/^.*\) /, ""); print $37 }' $t/stat)" \
			"$(awk '/ctxt_switches/ { s += $2 } END { print s }' $t/status)"
	done
}

# server_cmd NAME: the command line of a foreground server
server_cmd() {
	case $1 in
	raw-null)	echo "$RAW -q 2 -s 1G" ;;
	raw-null-defer)	echo "$RAW -q 2 -s 1G --defer" ;;
	raw-null-touch*) echo "$RAW -q 2 -s 1G --touch ${1#raw-null-touch}" ;;
	raw-null-calls*) echo "$RAW -q 2 -s 1G --calls ${1#raw-null-calls}" ;;
	fw-null)	echo "$CTL add -t null -q 2 -s 1G --foreground" ;;
	fw-null-libev)	echo "env UBLKFW_QUEUE_WAIT=libev $CTL add -t null -q 2 -s 1G --foreground" ;;
	fw-mem)		echo "$CTL add -t memory -q 2 -s 256M --foreground" ;;
	fw-loop)	echo "$CTL add -t loop -q 2 --foreground $W/loop.img" ;;
	alt-loop)	echo "${ALT_CTL:?--alt-ctl} add -t loop -q 2 --foreground $W/loop.img" ;;
	alt-null)	echo "${ALT_CTL:?--alt-ctl} add -t null -q 2 -s 1G --foreground" ;;
	*)		echo "profile: unknown server $1" >&2; exit 2 ;;
	esac
}
[ -f $W/loop.img ] || dd if=/dev/zero of=$W/loop.img bs=1M count=256 status=none

SPID="" SDEV="" START_WAIT=60
start_server() {	# start_server LOGFILE CMD...: SPID, SDEV (waits START_WAIT s)
	local log=$1
	shift
	"$@" > "$log" 2>&1 &
	SPID=$!
	for _ in $(seq $((START_WAIT * 10))); do
		grep -q '^/dev/ublkb' "$log" && break
		kill -0 $SPID 2>/dev/null || break
		sleep 0.1
	done
	SDEV=$(sed -n 's|^\(/dev/ublkb[0-9]*\) .*|\1|p' "$log" | head -1)
	[ -b "$SDEV" ] || { say "server did not start: $*: $(tail -5 "$log")"; return 1; }
	echo none > /sys/block/${SDEV#/dev/}/queue/scheduler 2>/dev/null
	return 0
}
stop_server() {
	kill -TERM $SPID 2>/dev/null
	wait $SPID 2>/dev/null
	SPID=""
}

# perf_run SERVER JOB ROUND: one server, one fio run, 5 s of samples; its
# section in profile.md and one line of perf.jsonl: IOPS and microseconds per
# I/O of the server's user space and kernel and of fio (fio's own path is the
# same for every server at QD1: the control for how fast the guest ran).
perf_run() {
	local s=$1 j=$2 r=$3 comm fpid iops txt
	start_server $W/srv.log $(server_cmd $s) || return
	comm=$(cat /proc/$SPID/comm)
	# shellcheck disable=SC2046
	fio --name=p --filename=$SDEV --ioengine=io_uring --direct=1 --time_based \
		--runtime=9 --norandommap --randrepeat=0 $(cpus $j) $(fio_args $j) \
		--output-format=json --output=$OUT/fio-perf-$s-$j-r$r.json > /dev/null 2>&1 &
	fpid=$!
	sleep 2
	timeout 30 perf record -e cpu-clock -a -F 999 -o $W/perf.data -- sleep 5 \
		> $W/perf.err 2>&1 || say "perf record failed: $(tail -2 $W/perf.err)"
	wait $fpid
	stop_server
	txt=$OUT/perf-$s-$j-r$r.txt
	perf report -i $W/perf.data --no-children --sort comm,dso,sym --stdio > $txt 2>/dev/null
	iops=$(jq '.jobs[0].read.iops + .jobs[0].write.iops' $OUT/fio-perf-$s-$j-r$r.json)
	python3 - "$txt" "$iops" "$(nproc)" "$comm" "$s" "$j" "$r" "$OUT/perf.jsonl" >> "$MD" <<'EOF'
import json, re, sys
path, iops, ncpu, comm, s, j, r, jl = sys.argv[1:]
iops, ncpu = float(iops), int(ncpu)
us = lambda pct: pct / 100 * ncpu * 1e6 / iops      # a share of all CPUs, per I/O
procs, syms, split = {}, [], {"k": 0.0, ".": 0.0}
for line in open(path):
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$", line)
    if not m:
        continue
    pct, who, dso, sym = float(m.group(1)), m.group(2), m.group(3), m.group(5)
    key = "server" if who == comm else ("idle" if who == "swapper" else who)
    procs[key] = procs.get(key, 0) + pct
    if key == "server":
        syms.append((pct, f"{sym} ({dso})"))
        split["k" if m.group(4) == "k" else "."] += pct
with open(jl, "a") as f:
    print(json.dumps({"server": s, "job": j, "round": int(r), "iops": iops,
                      "user_us": us(split["."]), "kernel_us": us(split["k"]),
                      "fio_us": us(procs.get("fio", 0))}), file=f)
print(f"### {s}, {j}, round {r}: {iops:.0f} IOPS; " +
      ", ".join(f"{k} {us(v):.1f}" for k, v in sorted(procs.items(), key=lambda kv: -kv[1])[:5]) +
      f" us per I/O; server user {us(split['.']):.2f}, kernel {us(split['k']):.1f}\n")
print("| server symbol | us per I/O |")
print("|---|---|")
for pct, name in sorted(syms, reverse=True)[:20]:
    print(f"| `{name}` | {us(pct):.2f} |")
print()
EOF
	say "perf $s $j round $r: $(grep "^### $s, $j, round $r:" "$MD" | tail -1)"
}

# perf_summary: per job, each server's medians over the rounds and, in
# brackets, the median of its paired ratios to the first server named (the
# same round, run back to back).
perf_summary() {
	python3 - "$OUT/perf.jsonl" "${SERVERS%% *}" >> "$MD" <<'EOF'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = sys.argv[2]
med = lambda v: st.median(v) if v else float("nan")
keys = ("iops", "user_us", "kernel_us", "fio_us", "user_rel", "kernel_rel")
for job in sorted({x["job"] for x in rows}):
    by = {}
    for x in rows:
        if x["job"] == job and x["fio_us"] > 0:
            x["user_rel"], x["kernel_rel"] = x["user_us"] / x["fio_us"], x["kernel_us"] / x["fio_us"]
            by.setdefault(x["server"], {})[x["round"]] = x
    if base not in by:
        continue
    print(f"### {job}: medians over the rounds; in brackets, the median of the paired ratios to {base}\n")
    print("| server | rounds | IOPS | server user us/IO | server kernel us/IO | fio us/IO | user / fio | kernel / fio |")
    print("|---|---|---|---|---|---|---|---|")
    for s, rs in by.items():
        cells = []
        for k in keys:
            v = med([x[k] for x in rs.values()])
            cell = f"{v:.3f}" if k.endswith("rel") else f"{v:.0f}" if v >= 1000 else f"{v:.2f}"
            if s != base:
                pairs = [x[k] / by[base][r][k] for r, x in rs.items() if r in by[base] and by[base][r][k]]
                cell += f" ({med(pairs):.2f})"
            cells.append(cell)
        print(f"| {s} | {len(rs)} | " + " | ".join(cells) + " |")
    print()
EOF
}

if [[ " $WHAT " == *" strace "* ]]; then
	md "## strace -c -f on the server: syscalls per I/O"
	md ""
	md "| server | job | I/Os | syscalls/IO | by name (per I/O) |"
	md "|---|---|---|---|---|"
	for s in $SERVERS; do
		for j in $JOBS; do
			start_server $W/srv.log $(server_cmd $s) || continue
			st=$OUT/strace-$s-$j.txt
			strace -c -f -p $SPID -o "$st" &
			spid=$!
			sleep 1
			# shellcheck disable=SC2046
			fio --name=p --filename=$SDEV --ioengine=io_uring --direct=1 --time_based \
				--runtime=4 --norandommap --randrepeat=0 $(cpus $j) $(fio_args $j) \
				--output-format=json --output=$OUT/fio-strace-$s-$j.json > /dev/null 2>&1
			kill -INT $spid
			wait $spid 2>/dev/null
			md_threads="$(threads $SPID)"
			stop_server
			ios=$(jq '.jobs[0].read.total_ios + .jobs[0].write.total_ios' $OUT/fio-strace-$s-$j.json)
			# strace -c table: "% time seconds usecs/call calls errors syscall"
			per=$(awk -v n="$ios" '$NF != "total" && $4 ~ /^[0-9]+$/ && NF >= 5 {
				printf "%s %.3f, ", $NF, $4 / n }' "$st")
			tot=$(awk -v n="$ios" '$NF == "total" { printf "%.3f", $4 / n }' "$st")
			md "| $s | $j | $ios | $tot | ${per%, } |"
			echo "$s $j threads: $md_threads" >> "$OUT/threads.txt"
			say "strace $s $j: $tot syscalls/IO ($ios I/Os): ${per%, }"
		done
	done
	md ""
fi

if [[ " $WHAT " == *" cs "* ]]; then
	md "## Without a tracer: server context switches and CPU per I/O, thread placement"
	md ""
	md "| server | job | IOPS | server CPU us/IO | context switches/IO | threads (allowed CPUs, last CPU, switches) |"
	md "|---|---|---|---|---|---|"
	for s in $SERVERS; do
		for j in $JOBS; do
			start_server $W/srv.log $(server_cmd $s) || continue
			c0=$(proc_ticks $SPID)
			x0=$(cat /proc/$SPID/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }')
			# shellcheck disable=SC2046
			fio --name=p --filename=$SDEV --ioengine=io_uring --direct=1 --time_based \
				--runtime=4 --norandommap --randrepeat=0 $(cpus $j) $(fio_args $j) \
				--output-format=json --output=$OUT/fio-cs-$s-$j.json > /dev/null 2>&1
			c1=$(proc_ticks $SPID)
			x1=$(cat /proc/$SPID/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }')
			th=$(threads $SPID)
			stop_server
			ios=$(jq '.jobs[0].read.total_ios + .jobs[0].write.total_ios' $OUT/fio-cs-$s-$j.json)
			iops=$(jq '.jobs[0].read.iops + .jobs[0].write.iops | floor' $OUT/fio-cs-$s-$j.json)
			r=$(awk -v c=$((c1 - c0)) -v x=$((x1 - x0)) -v n=$ios -v hz=$(getconf CLK_TCK) \
				'BEGIN { printf "%.1f | %.3f", c * 1e6 / hz / n, x / n }')
			md "| $s | $j | $iops | $r | ${th%; } |"
			say "cs $s $j: $iops IOPS | $r"
		done
	done
	md ""
fi

if [[ " $WHAT " == *" callgrind "* ]]; then
	md "## callgrind: user-space instructions per I/O, (Ir(N2) - Ir(N1)) / (N2 - N1), N1=$N1, N2=$N2"
	md ""
	START_WAIT=900		# a server under valgrind in a TCG guest starts in minutes
	for s in $SERVERS; do
		for j in $JOBS; do
			for n in $N1 $N2; do
				cg=$OUT/callgrind-$s-$j-$n.out
				start_server $W/srv.log valgrind --tool=callgrind --callgrind-out-file="$cg" \
					$(server_cmd $s) || continue 2
				# shellcheck disable=SC2046
				fio --name=p --filename=$SDEV --ioengine=io_uring --direct=1 \
					--number_ios=$n --size=1G --norandommap --randrepeat=0 \
					$(cpus $j) $(fio_args $j) --output-format=json \
					--output=$OUT/fio-cg-$s-$j-$n.json > /dev/null 2>&1
				stop_server
				callgrind_annotate --auto=no --inclusive=no --threshold=100 "$cg" \
					> "$cg.annotate" 2>/dev/null
			done
			a=$OUT/callgrind-$s-$j-$N1.out.annotate
			b=$OUT/callgrind-$s-$j-$N2.out.annotate
			n1=$(jq '.jobs[0].read.total_ios + .jobs[0].write.total_ios' $OUT/fio-cg-$s-$j-$N1.json)
			n2=$(jq '.jobs[0].read.total_ios + .jobs[0].write.total_ios' $OUT/fio-cg-$s-$j-$N2.json)
			python3 - "$a" "$b" "$n1" "$n2" "$s" "$j" >> "$MD" <<'EOF'
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
            fn[name] = fn.get(name, 0) + v
    return tot, fn
a, b, n1, n2, s, j = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
ta, fa = load(a)
tb, fb = load(b)
dn = n2 - n1
print(f"### {s}, {j}: {(tb - ta) / dn:.0f} instructions per I/O (I/Os {n1} and {n2})\n")
print("| function | Ir per I/O |")
print("|---|---|")
rows = sorted(((fb.get(k, 0) - fa.get(k, 0)) / dn, k) for k in set(fa) | set(fb))
for v, k in sorted(rows, reverse=True)[:25]:
    if v >= 1:
        print(f"| `{k}` | {v:.0f} |")
print()
EOF
			say "callgrind $s $j: $(grep "^### $s, $j" "$MD" | tail -1)"
		done
	done
fi
if [[ " $WHAT " == *" perf "* ]]; then
	md "## perf record -a -e cpu-clock: microseconds per I/O, whole guest"
	md ""
	: > $OUT/perf.jsonl
	order=$SERVERS
	for r in $(seq "$ROUNDS"); do
		for s in $order; do
			for j in $JOBS; do
				perf_run "$s" "$j" "$r"
			done
		done
		[[ $order == *" "* ]] && order="${order#* } ${order%% *}"	# the next round starts one server later
	done
	[ "$ROUNDS" -gt 1 ] && perf_summary
	md ""
fi
say "written $MD"
