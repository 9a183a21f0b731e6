#!/usr/bin/env bash
# Run every check: installs what the tests need, then lint, types and the whole test suite.
# Extra arguments go to pytest. mypy runs (niced) beside pytest instead of before it; its report
# is printed after the tests'.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test
.venv/bin/ruff check src tests bench
types_log=$(mktemp)
nice -n 10 .venv/bin/mypy >"$types_log" 2>&1 &
types=$!
trap 'kill "$types" 2>/dev/null || true; rm -f "$types_log"' EXIT
status=0
.venv/bin/pytest "$@" || status=$?
types_status=0
wait "$types" || types_status=$?
cat "$types_log"
if [ "$types_status" -ne 0 ]; then
  echo "test.sh: mypy found errors (above)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
