#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: patched
# timeout: 900
#
# Recovery mode fail-io (UBLK_F_USER_RECOVERY_FAIL_IO: Linux 6.13, and our
# 6.12 kernel's patch 0004): a memory device made with --recovery fail-io
# whose server is killed (kill -9) stays, in state FAIL_IO, where a direct
# read fails at once (timed) instead of waiting for a new server;
# `ublk-fw-ctl recover` brings it back LIVE with its data; del cleans up.
# On a kernel without the flag, recovery.sh checks that add refuses it.
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-recovery-fail-io	# tmpfs in the guest
rm -rf "$W"; mkdir -p "$W"

# now_ms: the time of day in milliseconds (GNU date)
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# dd_secs FILE: the seconds of the "N bytes copied, T s, R" line of dd's
# stderr in FILE (dd's own clock, started once its files are open)
dd_secs() {
	awk '/bytes.* copied, / { for (i = 1; i < NF; i++) if ($(i + 1) == "s,") print $i }' "$1"
}

# timed_dd ERRFILE DD-ARGS...: dd in the background, waited for up to 10 s;
# sets dd_rc to its exit status, or to "blocked" if it still waits (a
# request queued for a new server cannot even be killed: it ends with the
# recovery or the device), and dd_ms to the milliseconds waited.
timed_dd() {
	_t_err=$1; shift
	rm -f $W/dd.rc
	_t0=$(now_ms)
	{ dd "$@" 2> "$_t_err"; echo $? > $W/dd.rc; } &
	_t_i=0
	while [ ! -s $W/dd.rc ] && [ $_t_i -lt 100 ]; do
		sleep 0.1; _t_i=$((_t_i + 1))
	done
	dd_ms=$(($(now_ms) - _t0))
	dd_rc=$(cat $W/dd.rc 2>/dev/null || echo blocked)
}

# read_back ID FILE OFFSET_MIB: the device's bytes at OFFSET_MIB, as long as
# FILE, read with O_DIRECT, equal FILE
read_back() {
	_n=$(($(stat -c %s "$2") / 1048576))
	dd if=/dev/ublkb$1 bs=1M skip=$3 count=$_n iflag=direct status=none | cmp - "$2"
}

check "features --json lists USER_RECOVERY_FAIL_IO" sh -c \
	"'$CTL' features --json | jq -e '.names | index(\"USER_RECOVERY_FAIL_IO\") != null'"

if id=$(add_dev -t memory -s 64M --recovery fail-io); then
	check "list --json: flag_names has USER_RECOVERY and USER_RECOVERY_FAIL_IO, not REISSUE" sh -c \
		"'$CTL' list -n $id --json | jq -e '.[0].flag_names | index(\"USER_RECOVERY\") != null and
			index(\"USER_RECOVERY_FAIL_IO\") != null and index(\"USER_RECOVERY_REISSUE\") == null'"
	check "list --json: LIVE" test "$(dev_state $id)" = LIVE

	head -c 4M /dev/urandom > $W/pat
	check "write a 4 MiB pattern at 1 MiB (O_DIRECT)" \
		dd if=$W/pat of=/dev/ublkb$id bs=1M seek=1 oflag=direct conv=fsync status=none
	check "it reads back" read_back $id $W/pat 1

	check "kill -9 the server" kill9 $id
	st=$(dev_state $id)
	check "the device stays, in state FAIL_IO (list: $st)" sh -c "[ '$st' = FAIL_IO ] && [ -b /dev/ublkb$id ]"

	# I/O issued while no server runs fails at once (in requeue mode it
	# would wait for a new server). The time checked is dd's own, from its
	# open files to its error (the figure of its "bytes copied" line):
	# starting dd in the TCG guest takes up to a second by itself, so the
	# whole run's time is only shown.
	timed_dd $W/rd.err if=/dev/ublkb$id of=/dev/null bs=4k count=1 iflag=direct
	secs=$(dd_secs $W/rd.err)
	say "# a direct read in FAIL_IO: dd exit $dd_rc, ${secs:-?} s by dd's clock, $dd_ms ms in all: $(head -1 $W/rd.err)"
	check "a direct read (dd iflag=direct) in FAIL_IO fails with an I/O error (exit $dd_rc: $(head -1 $W/rd.err))" \
		sh -c "[ $dd_rc = 1 ] && head -1 $W/rd.err | grep -Eq 'error reading .*: (Remote I/O|Input/output) error'"
	check "and fails at once: in under 1 s (${secs:-?} s by dd's clock, $dd_ms ms for the whole dd)" \
		sh -c "[ -n '$secs' ] && awk 'BEGIN { exit !($secs < 1) }'"
	timed_dd $W/wr.err if=$W/pat of=/dev/ublkb$id bs=4k count=1 seek=4096 oflag=direct
	secs=$(dd_secs $W/wr.err)
	check "a direct write in FAIL_IO fails too, in under 1 s (exit $dd_rc, ${secs:-?} s: $(head -1 $W/wr.err))" \
		sh -c "[ $dd_rc = 1 ] && [ -n '$secs' ] && awk 'BEGIN { exit !($secs < 1) }' &&
			head -1 $W/wr.err | grep -Eq 'error writing .*: (Remote I/O|Input/output) error'"
	check "still FAIL_IO after the failed I/O" test "$(dev_state $id)" = FAIL_IO

	recover_ok "fail-io" $id
	check "the pattern written before the kill reads back intact" read_back $id $W/pat 1
	head -c 2M /dev/urandom > $W/pat2
	check "a new write after recovery (2 MiB at 16 MiB)" \
		dd if=$W/pat2 of=/dev/ublkb$id bs=1M seek=16 oflag=direct conv=fsync status=none
	check "reads back" read_back $id $W/pat2 16
	check "and the first pattern is still intact" read_back $id $W/pat 1

	check "del -n $id" "$CTL" del -n $id
	check "del: the device nodes are gone" wait_gone $id 5
	check "del: nothing of it in list or /run/ublk-fw" sh -c \
		"[ \$('$CTL' list --json | jq 'map(select(.id == $id)) | length') = 0 ] &&
		 ! ls -A /run/ublk-fw | grep -q '^$id\\.'"
else
	fail "add -t memory -s 64M --recovery fail-io"
fi

wait	# a dd that blocked (a failure above) ended with the recovery or del
rm -rf "$W"
t_summary
