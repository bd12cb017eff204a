#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Talk the registration-socket protocol (kublk's) to a ublk-fw server, the
way a misbehaving or ordinary client would.  Prints the 32-bit reply.

usage: shmem_sock.py SOCKET memfd SIZE | garbage | nofd | twice SIZE
       shmem_sock.py SOCKET again SIZE
           registers a memfd, prints the reply, waits for a line on stdin
           (the server is replaced meanwhile), then registers the same memfd
           with the (new) server and prints that reply too
"""
import os
import socket
import struct
import sys


def ask(path, data, fds):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        if fds:
            socket.send_fds(s, [data], fds)
        else:
            s.sendall(data)
        reply = s.recv(4, socket.MSG_WAITALL)
    return struct.unpack("=i", reply)[0]


def memfd(size):
    fd = os.memfd_create("test")
    os.ftruncate(fd, size)
    return fd


path, what = sys.argv[1], sys.argv[2]
if what == "memfd":
    print(ask(path, b"\0", [memfd(int(sys.argv[3]))]))
elif what == "garbage":
    print(ask(path, b"this is not a registration", []))
elif what == "nofd":
    print(ask(path, b"\0", []))
elif what == "twice":
    fd = memfd(int(sys.argv[3]))
    print(ask(path, b"\0", [fd]), ask(path, b"\0", [fd]))
elif what == "again":
    fd = memfd(int(sys.argv[3]))
    print(ask(path, b"\0", [fd]), flush=True)
    sys.stdin.readline()
    print(ask(path, b"\0", [fd]), flush=True)
else:
    sys.exit("unknown case " + what)
