#!/usr/bin/env bash
# Refreshes the docs' screenshots (docs/screenshots/*.png): runs the browser tests that take one
# (marked `screenshot`) with DIKTE_SCREENSHOTS pointing there. The test suite itself writes its
# screenshots into its temporary folder, never into the tracked docs. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
DIKTE_SCREENSHOTS="$PWD/docs/screenshots" exec .venv/bin/pytest -m screenshot tests/e2e "$@"
