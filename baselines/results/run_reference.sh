#!/usr/bin/env bash
# The reference results of docs/baselines.md, on a 2-core CPU machine (no GPU).
# Heuristics and the on-policy learners (PPO, MaskablePPO) at 10,000 env steps, 3 training
# seeds, 5 evaluation episodes each (about 15 minutes on 2 cores).
#
# The off-policy learners (SAC, DSAC, EAT at the paper's batch of 512) are not in the
# committed results: on this CPU a gradient step of EAT takes 0.5-1 s and a decision about
# 16 ms (10 denoising steps at batch 1), and an EAT-Paper-v0 episode is 2,500-10,000
# decisions, so even 1,500 steps and 5 evaluation episodes took more than the session had.
# On a GPU machine:
#   eat-bench suite --algos random,greedy,sac,dsac,eat --envs EAT-Paper-v0,EAT-Edge-v0 \
#       --seeds 3 --budget 50000 --episodes 10 --workers 2 --out baselines/results/offpolicy
set -euo pipefail
cd "$(dirname "$0")/../.."
eat-bench suite --algos random,round-robin,fcfs,sjf,edf,warm-first,least-loaded,greedy,ppo,maskable-ppo \
    --envs EAT-Paper-v0,EAT-Edge-v0 --seeds 3 --budget 10000 --episodes 5 --curve-points 2 --workers 2 \
    --out baselines/results/onpolicy --quiet
