#!/bin/sh
# tests/fresh/enter.sh ROOT NETNS|host MARK CMD: runs shell command CMD as root in the
# prepared ROOT (see run.sh), with a login's environment plus PVEFS_FRESH_RUN=MARK (how
# run.sh finds what it started). NETNS is a network namespace file (nsenter --net), or
# "host" for the host's network.
#
# ROOT becomes the real root of a mount namespace of its own (pivot_root), not a chroot:
# a container's mount namespace is then rooted at the container's rootfs, so lxc-attach
# enters the container (under a chroot it landed in ROOT's /: the setns root is the
# namespace's root, not the chroot). Its /proc, /sys, /dev, /run are the mounts run.sh
# made under ROOT. exec all the way: the PID of this script is CMD's shell's PID.
set -eu
ROOT=$1 NETNS=$2 MARK=$3 CMD=$4
ENV="HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PVEFS_FRESH_RUN=$MARK"
# (the old root's mount point is per call: calls run side by side)
INNER='o=.fresh-oldroot.$$ && cd "$1" && mkdir $o && pivot_root . $o && umount -l /$o &&
{ rmdir /$o || true; } && cd / && exec chroot / /usr/bin/env -i $2 /bin/sh -c "$3"'
if [ "$NETNS" = host ]; then
	exec unshare --mount --propagation private /bin/sh -c "$INNER" enter "$ROOT" "$ENV" "$CMD"
fi
exec nsenter --net="$NETNS" unshare --mount --propagation private /bin/sh -c "$INNER" enter "$ROOT" "$ENV" "$CMD"
