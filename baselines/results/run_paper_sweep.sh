#!/usr/bin/env bash
# The EAT paper's evaluation sweep (its Table: 4 nodes, degrees {1, 2, 4}, arrival rates
# 0.01 to 0.11) for the heuristics, on EAT-Paper-v0 as shipped (see issue 12 for the
# remaining differences from the paper's own simulator). 3 seeds x 10 evaluation episodes.
set -euo pipefail
cd "$(dirname "$0")/../.."
for rate in 0.01 0.03 0.05 0.07 0.09 0.11; do
    eat-bench suite --algos random,round-robin,fcfs,sjf,warm-first,greedy --envs EAT-Paper-v0 --seeds 3 \
        --episodes 10 --set num_servers=4 --set "degrees=[1,2,4]" --set arrival_rate=$rate --workers 2 \
        --no-figures --quiet --out baselines/results/paper_sweep/rate_$rate
done
python - <<'PY'
import csv, pathlib
root = pathlib.Path("baselines/results/paper_sweep")
rows = []
for folder in sorted(root.glob("rate_*")):
    rate = folder.name.split("_")[1]
    with open(folder / "results.csv") as f:
        for row in csv.DictReader(f):
            rows.append((rate, row))
keys = list(rows[0][1]) if rows else []
print("keys:", keys)
PY
