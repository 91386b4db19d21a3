#!/usr/bin/env bash
# The reference results of docs/baselines.md ("Reference results"), on a 2-core CPU
# machine with no GPU (about 80 minutes with 2 workers).
#
# Every shipped heuristic and PPO, MaskablePPO, SAC, DSAC and EAT, on
#   - EAT-Paper-v0 in the paper's table setting (4 nodes, degrees {1, 2, 4}) at arrival
#     rate 0.05, the rate of the authors' published actors: these models are also the
#     learner rows of the paper's sweep (baselines/results/paper_table/, rates 0.01-0.11);
#   - EAT-Edge-v0 as registered.
# 3 training seeds, 20,000 env steps per learner, 10 evaluation episodes per run (seeds
# 1_000_000 + 10_000 * seed + i, disjoint from training).
#
# The CPU budget of the off-policy learners: SAC, DSAC and EAT keep the paper's
# hyper-parameters (eat.yml, dsac.yml, sac.yml: lr 3e-4, tau 0.005, gamma 0.95, alpha
# 0.05, 3-step returns, weight decay 0.005) except batch 128 instead of 512 and one
# gradient step every 4 env steps instead of every step: 4,750 gradient steps per run.
# On one core of this machine an EAT gradient step costs 0.34 s at batch 512 and 0.12 s
# at 128, so the paper's settings at 20,000 steps would take about 2 hours per EAT run.
# On a GPU machine drop the four --hp lines and raise --budget.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
eat-bench suite \
    --algos random,round-robin,fcfs,sjf,edf,warm-first,least-loaded,greedy,paper-greedy,ppo,maskable-ppo,sac,dsac,eat \
    --envs EAT-Paper-v0,EAT-Edge-v0 --seeds 3 --budget 20000 --episodes 10 --curve-points 2 --workers 2 \
    --set EAT-Paper-v0:num_servers=4 --set 'EAT-Paper-v0:degrees=[1,2,4]' --set EAT-Paper-v0:arrival_rate=0.05 \
    --hp sac:batch_size=128 --hp sac:train_freq=4 \
    --hp dsac:batch_size=128 --hp dsac:train_freq=4 \
    --hp eat:batch_size=128 --hp eat:train_freq=4 \
    --out baselines/results/reference --quiet "$@"
