#!/usr/bin/env bash
# Trains the shipped learner entries of the leaderboard (one model per public scenario
# layout: EAT-Edge-v0, EAT-Edge-Large-v0, EAT-Paper-v0), training seed 0, on CPU with one
# torch thread. Budgets are small because this machine has 2 CPU cores and no GPU; each
# entry's submission.toml states its budget, and the board shows it.
#   bash leaderboard/train_learners.sh            # about 40 minutes on a busy 2-core machine
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
train() {  # algo env steps [--hp ...]
  local algo=$1 env=$2 steps=$3; shift 3
  local out=leaderboard/submissions/$algo/models
  local tmp=runs/leaderboard-train/$algo/$env
  mkdir -p "$out"
  [ -f "$out/$env.zip" ] && { echo "have $out/$env.zip"; return; }
  eat-bench train --algo "$algo" --env "$env" --steps "$steps" --seed 0 --out "$tmp" \
      --no-progress --no-tensorboard --eval-every 0 "$@"
  cp "$tmp/model.zip" "$out/$env.zip.tmp" && mv "$out/$env.zip.tmp" "$out/$env.zip"
  cp "$tmp/train.json" "$out/$env.train.json"
}
ENVS="EAT-Edge-v0 EAT-Edge-Large-v0 EAT-Paper-v0"
for env in $ENVS; do train ppo "$env" 30000; done
for env in $ENVS; do train maskable-ppo "$env" 30000; done
for env in $ENVS; do train dsac "$env" 2000 --hp batch_size=64 --hp learning_starts=500; done
for env in $ENVS; do train eat "$env" 2000 --hp batch_size=64 --hp learning_starts=500; done
train sac EAT-Edge-v0 10000
for env in EAT-Edge-Large-v0 EAT-Paper-v0; do train sac "$env" 5000 --hp batch_size=256; done
