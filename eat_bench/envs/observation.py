"""The observation contract: named columns, their meaning and bounds, for both envs.

An observation is token matrices (one row per queued task, per server, per site) plus a
few global features; the flat form concatenates them. Each matrix's columns are a
:class:`Layout` of named :class:`Column`\\ s, so encoders, policies and the docs address
a column by name (``TASKS.index("waited")``), never by a bare number. One-hot groups
(``model``, ``site``) are one named group of columns whose width is the scenario's.

The ``present`` column of the task matrix is 1 for a real task and 0 for a padding row
past the queue's end: an attention policy uses it as its padding mask
(:func:`padding_mask`).

To add a column: add it to the layout here (with its meaning and bound), write it in the
env's encoder (``eat_bench/envs/encoding.py`` for the single-agent env,
``eat_bench/envs/edge_sites/observation.py`` for ``edge_sites_v0``), and bump the env's
version (the observation's meaning changed).

Time-dependent entries (waits, remaining busy times, the clock) are linear in time
between two events, so both envs keep them as :class:`TimeLinear` (intercept + slope x
now) and evaluate them at each step instead of rebuilding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Column",
    "Layout",
    "TASK_COLUMNS",
    "SERVER_COLUMNS",
    "GLOBAL_COLUMNS",
    "SITE_TASK_COLUMNS",
    "SITE_SERVER_COLUMNS",
    "SITE_COLUMNS",
    "SITE_GLOBAL_COLUMNS",
    "FULL_REWRITE_ABOVE",
    "TimeLinear",
    "padding_mask",
    "relative_speed",
    "task_table",
]

INF = math.inf

FULL_REWRITE_ABOVE = 8
"""Encoders rewrite every server row at once (vectorised) when more servers than this
changed in a step, else row by row as Python scalars: a row costs about 1 µs, a
vectorised rewrite about 10 µs whatever the size. Both paths compute the same values."""


@dataclass(frozen=True)
class Column:
    """One named feature (or one-hot group, ``width`` None: sized by the scenario)."""

    name: str
    meaning: str
    high: float = 1.0
    """Upper bound of the value (every entry is >= 0)."""
    one_hot: str | None = None
    """For a one-hot group: what it is over ("models", "sites")."""


@dataclass(frozen=True)
class Layout:
    """The columns of one token matrix, in order."""

    name: str
    columns: tuple[Column, ...]

    def widths(self, num_models: int, num_sites: int) -> list[int]:
        sizes = {"models": num_models, "sites": num_sites}
        return [sizes[c.one_hot] if c.one_hot else 1 for c in self.columns]

    def width(self, num_models: int, num_sites: int) -> int:
        return sum(self.widths(num_models, num_sites))

    def index(self, name: str, num_models: int = 0, num_sites: int = 0) -> int:
        """The first column of ``name`` (one-hot groups before it are sized by the
        scenario's models and sites)."""
        start = 0
        for column, width in zip(self.columns, self.widths(num_models, num_sites)):
            if column.name == name:
                return start
            start += width
        raise KeyError(f"{self.name} has no column {name!r}; columns: {[c.name for c in self.columns]}")

    def high(self, num_models: int, num_sites: int) -> np.ndarray:
        """The upper bounds, one per column (float32; ``inf`` where unbounded)."""
        widths = self.widths(num_models, num_sites)
        return np.concatenate([np.full(w, c.high, dtype=np.float32) for c, w in zip(self.columns, widths)])

    def names(self, num_models: int, num_sites: int) -> list[str]:
        """One name per column, one-hot groups expanded (``model[1]``)."""
        out = []
        for column, width in zip(self.columns, self.widths(num_models, num_sites)):
            out += [f"{column.name}[{i}]" for i in range(width)] if column.one_hot else [column.name]
        return out

    def markdown(self) -> str:
        """The layout as a markdown table (for the docs)."""
        rows = [f"| `{c.name}` | {c.meaning} | {'∞' if c.high == INF else f'{c.high:g}'} |" for c in self.columns]
        return "\n".join(["| column | meaning | upper bound |", "|---|---|---|", *rows])


_PRESENT = Column("present", "1 for a queued task, 0 for a padding row past the queue's end (the padding mask)")
_WAITED = Column("waited", "seconds waited so far / the task's SLO", INF)
_SLO = Column("slo", "the task's SLO / the scenario's time scale", INF)
_PIXELS = Column("pixels", "image pixels / 1024²", INF)
_DEGREE = Column("degree", "the degree the task demands / the largest degree (0: the agent chooses)")
_MODEL = Column("model", "one-hot of the requested model (the scenario's models)", one_hot="models")
_FREE = Column("free", "1 if the server is idle")
_REMAINING = Column("remaining", "seconds until the server is free / time scale", INF)
_GROUP = Column("group_size", "size of the warm group the server belongs to / largest degree")
_SPEED = Column("speed", "fastest single-GPU step time of the cluster / this GPU's (1: the fastest)")
_WARM = Column("warm_model", "one-hot of the model the server holds (all 0: none)", one_hot="models")

TASK_COLUMNS = Layout(
    "tasks",
    (
        _PRESENT,
        _WAITED,
        _SLO,
        _PIXELS,
        _DEGREE,
        _MODEL,
        Column("origin", "one-hot of the request's site", one_hot="sites"),
    ),
)
"""Single-agent env: one row per visible queue slot (oldest first)."""

SERVER_COLUMNS = Layout(
    "servers",
    (_FREE, _REMAINING, _GROUP, _SPEED, _WARM, Column("site", "one-hot of the server's site", one_hot="sites")),
)
"""Single-agent env: one row per server."""

GLOBAL_COLUMNS = Layout(
    "globals",
    (
        Column("now", "simulated time / time limit", INF),
        Column("queued", "queued tasks / queue_len", INF),
        Column("arrived", "fraction of the episode's tasks arrived"),
        Column("free", "fraction of servers idle"),
    ),
)
"""Single-agent env: the global features."""

SITE_TASK_COLUMNS = Layout("tasks", (_PRESENT, _WAITED, _SLO, _PIXELS, _DEGREE, _MODEL))
"""``edge_sites_v0``: one row per slot of the agent's own site's queue."""

SITE_SERVER_COLUMNS = Layout(
    "servers",
    (
        _FREE,
        _REMAINING,
        _GROUP,
        _WARM,
        _SPEED,
        Column("distance", "link latency + transfer of a 1024² image from this agent's site / time scale", INF),
        Column("relative_site", "(server's site - agent's site) mod S / S"),
    ),
)
"""``edge_sites_v0``: one row per server of the cluster, in the agent's relative order."""

SITE_COLUMNS = Layout(
    "sites",
    (
        Column("free", "free servers / site size"),
        Column("queued", "queued tasks / queue_len", INF),
        Column("oldest_wait", "the oldest queued task's wait / its SLO", INF),
        Column("distance", "link latency + transfer of a 1024² image / time scale", INF),
    ),
)
"""``edge_sites_v0``: one row per site, in the agent's relative order."""

SITE_GLOBAL_COLUMNS = Layout(
    "globals",
    (
        Column("now", "simulated time / time limit", INF),
        Column("arrived", "fraction of the episode's tasks arrived"),
        Column("free", "fraction of the cluster's servers idle"),
        Column("queued", "queued tasks / (S * queue_len)", INF),
    ),
)
"""``edge_sites_v0``: the global features."""


def padding_mask(tasks: np.ndarray) -> np.ndarray:
    """True for the padding rows of a task matrix (``(..., Q, Ft)``), from ``present``."""
    return tasks[..., TASK_COLUMNS.index("present")] == 0.0


def relative_speed(step_s: list[float] | np.ndarray) -> list[float]:
    """Per server: the fastest single-GPU step time over this server's (1: fastest)."""
    fastest = min(step_s)
    return [fastest / r for r in step_s]


def task_table(
    layout: Layout,
    *,
    arrival: np.ndarray,
    slo: np.ndarray,
    pixels: np.ndarray,
    degree: np.ndarray,
    model: np.ndarray,
    site: np.ndarray | None,
    num_models: int,
    num_sites: int,
    time_scale_s: float,
    max_degree: float,
    waited_by_division: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Every task's row of ``layout`` for one episode, as (intercept, inverse SLO): the
    ``waited`` column is ``now * inv_slo + intercept``; the rest is constant.

    ``waited_by_division``: the intercept as ``-arrival / SLO`` (the single-agent env's v0
    rounding) rather than ``-arrival * (1 / SLO)`` (``edge_sites_v0``'s). The two differ
    in the last bit; both are kept so that each env's trajectories stay bit-identical
    within its version."""
    n = len(arrival)
    table = np.zeros((n, layout.width(num_models, num_sites)))
    inv_slo = 1.0 / slo
    rows = np.arange(n)
    table[:, layout.index("present")] = 1.0
    # (now - arrival) / SLO, never negative.
    table[:, layout.index("waited")] = -arrival / slo if waited_by_division else -arrival * inv_slo
    table[:, layout.index("slo")] = slo * (1.0 / time_scale_s)
    table[:, layout.index("pixels")] = pixels / 1024.0**2
    table[:, layout.index("degree")] = degree / max_degree
    table[rows, layout.index("model") + model] = 1.0
    if site is not None:
        table[rows, layout.index("origin", num_models) + site] = 1.0
    return table, inv_slo


class TimeLinear:
    """A float64 vector whose entries are ``intercept + slope * now`` between events.

    Two ways to read it: :meth:`evaluate` writes the exact values at ``now`` into an
    array (two vector operations, whatever the size); :meth:`rebase` + :meth:`at` keep a
    float32 copy taken at the last event and extrapolate it in float32 (one fused
    operation per step, and no cancellation since ``now - t0`` stays small)."""

    def __init__(self, size: int) -> None:
        self.lines = np.zeros((2, size))
        """Row 0: intercept; row 1: slope (per second). Write through the views."""
        self._bind()
        self._scratch = np.zeros(size)
        self._base32 = np.zeros(size, dtype=np.float32)
        self._slope32: np.ndarray | None = None
        self._t0 = 0.0

    def _bind(self) -> None:
        self.intercept = self.lines[0]
        self.slope = self.lines[1]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("intercept", "slope")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind()  # views do not survive pickling

    def evaluate(self, now: float, out: np.ndarray) -> None:
        """``out[:] = slope * now + intercept`` (computed in float64, cast to ``out``)."""
        scratch = self._scratch
        np.multiply(self.slope, now, out=scratch)
        scratch += self.intercept
        out[:] = scratch

    def rebase(self, now: float) -> np.ndarray:
        """Take the float32 values at ``now`` (after an event changed the lines); a fresh copy."""
        self._t0 = now
        self.evaluate(np.float64(now), self._base32)  # a numpy scalar: faster than a Python one
        self._slope32 = None
        return self._base32.copy()

    def at(self, now: float) -> np.ndarray:
        """The float32 values at ``now``, extrapolated from the last :meth:`rebase`; a fresh array."""
        if self._slope32 is None:
            self._slope32 = self.slope.astype(np.float32)
        out = self._slope32 * np.float32(now - self._t0)
        out += self._base32
        return out
