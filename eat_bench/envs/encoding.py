"""Observations (flat Box, or a dict of token matrices) and actions (continuous Box, or
MultiDiscrete with masks) of the single-agent env, encoded without per-step allocation
beyond the returned copy.

Task token (one row per visible queue slot; zeros past the queue's end)::

    present, waited / SLO, SLO / time_scale, pixels / 1024^2, demanded degree / max degree,
    model one-hot (scenario's models), origin site one-hot

Server token (one row per server)::

    free, remaining busy seconds / time_scale, warm group size / max degree,
    relative speed (fastest single-GPU step / this GPU's), warm model one-hot, site one-hot

Globals: ``now / time_limit``, ``queued / queue_len``, ``arrived / num_tasks``,
``free servers / servers``. The flat observation is tasks, servers, globals, row-major.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

from eat_bench.scenarios import ScenarioSpec
from eat_bench.sim.engine import Simulator

__all__ = ["ObservationEncoder", "ActionDecoder", "Decision"]

Decision = tuple[int, int, int]
"""(queue slot, degree, steps) of a dispatch; ``None`` stands for wait."""

NUM_GLOBALS = 4


class ObservationEncoder:
    """Builds observations from a :class:`Simulator`'s state, incrementally.

    Between two events every entry is linear in time (waits grow, remaining busy times
    shrink, and none crosses zero: a completion is an event), so the encoder keeps the
    observation as ``intercept + now * slope`` (two float64 vectors). A queue change
    rewrites the task rows from a per-episode table; a server change rewrites only the
    servers the simulator reports in ``changed_servers``. Each step then costs three
    vector operations, whatever the cluster's size, plus the rows that changed.
    """

    def __init__(self, spec: ScenarioSpec, sim: Simulator, mode: str) -> None:
        self.spec = spec
        self.sim = sim
        self.mode = mode
        cfg = sim.config
        self.num_models = len(sim.models)
        self.num_sites = cfg.num_sites
        self.queue_len = spec.queue_len
        self.task_features = 5 + self.num_models + self.num_sites
        self.server_features = 4 + self.num_models + self.num_sites
        self._inv_scale = 1.0 / spec.time_scale_s
        self._max_degree = float(max(spec.degrees))
        q, n = self.queue_len, sim.num_servers
        t_end = q * self.task_features
        s_end = t_end + n * self.server_features
        self.size = s_end + NUM_GLOBALS
        self._split = (t_end, s_end)
        self._zeros32 = np.zeros(self.size, dtype=np.float32)
        self._shapes = ((q, self.task_features), (n, self.server_features))
        self._lines = np.zeros((2, self.size))  # row 0: intercept, row 1: slope (per second)
        self._bind_views()
        self._globals_at = s_end
        self._task_model_col = 5
        self._task_site_col = 5 + self.num_models
        self._model_col = 4
        self._site_col = 4 + self.num_models
        ref = sim.latency.step_s[0][cfg.degrees[0]]
        fastest = min(ref)
        self._speed = [fastest / r for r in ref]
        # Warm-model one-hot per model index; index -1 (no warm model) is all zeros.
        self._one_hot = [tuple(float(j == m) for j in range(self.num_models)) for m in range(self.num_models)]
        self._one_hot.append((0.0,) * self.num_models)
        self.space = self._make_space()

    _VIEWS = ("_task_lines", "_intercept", "_slope", "_servers", "_server_slope")

    def _bind_views(self) -> None:
        """Views into ``_lines``; made again after unpickling (a copy would not share memory)."""
        t_end, s_end = self._split
        self._task_lines = self._lines[:, :t_end].reshape(2, *self._shapes[0])
        self._intercept = self._lines[0]
        self._slope = self._lines[1]
        self._servers = self._intercept[t_end:s_end].reshape(self._shapes[1])
        self._server_slope = self._slope[t_end:s_end].reshape(self._shapes[1])

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def _make_space(self) -> spaces.Space:
        inf = np.inf
        task_high = np.full(self.task_features, inf, dtype=np.float32)
        task_high[[0, 4]] = 1.0
        task_high[5:] = 1.0
        server_high = np.full(self.server_features, inf, dtype=np.float32)
        server_high[[0, 2, 3]] = 1.0
        server_high[4:] = 1.0
        global_high = np.array([inf, inf, 1.0, 1.0], dtype=np.float32)
        tasks = np.broadcast_to(task_high, self._shapes[0])
        servers = np.broadcast_to(server_high, self._shapes[1])
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
        num_tasks = len(sim.task_arrival)
        table = np.zeros((num_tasks, 2, self.task_features))
        cls = np.asarray(sim.task_class)
        slo = np.asarray(sim.task_slo)
        pixels = np.array([c.pixels for c in cfg.classes], dtype=np.float64)
        rows = np.arange(num_tasks)
        table[:, 0, 0] = 1.0
        table[:, 0, 1] = -np.asarray(sim.task_arrival) / slo  # waited / SLO = (now - arrival) / SLO
        table[:, 1, 1] = 1.0 / slo
        table[:, 0, 2] = slo * self._inv_scale
        table[:, 0, 3] = pixels[cls] / 1024.0**2
        table[:, 0, 4] = np.asarray(sim.task_degree) / self._max_degree
        table[rows, 0, self._task_model_col + np.asarray(sim.class_model)[cls]] = 1.0
        table[rows, 0, self._task_site_col + np.asarray(sim.task_site)] = 1.0
        self._task_table = table
        self._lines[:] = 0.0
        servers = self._servers
        servers[:, 3] = self._speed
        servers[np.arange(sim.num_servers), self._site_col + sim.server_site] = 1.0
        self._slope[self._globals_at] = 1.0 / cfg.time_limit_s
        self._queue_version = -1
        self._visible = 0
        self._write_all_servers()
        self._t0 = -1.0
        self._slope32 = None

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
            self._t0 = sim.now
            base = self._slope * np.float64(sim.now)  # a numpy scalar: faster than a Python one
            base += self._intercept
            self._base = base.astype(np.float32)
            self._slope32 = None
            out = self._base.copy()
        else:
            if self._slope32 is None:
                self._slope32 = self._slope.astype(np.float32)
            out = self._slope32 * np.float32(sim.now - self._t0)
            out += self._base
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
        self._intercept[g + 1] = len(sim.queue) / self.queue_len
        self._intercept[g + 2] = sim._next_arrival / len(sim.task_arrival)

    def _write_servers(self) -> None:
        sim = self.sim
        if len(sim.changed_servers) > 16:
            self._write_all_servers()
            return
        now = sim.now
        busy_until, warm_model, group_size = sim.busy_until, sim.warm_model, sim.group_size
        servers, slope = self._servers, self._server_slope
        inv_scale, inv_degree, width = self._inv_scale, 1.0 / self._max_degree, self._model_col + self.num_models
        speed, one_hot = self._speed, self._one_hot
        for i in sim.changed_servers:
            busy = busy_until.item(i)  # .item(): Python scalars; numpy int64 arithmetic is slow
            head = (0.0, busy * inv_scale) if busy > now else (1.0, 0.0)
            servers[i, :width] = head + (group_size.item(i) * inv_degree, speed[i]) + one_hot[warm_model.item(i)]
            slope[i, 1] = -inv_scale if busy > now else 0.0
        sim.changed_servers.clear()
        self._intercept[self._globals_at + 3] = sum(sim.free_count) / sim.num_servers

    def _write_all_servers(self) -> None:
        """Every server row at once (vectorised): at reset, or when many changed."""
        sim = self.sim
        servers, slope = self._servers, self._server_slope
        busy = sim.busy_until > sim.now
        servers[:, 0] = ~busy
        servers[:, 1] = np.where(busy, sim.busy_until * self._inv_scale, 0.0)
        slope[:, 1] = np.where(busy, -self._inv_scale, 0.0)
        servers[:, 2] = sim.group_size / self._max_degree
        warm = sim.warm_model
        servers[:, self._model_col : self._model_col + self.num_models] = 0.0
        held = np.flatnonzero(warm >= 0)
        servers[held, self._model_col + warm[held]] = 1.0
        sim.changed_servers.clear()
        self._intercept[self._globals_at + 3] = sum(sim.free_count) / sim.num_servers


class ActionDecoder:
    """Validates and decodes actions into :data:`Decision` (or ``None`` for wait).

    Continuous (the paper's Box in [-1, 1])::

        a[0] >= 0: execute, else wait;  steps = round((a[1] + 1) / 2 * max_steps), at least 1;
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
