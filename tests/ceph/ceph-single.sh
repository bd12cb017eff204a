#!/bin/sh
# SPDX-License-Identifier: MIT
#
# ceph-single.sh - a single-node Ceph cluster of Debian's own daemons, for
# tests and by hand: one ceph-mon and one ceph-osd (memstore: the objects
# live in the OSD's memory) on 127.0.0.1 only, cephx on, a pool "rbd" of
# size 1 and an image in it.  Everything (ceph.conf, keyrings, the
# daemons' data, pid files, logs and admin sockets) lives under DIR.
#
#   tests/ceph/ceph-single.sh start DIR    # prints the conf path at the end
#   rbd -c DIR/ceph.conf ls                # the tools take -c DIR/ceph.conf
#   tests/ceph/ceph-single.sh stop DIR     # stops the daemons by their pid files
#
# Environment: CEPH_IMAGE (default "img"), CEPH_IMAGE_SIZE (default 256M),
# CEPH_MON_PORT (default 6789; msgr2 on CEPH_MON_PORT2, default 3300),
# CEPH_MEMSTORE_BYTES (the OSD's capacity, default 1G).  Needs ceph-mon,
# ceph-osd, ceph-common and python3-rados (scripts/install-deps.sh test);
# ceph-steps.py does the keyrings and the monitor commands.  No mgr: nothing
# here needs one (the cluster's health says HEALTH_WARN for want of one).
set -eu

usage() { echo "usage: $0 start DIR | stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
D=$2
IMAGE=${CEPH_IMAGE:-img}
IMAGE_SIZE=${CEPH_IMAGE_SIZE:-256M}
PORT=${CEPH_MON_PORT:-6789}
PORT2=${CEPH_MON_PORT2:-3300}
CONF=$D/ceph.conf
STEPS="/usr/bin/python3 $(dirname "$0")/ceph-steps.py"

say() { printf 'ceph-single: %s\n' "$*"; }
die() { printf 'ceph-single: %s\n' "$*" >&2; exit 1; }

write_conf() {
	cat > "$CONF" <<CONF
# Written by ceph-single.sh: a single-node test cluster on 127.0.0.1.
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = [v2:127.0.0.1:$PORT2,v1:127.0.0.1:$PORT]
public network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $D/\$name.keyring
pid file = $D/\$name.pid
log file = $D/\$name.log
run dir = $D
crash dir = $D/crash
log to stderr = false
err to stderr = false
mon cluster log file = $D/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false

[client]
# one per process: the servers of rbd devices and the tools are all client.admin
admin socket = $D/\$name.\$pid.asok

[mon]
admin socket = $D/\$name.asok
mon data = $D/mon.\$id
mon data avail warn = 1
mon data avail crit = 0

[osd]
admin socket = $D/\$name.asok
osd data = $D/osd.\$id
# where the OSD puts itself in the CRUSH map (by default the host name, which
# a test guest may not have)
crush location = root=default host=single
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-1073741824}
osd op num shards = 1
osd op num threads per shard = 2
# A PG may serve reads only within its read lease (osd pool default read
# lease ratio x this grace: 16 s by default).  A lone OSD that was stopped
# for longer (the rbd tests' outage: SIGSTOP for ~15 s) finds its PGs
# "laggy" on resume and can park their ops in "waiting for readable" for
# good (ceph/ceph-container#1682, tracker.ceph.com/issues/80404): one OSD,
# no peer to fail over to, so a long lease costs nothing here.
osd heartbeat grace = 120
CONF
}

start() {
	[ ! -e "$D/mon.a.pid" ] || die "$D already holds a cluster (stop it first: $0 stop $D)"
	mkdir -p "$D/mon.a" "$D/osd.0" "$D/crash"
	write_conf
	cat /proc/sys/kernel/random/uuid > "$D/osd.0.uuid"
	$STEPS keys "$D"
	monmaptool --create --fsid "$(sed -n 's/^fsid = //p' "$CONF")" \
		--addv a "[v2:127.0.0.1:$PORT2,v1:127.0.0.1:$PORT]" "$D/monmap" >/dev/null
	ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.a.keyring"
	ceph-mon -c "$CONF" -i a || die "ceph-mon did not start: see $D/mon.a.log"

	# osd.0: made known to the monitor with its key, then its store
	id=$($STEPS osd-new "$CONF" "$D")
	[ "$id" = 0 ] || die "ceph osd new gave osd '$id', not 0"
	ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$(cat "$D/osd.0.uuid")" >>"$D/setup.log" 2>&1 ||
		die "ceph-osd --mkfs failed: see $D/osd.0.log"
	ceph-osd -c "$CONF" -i 0 || die "ceph-osd did not start: see $D/osd.0.log"

	$STEPS pool "$CONF" rbd
	# The pool's PGs must be active before the first write: rbd waits.
	timeout 120 rbd -c "$CONF" pool init rbd || die "rbd pool init failed (PGs not active?)"
	timeout 60 rbd -c "$CONF" create --size "$IMAGE_SIZE" "rbd/$IMAGE" ||
		die "rbd create rbd/$IMAGE failed"
	say "cluster up: conf $CONF, pool rbd, image rbd/$IMAGE ($IMAGE_SIZE)"
}

# stop_one NAME: the daemon of pid file DIR/NAME.pid, TERM then (10 s) KILL
stop_one() {
	f=$D/$1.pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	case $pid in *[!0-9]*|'') die "$f does not hold a pid" ;; esac
	if kill -0 "$pid" 2>/dev/null; then
		kill -CONT "$pid" 2>/dev/null || true	# a stopped daemon cannot exit
		kill -TERM "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	rm -f "$f"
}

case $cmd in
start)	start ;;
stop)	stop_one osd.0; stop_one mon.a; say "stopped the cluster in $D" ;;
*)	usage ;;
esac
