#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel: stock
# timeout: 900
#
# The bad-input suite: every subcommand and option of ublk-fw-ctl (the
# standard options, each target's and each filter's) with missing, empty,
# huge, negative, non-numeric and non-ASCII values, and backing files that
# are unreadable, tiny, a directory, a FIFO, a character device or given
# twice.  Each case must end, within 20 s, with a non-zero exit and one line
# on stderr that starts with "ublk-fw-ctl: ", names the option or the value
# (or the file) and says what to do; and must leave nothing behind: no
# device, no file in /run/ublk-fw (nor in a user's run directory).  Last,
# a second user against a normal user's unprivileged device.  The summary counts cases, crashes,
# hangs, unclear messages and leftovers; all but cases must be 0.
. "$(dirname "$0")/lib.sh"

W=/var/tmp/ublkfw-badinput
rm -rf "$W"; mkdir -p "$W"
CASES=0 CRASHES=0 HANGS=0 UNCLEAR=0 LEFTOVERS=0

# Devices and run files, by shell globs (no process: this runs per case).
leftovers() {
	_l=""
	for _f in /dev/ublkc* /run/ublk-fw/* /run/user/*/ublk-fw/*; do
		case $_f in */dead-*.log | "/dev/ublkc*" | "/run/ublk-fw/*" | "/run/user/*/ublk-fw/*") ;;
		*) _l="$_l $_f" ;;
		esac
	done
	printf '%s' "$_l"
}
BASE=$(leftovers)

# bad WHAT MUST-NAME CMD...: one case.  MUST-NAME is a fixed string the
# message has to contain (the option or the value or the file).
bad() {
	_b_what=$1 _b_name=$2; shift 2
	CASES=$((CASES + 1))
	timeout -s KILL 20 "$@" > "$W/out" 2> "$W/err" < /dev/null
	_b_rc=$?
	_b_lines=0 _b_msg=""
	while IFS= read -r _b_l; do
		_b_lines=$((_b_lines + 1)); [ $_b_lines = 1 ] && _b_msg=$_b_l
	done < "$W/err"
	_b_clear=no
	case $_b_msg in
	"ublk-fw-ctl: "*"$_b_name"*)
		case $_b_msg in
		*"use "* | *"give "* | *"see "* | *"choose "* | *"one of"* | *"at most"* | *"at least"* | \
		*must* | *only* | *"is not"* | *"not a "* | *cannot* | *refused* | *needs* | \
		*unexpected* | *unknown* | *"too "* | *smaller* | *larger* | *same*) _b_clear=yes ;;
		esac ;;
	esac
	if [ "$_b_rc" = 137 ]; then
		HANGS=$((HANGS + 1)); say "HANG    $_b_what: $*"
	elif [ "$_b_rc" -gt 128 ]; then
		CRASHES=$((CRASHES + 1)); say "CRASH   $_b_what (signal $((_b_rc - 128))): $*"
	elif [ "$_b_rc" = 0 ] || [ "$_b_lines" != 1 ] || [ $_b_clear = no ]; then
		UNCLEAR=$((UNCLEAR + 1)); say "UNCLEAR $_b_what (exit $_b_rc, $_b_lines lines): $* -> $(head -3 "$W/err" | tr '\n' '|')"
	fi
	_b_now=$(leftovers)
	if [ "$_b_now" != "$BASE" ]; then
		LEFTOVERS=$((LEFTOVERS + 1)); say "LEFT    $_b_what: $* left:$_b_now"
		for _b_id in $("$CTL" list --json | jq -r '.[].id'); do "$CTL" del -n $_b_id > /dev/null 2>&1; done
		BASE=$(leftovers)
	fi
}

VALUES="- -1 99999999999999999999999 abc é 1e999 0x -5G"
# ---- options with values: each bad value ----------------------------------
for v in "" $VALUES; do
	for opt in -n -q -d -s --max-io; do
		bad "add $opt '$v'" "'$v'" "$CTL" add -t null $opt "$v"
	done
	bad "add --recovery '$v'" "'$v'" "$CTL" add -t null --recovery "$v"
	bad "add --filter '$v'" "'$v'" "$CTL" add -t null --filter "$v"
	for fo in "delay --delay-us" "delay --delay-read-us" "delay --delay-seed" "error --error-rate" \
		  "error --error-op" "error --error-after" "error --error-sectors" "error --error-seed" \
		  "die --die-after" "die --die-how" "rate --rate-iops" "rate --rate-bw" "rate --rate-burst"; do
		set -- $fo
		bad "add --filter $1 $2 '$v'" "'$v'" "$CTL" add -t null -s 16M --filter $1 $2 "$v"
	done
	for to in "loop --block-size" "loop --io" "stripe --chunk-size"; do
		set -- $to
		bad "add -t $1 $2 '$v'" "'$v'" "$CTL" add -t $1 $2 "$v" $W/a.img $W/b.img
	done
	for sub in del list stats recover; do
		bad "$sub -n '$v'" "'$v'" "$CTL" $sub -n "$v"
	done
	bad "stats --interval '$v'" "'$v'" "$CTL" stats -n 0 --watch --interval "$v"
	bad "stats --count '$v'" "'$v'" "$CTL" stats -n 0 --watch --count "$v"
done

# ---- options without their value, unknown ones, stray arguments -------------
for opt in -n -q -d -s --max-io --recovery --filter --htlb; do
	bad "add $opt without a value" "$opt" "$CTL" add -t null $opt
done
bad "add -t without a name" "-t" "$CTL" add -t
bad "add of an unknown target" "nosuch" "$CTL" add -t nosuch
bad "add of a non-ASCII target" "é" "$CTL" add -t é
bad "add without -t" "-t" "$CTL" add -s 1G
bad "an unknown command" "frobnicate" "$CTL" frobnicate
for sub in del list stats recover features; do
	bad "$sub --bogus" "--bogus" "$CTL" $sub --bogus
done
for sub in del list stats recover; do
	bad "$sub with a stray argument" "stray" "$CTL" $sub -n 0 stray
done
bad "features with a stray argument" "stray" "$CTL" features stray
bad "a filter option without its filter" "--delay-us" "$CTL" add -t null --delay-us 5
bad "--recover without -n" "--recover" "$CTL" add -t null --recover
bad "--htlb without --shmem-zc" "--htlb" "$CTL" add -t null --htlb /dev/hugepages/x

# ---- backing files ----------------------------------------------------------
truncate -s 16M $W/a.img; truncate -s 16M $W/b.img
truncate -s 16M $W/locked.img; chmod 000 $W/locked.img
head -c 100 /dev/zero > $W/tiny.img
mkfifo $W/fifo; mkdir -p $W/dir; ln -sf $W/a.img $W/a-link.img
for t in loop stripe; do
	other=""; [ $t = stripe ] && other=$W/b.img
	bad "$t: missing file" "$W/nosuch" "$CTL" add -t $t $W/nosuch $other
	bad "$t: unreadable file (as a user without DAC override)" "$W/locked.img" \
		setpriv --inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search \
		"$CTL" add -t $t $W/locked.img $other
	bad "$t: a file under one block" "$W/tiny.img" "$CTL" add -t $t --buffered $W/tiny.img $other
	bad "$t: a directory" "$W/dir" "$CTL" add -t $t $W/dir $other
	bad "$t: a FIFO" "$W/fifo" "$CTL" add -t $t $W/fifo $other
	bad "$t: a character device" "/dev/null" "$CTL" add -t $t /dev/null $other
	bad "$t: an empty name" "''" "$CTL" add -t $t "" $other
done
bad "stripe: the same file twice" "$W/a.img" "$CTL" add -t stripe $W/a.img $W/a.img
bad "stripe: the same file under a symlink" "same file" "$CTL" add -t stripe $W/a.img $W/a-link.img
bad "stripe: one leg" "at least 2" "$CTL" add -t stripe $W/a.img
bad "loop: two files" "$W/b.img" "$CTL" add -t loop $W/a.img $W/b.img
bad "memory without a size" "-s" "$CTL" add -t memory

# ---- a second user against an unprivileged device ---------------------------
. "$(dirname "$0")/lib-unpriv.sh"
URUN=/run/user/$OWNER/ublk-fw
unpriv_setup_check
if id=$(owner_add -t memory -s 16M) && [ -n "$id" ]; then
	BASE0=$BASE
	BASE=$(leftovers)	# the owner's device is meant to be there
	bad "second user: del of the owner's device" "device $id is not yours" \
		$AS_OTHER "$CTL" del -n $id
	bad "second user: list -n of the owner's device" "device $id is not yours" \
		$AS_OTHER "$CTL" list -n $id
	bad "second user: recover -n of the owner's device" "device $id is not yours" \
		$AS_OTHER "$CTL" recover -n $id
	bad "second user: stats -n of the owner's device" "$id" \
		$AS_OTHER "$CTL" stats -n $id
	bad "second user: add with the owner's id" "device id $id is already in use" \
		$AS_OTHER "$CTL" add --unprivileged -n $id -t null -s 16M
	bad "second user: a server in the owner's run directory" "$URUN" \
		$AS_OTHER env UBLKFW_RUN_DIR=$URUN "$CTL" add --unprivileged -t null -s 16M
	bad "second user: the owner's run directory for list" "device $id is not yours" \
		$AS_OTHER env UBLKFW_RUN_DIR=$URUN "$CTL" list -n $id
	bad "second user: add without --unprivileged" "--unprivileged" \
		$AS_OTHER "$CTL" add -t null -s 16M
	bad "second user: add --unprivileged --recovery" "--recovery" \
		$AS_OTHER "$CTL" add --unprivileged --recovery requeue -t null -s 16M
	bad "second user: add --unprivileged --recover" "--recover" \
		$AS_OTHER "$CTL" add --unprivileged --recover -n $id -t null -s 16M
	check "second user: cannot open the owner's /dev/ublkb$id" \
		not as_user $OTHER dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 iflag=direct
	check "second user: cannot open the owner's /dev/ublkc$id" \
		not as_user $OTHER dd if=/dev/ublkc$id of=/dev/null bs=4k count=1
	check "second user: cannot reach the owner's sockets" sh -c "
		! setpriv --reuid=$OTHER --regid=$OTHER --clear-groups -- python3 -c '$UNIX_CONNECT' $URUN/$id.ctl &&
		! setpriv --reuid=$OTHER --regid=$OTHER --clear-groups -- python3 -c '$UNIX_CONNECT' $URUN/$id.sock"
	check "second user: cannot read the owner's run files" not as_user $OTHER cat $URUN/$id.json
	check "second user: the owner's device is still LIVE" \
		sh -c "[ \"\$('$CTL' list -n $id --json | jq -r '.[0].state')\" = LIVE ]"
	as_user $OWNER "$CTL" del -n $id > /dev/null
	BASE=$BASE0
	check "second user: nothing left after the owner's del" test "$(leftovers)" = "$BASE"
else
	fail "second user: the owner's add --unprivileged -t memory"
fi
unpriv_teardown

say "     badinput: cases $CASES, crashes $CRASHES, hangs $HANGS, unclear $UNCLEAR, leftovers $LEFTOVERS"
check "badinput: $CASES cases, 0 crashes ($CRASHES)" test "$CRASHES" = 0
check "badinput: $CASES cases, 0 hangs ($HANGS)" test "$HANGS" = 0
check "badinput: $CASES cases, 0 unclear messages ($UNCLEAR)" test "$UNCLEAR" = 0
check "badinput: $CASES cases, 0 leftovers ($LEFTOVERS)" test "$LEFTOVERS" = 0
check "badinput: more than 300 cases ran ($CASES)" test "$CASES" -gt 300
chmod 600 $W/locked.img; rm -rf "$W"
t_summary
