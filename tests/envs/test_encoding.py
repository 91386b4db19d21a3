"""Tests for eat_bench.envs.encoding: observation contents and action decoding.

The hand-made scenario: site a = servers 0 (A100), 1 (T4); site b = server 2 (A100).
Task 0: m1 100x100 (SLO 5) from site a at t=0; task 1: m2 200x100 (SLO 10) from site b
at t=0; task 2: m1 from site a at t=50. queue_len 3, degrees (1, 2), time scale 10 s,
time limit 100 s. Trace numbers are exact binary fractions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eat_bench.envs.encoding import ActionDecoder, steps_from_unit
from eat_bench.envs.single_agent import EatEdgeEnv
from eat_bench.scenarios import ClusterSpec, ScenarioSpec, SiteSpec, WorkloadSpec
from eat_bench.sim.profiles import ProfileRow, write_trace
from eat_bench.sim.workload import FixedArrivals, RequestClass, StreamSpec

MIB = 1024.0**2


# (gpu, model, w, h, degree) -> (step, overhead, load)
ROWS = {
    ("A100", "m1", 100, 100, 1): (0.5, 1.0, 8.0),
    ("A100", "m1", 100, 100, 2): (0.25, 1.5, 9.0),
    ("T4", "m1", 100, 100, 1): (2.0, 0.5, 16.0),
    ("T4", "m1", 100, 100, 2): (1.0, 0.25, 18.0),
    ("A100", "m2", 200, 100, 1): (0.75, 0.0, 4.0),
    ("A100", "m2", 200, 100, 2): (0.5, 0.5, 5.0),
    ("T4", "m2", 200, 100, 1): (3.0, 1.0, 6.0),
    ("T4", "m2", 200, 100, 2): (1.5, 2.0, 7.0),
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> ScenarioSpec:
    path = Path(tmp_path_factory.mktemp("enc")) / "hand.csv"
    write_trace(path, [ProfileRow(g, m, w, h, k, *v, "measured", "test") for (g, m, w, h, k), v in ROWS.items()])
    return ScenarioSpec(
        id="Hand-v0",
        description="hand-made",
        cluster=ClusterSpec(
            sites=(SiteSpec("a", ("A100", "T4")), SiteSpec("b", ("A100",))),
            link_latency_s=0.5,
            link_bandwidth_mbps=0.24,  # 30,000 bytes/s
        ),
        workload=WorkloadSpec(
            classes=(RequestClass("m1", 100, 100, 5.0), RequestClass("m2", 200, 100, 10.0)),
            streams=(
                StreamSpec(site=0, arrivals=FixedArrivals((0.0, 50.0)), classes=(0,)),
                StreamSpec(site=1, arrivals=FixedArrivals((0.0,)), classes=(1,)),
            ),
            num_tasks=3,
        ),
        trace=str(path),
        quality="paper",
        reward="latency",
        action_mode="discrete",
        obs_mode="flat",
        queue_len=3,
        degrees=(1, 2),
        max_steps=50,
        step_levels=(10, 20, 30, 50),
        time_limit_s=100.0,
        time_scale_s=10.0,
    )


def split(obs):
    tasks = obs[: 3 * 9].reshape(3, 9)
    servers = obs[27 : 27 + 3 * 8].reshape(3, 8)
    return tasks, servers, obs[51:]


def close(actual, expected):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64), rtol=1e-6, atol=1e-6
    )


def test_hand_made_observations(spec):
    env = EatEdgeEnv(spec)
    obs, info = env.reset(seed=0)
    sim = env.sim
    assert sim.task_arrival == [0.0, 0.0, 50.0] and sim.task_class == [0, 1, 0] and sim.task_site == [0, 1, 0]
    assert obs.shape == (3 * 9 + 3 * 8 + 4,) and obs.dtype == np.float32
    tasks, servers, g = split(obs)
    # task token: present, waited/SLO, SLO/scale, pixels/1024^2, degree/max, model 1-hot, site 1-hot
    close(tasks[0], [1, 0, 0.5, 10000 / MIB, 0, 1, 0, 1, 0])
    close(tasks[1], [1, 0, 1.0, 20000 / MIB, 0, 0, 1, 0, 1])
    close(tasks[2], [0] * 9)
    # server token: free, remaining/scale, group size/max degree, speed, warm 1-hot, site 1-hot
    close(servers[0], [1, 0, 0, 1.0, 0, 0, 1, 0])
    close(servers[1], [1, 0, 0, 0.25, 0, 0, 1, 0])  # T4: 0.5 / 2.0
    close(servers[2], [1, 0, 0, 1.0, 0, 0, 0, 1])
    close(g, [0.0, 2 / 3, 2 / 3, 1.0])

    # Dispatch task 0 at degree 1, 10 steps: server 0, cold 8 + 1 + 10 * 0.5 = 14 s.
    obs, *_ = env.step(np.array([1, 0, 0]))
    assert sim.now == 0.0
    tasks, servers, g = split(obs)
    close(tasks[0], [1, 0, 1.0, 20000 / MIB, 0, 0, 1, 0, 1])  # task 1 moved to the head
    close(tasks[1:], np.zeros((2, 9)))
    close(servers[0], [0, 1.4, 0.5, 1.0, 1, 0, 1, 0])
    close(servers[1], [1, 0, 0, 0.25, 0, 0, 1, 0])
    close(g, [0.0, 1 / 3, 2 / 3, 2 / 3])

    # Wait: the next event is the completion at 14 s.
    obs, *_ = env.step(np.array([0, 0, 0]))
    assert sim.now == 14.0
    tasks, servers, g = split(obs)
    close(tasks[0], [1, 14.0 / 10.0, 1.0, 20000 / MIB, 0, 0, 1, 0, 1])  # waited / SLO
    close(servers[0], [1, 0, 0.5, 1.0, 1, 0, 1, 0])  # free again, still warm with m1
    close(g, [0.14, 1 / 3, 2 / 3, 1.0])

    # Task 1 (site b) at degree 2, 20 steps: site b has one server, so site a's pair (A100 + T4):
    # cold max(5, 7) = 7, compute max(0.5, 2) + 20 * max(0.5, 1.5) = 32 -> busy until 53.
    obs, *_ = env.step(np.array([1, 1, 1]))
    rec = sim.records[-1]
    assert rec.servers == (0, 1) and rec.cold_start_s == 7.0 and rec.compute_s == 32.0
    assert rec.transfer_s == 0.5 + 20000 * 3 / 30000
    # Nothing left to decide until task 2 arrives at 50.
    assert sim.now == 50.0
    tasks, servers, g = split(obs)
    close(tasks[0], [1, 0, 0.5, 10000 / MIB, 0, 1, 0, 1, 0])
    close(servers[0], [0, 0.3, 1.0, 1.0, 0, 1, 1, 0])  # (53 - 50) / 10, group of 2, warm m2
    close(servers[1], [0, 0.3, 1.0, 0.25, 0, 1, 1, 0])
    close(servers[2], [1, 0, 0, 1.0, 0, 0, 0, 1])
    close(g, [0.5, 1 / 3, 1.0, 1 / 3])
    assert env.observation_space.contains(obs)


def test_dict_observation_is_the_flat_one_split(spec):
    flat = EatEdgeEnv(spec)
    tokens = EatEdgeEnv(replace(spec, obs_mode="dict"))
    for action in (None, [1, 0, 0], [0, 0, 0], [1, 1, 1], [1, 0, 3]):
        if action is None:
            o1, _ = flat.reset(seed=1)
            o2, _ = tokens.reset(seed=1)
        else:
            o1 = flat.step(np.array(action))[0]
            o2 = tokens.step(np.array(action))[0]
        tasks, servers, g = split(o1)
        assert set(o2) == {"tasks", "servers", "globals"}
        assert np.array_equal(o2["tasks"], tasks)
        assert np.array_equal(o2["servers"], servers)
        assert np.array_equal(o2["globals"], g)
        assert all(v.dtype == np.float32 for v in o2.values())
        assert tokens.observation_space.contains(o2)


def test_observation_is_a_fresh_copy(spec):
    env = EatEdgeEnv(spec)
    obs, _ = env.reset(seed=0)
    kept = obs.copy()
    obs[:] = 123.0
    again = env.encoder.encode()
    assert np.array_equal(again, kept)


def test_stale_servers_lose_their_warm_model(spec):
    env = EatEdgeEnv(spec)
    env.reset(seed=0)
    env.step(np.array([1, 1, 0]))  # task 0 at degree 2 on servers 0, 1 (warm m1 pair afterwards)
    env.step(np.array([1, 0, 0]))  # task 1 at degree 1: site b's server 2
    sim = env.sim
    while sim.now < 50.0:
        env.step(np.array([0, 0, 0]))
    assert sim.queue == [2]
    obs, *_ = env.step(np.array([1, 0, 0]))  # degree 1 breaks the m1 pair: server 0 cold, server 1 stale
    _, servers, _ = split(obs)
    assert sim.records[-1].servers == (0,) and sim.records[-1].cold_start
    close(servers[1, 2:6], [0, 0.25, 0, 0])  # group size 0, no warm model
    close(servers[0, 2:6], [0.5, 1.0, 1, 0])


# ----------------------------------------------------------------------------- actions
def cont_decoder(spec, **kw) -> ActionDecoder:
    env = EatEdgeEnv(replace(spec, action_mode="continuous", **kw))
    env.reset(seed=0)
    return env.decoder


def act(*values):
    return np.array(values, dtype=np.float32)


def test_continuous_execute_threshold(spec):
    d = cont_decoder(spec)
    assert d.space.shape == (6,)
    assert d.decode(act(-0.01, 0, 0, 1, 0, 0)) is None
    assert d.decode(act(-1, 1, 1, 1, 1, 1)) is None
    assert d.decode(act(0.0, 0, 0, 1, 0, 0)) == (0, 2, 25)  # a[0] = 0 executes: slot 0, degree 2, 25 steps


def test_continuous_steps_mapping(spec):
    d = cont_decoder(spec)
    steps = lambda a1: d.decode(act(1, a1, -1, 1, 0, 0))[2]  # noqa: E731
    assert steps(-1.0) == 1  # round(0) clamped to 1
    assert steps(1.0) == 50
    assert steps(0.0) == 25
    assert steps(-0.48) == 13  # round(0.26 * 50)
    assert steps(0.92) == 48  # round(0.96 * 50)
    assert steps_from_unit(0.0, 32) == 1 and steps_from_unit(1.0, 32) == 32 and steps_from_unit(0.5, 32) == 16


def test_continuous_degree_choice(spec):
    d = cont_decoder(spec)
    degree = lambda a2: d.decode(act(1, 0, a2, 1, 0, 0))[1]  # noqa: E731
    assert degree(-1.0) == 1
    assert degree(-0.01) == 1
    assert degree(0.0) == 2
    assert degree(1.0) == 2  # clamped to the last degree
    three = cont_decoder(spec, degrees=(1, 2), queue_len=2)
    assert three.space.shape == (5,)


def test_continuous_argmax_slot(spec):
    d = cont_decoder(spec)
    assert d.decode(act(1, 0, 0, 0.1, 0.7, 0.7))[0] == 1  # first of the tied maxima
    assert d.decode(act(1, 0, 0, -1, -1, -0.99))[0] == 2
    assert d.decode(act(1, 0, 0, 1, 1, 1))[0] == 0


def test_continuous_task_degree_mode_has_no_degree_component(spec):
    d = cont_decoder(spec, degree_mode="task")
    assert d.space.shape == (5,)
    assert d.decode(act(1, 1, -1, 1, -1)) == (1, 0, 50)


def test_discrete_decoding(spec):
    env = EatEdgeEnv(spec)
    env.reset(seed=0)
    d = env.decoder
    assert d.space.nvec.tolist() == [4, 2, 4]
    assert d.decode(np.array([0, 1, 3])) is None
    assert d.decode(np.array([1, 0, 0])) == (0, 1, 10)
    assert d.decode(np.array([3, 1, 3])) == (2, 2, 50)
    assert d.decode([2, 1, 2]) == (1, 2, 30)
    task = EatEdgeEnv(replace(spec, degree_mode="task"))
    task.reset(seed=0)
    assert task.decoder.space.nvec.tolist() == [4, 1, 4]
    assert task.decoder.decode(np.array([2, 0, 1])) == (1, 0, 20)


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_encode_decode_round_trip(spec, mode):
    env = EatEdgeEnv(replace(spec, action_mode=mode))
    env.reset(seed=0)
    d = env.decoder
    assert d.decode(d.encode(None)) is None
    steps = range(1, 51) if mode == "continuous" else spec.step_levels
    for slot in range(3):
        for degree in (1, 2):
            for s in steps:
                action = d.encode((slot, degree, s))
                assert env.action_space.contains(action)
                assert d.decode(action) == (slot, degree, s)


def test_task_token_columns_in_paper_and_edge():
    """Column 4 is the demanded degree / max degree; the model one-hot starts at column 5."""
    paper = EatEdgeEnv("EAT-Paper-v0", obs_mode="dict", num_tasks=12)
    obs, _ = paper.reset(seed=0)
    sim = paper.sim
    visible = sim.queue[:10]
    assert len(visible) == 10
    tasks = obs["tasks"]
    assert tasks.shape == (10, 5 + 1 + 1)
    close(tasks[:, 4], [sim.task_degree[t] / 8 for t in visible])
    close(tasks[:, 5], np.ones(10))  # the single model, sd14
    close(tasks[:, 6], np.ones(10))  # the single site
    edge = EatEdgeEnv("EAT-Edge-v0", obs_mode="dict", num_tasks=20, arrival_rate=20.0)
    obs, _ = edge.reset(seed=0)
    for _ in range(5):
        obs = edge.step(np.full(13, -1.0, dtype=np.float32))[0]  # wait: more tasks arrive
    sim = edge.sim
    models = sim.models
    for row, t in zip(obs["tasks"], sim.queue[:10]):
        c = sim.config.classes[sim.task_class[t]]
        expected = [0.0] * 9
        expected[0] = 1.0
        expected[4] = 0.0  # the agent chooses the degree: no demand
        expected[5 + models.index(c.model)] = 1.0
        expected[7 + sim.task_site[t]] = 1.0
        close(row[[0, 4, 5, 6, 7, 8]], [expected[i] for i in (0, 4, 5, 6, 7, 8)])
