#!/usr/bin/env bash
# Evaluates every shipped baseline through the same sandboxed protocol as a stranger's
# submission, verifies each result by replay, and publishes the board:
#   python leaderboard/make_submissions.py && bash leaderboard/evaluate_all.sh
# Results: leaderboard/results/<name>/ (results.json + logs/); board: leaderboard/LEADERBOARD.md,
# leaderboard/site/, leaderboard/multi-agent/. Already evaluated names are kept (delete a
# results folder to evaluate it again).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p leaderboard/results
for sub in leaderboard/submissions/*/; do
  name=$(basename "$sub")
  out=leaderboard/results/$name
  if [ -f "$out/results.json" ]; then echo "have $out"; continue; fi
  start=$(date +%s)
  eat-bench evaluate "$sub" --out "$out" --quiet || echo "$name: evaluation failed (recorded in $out/results.json)"
  echo "$name: $(( $(date +%s) - start )) s"
done
# the board replays every result (eat-bench verify) before it scores it
eat-bench board --results leaderboard/results --out leaderboard --workers 2
