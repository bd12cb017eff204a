#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run one command in a qemu guest (KVM when it works here, else TCG) whose
# root is the host's / (9p, read-only).  See tests/vm/README.md.
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
# Environment: UBLKFW_VM_ACCEL=auto|kvm|tcg (default auto: kvm when /dev/kvm
# works, found by a probe boot), UBLKFW_VM_SMP, UBLKFW_VM_WAIT,
# UBLKFW_VM_MODDIR, UBLKFW_CACHE; for testing the probe:
# UBLKFW_VM_PROBE_TEST=die|hang, UBLKFW_VM_PROBE_TIMEOUT (default 30 s).
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
CACHE=${UBLKFW_CACHE:-$HOME/.cache/ublk-fw}
ACCEL_MODE=${UBLKFW_VM_ACCEL:-auto}
case $ACCEL_MODE in
auto|kvm|tcg) ;;
*)	die "bad UBLKFW_VM_ACCEL '$ACCEL_MODE': use auto, kvm or tcg" ;;
esac
case ${UBLKFW_VM_PROBE_TEST:-} in
""|die|hang) ;;
*)	die "bad UBLKFW_VM_PROBE_TEST '$UBLKFW_VM_PROBE_TEST': use die or hang" ;;
esac
PROBE_TIMEOUT=${UBLKFW_VM_PROBE_TIMEOUT:-30}
case $PROBE_TIMEOUT in *[!0-9]*|"") die "bad UBLKFW_VM_PROBE_TIMEOUT '$PROBE_TIMEOUT'" ;; esac

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

# --- accelerator -------------------------------------------------------------
# KVM when /dev/kvm is there and a probe guest runs on it: this kernel and
# initramfs, -accel kvm -cpu host, init's VMPROBE mode (prints "VMINIT: probe
# ok" and powers off; about a second).  On some hosts /dev/kvm exists but
# guests die at their first instruction: qemu aborts, or stops the guest with
# "KVM internal error" and waits forever.  The verdict is cached in
# $CACHE/kvm-probe/<host boot id>-<key> (key: qemu binary and version, kernel
# image, initramfs) for this host boot only; a real run that finds KVM broken
# after all rewrites it (and reboots the guest under TCG if its init had not
# started yet).
PROBE_DIR=$CACHE/kvm-probe
BOOT_ID=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
probe_file() {
	local qemu key
	qemu=$(command -v qemu-system-x86_64) || return 1
	key=$( {
		stat -L -c '%n %s %Y' "$qemu" "$KERNEL" "$INITRD"
		"$qemu" --version | head -n 1
	} | sha256sum | cut -c1-16)
	echo "$PROBE_DIR/$BOOT_ID-$key"
}
# qemu_why QRC FILE...: one line saying how a guest that did not get far died
qemu_why() {
	local qrc=$1 l; shift
	# first RE FILE...: the first line matching RE (missing files are fine)
	first() { local re=$1; shift; cat "$@" 2>/dev/null | grep -m 1 -e "$re"; return 0; }
	if l=$(first 'KVM internal error' "$@") && [ -n "$l" ]; then :
	elif l=$(first 'Kernel panic' "$@") && [ -n "$l" ]; then :
	elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then l="no sign of life before the timeout"
	elif l=$(first '^qemu-system' "$@") && [ -n "$l" ]; then :
	else l="qemu exited $qrc"
	fi
	printf '%s\n' "$l" | tr -d '\r' | sed 's/^\[ *[0-9.]*\] //'
}
# probe_kvm LOG: status 0 if the probe guest ran; else stdout = why, one line
probe_kvm() {
	local log=$1 app="console=ttyS0 panic=-1 loglevel=5 VMPROBE=1" extra=() pid qrc
	case ${UBLKFW_VM_PROBE_TEST:-} in
	die)	app="console=ttyS0 panic=-1 loglevel=5 rdinit=/nonexistent" ;;	# the kernel panics
	hang)	extra=(-S) ;;	# the CPU never starts, like a guest stopped by KVM
	esac
	timeout -k 5 "$PROBE_TIMEOUT" qemu-system-x86_64 -machine q35 -accel kvm -cpu host \
		-smp 1 -m 512M -nodefaults -no-user-config -display none -no-reboot \
		-kernel "$KERNEL" -initrd "$INITRD" -append "$app" -serial stdio "${extra[@]}" \
		</dev/null >"$log" 2>&1 &
	pid=$!
	trap 'kill "$pid" 2>/dev/null; exit 125' INT TERM HUP
	# qemu does not exit on a KVM internal error: stop it then
	while kill -0 "$pid" 2>/dev/null; do
		grep -q 'KVM internal error' "$log" && { kill "$pid"; break; }
		sleep 0.2
	done
	wait "$pid"; qrc=$?
	trap - INT TERM HUP
	grep -q '^VMINIT: probe ok' "$log" && return 0
	qemu_why "$qrc" "$log" | sed "s/before the timeout/within $PROBE_TIMEOUT s/"
	return 1
}
choose_accel() {
	local pf="" v t0 why
	PROBE_FILE=""
	if [ ! -e /dev/kvm ]; then
		ACCEL=tcg ACCEL_WHY="no /dev/kvm"; return
	fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		ACCEL=tcg ACCEL_WHY="/dev/kvm is not read-writable for $(id -un)"; return
	fi
	pf=$(probe_file) || { ACCEL=tcg ACCEL_WHY="no qemu-system-x86_64"; return; }
	mkdir -p "$PROBE_DIR"
	# verdicts of earlier host boots are worthless
	find "$PROBE_DIR" -maxdepth 1 -type f ! -name "$BOOT_ID-*" -delete 2>/dev/null
	if [ -z "${UBLKFW_VM_PROBE_TEST:-}" ] && [ -s "$pf" ]; then
		v=$(cat "$pf")
		PROBE_FILE=$pf
		case $v in
		ok*)	ACCEL=kvm ACCEL_WHY="a probe guest ran earlier in this host boot; cached in $pf" ;;
		*)	ACCEL=tcg ACCEL_WHY="/dev/kvm exists but ${v#fail }; cached for this host boot in $pf" ;;
		esac
		return
	fi
	t0=$(date +%s.%N)
	if why=$(probe_kvm "$pf.log"); then
		ACCEL=kvm ACCEL_WHY="a probe guest ran in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
		v="ok"
	else
		ACCEL=tcg ACCEL_WHY="/dev/kvm exists but a probe guest died: $why; see $pf.log"
		v="fail a probe guest died: $why"
	fi
	if [ -n "${UBLKFW_VM_PROBE_TEST:-}" ]; then
		ACCEL_WHY="$ACCEL_WHY; UBLKFW_VM_PROBE_TEST=$UBLKFW_VM_PROBE_TEST, not cached"
	else
		echo "$v" > "$pf.$$" && mv "$pf.$$" "$pf"
		PROBE_FILE=$pf
	fi
}
case $ACCEL_MODE in
tcg)	ACCEL=tcg ACCEL_WHY="UBLKFW_VM_ACCEL=tcg" PROBE_FILE="" ;;
kvm)	[ -e /dev/kvm ] || die "UBLKFW_VM_ACCEL=kvm but there is no /dev/kvm: unset it to let vmrun choose"
	ACCEL=kvm ACCEL_WHY="UBLKFW_VM_ACCEL=kvm, not probed" PROBE_FILE="" ;;
auto)	choose_accel ;;
esac

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

# boot: one guest with $ACCEL; sets qrc, t0, t1
boot() {
	local acc wpid=""
	case $ACCEL in
	kvm)	acc=(-accel kvm -cpu host) ;;
	*)	acc=(-accel tcg,thread=multi -cpu max) ;;
	esac
	CMDLINE="console=ttyS0 panic=-1 loglevel=5 tsc=reliable VMSHARE=$SHARE VMTOP=$TOP VMCMD=$SHARE/.vm_cmd VMOVL=$VMOVL VMACCEL=$ACCEL $ttyvars $APPEND"
	QEMU=(qemu-system-x86_64
		-machine q35 "${acc[@]}" -smp "$SMP" -m "$MEM"
		-nodefaults -no-user-config -display none -no-reboot
		-pidfile "$SHARE/.qemu.pid"
		-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
		-fsdev local,id=hr,path=/,security_model=none,readonly=on,multidevs=remap
		-device virtio-9p-pci,fsdev=hr,mount_tag=hostroot
		-fsdev local,id=sh,path="$SHARE",security_model=none,multidevs=remap
		-device virtio-9p-pci,fsdev=sh,mount_tag=share)
	rm -f "$SHARE/.qemu.pid" "$SHARE/.qemu_rc" "$SHARE/.qemu.err" "$SHARE/.vm_rc"
	: > "$LOG"
	echo "vmrun: accel $ACCEL ($ACCEL_WHY)" >&2
	t0=$(date +%s.%N)
	if [ $ACCEL = kvm ]; then
		# qemu does not exit when KVM fails the guest: it stops it and
		# waits.  Stop qemu then instead of waiting for the timeout.  (Not
		# holding the lock, fd 8: its last sleep may outlive vmrun.)
		while sleep 1 && kill -0 $$ 2>/dev/null; do
			grep -qs 'KVM internal error' "$LOG" "$SHARE/.qemu.err" && { stop_qemu; break; }
		done 8>&- &
		wpid=$!
	fi
	if [ $TTY = 1 ]; then
		# ^C goes to the guest; leave by ending the command (exit / ^D)
		timeout --foreground -k 10 "$TIMEOUT" "${QEMU[@]}" \
			-chardev stdio,id=con,signal=off,logfile="$LOG" -serial chardev:con \
			2> >(exec 8>&-; tee -a "$SHARE/.qemu.err" >&2)
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
	if [ -n "$wpid" ]; then
		kill "$wpid" 2>/dev/null
		wait "$wpid" 2>/dev/null
	fi
}

echo "vmrun: kernel $KERNEL" >&2
echo "vmrun: share  $SHARE" >&2
boot
# KVM that passed the probe may still fail a real guest: record that for the
# next runs, and boot again under TCG when nothing of the command ran yet.
kvm_why=""
if [ $ACCEL = kvm ] && [ ! -s "$SHARE/.vm_rc" ]; then
	started=0
	grep -q '^VMINIT: start' "$LOG" && started=1
	if [ $started = 0 ] || grep -qs 'KVM internal error' "$LOG" "$SHARE/.qemu.err"; then
		kvm_why=$(qemu_why "$qrc" "$LOG" "$SHARE/.qemu.err")
		if [ -n "$PROBE_FILE" ]; then
			echo "fail a guest died under kvm although the probe had passed: $kvm_why" > "$PROBE_FILE"
		fi
		if [ $started = 0 ] && [ "$ACCEL_MODE" = auto ]; then
			mv "$LOG" "$SHARE/console.kvm.log"
			echo "vmrun: the kvm guest died before its init started ($kvm_why; see $SHARE/console.kvm.log): booting again with tcg" >&2
			ACCEL=tcg ACCEL_WHY="the kvm guest died: $kvm_why"
			kvm_why=""
			boot
		fi
	fi
fi
# A TCG guest whose kernel died before init started ran nothing of ours:
# seen once as an early-boot double fault inside the emulator
# (cmpxchg16b, garbage EFLAGS) on a heavily loaded host.  Boot it once more,
# keeping the first console; a second death is reported as usual.
if [ $ACCEL = tcg ] && [ ! -s "$SHARE/.vm_rc" ] && ! grep -q '^VMINIT: start' "$LOG" &&
   [ "$qrc" != 124 ] && [ "$qrc" != 137 ]; then
	mv "$LOG" "$SHARE/console.boot1.log"
	echo "vmrun: the guest kernel died before its init started ($(qemu_why "$qrc" "$SHARE/console.boot1.log" "$SHARE/.qemu.err"); see $SHARE/console.boot1.log): booting once more" >&2
	boot
fi
trap - INT TERM HUP
stop_qemu
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# --- result ------------------------------------------------------------------------
why=""
if [ -n "$kvm_why" ]; then
	if [ "$ACCEL_MODE" = kvm ]; then
		why="the guest died under kvm ($kvm_why): unset UBLKFW_VM_ACCEL or set it to tcg"
	else
		why="the guest died under kvm ($kvm_why): rerun, vmrun uses tcg for the rest of this host boot"
	fi
elif grep -q 'Kernel panic - not syncing' "$LOG"; then
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
