#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: nozc
# timeout: 300
#
# On a kernel without UBLK_F_SHMEM_ZC (Debian's stock 6.12): --shmem-zc is
# refused up front with a message naming what is needed, nothing is left
# behind, and an ordinary device's socket refuses client memfds clearly.
. "$(dirname "$0")/lib.sh"

check "this kernel has no SHMEM_ZC" sh -c "! '$CTL' features --json | jq -e '.names | index(\"SHMEM_ZC\")'"
before=$(nr_devices)
expect_error "--shmem-zc refused" "no UBLK_F_SHMEM_ZC .*Linux 7.1 .*kernel/ patch" \
	"$CTL" add -t null --shmem-zc
expect_error "--shmem-zc with --htlb refused the same way" "no UBLK_F_SHMEM_ZC" \
	"$CTL" add -t null --shmem-zc --htlb /dev/hugepages/none
expect_error "--htlb without --shmem-zc" "--htlb needs --shmem-zc" "$CTL" add -t null --htlb /x
check "nothing left behind" sh -c "[ \$('$CTL' list --json | jq length) = $before ] && [ -z \"\$(ls /run/ublk-fw/ 2>/dev/null | grep -v '^$')\" ]"
if id=$(add_dev -t null -s 64M); then
	check "a device without --shmem-zc refuses a client memfd (-EOPNOTSUPP)" sh -c \
		"[ \$(python3 '$TOP/tests/integration/shmem_sock.py' /run/ublk-fw/$id.sock memfd 1048576) = -95 ]"
	check "the server said why in its log" grep -q "not created with --shmem-zc" /run/ublk-fw/$id.log
	check "list --json has its counters" sh -c "'$CTL' list -n $id --json | jq -e '.[0].stats.zc_ios == 0'"
	fio_ok "the device still serves" --name=r --filename=/dev/ublkb$id --rw=randread --bs=4k \
		--direct=1 --ioengine=io_uring --iodepth=8 --runtime=1 --time_based
	"$CTL" del -n $id > /dev/null
else
	fail "add null"
fi
t_summary
