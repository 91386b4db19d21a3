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


# ---------------------------------------------------------------------- hand-built situations
SD15_512, SD15_768, SDXL = 0, 1, 2  # EAT-Edge-v0's request classes (SLO 5, 10, 20 s)


def hand_built_env(batches, **overrides) -> gym.Env:
    """EAT-Edge-v0's cluster (site 0: 4090, 4090, 3090, 3090; site 1: A100, A100, T4, T4)
    with the given requests ``(time, class, site)``; ties keep the listed order."""
    from dataclasses import replace

    from eat_bench.envs.single_agent import EatEdgeEnv
    from eat_bench.scenarios import get_scenario
    from eat_bench.sim.workload import FixedArrivals, StreamSpec

    edge = get_scenario("EAT-Edge-v0")
    streams = tuple(StreamSpec(site=s, arrivals=FixedArrivals((t,)), classes=(c,)) for t, c, s in batches)
    workload = replace(edge.workload, streams=streams, num_tasks=len(batches))
    spec = replace(edge, workload=workload)
    overrides.setdefault("action_mode", "discrete")
    return gym.wrappers.TimeLimit(EatEdgeEnv(spec, info_mode="scheduler", **overrides), 1000)


def decision(env, agent, info):
    return env.unwrapped.decoder.decode(agent.act(None, info))


def play(env, agent, info, dispatches: int):
    """Let ``agent`` make ``dispatches`` decisions; returns the last info."""
    for _ in range(dispatches):
        _, _, _, _, info = env.step(agent.act(None, info))
    return info


SOURCES = ["info", "sim"]


@pytest.mark.parametrize("source", SOURCES)
def test_fcfs_edf_and_sjf_on_a_known_queue(source):
    # Queue at t=0: SDXL 1024² (deadline 20 s), SD1.5 768² (10 s), SD1.5 512² (5 s).
    env = hand_built_env([(0.0, SDXL, 0), (0.0, SD15_768, 0), (0.0, SD15_512, 0)])
    _, info = env.reset(seed=0)
    assert info["queue_length"] == 3
    assert decision(env, make_heuristic("fcfs", env, source), info) == (0, 1, 30)
    assert decision(env, make_heuristic("edf", env, source), info) == (2, 1, 30)
    assert decision(env, make_heuristic("sjf", env, source), info) == (2, 1, 30)  # the smallest image
    assert decision(env, make_heuristic("least-loaded", env, source), info) == (0, 1, 30)  # one site is as idle


@pytest.mark.parametrize("source", SOURCES)
def test_warm_first_prefers_the_task_with_an_idle_warm_group(source):
    # An SDXL task runs and finishes (its servers stay warm for SDXL); at t=200 an SD1.5
    # and an SDXL task arrive: warm-first takes the SDXL one (slot 1), fcfs slot 0.
    env = hand_built_env([(0.0, SDXL, 0), (200.0, SD15_512, 0), (200.0, SDXL, 0)])
    _, info = env.reset(seed=0)
    info = play(env, make_heuristic("fcfs", env), info, 1)
    assert info["time_s"] == 200.0 and info["queue_length"] == 2
    warm = info["options"][:, 0, 2]  # (slot, degree 1, "warm")
    assert warm[:2].tolist() == [0.0, 1.0]
    assert decision(env, make_heuristic("warm-first", env, source), info) == (1, 1, 30)
    assert decision(env, make_heuristic("fcfs", env, source), info) == (0, 1, 30)


@pytest.mark.parametrize("source", SOURCES)
def test_least_loaded_steers_to_the_site_with_most_free_servers(source):
    # Three SD1.5 tasks of site 0 occupy three of its four servers; then a site-0 and a
    # site-1 task arrive: the site-1 one lands on site 1 (4 free), so least-loaded takes it.
    batches = [(0.0, SD15_512, 0)] * 3 + [(0.001, SD15_512, 0), (0.001, SD15_512, 1)]
    env = hand_built_env(batches, degrees=(1,))
    _, info = env.reset(seed=0)
    info = play(env, make_heuristic("fcfs", env), info, 3)
    assert info["free_per_site"].tolist() == [1, 4] and info["queue_length"] == 2
    assert decision(env, make_heuristic("least-loaded", env, source), info) == (1, 1, 30)
    assert decision(env, make_heuristic("fcfs", env, source), info) == (0, 1, 30)


@pytest.mark.parametrize("source", SOURCES)
def test_round_robin_cycles_through_the_queue_slots(source):
    # Four tasks at t=0, eight free servers: slots 0, 1, then wrap to 0, 0: tasks 0, 2, 1, 3.
    env = hand_built_env([(0.0, SD15_512, 0)] * 4, degrees=(1,))
    agent = make_heuristic("round-robin", env, source)
    agent.reset(0)
    _, info = env.reset(seed=0)
    slots = []
    for _ in range(4):
        action = agent.act(None, info)  # act once: the cursor moves at each decision
        slots.append(env.unwrapped.decoder.decode(action)[0])
        _, _, _, _, info = env.step(action)
    assert slots == [0, 1, 0, 0]
    assert [r.task_id for r in env.unwrapped.sim.records] == [0, 2, 1, 3]


@pytest.mark.parametrize("source", SOURCES)
def test_greedy_picks_the_step_level_its_reward_prefers(source):
    env_latency = hand_built_env([(0.0, SD15_512, 0), (0.0, SDXL, 1)], reward="latency")
    _, info = env_latency.reset(seed=0)
    assert decision(env_latency, make_heuristic("greedy", env_latency, source), info)[2] == 10  # fewest steps
    env_quality = hand_built_env([(0.0, SD15_512, 0), (0.0, SDXL, 1)], reward="quality")
    _, info = env_quality.reset(seed=0)
    # Quality saturates at 30 steps (the published model): more steps only add latency.
    assert decision(env_quality, make_heuristic("greedy", env_quality, source), info)[2] == 30


# ---------------------------------------------------------------------- view == simulator
@pytest.mark.parametrize("name", [n for n in HEURISTICS if n != "random"])
@pytest.mark.parametrize("env_id, kwargs", [("EAT-Edge-v0", {"num_tasks": 60}), ("EAT-Paper-v0", {})])
def test_the_scheduler_view_and_the_simulator_give_the_same_actions(name, env_id, kwargs):
    env = gym.make(env_id, info_mode="scheduler", **kwargs)
    from_info, from_sim = make_heuristic(name, env, "info"), make_heuristic(name, env, "sim")
    from_info.reset(3)
    from_sim.reset(3)
    obs, info = env.reset(seed=3)
    steps = 0
    while True:
        action = from_info.act(obs, info)
        np.testing.assert_array_equal(action, from_sim.act(obs, {}))
        obs, _, terminated, truncated, info = env.step(action)
        steps += 1
        if terminated or truncated:
            break
    assert env.unwrapped.episode_metrics().dispatched == env.unwrapped.spec_scenario.workload.num_tasks
    assert steps >= env.unwrapped.spec_scenario.workload.num_tasks


def test_info_only_heuristics_refuse_an_env_without_the_view():
    env = gym.make("EAT-Edge-v0", num_tasks=5)
    _, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="info_mode='scheduler'"):
        make_heuristic("fcfs", env, "info").act(None, info)


# ---------------------------------------------------------------------- the paper's greedy
def paper_env_with(times, **overrides) -> gym.Env:
    """EAT-Paper-v0 whose tasks arrive at ``times`` (eat-bench's clock), none at reset."""
    from dataclasses import replace

    from eat_bench.envs.single_agent import EatEdgeEnv
    from eat_bench.scenarios import get_scenario
    from eat_bench.sim.workload import FixedArrivals, StreamSpec

    paper = get_scenario("EAT-Paper-v0")
    stream = StreamSpec(site=0, arrivals=FixedArrivals(tuple(times)), classes=(0,))
    workload = replace(paper.workload, streams=(stream,), num_tasks=len(times), initial_queue=0)
    return EatEdgeEnv(replace(paper, workload=workload), info_mode="scheduler", **overrides)


def wait_until_arrived(env, count):
    info = None
    while env.sim.num_arrived < count:
        _, _, _, _, info = env.step(np.full(env.action_space.shape, -1.0, dtype=np.float32))
    return info


@pytest.mark.parametrize("source", SOURCES)
def test_paper_greedy_takes_the_newest_fitting_task_at_the_maximum_step_count(source):
    # Four tasks arrive at 0.1, 5, 40 and 80 s; at 81 s (the paper's clock) no score is
    # capped: 250 / (W + wait) is largest for the smallest wait, the newest task (slot 3).
    env = paper_env_with((0.1, 5.0, 40.0, 80.0), degrees=(1,))
    env.reset(seed=0)
    info = wait_until_arrived(env, 4)
    agent = make_heuristic("paper-greedy", env, source)
    wait = info["time_s"] - np.mean(info["queue_tasks"][:4, 2])
    scores = [min(10, 250 / (wait + info["time_s"] - a)) for a in info["queue_tasks"][:4, 2]]
    assert max(scores) < 10 and int(np.argmax(scores)) == 3
    action = agent.act(None, info)
    assert action[1] == 1.0  # a[1] = 1: the maximum step count
    assert env.decoder.decode(action) == (3, 0, 32.0)
    # eat-bench's one-step greedy sees the true service time and prefers another.
    assert env.decoder.decode(make_heuristic("greedy", env, source).act(None, info))[2] < 32


@pytest.mark.parametrize("source", SOURCES)
def test_paper_greedy_takes_the_first_task_when_every_score_is_capped(source):
    env = gym.make("EAT-Paper-v0", info_mode="scheduler")
    _, info = env.reset(seed=0)  # ten tasks stamped 0 s at 1 s: 250 / (1 + 1) > 10
    assert env.unwrapped.decoder.decode(make_heuristic("paper-greedy", env, source).act(None, info)) == (0, 0, 32.0)


def test_paper_greedy_skips_a_task_that_does_not_fit():
    # The newest task (slot 3) demands 8 servers where 4 are free: the next newest wins.
    env = paper_env_with((0.1, 5.0, 40.0, 80.0), degrees=(1,))
    env.reset(seed=0)
    info = wait_until_arrived(env, 4)
    info = dict(info)
    tasks = info["queue_tasks"].copy()
    tasks[3, 7] = 8.0  # demanded degree
    info["queue_tasks"], info["free_per_site"] = tasks, np.array([4])
    assert env.decoder.decode(make_heuristic("paper-greedy", env, "info").act(None, info)) == (2, 0, 32.0)


def test_paper_greedy_runs_the_largest_step_level_in_discrete_mode():
    env = gym.make("EAT-Paper-v0", info_mode="scheduler", action_mode="discrete")
    _, info = env.reset(seed=0)
    assert env.unwrapped.decoder.decode(make_heuristic("paper-greedy", env).act(None, info)) == (0, 0, 32)
