"""The effect of the two bugs of the EAT paper's code that ``EAT-Paper-v0`` does not copy.

Runs ``paper_reference.py`` twice on each of the same workloads (drawn by
``EAT-Paper-v0``'s own generator from the evaluation seeds and injected), once as the
env behaves and once with ``quirks=True`` (a node freed one tick late at a float residue;
groups launched in one tick with equal durations merged), under two policies: the
paper's greedy as it behaves (maximum steps, newest fitting task) and uniformly random
actions (one seeded stream per episode, the same in both runs). Prints, per
configuration, the share of episodes whose schedules differ (any task's start, nodes,
cold start or duration) and the change in mean response time, with a 95% interval.

    python benchmarks/paper_quirks.py [--episodes 100]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paper_reference import PaperReferenceEnv  # noqa: E402

import eat_bench  # noqa: E402, F401
from eat_bench.baselines.evaluation import eval_seeds  # noqa: E402

CONFIGS = (
    ("8 nodes, k in {1,2,4,8}, rate 0.15", {}, 0.15),
    ("4 nodes, k in {1,2,4}, rate 0.01", {"num_servers": 4, "degrees": (1, 2, 4)}, 0.01),
    ("4 nodes, k in {1,2,4}, rate 0.05", {"num_servers": 4, "degrees": (1, 2, 4)}, 0.05),
    ("4 nodes, k in {1,2,4}, rate 0.11", {"num_servers": 4, "degrees": (1, 2, 4)}, 0.11),
)


def workload(env: gym.Env, seed: int) -> tuple[list[int], list[int]]:
    """The env's episode of ``seed``: each later arrival's tick, every task's degree."""
    sim = env.unwrapped.sim
    env.reset(seed=seed)
    raw = sim.requests.arrival_s[sim.config.initial_queue :]
    return np.rint(raw / 0.1).astype(int).tolist(), sim.requests.degree.tolist()


def paper_greedy(ref: PaperReferenceEnv) -> np.ndarray:
    """The paper's greedy as it behaves: a[1] = 1 (32 steps), the best score with the
    duration taken as 0 among the tasks that fit the idle nodes; waits when none fits."""
    action = np.full(2 + ref.queue_len, -1.0, dtype=np.float32)
    idle = sum(node["available"] for node in ref.nodes)
    wait = ref.mean_wait()
    best, best_score = None, -math.inf
    for slot, task in enumerate(ref.queue[: ref.queue_len]):
        if task["k"] <= idle:
            denominator = wait + ref.now - task["arrival"]
            score = 10.0 if denominator <= 0 else min(10.0, 250.0 / denominator)
            if score > best_score:
                best, best_score = slot, score
    if best is not None:
        action[0], action[1], action[2 + best] = 1.0, 1.0, 1.0
    return action


def play(ref: PaperReferenceEnv, work, policy: str, seed: int) -> list[tuple]:
    ref.reset(seed=0, options={"workload": work})
    rng = np.random.default_rng(seed)
    while True:
        if policy == "greedy":
            action = paper_greedy(ref)
        else:
            action = rng.uniform(-1, 1, 2 + ref.queue_len).astype(np.float32)
        _, _, terminated, truncated, _ = ref.step(action)
        if terminated or truncated:
            return ref.finished


def schedule(finished: list[dict]) -> list[tuple]:
    return [(t["id"], round(t["start"], 6), t["nodes"], t["cold"], round(t["service"], 6)) for t in finished]


def mean_response(finished: list[dict]) -> float:
    return float(np.mean([t["finish"] - t["arrival"] for t in finished])) if finished else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args(argv)
    from scipy import stats

    print(f"{args.episodes} episodes per configuration (evaluation seeds)")
    for title, kwargs, rate in CONFIGS:
        env = gym.make("EAT-Paper-v0", arrival_rate=rate, **kwargs)
        num_nodes, degrees = env.unwrapped.sim.num_servers, env.unwrapped.spec_scenario.degrees
        fixed = PaperReferenceEnv(num_nodes=num_nodes, degrees=degrees)
        for policy, quirks in (
            ("greedy", {"late-free"}),
            ("greedy", {"merge-groups"}),
            ("greedy", True),
            ("random", True),
        ):
            buggy = PaperReferenceEnv(num_nodes=num_nodes, degrees=degrees, quirks=quirks)
            differ, deltas = 0, []
            for seed in eval_seeds(args.episodes):
                work = workload(env, seed)
                a = play(fixed, work, policy, seed)
                a_schedule, a_response = schedule(a), mean_response(a)
                b = play(buggy, work, policy, seed)
                differ += schedule(b) != a_schedule
                deltas.append(mean_response(b) - a_response)
            mean = float(np.mean(deltas))
            half = float(stats.t.ppf(0.975, len(deltas) - 1) * np.std(deltas, ddof=1) / math.sqrt(len(deltas)))
            bugs = "both bugs" if quirks is True else ", ".join(sorted(quirks))
            print(
                f"{title}, {policy:>6}, {bugs}: schedules differ in {differ}/{args.episodes} episodes; "
                f"mean response {mean:+.2f} ± {half:.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
