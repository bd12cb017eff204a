# SPDX-License-Identifier: MIT
# cpu.sh - CPU accounting for the bench scripts (sourced by bench/nbd-measure.sh,
# bench/rbd-measure.sh and bench/profile.sh), in clock ticks (getconf CLK_TCK
# per second).
#
# guest_busy: the whole machine's busy ticks so far, all CPUs: user, nice,
#   system, irq and softirq of /proc/stat's "cpu" line (not idle, iowait or
#   steal).  Taken around a job it counts every process and kernel thread,
#   so a kernel client's work, which runs in kernel threads and softirqs,
#   is in it as much as a user-space server's.
# proc_ticks PID: utime + stime of the whole process PID (every thread, also
#   ended ones); 0 when PID is empty or gone.

guest_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
proc_ticks() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
	# the command name, field 2, may hold spaces: count from after its ')'
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
