"""Tests of the SB3 vector-env adapters over ``edge_sites_v0`` (eat_bench.envs.vector)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from eat_bench.envs import edge_sites_v0
from eat_bench.envs.vector import SharedPolicyVecEnv, SuperSuitVecEnv, flat_mask, make_vec_env

BACKENDS = ("direct", "supersuit")


def make(max_cycles: int = 40, tasks_per_site: int = 6, **kwargs):
    return functools.partial(
        edge_sites_v0.parallel_env,
        num_sites=2,
        servers_per_site=2,
        tasks_per_site=tasks_per_site,
        max_cycles=max_cycles,
        **kwargs,
    )


def random_actions(venv: VecEnv, rng: np.random.Generator) -> np.ndarray:
    edges = np.cumsum((0, *venv.action_space.nvec))
    masks = venv.action_masks()
    return np.stack(
        [[rng.choice(np.flatnonzero(m[a:b])) for a, b in zip(edges[:-1], edges[1:])] for m in masks]
    ).astype(np.int64)


def rollout(venv: VecEnv, seed: int, steps: int) -> list:
    venv.seed(seed)
    obs = venv.reset()
    rng = np.random.default_rng(0)
    out = [obs.copy()]
    for _ in range(steps):
        obs, rewards, dones, infos = venv.step(random_actions(venv, rng))
        out += [obs.copy(), rewards.copy(), dones.copy()]
        out += [
            (k, infos[k]["TimeLimit.truncated"], infos[k]["terminal_observation"].copy()) for k in np.flatnonzero(dones)
        ]
    return out


def same(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            if x[:2] != y[:2] or not np.array_equal(x[2], y[2]):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


@pytest.mark.parametrize("backend", BACKENDS)
def test_layout_and_spaces(backend):
    venv = make_vec_env(make(), copies=3, backend=backend)
    assert isinstance(venv, VecEnv)
    assert venv.num_envs == 6
    env = make()()
    assert venv.observation_space == env.observation_space("site_0")
    assert venv.action_space == env.action_space("site_0")
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (6,) + venv.observation_space.shape and obs.dtype == np.float32
    masks = venv.action_masks()
    assert masks.shape == (6, int(venv.action_space.nvec.sum())) and masks.dtype == bool
    assert venv.env_method("action_masks", indices=[1])[0].shape == masks[1].shape
    assert venv.has_attr("action_masks")
    assert venv.get_attr("team_share") == [0.5] * 6
    venv.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_rollouts(backend):
    first = rollout(make_vec_env(make(), copies=2, backend=backend), seed=3, steps=150)
    second = rollout(make_vec_env(make(), copies=2, backend=backend), seed=3, steps=150)
    other = rollout(make_vec_env(make(), copies=2, backend=backend), seed=4, steps=150)
    assert same(first, second)
    assert not same(first, other)


def test_backends_agree():
    assert same(
        rollout(make_vec_env(make(), copies=2, backend="direct"), seed=5, steps=150),
        rollout(make_vec_env(make(), copies=2, backend="supersuit"), seed=5, steps=150),
    )


def test_seed_matches_seeded_parallel_env():
    venv = make_vec_env(make(), copies=2)
    venv.seed(11)
    obs = venv.reset()
    for copy, seed in enumerate((11, 12)):
        env = make()()
        expected, _ = env.reset(seed=seed)
        assert np.array_equal(obs[2 * copy], expected["site_0"]) and np.array_equal(
            obs[2 * copy + 1], expected["site_1"]
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncation_is_reported(backend):
    venv = make_vec_env(make(max_cycles=5, tasks_per_site=50), copies=1, backend=backend)
    venv.seed(0)
    venv.reset()
    for step in range(5):
        actions = np.zeros((2, 4), dtype=np.int64)
        obs, rewards, dones, infos = venv.step(actions)
        if step < 4:
            assert not dones.any()
    assert dones.all()
    for k in range(2):
        assert infos[k]["TimeLimit.truncated"] is True
        terminal = infos[k]["terminal_observation"]
        assert terminal.shape == obs[k].shape and not np.array_equal(terminal, obs[k])  # obs is the next episode's


@pytest.mark.parametrize("backend", BACKENDS)
def test_termination_is_not_truncation(backend):
    venv = make_vec_env(make(max_cycles=5000, tasks_per_site=3, info_mode="events"), copies=1, backend=backend)
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(500):
        _, _, dones, infos = venv.step(random_actions(venv, rng))
        if dones.any():
            break
    assert dones.all()
    assert all(infos[k]["TimeLimit.truncated"] is False for k in range(2))
    assert all("terminal_observation" in infos[k] for k in range(2))
    assert all(infos[k]["team_metrics"]["completion_rate"] == 1.0 for k in range(2))


def test_masks_follow_the_env_and_reset():
    venv = SharedPolicyVecEnv(make(), copies=1)
    venv.seed(0)
    venv.reset()
    env = venv.envs[0]
    assert np.array_equal(venv.action_masks(), env.action_masks())
    rng = np.random.default_rng(1)
    for _ in range(30):
        venv.step(random_actions(venv, rng))
        assert np.array_equal(venv.action_masks(), env.action_masks())


def test_flat_mask_fallbacks():
    env = make()()
    space = env.action_space("site_0")
    assert flat_mask({}, space).all() and flat_mask({}, space).size == space.nvec.sum()
    parts = (np.array([1, 0], np.int8), np.array([1], np.int8))
    assert flat_mask({"action_mask": parts}, space).tolist() == [True, False, True]


def test_bad_arguments():
    with pytest.raises(ValueError, match="copies"):
        SharedPolicyVecEnv(make(), copies=0)
    with pytest.raises(ValueError, match="copies"):
        SuperSuitVecEnv(make(), copies=0)
    with pytest.raises(ValueError, match="backend"):
        make_vec_env(make(), backend="ray")
    venv = SharedPolicyVecEnv(make(), copies=1)
    with pytest.raises(RuntimeError, match="step_async"):
        venv.step_wait()


def test_instance_is_copied_not_shared():
    env = make()()
    venv = SharedPolicyVecEnv(env, copies=2)
    assert venv.envs[0] is env and venv.envs[1] is not env


def test_a_factory_returning_one_instance_still_gives_independent_copies():
    instance = make()()
    shared = SharedPolicyVecEnv(lambda: instance, copies=2)
    fresh = SharedPolicyVecEnv(make(), copies=2)
    assert shared.envs[0] is instance and shared.envs[1] is not instance
    for venv in (shared, fresh):
        venv.seed(0)
        venv.reset()
    wait = np.zeros((4, 4), dtype=np.int64)
    for _ in range(60):
        out_shared, out_fresh = shared.step(wait), fresh.step(wait)
        for a, b in zip(out_shared[:3], out_fresh[:3]):
            assert np.array_equal(a, b)


def test_env_method_runs_once_per_copy():
    venv = SharedPolicyVecEnv(make(), copies=2)
    venv.reset()
    calls = []
    for env in venv.envs:
        env.count_call = lambda env=env: calls.append(env) or len(calls)
    results = venv.env_method("count_call")
    assert len(calls) == 2 and results == [1, 1, 2, 2]  # entry k gets its copy's result


def _train(algo: str, backend: str, seed: int):
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    venv = VecMonitor(make_vec_env(make(max_cycles=60, tasks_per_site=8), copies=2, backend=backend))
    cls = MaskablePPO if algo == "maskable" else PPO
    model = cls(
        "MlpPolicy",
        venv,
        n_steps=64,
        batch_size=128,
        n_epochs=2,
        seed=seed,
        device="cpu",
        policy_kwargs=dict(net_arch=[32]),
    )
    model.learn(total_timesteps=2048)  # a few thousand agent-steps, several episodes
    buffer = model.rollout_buffer
    params = [p.detach().clone() for p in model.policy.parameters()]
    return (
        buffer.observations.copy(),
        buffer.actions.copy(),
        buffer.rewards.copy(),
        buffer.episode_starts.copy(),
        params,
    )


@pytest.mark.parametrize("algo, backend", [("ppo", "supersuit"), ("ppo", "direct"), ("maskable", "direct")])
def test_training_with_seed_is_reproducible(algo, backend):
    first, second = _train(algo, backend, seed=0), _train(algo, backend, seed=0)
    for a, b in zip(first[:4], second[:4]):
        assert np.array_equal(a, b)
    assert all(bool((p == q).all()) for p, q in zip(first[4], second[4]))
    assert first[3].any()  # episodes ended (and restarted) within the run
    different = _train(algo, backend, seed=1)
    assert not np.array_equal(first[0], different[0])
