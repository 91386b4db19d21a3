"""Heuristic schedulers: decisions on hand-checked states, and episode outcomes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import eat_bench  # noqa: F401
from eat_bench.baselines.heuristics import HEURISTICS, make_heuristic, run_episode


@pytest.mark.parametrize("name", sorted(HEURISTICS))
@pytest.mark.parametrize("action_mode", ["continuous", "discrete"])
def test_every_heuristic_finishes_an_episode_in_both_action_modes(name, action_mode):
    env = gym.make("EAT-Edge-v0", action_mode=action_mode, num_tasks=30)
    metrics = run_episode(env, make_heuristic(name, env), seed=1)
    assert metrics["num_tasks"] == 30
    if name != "random":
        assert metrics["dispatched"] == 30 and not metrics["truncated"]
        assert metrics["invalid_actions"] == 0


def test_heuristics_are_deterministic_given_the_seed():
    env = gym.make("EAT-Edge-v0", num_tasks=40)
    for name in ("random", "greedy"):
        agent = make_heuristic(name, env)
        first, second = run_episode(env, agent, seed=5), run_episode(env, agent, seed=5)
        assert first == second


def test_fcfs_takes_the_oldest_task_and_sjf_the_shortest():
    env = gym.make("EAT-Edge-v0", num_tasks=50, arrival_rate=5.0)
    env.reset(seed=2)
    sim = env.unwrapped.sim
    while len(sim.queue) < 3:  # let a queue build up
        sim.advance_to(sim.next_event_time())
    fcfs = make_heuristic("fcfs", env).decide()
    assert fcfs[0] == 0
    sjf = make_heuristic("sjf", env)
    slot, degree, steps = sjf.decide()
    estimates = [sim.service_estimate(task, 1, steps) for task in sim.queue[: env.unwrapped.queue_len]]
    assert estimates[slot] == min(e for e in estimates if e is not None)


def test_greedy_maximises_the_one_step_reward():
    env = gym.make("EAT-Paper-v0")
    env.reset(seed=0)
    agent = make_heuristic("greedy", env)
    sim = env.unwrapped.sim
    slot, _, steps = agent.decide()
    preset = env.unwrapped.reward_fn
    wait = env.unwrapped.visible_queue_wait()
    best = preset(sim.preview(slot, 0, steps), False, 0.0, wait)
    for s in range(len(sim.queue)):
        for level in env.unwrapped.spec_scenario.step_levels:
            record = sim.preview(s, 0, level)
            if not isinstance(record, str):
                assert preset(record, False, 0.0, wait) <= best + 1e-12


def test_informed_heuristics_beat_random_on_the_default_scenario():
    env = gym.make("EAT-Edge-v0")
    latency = {
        name: np.mean([run_episode(env, make_heuristic(name, env), seed)["mean_response_s"] for seed in range(2)])
        for name in ("random", "fcfs", "sjf", "warm-first")
    }
    assert latency["sjf"] < latency["fcfs"] < latency["random"]
    assert latency["warm-first"] < latency["fcfs"]
