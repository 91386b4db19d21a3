"""Throughput of the multi-agent env ``edge_sites_v0`` against the single-agent env.

For S = 2, 4, 16 sites of 4 servers, both envs run the *same* cluster and workload
(``EatEdgeEnv`` is built from the parallel env's own ScenarioSpec) under a masked random
policy. Only ``step`` is timed (the policy and resets are not). The two envs are timed
in alternating short rounds so that background load hits both alike, and the script
prints ratios measured in this one run:

* ``par_step_us`` / ``single_step_us``: one parallel step (S decisions) against one
  single-agent step (1 decision); ``ratio`` is the median of the per-round ratios.
  Target: ratio <= 2 (the simulation and the shared server block are computed once per
  step, not once per agent).
* ``agent_steps_per_s``: S x parallel steps per second, against single-agent steps/s.

Usage: ``python benchmarks/marl_throughput.py [--seconds 1.5] [--sites 2 4 16]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's eat_bench, not an installed copy
from eat_bench.envs.edge_sites_v0 import EdgeSitesEnv  # noqa: E402
from eat_bench.envs.single_agent import EatEdgeEnv  # noqa: E402


def _pick(rng: np.random.Generator, flat_mask: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    out = np.empty(len(bounds), dtype=np.int64)
    for k, (a, b) in enumerate(bounds):
        valid = np.flatnonzero(flat_mask[a:b])
        out[k] = valid[rng.integers(valid.size)] if valid.size else 0
    return out


def _bounds(nvec) -> list[tuple[int, int]]:
    edges = np.cumsum((0, *nvec)).tolist()
    return list(zip(edges[:-1], edges[1:]))


class _Runner:
    """Steps an env with masked random actions for a wall-clock budget, timing only
    ``env.step`` (action picking and resets are untimed)."""

    steps = 0
    seconds = 0.0

    def run(self, budget_s: float) -> None:
        end = time.perf_counter() + budget_s
        while time.perf_counter() < end:
            self.seconds += self._timed_step()
            self.steps += 1

    def _timed_step(self) -> float:
        raise NotImplementedError


class _ParallelRunner(_Runner):
    def __init__(self, sites: int, seed: int) -> None:
        self.env = EdgeSitesEnv(num_sites=sites, servers_per_site=4)
        self.rng = np.random.default_rng(seed)
        self.bounds = _bounds(self.env.nvec)
        self.obs, self.infos = self.env.reset(seed=seed)

    def _timed_step(self) -> float:
        env = self.env
        if not env.agents:
            self.obs, self.infos = env.reset()
        masks = env.action_masks()
        actions = {a: _pick(self.rng, masks[i], self.bounds) for i, a in enumerate(env.agents)}
        t0 = time.perf_counter()
        self.obs, _, _, _, self.infos = env.step(actions)
        return time.perf_counter() - t0


class _SingleRunner(_Runner):
    def __init__(self, spec, seed: int) -> None:
        self.env = EatEdgeEnv(spec, action_mode="discrete")
        self.rng = np.random.default_rng(seed)
        self.bounds = _bounds(self.env.action_space.nvec)
        self.env.reset(seed=seed)

    def _timed_step(self) -> float:
        env = self.env
        action = _pick(self.rng, env.action_masks(), self.bounds)
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        elapsed = time.perf_counter() - t0
        if terminated or truncated:
            env.reset()
        return elapsed


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[2, 4, 16])
    parser.add_argument("--seconds", type=float, default=1.5, help="timed wall seconds per env and size")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    rows = []
    header = (
        f"{'sites':>5} {'servers':>7} {'par_step_us':>11} {'single_step_us':>14} {'ratio':>6} "
        f"{'agent_steps/s':>13} {'single_steps/s':>14} {'agent/single':>12}"
    )
    print(header)
    for sites in args.sites:
        par = _ParallelRunner(sites, seed=0)
        single = _SingleRunner(par.env.scenario, seed=0)
        chunk = args.seconds / args.rounds
        ratios = []
        for _ in range(args.rounds):  # alternate, so that background load hits both alike
            p_steps, p_seconds, s_steps, s_seconds = par.steps, par.seconds, single.steps, single.seconds
            par.run(chunk)
            single.run(chunk)
            p_us = (par.seconds - p_seconds) / max(1, par.steps - p_steps)
            s_us = (single.seconds - s_seconds) / max(1, single.steps - s_steps)
            ratios.append(p_us / s_us)
        par_us = 1e6 * par.seconds / par.steps
        single_us = 1e6 * single.seconds / single.steps
        agent_rate = sites * par.steps / par.seconds
        single_rate = single.steps / single.seconds
        row = dict(
            sites=sites,
            servers=par.env.sim.num_servers,
            par_step_us=par_us,
            single_step_us=single_us,
            ratio=float(np.median(ratios)),
            agent_steps_per_s=agent_rate,
            single_steps_per_s=single_rate,
        )
        rows.append(row)
        print(
            f"{sites:5d} {row['servers']:7d} {par_us:11.1f} {single_us:14.1f} {row['ratio']:6.2f} "
            f"{agent_rate:13.0f} {single_rate:14.0f} {agent_rate / single_rate:12.2f}"
        )
    print(
        "ratio = parallel step (S decisions) / single-agent step (1 decision) on the same cluster, median over "
        f"{args.rounds} alternating rounds; target <= 2"
    )
    return rows


if __name__ == "__main__":
    main()
