#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ceph-steps.py - the steps of ceph-single.sh that would each cost a slow
tool start under an emulated guest (ceph-authtool, and the ceph CLI, which
fetches and parses every command's description first): keyrings, and the
monitor commands, sent with the rados binding (python3-rados).

  ceph-steps.py keys DIR           keyrings mon.a, client.admin, osd.0 under DIR
  ceph-steps.py osd-new CONF DIR   osd.0 made known to the monitor with its key
  ceph-steps.py pool CONF NAME     wait until osd.0 is up, then the pool (size 1)
"""
import base64
import json
import os
import struct
import sys
import time


def new_key():
    """A cephx secret as ceph-authtool --gen-print-key makes it: type AES (1),
    the creation time, and 16 random bytes, base64."""
    now = time.time()
    raw = struct.pack('<HIIH', 1, int(now), int((now % 1) * 1e9), 16) + os.urandom(16)
    return base64.b64encode(raw).decode()


def keyring(path, entries):
    with open(path, 'w') as f:
        for name, key, caps in entries:
            f.write('[%s]\n\tkey = %s\n' % (name, key))
            for subsys, cap in caps:
                f.write('\tcaps %s = "%s"\n' % (subsys, cap))
    os.chmod(path, 0o600)


def keys(d):
    mon = ('mon.', new_key(), [('mon', 'allow *')])
    admin = ('client.admin', new_key(),
             [('mon', 'allow *'), ('osd', 'allow *'), ('mgr', 'allow *')])
    osd = ('osd.0', new_key(), [])
    keyring(os.path.join(d, 'mon.a.keyring'), [mon, admin])
    keyring(os.path.join(d, 'client.admin.keyring'), [admin])
    keyring(os.path.join(d, 'osd.0.keyring'), [osd])


def connect(conf):
    import rados
    cluster = rados.Rados(conffile=conf, name='client.admin')
    cluster.connect(timeout=30)
    return cluster


def mon(cluster, inbuf=b'', **cmd):
    ret, out, err = cluster.mon_command(json.dumps(cmd), inbuf, timeout=60)
    if ret:
        sys.exit('ceph-steps: %s: %s' % (cmd['prefix'], err or os.strerror(-ret)))
    return out


def osd_new(conf, d):
    with open(os.path.join(d, 'osd.0.keyring')) as f:
        key = [l.split('=', 1)[1].strip() for l in f if l.strip().startswith('key')][0]
    with open(os.path.join(d, 'osd.0.uuid')) as f:
        uuid = f.read().strip()
    out = mon(connect(conf), json.dumps({'cephx_secret': key}).encode(),
              prefix='osd new', uuid=uuid, format='json')
    print(json.loads(out)['osdid'])


def pool(conf, name):
    cluster = connect(conf)
    for _ in range(240):
        osds = json.loads(mon(cluster, prefix='osd dump', format='json'))['osds']
        if osds and osds[0]['up']:
            break
        time.sleep(0.25)
    else:
        sys.exit('ceph-steps: osd.0 did not come up in 60 s')
    mon(cluster, prefix='osd pool create', pool=name, pg_num=8, pgp_num=8,
        pool_type='replicated', size=1)


if __name__ == '__main__':
    steps = {'keys': (keys, 1), 'osd-new': (osd_new, 2), 'pool': (pool, 2)}
    if len(sys.argv) < 2 or sys.argv[1] not in steps or len(sys.argv) != steps[sys.argv[1]][1] + 2:
        sys.exit(__doc__)
    steps[sys.argv[1]][0](*sys.argv[2:])
