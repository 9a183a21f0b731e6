#!/usr/bin/env bash
# Run every check: installs what the tests need, then lint, types and the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test
.venv/bin/ruff check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
