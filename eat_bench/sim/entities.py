"""Entities of the simulator: server specs, task records and warm-group bookkeeping.

Servers and tasks are static specs plus a little mutable state kept in arrays by the
engine (see :mod:`eat_bench.sim.engine`); this module holds the parts with rules of their
own: what a finished dispatch records, and which servers form a warm group.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["ServerSpec", "TaskRecord", "WarmGroups"]


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One GPU server: its index, the site it sits in and its GPU kind."""

    server_id: int
    site: int
    gpu: str


class TaskRecord(NamedTuple):
    """Everything known about a task once it is dispatched (service is deterministic).

    Times are seconds of simulated time. ``response_s = finish_s - arrival_s`` is what
    the user waits for: queueing + cold start + denoising + transfer. An immutable named
    tuple rather than a frozen dataclass: one is made per dispatch, on the hot path.
    """

    task_id: int
    site: int
    model: str
    width: int
    height: int
    arrival_s: float
    slo_s: float
    start_s: float
    finish_s: float
    steps: int
    degree: int
    servers: tuple[int, ...]
    cold_start: bool
    cold_start_s: float
    compute_s: float
    transfer_s: float
    quality: float
    quality_normalized: float

    @property
    def wait_s(self) -> float:
        """Seconds spent in the queue before dispatch."""
        return self.start_s - self.arrival_s

    @property
    def service_s(self) -> float:
        """Seconds from dispatch to the image reaching the user."""
        return self.finish_s - self.start_s

    @property
    def response_s(self) -> float:
        """Seconds from arrival to the image reaching the user."""
        return self.finish_s - self.arrival_s

    @property
    def slo_met(self) -> bool:
        """Whether the response came within the task's SLO."""
        return self.finish_s - self.arrival_s <= self.slo_s


class WarmGroups:
    """Which servers last ran together, and which model that group keeps loaded.

    A dispatch onto exactly one idle warm group holding the task's model is warm; any
    other set of servers pays a cold start, and every group it touches is broken up
    (SEED_MODEL.md). Idle groups are indexed by ``(model, size, site)`` so that finding
    one is a dictionary lookup, not a scan over the cluster. Of several idle groups of one
    key, :meth:`idle_group` gives the one idle first, or with ``lowest_id_first`` the one
    holding the lowest server id (the EAT paper's simulator; each key's list is then kept
    in that order).
    """

    __slots__ = ("group_of", "_members", "_model", "_site", "_idle", "_next_id", "_lowest_first")

    def __init__(self, num_servers: int, lowest_id_first: bool = False) -> None:
        self._lowest_first = lowest_id_first
        self.group_of: list[int] = [-1] * num_servers
        self._members: dict[int, tuple[int, ...]] = {}
        self._model: dict[int, int] = {}
        self._site: dict[int, int] = {}
        self._idle: dict[tuple[int, int, int], list[int]] = {}
        self._next_id = 0

    def members(self, group: int) -> tuple[int, ...]:
        return self._members[group]

    def model(self, group: int) -> int:
        return self._model[group]

    def idle_group(self, model: int, size: int, site: int) -> int:
        """An idle group of ``size`` servers at ``site`` holding ``model``, or -1."""
        groups = self._idle.get((model, size, site))
        return groups[0] if groups else -1

    def is_warm(self, servers: tuple[int, ...], model: int) -> bool:
        """Whether ``servers`` are exactly one group that holds ``model``."""
        group = self.group_of[servers[0]]
        return (
            group >= 0
            and self._model[group] == model
            and len(self._members[group]) == len(servers)
            and all(self.group_of[s] == group for s in servers)
        )

    def occupy(
        self, servers: tuple[int, ...], model: int, site: int, warm: bool | None = None
    ) -> tuple[bool, int, list[int]]:
        """Start work on ``servers``: returns (warm, group id of the servers now, stale).

        A warm dispatch keeps its group (now busy); a cold one breaks every group it
        touches and makes ``servers`` a new group holding ``model``. ``stale`` lists the
        other members of broken groups: they no longer hold a usable warm model.
        ``warm`` may pass in :meth:`is_warm`'s answer when the caller already has it.
        """
        if self.is_warm(servers, model) if warm is None else warm:
            group = self.group_of[servers[0]]
            self._idle[(model, len(servers), site)].remove(group)
            return True, group, []
        stale: list[int] = []
        for server in servers:
            old = self.group_of[server]
            if old >= 0:
                stale.extend(s for s in self._dissolve(old) if s not in servers)
        group = self._next_id
        self._next_id += 1
        self._members[group] = servers
        self._model[group] = model
        self._site[group] = site
        for server in servers:
            self.group_of[server] = group
        return False, group, stale

    def release(self, group: int) -> None:
        """The group's work finished: it is idle and warm for its model again."""
        key = (self._model[group], len(self._members[group]), self._site[group])
        idle = self._idle.setdefault(key, [])
        if self._lowest_first:
            bisect.insort(idle, group, key=self._lowest_member)
        else:
            idle.append(group)

    def _lowest_member(self, group: int) -> int:
        return min(self._members[group])

    def _dissolve(self, group: int) -> tuple[int, ...]:
        key = (self._model[group], len(self._members[group]), self._site[group])
        idle = self._idle.get(key)
        if idle and group in idle:
            idle.remove(group)
        members = self._members.pop(group)
        for server in members:
            self.group_of[server] = -1
        del self._model[group]
        del self._site[group]
        return members
