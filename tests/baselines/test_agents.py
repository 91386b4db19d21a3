"""The agent registry: names, needs, bad input, and the multi-agent policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import eat_bench  # noqa: F401
from eat_bench.baselines.agents import (
    AGENTS,
    MULTI_AGENTS,
    Agent,
    AgentSpec,
    MultiAgent,
    SharedPolicyAgent,
    agent_env_kwargs,
    make_agent,
    make_multi_agent,
    register_agent,
)
from eat_bench.baselines.heuristics import HEURISTICS
from eat_bench.envs import edge_sites_v0


def test_every_heuristic_is_registered_and_is_an_agent():
    assert list(AGENTS) == list(HEURISTICS)
    env = gym.make("EAT-Edge-v0", num_tasks=5, info_mode="scheduler")
    for name, spec in AGENTS.items():
        assert spec.kind == "heuristic" and spec.description
        assert isinstance(make_agent(name, env), Agent)
    assert agent_env_kwargs("greedy") == {"info_mode": "scheduler"}
    assert agent_env_kwargs("random") == {}


def test_unknown_names_list_the_valid_ones_and_missing_paths_say_so(tmp_path):
    env = gym.make("EAT-Edge-v0", num_tasks=5)
    with pytest.raises(ValueError, match=r"unknown agent 'oracle'; heuristics: random, fcfs, sjf"):
        make_agent("oracle", env)
    missing = str(tmp_path / "model.zip")
    with pytest.raises(ValueError, match="does not exist"):
        make_agent(missing, env)
    with pytest.raises(ValueError, match="does not exist"):
        agent_env_kwargs(missing)


def test_a_saved_models_env_kwargs_come_from_its_train_json(tmp_path):
    (tmp_path / "model.zip").write_bytes(b"")
    (tmp_path / "train.json").write_text('{"obs_mode": "dict", "action_mode": "discrete", "steps": 10}')
    kwargs = agent_env_kwargs(str(tmp_path / "model.zip"))
    assert kwargs == {"obs_mode": "dict", "action_mode": "discrete"} or "obs_mode" in kwargs


def test_register_agent_refuses_a_taken_name():
    with pytest.raises(ValueError, match="already registered"):
        register_agent(AgentSpec("greedy", lambda env: None, "another greedy"))


def _play(env, agent, seed):
    agent.reset(seed)
    observations, infos = env.reset(seed=seed)
    while env.agents:
        observations, _, _, _, infos = env.step(agent.act(observations, infos))
    return env.episode_metrics()


def test_multi_agent_policies_finish_episodes_and_match_marl_ppo_local_first():
    from eat_bench.baselines.marl_ppo import local_first_action

    env = edge_sites_v0.parallel_env(num_sites=2, servers_per_site=2, tasks_per_site=15, max_cycles=400)
    for name in MULTI_AGENTS:
        agent = make_multi_agent(name, env)
        assert isinstance(agent, MultiAgent)
        assert _play(env, agent, 0).num_tasks == 30
    local = _play(env, make_multi_agent("local-first", env), 1)
    # The same decisions through the shared-policy adapter and marl_ppo's function.
    steps_index = min(range(len(env.step_levels)), key=lambda i: abs(env.step_levels[i] - 30))
    shared = SharedPolicyAgent(lambda o, m: np.stack([local_first_action(r, env.nvec, steps_index) for r in m]))
    assert _play(env, shared, 1) == local
    with pytest.raises(ValueError, match="choose from random, local-first"):
        make_multi_agent("nope", env)
