#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 900
#
# Unprivileged devices (add --unprivileged, UBLK_F_UNPRIVILEGED_DEV) with
# ublk-fw's real udev rule and helper: a normal user makes, serves,
# fio-verifies, lists and deletes their own devices; the nodes, sockets and
# run files are theirs alone; another user reaches none of them; every
# refusal comes before ADD_DEV and leaves nothing behind.  (The hostile
# second user's ublk-fw-ctl commands are also cases of the badinput group.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-unpriv.sh"

ND0=$(nr_devices)
URUN=/run/user/$OWNER/ublk-fw
make_xdg $OWNER; make_xdg $OTHER

# ---- before the rule: what a user is told -----------------------------------
if [ ! -S /run/udev/control ]; then
	chmod 0600 /dev/ublk-control
	expect_error "no rule: a user is sent to root or to the udev rule" \
		"must be run as root: /dev/ublk-control is root's only .*udev rule.*--unprivileged" \
		as_user $OWNER "$CTL" add --unprivileged -t null -s 16M
	chmod 0666 /dev/ublk-control	# the rule's mode, but nobody to run its helper
	expect_error "no udev: refused before ADD_DEV" "udev is not running" \
		as_user $OWNER "$CTL" add --unprivileged -t null -s 16M
	check "no udev: no device was made" test "$(nr_devices)" = "$ND0"
	chmod 0600 /dev/ublk-control
else
	say "udev runs already here: the no-rule and no-udev cases are for the test guest"
fi

unpriv_setup_check
check "the rule opens /dev/ublk-control to everyone (0666)" \
	sh -c '[ "$(stat -c %a /dev/ublk-control)" = 666 ]'
expect_error "owner: --user-copy is refused before ADD_DEV (the kernel refuses it: EINVAL)" \
	"--user-copy is not for unprivileged devices.*leave it out" \
	as_user $OWNER "$CTL" add --unprivileged -t null -s 16M --user-copy
check "owner: the refused --user-copy made no device" test "$(nr_devices)" = "$ND0"

# ---- a user's own device ---------------------------------------------------
if id=$(owner_add -t memory -q 2 -s 64M) && [ -n "$id" ]; then
	pass "owner: add --unprivileged -t memory -q 2 -> /dev/ublkb$id"
	for n in c b; do
		check "owner: /dev/ublk$n$id is the owner's, mode 0600" \
			sh -c "[ \"\$(stat -c '%u:%g %a' /dev/ublk$n$id)\" = '$OWNER:$OWNER 600' ]"
	done
	check "owner: the run directory is $URUN, the owner's, mode 0700" \
		sh -c "[ \"\$(stat -c '%u %a' $URUN)\" = '$OWNER 700' ]"
	check "owner: state, sockets and memory file are in it, not in /run/ublk-fw" \
		sh -c "[ -f $URUN/$id.json ] && [ -S $URUN/$id.ctl ] && [ -S $URUN/$id.sock ] &&
		       [ -f $URUN/$id.mem ] && [ ! -e /run/ublk-fw/$id.json ]"
	check "owner: list --json shows it LIVE, unprivileged, with the server's stats" \
		user_list_has $OWNER $id '.state == "LIVE" and .target == "memory" and
		(.flag_names | index("UNPRIVILEGED_DEV") != null) and .stats != null'
	check "root: list shows the user's device too" \
		sh -c "'$CTL' list -n $id --json | jq -e '.[0].state == \"LIVE\" and .[0].pid > 0'"
	check "owner: fio crc32c write+verify 8M as the owner, 0 errors" user_fio_verify $id

	# ---- another user, hostile ---------------------------------------------
	check "other: cannot open /dev/ublkb$id" \
		not as_user $OTHER dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 iflag=direct
	check "other: cannot open /dev/ublkc$id" \
		not as_user $OTHER dd if=/dev/ublkc$id of=/dev/null bs=4k count=1
	check "other: cannot read the state file" not as_user $OTHER cat $URUN/$id.json
	check "other: cannot list the run directory" not as_user $OTHER ls $URUN
	check "other: cannot reach the statistics socket" not as_user $OTHER python3 -c "$UNIX_CONNECT" $URUN/$id.ctl
	check "other: cannot reach the registration socket" not as_user $OTHER python3 -c "$UNIX_CONNECT" $URUN/$id.sock
	check "other: cannot signal the server" \
		not as_user $OTHER kill -TERM "$("$CTL" list -n $id --json | jq '.[0].pid')"
	expect_error "other: del is refused" "del: device $id is not yours" as_user $OTHER "$CTL" del -n $id
	expect_error "other: list -n is refused" "list: device $id is not yours" \
		as_user $OTHER "$CTL" list -n $id
	check "other: list does not show it" user_list_empty $OTHER
	check "owner: the device is still LIVE after all that" \
		sh -c "[ \"\$('$CTL' list -n $id --json | jq -r '.[0].state')\" = LIVE ]"

	# ---- the other user's own device: theirs alone, and root may delete it --
	if id2=$(as_user $OTHER "$CTL" add --unprivileged -t null -s 16M 2>&1 |
		 sed -n 's|^/dev/ublkb\([0-9]*\) (id .*|\1|p') && [ -n "$id2" ]; then
		pass "other: makes a device of its own, /dev/ublkb$id2"
		check "owner: cannot open the other's /dev/ublkb$id2" \
			not as_user $OWNER dd if=/dev/ublkb$id2 of=/dev/null bs=4k count=1 iflag=direct
		check "root: del of a user's live device" "$CTL" del -n $id2
		check "root: the user's server stopped and its nodes are gone" wait_gone $id2 10
	else
		fail "other: add --unprivileged of its own device"
	fi

	# ---- a dead server: its owner cleans up --------------------------------
	spid=$("$CTL" list -n $id --json | jq '.[0].pid')
	kill -9 "$spid"
	check "owner: del after the server was killed" as_user $OWNER "$CTL" del -n $id
	check "owner: the nodes are gone" wait_gone $id 10
	check "owner: the dead server's log is kept, run files removed" \
		sh -c "[ -f $URUN/dead-$id.log ] && [ ! -e $URUN/$id.json ] && [ ! -e $URUN/$id.mem ]"
else
	fail "owner: add --unprivileged -t memory"
fi

# ---- loop over the user's own file ----------------------------------------
as_user $OWNER sh -c "truncate -s 32M /run/user/$OWNER/disk.img"
if id=$(owner_add -t loop /run/user/$OWNER/disk.img) && [ -n "$id" ]; then
	check "owner: loop over the owner's file, fio crc32c verify, 0 errors" user_fio_verify $id
	check "owner: del of the loop device" as_user $OWNER "$CTL" del -n $id
else
	fail "owner: add --unprivileged -t loop"
fi

# ---- del --all of a user: their own devices only ---------------------------
a=$(owner_add -t null -s 16M)
b=$(as_user $OTHER "$CTL" add --unprivileged -t null -s 16M | sed -n 's|^/dev/ublkb\([0-9]*\) (id .*|\1|p')
if [ -n "$a" ] && [ -n "$b" ]; then
	check "owner: del --all" as_user $OWNER "$CTL" del --all
	check "owner: del --all deleted the owner's device $a" wait_gone $a 10
	check "owner: del --all left the other's device $b LIVE" \
		sh -c "[ \"\$('$CTL' list -n $b --json | jq -r '.[0].state')\" = LIVE ]"
	check "other: del --all deletes its own" as_user $OTHER "$CTL" del --all
	check "other: its device $b is gone" wait_gone $b 10
else
	fail "two users' devices for del --all (owner '$a', other '$b')"
fi

# ---- refusals: one line, before ADD_DEV, nothing left --------------------
ND=$(nr_devices)
expect_error "owner without --unprivileged" "not root: .*add --unprivileged" \
	as_user $OWNER "$CTL" add -t null -s 16M
expect_error "owner with --recovery" "--recovery is not for unprivileged devices" \
	as_user $OWNER "$CTL" add --unprivileged --recovery reissue -t null -s 16M
expect_error "root with --unprivileged" "--unprivileged is a normal user's own device" \
	"$CTL" add --unprivileged -t null -s 16M
truncate -s 16M /run/unpriv-root.img; chmod 0600 /run/unpriv-root.img
expect_error "owner: a backing file only root may read" "cannot open /run/unpriv-root.img" \
	as_user $OWNER "$CTL" add --unprivileged -t loop /run/unpriv-root.img
rm -f /run/unpriv-root.img
expect_error "owner without a login session's run dir" \
	"no run directory /run/ublk-fw/$OWNER: set XDG_RUNTIME_DIR .* install -d -m 0700 -o $OWNER -g $OWNER /run/ublk-fw/$OWNER" \
	as_user_env $OWNER XDG_RUNTIME_DIR= -- "$CTL" add --unprivileged -t null -s 16M
mkdir -p /run/ublk-fw && install -d -m 0700 -o $OWNER -g $OWNER /run/ublk-fw/$OWNER
if id=$(as_user_env $OWNER XDG_RUNTIME_DIR= -- "$CTL" add --unprivileged -t null -s 16M |
	sed -n 's|^/dev/ublkb\([0-9]*\) (id .*|\1|p') && [ -n "$id" ]; then
	pass "owner: with /run/ublk-fw/$OWNER made by root, add works (device $id)"
	check "owner: its state is in /run/ublk-fw/$OWNER" test -f /run/ublk-fw/$OWNER/$id.json
	check "owner: del" as_user_env $OWNER XDG_RUNTIME_DIR= -- "$CTL" del -n $id
else
	fail "owner: add with /run/ublk-fw/$OWNER"
fi
chown $OTHER:$OTHER /run/ublk-fw/$OWNER
expect_error "owner: a run dir planted by another user" \
	"run directory /run/ublk-fw/$OWNER belongs to uid $OTHER, not to you" \
	as_user_env $OWNER XDG_RUNTIME_DIR= -- "$CTL" add --unprivileged -t null -s 16M
rm -rf /run/ublk-fw/$OWNER
as_user $OWNER sh -c "rm -rf $URUN; mkdir -m 0700 /run/user/$OWNER/elsewhere; ln -s elsewhere $URUN"
expect_error "owner: the run dir is a symlink" "run directory $URUN is a symlink" \
	as_user $OWNER "$CTL" add --unprivileged -t null -s 16M
as_user $OWNER sh -c "rm -f $URUN; mkdir -m 0777 $URUN; chmod 0777 $URUN"
expect_error "owner: a run dir writable by others" "run directory $URUN is writable by others" \
	as_user $OWNER "$CTL" add --unprivileged -t null -s 16M
as_user $OWNER sh -c "chmod 0755 $URUN"
if id=$(owner_add -t null -s 16M) && [ -n "$id" ]; then
	check "owner: a run dir readable by others is made private (0700)" \
		sh -c "[ \"\$(stat -c %a $URUN)\" = 700 ]"
	as_user $OWNER "$CTL" del -n $id > /dev/null
else
	fail "owner: add with a 0755 run dir"
fi
check "refusals: no device left behind" test "$(nr_devices)" = "$ND"

unpriv_teardown
check "at the end: no device left" test "$(nr_devices)" = "$ND0"
check "at the end: /dev/ublk-control is root's again (0600)" \
	sh -c '[ "$(stat -c %a /dev/ublk-control)" = 600 ]'
t_summary
