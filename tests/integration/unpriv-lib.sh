# SPDX-License-Identifier: MIT
# unpriv-lib.sh - what the tests of unprivileged devices share (POSIX sh,
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
