"""Tests for eat_bench.envs.single_agent.EatEdgeEnv (and its registration)."""

from __future__ import annotations

import copy
import math
import pickle
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eat_bench  # noqa: F401  (registers the ids)
from eat_bench.envs.single_agent import EatEdgeEnv
from eat_bench.scenarios import SCENARIOS
from eat_bench.sim.metrics import summarize
from eat_bench.testing import check_determinism

IDS = sorted(SCENARIOS)
MODES = [(o, a) for o in ("flat", "dict") for a in ("continuous", "discrete")]
SMALL = {"EAT-Paper-v0": 12}  # num_tasks per id for the episode-length tests; others 20


def make(sid="EAT-Edge-v0", **kw) -> EatEdgeEnv:
    """A small env that reports its events (``info_mode="events"``), which many tests read."""
    kw.setdefault("num_tasks", SMALL.get(sid, 20))
    kw.setdefault("info_mode", "events")
    return EatEdgeEnv(sid, **kw)


def obs_equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(obs_equal(a[k], b[k]) for k in a)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def same(a, b) -> bool:
    """Exact equality that treats NaN as equal to NaN (metrics of empty episodes)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return obs_equal(a, b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


def step_equal(r1, r2) -> bool:
    o1, rew1, te1, tr1, i1 = r1
    o2, rew2, te2, tr2, i2 = r2
    return obs_equal(o1, o2) and same(rew1, rew2) and te1 == te2 and tr1 == tr2 and same(i1, i2)


# ----------------------------------------------------------------------------- API conformance
@pytest.mark.parametrize("obs_mode, action_mode", MODES)
@pytest.mark.parametrize("sid", IDS)
def test_check_env(sid, obs_mode, action_mode):
    env = gym.make(sid, obs_mode=obs_mode, action_mode=action_mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    # Unbounded observation entries (waits, remaining busy time) are by design.
    unexpected = [str(w.message) for w in caught if "maximum value is infinity" not in str(w.message)]
    assert unexpected == []
    assert env.observation_space == env.unwrapped.observation_space
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("sid", IDS)
def test_spaces_shapes(sid):
    env = make(sid, action_mode="discrete", obs_mode="flat")
    spec = env.spec_scenario
    n_models = len({c.model for c in spec.workload.classes})
    ft = 5 + n_models + spec.cluster.num_sites
    fs = 4 + n_models + spec.cluster.num_sites
    assert env.observation_space.shape == (spec.queue_len * ft + spec.cluster.num_servers * fs + 4,)
    assert env.observation_space.dtype == np.float32
    n_deg = len(spec.degrees) if spec.degree_mode == "agent" else 1
    assert env.action_space.nvec.tolist() == [spec.queue_len + 1, n_deg, len(spec.step_levels)]
    cont = make(sid, action_mode="continuous", obs_mode="dict")
    assert cont.action_space.shape == ((3 if spec.degree_mode == "agent" else 2) + spec.queue_len,)
    assert cont.action_space.dtype == np.float32
    assert (cont.action_space.low == -1).all() and (cont.action_space.high == 1).all()
    assert cont.observation_space["tasks"].shape == (spec.queue_len, ft)
    assert cont.observation_space["servers"].shape == (spec.cluster.num_servers, fs)
    assert cont.observation_space["globals"].shape == (4,)


def test_render_modes():
    env = gym.make("EAT-Edge-v0", render_mode="ansi", num_tasks=10)
    env.reset(seed=0)
    env.step(np.array([1.0] * 13, dtype=np.float32))
    text = env.render()
    assert isinstance(text, str)
    assert text.startswith("t =")
    assert "servers:" in text and "queue:" in text
    for gpu in ("RTX4090", "RTX3090", "A100", "T4"):
        assert gpu in text
    server_rows = [line for line in text.splitlines() if " free " in line or " busy " in line]
    assert len(server_rows) == 8
    rgb = gym.make("EAT-Edge-v0", render_mode="rgb_array", num_tasks=10)
    rgb.reset(seed=0)
    for _ in range(5):
        rgb.step(np.ones(13, dtype=np.float32))
    frame = rgb.render()
    assert isinstance(frame, np.ndarray)
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    assert frame.shape[:2] == (400, 800)
    assert frame.min() < frame.max()  # something was drawn
    assert EatEdgeEnv("EAT-Edge-v0", num_tasks=10).render() is None
    with pytest.raises(ValueError, match="render_mode"):
        EatEdgeEnv("EAT-Edge-v0", render_mode="human")


def test_make_with_module_prefix_in_fresh_process():
    code = textwrap.dedent(
        """
        import sys
        import gymnasium as gym
        assert "eat_bench" not in sys.modules
        env = gym.make("eat_bench:EAT-Edge-v0")
        obs, info = env.reset(seed=0)
        print(type(env.unwrapped).__name__, obs.shape, env.spec.id, env.spec.max_episode_steps)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EatEdgeEnv", "(158,)", "EAT-Edge-v0", "4000"]


def test_import_does_not_load_torch_or_matplotlib():
    code = textwrap.dedent(
        """
        import sys
        import eat_bench
        print(sorted(m for m in ("torch", "matplotlib", "pettingzoo") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = eval(out.stdout.strip())
    assert "torch" not in loaded and "matplotlib" not in loaded


def test_overrides_through_make():
    env = gym.make("EAT-Edge-v0", reward="latency", action_mode="discrete", num_tasks=7, max_episode_steps=50)
    assert env.unwrapped.spec_scenario.reward == "latency"
    assert env.unwrapped.sim.config.num_tasks == 7
    assert env.spec.max_episode_steps == 50
    with pytest.raises(TypeError, match="unknown keyword"):  # as Python raises for a keyword
        gym.make("EAT-Edge-v0", rewardz="latency")
    with pytest.raises(ValueError, match="reward"):  # a bad value stays a ValueError
        gym.make("EAT-Edge-v0", reward="fast")


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "sid, obs_mode, action_mode",
    [
        ("EAT-Edge-v0", "flat", "discrete"),
        ("EAT-Edge-v0", "dict", "continuous"),
        ("EAT-Paper-v0", "flat", "continuous"),
        ("EAT-Edge-Burst-v0", "dict", "discrete"),
    ],
)
def test_lockstep_determinism_across_resets(sid, obs_mode, action_mode):
    # Two envs, the same seeded (masked) actions, resets without a seed: every output equal.
    def env_fn():
        return gym.make(sid, obs_mode=obs_mode, action_mode=action_mode, num_tasks=SMALL.get(sid, 20))

    report = check_determinism(env_fn, steps=2000, seed=123, reseed=False)
    assert report.episodes >= 2  # the run crossed at least one reset


def test_reseeding_reproduces_and_different_seeds_differ():
    env = make("EAT-Edge-v0", action_mode="discrete")
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(30)]

    def trajectory(seed):
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for act in actions:
            o, r, te, tr, _ = env.step(act)
            out.append((o, r))
            if te or tr:
                break
        return out, list(env.sim.task_arrival)

    t1, arr1 = trajectory(1)
    t1b, arr1b = trajectory(1)
    t2, arr2 = trajectory(2)
    assert arr1 == arr1b and arr1 != arr2
    assert len(t1) == len(t1b) and all(same(x, y) for x, y in zip(t1[1:], t1b[1:]))
    assert obs_equal(t1[0], t1b[0])
    assert not (len(t1) == len(t2) and all(same(x, y) for x, y in zip(t1[1:], t2[1:])))


def test_unseeded_resets_differ():
    env = make("EAT-Edge-v0")
    env.reset(seed=5)
    first = list(env.sim.task_arrival)
    env.reset()
    assert env.sim.task_arrival != first


@pytest.mark.parametrize("obs_mode", ["flat", "dict"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickle_and_deepcopy_mid_episode(how, obs_mode):
    env = make("EAT-Edge-v0", action_mode="discrete", obs_mode=obs_mode)
    env.action_space.seed(7)
    actions = [env.action_space.sample() for _ in range(60)]
    env.reset(seed=7)
    for act in actions[:10]:
        env.step(act)
    twin = pickle.loads(pickle.dumps(env)) if how == "pickle" else copy.deepcopy(env)
    for act in actions[10:]:
        r1, r2 = env.step(act), twin.step(act)
        assert step_equal(r1, r2)
        if r1[2] or r1[3]:
            assert obs_equal(env.reset(seed=1)[0], twin.reset(seed=1)[0])


# ----------------------------------------------------------------------------- malformed actions
def bad_actions(action_mode):
    if action_mode == "continuous":
        good = np.zeros(13, dtype=np.float32)
        nan = good.copy()
        nan[3] = np.nan
        inf = good.copy()
        inf[0] = np.inf
        out = good.copy()
        out[1] = 1.5
        return [
            np.zeros(12, dtype=np.float32),
            np.zeros((1, 13), dtype=np.float32),
            np.float32(0.0),
            np.zeros(13, dtype=np.float64),
            np.zeros(13, dtype=np.int64),
            nan,
            inf,
            out,
            -out,
            [0.0] * 12,
            [2.0] + [0.0] * 12,
            "abc",
            None,
            {"execute": 1},
            object(),
        ]
    return [
        np.array([1, 0], dtype=np.int64),
        np.array([[1, 0, 0]], dtype=np.int64),
        np.array([1.0, 0.0, 0.0]),
        [1.0, 0.0, 0.0],
        np.array([1, 0, 0], dtype=np.uint64),
        np.array([np.nan, 0, 0]),
        np.array([11, 0, 0]),
        np.array([-1, 0, 0]),
        np.array([0, 3, 0]),
        np.array([0, 0, 4]),
        [1, 0, 9],
        5,
        "abc",
        None,
        {"slot": 1},
        ["1", "0", "0"],
        [2**70, 0, 0],
    ]


@pytest.mark.parametrize("action_mode", ["continuous", "discrete"])
def test_malformed_actions_raise_and_change_nothing(action_mode):
    env = make("EAT-Edge-v0", action_mode=action_mode)
    twin = make("EAT-Edge-v0", action_mode=action_mode)
    env.action_space.seed(3)
    warmup = [env.action_space.sample() for _ in range(5)]
    env.reset(seed=3)
    twin.reset(seed=3)
    for act in warmup:
        assert step_equal(env.step(act), twin.step(act))
    valid = env.action_space.sample()
    for bad in bad_actions(action_mode):
        before = (env.sim.now, list(env.sim.queue), len(env.sim.records), env.invalid_actions)
        with pytest.raises(ValueError) as err:
            env.step(bad)
        assert str(env.action_space) in str(err.value), str(err.value)
        assert (env.sim.now, list(env.sim.queue), len(env.sim.records), env.invalid_actions) == before
    assert step_equal(env.step(valid), twin.step(valid))


def test_malformed_action_through_make_wrappers():
    env = gym.make("EAT-Edge-v0", action_mode="discrete", num_tasks=10)
    twin = gym.make("EAT-Edge-v0", action_mode="discrete", num_tasks=10)
    env.reset(seed=0)
    twin.reset(seed=0)
    with pytest.raises(ValueError, match=r"MultiDiscrete"):
        env.step(np.array([1.5, 0, 0]))
    act = np.array([1, 0, 1])
    assert step_equal(env.step(act), twin.step(act))


@pytest.mark.parametrize("action_mode", ["continuous", "discrete"])
def test_valid_action_forms_are_accepted(action_mode):
    env = make("EAT-Edge-v0", action_mode=action_mode)
    env.reset(seed=0)
    if action_mode == "continuous":
        forms = [np.zeros(13, dtype=np.float32), [0.0] * 13, tuple([0.5] * 13), np.zeros(13, dtype=np.float16),
                 np.zeros(13, dtype=np.int8), -np.ones(13, dtype=np.float32)]  # fmt: skip
    else:
        forms = [np.array([0, 0, 0]), [1, 0, 0], (0, 2, 3), np.array([1, 1, 1], dtype=np.int8),
                 np.array([0, 0, 0], dtype=np.uint8)]  # fmt: skip
    for form in forms:
        env.step(form)


def _array_candidates(action_mode):
    shape = (13,) if action_mode == "continuous" else (3,)
    shapes = st.sampled_from([shape, (shape[0] - 1,), (shape[0] + 1,), (1, shape[0]), ()])
    float_dtypes = st.sampled_from([np.float16, np.float32, np.float64])
    int_dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
    if action_mode == "continuous":
        near = st.floats(-1.25, 1.25, width=16)
    else:
        near = st.integers(0, 12).map(float)
    floats = st.tuples(float_dtypes, shapes).flatmap(
        lambda ds: hnp.arrays(
            ds[0], ds[1], elements=st.one_of(near, st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 1.0]))
        )
    )
    any_floats = st.tuples(float_dtypes, shapes).flatmap(lambda ds: hnp.arrays(ds[0], ds[1]))
    ints = st.tuples(int_dtypes, shapes).flatmap(lambda ds: hnp.arrays(ds[0], ds[1], elements=st.integers(0, 12)))
    signed = st.tuples(st.sampled_from([np.int8, np.int64]), shapes).flatmap(
        lambda ds: hnp.arrays(ds[0], ds[1], elements=st.integers(-3, 12))
    )
    bools = shapes.flatmap(lambda s: hnp.arrays(np.bool_, s))
    lists = st.lists(st.one_of(st.integers(-2, 12), st.floats(-1.5, 1.5), st.booleans()), min_size=0, max_size=15)
    tuples = lists.map(tuple)
    return st.one_of(floats, any_floats, ints, signed, bools, lists, tuples)


@pytest.mark.parametrize("action_mode", ["continuous", "discrete"])
def test_validator_accepts_exactly_what_contains_accepts(action_mode):
    env = make("EAT-Edge-v0", action_mode=action_mode)
    env.reset(seed=0)
    space, decoder = env.action_space, env.decoder

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(candidate=_array_candidates(action_mode))
    def check(candidate):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ok = space.contains(candidate)
        if ok:
            decoder.decode(candidate)
        else:
            with pytest.raises(ValueError):
                decoder.decode(candidate)

    check()


def test_validator_matches_contains_for_other_sequences():
    env = make("EAT-Edge-v0", action_mode="discrete")
    env.reset(seed=0)
    # A range is a Sequence, and MultiDiscrete.contains accepts it.
    candidate = range(3)
    assert env.action_space.contains(candidate)
    assert env.decoder.decode(candidate) == env.decoder.decode([0, 1, 2])


# ----------------------------------------------------------------------------- infeasible
@pytest.mark.parametrize("action_mode", ["continuous", "discrete"])
def test_infeasible_empty_slot_acts_as_wait(action_mode):
    env = make("EAT-Edge-v0", action_mode=action_mode)
    twin = make("EAT-Edge-v0", action_mode=action_mode)
    env.reset(seed=11)
    twin.reset(seed=11)
    q = env.spec_scenario.queue_len
    assert len(env.sim.queue) < q
    if action_mode == "continuous":
        bad = np.full(13, -1.0, dtype=np.float32)
        bad[0] = 1.0
        bad[3 + q - 1] = 1.0  # argmax: the last visible slot, which is empty
        wait = np.full(13, -1.0, dtype=np.float32)
    else:
        bad = np.array([q, 0, 0])
        wait = np.array([0, 0, 0])
    o1, r1, te1, tr1, i1 = env.step(bad)
    o2, r2, te2, tr2, i2 = twin.step(wait)
    assert bool(i1["invalid_action"]) is True and bool(i2["invalid_action"]) is False
    assert i1["invalid_reason"] == "empty slot"
    assert obs_equal(o1, o2)
    assert i1["events"] == i2["events"] and i1["time_s"] == i2["time_s"]
    assert (te1, tr1) == (te2, tr2)
    assert r1 == pytest.approx(r2 - 0.1, abs=1e-12)
    assert env.invalid_actions == 1 and twin.invalid_actions == 0
    # Afterwards the two envs are in the same state.
    assert step_equal(env.step(wait), twin.step(wait))


def test_infeasible_no_servers_in_tick_mode_with_custom_penalty():
    env = make("EAT-Paper-v0", action_mode="discrete", invalid_penalty=-2.5, reward="latency")
    env.reset(seed=0)
    sim = env.sim
    # Fill the cluster: dispatch while possible.
    while sim.can_decide():
        env.step(np.array([1 + next(i for i, t in enumerate(sim.queue) if sim.task_degree[t] <= sim.max_free()), 0, 0]))
    assert sim.queue, "tasks remain queued"
    now = sim.now
    _, reward, _, _, info = env.step(np.array([1, 0, 0]))
    assert bool(info["invalid_action"]) is True
    assert info["invalid_reason"].startswith("no ")
    assert sim.now == pytest.approx(now + 0.1, abs=1e-12)  # acted as a one-tick wait
    assert reward <= -2.5


# ----------------------------------------------------------------------------- masks
@pytest.mark.parametrize("sid", ["EAT-Edge-v0", "EAT-Paper-v0"])
def test_action_masks(sid):
    env = make(sid, action_mode="discrete")
    env.reset(seed=4)
    spec = env.spec_scenario
    n_slots, n_deg, n_steps = env.action_space.nvec.tolist()
    env.action_space.seed(4)
    checked = 0
    for _ in range(300 if spec.decision_interval_s is None else 3000):
        mask = env.action_masks()
        assert mask.shape == (n_slots + n_deg + n_steps,) and mask.dtype == bool
        assert mask[0]  # wait is always valid
        assert mask[n_slots : n_slots + n_deg].any() and mask[n_slots + n_deg :].all()
        sim = env.sim
        most = max(sim.free_count)
        for i in range(spec.queue_len):
            feasible = i < len(sim.queue) and sim.required_degree(sim.queue[i]) <= most
            assert mask[1 + i] == feasible
            if i < len(sim.queue):
                preview = sim.preview(i, spec.degrees[0], spec.step_levels[0])
                assert (type(preview) is not str) == feasible
        if spec.degree_mode == "agent":
            for j, k in enumerate(spec.degrees):
                assert mask[n_slots + j] == (k <= most or j == 0)
        # A masked-valid dispatch with degree index 0 is never infeasible.
        valid_slots = np.flatnonzero(mask[1:n_slots])
        if len(valid_slots):
            act = np.array([1 + int(env.np_random.choice(valid_slots)), 0, int(env.np_random.integers(n_steps))])
            checked += 1
        else:
            act = np.array([0, 0, 0])
        _, _, te, tr, info = env.step(act)
        assert bool(info["invalid_action"]) is False
        if te or tr:
            env.reset()
    assert checked > 10


def test_action_masks_continuous_raises():
    env = make("EAT-Edge-v0", action_mode="continuous")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="discrete"):
        env.action_masks()


# ----------------------------------------------------------------------------- episodes
@pytest.mark.parametrize("sid", ["EAT-Edge-v0", "EAT-Paper-v0", "EAT-Edge-Shift-v0"])
def test_episode_metrics_at_episode_end(sid):
    env = make(sid, action_mode="discrete")
    env.reset(seed=9)
    env.action_space.seed(9)
    rng = np.random.default_rng(9)
    invalid = 0
    arrivals, dispatches, completions = [], [], []
    n_slots = env.action_space.nvec[0]
    for _ in range(20_000):
        mask = env.action_masks()
        if rng.random() < 0.1:
            act = env.action_space.sample()
        else:
            slots = np.flatnonzero(mask[1:n_slots])
            act = (
                np.array([1 + slots[0], 0, rng.integers(env.action_space.nvec[2])]) if len(slots) else np.zeros(3, int)
            )
        _, _, te, tr, info = env.step(act)
        invalid += info["invalid_action"]
        for kind, _t, task in info["events"]:
            {"arrival": arrivals, "dispatch": dispatches, "complete": completions}[kind].append(task)
        if te or tr:
            break
    assert te and not tr
    m = info["episode_metrics"]
    n = env.sim.config.num_tasks
    assert m["num_tasks"] == n and m["dispatched"] == n and m["completion_rate"] == 1.0
    assert m["invalid_actions"] == invalid == env.invalid_actions
    assert m["p50_response_s"] <= m["p95_response_s"] <= m["p99_response_s"]
    assert m["mean_response_s"] >= m["mean_wait_s"] >= 0.0
    assert m["mean_service_s"] > 0
    assert 0.0 <= m["slo_attainment"] <= 1.0
    assert 0.0 < m["utilisation"] <= 1.0
    assert 0 <= m["cold_starts"] <= n and m["cold_start_rate"] == m["cold_starts"] / n
    assert 0.0 <= m["mean_quality_normalized"] <= 1.0
    assert m["makespan_s"] >= env.sim.now > 0
    assert (
        m
        == summarize(
            env.sim.records, n, env.sim.num_servers, env.sim.busy_server_seconds, env.sim.now, invalid
        ).as_dict()
    )
    # Events: each task arrives, is dispatched and completes exactly once (reset events excluded).
    assert sorted(dispatches) == list(range(n)) and sorted(completions) == list(range(n))
    assert len(set(arrivals)) == len(arrivals)


def test_reset_info_and_time():
    env = make("EAT-Edge-v0")
    obs, info = env.reset(seed=0)
    assert info["time_s"] == env.sim.now
    assert [e[0] for e in info["events"]] and all(e[0] == "arrival" for e in info["events"])
    assert env.sim.can_decide()  # event mode: the agent is asked only when a dispatch is possible


def test_dispatch_does_not_advance_time_while_a_decision_remains():
    env = make("EAT-Edge-v0", action_mode="discrete", num_tasks=30, arrival_rate=50.0)
    env.reset(seed=0)
    sim = env.sim
    env.step(np.array([0, 0, 0]))  # wait: the next arrival joins the queue
    env.step(np.array([0, 0, 0]))
    assert len(sim.queue) >= 2 and max(sim.free_count) >= 2
    now = sim.now
    _, _, _, _, info = env.step(np.array([1, 0, 0]))
    assert sim.now == now  # another task can still be dispatched at this instant
    assert info["events"] == [("dispatch", now, info["events"][0][2])]
    assert sim.records[-1].start_s == now


def test_truncation_by_time_limit():
    env = make("EAT-Edge-v0", action_mode="discrete", time_limit_s=5.0, num_tasks=200)
    env.reset(seed=0)
    for _ in range(10_000):
        _, _, te, tr, info = env.step(np.array([0, 0, 0]))  # always wait
        if te or tr:
            break
    assert tr and not te
    assert env.sim.now == 5.0
    m = info["episode_metrics"]
    assert m["dispatched"] == 0 and m["slo_attainment"] == 0.0


@pytest.mark.parametrize("sid", ["EAT-Paper-v0", "EAT-Edge-v0"])
def test_observations_stay_in_space_over_long_runs(sid):
    """Every entry is >= 0 by design (waits, remaining busy time): rounding must not
    push one below the space's lower bound (e.g. a task observed at its arrival tick,
    a server a hair before its completion)."""
    env = EatEdgeEnv(sid, action_mode="discrete")
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for i in range(6000):
        obs, _, te, tr, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs), (i, env.sim.now, obs[obs < 0])
        if te or tr:
            obs, _ = env.reset()


# ----------------------------------------------------------------------------- info contract
NUMERIC_INFO_KEYS = {"time_s", "invalid_action", "arrivals", "dispatches", "completions"}


@pytest.mark.parametrize("sid", ["EAT-Edge-v0", "EAT-Paper-v0"])
def test_default_info_is_fixed_shape_and_numeric(sid):
    """Every step's info has the same keys of numbers and flags (what Tianshou, TorchRL
    and RLlib store in buffers); the episode metrics join on the last step only."""
    env = EatEdgeEnv(sid, num_tasks=SMALL.get(sid, 20), action_mode="discrete")
    events_env = EatEdgeEnv(sid, num_tasks=SMALL.get(sid, 20), action_mode="discrete", info_mode="events")
    _, info = env.reset(seed=3)
    _, info_e = events_env.reset(seed=3)
    assert set(info) == NUMERIC_INFO_KEYS
    assert info["arrivals"] == len(info_e["events"]) == len(env.last_events) > 0
    rng = np.random.default_rng(0)
    for _ in range(5000):
        act = np.array([rng.integers(env.action_space.nvec[0]), 0, rng.integers(env.action_space.nvec[2])])
        _, r, te, tr, info = env.step(act)
        _, r_e, te_e, tr_e, info_e = events_env.step(act)
        assert r == r_e and te == te_e  # the info mode changes nothing else
        assert set(info) - {"episode_metrics"} == NUMERIC_INFO_KEYS
        assert all(isinstance(info[k], (np.generic, np.ndarray)) and info[k].shape == () for k in NUMERIC_INFO_KEYS)
        assert info["invalid_action"].dtype == bool and info["time_s"].dtype == np.float64
        kinds = [e[0] for e in info_e["events"]]
        assert (info["arrivals"], info["dispatches"], info["completions"]) == (
            kinds.count("arrival"),
            kinds.count("dispatch"),
            kinds.count("complete"),
        )
        assert info["invalid_action"] == ("invalid_reason" in info_e) == bool(env.last_invalid_reason)
        if te or tr:
            assert all(isinstance(v, (int, float, np.generic)) for v in info["episode_metrics"].values())
            break
    else:
        raise AssertionError("episode did not end")


def test_step_before_reset_is_a_clear_error():
    env = EatEdgeEnv("EAT-Edge-v0")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(env.action_space.sample())


def test_action_masks_through_gym_make_wrappers():
    """The documented forms: ``env.unwrapped.action_masks()`` and ``get_wrapper_attr``."""
    env = gym.make("EAT-Edge-v0", action_mode="discrete")
    env.reset(seed=0)
    direct = env.unwrapped.action_masks()
    assert np.array_equal(env.get_wrapper_attr("action_masks")(), direct)
    assert direct.dtype == bool and direct.shape == (int(env.action_space.nvec.sum()),)
