"""The frozen evaluation sets: which scenarios, with which seeds, a result is made of.

A set is versioned: any change (a scenario, a seed, an episode count) makes a new version,
and results compare only within one version (:func:`eat_bench.leaderboard.verify.verify`
rejects a result of another). Per track:

- ``single-agent``: the public ids ``EAT-Edge-v0``, ``EAT-Paper-v0``,
  ``EAT-Edge-Burst-v0`` and ``EAT-Edge-Large-v0``, and the held-out scenarios that no
  shipped baseline was trained or tuned on: ``EAT-Edge-Shift-v0`` (another cluster of 3
  sites, an SDXL-heavy mix, tighter SLOs) and ``heldout-edge-surge-v0`` (EAT-Edge-v0's
  layout, other GPU kinds drawn from the trace, a flash-crowd and a shifted diurnal
  stream).
- ``multi-agent``: ``edge_sites_v0`` with 4 sites of 4 servers, and 2 sites of 4.

Every scenario has 20 episodes with seeds ``LEADERBOARD_SEED_BASE + i``: disjoint from the
training seeds of every shipped baseline (small integers) and from the suite's evaluation
seeds (``EVAL_SEED_BASE + i``, used while developing baselines).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from eat_bench.scenarios import ScenarioSpec, get_scenario
from eat_bench.scenarios.spec import ClusterSpec, SiteSpec, WorkloadSpec
from eat_bench.sim.workload import BurstyArrivals, DiurnalArrivals, StreamSpec

__all__ = [
    "LEADERBOARD_SEED_BASE",
    "EPISODES",
    "QUICK_EPISODES",
    "EvalScenario",
    "EvaluationSet",
    "EVALUATION_SETS",
    "HELD_OUT_SURGE",
    "get_evaluation_set",
]

LEADERBOARD_SEED_BASE = 2_000_000
"""Leaderboard episode i of every scenario uses seed ``LEADERBOARD_SEED_BASE + i``."""
EPISODES = 20
"""Episodes per scenario in an official evaluation."""
QUICK_EPISODES = 2
"""Episodes per scenario of ``--quick`` (unofficial) runs."""


def _surge() -> ScenarioSpec:
    edge = get_scenario("EAT-Edge-v0")
    classes = edge.workload.classes
    return replace(
        edge,
        id="heldout-edge-surge-v0",
        description=(
            "Held out: EAT-Edge-v0's layout (2 sites of 4 servers, the same request kinds) with another mix of "
            "GPU kinds (H100, RTX 4090, A100, RTX 3090, T4), a flash-crowd stream at site a and a diurnal stream peaking "
            "late at site b; 250 tasks."
        ),
        cluster=ClusterSpec(
            sites=(
                SiteSpec("edge-a", ("H100", "RTX4090", "T4", "T4")),
                SiteSpec("edge-b", ("A100", "RTX3090", "RTX3090", "T4")),
            ),
            link_latency_s=0.03,
            link_bandwidth_mbps=50.0,
        ),
        workload=WorkloadSpec(
            classes=classes,
            streams=(
                StreamSpec(
                    site=0, arrivals=BurstyArrivals(0.3, burst_factor=8.0, calm_s=90.0, burst_s=8.0), classes=(0, 1, 2)
                ),
                StreamSpec(
                    site=1,
                    arrivals=DiurnalArrivals(0.3, amplitude=0.9, period_s=400.0, peak_s=250.0),
                    classes=(0, 1, 2),
                ),
            ),
            num_tasks=250,
        ),
        max_episode_steps=5000,
        held_out=True,
        history=("v0: first release, in leaderboard evaluation set single-agent 2026.12",),
    )


HELD_OUT_SURGE = _surge()
"""The held-out scenario defined by the evaluation set itself (not a registered id)."""


@dataclass(frozen=True)
class EvalScenario:
    """One scenario of an evaluation set: ``key`` names it in results and logs and is the
    ``env_id`` the submission's factory receives."""

    key: str
    seeds: tuple[int, ...]
    held_out: bool = False
    spec: ScenarioSpec | None = None  # single-agent: None means the registered id ``key``
    multi_agent_kwargs: dict[str, Any] = field(default_factory=dict)  # multi-agent: parallel_env keywords

    def scenario_spec(self) -> ScenarioSpec | None:
        """The single-agent scenario (None for the multi-agent track)."""
        if self.multi_agent_kwargs:
            return None
        return self.spec if self.spec is not None else get_scenario(self.key)

    def make_env(self, env_kwargs: dict[str, Any]) -> Any:
        """A fresh env of this scenario (gymnasium for single-agent, PettingZoo parallel
        for multi-agent) built with the submission's modes."""
        if self.multi_agent_kwargs:
            from eat_bench.envs import edge_sites_v0

            return edge_sites_v0.parallel_env(**self.multi_agent_kwargs, **env_kwargs)
        from eat_bench.baselines.evaluation import make_eval_env

        return make_eval_env(self.spec if self.spec is not None else self.key, env_kwargs)

    def with_episodes(self, episodes: int) -> EvalScenario:
        return replace(self, seeds=self.seeds[:episodes])


@dataclass(frozen=True)
class EvaluationSet:
    """A versioned list of scenarios for one track."""

    track: str
    version: str
    scenarios: tuple[EvalScenario, ...]

    def scenario(self, key: str) -> EvalScenario:
        for scenario in self.scenarios:
            if scenario.key == key:
                return scenario
        raise KeyError(f"evaluation set {self.track} {self.version} has no scenario {key!r}")

    def quick(self) -> EvaluationSet:
        """The same scenarios with :data:`QUICK_EPISODES` episodes each (unofficial)."""
        return replace(self, scenarios=tuple(s.with_episodes(QUICK_EPISODES) for s in self.scenarios))

    def episodes(self) -> list[tuple[str, int]]:
        """Every (scenario key, seed) pair, in evaluation order."""
        return [(s.key, seed) for s in self.scenarios for seed in s.seeds]


def _seeds(n: int = EPISODES) -> tuple[int, ...]:
    return tuple(LEADERBOARD_SEED_BASE + i for i in range(n))


SINGLE_AGENT = EvaluationSet(
    track="single-agent",
    version="2026.12",
    scenarios=(
        EvalScenario("EAT-Edge-v0", _seeds()),
        EvalScenario("EAT-Paper-v0", _seeds()),
        EvalScenario("EAT-Edge-Burst-v0", _seeds()),
        EvalScenario("EAT-Edge-Large-v0", _seeds()),
        EvalScenario("EAT-Edge-Shift-v0", _seeds(), held_out=True),
        EvalScenario(HELD_OUT_SURGE.id, _seeds(), held_out=True, spec=HELD_OUT_SURGE),
    ),
)

MULTI_AGENT = EvaluationSet(
    track="multi-agent",
    version="2026.12",
    scenarios=(
        EvalScenario("edge_sites_v0-4x4", _seeds(), multi_agent_kwargs={"num_sites": 4, "servers_per_site": 4}),
        EvalScenario("edge_sites_v0-2x4", _seeds(), multi_agent_kwargs={"num_sites": 2, "servers_per_site": 4}),
    ),
)

EVALUATION_SETS: dict[str, EvaluationSet] = {s.track: s for s in (SINGLE_AGENT, MULTI_AGENT)}
"""The current evaluation set of each track."""


def get_evaluation_set(track: str) -> EvaluationSet:
    """The current set of ``track`` (``single-agent`` or ``multi-agent``)."""
    try:
        return EVALUATION_SETS[track]
    except KeyError:
        raise ValueError(f"unknown track {track!r}; tracks: {', '.join(EVALUATION_SETS)}") from None
