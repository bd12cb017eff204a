#!/bin/sh
# SPDX-License-Identifier: MIT
#
# rbd-measure.sh OUT RUNTIME [REPEATS] - the guest side of bench/rbd-pair.sh:
# one single-node cluster (tests/ceph/ceph-single.sh), one image, attached
# at once to ublk-fw's rbd target and to the kernel's RBD client (rbd device
# map); each fio job runs REPEATS times (default 3) on both, interleaved
# (the order flips from job to job and repeat to repeat, so that a cluster
# that gets faster or slower over the boot weighs on both alike).  Per run
# one JSON line in OUT/runs.jsonl: device, job, repeat, iops, MB/s, the whole
# guest's busy CPU and (ublk-fw) the server process's CPU, in microseconds
# per I/O.  Both clients hold the image open: a write job moves the image's
# exclusive lock to its client once, at its start (each hands it over on
# request), which costs both alike.
set -u
TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
CTL=$TOP/build/ublk-fw-ctl
OUT=$1 RUNTIME=$2 REPEATS=${3:-3}
D=/var/tmp/rbd-bench
CONF=$D/ceph.conf
mkdir -p "$OUT"; : > "$OUT/runs.jsonl"
HZ=$(getconf CLK_TCK)

# name:fio args
JOBS="randread-4k-qd32:--rw=randread --bs=4k --iodepth=32
randwrite-4k-qd32:--rw=randwrite --bs=4k --iodepth=32
read-128k-qd8:--rw=read --bs=128k --iodepth=8
write-128k-qd8:--rw=write --bs=128k --iodepth=8"

say() { echo "rbd-measure: $(cut -d' ' -f1 /proc/uptime) s: $*"; }
. "$TOP/bench/cpu.sh"	# guest_busy, proc_ticks
. "$TOP/bench/order.sh"	# flipped

run_one() {	# run_one DEVICE-NAME DEV SERVER-PID REPEAT JOB FIO-ARGS
	f=$OUT/$1-$5-$4.json
	b0=$(guest_busy) p0=$(proc_ticks "$3")
	# shellcheck disable=SC2086
	fio --name=b --filename="$2" --direct=1 --ioengine=io_uring --time_based \
		--runtime="$RUNTIME" --size=192M $6 --output-format=json < /dev/null > "$f" 2>&1
	b1=$(guest_busy) p1=$(proc_ticks "$3")
	jq -c --arg d "$1" --arg j "$5" --argjson rep "$4" --argjson bc $(((b1 - b0) * 1000000 / HZ)) \
		--argjson pc $(((p1 - p0) * 1000000 / HZ)) \
		'.jobs[0] | (.read.total_ios + .write.total_ios) as $n |
		 { device: $d, job: $j, rep: $rep, iops: (.read.iops + .write.iops),
		   mbps: ((.read.bw_bytes + .write.bw_bytes) / 1e6), ios: $n, error: .error,
		   cpu_us_per_io: (if $n > 0 then $bc / $n else null end),
		   server_cpu_us_per_io: (if $n > 0 and $pc > 0 then $pc / $n else null end) }' \
		"$f" >> "$OUT/runs.jsonl" ||
		echo "{\"device\":\"$1\",\"job\":\"$5\",\"rep\":$4,\"iops\":0}" >> "$OUT/runs.jsonl"
	say "$4/$REPEATS $5 $1: $(jq -r '.jobs[0] | (.read.iops + .write.iops) | floor' "$f" 2>/dev/null) IOPS"
}

CEPH_IMAGE_SIZE=256M "$TOP/tests/ceph/ceph-single.sh" start "$D" > "$OUT/ceph-start.log" 2>&1 ||
	{ cat "$OUT/ceph-start.log"; exit 1; }
# the image written once, so that both clients read data
rbd -c "$CONF" bench --io-type write --io-size 4M --io-total 192M --io-pattern seq rbd/img \
	> "$OUT/prefill.log" 2>&1

say "ublk-fw rbd: add"
FWDEV="" FWPID=""
out=$("$CTL" add -t rbd -q 2 --conf "$CONF" rbd/img) && id=${out#/dev/ublkb} && id=${id%% *}
if [ -n "${id:-}" ]; then
	FWDEV=/dev/ublkb$id
	FWPID=$("$CTL" list -n "$id" --json | jq .[0].pid)
else
	echo "rbd-measure: add failed: $out"
fi
say "kernel rbd: map"
modprobe rbd
# noudev: the guest runs no udev, which rbd would otherwise wait for
# forever (the node comes from devtmpfs)
KDEV=$(timeout 120 rbd -c "$CONF" device map -o noudev rbd/img 2> "$OUT/map.log") ||
	{ echo "rbd-measure: rbd device map failed: $(cat "$OUT/map.log")"; KDEV=""; }

k=0
for rep in $(seq "$REPEATS"); do
	while IFS=: read -r job args; do
		k=$((k + 1))
		order="ublk-fw-rbd kernel-rbd"
		flipped $k "$rep" && order="kernel-rbd ublk-fw-rbd"
		for d in $order; do
			case $d in
			ublk-fw-rbd) [ -n "$FWDEV" ] && run_one "$d" "$FWDEV" "$FWPID" "$rep" "$job" "$args" ;;
			kernel-rbd) [ -n "$KDEV" ] && run_one "$d" "$KDEV" "" "$rep" "$job" "$args" ;;
			esac
		done
	done <<JOBS
$JOBS
JOBS
done

[ -n "${id:-}" ] && "$CTL" del -n "$id" > /dev/null
[ -n "$KDEV" ] && timeout 120 rbd -c "$CONF" device unmap -o noudev "$KDEV"
"$TOP/tests/ceph/ceph-single.sh" stop "$D"
