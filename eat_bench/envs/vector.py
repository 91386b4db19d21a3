"""Stable-Baselines3 vector envs over a PettingZoo parallel env (parameter sharing).

SB3 trains one shared policy on a multi-agent env when every agent of every env copy is
one entry of a :class:`~stable_baselines3.common.vec_env.VecEnv`. SuperSuit's route
(``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1(..., base_class=
"stable_baselines3")``) has two defects with SuperSuit 3.11 and SB3 2.9: ``seed()``
fails (``'ConcatVecEnv' object has no attribute 'seed'``), so ``PPO(..., seed=0)``
cannot be reproduced, and truncation is folded into ``dones`` without
``TimeLimit.truncated``, so SB3 does not bootstrap the value of a time-limited state.
This module ships two small adapters that fix both:

* :class:`SharedPolicyVecEnv` (``backend="direct"``, the default): a ``VecEnv``
  written directly over ``copies`` instances of the parallel env. Entry
  ``c * num_agents + j`` is agent ``possible_agents[j]`` of copy ``c``.
* :class:`SuperSuitVecEnv` (``backend="supersuit"``): SuperSuit's own
  ``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1`` (gymnasium base class)
  wrapped as an SB3 ``VecEnv``, same entry order.

Both give:

* ``seed(s)`` then ``reset()``: copy ``c`` is reset with seed ``s + c``; later
  automatic resets pass no seed, so every episode after the first follows from ``s``
  (the env's own generator). The same seed gives the same rollouts, and both backends
  give the same rollouts as each other.
* ``dones[k] = terminated or truncated``; when an episode ends,
  ``infos[k]["terminal_observation"]`` (the last observation, before the automatic
  reset) and ``infos[k]["TimeLimit.truncated"] = truncated and not terminated``.
* ``action_masks()``: one flat boolean mask per entry, from each agent's
  ``info["action_mask"]`` (a flat mask; a tuple of per-component masks is accepted too), so
  sb3-contrib's ``MaskablePPO`` works as is; all True when the env gives no masks.
* Rewards as ``float32``; every agent must stay live until its copy's episode ends
  (agents of ``edge_sites_v0`` always do).

Example:

>>> import numpy as np
>>> from eat_bench.envs import edge_sites_v0
>>> from eat_bench.envs.vector import make_vec_env
>>> venv = make_vec_env(lambda: edge_sites_v0.parallel_env(num_sites=2, servers_per_site=2, tasks_per_site=5), copies=2)
>>> venv.num_envs
4
>>> _ = venv.seed(0)
>>> obs = venv.reset()
>>> obs.shape == (4,) + venv.observation_space.shape
True
>>> venv.action_masks().shape == (4, int(venv.action_space.nvec.sum()))
True
>>> obs, rewards, dones, infos = venv.step(np.zeros((4, 4), dtype=np.int64))  # every agent waits
>>> rewards.dtype, dones.shape
(dtype('float32'), (4,))
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

__all__ = ["SharedPolicyVecEnv", "SuperSuitVecEnv", "make_vec_env", "flat_mask"]

EnvFactory = Callable[[], ParallelEnv]


def flat_mask(info: dict[str, Any], action_space: spaces.Space) -> np.ndarray:
    """An agent's flat boolean action mask from its info (all True when it has none)."""
    parts = info.get("action_mask")
    if parts is None:
        size = (
            int(np.sum(action_space.nvec))
            if isinstance(action_space, spaces.MultiDiscrete)
            else int(getattr(action_space, "n", 1))
        )
        return np.ones(size, dtype=bool)
    mask = np.concatenate(parts) if isinstance(parts, tuple) else parts
    return np.asarray(mask, dtype=bool)


def _shared_spaces(env: ParallelEnv) -> tuple[spaces.Space, spaces.Space]:
    agents = list(env.possible_agents)
    obs_space, act_space = env.observation_space(agents[0]), env.action_space(agents[0])
    for agent in agents[1:]:
        if env.observation_space(agent) != obs_space or env.action_space(agent) != act_space:
            raise ValueError(f"parameter sharing needs equal spaces for every agent; {agent} differs from {agents[0]}")
    return obs_space, act_space


def _stack(space: spaces.Space, items: Sequence[Any]) -> Any:
    if isinstance(space, spaces.Dict):
        return {key: np.stack([item[key] for item in items]) for key in space.spaces}
    return np.stack(items)


def _index(obs: Any, k: int) -> Any:
    if isinstance(obs, dict):
        return {key: value[k] for key, value in obs.items()}
    return obs[k]


class _CopiesVecEnv(VecEnv):
    """What both adapters share: entry ``k`` is agent ``k % S`` of copy ``k // S``;
    attributes and methods are forwarded to the copy's parallel env (``_copies``)."""

    _copies: list[ParallelEnv]
    num_agents: int

    def _entry_infos(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Copy ``c`` is reset with ``seed + c`` at the next :meth:`reset` (SuperSuit's
        own convention for ``ConcatVecEnv.reset(seed=)``)."""
        if seed is None:
            self._seeds = [None] * self.num_envs
        else:
            self._seeds = [seed + c for c in range(len(self._copies)) for _ in range(self.num_agents)]
        return self._seeds

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def _take_actions(self) -> np.ndarray:
        if self._actions is None:
            raise RuntimeError("step_async() must come before step_wait()")
        actions, self._actions = self._actions, None
        return actions

    def action_masks(self) -> np.ndarray:
        """Flat boolean masks, one row per entry (sb3-contrib MaskablePPO)."""
        return np.stack([flat_mask(info, self.action_space) for info in self._entry_infos()])

    def render(self, mode: str | None = None):
        return self._copies[0].render()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [env.render() for env in self._copies]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self._copies[k // self.num_agents], attr_name) for k in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for c in sorted({k // self.num_agents for k in self._get_indices(indices)}):
            setattr(self._copies[c], attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        ids = list(self._get_indices(indices))
        if method_name == "action_masks":
            masks = self.action_masks()
            return [masks[k] for k in ids]
        # Once per copy (an env method such as reset must not run once per agent).
        results = {
            c: getattr(self._copies[c], method_name)(*method_args, **method_kwargs)
            for c in sorted({k // self.num_agents for k in ids})
        }
        return [results[k // self.num_agents] for k in ids]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks" or hasattr(self._copies[0], attr_name)


class SharedPolicyVecEnv(_CopiesVecEnv):
    """``copies`` instances of a parallel env as one SB3 ``VecEnv`` of
    ``copies * num_agents`` entries (see the module docstring)."""

    def __init__(self, env_fn: EnvFactory | ParallelEnv, copies: int = 1) -> None:
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise ValueError(f"copies must be a positive integer, got {copies!r}")
        if isinstance(env_fn, ParallelEnv):
            first = env_fn
            self.envs = [first] + [copy.deepcopy(first) for _ in range(copies - 1)]
        else:
            self.envs = []
            for _ in range(copies):
                env = env_fn()
                # A factory that hands back one instance would step it once per copy.
                self.envs.append(copy.deepcopy(env) if any(env is e for e in self.envs) else env)
        self.agents = list(self.envs[0].possible_agents)
        self.num_agents = len(self.agents)
        obs_space, act_space = _shared_spaces(self.envs[0])
        self._last_infos: list[list[dict[str, Any]]] = [[{} for _ in self.agents] for _ in self.envs]
        self._actions: np.ndarray | None = None
        super().__init__(copies * self.num_agents, obs_space, act_space)

    # ------------------------------------------------------------------ VecEnv API
    def reset(self):
        observations = []
        self.reset_infos = []
        for c, env in enumerate(self.envs):
            k = c * self.num_agents
            options = self._options[k] or None
            obs, infos = env.reset(seed=self._seeds[k], options=options)
            self._check_agents(env, c)
            observations.extend(obs[a] for a in self.agents)
            agent_infos = [infos.get(a, {}) for a in self.agents]
            self._last_infos[c] = agent_infos
            self.reset_infos.extend(agent_infos)
        self._reset_seeds()
        self._reset_options()
        return _stack(self.observation_space, observations)

    def step_wait(self):
        actions = self._take_actions()
        n = self.num_agents
        observations: list[Any] = []
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        all_infos: list[dict[str, Any]] = []
        for c, env in enumerate(self.envs):
            base = c * n
            acts = {a: actions[base + j] for j, a in enumerate(self.agents)}
            obs, rew, terms, truncs, infos = env.step(acts)
            ended = [bool(terms[a] or truncs[a]) for a in self.agents]
            done = all(ended)
            if any(ended) and not done:
                raise RuntimeError(f"copy {c}: some agents ended before the others; agent death is not supported")
            agent_infos = []
            for j, a in enumerate(self.agents):
                info = dict(infos.get(a, {}))
                rewards[base + j] = rew[a]
                if done:
                    info["terminal_observation"] = obs[a]
                    info["TimeLimit.truncated"] = bool(truncs[a] and not terms[a])
                agent_infos.append(info)
            dones[base : base + n] = done
            if done:
                obs, reset_infos = env.reset()
                self._check_agents(env, c)
                self._last_infos[c] = [reset_infos.get(a, {}) for a in self.agents]
            else:
                self._last_infos[c] = agent_infos
            observations.extend(obs[a] for a in self.agents)
            all_infos.extend(agent_infos)
        return _stack(self.observation_space, observations), rewards, dones, all_infos

    @property
    def _copies(self) -> list[ParallelEnv]:
        return self.envs

    def _entry_infos(self) -> list[dict[str, Any]]:
        return [info for infos in self._last_infos for info in infos]

    def close(self) -> None:
        for env in self.envs:
            env.close()

    # ------------------------------------------------------------------ helpers
    def _check_agents(self, env: ParallelEnv, c: int) -> None:
        if list(env.agents) != self.agents:
            raise RuntimeError(f"copy {c}: live agents {env.agents} differ from possible_agents {self.agents}")


class SuperSuitVecEnv(_CopiesVecEnv):
    """SuperSuit's vector env (``pettingzoo_env_to_vec_env_v1`` +
    ``concat_vec_envs_v1``) as a seedable, truncation-correct SB3 ``VecEnv``.

    SuperSuit steps ``copies`` clones of the env it is given (it copies them with
    cloudpickle); ``par_envs`` lists them. Reset options are the same for every copy."""

    def __init__(self, env: ParallelEnv | EnvFactory, copies: int = 1) -> None:
        import supersuit as ss

        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise ValueError(f"copies must be a positive integer, got {copies!r}")
        par_env = env if isinstance(env, ParallelEnv) else env()
        obs_space, act_space = _shared_spaces(par_env)
        self.agents = list(par_env.possible_agents)
        self.num_agents = len(self.agents)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            markov = ss.pettingzoo_env_to_vec_env_v1(par_env)
            self.venv = ss.concat_vec_envs_v1(markov, copies, num_cpus=0, base_class="gymnasium")
        self.par_envs = [sub.par_env for sub in self.venv.vec_envs]
        self._last_infos: list[dict[str, Any]] = [{} for _ in range(copies * self.num_agents)]
        self._actions: np.ndarray | None = None
        super().__init__(self.venv.num_envs, obs_space, act_space)

    def reset(self):
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, infos = self.venv.reset(seed=seed, options=options)
        self.reset_infos = list(infos)
        self._last_infos = list(infos)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_wait(self):
        actions = self._take_actions()
        obs, rewards, terminations, truncations, infos = self.venv.step(actions)
        terminations = np.asarray(terminations, dtype=bool)
        truncations = np.asarray(truncations, dtype=bool)
        dones = terminations | truncations
        infos = [dict(info) for info in infos]
        for k in np.flatnonzero(dones):
            infos[k]["TimeLimit.truncated"] = bool(truncations[k] and not terminations[k])
        self._last_infos = infos
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    @property
    def _copies(self) -> list[ParallelEnv]:
        return self.par_envs

    def _entry_infos(self) -> list[dict[str, Any]]:
        # After an automatic reset these are the new episode's (SuperSuit merges the
        # reset infos into the step's).
        return self._last_infos

    def close(self) -> None:
        self.venv.close()


def make_vec_env(env_fn: EnvFactory, copies: int = 1, backend: str = "direct") -> VecEnv:
    """A seedable, truncation-correct SB3 ``VecEnv`` over ``copies`` instances of the
    parallel env that ``env_fn`` makes; ``backend`` is ``"direct"`` or ``"supersuit"``."""
    if backend == "direct":
        return SharedPolicyVecEnv(env_fn, copies)
    if backend == "supersuit":
        return SuperSuitVecEnv(env_fn, copies)
    raise ValueError(f"backend must be 'direct' or 'supersuit', got {backend!r}")
