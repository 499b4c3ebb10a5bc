#!/bin/bash
# tests/fresh/make-run.sh WORK: the `make run` half of tests/fresh/run.sh, in the root it
# prepared in WORK (entered with enter.sh, in the run's network namespace).
# Starts `make run`, runs the README's example ($PVEFS_FRESH_EXAMPLE, one shell script),
# checks that every guest the example starts ("echo start > DIR/ctl") reaches running,
# stops those guests, stops make run's pvefsd by its PID with SIGTERM, and checks that
# make run ended with 0 and /pve is unmounted. Progress goes to stderr; the last line on
# stdout is the result. Exits non-zero on any failure.
set -uo pipefail
WORK=${1:?usage: make-run.sh WORK}
EXAMPLE=${PVEFS_FRESH_EXAMPLE:?the README example}
MNT=/pve
HERE=$(cd "$(dirname "$0")" && pwd)
say() { echo "[make run] $*" >&2; }
inroot() { "$HERE/enter.sh" "$WORK" nonet "$*"; }
# on failure, what pvefsd said (its output and cluster/errors) goes to stderr first
fail() {
	{
		echo "---- make run output (last 25 lines) ----"
		tail -25 "$WORK/make-run.log"
		echo "---- $MNT/cluster/errors (last 10) ----"
		inroot "tail -10 $MNT/cluster/errors" 2>&1
	} | cut -c1-300 | sed 's/^/[make run] /' >&2
	echo "$*"
	exit 1
}
mounted() { inroot "findmnt -rn $MNT >/dev/null"; }
# poll SECONDS CMD...: until CMD succeeds, twice a second
poll() {
	local n=$(($1 * 2))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.5
		n=$((n - 1))
	done
	return 1
}
alive() { [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# the descendant of PID top whose command name is COMM (ppid chains from /proc/*/stat)
find_child() {
	local top=$1 comm=$2 p pid ppid name
	local -a cand=()
	declare -A parent=()
	for p in /proc/[0-9]*/stat; do
		read -r pid name _ ppid _ 2>/dev/null <"$p" || continue
		parent[$pid]=$ppid
		[ "$name" = "($comm)" ] && cand+=("$pid")
	done
	for pid in "${cand[@]}"; do
		p=$pid
		while [ -n "${parent[$p]:-}" ] && [ "$p" != 1 ] && [ "$p" != 0 ]; do
			[ "${parent[$p]}" = "$top" ] && { echo "$pid"; return 0; }
			p=${parent[$p]}
		done
	done
	return 1
}

# make run runs in the foreground until SIGTERM; it is started here the way a user types it
inroot 'cd /root/pvefs && exec make run' >"$WORK/make-run.log" 2>&1 &
make_pid=$!
say "make run: pid $make_pid, output in $WORK/make-run.log"
stop_all() {
	local p
	p=$(find_child "$make_pid" pvefsd) && kill -TERM "$p" 2>/dev/null
	alive "$make_pid" && kill -TERM "$make_pid" 2>/dev/null
}
trap 'stop_all' EXIT

# pvefs-defaults (started by make run) defines storage local once the mount is quorate
poll 180 inroot "grep -qs '^path:' $MNT/storage/local/config" ||
	fail "no storage local on $MNT after 180 s"
pvefsd=$(find_child "$make_pid" pvefsd) || fail "make run has no pvefsd child"
say "pvefsd: pid $pvefsd; $MNT has storage local; running the README example:"
echo "$EXAMPLE" | sed 's/^/    /' >&2

out=$(inroot "set -e; $EXAMPLE" 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "the example failed (rc=$rc): $(echo "$out" | tail -3 | tr '\n' ' ')"

guests=$(echo "$EXAMPLE" | sed -n 's/^echo start > *\([^ ]*\)\/ctl *$/\1/p')
[ -n "$guests" ] || fail "the example starts no guest (no 'echo start > DIR/ctl')"
state_is() { [ "$(inroot "cat $1/state" 2>/dev/null)" = "$2" ]; }
states=""
for g in $guests; do
	poll 60 state_is "$g" running || fail "$g/state is '$(inroot "cat $g/state" 2>&1)', not running"
	say "$g: running ($(inroot "grep -E '^(state|pid|ips?):' $g/status" | tr '\n' ' '))"
	states="$states $g running;"
done
for g in $guests; do
	inroot "echo stop > $g/ctl" || fail "echo stop > $g/ctl failed"
	poll 60 state_is "$g" stopped || fail "$g/state is '$(inroot "cat $g/state" 2>&1)' after stop"
done

kill -TERM "$pvefsd"
poll 30 eval '! alive $pvefsd' || fail "pvefsd (pid $pvefsd) still runs 30 s after SIGTERM"
poll 10 eval '! alive $make_pid' || fail "make run (pid $make_pid) still runs after pvefsd ended"
wait "$make_pid"
make_rc=$?
trap - EXIT
! mounted || fail "$MNT is still mounted after pvefsd ended"
[ $make_rc -eq 0 ] || fail "make run exited $make_rc after pvefsd's SIGTERM (a clean stop is 0)"
echo "example ok:$states stopped again; pvefsd (pid $pvefsd) ended on SIGTERM, make run rc=$make_rc, $MNT unmounted"
