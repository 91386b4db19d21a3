"""Scenarios: frozen, versioned specs of a cluster, a workload and the decision interface.

A scenario id (``EAT-Edge-v0``) names one :class:`ScenarioSpec`. A change of meaning
bumps the version; old ids stay. ``spec.with_overrides(reward="latency", ...)`` returns a
validated copy (the keyword overrides of ``gym.make``), and ``spec.sim_config()``
resolves traces and quality models into what the simulator runs.

- :mod:`eat_bench.scenarios.spec`: the dataclasses and their validation.
- :mod:`eat_bench.scenarios.catalogue`: every registered id (add a scenario there).
- :mod:`eat_bench.scenarios.multi_site`: the multi-site scenarios of ``edge_sites_v0``.
"""

from eat_bench.scenarios.catalogue import EDGE_CLASSES, SCENARIOS, get_scenario
from eat_bench.scenarios.spec import (
    ACTION_MODES,
    DEGREE_MODES,
    OBS_MODES,
    OVERRIDES,
    ClusterSpec,
    PaperRules,
    ScenarioSpec,
    SiteSpec,
    WorkloadSpec,
)

__all__ = [
    "SiteSpec",
    "ClusterSpec",
    "WorkloadSpec",
    "ScenarioSpec",
    "PaperRules",
    "SCENARIOS",
    "EDGE_CLASSES",
    "get_scenario",
    "ACTION_MODES",
    "OBS_MODES",
    "DEGREE_MODES",
    "OVERRIDES",
]
