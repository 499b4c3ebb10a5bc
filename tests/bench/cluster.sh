#!/bin/bash
# pvefs cluster benchmarks (run from tests/bench/run.sh after the single-node ones, or alone;
# as root). Starts a real 3-node cluster (tests/cluster/clusterlib.py: one network namespace,
# corosync and cluster-mode pvefsd per node) and measures replicated write latency and
# throughput, a new node's sync of 10,000 objects and how fast a node's death shows, against
# baselines measured in the same run (a --local pvefsd, a bare corosync CPG round trip from
# tests/bench/cpglat.c). Like run.sh: a missed aim prints MISSED and the exit status is still 0;
# non-zero only when the benchmark could not run. Takes about 2-3 minutes.
#
# Knobs (environment): see tests/bench/cluster_bench.py (CB_ROUNDS, CB_ITERS, CB_TPUT_SECS,
# CB_TPUT_ROUNDS, CB_OBJECTS, CB_KILLS, CB_BUDGET); PVEFSD=path uses that daemon binary
# instead of building build/pvefsd.
set -u

# A private mount namespace, as in run.sh: the FUSE mounts and corosync's bind-mounted /run
# cannot leak into namespaces created meanwhile, and leftovers vanish with the namespace.
if [ -z "${PVCLUSTER_PRIVATE_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "cluster bench: must run as root (namespaces, mounts)" >&2; exit 1; }
    exec env PVCLUSTER_PRIVATE_NS=1 unshare --mount --propagation private "$0" "$@"
fi

cd "$(dirname "$0")/../.." || exit 1
export LC_ALL=C
PY=/usr/bin/python3

die() { printf 'cluster bench: %s\n' "$*" >&2; exit 1; }

for tool in corosync nsenter ip gcc; do
    command -v "$tool" >/dev/null || die "$tool not found (make deps installs what is needed)"
done
[ -x "$PY" ] || die "$PY not found"

if [ -z "${PVEFSD:-}" ]; then
    if ! make --no-print-directory build/pvefsd >&2; then
        [ -x build/pvefsd ] || die "cannot build build/pvefsd"
        echo "cluster bench: WARNING: 'make build/pvefsd' failed; benchmarking the existing build/pvefsd" \
            "($(date -r build/pvefsd '+%F %T'))" >&2
    fi
    export PVEFSD=$PWD/build/pvefsd
fi
mkdir -p build/bench
gcc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -o build/bench/cpglat tests/bench/cpglat.c -lcpg ||
    die "cannot build build/bench/cpglat (libcpg-dev missing?)"
export CPGLAT=$PWD/build/bench/cpglat

echo
echo "== cluster benchmarks"
exec "$PY" tests/bench/cluster_bench.py
