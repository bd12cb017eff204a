# SPDX-License-Identifier: MIT
# lib-unpriv.sh - what the tests of unprivileged devices share (POSIX sh,
# sourced after lib.sh): udev with ublk-fw's own rule file, two normal users
# and a way to run commands as them.
#
# The rule is the real udev/99-ublk-fw.rules.in, built to name the built
# helper (build/udev/test/99-ublk-fw.rules), placed in /run/udev/rules.d.
# A running udevd (a real host) is told to reload; otherwise (the test
# guest) one is started here, and stopped by unpriv_teardown (by its pid).

OWNER=64000	# the user who makes the devices
OTHER=64001	# another local user, hostile
UDEV_RULE="$TOP/build/udev/test/99-ublk-fw.rules"
UDEVD_PID=""
# The guest runs its command chrooted into the host's root, where udevadm
# would otherwise ignore every request.
export SYSTEMD_IGNORE_CHROOT=1

# as_user UID CMD...: CMD as that user and group, no supplementary groups,
# no capabilities, a clean environment with the user's XDG_RUNTIME_DIR.
as_user() {
	_u=$1; shift
	env -i PATH="$PATH" HOME=/run/user/$_u XDG_RUNTIME_DIR=/run/user/$_u \
		setpriv --reuid=$_u --regid=$_u --clear-groups --no-new-privs -- "$@"
}

# $AS_OTHER CMD...: as_user OTHER, as words (for a wrapper such as timeout,
# which runs commands, not shell functions).
AS_OTHER="env -i PATH=$PATH HOME=/run/user/$OTHER XDG_RUNTIME_DIR=/run/user/$OTHER setpriv --reuid=$OTHER --regid=$OTHER --clear-groups --no-new-privs --"

# as_user_env UID VAR=VALUE... -- CMD...: as_user with other variables
# (an empty XDG_RUNTIME_DIR= takes it away).
as_user_env() {
	_u=$1; shift
	_vars=""
	while [ "$1" != -- ]; do _vars="$_vars $1"; shift; done
	shift
	env -i PATH="$PATH" HOME=/run/user/$_u XDG_RUNTIME_DIR=/run/user/$_u $_vars \
		setpriv --reuid=$_u --regid=$_u --clear-groups --no-new-privs -- "$@"
}

# A login session's runtime directory, as logind makes it.
make_xdg() {
	rm -rf /run/user/$1
	mkdir -p /run/user && mkdir -m 0700 /run/user/$1 && chown $1:$1 /run/user/$1
}

udevd_start() {
	if [ -S /run/udev/control ]; then
		return 0
	fi
	/lib/systemd/systemd-udevd > "$OUT/udevd.log" 2>&1 &
	UDEVD_PID=$!
	_i=0
	while [ ! -S /run/udev/control ]; do
		_i=$((_i + 1)); [ $_i -gt 100 ] && return 1
		sleep 0.1
	done
}

# The rule in place and applied to the control node that exists already.
# Call it in the group's own shell (not in check's subshell): it keeps
# udevd's pid for unpriv_teardown.
unpriv_setup() {
	mkdir -p /run/udev/rules.d &&
	cp "$UDEV_RULE" /run/udev/rules.d/99-ublk-fw.rules &&
	udevd_start &&
	udevadm control --reload &&
	udevadm trigger --action=add --sysname-match=ublk-control &&
	udevadm settle -t 30 &&
	make_xdg $OWNER && make_xdg $OTHER
}

# Each device of OWNER: deleted (by root, which may).
unpriv_del_all() {
	for _id in $("$CTL" list --json | jq -r '.[] | select(.flag_names | index("UNPRIVILEGED_DEV")) | .id'); do
		"$CTL" del -n "$_id" > /dev/null 2>&1
	done
}

unpriv_teardown() {
	unpriv_del_all
	rm -f /run/udev/rules.d/99-ublk-fw.rules
	if [ -n "$UDEVD_PID" ]; then
		kill "$UDEVD_PID"; wait "$UDEVD_PID"
	else
		udevadm control --reload
	fi
	chmod 0600 /dev/ublk-control
	rm -rf /run/user/$OWNER /run/user/$OTHER
}

# owner_add ARGS...: `add --unprivileged ARGS` as OWNER; prints the id.
owner_add() {
	_o=$(as_user $OWNER "$CTL" add --unprivileged "$@" 2>&1) ||
		{ say "add --unprivileged $* as $OWNER failed: $_o" >&2; return 1; }
	printf '%s\n' "$_o" | sed -n 's|^/dev/ublkb\([0-9]*\) (id \([0-9]*\))$|\2|p'
}

not() { ! "$@"; }

# python3 -c "$UNIX_CONNECT" PATH: connect to a unix socket (a command,
# not a function, so that as_user can run it).
UNIX_CONNECT="import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"

# user_list_has UID ID JQ-FILTER: the user's own `list -n ID --json` entry
# matches the filter.
user_list_has() {
	as_user $1 "$CTL" list -n $2 --json | jq -e ".[0] | $3"
}

# user_list_empty UID: the user's `list` shows no device.
user_list_empty() {
	as_user $1 "$CTL" list --json | jq -e 'length == 0'
}

# user_fio_verify ID: as OWNER, fio crc32c write + verify of 8M (2048
# blocks of 4K each way), 0 errors.  Its files stay in the user's dir.
user_fio_verify() {
	as_user $OWNER sh -c "cd /run/user/$OWNER && fio --name=v --filename=/dev/ublkb$1 \
		--rw=randwrite --bs=4k --size=8M --verify=crc32c --verify_fatal=1 --direct=1 \
		--ioengine=io_uring --iodepth=16 --output-format=json --output=fio.json" > /dev/null 2>&1 &&
	jq -e '.jobs[0].error == 0 and .jobs[0].write.total_ios == 2048 and
	       .jobs[0].read.total_ios == 2048' /run/user/$OWNER/fio.json
}

# unpriv_setup, reported as a check.
unpriv_setup_check() {
	if unpriv_setup; then
		pass "udev with ublk-fw's rule starts"
	else
		fail "udev with ublk-fw's rule starts" "$(cat "$OUT/udevd.log" 2>/dev/null)"
	fi
}
