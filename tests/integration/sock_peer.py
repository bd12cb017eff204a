#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A hostile or careless peer of a ublk-fw server's unix sockets.

usage: sock_peer.py ask SOCKET
           send "stats", print "reply N" (bytes) or "closed" (no answer)
       sock_peer.py hold SOCKET N SECONDS [CONNECT-TIMEOUT]
           open up to N connections (CONNECT-TIMEOUT, default 0.2 s, each at
           most), print "connected C", keep them silent for SECONDS, then
           close them
"""
import socket
import sys
import time


def ask(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        try:
            s.sendall(b"stats\n")
            data = s.recv(1 << 20)
        except OSError:
            data = b""
    print("reply %d" % len(data) if data else "closed")


def connect(path, timeout):
    """A connection, or None after timeout.  A full backlog makes a unix
    socket's connect fail at once (EAGAIN) rather than wait: retry."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
        except OSError:
            s.close()
            return None


def hold(path, n, seconds, connect_timeout):
    conns = []
    for _ in range(n):
        s = connect(path, connect_timeout)
        if s:
            conns.append(s)
    print("connected %d" % len(conns), flush=True)
    time.sleep(seconds)
    for s in conns:
        s.close()


if sys.argv[1] == "ask":
    ask(sys.argv[2])
elif sys.argv[1] == "hold":
    hold(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
         float(sys.argv[5]) if len(sys.argv) > 5 else 0.2)
else:
    sys.exit("unknown mode " + sys.argv[1])
