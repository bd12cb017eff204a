#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run one command in a qemu TCG guest whose root is the host's / (9p,
# read-only).  See tests/vm/README.md.
#
# usage: tests/vm/vmrun.sh [-k stock|patched|patched-debug|/path/to/bzImage]
#            [-t TIMEOUT_S] [-m MEM] [-n NAME] [--append "KERNEL ARGS"]
#            [--overlay] [-i] -- CMD [ARGS...]
#
#   -k KERNEL   guest kernel (default stock: Debian's 6.12, see get-kernel.sh)
#   -t SECONDS  the guest is killed after this long; 0 = never (default 900,
#               3600 with -i)
#   -m MEM      guest memory (default 2G)
#   -n NAME     writable share = <top>/tests/out/vm/NAME/ (default: CMD's
#               base name); emptied first; mounted at the same path in the
#               guest as $UBLKFW_OUT; holds console.log and dmesg.log
#   --append    extra kernel command line arguments
#   --overlay   make the guest's / writable (tmpfs overlay, discarded)
#   -i          interactive: the terminal is the guest's serial console
#   CMD         absolute path, path relative to the current directory, or a
#               command name looked up on the guest's PATH.  Runs with
#               cwd = the checkout's top directory.
#
# Exit status: CMD's; 125 if the guest hung (timeout) or panicked, or when
# the guest could not be started.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd -P)
TOP=$(cd "$HERE/../.." && pwd -P)

usage() { sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 125; }
die() { echo "vmrun: $*" >&2; exit 125; }

KSEL=stock TIMEOUT="" MEM=2G NAME="" APPEND="" VMOVL=0 TTY=0
SMP=${UBLKFW_VM_SMP:-2}
while [ $# -gt 0 ]; do
	case $1 in
	-k)		[ $# -ge 2 ] || usage; KSEL=$2; shift 2 ;;
	-t)		[ $# -ge 2 ] || usage; TIMEOUT=$2; shift 2 ;;
	-m)		[ $# -ge 2 ] || usage; MEM=$2; shift 2 ;;
	-n)		[ $# -ge 2 ] || usage; NAME=$2; shift 2 ;;
	--append)	[ $# -ge 2 ] || usage; APPEND=$2; shift 2 ;;
	--overlay)	VMOVL=1; shift ;;
	-i)		TTY=1; shift ;;
	-h|--help)	usage ;;
	--)		shift; break ;;
	-*)		echo "vmrun: unknown option $1" >&2; usage ;;
	*)		break ;;
	esac
done
[ $# -ge 1 ] || usage
[ -n "$TIMEOUT" ] || { [ $TTY = 1 ] && TIMEOUT=3600 || TIMEOUT=900; }
case $TIMEOUT in *[!0-9]*|"") die "bad timeout '$TIMEOUT'" ;; esac

case $TOP in
*[[:space:]]*)	die "the checkout path '$TOP' contains white space: the guest cannot take it" ;;
esac

# --- the command, as a script in the share ------------------------------
CMD=$1; shift
case $CMD in
*/*)	[ -e "$CMD" ] || die "$CMD does not exist"
	CMD=$(realpath -s "$CMD") ;;
esac
# Host paths the guest must see where init mounts a tmpfs (a clone under
# /tmp): the checkout, and a command outside it (its directory, and the file
# itself for when that directory is /tmp).  init keeps those that need it.
KEEP=$TOP
case $CMD in
"$TOP"/*)	;;
/*)		KEEP="$KEEP
$(dirname "$CMD")
$CMD" ;;
esac
if [ -z "$NAME" ]; then
	NAME=$(basename "$CMD"); NAME=${NAME%.*}
fi
case $NAME in
""|.|..|*[!A-Za-z0-9._-]*) die "bad name '$NAME' (letters, digits, . _ - only)" ;;
esac

# --- packages ------------------------------------------------------------
need_pkgs() {
	local p
	for p in qemu-system-x86 busybox-static cpio kmod xz-utils gzip util-linux coreutils procps; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || return 0
	done
	return 1
}
if need_pkgs; then
	sh "$TOP/scripts/install-deps.sh" test || die "missing packages (scripts/install-deps.sh test failed)"
fi

# --- kernel and initramfs --------------------------------------------------
case $KSEL in
stock|patched|patched-debug)
	line=$("$HERE/get-kernel.sh" "$KSEL" | tail -n 1) || die "get-kernel.sh $KSEL failed"
	KERNEL=$(echo "$line" | sed -n 's/^KERNEL=\(.*\) MODDIR=.*/\1/p')
	MODDIR=$(echo "$line" | sed -n 's/.* MODDIR=\(.*\)$/\1/p') ;;
*)	KERNEL=$KSEL MODDIR=${UBLKFW_VM_MODDIR:-} ;;
esac
[ -n "$KERNEL" ] && [ -f "$KERNEL" ] || die "no kernel image '$KERNEL'"
INITRD=$("$HERE/mkinitramfs.sh" $MODDIR | tail -n 1) || die "mkinitramfs.sh failed"
[ -s "$INITRD" ] || die "no initramfs '$INITRD'"

# --- one guest at a time -----------------------------------------------------
VMDIR=$TOP/tests/out/vm
mkdir -p "$VMDIR" || die "cannot create $VMDIR"
VMDIR=$(cd "$VMDIR" && pwd -P)	# the guest mounts the share at this path
exec 8>"$VMDIR/.lock"
WAIT=${UBLKFW_VM_WAIT:-60}
case $WAIT in *[!0-9]*|"") die "bad UBLKFW_VM_WAIT '$WAIT'" ;; esac
t_wait=$(date +%s)
if ! flock -n 8; then
	echo "vmrun: another guest of this checkout is running; waiting up to $WAIT s" >&2
	flock -w "$WAIT" 8 || die "another guest of this checkout is still running after $WAIT s; not starting a second one"
fi
# also guests started from this checkout by anything else (their share is here)
others() { pgrep -a qemu-system | grep -F -- "$VMDIR/"; }
said=0
while others >/dev/null; do
	if [ $(( $(date +%s) - t_wait )) -ge "$WAIT" ]; then
		others >&2
		die "a qemu guest of this checkout is still running after $WAIT s; not starting a second one"
	fi
	[ $said = 1 ] || echo "vmrun: a qemu guest of this checkout is running; waiting up to $WAIT s" >&2
	said=1
	sleep 1
done

# --- share dir ---------------------------------------------------------------
SHARE=$VMDIR/$NAME
rm -rf "$SHARE" && mkdir -p "$SHARE" || die "cannot create $SHARE"
LOG=$SHARE/console.log
{
	echo "# generated by tests/vm/vmrun.sh"
	printf 'exec'
	for a in "$CMD" "$@"; do
		printf " '%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"
	done
	echo
} > "$SHARE/.vm_cmd"
# shortest first: init restores a directory before the paths inside it
printf '%s\n' "$KEEP" | awk '{ print length($0), $0 }' | sort -n | cut -d' ' -f2- > "$SHARE/.vm_keep"

# --- boot ------------------------------------------------------------------------
[ $TTY = 1 ] && ttyvars="VMTTY=1 VMTERM=${TERM:-vt100}" || ttyvars=""
CMDLINE="console=ttyS0 panic=-1 loglevel=5 tsc=reliable VMSHARE=$SHARE VMTOP=$TOP VMCMD=$SHARE/.vm_cmd VMOVL=$VMOVL $ttyvars $APPEND"
QEMU=(qemu-system-x86_64
	-machine q35 -accel tcg,thread=multi -cpu max -smp "$SMP" -m "$MEM"
	-nodefaults -no-user-config -display none -no-reboot
	-pidfile "$SHARE/.qemu.pid"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
	-fsdev local,id=hr,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=hr,mount_tag=hostroot
	-fsdev local,id=sh,path="$SHARE",security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=sh,mount_tag=share)

stop_qemu() {
	local pid
	pid=$(cat "$SHARE/.qemu.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	return 0
}
on_signal() {
	echo "vmrun: interrupted, stopping the guest" >&2
	# qemu writes its pid file at once; give it a moment if it just started
	for i in $(seq 30); do
		stop_qemu && break
		sleep 0.1
	done
	sleep 1
	stop_qemu
	exit 125
}
trap on_signal INT TERM HUP

echo "vmrun: kernel $KERNEL" >&2
echo "vmrun: share  $SHARE" >&2
t0=$(date +%s.%N)
if [ $TTY = 1 ]; then
	# ^C goes to the guest; leave by ending the command (exit / ^D)
	timeout --foreground -k 10 "$TIMEOUT" "${QEMU[@]}" \
		-chardev stdio,id=con,signal=off,logfile="$LOG" -serial chardev:con
	qrc=$?
else
	# timeout puts qemu in its own process group, away from the terminal's
	# ^C: the trap above stops it.  The pipeline runs in the background so
	# that the trap runs at once.
	{ timeout -k 10 "$TIMEOUT" "${QEMU[@]}" -serial stdio </dev/null 2>&1; echo $? > "$SHARE/.qemu_rc"; } |
		sed -u 's/\r$//' | tee "$LOG" &
	wait $!
	qrc=$(cat "$SHARE/.qemu_rc" 2>/dev/null || echo 125)
fi
t1=$(date +%s.%N)
trap - INT TERM HUP
stop_qemu
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# --- result ------------------------------------------------------------------------
why=""
if grep -q 'Kernel panic - not syncing' "$LOG"; then
	why="the guest kernel panicked"
elif [ ! -s "$SHARE/.vm_rc" ]; then
	case $qrc in
	124|137) why="the guest hung: killed after the ${TIMEOUT} s timeout" ;;
	*)	 why="the guest ended without a result (qemu exit $qrc)" ;;
	esac
fi
if [ -n "$why" ]; then
	rc=125
else
	rc=$(cat "$SHARE/.vm_rc")
fi
# A kernel splat on the console (tests/vm/splat.ere): its first line, in a form
# callers grep for (run-integration.sh fails the group on it).
splat=$(grep -E '^\[ *[0-9]+\.[0-9]+\] ' "$LOG" | grep -Ef "$TOP/tests/vm/splat.ere" | head -n 1)
if [ -n "$splat" ]; then
	echo "vmrun: kernel splat: $splat (see $LOG and $SHARE/dmesg.log)" >&2
fi
echo "VMRUN: rc=$rc wall=${wall}s name=$NAME" | tee -a "$LOG"
if [ "$rc" != 0 ]; then
	{
		echo "vmrun: ---- last 60 console lines ($LOG) ----"
		tail -n 60 "$LOG"
		echo "vmrun: ---- end ----"
		if [ -n "$why" ]; then
			echo "vmrun: $why: exit 125"
		else
			echo "vmrun: $CMD exited $rc"
		fi
	} >&2
fi
exit "$rc"
