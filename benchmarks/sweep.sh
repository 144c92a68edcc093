#!/usr/bin/env bash
# Time-to-solve sweep over batched settings, one run after another (2 cores fit one run).
#   bash benchmarks/sweep.sh NAME "FLAGS" [NAME "FLAGS" ...]
# Each run: python benchmarks/time_to_solve.py --max-minutes $MAX_MINUTES, stopped once solved;
# results land in docs/results/sweep/NAME.json and the metrics CSV beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_MINUTES=${MAX_MINUTES:-40}
MAX_STEPS=${MAX_STEPS:-2000000}
mkdir -p docs/results/sweep
while [ $# -ge 2 ]; do
  name=$1 flags=$2; shift 2
  rm -rf "runs/sweep/$name"
  # shellcheck disable=SC2086
  python benchmarks/time_to_solve.py --run-dir "runs/sweep/$name" --max-minutes "$MAX_MINUTES" \
    --out "docs/results/sweep/$name.json" -- --max-steps "$MAX_STEPS" $flags
  cp "runs/sweep/$name/metrics.csv" "docs/results/sweep/$name-metrics.csv"
done
