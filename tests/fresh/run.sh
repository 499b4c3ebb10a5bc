#!/bin/bash
# tests/fresh/run.sh (make fresh): proves the README's two commands on a clean Debian 12.
#
#   1. debootstraps bookworm (minbase, plus make and git: what a new user installs before
#      cloning) through the host's apt mirror; the root is cached in $PVEFS_FRESH_CACHE
#      (default /var/cache/pvefs-fresh) and every run starts from a pristine copy of it;
#   2. enters it with the host's /proc, /sys (with the cgroup tree) and /dev (with /dev/pts
#      and /dev/shm), all mounted in a private mount namespace, so nothing leaks; every
#      command runs in one mount namespace whose real root is the new root (pivot_root,
#      see enter.sh), as on a real machine;
#   3. clones the current HEAD of this repository into it (uncommitted changes are not in);
#   4. runs `make check` there as root. The package install (tools/install-deps.sh) and the
#      tests' one download (the guest kernel, tests/qemu/build-guest.sh) use the network
#      first; then `make check` runs in a network namespace of its own with only lo, so
#      its bridges, namespaces and loopback ports cannot meet anything else on the host;
#   5. runs `make run` in the background, runs the README's example on it (the indented
#      block after the "run by tests/fresh/run.sh" marker in README.md), checks that each
#      guest it starts reaches running, stops them, stops pvefsd by its PID with SIGTERM
#      and checks that make run ended with 0 and /pve is unmounted (make-run.sh);
#   6. prints a summary: make check's last line, the example's result, the time taken.
#
# Downloaded .debs are kept in $PVEFS_FRESH_CACHE/archives (apt's cache only: every
# package is still installed by install-deps.sh). PVEFS_FRESH_KEEP=1 keeps the root and
# logs; PVEFS_FRESH_SKIP_CHECK=1 leaves make check out (and so fails).
# Exits non-zero on any failure.
set -uo pipefail
if [ -z "${PVEFS_FRESH_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "fresh: run as root" >&2; exit 1; }
	exec env PVEFS_FRESH_NS=1 unshare --mount --propagation private "$0" "$@"
fi
T0=$SECONDS
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel) || exit 1
CACHE=${PVEFS_FRESH_CACHE:-/var/cache/pvefs-fresh}
SUITE=bookworm
INCLUDE=make,git
log() { printf '[fresh %5ds] %s\n' $((SECONDS - T0)) "$*"; }
die() {
	log "FAILED: $*"
	exit 1
}
for t in debootstrap unshare nsenter pivot_root ip findmnt; do
	command -v $t >/dev/null || die "$t is missing on the host"
done

# ------------------------------------------------------------------ 1. the clean root
mkdir -p "$CACHE/archives/partial"
base=$CACHE/$SUITE-minbase-${INCLUDE//,/-}
if [ ! -f "$base.ok" ]; then
	mirror=$("$REPO/tools/pvefs-apt-mirror")
	log "debootstrap $SUITE (minbase + $INCLUDE) from $mirror into $base"
	rm -rf --one-file-system "$base" "$base.tmp"
	debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$base.tmp" "$mirror" \
		>"$CACHE/debootstrap.log" 2>&1 || {
		tail -20 "$CACHE/debootstrap.log"
		die "debootstrap (log: $CACHE/debootstrap.log)"
	}
	rm -f "$base.tmp"/var/cache/apt/archives/*.deb
	mv "$base.tmp" "$base" && touch "$base.ok" || die "cannot keep $base"
fi
WORK=$(mktemp -d /var/tmp/pvefs-fresh.XXXXXX) || die "mktemp"
ROOT=$WORK/root
NETNS=$WORK/netns

# Every process started in the root carries PVEFS_FRESH_RUN=$WORK (enter.sh sets it);
# those, and whatever descends from them (a container's init gets a clean environment),
# were started by this run. They are stopped by PID, then every mount under $WORK is
# detached before anything is removed (the binds of /dev and of the .deb cache must not
# be recursed into).
in_root_pids() {
	local p pid ppid
	declare -A parent=() mine=()
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		ppid=$(awk '{print $4}' "$p/stat" 2>/dev/null) || continue
		parent[$pid]=$ppid
		tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "PVEFS_FRESH_RUN=$WORK" && mine[$pid]=1
	done
	for pid in "${!parent[@]}"; do
		p=$pid
		while [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != 1 ]; do
			[ -n "${mine[$p]:-}" ] && { echo "$pid"; break; }
			p=${parent[$p]:-}
		done
	done
}
cleanup() {
	local rc=$? pids i
	trap - EXIT INT TERM HUP
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(in_root_pids)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086
		if [ $i -le 5 ]; then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
		sleep 1
	done
	[ -n "$(in_root_pids)" ] && log "processes still running in the root: $(in_root_pids | tr '\n' ' ')"
	umount -l "$WORK/mntns" "$NETNS" 2>/dev/null # the namespaces end with their last process
	findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	if findmnt -rn -o TARGET | grep -qF "$WORK/"; then
		log "mounts left under $WORK; not removing it"
	elif [ "${PVEFS_FRESH_KEEP:-0}" = 1 ]; then
		log "kept $WORK"
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

log "pristine copy of $base"
cp -a "$base" "$ROOT" || die "copy of the root"

# What the Debian installer leaves on a new machine, taken from the host: its apt sources
# (the same mirror, security and updates), its apt access settings (Acquire::*, e.g. a
# snapshot mirror's validity checks), name resolution and a host name.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$ROOT/etc/apt/sources.list.d/"
	rm -f "$ROOT/etc/apt/sources.list"
elif [ -f /etc/apt/sources.list ]; then
	cp /etc/apt/sources.list "$ROOT/etc/apt/sources.list"
fi
for f in /etc/apt/apt.conf.d/*; do
	grep -q '^Acquire::' "$f" 2>/dev/null && ! grep -q 'Invoke' "$f" && cp "$f" "$ROOT/etc/apt/apt.conf.d/"
done
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# and what booting it does: systemd-tmpfiles links /etc/mtab (NFS-Ganesha reads it)
ln -sfn ../proc/self/mounts "$ROOT/etc/mtab"
hostname -s >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	"$(hostname -s)" >"$ROOT/etc/hosts"

# ------------------------------------------------------------------ 2. mounts
# a real root is a mount point (tests/run.sh's `unshare --propagation private` needs one)
mount --bind "$ROOT" "$ROOT" || die "bind of the root onto itself"
mount --rbind /dev "$ROOT/dev" && mount --rbind /proc "$ROOT/proc" &&
	mount --rbind /sys "$ROOT/sys" || die "binding /dev, /proc, /sys"
# /sys/fs/cgroup came with /sys (rbind); LXC needs it
findmnt -rn "$ROOT/sys/fs/cgroup" >/dev/null || mount --rbind /sys/fs/cgroup "$ROOT/sys/fs/cgroup" ||
	die "binding the cgroup tree"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$ROOT/run" || die "tmpfs on /run"
touch "$NETNS" && unshare --net="$NETNS" true && nsenter --net="$NETNS" ip link set lo up ||
	die "network namespace"
# The mount namespace every command runs in (enter.sh), with ROOT as its real root. The
# .deb cache is bound in there, not here: with that bind in this namespace, binding the
# new namespace's file fails with EINVAL (seen on this host's kernel).
touch "$WORK/mntns" && unshare --mount="$WORK/mntns" --propagation private /bin/sh -c \
	'mount --bind "$2" "$1/var/cache/apt/archives" && cd "$1" && mkdir .fresh-oldroot &&
	pivot_root . .fresh-oldroot && umount -l /.fresh-oldroot && rmdir /.fresh-oldroot' \
	pivot "$ROOT" "$CACHE/archives" || die "mount namespace rooted at $ROOT"

# run CMD in the root as root; "net" uses the host's network, "nonet" the run's namespace
inroot() { "$HERE/enter.sh" "$WORK" "$1" "$2"; }

# ------------------------------------------------------------------ 3. the clone
head=$(git -C "$REPO" rev-parse HEAD)
git -C "$REPO" bundle create "$ROOT/root/pvefs.bundle" HEAD >/dev/null 2>&1 || die "git bundle"
inroot nonet "git -c advice.detachedHead=false clone -q /root/pvefs.bundle /root/pvefs && rm /root/pvefs.bundle" || die "git clone"
log "cloned $head ($(git -C "$REPO" log -1 --format=%s "$head" | cut -c1-60))"

# ------------------------------------------------------------------ 4. make check
log "tools/install-deps.sh (with the host's network)"
t=$SECONDS
inroot net "cd /root/pvefs && tools/install-deps.sh" || die "install-deps.sh"
t_deps=$((SECONDS - t))
log "install-deps took ${t_deps}s; the guest kernel for the QEMU tests (tests/qemu/build-guest.sh)"
inroot net "cd /root/pvefs && tests/qemu/build-guest.sh /root/pvefs/build/guest" || die "build-guest.sh"

log "make check (network namespace with lo only); output in $WORK/check.log"
t=$SECONDS
if [ "${PVEFS_FRESH_SKIP_CHECK:-0}" = 1 ]; then # to work on the make run half only
	echo "make check skipped (PVEFS_FRESH_SKIP_CHECK=1)" >"$WORK/check.log"
	check_rc=1
else
	inroot nonet "cd /root/pvefs && make check" 2>&1 | tee "$WORK/check.log"
	check_rc=${PIPESTATUS[0]}
fi
t_check=$((SECONDS - t))
# run.sh's summary; make adds its own error line after it when tests failed
check_last=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$WORK/check.log" | tail -1)
[ -n "$check_last" ] || check_last=$(grep -v '^[[:space:]]*$' "$WORK/check.log" | tail -1)
log "make check: rc=$check_rc in ${t_check}s: $check_last"

# ------------------------------------------------------------------ 5. make run + README example
example=$(awk '/<!-- .*run by tests\/fresh\/run.sh.* -->/ { on = 1; next }
	on && /^    / { print substr($0, 5); seen = 1; next }
	on && seen && !/^[[:space:]]*$/ { exit }' "$ROOT/root/pvefs/README.md")
if [ -z "$example" ]; then
	run_result="FAILED: README.md has no example block after a 'run by tests/fresh/run.sh' marker"
else
	log "make run and the README's example"
	PVEFS_FRESH_EXAMPLE=$example "$HERE/make-run.sh" "$WORK" >"$WORK/run.result"
	run_rc=$?
	run_result=$(tail -1 "$WORK/run.result")
	[ $run_rc -eq 0 ] || run_result="FAILED: $run_result"
fi

# ------------------------------------------------------------------ 6. summary
total=$((SECONDS - T0))
echo
echo "== fresh Debian $SUITE, $head"
echo "make check:  $check_last (rc=$check_rc, ${t_check}s; install-deps ${t_deps}s)"
echo "make run:    $run_result"
printf 'total:       %dm%02ds\n' $((total / 60)) $((total % 60))
[ "$check_rc" -eq 0 ] && [[ $check_last =~ ^[0-9]+\ passed,\ 0\ failed ]] && [[ $run_result != FAILED* ]]
