"""Throughput of the agents: heuristics, EAT inference, and EAT / DSAC / SAC training.

Usage::

    python benchmarks/agent_throughput.py            # about 3-5 minutes on one busy core
    python benchmarks/agent_throughput.py --quick    # about a minute, noisier

What it prints (every ratio comes from figures measured in the same run; torch on 1 thread):

1. Decisions/s of each heuristic of ``eat_bench.baselines.heuristics.HEURISTICS`` acting in
   ``EAT-Paper-v0`` and ``EAT-Edge-v0`` (``agent.act`` + ``env.step``, resets included).
2. EAT inference on ``EAT-Paper-v0``: decisions/s of ``model.predict`` at batch 1 and of one
   batched deterministic forward at batch 256 (a fresh, untrained policy: the cost does
   not depend on the weights).
3. Training env-steps/s on ``EAT-Paper-v0`` at the paper's hyper-parameters (batch 512,
   3-step returns, one gradient step per env step): EAT (dict observations), DSAC and
   plain SAC with the same critics (flat observations), after a warm-up that fills the
   buffer past ``learning_starts``; and the EAT/SAC and DSAC/SAC per-step cost ratios.
   Target: EAT at most 4x plain SAC.

Method: ``time.perf_counter``; the best of ``--repeats`` repeats for sections 1 and 2; one
timed run per learner for section 3 (training changes the state, so repeats are not the
same work). No assertions: the target is reported as met or not.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

import eat_bench  # noqa: F401  (registers the ids)
from eat_bench.baselines.eat import make_dsac_sac, make_eat_sac, make_mlp_sac
from eat_bench.baselines.heuristics import HEURISTICS, make_heuristic

TARGET_RATIO = 4.0
RESET_SEED = 1000


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    """The smallest of ``repeats`` timings (seconds) returned by ``fn``."""
    return min(fn() for _ in range(repeats))


def heuristic_rate(env_id: str, name: str, decisions: int, repeats: int) -> float:
    """Decisions/s of heuristic ``name`` acting in ``env_id`` (act + step, resets included)."""
    env = gym.make(env_id)
    agent = make_heuristic(name, env)

    def run() -> float:
        obs, info = env.reset(seed=RESET_SEED)
        agent.reset(RESET_SEED)
        start = time.perf_counter()
        for _ in range(decisions):
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
            if terminated or truncated:
                obs, info = env.reset()
        return time.perf_counter() - start

    run()  # warm-up
    return decisions / best_of(repeats, run)


def inference_rates(decisions: int, batch: int, repeats: int) -> tuple[float, float]:
    """EAT decisions/s at batch 1 (``model.predict``) and at ``batch`` (one forward)."""
    env = gym.make("EAT-Paper-v0", obs_mode="dict")
    model = make_eat_sac(env, seed=0, buffer_size=1_000)
    obs_pool = []
    obs, _ = env.reset(seed=RESET_SEED)
    env.action_space.seed(0)
    while len(obs_pool) < max(batch, 64):
        obs_pool.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    stacked = {k: np.stack([o[k] for o in obs_pool[:batch]]) for k in obs_pool[0]}

    def single() -> float:
        start = time.perf_counter()
        for i in range(decisions):
            model.predict(obs_pool[i % 64], deterministic=True)
        return time.perf_counter() - start

    def batched() -> float:
        start = time.perf_counter()
        model.predict(stacked, deterministic=True)
        return time.perf_counter() - start

    single(), batched()
    return decisions / best_of(repeats, single), batch / best_of(repeats, batched)


def training_rate(make: Callable, obs_mode: str, warmup: int, steps: int) -> float:
    """Env-steps/s of ``steps`` training steps (one gradient step each, batch 512) after
    ``warmup`` steps (the first ``warmup - 64`` are SAC's random-action ``learning_starts``)."""
    env = gym.make("EAT-Paper-v0", obs_mode=obs_mode)
    model = make(env, seed=0, buffer_size=max(10_000, 2 * (warmup + steps)), learning_starts=warmup - 64)
    model.learn(warmup)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer decisions and training steps (noisier)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    decisions = 500 if args.quick else 2_000
    train_steps = 8 if args.quick else 30
    print(f"eat-bench agent throughput: python {platform.python_version()}, torch {torch.__version__}, 1 thread")

    print("\n1. Heuristics: decisions/s acting in the env (act + step)")
    print(f"   {'heuristic':<14}{'EAT-Paper-v0':>14}{'EAT-Edge-v0':>14}")
    for name in HEURISTICS:
        paper = heuristic_rate("EAT-Paper-v0", name, decisions, args.repeats)
        edge = heuristic_rate("EAT-Edge-v0", name, decisions, args.repeats)
        print(f"   {name:<14}{paper:>14,.0f}{edge:>14,.0f}")

    print("\n2. EAT inference (EAT-Paper-v0, deterministic)")
    one, many = inference_rates(decisions // 4, 256, args.repeats)
    print(
        f"   batch 1 (model.predict): {one:,.0f} decisions/s;  batch 256: {many:,.0f} decisions/s ({many / one:.1f}x)"
    )

    print(f"\n3. Training on EAT-Paper-v0 at the paper's hyper-parameters (batch 512), {train_steps} steps each")
    rates = {}
    for label, make, obs_mode in (
        ("sac", make_mlp_sac, "flat"),
        ("dsac", make_dsac_sac, "flat"),
        ("eat", make_eat_sac, "dict"),
    ):
        rates[label] = training_rate(make, obs_mode, warmup=600, steps=train_steps)
        print(f"   {label:<5} {rates[label]:8.2f} env-steps/s  ({1e3 / rates[label]:7.1f} ms per step)")
    eat_ratio = rates["sac"] / rates["eat"]
    print(f"   per-step cost: DSAC/SAC {rates['sac'] / rates['dsac']:.2f}x, EAT/SAC {eat_ratio:.2f}x")
    verdict = "met" if eat_ratio <= TARGET_RATIO else "MISSED"
    print(f"   target EAT/SAC <= {TARGET_RATIO:g}x: {verdict}")


if __name__ == "__main__":
    main()
