#!/usr/bin/env bash
# Trains the learner rows of the paper's table: SAC, DSAC and EAT on the paper's
# 4-node, degrees {1, 2, 4} setting at arrival rate 0.05 (the rate of the authors'
# published actors), training seed 0, one torch thread. Small budgets: a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
SET=(--set num_servers=4 --set "degrees=[1,2,4]" --set arrival_rate=0.05)
for algo in sac dsac eat; do
  out=runs/paper-table-train/$algo
  [ -f "$out/model.zip" ] && continue
  extra=(--hp batch_size=64 --hp learning_starts=500); steps=2000
  [ "$algo" = sac ] && { extra=(--hp batch_size=256); steps=5000; }
  eat-bench train --algo "$algo" --env EAT-Paper-v0 --steps "$steps" --seed 0 --out "$out" "${SET[@]}" \
      --no-progress --no-tensorboard --eval-every 0 "${extra[@]}"
done
