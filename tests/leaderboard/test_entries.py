"""The shipped baselines' factories as they run in the sandbox: they see only the spaces,
the env id, the observation and the info, and act as the in-process baselines do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eat_bench.baselines.agents import make_agent
from eat_bench.baselines.heuristics import HEURISTICS, FCFSAgent
from eat_bench.leaderboard.entries import heuristic_agent, local_env, mask_from_view, model_agent, multi_agent
from eat_bench.leaderboard.evalset import MULTI_AGENT, SINGLE_AGENT

REPO = Path(__file__).resolve().parents[2]
SUBMISSIONS = REPO / "leaderboard" / "submissions"
VIEW = {"obs_mode": "flat", "action_mode": "discrete", "info_mode": "scheduler"}
SEED = SINGLE_AGENT.scenarios[0].seeds[0]


@pytest.mark.parametrize("scenario", SINGLE_AGENT.scenarios, ids=[s.key for s in SINGLE_AGENT.scenarios])
def test_mask_from_view_equals_action_masks(scenario):
    """The mask computed from the scheduler view equals the env's own action_masks() at
    every step of a random rollout (half uniform actions, half valid dispatches)."""
    env = scenario.make_env(VIEW)
    rng = np.random.default_rng(0)
    try:
        base = env.unwrapped
        nvec = np.asarray(base.action_space.nvec)
        agent_degree = base.spec_scenario.degree_mode == "agent"
        env.action_space.seed(1)
        _, info = env.reset(seed=scenario.seeds[0])
        dispatches = 0
        for step in range(150):
            expected = np.asarray(base.action_masks(), dtype=bool)
            got = mask_from_view(info, nvec, agent_degree)
            assert got.dtype == bool and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected, err_msg=f"{scenario.key} step {step}")
            slots = np.flatnonzero(expected[1 : nvec[0]]) + 1
            if rng.random() < 0.5 or not len(slots):
                action = env.action_space.sample()
            else:
                degrees = np.flatnonzero(expected[nvec[0] : nvec[0] + nvec[1]])
                action = np.array([rng.choice(slots), rng.choice(degrees), rng.integers(nvec[2])], dtype=np.int64)
                dispatches += 1
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        assert dispatches >= 3
    finally:
        env.close()


@pytest.mark.parametrize("name", sorted(HEURISTICS))
@pytest.mark.parametrize("key", ["EAT-Edge-v0", "heldout-edge-surge-v0"])
def test_heuristic_agent_acts_as_in_process(name, key):
    """heuristic_agent (scheduler view only, a local env for static facts) picks the same
    action as the registered heuristic in-process, and as the heuristic reading the
    simulator itself, at every step of an episode."""
    scenario = SINGLE_AGENT.scenario(key)
    env = scenario.make_env(VIEW)
    try:
        in_process = make_agent(name, env)
        from_sim = HEURISTICS[name](env, source="sim") if name != "random" else None
        sandboxed = heuristic_agent(name, env.observation_space, env.action_space, key)
        if name != "random":  # a view-only heuristic bound to its own local env
            assert sandboxed.source == "info" and sandboxed.env is not env.unwrapped
        for agent in (in_process, from_sim, sandboxed):
            if agent is not None:
                agent.reset(SEED)
        observation, info = env.reset(seed=SEED)
        steps, done = 0, False
        while not done and steps < 400:
            action = np.asarray(in_process.act(observation, info))
            np.testing.assert_array_equal(np.asarray(sandboxed.act(observation, info)), action, err_msg=f"step {steps}")
            if from_sim is not None:
                np.testing.assert_array_equal(
                    np.asarray(from_sim.act(observation, info)), action, err_msg=f"step {steps}"
                )
            observation, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            steps += 1
        assert steps > 50
    finally:
        env.close()


def test_local_env_matches_the_modes():
    """local_env builds the evaluation set's scenario (also a held-out spec) in the modes
    the spaces imply."""
    scenario = SINGLE_AGENT.scenario("heldout-edge-surge-v0")
    env = scenario.make_env({"obs_mode": "dict", "action_mode": "continuous", "info_mode": "numeric"})
    local = local_env(scenario.key, env.observation_space, env.action_space)
    try:
        assert local.observation_space == env.observation_space
        assert local.action_space == env.action_space
        assert local.unwrapped.spec_scenario.id == "heldout-edge-surge-v0"
        assert local.unwrapped.info_mode == "scheduler"
    finally:
        env.close()
        local.close()


@pytest.mark.parametrize("name", ["random", "local-first"])
@pytest.mark.parametrize("scenario", MULTI_AGENT.scenarios, ids=[s.key for s in MULTI_AGENT.scenarios])
def test_multi_agent_builds_and_acts(scenario, name):
    """multi_agent builds each multi-agent baseline from the spaces alone and returns a
    valid action for every live site over a few steps."""
    env = scenario.make_env({"obs_mode": "flat"})
    try:
        agents = list(env.possible_agents)
        agent = multi_agent(
            name, {a: env.observation_space(a) for a in agents}, {a: env.action_space(a) for a in agents}, scenario.key
        )
        agent.reset(scenario.seeds[0])
        observations, infos = env.reset(seed=scenario.seeds[0])
        for _ in range(20):
            if not env.agents:
                break
            actions = agent.act(observations, infos)
            assert set(actions) == set(env.agents)
            for site, action in actions.items():
                assert env.action_space(site).contains(np.asarray(action, dtype=np.int64))
            observations, _, _, _, infos = env.step(actions)
    finally:
        env.close()


PPO = SUBMISSIONS / "ppo" / "models"
MASKABLE = SUBMISSIONS / "maskable-ppo" / "models"


def _rollout(env, agent, steps: int = 40) -> tuple[list, list]:
    observations, infos = [], []
    observation, info = env.reset(seed=SEED)
    for _ in range(steps):
        observations.append(observation)
        infos.append(info)
        observation, _, terminated, truncated, info = env.step(agent.act(observation, info))
        if terminated or truncated:
            break
    return observations, infos


@pytest.mark.parametrize("models", [PPO, MASKABLE], ids=["ppo", "maskable-ppo"])
def test_model_agent(models):
    """model_agent loads <env id>.zip for EAT-Edge-v0 (a model, not the fallback), falls
    back to fcfs on EAT-Edge-Shift-v0 (no model fits its layout), and its act_batch gives
    the same actions as act one observation at a time."""
    if not (models / "EAT-Edge-v0.zip").is_file():
        pytest.skip(f"no {models / 'EAT-Edge-v0.zip'}")
    pytest.importorskip("stable_baselines3")
    env = SINGLE_AGENT.scenario("EAT-Edge-v0").make_env(VIEW)
    shift = SINGLE_AGENT.scenario("EAT-Edge-Shift-v0").make_env(VIEW)
    try:
        agent = model_agent(models, env.observation_space, env.action_space, "EAT-Edge-v0")
        assert not isinstance(agent, FCFSAgent)
        assert callable(getattr(agent, "act_batch", None))
        fallback = model_agent(models, shift.observation_space, shift.action_space, "EAT-Edge-Shift-v0")
        assert isinstance(fallback, FCFSAgent) and fallback.source == "info"
        agent.reset(SEED)
        observations, infos = _rollout(env, agent)
        assert len(observations) > 10
        one_by_one = [np.asarray(agent.act(o, i)) for o, i in zip(observations, infos)]
        batched = [np.asarray(a) for a in agent.act_batch(observations, infos)]
        assert len(batched) == len(one_by_one)
        for step, (a, b) in enumerate(zip(batched, one_by_one)):
            np.testing.assert_array_equal(a, b, err_msg=f"step {step}")
            assert env.action_space.contains(a.astype(np.int64))
    finally:
        env.close()
        shift.close()
