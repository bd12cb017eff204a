#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pattern_io.py - exact accounting of writes across a server's death.

  pattern_io.py write DEV LOG BLOCKS [BS] [SEED]
      writes blocks 0 .. BLOCKS-1 of BS bytes (default 64K) in order with
      O_DIRECT, each with its own pattern, and logs "ok N" or "fail N ERRNO"
      per block (flushed at once), so the log says which writes the device
      acknowledged, whatever happens to the server meanwhile.
  pattern_io.py check DEV LOG [BS] [SEED]
      reads every block back and compares each acknowledged one with its
      pattern; prints "acked A failed F corrupt C" and exits 1 if C > 0.
"""
import hashlib
import mmap
import os
import sys


def pattern(seed, block, bs):
    unit = hashlib.sha256(b"%d:%d" % (seed, block)).digest()
    return (unit * (bs // len(unit) + 1))[:bs]


def write(dev, log, blocks, bs, seed):
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, bs)
    with open(log, "w") as out:
        for b in range(blocks):
            buf.seek(0)
            buf.write(pattern(seed, b, bs))
            try:
                os.pwritev(fd, [buf], b * bs)
                out.write("ok %d\n" % b)
            except OSError as e:
                out.write("fail %d %d\n" % (b, e.errno))
            out.flush()
    os.close(fd)


def check(dev, log, bs, seed):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, bs)
    acked = failed = corrupt = 0
    for line in open(log):
        word, block = line.split()[:2]
        if word != "ok":
            failed += 1
            continue
        acked += 1
        os.preadv(fd, [buf], int(block) * bs)
        if buf[:] != pattern(seed, int(block), bs):
            corrupt += 1
    os.close(fd)
    print("acked %d failed %d corrupt %d" % (acked, failed, corrupt))
    return 1 if corrupt else 0


def main(argv):
    if len(argv) < 4 or argv[1] not in ("write", "check"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[1] == "write":
        bs = int(argv[5]) if len(argv) > 5 else 65536
        seed = int(argv[6]) if len(argv) > 6 else 1
        write(argv[2], argv[3], int(argv[4]), bs, seed)
        return 0
    bs = int(argv[4]) if len(argv) > 4 else 65536
    seed = int(argv[5]) if len(argv) > 5 else 1
    return check(argv[2], argv[3], bs, seed)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
