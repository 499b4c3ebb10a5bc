#!/bin/bash
# Runs every test: the C unit tests (ASan+UBSan build) and the pytest system
# tests against a real mount, all inside a private mount namespace so that no
# mount leaks out. The last line is "N passed, N failed, N skipped".
set -u
if [ -z "${PVEFS_TEST_NS:-}" ]; then
	exec env PVEFS_TEST_NS=1 unshare --mount --propagation private "$0" "$@"
fi
cd "$(dirname "$0")/.."
export PVEFSD="${PVEFSD:-$PWD/build/asan/pvefsd}"
# Leaks are reported at exit; a daemon stopped by SIGTERM must still exit 0.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=99:abort_on_error=0}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p build/test-results

passed=0 failed=0 skipped=0

echo "== unit tests ($PWD/build/asan/unit)"
build/asan/unit | tee build/test-results/unit.txt
line=$(grep -E '^unit: [0-9]+ passed, [0-9]+ failed$' build/test-results/unit.txt | tail -1)
if [ -n "$line" ]; then
	passed=$((passed + $(echo "$line" | awk '{print $2}')))
	failed=$((failed + $(echo "$line" | awk '{print $4}')))
else
	echo "unit tests did not finish (crash?)"
	failed=$((failed + 1))
fi

echo "== system tests (pytest, daemon $PVEFSD)"
PY=/usr/bin/python3
"$PY" -m pytest -q -rs -p no:cacheprovider --junitxml=build/test-results/system.xml tests/system tests/cluster "$@"
rc=$?
if [ -f build/test-results/system.xml ] && [ $rc -ne 5 ]; then
	read -r p f s < <("$PY" - build/test-results/system.xml <<'PYEOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PYEOF
)
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1)) # pytest itself failed
else
	echo "system tests did not run (pytest rc=$rc)"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
