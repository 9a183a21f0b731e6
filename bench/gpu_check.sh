#!/usr/bin/env bash
# The GPU check for a machine with an NVIDIA GPU: starts Dikte, connects a GPU runtime, runs
# nvidia-smi and a torch CUDA matmul in a cell, and checks that two runtimes get different GPUs
# (or that the second waits in line on a one-GPU machine). Prints what it sees; exit 0 = all held.
# Record its output in docs/gpu.md.   Usage: bash bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    bash scripts/setup.sh
fi
echo "== host"
nvidia-smi -L || echo "nvidia-smi is not available on the host"
exec .venv/bin/python bench/gpu_check.py
