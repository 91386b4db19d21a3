"""Checks for environment authors: lockstep determinism over many steps and episodes.

In the spirit of ``gymnasium.utils.env_checker.check_env`` and ``pettingzoo.test``: call
:func:`check_determinism` from a test. It builds two envs, resets both with one seed,
drives both with the same seeded (masked, where the env gives masks) random actions
across episode ends, and fails with an ``AssertionError`` that names the step, the agent
and the field at the first difference. PettingZoo 1.27's ``parallel_seed_test`` compares
the first step only; this check runs as long as you ask.

Works for Gymnasium envs (``gymnasium.Env``, wrapped or not) and PettingZoo
``ParallelEnv`` s (told apart by their API). ``import eat_bench`` does not import this
module; it needs gymnasium and numpy, not torch or pettingzoo.

>>> import gymnasium as gym
>>> import eat_bench
>>> from eat_bench.testing import check_determinism
>>> report = check_determinism(lambda: gym.make("EAT-Edge-v0", num_tasks=10), steps=60, seed=0)
>>> report.steps, report.episodes >= 2
(60, True)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Number
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["DeterminismReport", "check_determinism", "check_seed_changes_trajectory", "first_difference"]


@dataclass(frozen=True)
class DeterminismReport:
    """What a passing check covered: env steps taken and episodes started (resets)."""

    steps: int
    episodes: int


def first_difference(a: Any, b: Any) -> str | None:
    """Where and how ``a`` and ``b`` differ (``None`` when equal), compared exactly.

    Arrays must agree in dtype, shape and values (NaN equals NaN); numbers in type and
    value; dicts in keys; lists and tuples in length and items. Other objects (not numbers,
    flags, strings, arrays or containers of them) are not compared.
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if list(a.keys()) != list(b.keys()):
            return f": keys {list(a.keys())} != {list(b.keys())}"
        for key in a:
            diff = first_difference(a[key], b[key])
            if diff is not None:
                return f"[{key!r}]{diff}"
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return f": {type(a).__name__} of {len(a)} != {type(b).__name__} of {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y)
            if diff is not None:
                return f"[{i}]{diff}"
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f": {type(a).__name__} != {type(b).__name__}"
        if a.dtype != b.dtype or a.shape != b.shape:
            return f": array {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        equal_nan = a.dtype.kind in "fc"
        if np.array_equal(a, b, equal_nan=equal_nan):
            return None
        same = np.asarray(a == b)
        if equal_nan:
            same = same | (np.isnan(a) & np.isnan(b))
        where = np.argwhere(~same)
        index = tuple(int(i) for i in where[0]) if len(where) else ()
        return f": arrays differ first at index {index}: {a[index]!r} != {b[index]!r}"
    scalars = (Number, np.generic, str, bytes, type(None))
    if isinstance(a, scalars) or isinstance(b, scalars):
        if type(a) is not type(b):
            return f": {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
        if isinstance(a, (float, np.floating)) and math.isnan(a) and math.isnan(b):
            return None
        return None if a == b else f": {a!r} != {b!r}"
    return None  # an object of another kind: not compared


def _is_parallel_env(env: Any) -> bool:
    """A PettingZoo ParallelEnv: per-agent ``action_space(agent)`` and ``possible_agents``, no ``agent_iter``."""
    return (
        hasattr(env, "possible_agents")
        and callable(getattr(env, "action_space", None))
        and not hasattr(env, "agent_iter")
    )


def _split_mask(space: spaces.Space, mask: Any) -> Any:
    """The mask as one int8 array per component (a flat MultiDiscrete mask is split), or None."""
    if mask is None:
        return None
    if isinstance(space, spaces.MultiDiscrete):
        if isinstance(mask, (tuple, list)):
            return tuple(np.asarray(part, dtype=np.int8) for part in mask)
        if space.nvec.ndim != 1:
            return None
        flat = np.asarray(mask, dtype=np.int8).ravel()
        if flat.size != int(space.nvec.sum()):
            raise AssertionError(f"action mask of {flat.size} entries for {space} (needs {int(space.nvec.sum())})")
        return tuple(np.split(flat, np.cumsum(space.nvec)[:-1]))
    if isinstance(space, spaces.Discrete):
        return np.asarray(mask, dtype=np.int8).ravel()
    return None


def _sample(space: spaces.Space, mask: Any, rng: np.random.Generator) -> Any:
    """A uniform choice among the allowed values of each component (``space.sample()`` without a mask)."""
    if mask is None or not isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return space.sample()
    parts = (mask,) if isinstance(space, spaces.Discrete) else mask
    picks = []
    for part in parts:
        allowed = np.flatnonzero(part)
        picks.append(int(allowed[rng.integers(allowed.size)]) if allowed.size else 0)  # none allowed: the first
    if isinstance(space, spaces.Discrete):
        return np.int64(space.start + picks[0])
    return np.asarray(picks, dtype=space.dtype).reshape(space.shape) + space.start


def _gym_mask(env: gym.Env) -> Any:
    """The env's ``action_masks()`` (through wrappers), or ``None`` for spaces without masks."""
    if not isinstance(env.action_space, (spaces.Discrete, spaces.MultiDiscrete)):
        return None
    if hasattr(env, "get_wrapper_attr"):
        try:
            return env.get_wrapper_attr("action_masks")()
        except AttributeError:
            return None
    method = getattr(env.unwrapped, "action_masks", None)
    return None if method is None else method()


def _parallel_masks(env: Any, infos: Mapping[str, Any]) -> dict[str, Any]:
    """Each live agent's mask: ``infos[agent]["action_mask"]`` (flat or per component), else ``action_masks()`` rows."""
    masks: dict[str, Any] = {}
    rows = None
    for agent in env.agents:
        mask = infos.get(agent, {}).get("action_mask") if isinstance(infos.get(agent), Mapping) else None
        if mask is None and callable(getattr(env, "action_masks", None)):
            if rows is None:
                rows = env.action_masks()
            mask = rows[list(env.possible_agents).index(agent)]
        masks[agent] = mask
    return masks


def _clone(action: Any) -> Any:
    return action.copy() if isinstance(action, np.ndarray) else copy.deepcopy(action)


def _state(env: Any) -> Any:
    """``env.state()`` for centralised critics, or ``None`` when the env has none."""
    method = getattr(env, "state", None)
    if not callable(method):
        return None
    try:
        return method()
    except NotImplementedError:
        return None


class _Lockstep:
    """Runs two envs side by side with the same actions; :meth:`run` returns the first difference."""

    def __init__(self, env_fn: Callable[[], Any], steps: int, seeds: tuple[int, int], action_seed: int, reseed: bool):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.envs = (env_fn(), env_fn())
        if self.envs[0] is self.envs[1]:
            raise ValueError("env_fn returned the same env object twice; it must build a new env each call")
        self.steps, self.seeds, self.reseed = steps, seeds, reseed
        self.rng = np.random.default_rng(action_seed)  # seeds for later resets
        self.parallel = _is_parallel_env(self.envs[0])
        if not self.parallel and not isinstance(self.envs[0], gym.Env):
            raise TypeError(
                f"check_determinism supports gymnasium.Env and PettingZoo ParallelEnv, got {type(self.envs[0]).__name__}"
            )
        self.episodes = 0
        self._action_seed = action_seed
        self._spaces: dict[Any, tuple[spaces.Space, np.random.Generator]] = {}

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _sample(self, agent: Any, mask: Any) -> Any:
        """An action for ``agent`` (``None`` for a Gymnasium env) from its own seeded generator and
        a private copy of its action space (the env's own space and its RNG are left alone)."""
        if agent not in self._spaces:
            env = self.envs[0]
            space = copy.deepcopy(env.action_space(agent) if self.parallel else env.action_space)
            offset = list(env.possible_agents).index(agent) if self.parallel else 0
            space.seed(self._action_seed + offset)
            self._spaces[agent] = (space, np.random.default_rng(self._action_seed + offset))
        space, rng = self._spaces[agent]
        return _sample(space, _split_mask(space, mask), rng)

    def _reset(self, where: str) -> str | None:
        if self.episodes == 0:
            seeds: tuple[int | None, int | None] = self.seeds
        elif self.reseed:
            derived = int(self.rng.integers(2**31 - 1))
            seeds = (derived, derived + self.seeds[1] - self.seeds[0])
        else:
            seeds = (None, None)
        self.episodes += 1
        out = [env.reset(seed=s) for env, s in zip(self.envs, seeds)]
        self.infos = out[0][1]
        return self._compare(where, ("observation", "info"), out[0], out[1])

    def _compare(self, where: str, names: tuple[str, ...], out_a: tuple, out_b: tuple) -> str | None:
        for name, a, b in zip(names, out_a, out_b):
            if self.parallel:
                if list(a) != list(b):
                    return f"{where}, field {name!r}: agents {list(a)} != {list(b)}"
                for agent in a:
                    diff = first_difference(a[agent], b[agent])
                    if diff is not None:
                        return f"{where}, agent {agent!r}, field {name!r}{diff}"
            else:
                diff = first_difference(a, b)
                if diff is not None:
                    return f"{where}, field {name!r}{diff}"
        if self.parallel:
            diff = first_difference(_state(self.envs[0]), _state(self.envs[1]))
            if diff is not None:
                return f"{where}, field 'state()'{diff}"
        return None

    def _actions(self, where: str) -> tuple[Any, str | None]:
        """The next action (a dict per agent for parallel envs) and a mask difference, if any."""
        env_a, env_b = self.envs
        if self.parallel:
            masks = _parallel_masks(env_a, self.infos)
            if any(m is not None for m in masks.values()) and callable(getattr(env_b, "action_masks", None)):
                diff = first_difference(np.asarray(env_a.action_masks()), np.asarray(env_b.action_masks()))
                if diff is not None:
                    return None, f"{where}, field 'action_masks()'{diff}"
            return {agent: self._sample(agent, masks[agent]) for agent in env_a.agents}, None
        mask_a, mask_b = _gym_mask(env_a), _gym_mask(env_b)
        diff = first_difference(mask_a, mask_b)
        if diff is not None:
            return None, f"{where}, field 'action_masks()'{diff}"
        return self._sample(None, mask_a), None

    def run(self) -> str | None:
        diff = self._reset("reset before step 0 (episode 0)")
        if diff is not None:
            return diff
        names = ("observation", "reward", "terminated", "truncated", "info")
        if self.parallel:
            names = ("observations", "rewards", "terminations", "truncations", "infos")
        for t in range(self.steps):
            where = f"step {t} (episode {self.episodes - 1})"
            action, diff = self._actions(where)
            if diff is not None:
                return diff
            out_a = self.envs[0].step(_clone(action))
            out_b = self.envs[1].step(_clone(action))
            diff = self._compare(where, names, out_a, out_b)
            if diff is not None:
                return diff
            self.infos = out_a[4]
            ended = not self.envs[0].agents if self.parallel else bool(out_a[2] or out_a[3])
            if ended and t + 1 < self.steps:
                diff = self._reset(f"reset after step {t} (episode {self.episodes})")
                if diff is not None:
                    return diff
        return None


def check_determinism(
    env_fn: Callable[[], Any], steps: int = 1000, seed: int = 0, *, reseed: bool = True
) -> DeterminismReport:
    """Assert that two envs from ``env_fn`` give identical trajectories under identical actions.

    Both envs are reset with ``seed`` and stepped ``steps`` times with the same random
    actions (drawn from a seeded copy of the action space, with the env's action masks:
    ``action_masks()`` for a Discrete/MultiDiscrete Gymnasium env, ``infos[agent]["action_mask"]``
    (one flat array or a tuple per component) or ``action_masks()`` rows for a ParallelEnv).
    When an episode ends both are reset, with a seed drawn from ``seed`` (``reseed=True``)
    or with none (``reseed=False``: checks that the env's own generators carry on
    deterministically). Observations, rewards, terminations, truncations, infos (numbers,
    flags, strings, arrays), the masks and, for ParallelEnvs, ``state()`` must be equal at
    every step; otherwise ``AssertionError`` names the step, the agent and the field.
    """
    lockstep = _Lockstep(env_fn, steps, (seed, seed), seed, reseed)
    try:
        diff = lockstep.run()
    finally:
        lockstep.close()
    if diff is not None:
        raise AssertionError(f"not deterministic: {diff}")
    return DeterminismReport(steps=steps, episodes=lockstep.episodes)


def check_seed_changes_trajectory(env_fn: Callable[[], Any], seeds: tuple[int, int] = (0, 1), steps: int = 50) -> str:
    """Assert that two different reset seeds give different trajectories under the same actions.

    Returns where they first differ (e.g. ``"reset before step 0 (episode 0), field 'observation'..."``);
    raises ``AssertionError`` when ``steps`` steps from the two seeds are identical, i.e.
    the seed does not reach the workload.
    """
    if seeds[0] == seeds[1]:
        raise ValueError(f"seeds must differ, got {seeds}")
    lockstep = _Lockstep(env_fn, steps, seeds, seeds[0], reseed=True)
    try:
        diff = lockstep.run()
    finally:
        lockstep.close()
    if diff is None:
        raise AssertionError(f"seeds {seeds[0]} and {seeds[1]} gave identical trajectories over {steps} steps")
    return diff
