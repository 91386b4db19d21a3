"""Stable-Baselines3 and sb3-contrib: ``check_env`` over every id, ``make_vec_env`` seeds,
and MaskablePPO finding ``action_masks()`` through ``gym.make``'s wrappers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

import eat_bench  # noqa: E402, F401

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("EAT-"))


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("kwargs", [{}, {"action_mode": "discrete"}, {"obs_mode": "dict"}])
def test_check_env(env_id, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3's checker warns about anything it would not train on
        if "obs_mode" in kwargs:  # token matrices are meant for attention models; SB3's MultiInputPolicy flattens them
            warnings.filterwarnings("ignore", message=".*unconventional shape")
        check_env(gym.make(env_id, **kwargs))


def _rollout(venv, seed: int, steps: int = 50):
    venv.seed(seed)
    venv.action_space.seed(seed)
    obs = [venv.reset()]
    rewards, masks = [], []
    for _ in range(steps):
        masks.append(get_action_masks(venv))
        o, r, _, _ = venv.step(np.stack([venv.action_space.sample() for _ in range(venv.num_envs)]))
        obs.append(o)
        rewards.append(r)
    return np.stack(obs), np.stack(rewards), np.stack(masks)


def test_make_vec_env_seeds_and_masks_through_wrappers():
    venv = make_vec_env("EAT-Edge-v0", n_envs=2, seed=0, env_kwargs={"action_mode": "discrete", "num_tasks": 4})
    assert is_masking_supported(venv)
    obs, rewards, masks = _rollout(venv, 0)
    assert obs.shape == (51, 2, 158) and rewards.shape == (50, 2) and np.isfinite(rewards).all()
    assert masks.shape == (50, 2, int(venv.action_space.nvec.sum())) and masks.dtype == np.bool_
    # get_action_masks reads the unwrapped env's action_masks() through Monitor + gym.make's wrappers.
    assert np.array_equal(get_action_masks(venv)[1], venv.envs[1].unwrapped.action_masks())
    obs2, rewards2, masks2 = _rollout(venv, 0)
    assert np.array_equal(obs, obs2) and np.array_equal(rewards, rewards2) and np.array_equal(masks, masks2)
    assert not np.array_equal(obs, _rollout(venv, 1)[0])


def test_example_maskable_ppo(load_example):
    out = load_example("sb3_maskable_ppo").main(["--steps", "256", "--n-steps", "64", "--quiet"])
    model, masks, actions = out["model"], out["masks"], out["actions"]
    assert model.num_timesteps == 256
    nvec = model.action_space.nvec
    assert out["mask"].shape == (int(nvec.sum()),) and masks.shape == (2, int(nvec.sum()))
    edges = np.cumsum((0, *nvec))[:-1]
    for row, action in zip(masks, actions):  # the policy picks only choices the masks allow
        assert all(row[edges[k] + a] for k, a in enumerate(action))
