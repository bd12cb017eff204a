# SPDX-License-Identifier: MIT
# lib.sh - helpers for ublk-fw integration tests (POSIX sh, sourced).
#
# A test group is a script that sources this file, runs checks and ends with
# `t_summary`.  It runs the same way natively (root + /dev/ublk-control) and
# inside the test guest (tests/run-integration.sh decides).  Every check
# asserts something and can fail; nothing is skipped.

TOP=${UBLKFW_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
CTL="$TOP/build/ublk-fw-ctl"
OUT=${UBLKFW_OUT:-$TOP/tests/out/native}
mkdir -p "$OUT"
T_GROUP=$(basename "$0" .sh)
T_NAME=$T_GROUP
. "$TOP/tests/report.sh"	# pass, fail
T_LOG="$OUT/$T_GROUP.cmd.log"
: > "$T_LOG"
T_T0=$(date +%s)	# the log says how far into the group each check ended

say() { printf '%s\n' "$*"; }

# check NAME CMD... : passes when CMD exits 0; its output is kept in the log
# and shown on failure.
check() {
	_c_name=$1; shift
	if _c_out=$("$@" 2>&1); then
		pass "$_c_name"
	else
		fail "$_c_name (exit $?: $*)" "$_c_out"
	fi
	printf '### %s (%d s)\n%s\n' "$_c_name" $(($(date +%s) - T_T0)) "$_c_out" >> "$T_LOG"
}

# expect_error NAME PATTERN CMD... : CMD must exit non-zero, print exactly
# one line on stderr, and that line must match the grep -E PATTERN.
expect_error() {
	_e_name=$1; _e_pat=$2; shift 2
	_e_err=$("$@" 2>&1 >/dev/null)
	_e_rc=$?
	_e_lines=$(printf '%s\n' "$_e_err" | grep -c .)
	if [ "$_e_rc" -eq 0 ]; then
		fail "$_e_name: exit 0 where an error was expected ($*)" "$_e_err"
	elif [ "$_e_lines" -ne 1 ]; then
		fail "$_e_name: expected one line of error, got $_e_lines ($*)" "$_e_err"
	elif ! printf '%s\n' "$_e_err" | grep -Eq -- "$_e_pat"; then
		fail "$_e_name: message does not match /$_e_pat/ ($*)" "$_e_err"
	else
		pass "$_e_name (exit $_e_rc: $_e_err)"
	fi
}

# Number of ublk devices the kernel has (from list --json, parsed by jq).
nr_devices() { "$CTL" list --json | jq length; }

# The JSON object of device $1 from list --json.
dev_json() { "$CTL" list -n "$1" --json | jq -e '.[0]'; }

# add ARGS... : add a device, print its id; fails the caller on error.
add_dev() {
	out=$("$CTL" add "$@" 2>&1) || { say "add $* failed: $out" >&2; return 1; }
	id=$(printf '%s\n' "$out" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p')
	[ -n "$id" ] || { say "add $*: unexpected output: $out" >&2; return 1; }
	[ -b "/dev/ublkb$id" ] || { say "add $*: /dev/ublkb$id is not a block device" >&2; return 1; }
	printf '%s\n' "$id"
}

# with_dev NAME ADD-ARGS... : add_dev, the id in $id; fails NAME if it fails.
with_dev() {	# with_dev NAME ADD-ARGS... ; sets $id, or fails NAME
	name=$1; shift
	if id=$(add_dev "$@"); then return 0; fi
	fail "$name: add $*"
	return 1
}

# mkfile PATH SIZE: a fresh sparse file.
mkfile() { rm -f "$1"; truncate -s "$2" "$1"; }

# wait_gone ID [SECONDS]: both device nodes of ID disappear.
wait_gone() {
	i=0
	while [ -e "/dev/ublkb$1" ] || [ -e "/dev/ublkc$1" ]; do
		i=$((i + 1))
		[ "$i" -gt $((${2:-20} * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# fio_ok NAME FIO-ARGS... : fio must exit 0, report no errors and do I/O.
# Prints the IOPS line so the run shows the figures.
fio_ok() {
	_f_name=$1; shift
	_f_json="$OUT/fio-$T_PASS-$T_FAIL.json"
	if ! fio --output-format=json --output="$_f_json" "$@" > /dev/null 2>&1; then
		fail "$_f_name: fio failed" "$(tail -20 "$_f_json" 2>/dev/null)"
		return
	fi
	_f_errs=$(jq '[.jobs[].error] | add' "$_f_json")
	_f_ios=$(jq '[.jobs[] | .read.total_ios + .write.total_ios] | add' "$_f_json")
	_f_iops=$(jq '[.jobs[] | .read.iops + .write.iops] | add | floor' "$_f_json")
	if [ "$_f_errs" != 0 ] || [ "${_f_ios:-0}" -le 0 ]; then
		fail "$_f_name: fio errors=$_f_errs ios=$_f_ios"
	else
		pass "$_f_name: $_f_iops IOPS, $_f_ios I/Os, 0 errors"
	fi
}

# fio_verify NAME DEV [SIZE [BS [FIO-ARGS...]]]: random writes (BS, default
# 8k) at QD32 over SIZE (default 32M) with crc32c, every block read back
fio_verify() {
	_v_name=$1 _v_dev=$2 _v_size=${3:-32M} _v_bs=${4:-8k}
	shift 2
	[ $# -gt 0 ] && shift
	[ $# -gt 0 ] && shift
	fio_ok "$_v_name: fio crc32c verify, randwrite $_v_bs QD32" --name=v --filename="$_v_dev" \
		--rw=randwrite --bs="$_v_bs" --iodepth=32 --ioengine=io_uring --direct=1 \
		--size="$_v_size" --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 "$@"
}

# ---- filesystems -------------------------------------------------------------

# fs_fill DIR FILES BIG: FILES random files of 4-29 KiB in two directories and
# one of BIG bytes (a head -c size), their checksums in $W/sums (fs_verify).
fs_fill() {
	mkdir -p "$1/d1/d2" "$1/d2"
	_fs_i=0
	while [ $_fs_i -lt "$2" ]; do
		head -c $((4096 * (_fs_i % 7 + 1) + _fs_i * 13)) /dev/urandom \
			> "$1/d$((_fs_i % 2 + 1))/f$_fs_i"
		_fs_i=$((_fs_i + 1))
	done
	head -c "$3" /dev/urandom > "$1/d1/d2/big"
	(cd "$1" && find . -type f | sort | xargs sha256sum) > "$W/sums"
}

# fs_verify NAME DEV: DEV mounted on $W/mnt reads back every file of the last
# fs_fill; unmounted again.
fs_verify() {
	mkdir -p "$W/mnt"
	if mount "$2" "$W/mnt"; then
		check "$1: all $(wc -l < "$W/sums") files' checksums match" \
			sh -c "cd $W/mnt && sha256sum --quiet -c $W/sums"
		umount "$W/mnt"
	else
		fail "$1: mount"
	fi
}

# fs_roundtrip NAME DEV FILES BIG MKFS FSCK... : a filesystem made (MKFS DEV)
# and filled (fs_fill), unmounted, clean by FSCK DEV, remounted and re-read.
fs_roundtrip() {
	_fs_name=$1 _fs_dev=$2 _fs_files=$3 _fs_big=$4 _fs_mkfs=$5
	shift 5
	mkdir -p "$W/mnt"
	if ! $_fs_mkfs "$_fs_dev" > "$W/mkfs.log" 2>&1 || ! mount "$_fs_dev" "$W/mnt"; then
		fail "$_fs_name: mkfs and mount" "$(cat "$W/mkfs.log")"
		return
	fi
	fs_fill "$W/mnt" "$_fs_files" "$_fs_big"
	check "$_fs_name: umount (flushes through the target)" umount "$W/mnt"
	check "$_fs_name: fsck clean after umount" "$@" "$_fs_dev"
	fs_verify "$_fs_name, remounted" "$_fs_dev"
}

# is_user_copy NAME ID: the kernel's flags of device ID have USER_COPY
is_user_copy() {
	check "$1: the device has UBLK_F_USER_COPY" sh -c \
		"'$CTL' list -n $2 --json | jq -e '.[0].flag_names | index(\"USER_COPY\") != null'"
}

# ---- user recovery ---------------------------------------------------------

server_pid() { "$CTL" list -n "$1" --json | jq '.[0].pid'; }
dev_state() { "$CTL" list -n "$1" --json 2>/dev/null | jq -r '.[0].state'; }

# kill9 ID: kill the device's server with SIGKILL, wait until it is gone
# and the device no longer LIVE (QUIESCED, FAIL_IO with fail-io, or gone
# without recovery).
kill9() {
	_k_pid=$(server_pid "$1")
	kill -9 "$_k_pid"
	_k_i=0
	while kill -0 "$_k_pid" 2>/dev/null || [ "$(dev_state "$1")" = LIVE ]; do
		_k_i=$((_k_i + 1)); [ $_k_i -gt 200 ] && return 1
		sleep 0.05
	done
	return 0
}

# recover_ok NAME ID: `recover -n ID` succeeds; the device is LIVE again,
# served by a new pid; returns whether it is LIVE.
recover_ok() {
	_r_old=$(server_pid "$2")
	check "$1: recover -n $2" "$CTL" recover -n "$2"
	check "$1: LIVE again, served by a new pid" sh -c \
		"[ \"\$('$CTL' list -n $2 --json | jq -r '.[0].state')\" = LIVE ] &&
		 [ \"\$('$CTL' list -n $2 --json | jq '.[0].pid')\" != '$_r_old' ]"
	[ "$(dev_state "$2")" = LIVE ]	# the result, for callers that go on
}

t_summary() {
	say ""
	[ "$T_FAIL" -gt 0 ] && say "failed in $T_GROUP:$T_FAILED"
	say "$T_GROUP: took $(($(date +%s) - T_T0)) s"
	say "$T_GROUP: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
