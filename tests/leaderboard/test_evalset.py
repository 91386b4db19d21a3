"""The frozen evaluation sets: versions, scenarios, seeds, the held-out surge scenario."""

from __future__ import annotations

import dataclasses

import pytest

from eat_bench.baselines.evaluation import EVAL_SEED_BASE
from eat_bench.leaderboard.evalset import (
    EPISODES,
    EVALUATION_SETS,
    HELD_OUT_SURGE,
    LEADERBOARD_SEED_BASE,
    MULTI_AGENT,
    QUICK_EPISODES,
    SINGLE_AGENT,
    get_evaluation_set,
)
from eat_bench.scenarios import get_scenario

MODES = ("obs_mode", "action_mode", "info_mode")


def same_scenario(spec, built) -> bool:
    """Whether an env's spec is ``spec`` up to the modes the env was made with."""
    modes = {m: getattr(built, m) for m in MODES if hasattr(built, m)}
    return dataclasses.replace(spec, **modes) == built


SETS = (SINGLE_AGENT, MULTI_AGENT)
ALL_SCENARIOS = [(s, sc) for s in SETS for sc in s.scenarios]
IDS = [f"{s.track}:{sc.key}" for s, sc in ALL_SCENARIOS]


def test_versions_and_tracks():
    """One current set per track, versioned; unknown tracks raise naming the tracks."""
    assert set(EVALUATION_SETS) == {"single-agent", "multi-agent"}
    assert get_evaluation_set("single-agent") is SINGLE_AGENT
    assert get_evaluation_set("multi-agent") is MULTI_AGENT
    assert (SINGLE_AGENT.track, SINGLE_AGENT.version) == ("single-agent", "2026.12")
    assert (MULTI_AGENT.track, MULTI_AGENT.version) == ("multi-agent", "2026.12")
    with pytest.raises(ValueError, match="unknown track 'solo'.*single-agent"):
        get_evaluation_set("solo")


def test_single_agent_scenarios():
    """The public ids plus the two held-out scenarios, in this order."""
    keys = [s.key for s in SINGLE_AGENT.scenarios]
    assert keys == [
        "EAT-Edge-v0",
        "EAT-Paper-v0",
        "EAT-Edge-Burst-v0",
        "EAT-Edge-Large-v0",
        "EAT-Edge-Shift-v0",
        "heldout-edge-surge-v0",
    ]
    held = {s.key for s in SINGLE_AGENT.scenarios if s.held_out}
    assert held == {"EAT-Edge-Shift-v0", "heldout-edge-surge-v0"}
    assert get_scenario("EAT-Edge-Shift-v0").held_out
    assert SINGLE_AGENT.scenario("heldout-edge-surge-v0").spec is HELD_OUT_SURGE
    assert HELD_OUT_SURGE.held_out and HELD_OUT_SURGE.id == "heldout-edge-surge-v0"
    with pytest.raises(KeyError, match="no scenario 'EAT-Nope-v0'"):
        SINGLE_AGENT.scenario("EAT-Nope-v0")


def test_multi_agent_scenarios():
    """edge_sites_v0 with 4 sites of 4 servers and 2 sites of 4."""
    assert {s.key: s.multi_agent_kwargs for s in MULTI_AGENT.scenarios} == {
        "edge_sites_v0-4x4": {"num_sites": 4, "servers_per_site": 4},
        "edge_sites_v0-2x4": {"num_sites": 2, "servers_per_site": 4},
    }
    assert all(s.scenario_spec() is None for s in MULTI_AGENT.scenarios)


@pytest.mark.parametrize(("evaluation_set", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_seeds(evaluation_set, scenario):
    """>= 20 episodes, seeds LEADERBOARD_SEED_BASE + i, disjoint from training seeds and
    from the suite's evaluation seeds."""
    assert EPISODES >= 20
    assert len(scenario.seeds) == EPISODES
    assert scenario.seeds == tuple(LEADERBOARD_SEED_BASE + i for i in range(EPISODES))
    seeds = set(scenario.seeds)
    assert len(seeds) == len(scenario.seeds)
    assert all(seed >= 1_000_000 for seed in seeds)  # training seeds are below
    assert not seeds & set(range(EVAL_SEED_BASE, EVAL_SEED_BASE + 10_000))
    assert not seeds & set(range(1_000_000))


def test_quick_keeps_scenarios_with_two_seeds():
    """quick(): same track, version and scenarios; the first 2 seeds of each."""
    for evaluation_set in SETS:
        quick = evaluation_set.quick()
        assert (quick.track, quick.version) == (evaluation_set.track, evaluation_set.version)
        assert [s.key for s in quick.scenarios] == [s.key for s in evaluation_set.scenarios]
        assert QUICK_EPISODES == 2
        for full, short in zip(evaluation_set.scenarios, quick.scenarios):
            assert short.seeds == full.seeds[:2]
            assert (short.held_out, short.spec, short.multi_agent_kwargs) == (
                full.held_out,
                full.spec,
                full.multi_agent_kwargs,
            )
    assert len(SINGLE_AGENT.quick().episodes()) == 12
    assert SINGLE_AGENT.quick().episodes()[:3] == [
        ("EAT-Edge-v0", LEADERBOARD_SEED_BASE),
        ("EAT-Edge-v0", LEADERBOARD_SEED_BASE + 1),
        ("EAT-Paper-v0", LEADERBOARD_SEED_BASE),
    ]
    assert len(SINGLE_AGENT.episodes()) == 6 * EPISODES


@pytest.mark.parametrize(
    "modes",
    [
        {"obs_mode": "flat", "action_mode": "discrete", "info_mode": "scheduler"},
        {"obs_mode": "dict", "action_mode": "continuous", "info_mode": "numeric"},
    ],
    ids=["flat-discrete", "dict-continuous"],
)
def test_surge_has_edge_layout(modes):
    """The held-out surge scenario has EAT-Edge-v0's observation and action spaces (a
    policy of EAT-Edge-v0 runs on it), but is another scenario."""
    edge = SINGLE_AGENT.scenario("EAT-Edge-v0").make_env(modes)
    surge = SINGLE_AGENT.scenario("heldout-edge-surge-v0").make_env(modes)
    try:
        assert surge.observation_space == edge.observation_space
        assert surge.action_space == edge.action_space
        assert same_scenario(HELD_OUT_SURGE, surge.unwrapped.spec_scenario)
        assert HELD_OUT_SURGE != get_scenario("EAT-Edge-v0")
        assert HELD_OUT_SURGE.workload.num_tasks == 250
        assert surge._max_episode_steps == HELD_OUT_SURGE.max_episode_steps == 5000  # the TimeLimit of the spec
    finally:
        edge.close()
        surge.close()


@pytest.mark.parametrize(("evaluation_set", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_every_env_builds(evaluation_set, scenario):
    """Each scenario's env builds with a submission's modes and resets on its first seed."""
    if scenario.multi_agent_kwargs:
        env = scenario.make_env({"obs_mode": "flat"})
        try:
            observations, _ = env.reset(seed=scenario.seeds[0])
            assert len(env.possible_agents) == scenario.multi_agent_kwargs["num_sites"]
            assert set(observations) == set(env.agents)
        finally:
            env.close()
        return
    env = scenario.make_env({"obs_mode": "flat", "action_mode": "discrete", "info_mode": "scheduler"})
    try:
        observation, info = env.reset(seed=scenario.seeds[0])
        assert env.observation_space.contains(observation)
        assert "scheduler_view_version" in info
        assert env.unwrapped.spec_scenario.id == scenario.key
        assert same_scenario(scenario.scenario_spec(), env.unwrapped.spec_scenario)
    finally:
        env.close()
