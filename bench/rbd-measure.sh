#!/bin/sh
# SPDX-License-Identifier: MIT
#
# rbd-measure.sh OUT RUNTIME - the guest side of bench/rbd-pair.sh: one
# single-node cluster (tests/ceph/ceph-single.sh), one image, served in turn
# by ublk-fw's rbd target and by the kernel's RBD client (rbd device map);
# each fio job runs on both.  Per run one JSON line in OUT/runs.jsonl:
# device, job, iops, MB/s, the whole guest's busy CPU and (ublk-fw) the
# server process's CPU, in microseconds per I/O.
set -u
TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
CTL=$TOP/build/ublk-fw-ctl
OUT=$1 RUNTIME=$2
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

run_jobs() {	# run_jobs DEVICE-NAME DEV SERVER-PID
	printf '%s\n' "$JOBS" | while IFS=: read -r job args; do
		say "$1 $job"
		b0=$(guest_busy) p0=$(proc_ticks "$3")
		# shellcheck disable=SC2086
		fio --name=b --filename="$2" --direct=1 --ioengine=io_uring --time_based \
			--runtime="$RUNTIME" --size=192M $args --output-format=json > "$OUT/$1-$job.json" 2>&1
		b1=$(guest_busy) p1=$(proc_ticks "$3")
		jq -c --arg d "$1" --arg j "$job" --argjson bc $(((b1 - b0) * 1000000 / HZ)) \
			--argjson pc $(((p1 - p0) * 1000000 / HZ)) \
			'.jobs[0] | (.read.total_ios + .write.total_ios) as $n |
			 { device: $d, job: $j, iops: (.read.iops + .write.iops),
			   mbps: ((.read.bw_bytes + .write.bw_bytes) / 1e6), ios: $n, error: .error,
			   cpu_us_per_io: (if $n > 0 then $bc / $n else null end),
			   server_cpu_us_per_io: (if $n > 0 and $pc > 0 then $pc / $n else null end) }' \
			"$OUT/$1-$job.json" >> "$OUT/runs.jsonl" || echo "{\"device\":\"$1\",\"job\":\"$job\",\"iops\":0}" >> "$OUT/runs.jsonl"
	done
}

CEPH_IMAGE_SIZE=256M "$TOP/tests/ceph/ceph-single.sh" start "$D" > "$OUT/ceph-start.log" 2>&1 ||
	{ cat "$OUT/ceph-start.log"; exit 1; }
# the image written once, so that both clients read data
rbd -c "$CONF" bench --io-type write --io-size 4M --io-total 192M --io-pattern seq rbd/img \
	> "$OUT/prefill.log" 2>&1

say "ublk-fw rbd: add"
out=$("$CTL" add -t rbd -q 2 --conf "$CONF" rbd/img) && id=${out#/dev/ublkb} && id=${id%% *}
if [ -n "${id:-}" ]; then
	run_jobs ublk-fw-rbd /dev/ublkb$id "$("$CTL" list -n $id --json | jq .[0].pid)"
	"$CTL" del -n $id > /dev/null
else
	echo "rbd-measure: add failed: $out"
fi

say "kernel rbd: map"
modprobe rbd
# noudev: the guest runs no udev, which rbd would otherwise wait for
# forever (the node comes from devtmpfs)
if dev=$(timeout 120 rbd -c "$CONF" device map -o noudev rbd/img 2> "$OUT/map.log"); then
	run_jobs kernel-rbd "$dev" ""
	timeout 120 rbd -c "$CONF" device unmap -o noudev "$dev"
else
	echo "rbd-measure: rbd device map failed: $(cat "$OUT/map.log")"
fi
"$TOP/tests/ceph/ceph-single.sh" stop "$D"
