"""``make_eat_sac`` / ``make_dsac_sac`` / ``make_mlp_sac``: SB3 SAC with the paper's hyper-parameters."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces
from stable_baselines3 import SAC
from stable_baselines3.common.buffers import NStepReplayBuffer
from torch import nn

from eat_bench.baselines.eat.buffers import DictNStepReplayBuffer
from eat_bench.baselines.eat.networks import FlatStateExtractor
from eat_bench.baselines.eat.policies import DsacPolicy, EatPolicy

__all__ = ["PAPER_HYPERPARAMS", "make_dsac_sac", "make_eat_sac", "make_mlp_sac", "paper_kwargs"]

PAPER_HYPERPARAMS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "buffer_size": 1_000_000,
    "batch_size": 512,
    "tau": 0.005,
    "gamma": 0.95,
    "ent_coef": 0.05,  # the paper's fixed alpha (no automatic tuning)
    "n_steps": 3,
    "weight_decay": 0.005,
}
"""The paper's SAC settings. ``n_steps`` and ``weight_decay`` are not SAC keywords as such:
:func:`paper_kwargs` turns them into SB3's ``NStepReplayBuffer`` (Box observations) or
:class:`DictNStepReplayBuffer` (dict observations, which SB3's n-step buffer refuses), and
into ``policy_kwargs["optimizer_kwargs"]["weight_decay"]`` (Adam's L2 term, both actor and
critics)."""


def paper_kwargs(env: gym.Env | Any, **overrides: Any) -> dict[str, Any]:
    """SAC keyword arguments: :data:`PAPER_HYPERPARAMS` updated with ``overrides`` (any SAC
    keyword, plus ``n_steps`` and ``weight_decay``; ``policy_kwargs`` are merged)."""
    params = {**PAPER_HYPERPARAMS, **overrides}
    n_steps = int(params.pop("n_steps"))
    weight_decay = float(params.pop("weight_decay"))
    policy_kwargs = dict(params.pop("policy_kwargs", None) or {})
    optimizer_kwargs = {"weight_decay": weight_decay, **(policy_kwargs.get("optimizer_kwargs") or {})}
    policy_kwargs["optimizer_kwargs"] = optimizer_kwargs
    params["policy_kwargs"] = policy_kwargs
    if n_steps > 1 and "replay_buffer_class" not in params:
        # The buffer class is set explicitly (not SAC's n_steps), so that SAC.load does not warn.
        dict_obs = isinstance(env.observation_space, spaces.Dict)
        params["replay_buffer_class"] = DictNStepReplayBuffer if dict_obs else NStepReplayBuffer
        params["replay_buffer_kwargs"] = {
            **(params.get("replay_buffer_kwargs") or {}),
            "n_steps": n_steps,
            "gamma": params["gamma"],
        }
    return params


def make_eat_sac(env: gym.Env | Any, seed: int | None = 0, **overrides: Any) -> SAC:
    """SAC with :class:`EatPolicy` on ``env`` (a dict-observation, continuous-action env),
    the paper's hyper-parameters unless overridden (see :func:`paper_kwargs`)."""
    return SAC(EatPolicy, env, seed=seed, **paper_kwargs(env, **overrides))


def make_dsac_sac(env: gym.Env | Any, seed: int | None = 0, **overrides: Any) -> SAC:
    """SAC with :class:`DsacPolicy` (flat or dict observations), the paper's hyper-parameters."""
    return SAC(DsacPolicy, env, seed=seed, **paper_kwargs(env, **overrides))


def make_mlp_sac(env: gym.Env | Any, seed: int | None = 0, **overrides: Any) -> SAC:
    """Plain SAC, the paper's "SAC with an MLP actor": actor and twin critics are MLPs
    (256, 256, Mish) on the flattened observation, same critics and hyper-parameters as EAT."""
    params = paper_kwargs(env, **overrides)
    params["policy_kwargs"] = {
        "net_arch": [256, 256],
        "activation_fn": nn.Mish,
        "features_extractor_class": FlatStateExtractor,
        **params["policy_kwargs"],
    }
    policy = "MultiInputPolicy" if isinstance(env.observation_space, spaces.Dict) else "MlpPolicy"
    return SAC(policy, env, seed=seed, **params)
