"""The scheduler view: ``info_mode="scheduler"`` of the single-agent env (version 1).

Everything a hand-written scheduler reads, as plain fixed-shape numeric arrays, so that
an agent in another process (the leaderboard's) can act from ``(observation, info)``
alone. Every key below is in ``info`` at ``reset`` and at every ``step`` (next to the
numeric keys), with these shapes (Q = ``queue_len``, N servers, S sites, D =
``len(degrees)``, L step levels, C request classes):

- ``scheduler_view_version``: 1.
- ``queue_tasks`` (Q, 9) float64, one row per visible queue slot, oldest first, columns
  :data:`QUEUE_FIELDS`: present (0 on padding rows, which are otherwise 0 with task id
  -1), task id, arrival s, SLO s, request class, model index, origin site, demanded
  degree (0: the agent chooses), pixels.
- ``queue_length``: how many tasks are queued (visible or not).
- ``servers`` (N, 6) float64, columns :data:`SERVER_FIELDS`: free (1/0), busy until s,
  warm model index (-1: none), warm group id (-1: none), warm group size, site.
- ``free_per_site`` (S,) int64: idle servers per site.
- ``options`` (Q, D, 7) float64, columns :data:`OPTION_FIELDS`: for visible slot i and
  the j-th allowed degree, what dispatching it now would cost, placed by the env's own
  rule (placement is not the agent's): feasible (1/0), site, warm (1/0), cold start s,
  overhead s, per-step s (of the gang's slowest GPU), transfer s. With ``steps``
  denoising steps the service time is ``cold + (overhead + steps * step) + transfer``
  (the simulator's own sum, bit for bit). When tasks fix their degree only the column of
  the task's own degree is filled. Infeasible entries are all 0.
- ``degrees`` (D,), ``step_levels`` (L,) int64, and ``quality_normalized`` (C,
  max_steps + 1) float64 (the normalised quality of each class at each step count):
  constant over the env's life (a fresh copy every step).

A new field or a change of meaning bumps :data:`SCHEDULER_VIEW_VERSION`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eat_bench.scenarios import ScenarioSpec
from eat_bench.sim.engine import Simulator

__all__ = ["SCHEDULER_VIEW_VERSION", "QUEUE_FIELDS", "SERVER_FIELDS", "OPTION_FIELDS", "SchedulerView"]

SCHEDULER_VIEW_VERSION = 1
QUEUE_FIELDS = ("present", "task_id", "arrival_s", "slo_s", "class", "model", "site", "degree", "pixels")
SERVER_FIELDS = ("free", "busy_until_s", "warm_model", "group", "group_size", "site")
OPTION_FIELDS = ("feasible", "site", "warm", "cold_s", "overhead_s", "step_s", "transfer_s")


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class SchedulerView:
    """Builds the scheduler view of one env's simulator (fresh arrays each call)."""

    def __init__(self, spec: ScenarioSpec, sim: Simulator) -> None:
        self.sim = sim
        self.queue_len = spec.queue_len
        self.degrees = tuple(spec.degrees)
        self.agent_degree = spec.degree_mode == "agent"
        self._column = {degree: j for j, degree in enumerate(self.degrees)}
        cfg = sim.config
        self._pixels = [c.pixels for c in cfg.classes]
        self._static = {
            "degrees": _read_only(np.array(self.degrees, dtype=np.int64)),
            "step_levels": _read_only(np.array(spec.step_levels, dtype=np.int64)),
            "quality_normalized": _read_only(
                np.array([cfg.quality.normalized_table(c.model, cfg.max_steps) for c in cfg.classes], dtype=np.float64)
            ),
        }

    def _option(self, task: int, degree: int, c: int) -> tuple[int, tuple[float, ...]] | None:
        """(degree column, option row) of dispatching ``task`` at ``degree`` now, or None."""
        sim = self.sim
        record = sim.preview_task(task, degree, 1)
        if type(record) is str:
            return None
        servers, latency = record.servers, sim.latency
        return self._column[record.degree], (
            1.0,
            sim.server_site[servers[0]],
            0.0 if record.cold_start else 1.0,
            record.cold_start_s,
            max(map(latency.overhead_s[c][record.degree].__getitem__, servers)),
            max(map(latency.step_s[c][record.degree].__getitem__, servers)),
            record.transfer_s,
        )

    def info(self) -> dict[str, Any]:
        """The view's keys for ``info`` now."""
        sim = self.sim
        q, d = self.queue_len, len(self.degrees)
        options = np.zeros((q, d, len(OPTION_FIELDS)))
        most = sim.max_free()
        # A dispatch's option depends on the task only through its class, origin site and
        # degree (placement and costs read nothing else), so each distinct triple is
        # previewed once per step: far fewer previews than slots x degrees.
        seen: dict[tuple[int, int, int], tuple[int, tuple[float, ...]] | None] = {}
        rows = []
        for slot, task in enumerate(sim.queue[:q]):
            c = sim.task_class[task]
            demand = sim.task_degree[task]
            origin = sim.task_site[task]
            rows.append(
                (
                    1.0,
                    task,
                    sim.task_arrival[task],
                    sim.task_slo[task],
                    c,
                    sim.class_model[c],
                    origin,
                    demand,
                    self._pixels[c],
                )
            )
            for degree in self.degrees if self.agent_degree else (demand,):
                if degree > most:
                    continue
                key = (c, origin, degree)
                if key in seen:
                    option = seen[key]
                else:
                    option = seen[key] = self._option(task, degree, c)
                if option is not None:
                    options[slot, option[0]] = option[1]
        tasks = np.zeros((q, len(QUEUE_FIELDS)))
        tasks[:, 1] = -1.0
        if rows:
            tasks[: len(rows)] = rows  # one conversion for every row
        servers = np.empty((len(sim.busy_until), len(SERVER_FIELDS)))
        np.less_equal(sim.busy_until, sim.now, out=servers[:, 0])  # free: not busy past now
        servers[:, 1] = sim.busy_until
        servers[:, 2] = sim.warm_model
        servers[:, 3] = sim.warm.group_of
        servers[:, 4] = sim.group_size
        servers[:, 5] = sim.server_site
        return {
            "scheduler_view_version": SCHEDULER_VIEW_VERSION,
            "queue_tasks": tasks,
            "queue_length": len(sim.queue),
            "servers": servers,
            "free_per_site": np.array(sim.free_count, dtype=np.int64),
            "options": options,
            **{k: v.copy() for k, v in self._static.items()},  # a fresh object per step (gymnasium's rule)
        }
