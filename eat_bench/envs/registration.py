"""Registers every scenario id with gymnasium (``gym.make("EAT-Edge-v0")``)."""

from __future__ import annotations

import gymnasium

from eat_bench.scenarios import SCENARIOS

ENTRY_POINT = "eat_bench.envs.single_agent:EatEdgeEnv"


def register_envs() -> None:
    """Register each scenario id once (idempotent: re-imports change nothing)."""
    for scenario_id, spec in SCENARIOS.items():
        if scenario_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=scenario_id,
            entry_point=ENTRY_POINT,
            kwargs={"scenario": scenario_id},
            max_episode_steps=spec.max_episode_steps,
        )
