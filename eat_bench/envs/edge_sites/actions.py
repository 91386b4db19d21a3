"""``edge_sites_v0``'s actions: validation, the decision rule, and the action masks.

Per agent ``MultiDiscrete([Q + 1, S, D, L])`` (slot, relative target site, degree index,
step level). Masks are per component (see :meth:`SiteActions._mask_parts`); infos carry
them concatenated as one flat ``int8`` array (PettingZoo's, MaskablePPO's and TorchRL's
convention), :meth:`SiteActions.action_mask_parts` as the per-component tuple that
``MultiDiscrete.sample(mask=...)`` takes. Every mask array comes from a cache of
read-only arrays, so a step allocates none. A mixin of
:class:`~eat_bench.envs.edge_sites.env.EdgeSitesEnv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["SiteActions", "FlatMaskMultiDiscrete"]


class FlatMaskMultiDiscrete(spaces.MultiDiscrete):
    """A ``MultiDiscrete`` whose ``sample(mask=...)`` also takes one flat mask (the
    components concatenated), as PettingZoo's tests and users pass ``info["action_mask"]``
    to it. A tuple of per-component masks works as in gymnasium. Everything else is
    ``MultiDiscrete`` (``isinstance`` holds; SB3, TorchRL and gymnasium's utilities see
    the parent space)."""

    def sample(self, mask=None, probability=None):
        if isinstance(mask, np.ndarray) and mask.ndim == 1 and self.nvec.ndim == 1:
            if mask.shape[0] != int(self.nvec.sum()):
                raise ValueError(
                    f"{self}: a flat mask needs {int(self.nvec.sum())} entries (the components' sizes "
                    f"{self.nvec.tolist()} added up), got {mask.shape[0]}"
                )
            mask = tuple(np.split(mask.astype(np.int8, copy=False), np.cumsum(self.nvec)[:-1]))
        return super().sample(mask=mask, probability=probability)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class SiteActions:
    """Action spaces, validation, masks (see the module docstring)."""

    def _build_actions(self) -> None:
        """Action spaces, the mask layout and its caches."""
        S, Q = self.num_sites, self.queue_len
        D = len(self.degrees) if self.agent_degree else 1
        self.nvec = (Q + 1, S, D, len(self.step_levels))
        bounds = np.cumsum((0,) + self.nvec)
        self._mask_bounds = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._mask_size = int(bounds[-1])
        self._act_spaces: dict[str, spaces.Space] = {a: FlatMaskMultiDiscrete(self.nvec) for a in self.possible_agents}
        # Mask components (see _mask_parts): degree row ``m`` says which degrees fit ``m``
        # free servers (index 0 always open).
        largest = int(self._site_size.max())
        degree_table = np.arange(largest + 1)[:, None] >= np.asarray(self.degrees if self.agent_degree else (0,))
        degree_table[:, 0] = True
        self._degree_table = degree_table
        (s0, _), (t0, _), (d0, _), (p0, p1) = self._mask_bounds
        wait_only = np.zeros(self._mask_size, dtype=bool)  # nothing can start anywhere
        wait_only[[s0, t0, d0]] = True
        wait_only[p0:p1] = True
        self._wait_only_mask = wait_only
        self._make_mask_parts()

    def action_mask_parts(self, agent: str) -> tuple[np.ndarray, ...]:
        """``agent``'s mask now as four read-only ``int8`` arrays, one per component:
        ``env.action_space(agent).sample(mask=env.action_mask_parts(agent))``."""
        return self._masks()[self._agent_index[agent]][0]

    def _make_mask_parts(self) -> None:
        """The read-only ``int8`` mask components that infos share, and empty caches
        (made again after unpickling, which does not keep arrays read-only)."""
        int8_parts = [
            _read_only(part) for part in np.split(self._wait_only_mask.astype(np.int8), np.cumsum(self.nvec)[:-1])
        ]
        self._wait_only_parts = tuple(int8_parts)
        self._wait_only_entry = (self._wait_only_parts, _read_only(np.concatenate(int8_parts)))
        self._steps_part = int8_parts[3]
        self._degree_parts = [_read_only(row.astype(np.int8)) for row in self._degree_table]
        slot_index = np.arange(self.queue_len + 1)
        self._slot_parts = [_read_only((slot_index <= n).astype(np.int8)) for n in range(self.queue_len + 1)]
        self._target_parts: dict[int, np.ndarray] = {}
        self._mask_cache: dict[int, tuple[np.ndarray, ...]] = {}

    _MASK_PARTS = (
        "_wait_only_parts",
        "_wait_only_entry",
        "_steps_part",
        "_degree_parts",
        "_slot_parts",
        "_target_parts",
        "_mask_cache",
    )

    def action_masks(self) -> np.ndarray:
        """Flat boolean masks, one row per agent in ``possible_agents`` order (MaskablePPO)."""
        return np.array([flat for _, flat in self._masks()], dtype=bool)

    def _validate(self, actions: Any) -> list[list[int]]:
        """Per agent ``[slot, relative target, degree index, step index]``; raises
        ValueError naming the agent and the problem."""
        if not isinstance(actions, dict):
            raise ValueError(
                f"{self.metadata['name']}: actions must be a dict {{agent: action}}, got {type(actions).__name__}"
            )
        agents = self.agents
        if actions.keys() != self._live_keys:
            unknown = [a for a in actions if a not in self._agent_index]
            if unknown:
                raise ValueError(
                    f"{self.metadata['name']}: unknown agent(s) {unknown!r}; agents are {self.possible_agents}"
                )
            dead = [a for a in actions if a not in agents]
            if dead:
                raise ValueError(f"{self.metadata['name']}: agent(s) {dead!r} are not live (live: {agents})")
            missing = [a for a in agents if a not in actions]
            raise ValueError(
                f"{self.metadata['name']}: no action for agent(s) {missing!r}; every live agent must act each step"
            )
        rows = [actions[a] for a in agents]
        n0, n1, n2, n3 = self.nvec
        # Fast path: integer arrays of shape (4,) with values in range; anything else is
        # checked agent by agent (which names the first bad one).
        try:
            values = [row.tolist() for row in rows if row.dtype.kind in "iu"]
            if len(values) == len(rows):
                for a, b, c, d in values:
                    if not (0 <= a < n0 and 0 <= b < n1 and 0 <= c < n2 and 0 <= d < n3):
                        break
                else:
                    return values
        except (AttributeError, TypeError, ValueError):
            pass
        return [self._check_one(agent, action) for agent, action in zip(agents, rows)]

    def _check_one(self, agent: str, action: Any) -> list[int]:
        """One agent's action as ``[slot, target, degree, steps]``, or ValueError."""
        space = self._act_spaces[agent]
        if action is None or isinstance(action, (bool, np.bool_, str, bytes, dict)):
            raise ValueError(
                f"{self.metadata['name']}: action for {agent} must be 4 integers in {space}, got {action!r}"
            )
        try:
            array = np.asarray(action)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"{self.metadata['name']}: action for {agent} is not an integer array ({err}); expected {space}"
            ) from None
        if array.shape != (4,):
            raise ValueError(
                f"{self.metadata['name']}: action for {agent} has shape {array.shape}, expected (4,) for {space}"
            )
        if array.dtype.kind not in "iu":
            raise ValueError(
                f"{self.metadata['name']}: action for {agent} has dtype {array.dtype}, expected integers for {space}"
            )
        names = ("slot", "target", "degree", "steps")
        for k, (v, n) in enumerate(zip(array.tolist(), self.nvec)):
            if not 0 <= v < n:
                raise ValueError(
                    f"{self.metadata['name']}: action for {agent}: {names[k]} index a[{k}] = {v} is outside 0..{n - 1} ({space})"
                )
        return array.tolist()

    def _some_agent_can_decide(self) -> bool:
        """Whether some site's visible queue holds a task whose degree fits the most
        free servers of any site ("task" degree mode)."""
        sim = self.sim
        most = max(sim.free_count)
        if most < self._min_degree:
            return False
        Q, site, degree, min_degree = self.queue_len, self._task_site_list, self._task_degree_list, self._min_degree
        seen = [0] * self.num_sites
        for task in sim.queue:
            s = site[task]
            if seen[s] < Q:
                seen[s] += 1
                if (degree[task] or min_degree) <= most:
                    return True
        return False

    def _idle_infos(self, agents: list[str]) -> dict[str, dict[str, Any]]:
        """Each agent's info for a step in which it did not try to dispatch (every key of
        the numeric info contract, with its flat mask)."""
        base = {
            "invalid_action": False,
            "conflict": False,
            "dispatched_task": -1,
            "target_site": -1,
            "time_s": self.sim.now,
        }
        return {agent: dict(base, action_mask=entry[1]) for agent, entry in zip(agents, self._masks())}

    def _masks(self) -> list[tuple[tuple[np.ndarray, ...], np.ndarray]]:
        """Every agent's action mask as (four ``int8`` component arrays, their flat
        concatenation).

        When no site has ``degrees[0]`` free servers only "wait" is open (with the own
        site, the first degree and every step level, so each component has a valid
        entry). Otherwise slot j >= 1 is open when j <= the site's visible count (in
        "task" degree mode: when that task's own degree fits the most free servers of
        any site), target r when site (i + r) % S has ``degrees[0]`` free servers,
        degree d when some site has ``degrees[d]`` free, and every step level. The
        arrays come from caches of read-only arrays: slot masks by visible count, target
        masks by the free-site bits rotated to the agent's order, degree masks by the
        most free servers."""
        free = self.sim.free_count
        most = max(free)
        S = self.num_sites
        if most < self._min_degree:
            return [self._wait_only_entry] * S
        need = self._min_degree
        bits = 0
        for s, f in enumerate(free):
            if f >= need:
                bits |= 1 << s
        bits |= bits << S  # doubled: agent i's relative order is bits i .. i + S - 1
        full = (1 << S) - 1
        dkey = min(most, len(self._degree_parts) - 1)
        degree, steps = self._degree_parts[dkey], self._steps_part
        if self.agent_degree:
            # One cached entry per (degree row, visible count, rotated target bits).
            cache = self._mask_cache
            if len(cache) > 1 << 14:
                cache.clear()
            prefix = dkey * (self.queue_len + 1)
            parts = []
            for i, n in enumerate(self._vis_counts):
                rotated = (bits >> i) & full
                key = ((prefix + n) << S) | rotated
                mask = cache.get(key)
                if mask is None:
                    parts_i = (self._slot_parts[n], self._target_part(rotated), degree, steps)
                    mask = cache[key] = (parts_i, _read_only(np.concatenate(parts_i)))
                parts.append(mask)
            return parts
        slots = [_read_only(row.view(np.int8)) for row in self._task_slot_masks(most)]
        out = []
        for i, slot in enumerate(slots):
            parts_i = (slot, self._target_part((bits >> i) & full), degree, steps)
            out.append((parts_i, _read_only(np.concatenate(parts_i))))
        return out

    def _target_part(self, rotated: int) -> np.ndarray:
        """The target mask for free-site bits ``rotated`` (bit r: relative site r)."""
        targets = self._target_parts
        target = targets.get(rotated)
        if target is None:
            if len(targets) > 1 << 12:
                targets.clear()
            target = targets[rotated] = _read_only(
                np.array([rotated >> r & 1 for r in range(self.num_sites)], dtype=np.int8)
            )
        return target

    def _task_slot_masks(self, most: int) -> np.ndarray:
        """Slot masks in "task" degree mode: wait, and every visible task whose own
        degree fits ``most`` free servers (one bool row per agent)."""
        rows = np.empty((self.num_sites, self.nvec[0]), dtype=bool)
        rows[:, 0] = True
        np.less_equal(self._vis_degree, most, out=rows[:, 1:])
        return rows
