#!/usr/bin/env bash
# Run Dikte: installs what it needs, then `dikte serve` on the embedded defaults
# (SQLite, local sandboxed runtimes, drives on local disk). Extra arguments go to `dikte serve`.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/dikte serve "$@"
