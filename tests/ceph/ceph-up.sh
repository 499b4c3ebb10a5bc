#!/bin/bash
# ceph-up.sh: start a real single-host Ceph (pacific) on loopback for tests: 1 mon,
# 1 mgr, N OSDs, no systemd. Nothing goes to /etc/ceph, /var/lib/ceph or /var/log/ceph.
# Prints CEPH_CONF=<dir>/ceph.conf and exits 0 once HEALTH_OK; on failure it kills
# what it started and exits non-zero (logs in $CEPH_DIR/log). Stop with ceph-down.sh.
#
#   CEPH_DIR        cluster directory (required; wiped and recreated)
#   CEPH_OSDS       number of OSDs (default 1)
#   CEPH_MGR        1 = start a mgr (default; needed for usage/PG stats and df), 0 = none
#   CEPH_STORE      memstore (default; data lives in OSD RAM) | bluestore (sparse file)
#   CEPH_MON_PORT   mon msgr2 port (default 46789); msgr1 is port+1
#   CEPH_PORT_MIN/CEPH_PORT_MAX  OSD/mgr ports (default mon port+2 .. mon port+199),
#                   so two clusters coexist when their mon ports are 200 apart
#   CEPH_WAIT_TIMEOUT  seconds to wait for HEALTH_OK (default 120)
#   CEPH_MEMSTORE_BYTES  capacity per memstore OSD (default 2 GiB)
set -euo pipefail

: "${CEPH_DIR:?ceph-up.sh: set CEPH_DIR to the cluster directory}"
DIR=$CEPH_DIR
NOSD=${CEPH_OSDS:-1}
MGR=${CEPH_MGR:-1}
STORE=${CEPH_STORE:-memstore}
MON_PORT=${CEPH_MON_PORT:-46789}
PORT_MIN=${CEPH_PORT_MIN:-$((MON_PORT + 2))}
PORT_MAX=${CEPH_PORT_MAX:-$((MON_PORT + 199))}
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$EPOCHREALTIME
ts() { awk -v a="$T0" -v b="$EPOCHREALTIME" -v m="$*" 'BEGIN { printf "[ceph-up %6.2fs] %s\n", b - a, m }' >&2; }
die() { echo "ceph-up: $*" >&2; exit 1; }

case $STORE in memstore | bluestore) ;; *) die "CEPH_STORE=$STORE: use memstore or bluestore" ;; esac
[[ $NOSD =~ ^[1-9][0-9]*$ ]] || die "CEPH_OSDS=$NOSD: need a positive number"
[ -f "$DIR/pids" ] && die "$DIR/pids exists: a cluster may still run there; run ceph-down.sh first"
# the directory is wiped: refuse anything that does not look like one of ours
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/ceph.conf" ]; then
    die "$DIR is not empty and holds no ceph.conf; refusing to wipe it"
fi
for p in "$MON_PORT" $((MON_PORT + 1)); do
    if (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
        die "port $p on 127.0.0.1 is in use; set CEPH_MON_PORT to a free port"
    fi
done

rm -rf "$DIR"
mkdir -p "$DIR"/{run,log,mon.a,mgr.x}
DIR=$(cd "$DIR" && pwd)
export CEPH_DIR=$DIR
# on any failure or interrupt: kill what was started (by PID) so nothing leaks
cleanup() {
    rc=$?
    trap - ERR INT TERM
    echo "ceph-up: FAILED (rc=$rc); logs in $DIR/log; stopping the daemons" >&2
    "$HERE/ceph-down.sh" --kill
    exit $((rc ? rc : 1))
}
trap cleanup ERR INT TERM

FSID=$(cat /proc/sys/kernel/random/uuid)
CONF=$DIR/ceph.conf
export CEPH_CONF=$CONF
MONADDR="[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$((MON_PORT + 1))]"

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon initial members = a
mon host = $MONADDR
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = $PORT_MIN
ms bind port max = $PORT_MAX
# tiny single-host cluster: one replica, fixed pg counts (the autoscaler would
# change pg_num behind the tests)
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on pool pg num not power of two = false
mon max pg per osd = 1000
mon osd down out interval = 60
# the default 30 % free-space warning is close on small test disks
mon data avail warn = 2
mon data avail crit = 1
# all OSDs share one host: each OSD is a reporter, one report marks a peer down
mon osd min down reporters = 1
mon osd reporter subtree level = osd
osd heartbeat interval = 1
osd heartbeat grace = 10
# a lone SIGKILLed OSD has no peer to report it; the mon notices missed beacons
osd beacon report interval = 1
mon osd report timeout = 10
# usage and PG stats in status/df lag ~1 s instead of 5-10 s
mgr stats period = 1
mon mgr digest period = 1
mgr tick period = 1
# every pool change, snapshot id and OSD boot waits for a paxos commit (default 1 s)
paxos propose interval = 0.01
paxos min wait = 0.001
debug ms = 0
debug mon = 0/0
debug osd = 0/0
debug paxos = 0/0
debug auth = 0/0
debug bluestore = 0/0
debug bluefs = 0/0
debug rocksdb = 0/0
debug mgr = 0/0
debug mgrc = 0/0
debug rbd = 0/0
debug rados = 0/0
debug objecter = 0/0
osd op num shards = 2
osd op num threads per shard = 1

[mon]
mon data = $DIR/mon.a
mon cluster log file = $DIR/log/cluster.log
# no "no active mgr" warning while the mgr starts or with CEPH_MGR=0
mon_mgr_mkfs_grace = 3600
# mimic: rbd clone v2, so a clone needs no protected snapshot
mon osd initial require min compat client = mimic
mgr initial modules =

[mgr]
mgr data = $DIR/\$name
keyring = $DIR/\$name/keyring
public addr = 127.0.0.1

[osd]
osd data = $DIR/\$name
# per-daemon keyring: with only the global one the OSD authenticates as admin and mkfs fails
keyring = $DIR/\$name/keyring
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd objectstore = $STORE
osd crush update on start = true
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-2147483648}
memstore page set = true
# memstore persists only on a clean umount, which fast shutdown skips
osd fast shutdown = false
# outside the OSD dir: mkfs makes a "block" symlink there (ELOOP)
bluestore block path = $DIR/\$name.block
bluestore block create = true
bluestore block size = 10737418240
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
bluestore fsck on mkfs = false
bluestore cache autotune = false
bluestore cache size = 134217728
bdev enable discard = false
CONF

# all keys made offline and imported into the mon keyring before mkfs: no "auth add"
ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/mgr.x/keyring" --gen-key -n mgr.x \
    --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/keyring" >/dev/null
ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/mgr.x/keyring" >/dev/null
for i in $(seq 0 $((NOSD - 1))); do
    mkdir -p "$DIR/osd.$i"
    cat /proc/sys/kernel/random/uuid >"$DIR/osd.$i/uuid.txt"
    ceph-authtool --create-keyring "$DIR/osd.$i/keyring" --gen-key -n "osd.$i" \
        --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
    ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/osd.$i/keyring" >/dev/null
done
monmaptool --create --fsid "$FSID" --addv a "$MONADDR" "$DIR/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" \
    >"$DIR/log/mon.a.mkfs.out" 2>&1
ts "keys, monmap and mon mkfs done"

ceph-mon -i a -f </dev/null >"$DIR/log/mon.a.out" 2>&1 &
echo "mon.a $!" >>"$DIR/pids"

if [ "$MGR" = 1 ]; then
    # ceph-mgr imports every module under its module path (~5 s on 2 cores); give
    # it only the always-on ones (dropping one of those is HEALTH_ERR)
    mkdir -p "$DIR/mgr-modules"
    for m in mgr_module.py mgr_util.py balancer crash devicehealth orchestrator pg_autoscaler \
        progress rbd_support status telemetry volumes; do
        ln -s "/usr/share/ceph/mgr/$m" "$DIR/mgr-modules/$m"
    done
    printf '[mgr]\nmgr module path = %s\n' "$DIR/mgr-modules" >>"$CONF"
    ceph-mgr -i x -f </dev/null >"$DIR/log/mgr.x.out" 2>&1 &
    echo "mgr.x $!" >>"$DIR/pids"
fi

/usr/bin/python3 "$HERE/ceph_ctl.py" osd-new "$CONF" "$DIR" "$NOSD"
ts "mon up, $NOSD OSD ids allocated"

pids=()
for i in $(seq 0 $((NOSD - 1))); do
    ceph-osd -i "$i" --mkfs --osd-uuid "$(cat "$DIR/osd.$i/uuid.txt")" \
        </dev/null >"$DIR/log/osd.$i.mkfs.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || { echo "ceph-up: OSD mkfs failed, see $DIR/log/osd.*.mkfs.out" >&2; false; }
done
for i in $(seq 0 $((NOSD - 1))); do
    ceph-osd -i "$i" -f </dev/null >"$DIR/log/osd.$i.out" 2>&1 &
    echo "osd.$i $!" >>"$DIR/pids"
done
ts "OSDs started ($STORE)"

/usr/bin/python3 "$HERE/ceph_ctl.py" wait "$CONF" "$NOSD" "$MGR" "${CEPH_WAIT_TIMEOUT:-120}"
ts "cluster ready"
trap - ERR INT TERM
echo "CEPH_CONF=$CONF"
