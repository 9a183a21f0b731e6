#!/usr/bin/env bash
# Run Dikte: installs what it needs, builds the runtime image most people want (colab; skipped
# when built and up to date), then `dikte serve` on the embedded defaults (SQLite, local sandboxed
# runtimes, drives on local disk). Extra arguments go to `dikte serve`.
# DIKTE_RUN_IMAGE=minimal builds the small image instead; DIKTE_RUN_IMAGE=none builds none.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh

# the image goes where `dikte serve` will look: the same --config and --data-dir
where=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --config|--data-dir) where+=("${args[$i]}" "${args[$((i + 1))]:-}"); i=$((i + 1)) ;;
    --config=*|--data-dir=*) where+=("${args[$i]}") ;;
  esac
done
image=${DIKTE_RUN_IMAGE:-colab}
if [ "$image" != none ]; then
  echo "run.sh: runtime image $image (the first build downloads and installs its packages;" \
       "see README.md for how long it takes)" >&2
  .venv/bin/dikte image build "$image" ${where[@]+"${where[@]}"} \
    || echo "run.sh: building the image $image failed (above); the server starts anyway" >&2
fi
exec .venv/bin/dikte serve "$@"
