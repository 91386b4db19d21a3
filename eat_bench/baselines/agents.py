"""One protocol for everything that acts, and the registry of agent names.

An :class:`Agent` is ``reset(seed)`` then ``act(observation, info) -> action`` in the
env's own action space: heuristics, loaded SB3 models and (later) leaderboard
submissions alike. :data:`AGENTS` maps names to :class:`AgentSpec` s (``eat-bench list``
prints them); :func:`make_agent` accepts a registered name or the path of a saved SB3
model (``.zip``, loaded by :func:`eat_bench.baselines.sb3.load_agent`, which needs the
``rl`` extra). Learner names (``ppo``, ``sac``, ``eat``, ...) are listed for reference:
they act only once trained (``eat-bench train``), through their saved model's path.

For ``edge_sites_v0`` the counterpart is :class:`MultiAgent`: ``act(observations,
infos) -> {agent: action}`` over all live agents at once, registered in
:data:`MULTI_AGENTS` (``random``, ``local-first``); :class:`SharedPolicyAgent` adapts a
trained parameter-shared policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from eat_bench.baselines import heuristics

__all__ = [
    "Agent",
    "AgentFactory",
    "AgentSpec",
    "AGENTS",
    "register_agent",
    "make_agent",
    "agent_env_kwargs",
    "agent_names",
    "learner_names",
    "RL_EXTRA_HINT",
    "MultiAgent",
    "MultiAgentSpec",
    "MULTI_AGENTS",
    "make_multi_agent",
    "RandomMultiAgent",
    "LocalFirstMultiAgent",
    "SharedPolicyAgent",
]

RL_EXTRA_HINT = 'pip install -e ".[rl]"'
"""What installs the learners (stable-baselines3, sb3-contrib, torch)."""


@runtime_checkable
class Agent(Protocol):
    """Everything that acts in the single-agent env."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, observation: Any, info: dict[str, Any]) -> Any: ...


AgentFactory = Callable[[gym.Env], Agent]
"""Builds an agent for the (wrapped) env it will act in."""


@dataclass(frozen=True)
class AgentSpec:
    """A registered agent: its name, how to build it, and what it needs of the env.

    ``needs`` holds the make keywords the agent expects (``{"info_mode": "scheduler"}``
    for the heuristics); ``kind`` is ``"heuristic"`` or ``"learner"``.
    """

    name: str
    factory: AgentFactory
    description: str
    needs: dict[str, Any] = field(default_factory=dict)
    kind: str = "heuristic"


AGENTS: dict[str, AgentSpec] = {}
"""Every agent by name (heuristics here; learners are added from ``sb3.ALGOS`` on use)."""


def register_agent(spec: AgentSpec) -> None:
    """Add ``spec`` to :data:`AGENTS` (a name already taken raises ``ValueError``)."""
    if spec.kind not in ("heuristic", "learner"):
        raise ValueError(f"agent {spec.name!r}: kind must be 'heuristic' or 'learner', got {spec.kind!r}")
    if spec.name in AGENTS and AGENTS[spec.name] != spec:
        raise ValueError(f"agent name {spec.name!r} is already registered")
    AGENTS[spec.name] = spec


for _name, _description in heuristics.DESCRIPTIONS.items():
    register_agent(
        AgentSpec(
            name=_name,
            factory=heuristics.HEURISTICS[_name],  # each takes the env, wrapped or not
            description=_description,
            needs={} if _name == "random" else {"info_mode": "scheduler"},
        )
    )


def learner_names() -> tuple[str, ...] | None:
    """The SB3 algorithm names (``sb3.ALGOS``), or None when the ``rl`` extra is missing."""
    try:
        from eat_bench.baselines.sb3 import ALGOS
    except ImportError:
        return None
    return tuple(ALGOS)


def agent_names() -> list[str]:
    """Every name :func:`make_agent` knows: heuristics, then learners (when installed)."""
    return [*AGENTS, *(n for n in learner_names() or () if n not in AGENTS)]


def _is_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".zip") or os.sep in name_or_path or "/" in name_or_path


def _unknown(name: str) -> ValueError:
    learners = learner_names()
    learned = (
        f"; learners (pass a saved model path, e.g. runs/x/model.zip): {', '.join(learners)}"
        if learners
        else f"; learners need {RL_EXTRA_HINT}"
    )
    return ValueError(f"unknown agent {name!r}; heuristics: {', '.join(AGENTS)}{learned}")


def _check_model_path(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"agent model file {path!r} does not exist (give a heuristic name or a saved model .zip)")
    return p


def make_agent(name_or_path: str, env: gym.Env) -> Agent:
    """The agent ``name_or_path`` bound to ``env``: a registered name, or a saved SB3
    model's path. Unknown names raise ``ValueError`` listing the valid ones."""
    spec = AGENTS.get(name_or_path)
    if spec is not None:
        return spec.factory(env)
    if not _is_path(name_or_path):
        learners = learner_names() or ()
        if name_or_path in learners:
            raise ValueError(
                f"agent {name_or_path!r} is a learner: train it first (eat-bench train --algo {name_or_path} ...) "
                "and pass the saved model's path (e.g. runs/x/model.zip)"
            )
        raise _unknown(name_or_path)
    path = _check_model_path(name_or_path)
    try:
        from eat_bench.baselines.sb3 import load_agent
    except ImportError as err:
        raise ValueError(f"loading {path} needs the rl extra ({err}); install it with {RL_EXTRA_HINT}") from None
    return load_agent(path, env)


def agent_env_kwargs(name_or_path: str) -> dict[str, Any]:
    """The make keywords the agent needs: a name's ``needs``; for a saved model, the
    observation and action modes it was trained with (``train.json`` beside it)."""
    spec = AGENTS.get(name_or_path)
    if spec is not None:
        return dict(spec.needs)
    if not _is_path(name_or_path):
        if name_or_path in (learner_names() or ()):
            return {}
        raise _unknown(name_or_path)
    path = _check_model_path(name_or_path)
    try:
        from eat_bench.baselines import sb3
    except ImportError:
        sb3 = None
    model_env_kwargs = getattr(sb3, "model_env_kwargs", None)
    if model_env_kwargs is not None:
        return dict(model_env_kwargs(path))
    meta = path.with_name("train.json")
    if not meta.is_file():
        return {}
    try:
        train = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{meta}: not a readable train.json ({err})") from None
    return {k: train[k] for k in ("obs_mode", "action_mode") if isinstance(train.get(k), str)}


# ---------------------------------------------------------------------- multi-agent
@runtime_checkable
class MultiAgent(Protocol):
    """Everything that acts in ``edge_sites_v0``: one call decides for every live agent."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, observations: dict[str, Any], infos: dict[str, dict[str, Any]]) -> dict[str, Any]: ...


MultiAgentFactory = Callable[[Any], MultiAgent]
"""Builds a multi-agent policy for a PettingZoo parallel env of ``edge_sites_v0``."""


def _bounds(nvec: tuple[int, ...]) -> list[tuple[int, int]]:
    edges = np.cumsum((0, *nvec)).tolist()
    return list(zip(edges[:-1], edges[1:]))


class RandomMultiAgent:
    """Per agent, a uniform choice per action component among those its mask allows."""

    def __init__(self, env: Any) -> None:
        self.nvec = tuple(env.nvec)
        self.rng = np.random.default_rng()

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observations: dict[str, Any], infos: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from eat_bench.baselines.marl_ppo import random_action

        return {a: random_action(infos[a]["action_mask"], self.nvec, self.rng) for a in observations}


class LocalFirstMultiAgent:
    """Per agent, :func:`eat_bench.baselines.marl_ppo.local_first_action`: the oldest own
    task, locally when a local server is free, else at the nearest site with one, at
    degree index 0 and the step level nearest 30."""

    def __init__(self, env: Any) -> None:
        self.nvec = tuple(env.nvec)
        levels = list(env.step_levels)
        self.steps_index = min(range(len(levels)), key=lambda i: abs(levels[i] - 30))

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observations: dict[str, Any], infos: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from eat_bench.baselines.marl_ppo import local_first_action

        return {a: local_first_action(infos[a]["action_mask"], self.nvec, self.steps_index) for a in observations}


class SharedPolicyAgent:
    """A parameter-shared policy (one network for every site, as ``marl_ppo`` trains it):
    ``policy(stacked observations, stacked flat masks) -> stacked actions``, or an SB3
    model (``predict``; masks passed when it is maskable)."""

    def __init__(self, policy: Any, deterministic: bool = False) -> None:
        self.policy = policy
        self.deterministic = deterministic

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observations: dict[str, Any], infos: dict[str, dict[str, Any]]) -> dict[str, Any]:
        agents = list(observations)
        obs = np.stack([observations[a] for a in agents])
        masks = np.stack([infos[a]["action_mask"] for a in agents])
        predict = getattr(self.policy, "predict", None)
        if predict is None:
            actions = self.policy(obs, masks)
        elif "MaskablePPO" in type(self.policy).__name__:
            actions, _ = predict(obs, action_masks=masks, deterministic=self.deterministic)
        else:
            actions, _ = predict(obs, deterministic=self.deterministic)
        actions = np.asarray(actions, dtype=np.int64)
        return {a: actions[j] for j, a in enumerate(agents)}


@dataclass(frozen=True)
class MultiAgentSpec:
    """A registered multi-agent policy for ``edge_sites_v0``."""

    name: str
    factory: MultiAgentFactory
    description: str


MULTI_AGENTS: dict[str, MultiAgentSpec] = {
    "random": MultiAgentSpec("random", RandomMultiAgent, "masked uniform choice per component, per site"),
    "local-first": MultiAgentSpec(
        "local-first", LocalFirstMultiAgent, "oldest own task, locally if a server is free, else the nearest site"
    ),
}
"""Multi-agent policies by name (a trained shared policy goes through :class:`SharedPolicyAgent`)."""


def make_multi_agent(name: str, env: Any) -> MultiAgent:
    """The multi-agent policy ``name`` for the parallel env ``env``."""
    try:
        return MULTI_AGENTS[name].factory(env)
    except KeyError:
        raise ValueError(f"unknown multi-agent policy {name!r}; choose from {', '.join(MULTI_AGENTS)}") from None
