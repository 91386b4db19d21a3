"""Observations (flat Box, or a dict of token matrices) and actions (continuous Box, or
MultiDiscrete with masks) of the single-agent env, encoded without per-step allocation
beyond the returned copy.

The columns of the task and server matrices and the global features are the named
layouts of :mod:`eat_bench.envs.observation` (``TASK_COLUMNS``, ``SERVER_COLUMNS``,
``GLOBAL_COLUMNS``): task rows are the visible queue slots (zeros past the queue's end,
``present`` = 0), server rows every server. The flat observation is tasks, servers,
globals, row-major.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

from eat_bench.envs.observation import (
    FULL_REWRITE_ABOVE,
    GLOBAL_COLUMNS,
    SERVER_COLUMNS,
    TASK_COLUMNS,
    TimeLinear,
    relative_speed,
    task_table,
)
from eat_bench.scenarios import ScenarioSpec
from eat_bench.sim.engine import Simulator

__all__ = ["ObservationEncoder", "ActionDecoder", "Decision"]

Decision = tuple[int, int, int]
"""(queue slot, degree, steps) of a dispatch; ``None`` stands for wait."""

NUM_GLOBALS = len(GLOBAL_COLUMNS.columns)
_G_NOW, _G_QUEUED, _G_ARRIVED, _G_FREE = (GLOBAL_COLUMNS.index(n) for n in ("now", "queued", "arrived", "free"))


class ObservationEncoder:
    """Builds observations from a :class:`Simulator`'s state, incrementally.

    Between two events every entry is linear in time (waits grow, remaining busy times
    shrink, and none crosses zero: a completion is an event), so the encoder keeps the
    observation as a :class:`~eat_bench.envs.observation.TimeLinear`. A queue change
    rewrites the task rows from a per-episode table; a server change rewrites only the
    servers the simulator reports changed. Each step then costs three vector operations,
    whatever the cluster's size, plus the rows that changed.
    """

    def __init__(self, spec: ScenarioSpec, sim: Simulator, mode: str) -> None:
        self.spec = spec
        self.sim = sim
        self.mode = mode
        cfg = sim.config
        self.num_models = M = len(sim.models)
        self.num_sites = S = cfg.num_sites
        self.queue_len = spec.queue_len
        self.task_features = TASK_COLUMNS.width(M, S)
        self.server_features = SERVER_COLUMNS.width(M, S)
        self._inv_scale = 1.0 / spec.time_scale_s
        self._max_degree = float(max(spec.degrees))
        q, n = self.queue_len, sim.num_servers
        t_end = q * self.task_features
        s_end = t_end + n * self.server_features
        self.size = s_end + NUM_GLOBALS
        self._split = (t_end, s_end)
        self._zeros32 = np.zeros(self.size, dtype=np.float32)
        self._shapes = ((q, self.task_features), (n, self.server_features))
        self._time = TimeLinear(self.size)
        self._bind_views()
        self._globals_at = s_end
        self._free_col = SERVER_COLUMNS.index("free")
        self._remaining_col = SERVER_COLUMNS.index("remaining")
        self._group_col = SERVER_COLUMNS.index("group_size")
        self._speed_col = SERVER_COLUMNS.index("speed")
        self._model_col = SERVER_COLUMNS.index("warm_model")
        self._site_col = SERVER_COLUMNS.index("site", M)
        # _write_servers builds a row's head as (free, remaining, group size, speed, warm model).
        assert (self._free_col, self._remaining_col, self._group_col, self._speed_col, self._model_col) == (
            0,
            1,
            2,
            3,
            4,
        )
        self._speed = relative_speed(sim.latency.step_s[0][cfg.degrees[0]])
        # Warm-model one-hot per model index; index -1 (no warm model) is all zeros.
        self._one_hot = [tuple(float(j == m) for j in range(M)) for m in range(M)]
        self._one_hot.append((0.0,) * M)
        self.space = self._make_space()

    _VIEWS = ("_task_lines", "_intercept", "_slope", "_servers", "_server_slope")

    def _bind_views(self) -> None:
        """Views into the time-linear lines; made again after unpickling (a copy would
        not share memory)."""
        t_end, s_end = self._split
        lines = self._time.lines
        self._task_lines = lines[:, :t_end].reshape(2, *self._shapes[0])
        self._intercept = lines[0]
        self._slope = lines[1]
        self._servers = self._intercept[t_end:s_end].reshape(self._shapes[1])
        self._server_slope = self._slope[t_end:s_end].reshape(self._shapes[1])

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def _make_space(self) -> spaces.Space:
        M, S = self.num_models, self.num_sites
        tasks = np.broadcast_to(TASK_COLUMNS.high(M, S), self._shapes[0])
        servers = np.broadcast_to(SERVER_COLUMNS.high(M, S), self._shapes[1])
        global_high = GLOBAL_COLUMNS.high(M, S)
        if self.mode == "dict":
            return spaces.Dict(
                {
                    "tasks": spaces.Box(0.0, tasks.copy(), dtype=np.float32),
                    "servers": spaces.Box(0.0, servers.copy(), dtype=np.float32),
                    "globals": spaces.Box(0.0, global_high, dtype=np.float32),
                }
            )
        high = np.concatenate([tasks.ravel(), servers.ravel(), global_high])
        return spaces.Box(0.0, high, dtype=np.float32)

    def reset(self) -> None:
        """Per-episode task table, and every row written afresh."""
        sim = self.sim
        cfg = sim.config
        cls = np.asarray(sim.task_class)
        pixels = np.array([c.pixels for c in cfg.classes], dtype=np.float64)
        intercept, inv_slo = task_table(
            TASK_COLUMNS,
            arrival=np.asarray(sim.task_arrival, dtype=np.float64),
            slo=np.asarray(sim.task_slo, dtype=np.float64),
            pixels=pixels[cls],
            degree=np.asarray(sim.task_degree),
            model=np.asarray(sim.class_model)[cls],
            site=np.asarray(sim.task_site),
            num_models=self.num_models,
            num_sites=self.num_sites,
            time_scale_s=self.spec.time_scale_s,
            max_degree=self._max_degree,
            waited_by_division=True,
        )
        table = np.zeros((len(inv_slo), 2, self.task_features))
        table[:, 0] = intercept
        table[:, 1, TASK_COLUMNS.index("waited")] = inv_slo
        self._task_table = table
        self._time.lines[:] = 0.0
        servers = self._servers
        servers[:, self._speed_col] = self._speed
        servers[np.arange(sim.num_servers), self._site_col + sim.server_site] = 1.0
        self._slope[self._globals_at + _G_NOW] = 1.0 / cfg.time_limit_s
        self._queue_version = -1
        self._visible = 0
        self._write_all_servers(sim.take_changed_servers())

    def encode(self) -> np.ndarray | dict[str, np.ndarray]:
        """The observation now, as a fresh float32 array (or dict of arrays)."""
        sim = self.sim
        changed = False
        if sim.queue_version != self._queue_version:
            self._write_tasks()
            changed = True
        if sim.changed_servers:
            self._write_servers()
            changed = True
        if changed:
            # Rebase at the current time: float32 values near now, no cancellation later.
            out = self._time.rebase(sim.now)
        else:
            out = self._time.at(sim.now)
        # Rounding can leave -1e-9 where a value reaches zero; every entry is >= 0.
        np.maximum(out, self._zeros32, out=out)
        if self.mode == "dict":
            t_end, s_end = self._split
            return {
                "tasks": out[:t_end].reshape(self._shapes[0]),
                "servers": out[t_end:s_end].reshape(self._shapes[1]),
                "globals": out[s_end:],
            }
        return out

    def _write_tasks(self) -> None:
        sim = self.sim
        self._queue_version = sim.queue_version
        visible = sim.queue[: self.queue_len]
        n = len(visible)
        if n:
            # take(): a list index is several times slower through [] than through take.
            self._task_lines[:, :n] = self._task_table.take(visible, axis=0).swapaxes(0, 1)
        if n < self._visible:
            self._task_lines[:, n : self._visible] = 0.0
        self._visible = n
        g = self._globals_at
        self._intercept[g + _G_QUEUED] = len(sim.queue) / self.queue_len
        self._intercept[g + _G_ARRIVED] = sim.num_arrived / len(sim.task_arrival)

    def _write_servers(self) -> None:
        sim = self.sim
        changed = sim.take_changed_servers()
        if len(changed) > FULL_REWRITE_ABOVE:
            self._write_all_servers(changed)
            return
        now = sim.now
        busy_until, warm_model, group_size = sim.busy_until, sim.warm_model, sim.group_size
        servers, slope = self._servers, self._server_slope
        inv_scale, inv_degree, width = self._inv_scale, 1.0 / self._max_degree, self._model_col + self.num_models
        speed, one_hot, remaining = self._speed, self._one_hot, self._remaining_col
        for i in changed:
            busy = busy_until.item(i)  # .item(): Python scalars; numpy int64 arithmetic is slow
            head = (0.0, busy * inv_scale) if busy > now else (1.0, 0.0)
            servers[i, :width] = head + (group_size.item(i) * inv_degree, speed[i]) + one_hot[warm_model.item(i)]
            slope[i, remaining] = -inv_scale if busy > now else 0.0
        self._intercept[self._globals_at + _G_FREE] = sum(sim.free_count) / sim.num_servers

    def _write_all_servers(self, changed: set[int]) -> None:
        """Every server row at once (vectorised): at reset, or when many changed."""
        sim = self.sim
        servers, slope = self._servers, self._server_slope
        busy = sim.busy_until > sim.now
        servers[:, self._free_col] = ~busy
        servers[:, self._remaining_col] = np.where(busy, sim.busy_until * self._inv_scale, 0.0)
        slope[:, self._remaining_col] = np.where(busy, -self._inv_scale, 0.0)
        servers[:, self._group_col] = sim.group_size * (1.0 / self._max_degree)
        warm = sim.warm_model
        servers[:, self._model_col : self._model_col + self.num_models] = 0.0
        held = np.flatnonzero(warm >= 0)
        servers[held, self._model_col + warm[held]] = 1.0
        self._intercept[self._globals_at + _G_FREE] = sum(sim.free_count) / sim.num_servers


class ActionDecoder:
    """Validates and decodes actions into :data:`Decision` (or ``None`` for wait).

    Continuous (the paper's Box in [-1, 1])::

        a[0] >= 0: execute, else wait;  steps = round((a[1] + 1) / 2 * max_steps), at least 1
        (with ``PaperRules.real_steps``: the real number (a[1] + 1) / 2 * max_steps, unrounded);
        [a[2]: degree, the ((a[2] + 1) / 2 * len(degrees))-th allowed degree, when the agent
        chooses degrees];  then one score per visible slot, argmax picks the task.

    Discrete, ``MultiDiscrete([queue_len + 1, len(degrees) or 1, len(step_levels)])``:
    slot 0 waits, slot i picks visible task i - 1; the degree index (size 1 when the task
    fixes its degree); the step-level index. Validation rejects exactly what
    ``space.contains`` rejects, in a fraction of its time.
    """

    def __init__(self, spec: ScenarioSpec, sim: Simulator) -> None:
        self.spec = spec
        self.sim = sim
        self.mode = spec.action_mode
        self.queue_len = spec.queue_len
        self.degrees = spec.degrees
        self.agent_degree = spec.degree_mode == "agent"
        self.max_steps = spec.max_steps
        self.real_steps = spec.paper_rules is not None and spec.paper_rules.real_steps
        self.step_levels = spec.step_levels
        if self.mode == "continuous":
            self.slot_offset = 3 if self.agent_degree else 2
            self.space: spaces.Space = spaces.Box(-1.0, 1.0, (self.slot_offset + self.queue_len,), dtype=np.float32)
        else:
            self.nvec = (self.queue_len + 1, len(self.degrees) if self.agent_degree else 1, len(self.step_levels))
            self.space = spaces.MultiDiscrete(self.nvec)
        self._shape = self.space.shape
        self._dtype = self.space.dtype
        self._castable: dict[np.dtype, bool] = {}

    def _values(self, action: object) -> list:
        """The action as a list of Python numbers, after the space's own checks."""
        if isinstance(action, np.ndarray):
            array = action
        elif self.mode == "discrete" and not isinstance(action, Sequence):
            raise ValueError(f"{self.space}: action must be an array or sequence of ints, got {type(action).__name__}")
        else:
            try:
                array = np.asarray(action, dtype=self._dtype) if self.mode == "continuous" else np.array(action)
            except (ValueError, TypeError, OverflowError) as err:
                raise ValueError(f"{self.space}: action {action!r} is not numeric: {err}") from None
        if array.shape != self._shape:
            raise ValueError(f"{self.space}: action has shape {array.shape}, expected {self._shape}")
        ok = self._castable.get(array.dtype)
        if ok is None:
            ok = self._castable[array.dtype] = bool(np.can_cast(array.dtype, self._dtype))
        if not ok:
            raise ValueError(f"{self.space}: action dtype {array.dtype} cannot be cast safely to {self._dtype}")
        return array.tolist()

    def _out_of_bounds(self, values: list, low: float, high: float) -> ValueError:
        for i, v in enumerate(values):
            if not low <= v <= high:
                return ValueError(f"{self.space}: action[{i}] = {v} is outside [{low:g}, {high:g}] (or not finite)")
        raise AssertionError("unreachable: no value out of bounds")

    def decode(self, action: object) -> Decision | None:
        values = self._values(action)
        if self.mode == "continuous":
            total = sum(values)  # NaN if any value is NaN
            if total != total or min(values) < -1.0 or max(values) > 1.0:
                raise self._out_of_bounds(values, -1.0, 1.0)
            if values[0] < 0.0:
                return None
            if self.real_steps:  # the paper's unrounded count, in [0, max_steps]
                steps = (values[1] + 1.0) * 0.5 * self.max_steps
            else:
                steps = steps_from_unit((values[1] + 1.0) * 0.5, self.max_steps)
            if self.agent_degree:
                n = len(self.degrees)
                degree = self.degrees[min(n - 1, int((values[2] + 1.0) * 0.5 * n))]
            else:
                degree = 0
            scores = values[self.slot_offset :]
            slot = scores.index(max(scores))
            return slot, degree, steps
        for i, (v, n) in enumerate(zip(values, self.nvec)):
            if not 0 <= v < n:
                raise ValueError(f"{self.space}: action[{i}] = {v} is outside 0..{n - 1}")
        if values[0] == 0:
            return None
        degree = self.degrees[values[1]] if self.agent_degree else 0
        return values[0] - 1, degree, self.step_levels[values[2]]

    def encode(self, decision: Decision | None) -> np.ndarray:
        """The action that :meth:`decode` turns into ``decision`` (None: wait).

        For discrete actions ``steps`` must be one of ``step_levels``; for continuous
        ones any step count in 1..max_steps round-trips exactly.
        """
        if self.mode == "continuous":
            action = np.full(self._shape, -1.0, dtype=np.float32)
            if decision is None:
                return action
            slot, degree, steps = decision
            action[0] = 1.0
            action[1] = 2.0 * steps / self.max_steps - 1.0
            if self.agent_degree:
                action[2] = 2.0 * (self.degrees.index(degree) + 0.5) / len(self.degrees) - 1.0
            action[self.slot_offset + slot] = 1.0
            return action
        if decision is None:
            return np.zeros(3, dtype=np.int64)
        slot, degree, steps = decision
        return np.array(
            [slot + 1, self.degrees.index(degree) if self.agent_degree else 0, self.step_levels.index(steps)],
            dtype=np.int64,
        )

    def masks(self) -> np.ndarray:
        """MaskablePPO's flat mask: slot (wait always valid), degree, step level."""
        if self.mode != "discrete":
            raise ValueError("action_masks() needs action_mode='discrete' (MultiDiscrete); this env is continuous")
        sim = self.sim
        most = sim.max_free()
        queue = sim.queue
        n_slots, n_deg, n_steps = self.nvec
        mask = np.zeros(n_slots + n_deg + n_steps, dtype=bool)
        mask[0] = True
        visible = min(len(queue), self.queue_len)
        demand = sim.task_degree
        smallest = self.degrees[0]
        for i in range(visible):
            mask[1 + i] = (demand[queue[i]] or smallest) <= most
        if self.agent_degree:
            for j, k in enumerate(self.degrees):
                mask[n_slots + j] = k <= most
            mask[n_slots] = True  # one valid choice per component; infeasible picks act as wait
        else:
            mask[n_slots] = True
        mask[n_slots + n_deg :] = True
        return mask


def steps_from_unit(u: float, max_steps: int) -> int:
    """The continuous mapping of a value in [0, 1] to a step count (exposed for tests)."""
    return min(max_steps, max(1, round(u * max_steps)))
