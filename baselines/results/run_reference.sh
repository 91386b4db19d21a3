#!/usr/bin/env bash
# The reference results of docs/baselines.md, on a 2-core CPU machine (no GPU).
# On-policy learners and heuristics at 20,000 env steps, 3 training seeds, 5 evaluation
# episodes each; the off-policy learners (SAC, DSAC, EAT at the paper's batch of 512) cost
# about 0.1-0.5 s per gradient step on this CPU, so they get 2,000 steps and 2 seeds.
set -euo pipefail
cd "$(dirname "$0")/../.."
eat-bench suite --algos random,round-robin,fcfs,sjf,edf,warm-first,least-loaded,greedy,ppo,a2c,maskable-ppo \
    --envs EAT-Paper-v0,EAT-Edge-v0 --seeds 3 --budget 20000 --episodes 5 --curve-points 4 --workers 2 \
    --out baselines/results/onpolicy --quiet
eat-bench suite --algos random,greedy,sac,dsac,eat --envs EAT-Paper-v0,EAT-Edge-v0 --seeds 2 --budget 2000 \
    --episodes 5 --curve-points 2 --workers 2 --out baselines/results/offpolicy --quiet
