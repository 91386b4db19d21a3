"""Throughput of the eat-bench environments, with random actions.

Usage::

    python benchmarks/env_throughput.py            # full run, about 1-2 minutes
    python benchmarks/env_throughput.py --quick    # under 30 s, noisier
    python benchmarks/env_throughput.py --profile  # cProfile of two step loops, then exit

What it prints (every ratio comes from figures measured in the same run):

1. Per registered id: steps/s and simulated episodes/s on ``env.unwrapped`` and through
   ``gym.make``'s wrappers (TimeLimit, OrderEnforcing, PassiveEnvChecker). Whole
   episodes, resets included (what a training loop sees).
2. Step cost as the cluster grows: EAT-Edge-v0 at 8, 64 and 512 servers, queue 10 and
   100, in microseconds per step and as a ratio to 8 servers. Load is held comparable
   (see ``SCALING`` below). ``env.unwrapped``; resets are not timed.
3. EAT-Paper-v0 (fixed 0.1 s ticks) against ``paper_reference.py``, a plain list-based
   implementation of SEED_MODEL.md, on the same pre-generated actions.
4. Event-driven against tick mode per simulated episode: EAT-Paper-v0 as registered
   against EAT-Paper-v0 with ``decision_interval_s=None``.
5. The cost of each ``info_mode`` (numeric, events, scheduler) per step on EAT-Edge-v0,
   EAT-Edge-Large-v0 and EAT-Paper-v0: what the scheduler view adds to a step.

Method: actions are sampled before any timing, 4096 of them from the action space seeded
with 0, and cycled (``action_space.sample()`` alone costs about 19 us, as much as a
step). Every repeat replays exactly the same work (same reset seeds, same actions from
the start of the pool); the best (smallest) time of the repeats is kept. The amount of
work per repeat is calibrated once from a warm-up so that one repeat lasts about
``budget`` seconds. Times come from ``time.perf_counter``. No assertions: targets are
reported as met or not.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import eat_bench  # noqa: F401  (registers the ids)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paper_reference import PaperReferenceEnv  # noqa: E402

IDS = ("EAT-Edge-v0", "EAT-Paper-v0", "EAT-Edge-Large-v0", "EAT-Edge-Burst-v0", "EAT-Edge-Shift-v0")
POOL_SIZE = 4096  # a power of two: the pool index is i & (POOL_SIZE - 1)
ACTION_SEED = 0
RESET_SEED = 1000

# Scaling: EAT-Edge-v0 resized. Arrival rate and episode length grow with the cluster so
# that the load per server stays that of EAT-Edge-v0 (1.2 requests/s on 8 servers, about
# 70% utilisation for a sensible policy) and an episode holds 25 tasks per server.
SCALING_BASE = "EAT-Edge-v0"
SCALING_SIZES = (8, 64, 512)
SCALING_QUEUES = (10, 100)
BASE_RATE_PER_SERVER = 1.2 / 8
TASKS_PER_SERVER = 25


def scaling_overrides(servers: int, queue: int) -> dict:
    return {
        "num_servers": servers,
        "degrees": (1, 2, 4),
        "arrival_rate": BASE_RATE_PER_SERVER * servers,
        "num_tasks": TASKS_PER_SERVER * servers,
        "queue_len": queue,
    }


# ---------------------------------------------------------------------- measurement
def action_pool(space: gym.Space, size: int = POOL_SIZE, seed: int = ACTION_SEED) -> list:
    space.seed(seed)
    return [space.sample() for _ in range(size)]


@dataclass
class Run:
    seconds: float  # best of the repeats
    steps: int
    episodes: int

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.seconds

    @property
    def us_per_step(self) -> float:
        return 1e6 * self.seconds / self.steps

    @property
    def steps_per_episode(self) -> float:
        return self.steps / self.episodes


def _episodes(env, actions: list, episodes: int) -> tuple[float, int]:
    """Run ``episodes`` whole episodes (reset included); (seconds, steps)."""
    mask = len(actions) - 1
    step = env.step
    reset = env.reset
    i = 0
    gc.collect()
    start = time.perf_counter()
    for e in range(episodes):
        reset(seed=RESET_SEED + e)
        while True:
            _, _, terminated, truncated, _ = step(actions[i & mask])
            i += 1
            if terminated or truncated:
                break
    return time.perf_counter() - start, i


def _steps(env, actions: list, steps: int) -> tuple[float, int, int]:
    """Run ``steps`` steps, resetting at episode ends without timing the resets;
    (seconds, steps, episodes started)."""
    mask = len(actions) - 1
    step = env.step
    i = 0
    episodes = 0
    total = 0.0
    gc.collect()
    while i < steps:
        env.reset(seed=RESET_SEED + episodes)
        episodes += 1
        start = time.perf_counter()
        while i < steps:
            _, _, terminated, truncated, _ = step(actions[i & mask])
            i += 1
            if terminated or truncated:
                break
        total += time.perf_counter() - start
    return total, i, episodes


def measure_episodes(env, actions: list, budget: float, repeats: int) -> Run:
    """Best of ``repeats`` runs of the same whole episodes, about ``budget`` s each."""
    one, _ = _episodes(env, actions, 1)  # warm-up and calibration
    episodes = max(1, min(10_000, math.ceil(budget / one)))
    best, steps = math.inf, 0
    for _ in range(repeats):
        seconds, steps = _episodes(env, actions, episodes)
        best = min(best, seconds)
    return Run(best, steps, episodes)


def measure_steps(env, actions: list, budget: float, repeats: int) -> Run:
    """Best of ``repeats`` runs of the same steps (resets untimed), about ``budget`` s each."""
    seconds, n, _ = _steps(env, actions, 500)  # warm-up and calibration
    steps = max(500, math.ceil(budget / (seconds / n)))
    best, episodes = math.inf, 0
    for _ in range(repeats):
        seconds, n, episodes = _steps(env, actions, steps)
        best = min(best, seconds)
    return Run(best, steps, episodes)


# ---------------------------------------------------------------------- output
def table(title: str, header: list[str], rows: list[list[str]], notes: list[str] = ()) -> None:
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)
    print()
    print(title)
    print(line)
    print("  ".join(h.rjust(w) if c else h.ljust(w) for c, (h, w) in enumerate(zip(header, widths))))
    print(line)
    for r in rows:
        print("  ".join(v.rjust(w) if c else v.ljust(w) for c, (v, w) in enumerate(zip(r, widths))))
    print(line)
    for note in notes:
        print(f"  {note}")


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ---------------------------------------------------------------------- sections
def per_id(budget: float, repeats: int) -> dict[str, tuple[Run, Run]]:
    results = {}
    rows = []
    for env_id in IDS:
        env = gym.make(env_id)
        actions = action_pool(env.action_space)
        raw = measure_episodes(env.unwrapped, actions, budget, repeats)
        wrapped = measure_episodes(env, actions, budget, repeats)
        env.close()
        results[env_id] = (raw, wrapped)
        spec = env.unwrapped.spec_scenario
        mode = f"tick {spec.decision_interval_s:g}s" if spec.decision_interval_s else "event"
        rows.append(
            [
                env_id,
                mode,
                fmt(raw.steps_per_episode),
                fmt(raw.steps_per_s),
                fmt(wrapped.steps_per_s),
                f"{100 * (raw.steps_per_s / wrapped.steps_per_s - 1):+.0f}%",
                fmt(raw.episodes_per_s, 2),
                fmt(wrapped.episodes_per_s, 2),
            ]
        )
    table(
        "1. Throughput per registered id (random actions; whole episodes, resets included)",
        ["id", "clock", "steps/ep", "steps/s raw", "steps/s gym.make", "wrap cost", "eps/s raw", "eps/s gym.make"],
        rows,
        [
            "raw = env.unwrapped; gym.make = TimeLimit(OrderEnforcing(PassiveEnvChecker(env))).",
            "wrap cost = how much faster raw is than gym.make (noise level is a few %).",
        ],
    )
    return results


def info_modes(budget: float, repeats: int) -> None:
    """The cost of each ``info_mode`` per step (random actions, env.unwrapped)."""
    rows = []
    for env_id in ("EAT-Edge-v0", "EAT-Edge-Large-v0", "EAT-Paper-v0"):
        costs = {}
        for mode in ("numeric", "events", "scheduler"):
            env = gym.make(env_id, info_mode=mode)
            costs[mode] = measure_steps(env.unwrapped, action_pool(env.action_space), budget, repeats).us_per_step
            env.close()
        rows.append([env_id, *(fmt(costs[m], 1) for m in costs), f"{costs['scheduler'] / costs['numeric']:.2f}x"])
    table(
        "5. Cost of the info modes (us per step, random actions, env.unwrapped)",
        ["id", "numeric", "events", "scheduler", "scheduler/numeric"],
        rows,
        ["scheduler: the plain-array view of eat_bench.envs.scheduler_view (one preview per class, site, degree)."],
    )


def load_probe(env, actions: list, steps: int) -> tuple[float, float]:
    """Untimed: mean queue length and busy-server fraction seen over ``steps`` steps of
    the same episodes the timing ran (random actions)."""
    mask = len(actions) - 1
    sim = env.sim
    queued = busy = 0.0
    i = episodes = 0
    while i < steps:
        env.reset(seed=RESET_SEED + episodes)
        episodes += 1
        while i < steps:
            _, _, terminated, truncated, _ = env.step(actions[i & mask])
            i += 1
            queued += len(sim.queue)
            busy += float(np.count_nonzero(sim.busy_until > sim.now)) / sim.num_servers
            if terminated or truncated:
                break
    return queued / i, busy / i


def scaling(budget: float, repeats: int) -> dict[tuple[int, int], Run]:
    results: dict[tuple[int, int], Run] = {}
    load = {}
    for queue in SCALING_QUEUES:
        for servers in SCALING_SIZES:
            env = gym.make(SCALING_BASE, **scaling_overrides(servers, queue)).unwrapped
            actions = action_pool(env.action_space)
            run = measure_steps(env, actions, budget, repeats)
            load[(servers, queue)] = load_probe(env, actions, run.steps)
            results[(servers, queue)] = run
            env.close()
    rows = []
    base_q10 = results[(SCALING_SIZES[0], SCALING_QUEUES[0])]
    for queue in SCALING_QUEUES:
        base = results[(SCALING_SIZES[0], queue)]
        for servers in SCALING_SIZES:
            run = results[(servers, queue)]
            queued, busy = load[(servers, queue)]
            rows.append(
                [
                    f"{servers} servers, queue {queue}",
                    fmt(BASE_RATE_PER_SERVER * servers, 1),
                    fmt(run.steps),
                    fmt(run.us_per_step, 1),
                    f"{run.us_per_step / base.us_per_step:.2f}x",
                    f"{run.us_per_step / base_q10.us_per_step:.2f}x",
                    fmt(queued, 1),
                    f"{100 * busy:.0f}%",
                ]
            )
    table(
        f"2. Step cost as the cluster grows ({SCALING_BASE}, env.unwrapped, resets untimed)",
        ["cluster", "rate/s", "steps", "us/step", "vs 8 (same q)", "vs 8, q10", "mean queued", "busy"],
        rows,
        [
            f"overrides: num_servers=N, degrees=(1, 2, 4), arrival_rate={BASE_RATE_PER_SERVER:g}*N, "
            f"num_tasks={TASKS_PER_SERVER}*N, queue_len=q.",
            "steps: timed steps per repeat (from the start of an episode, resets untimed).",
            "mean queued / busy: queue length and fraction of busy servers per step over the same steps, "
            "measured untimed (random actions overload every size alike).",
        ],
    )
    return results


def reference(budget: float, repeats: int, paper: tuple[Run, Run]) -> tuple[Run, float, float]:
    env = gym.make("EAT-Paper-v0")
    actions = action_pool(env.action_space)  # the same pool the EAT-Paper-v0 rows used
    env.close()
    ref = PaperReferenceEnv(seed=0)
    run = measure_episodes(ref, actions, budget, repeats)
    raw, wrapped = paper
    r_raw = raw.steps_per_s / run.steps_per_s
    r_wrapped = wrapped.steps_per_s / run.steps_per_s
    rows = [
        [
            "paper_reference.py (plain lists)",
            fmt(run.steps_per_episode),
            fmt(run.steps_per_s),
            fmt(run.us_per_step, 1),
            "1.00x",
        ],
        [
            "EAT-Paper-v0 env.unwrapped",
            fmt(raw.steps_per_episode),
            fmt(raw.steps_per_s),
            fmt(raw.us_per_step, 1),
            f"{r_raw:.2f}x",
        ],
        [
            "EAT-Paper-v0 gym.make",
            fmt(wrapped.steps_per_episode),
            fmt(wrapped.steps_per_s),
            fmt(wrapped.us_per_step, 1),
            f"{r_wrapped:.2f}x",
        ],
    ]
    table(
        "3. Tick mode against a plain implementation of SEED_MODEL.md (8 nodes, 0.1 s tick, 32 tasks, rate 0.15, queue 10)",
        ["simulator", "steps/ep", "steps/s", "us/step", "vs reference"],
        rows,
        ["Same 4096 pre-sampled actions; whole episodes, resets included; EAT-Paper-v0 rows are section 1's."],
    )
    return run, r_raw, r_wrapped


def event_vs_tick(budget: float, repeats: int, paper: tuple[Run, Run]) -> tuple[float, float]:
    env = gym.make("EAT-Paper-v0", decision_interval_s=None)
    actions = action_pool(env.action_space)
    raw = measure_episodes(env.unwrapped, actions, budget, repeats)
    wrapped = measure_episodes(env, actions, budget, repeats)
    env.close()
    tick_raw, tick_wrapped = paper
    r_raw = raw.episodes_per_s / tick_raw.episodes_per_s
    r_wrapped = wrapped.episodes_per_s / tick_wrapped.episodes_per_s
    rows = [
        [
            path,
            fmt(tick.steps_per_episode),
            fmt(event.steps_per_episode),
            f"{tick.steps_per_episode / event.steps_per_episode:.1f}x",
            fmt(tick.us_per_step, 1),
            fmt(event.us_per_step, 1),
            fmt(tick.episodes_per_s, 2),
            fmt(event.episodes_per_s, 1),
            f"{event.episodes_per_s / tick.episodes_per_s:.1f}x",
        ]
        for path, tick, event in (("env.unwrapped", tick_raw, raw), ("gym.make", tick_wrapped, wrapped))
    ]
    table(
        "4. Simulated episodes/s: EAT-Paper-v0 tick (as registered) vs event-driven (decision_interval_s=None)",
        [
            "path",
            "steps/ep tick",
            "steps/ep event",
            "fewer steps",
            "us/step tick",
            "us/step event",
            "eps/s tick",
            "eps/s event",
            "event/tick",
        ],
        rows,
        [
            "Tick figures are section 1's EAT-Paper-v0 rows; whole episodes, resets included (us/step too).",
            "event/tick = fewer steps x (us/step tick / us/step event).",
        ],
    )
    return r_raw, r_wrapped


# ---------------------------------------------------------------------- profile
def profile(steps: int, top: int) -> None:
    import cProfile
    import pstats

    cases = [
        ("EAT-Paper-v0 (tick), env.unwrapped", "EAT-Paper-v0", {}),
        ("EAT-Edge-v0 at 512 servers, queue 10, env.unwrapped", SCALING_BASE, scaling_overrides(512, 10)),
    ]
    for title, env_id, overrides in cases:
        env = gym.make(env_id, **overrides).unwrapped
        actions = action_pool(env.action_space)
        _steps(env, actions, 500)
        profiler = cProfile.Profile()
        profiler.enable()
        _steps(env, actions, steps)
        profiler.disable()
        print(f"\n=== cProfile: {title}, {steps} steps (resets included in the profile) ===")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


# ---------------------------------------------------------------------- main
def revision() -> str:
    """The checkout's commit (``-dirty`` when the tree has local changes), if git is there."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast, noisier run (< 30 s)")
    parser.add_argument("--budget", type=float, help="seconds per repeat (default 0.5, quick 0.08)")
    parser.add_argument("--repeats", type=int, help="repeats per figure, best kept (default 3, quick 2)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the EAT-Paper-v0 and 512-server steps, then exit"
    )
    parser.add_argument("--profile-steps", type=int, default=30_000)
    args = parser.parse_args(argv)

    if args.profile:
        profile(args.profile_steps, 25)
        return
    budget = args.budget or (0.08 if args.quick else 0.5)
    repeats = args.repeats or (2 if args.quick else 3)
    started = time.perf_counter()
    print(
        f"eat-bench {eat_bench.__version__} ({revision()}) | Python {platform.python_version()} | numpy {np.__version__} | "
        f"gymnasium {gym.__version__} | {platform.machine()} {os.cpu_count()} CPUs | "
        f"{'quick' if args.quick else 'full'} run: best of {repeats}, ~{budget:g} s per repeat, "
        f"{POOL_SIZE} pre-sampled actions (seed {ACTION_SEED})"
    )
    ids = per_id(budget, repeats)
    scale = scaling(budget, repeats)
    _, ref_raw, ref_wrapped = reference(budget, repeats, ids["EAT-Paper-v0"])
    ev_raw, ev_wrapped = event_vs_tick(budget, repeats, ids["EAT-Paper-v0"])
    info_modes(budget, repeats)

    small, big = SCALING_SIZES[0], SCALING_SIZES[-1]
    grow = [scale[(big, q)].us_per_step / scale[(small, q)].us_per_step for q in SCALING_QUEUES]
    print("\nTargets")
    for q, g in zip(SCALING_QUEUES, grow):
        print(f"  step cost at {big} servers within 8x of {small} (queue {q}): {g:.2f}x  -> {verdict(g <= 8)}")
    print(
        f"  EAT-Paper-v0 tick >= 5x the plain reference: raw {ref_raw:.2f}x, gym.make {ref_wrapped:.2f}x  -> "
        f"{verdict(min(ref_raw, ref_wrapped) >= 5)}"
    )
    print(
        f"  event-driven >= 50x tick per simulated episode: raw {ev_raw:.1f}x, gym.make {ev_wrapped:.1f}x  -> "
        f"{verdict(min(ev_raw, ev_wrapped) >= 50)}"
    )
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
