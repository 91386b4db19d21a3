"""Cost of the leaderboard's process boundary per decision.

Usage::

    python benchmarks/sandbox_overhead.py            # about half a minute
    python benchmarks/sandbox_overhead.py --quick    # a few seconds, noisier

What it prints (the ratio comes from figures measured in the same run): decisions/s of the
``fcfs`` heuristic acting from ``info_mode="scheduler"`` on ``EAT-Edge-v0``, (1) in process
(``agent.act`` + ``env.step``) and (2) through :class:`SandboxedAgent` (the same heuristic
as the submission ``tests/leaderboard/fixtures/good/fcfs``, observation and info sent as
raw numpy buffers over pipes, the action validated on return), and the ratio of the
per-decision costs. Target: at most 3x. The isolation that ran is printed too.

Method: ``time.perf_counter``; the best of ``--repeats`` repeats of the same seeded
decisions, after a warm-up. No assertions: the target is reported as met or not.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym

import eat_bench  # noqa: F401  (registers the ids)
from eat_bench.baselines.agents import make_agent
from eat_bench.leaderboard.sandbox import Limits, SandboxedAgent

TARGET_RATIO = 3.0
ENV_ID = "EAT-Edge-v0"
RESET_SEED = 1000
SUBMISSION = Path(__file__).resolve().parents[1] / "tests" / "leaderboard" / "fixtures" / "good" / "fcfs"


def rate(env: gym.Env, act: Callable, reset: Callable, decisions: int, repeats: int) -> float:
    """Decisions/s of ``act`` driving ``env`` (act + step, resets included), best of repeats."""

    def run() -> float:
        obs, info = env.reset(seed=RESET_SEED)
        reset(RESET_SEED)
        start = time.perf_counter()
        for _ in range(decisions):
            obs, _, terminated, truncated, info = env.step(act(obs, info))
            if terminated or truncated:
                obs, info = env.reset()
                reset(None)
        return time.perf_counter() - start

    run()  # warm-up
    return decisions / min(run() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer decisions (noisier)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "unshare", "none"])
    args = parser.parse_args()
    decisions = 300 if args.quick else 2_000
    print(f"eat-bench sandbox overhead: python {platform.python_version()}, {ENV_ID}, fcfs, {decisions} decisions")

    env = gym.make(ENV_ID, info_mode="scheduler")
    agent = make_agent("fcfs", env)
    inproc = rate(env, agent.act, agent.reset, decisions, args.repeats)

    with SandboxedAgent(
        SUBMISSION,
        "agent:make_agent",
        env.observation_space,
        env.action_space,
        ENV_ID,
        limits=Limits(),
        isolation=args.isolation,
    ) as sandboxed:
        boxed = rate(env, sandboxed.act, sandboxed.reset, decisions, args.repeats)
        iso = sandboxed.isolation

    ratio = inproc / boxed
    print(f"   isolation: {iso.kind} (uid {iso.uid}, network isolated: {iso.network_isolated})")
    print(f"   {'in process':<22}{inproc:>10.0f} decisions/s  ({1e6 / inproc:.0f} us/decision)")
    print(f"   {'SandboxedAgent':<22}{boxed:>10.0f} decisions/s  ({1e6 / boxed:.0f} us/decision)")
    print(
        f"   ratio (sandboxed cost / in-process cost): {ratio:.2f}x  target <= {TARGET_RATIO:.0f}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
