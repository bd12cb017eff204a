#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo itself (natively or in the guest): add, fio, list, del.
set -eu
TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
CTL="$TOP/build/ublk-fw-ctl"

echo "\$ ublk-fw-ctl add -t null -q 2 -s 1G"
out=$("$CTL" add -t null -q 2 -s 1G)
echo "$out"
id=$(echo "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) .*|\1|p')
trap '"$CTL" del -n "$id" >/dev/null 2>&1 || true' EXIT
echo "\$ ublk-fw-ctl list"
"$CTL" list
echo "\$ fio --filename=/dev/ublkb$id --rw=randread --bs=4k --iodepth=32 --numjobs=2 --runtime=3 (io_uring, direct)"
fio --name=demo --filename="/dev/ublkb$id" --rw=randread --bs=4k --direct=1 \
	--ioengine=io_uring --iodepth=32 --numjobs=2 --group_reporting --runtime=3 \
	--time_based --output-format=json > /tmp/demo-fio.json
iops=$(jq '.jobs[0].read.iops | floor' /tmp/demo-fio.json)
lat=$(jq '.jobs[0].read.clat_ns.mean / 1000 | floor' /tmp/demo-fio.json)
errs=$(jq '.jobs[0].error' /tmp/demo-fio.json)
echo "\$ ublk-fw-ctl del -n $id"
"$CTL" del -n "$id"
trap - EXIT
echo
echo "demo: /dev/ublkb$id (null target, 2 queues): 4k random read, QD32 x 2 jobs: $iops IOPS, mean latency ${lat} us, errors $errs"
[ "$errs" = 0 ] && [ "$iops" -gt 0 ]
