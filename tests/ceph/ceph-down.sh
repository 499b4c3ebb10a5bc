#!/bin/bash
# ceph-down.sh: stop a cluster started by ceph-up.sh, by the PIDs in $CEPH_DIR/pids.
# usage: CEPH_DIR=dir ceph-down.sh [--kill] [--wipe]
#   default  SIGTERM the OSDs and wait (the mon must still run to take their
#            "mark me down", or each OSD hangs ~5 s), then mgr + mon; SIGKILL
#            whatever is left after 5 s
#   --kill   SIGKILL everything at once (for a cluster that is thrown away)
#   --wipe   remove $CEPH_DIR afterwards
: "${CEPH_DIR:?ceph-down.sh: set CEPH_DIR to the cluster directory}"
DIR=$CEPH_DIR
KILL=0
WIPE=0
for a in "$@"; do
    case $a in
    --kill) KILL=1 ;;
    --wipe) WIPE=1 ;;
    *) echo "usage: CEPH_DIR=dir $0 [--kill] [--wipe]" >&2; exit 2 ;;
    esac
done
wipe() { [ $WIPE = 1 ] && [ -f "$DIR/ceph.conf" ] && rm -rf "$DIR"; return 0; }
[ -f "$DIR/pids" ] || { wipe; exit 0; }

# the daemons are re-parented to PID 1, which may reap late, and kill -0 succeeds
# on a zombie: only a non-zombie /proc entry counts as alive
alive() {
    local st
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}
waitfor() { # waitfor SECONDS NAME-REGEX
    local n=$(($1 * 10)) re=$2 any name pid
    for _ in $(seq 1 $n); do
        any=0
        while read -r name pid; do
            [[ $name =~ $re ]] && alive "$pid" && any=1
        done <"$DIR/pids"
        [ $any = 0 ] && return 0
        sleep 0.1
    done
    return 1
}
sig() { # sig SIGNAL NAME-REGEX
    local name pid
    while read -r name pid; do
        [[ $name =~ $2 ]] && alive "$pid" && kill -"$1" "$pid" 2>/dev/null
    done <"$DIR/pids"
    return 0
}

if [ $KILL = 1 ]; then
    sig KILL .
    waitfor 5 .
else
    sig TERM '^osd\.'
    waitfor 5 '^osd\.'
    sig TERM '^(mgr|mon)\.'
    waitfor 5 .
    while read -r name pid; do
        alive "$pid" && { echo "ceph-down: $name (pid $pid) ignored SIGTERM; SIGKILL" >&2; kill -KILL "$pid"; }
    done <"$DIR/pids"
    waitfor 2 .
fi
left=$(while read -r name pid; do alive "$pid" && echo "$name:$pid"; done <"$DIR/pids")
if [ -n "$left" ]; then
    echo "ceph-down: still running after SIGKILL: $left" >&2
    exit 1
fi
rm -f "$DIR/pids"
wipe
exit 0
