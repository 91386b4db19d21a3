"""TorchRL 0.14: the single-agent env through ``GymEnv`` / ``GymWrapper``, and
``edge_sites_v0`` through ``PettingZooWrapper``, each passing ``check_env_specs``."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torchrl")

import torch  # noqa: E402
from torchrl.envs import GymEnv, GymWrapper, PettingZooWrapper  # noqa: E402
from torchrl.envs.utils import check_env_specs  # noqa: E402

import eat_bench  # noqa: E402, F401
from eat_bench.envs import edge_sites_v0  # noqa: E402

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("EAT-"))
MARL = dict(num_sites=3, servers_per_site=2, tasks_per_site=12)


def _rollout(env, seed: int, steps: int, **kwargs):
    torch.manual_seed(seed)
    env.set_seed(seed)
    return env.rollout(steps, **kwargs)


def test_gym_env_by_id():
    env = GymEnv("EAT-Edge-v0")
    check_env_specs(env, seed=0)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gym_wrapper_specs_and_seeds(env_id):
    env = GymWrapper(gym.make(env_id))
    check_env_specs(env, seed=0)
    first = _rollout(env, 0, 100)
    obs_shape = gym.make(env_id).observation_space.shape
    assert first["observation"].shape == (100, *obs_shape) and first["observation"].dtype == torch.float32
    assert first["next", "reward"].shape == (100, 1) and torch.isfinite(first["next", "reward"]).all()
    again = _rollout(env, 0, 100)
    assert torch.equal(first["observation"], again["observation"])
    assert torch.equal(first["next", "reward"], again["next", "reward"])
    assert not torch.equal(first["observation"], _rollout(env, 1, 100)["observation"])


@pytest.mark.parametrize("kwargs", [{"action_mode": "discrete"}, {"obs_mode": "dict"}])
def test_gym_wrapper_other_modes(kwargs):
    env = GymWrapper(gym.make("EAT-Edge-v0", **kwargs))
    check_env_specs(env, seed=0)
    td = _rollout(env, 0, 50)
    if "obs_mode" in kwargs:
        assert td["tasks"].shape == (50, 10, 9) and td["servers"].shape == (50, 8, 8) and td["globals"].shape == (50, 4)
    else:
        assert td["action"].shape[0] == 50  # MultiDiscrete as concatenated one-hots


def test_gym_wrapper_reads_infos():
    env = GymWrapper(gym.make("EAT-Edge-v0", num_tasks=4))
    env.auto_register_info_dict()
    check_env_specs(env, seed=0)
    td = _rollout(env, 0, 60, break_when_any_done=False)
    assert td["next", "dispatches"].sum() > 0 and td["next", "done"].any()


def _marl_env() -> PettingZooWrapper:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "tested with PettingZoo 1.24.3"
        return PettingZooWrapper(edge_sites_v0.parallel_env(**MARL), use_mask=True)


def test_pettingzoo_wrapper_specs_masks_and_seeds():
    env = _marl_env()
    check_env_specs(env, seed=0)
    group = ("site",)
    nvec = edge_sites_v0.parallel_env(**MARL).action_space("site_0").nvec
    assert env.observation_spec["site", "action_mask"].shape == (3, int(nvec.sum()))
    # The reset mask is the env's own flat mask of each agent.
    td = env.reset(seed=0)
    plain = edge_sites_v0.parallel_env(**MARL)
    _, infos = plain.reset(seed=0)
    expected = np.stack([infos[a]["action_mask"] for a in plain.possible_agents]).astype(bool)
    assert np.array_equal(td[(*group, "action_mask")].numpy(), expected)
    # Part of an episode; the same seed gives the same rollout.
    first = _rollout(env, 0, 20)
    assert first[(*group, "observation")].shape[:2] == (20, 3)
    assert first["next", "site", "info", "dispatched_task"].shape == (20, 3)
    assert torch.isfinite(first["next", "site", "reward"]).all()
    again = _rollout(env, 0, 20)
    assert torch.equal(first[(*group, "observation")], again[(*group, "observation")])
    assert torch.equal(first["next", "site", "reward"], again["next", "site", "reward"])


def test_pettingzoo_wrapper_whole_episode():
    td = _rollout(_marl_env(), 0, 10_000, break_when_any_done=True)
    assert td["next", "done"][-1].all()


def test_example_script(load_example):
    out = load_example("torchrl_envs").main(["--steps", "30"])
    assert out["single"].batch_size == (30,) and out["multi"]["next", "done"][-1].all()
