"""Action-space wrappers for learners that need another space than the env's own.

:class:`FlatDiscreteActions` turns the discrete env's ``MultiDiscrete([Q+1, D, L])``
(slot, degree index, step level) into one ``Discrete(prod(nvec))`` index, for algorithms
that only handle ``Discrete`` (SB3's DQN). The index is the mixed-radix number of the
components, first component most significant::

    index = (slot * D + degree) * L + level        # for nvec = (Q+1, D, L)

so index 0 is "wait, degree 0, level 0" and consecutive indices differ in the step level.
Its :meth:`~FlatDiscreteActions.action_masks` is the product of the component masks:
index ``i`` is valid when every one of its components is valid in the env's mask. The
env's masks are per component (a chosen degree may still not fit the chosen task), so
the flat mask is exactly as permissive as the component mask, no more; an infeasible
pick acts as wait, as it does unwrapped.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["FlatDiscreteActions", "flat_index", "unflatten_index", "flat_mask"]


def flat_index(action: np.ndarray | list[int], nvec: np.ndarray | tuple[int, ...]) -> int:
    """The mixed-radix index of a MultiDiscrete ``action`` (first component most significant)."""
    index = 0
    for value, n in zip(np.asarray(action).tolist(), np.asarray(nvec).tolist()):
        if not 0 <= value < n:
            raise ValueError(f"MultiDiscrete{list(nvec)}: component {value} is outside 0..{n - 1}")
        index = index * n + value
    return index


def unflatten_index(index: int, nvec: np.ndarray | tuple[int, ...]) -> np.ndarray:
    """The MultiDiscrete action whose mixed-radix index is ``index`` (inverse of :func:`flat_index`)."""
    sizes = np.asarray(nvec, dtype=np.int64)
    total = int(np.prod(sizes))
    if not 0 <= int(index) < total:
        raise ValueError(f"Discrete({total}): index {index} is outside 0..{total - 1}")
    return np.array(np.unravel_index(int(index), tuple(sizes.tolist())), dtype=np.int64)


def flat_mask(component_mask: np.ndarray, nvec: np.ndarray | tuple[int, ...]) -> np.ndarray:
    """The flat Discrete mask from MaskablePPO's concatenated per-component mask (their product)."""
    sizes = [int(n) for n in nvec]
    mask = np.asarray(component_mask, dtype=bool)
    if mask.shape != (sum(sizes),):
        raise ValueError(f"component mask has shape {mask.shape}, expected ({sum(sizes)},) for nvec {sizes}")
    out = np.ones((), dtype=bool)
    start = 0
    for n in sizes:
        out = np.logical_and.outer(out, mask[start : start + n])
        start += n
    return out.reshape(-1)


class FlatDiscreteActions(gym.ActionWrapper):
    """``MultiDiscrete(nvec)`` -> ``Discrete(prod(nvec))`` by mixed radix, with ``action_masks()``.

    >>> import gymnasium as gym
    >>> import eat_bench
    >>> env = FlatDiscreteActions(gym.make("EAT-Edge-v0", action_mode="discrete"))
    >>> env.action_space, env.nvec.tolist()
    (Discrete(132), [11, 3, 4])
    >>> env.action(14).tolist()  # (1 * 3 + 0) * 4 + 2: first visible task, degree index 0, level 2
    [1, 0, 2]
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.MultiDiscrete):
            raise ValueError(
                f"FlatDiscreteActions needs a MultiDiscrete action space (make the env with "
                f"action_mode='discrete'), got {env.action_space}"
            )
        self.nvec = np.asarray(env.action_space.nvec, dtype=np.int64).reshape(-1)
        self.action_space = spaces.Discrete(int(np.prod(self.nvec)))

    def action(self, action: Any) -> np.ndarray:
        """The env's MultiDiscrete action for a flat index."""
        return unflatten_index(int(np.asarray(action).reshape(())), self.nvec)

    def reverse_action(self, action: Any) -> int:
        """The flat index of an env (MultiDiscrete) action."""
        return flat_index(action, self.nvec)

    def action_masks(self) -> np.ndarray:
        """Valid flat indices: the product of the wrapped env's component masks."""
        return flat_mask(self.env.get_wrapper_attr("action_masks")(), self.nvec)
