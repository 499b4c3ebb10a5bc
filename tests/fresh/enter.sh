#!/bin/sh
# tests/fresh/enter.sh WORK net|nonet CMD: runs shell command CMD as root in the root that
# run.sh prepared in WORK, with a login's environment plus PVEFS_FRESH_RUN=WORK (how
# run.sh finds what it started). "net" keeps the host's network; "nonet" uses the run's
# network namespace (WORK/netns: only lo).
#
# Every call enters the same mount namespace (WORK/mntns), whose real root is the new
# root (run.sh made it with pivot_root), not a chroot: so make run's /pve is seen by the
# example's commands, tests/run.sh can unshare a private copy of /, and a container's
# mount namespace is rooted at its rootfs (under a chroot, lxc-attach landed in the
# chroot's /, the root of the namespace). exec all the way: this script's PID is CMD's
# shell's.
set -eu
WORK=$1 NET=$2 CMD=$3
set -- --mount="$WORK/mntns"
[ "$NET" = net ] || set -- "$@" --net="$WORK/netns"
exec nsenter "$@" /usr/bin/env -i HOME=/root TERM=dumb PVEFS_FRESH_RUN="$WORK" \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "cd / && $CMD"
