"""Suite throughput against ``--workers``: the same fixed heuristic work with 1 worker
(runs in the driver process) and with N worker processes; prints the speed-up.

Usage::

    python benchmarks/suite_scaling.py            # 1 vs 2 workers, 8 greedy runs x 4 episodes
    python benchmarks/suite_scaling.py --workers 4 --runs 16

Target (issue 9): 2 workers >= 1.7x one on 2 cores. The work is fixed: ``--runs`` greedy
runs (seeds 0..runs-1) of ``--episodes`` evaluation episodes on EAT-Edge-v0. The
N-worker time includes starting the spawned processes (each imports eat_bench), so the
ratio is what a user sees.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from eat_bench.baselines.suite import make_plan, run_suite


def timed_suite(workers: int, runs: int, episodes: int, num_tasks: int) -> float:
    """Seconds to execute the fixed plan with ``workers`` workers in a fresh folder."""
    plan = make_plan(
        ["greedy"],
        ["EAT-Edge-v0"],
        list(range(runs)),
        1,
        episodes=episodes,
        env_kwargs={"EAT-Edge-v0": {"num_tasks": num_tasks}},
    )
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        problems = run_suite(plan, out, workers=workers, progress=False)
        seconds = time.perf_counter() - started
    if problems:
        raise RuntimeError(f"suite problems: {problems}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--num-tasks", type=int, default=200)
    args = parser.parse_args()
    timed_suite(1, 1, 1, 10)  # warm the imports and caches once
    one = timed_suite(1, args.runs, args.episodes, args.num_tasks)
    many = timed_suite(args.workers, args.runs, args.episodes, args.num_tasks)
    print(f"{args.runs} greedy runs x {args.episodes} episodes ({args.num_tasks} tasks) on EAT-Edge-v0")
    print(f"1 worker: {one:.2f} s ({args.runs / one:.2f} runs/s)")
    print(f"{args.workers} workers: {many:.2f} s ({args.runs / many:.2f} runs/s)")
    print(f"speed-up: {one / many:.2f}x (target >= 1.7x for 2 workers on 2 cores)")


if __name__ == "__main__":
    main()
