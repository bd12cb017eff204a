#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: patched
# timeout: 600
#
# Shared-memory zero copy on a normal user's unprivileged device (the patch
# series lets UBLK_U_CMD_REG_BUF/UNREG_BUF through the same path check as
# SET_PARAMS): the owner's memfd client registers its pool on the owner's
# socket and its I/O is zero-copy; another user reaches no socket; the pins
# are balanced after del.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-unpriv.sh"

URUN=/run/user/$OWNER/ublk-fw
ND0=$(nr_devices)
pins_balanced() {	# as in shmem.sh: fold the per-CPU deltas first
	echo 1 > /proc/sys/vm/stat_refresh
	awk '/^nr_foll_pin_acquired/ {a=$2} /^nr_foll_pin_released/ {r=$2} END {exit a != r}' /proc/vmstat
}
owner_stat() {	# owner_stat ID KEY: the server's counter, asked by its owner
	as_user $OWNER "$CTL" list -n "$1" --json | jq ".[0].stats.$2"
}

unpriv_setup_check
if id=$(owner_add -t memory -s 64M --shmem-zc) && [ -n "$id" ]; then
	pass "owner: add --unprivileged --shmem-zc -> /dev/ublkb$id"
	check "owner: the device has SHMEM_ZC and UNPRIVILEGED_DEV" \
		user_list_has $OWNER $id '(.flag_names | index("SHMEM_ZC") != null) and (.flag_names | index("UNPRIVILEGED_DEV") != null)'
	out=$(as_user $OWNER "$TOP/build/examples/ublk-zc-client" $id 64 2>&1)
	rc=$?
	say "     $out"
	check "owner: the memfd client exits 0 with no mismatch" \
		sh -c "[ $rc = 0 ] && echo '$out' | grep -q ', 0 mismatches'"
	zc=$(owner_stat $id zc_ios)
	check "owner: its 64 writes and 64 reads were zero-copy ($zc = 128)" test "$zc" = 128
	check "owner: it unregistered its buffer through the server" \
		sh -c "echo '$out' | grep -q 'unregistered; 1 write and 1 read after it'"
	check "other: cannot reach the registration socket" \
		not as_user $OTHER python3 -c "$UNIX_CONNECT" $URUN/$id.sock
	check "owner: del" as_user $OWNER "$CTL" del -n $id
	check "owner: nodes gone" wait_gone $id 10
	check "pins balanced after del" pins_balanced
else
	fail "owner: add --unprivileged --shmem-zc"
fi
unpriv_teardown
check "at the end: no device left" test "$(nr_devices)" = "$ND0"
t_summary
