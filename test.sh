#!/usr/bin/env bash
# Run every check: installs what the tests need, then lint, types and the whole test suite.
# Extra arguments go to pytest. mypy runs beside pytest (its report is printed after the tests):
# the test workers leave CPU idle while they wait on servers and browsers.
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
if wait "$types"; then
  cat "$types_log"
else
  cat "$types_log"
  echo "test.sh: mypy found errors (above)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
