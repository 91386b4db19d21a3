"""The discrete-event simulator of an edge GPU cluster serving diffusion requests.

One :class:`Simulator` holds the clock, the request queue, the servers' state and a heap
of completion events. A scheduler (an env, a heuristic) calls
:meth:`Simulator.dispatch_task` to start a queued task on ``degree`` servers at once (gang
scheduling of patch-parallel diffusion) and :meth:`Simulator.wait` to let time pass.
The core knows no interface: which tasks a scheduler sees (a single agent's window, a
site's own queue) and when it can decide are the env's, passed in as a rule
(:meth:`Simulator.settle`). Service time is::

    cold start (unless the servers are exactly one warm group holding the model)
    + overhead + steps * per-step time of the slowest GPU in the group at that degree
    + transfer time when the servers sit at another site than the request

Two clocks: event-driven (the default; ``wait`` jumps to the next arrival or completion
and the scheduler is only asked when a dispatch is possible) and fixed-tick
(``decision_interval_s``; every ``wait`` advances one tick, the paper's semantics).

This file is longer than the house's 500 lines on purpose: one class owns the clock, the
queue, placement and the event heap, whose hot paths share local state; splitting it
would add indirection to every step for no gain in clarity.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eat_bench.sim.entities import ServerSpec, TaskRecord, WarmGroups
from eat_bench.sim.metrics import EpisodeMetrics, summarize
from eat_bench.sim.profiles import LatencyModel, ProfileTrace
from eat_bench.sim.quality import QualityModel
from eat_bench.sim.workload import RequestBatch, RequestClass, StreamSpec, generate_requests

__all__ = ["SimConfig", "Simulator", "PLACEMENTS", "RAW_IMAGE_BYTES_PER_PIXEL", "EMPTY_SLOT"]

EMPTY_SLOT = "empty slot"
_NO_EVENTS: list[tuple[str, float, int]] = []  # returned (never appended to) when there were none

PLACEMENTS = ("paper", "edge")
RAW_IMAGE_BYTES_PER_PIXEL = 3
"""An image travels back as raw 8-bit RGB: width * height * 3 bytes."""
TICK_SLACK = 1e-6
"""In tick mode, events up to this fraction of a tick after a tick boundary (float
rounding of sums such as start + load + steps x step time) happen at that tick."""


@dataclass(frozen=True)
class SimConfig:
    """Everything the simulator needs, resolved from a scenario (traces already loaded)."""

    servers: tuple[ServerSpec, ...]
    num_sites: int
    classes: tuple[RequestClass, ...]
    streams: tuple[StreamSpec, ...]
    num_tasks: int
    initial_queue: int
    degrees: tuple[int, ...]
    degree_mode: str
    """"agent": the scheduler picks the degree; "task": each task demands one (paper)."""
    trace: ProfileTrace
    quality: QualityModel
    link_latency_s: tuple[tuple[float, ...], ...]
    link_bandwidth_bps: tuple[tuple[float, ...], ...]
    """Bytes per second between sites (row: request's site, column: servers' site)."""
    placement: str = "edge"
    decision_interval_s: float | None = None
    idle_advance_s: float = 1.0
    time_limit_s: float = 3600.0
    max_steps: int = 50
    real_steps: bool = False
    """Accept real step counts in [0, max_steps] (the paper's unrounded steps); else
    integers in 1..max_steps."""
    clock_start_s: float = 0.0
    """The clock at reset; the initial queue is stamped 0 s and later arrivals shifted by
    this (the paper's clock starts at 1 s)."""
    stamp_at_tick_start: bool = False
    """Tick mode: a task arriving during a tick is stamped at the tick's start (the
    paper's), though it is seen at the tick's end."""
    lowest_id_group: bool = False
    """Of several idle warm groups, take the one holding the lowest server id (the
    paper's); else the one idle first."""

    @property
    def models(self) -> tuple[str, ...]:
        """Distinct models of the request classes, in first-seen order."""
        return tuple(dict.fromkeys(c.model for c in self.classes))


DecisionRule = Callable[[], bool]
"""Whether some scheduler can make a dispatch now (asked by :meth:`Simulator.settle`)."""


class Simulator:
    """Discrete-event core; see the module docstring for the semantics.

    State that encoders read directly (treat as read-only; no copies): ``now``, ``queue``
    (task ids, oldest first), ``busy_until`` / ``warm_model`` / ``group_size`` (numpy
    arrays per server), ``free_count`` per site, ``records`` (dispatched tasks),
    ``num_arrived``, and the version counters ``queue_version`` and ``server_version``
    that change whenever the queue or the servers' warm state does. Two things are handed
    over rather than read: :meth:`take_events` (the ``(kind, time, task_id)`` tuples since
    the last call) and :meth:`take_changed_servers` (the servers changed since the last
    call), so that no outside code swaps the simulator's lists.
    """

    def __init__(self, config: SimConfig) -> None:
        if config.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {config.placement!r}")
        if config.degree_mode not in ("agent", "task"):
            raise ValueError(f"degree_mode must be 'agent' or 'task', got {config.degree_mode!r}")
        if not config.servers:
            raise ValueError("the cluster has no servers")
        self.config = config
        self.num_servers = len(config.servers)
        self.models = config.models
        self.class_model = [self.models.index(c.model) for c in config.classes]
        self._class_weights = tuple(c.weight for c in config.classes)
        if not (math.isfinite(config.clock_start_s) and config.clock_start_s >= 0):
            raise ValueError(f"clock_start_s must be finite and >= 0, got {config.clock_start_s!r}")
        self._build_service_tables()
        self._build_placement_order()
        self._quality_table = [
            (
                config.quality.table(c.model, config.max_steps),
                config.quality.normalized_table(c.model, config.max_steps),
            )
            for c in config.classes
        ]
        self.reset(0)

    # ------------------------------------------------------------------ setup
    def _build_service_tables(self) -> None:
        """Latency tables per (class, degree, server), and transfer per site pair."""
        cfg = self.config
        self.latency = LatencyModel(
            cfg.trace, [s.gpu for s in cfg.servers], [(c.model, c.width, c.height) for c in cfg.classes], cfg.degrees
        )
        self._transfer = [
            [
                [
                    0.0
                    if origin == site
                    else cfg.link_latency_s[origin][site]
                    + c.pixels * RAW_IMAGE_BYTES_PER_PIXEL / cfg.link_bandwidth_bps[origin][site]
                    for site in range(cfg.num_sites)
                ]
                for origin in range(cfg.num_sites)
            ]
            for c in cfg.classes
        ]

    def _build_placement_order(self) -> None:
        """Free-server lists are kept sorted by rank: index (paper) or speed, then index (edge)."""
        cfg = self.config
        self.server_site = np.array([s.site for s in cfg.servers], dtype=np.int64)
        self._site_of = [s.site for s in cfg.servers]
        if cfg.placement == "paper":
            self._rank = list(range(self.num_servers))
        else:
            # Rank by single-GPU step time of the first class: fastest GPUs first.
            ref = self.latency.step_s[0][cfg.degrees[0]]
            order = sorted(range(self.num_servers), key=lambda i: (ref[i], i))
            self._rank = [0] * self.num_servers
            for rank, server in enumerate(order):
                self._rank[server] = rank
        # Sites to try for a request from each origin: its own first, then by transfer cost.
        self._site_order = []
        for origin in range(cfg.num_sites):
            others = [s for s in range(cfg.num_sites) if s != origin]
            others.sort(key=lambda s: (self._transfer[0][origin][s], s))
            self._site_order.append([origin, *others])
        self.site_sizes = [self._site_of.count(s) for s in range(cfg.num_sites)]
        self._initial_free: list[list[int]] = [[] for _ in range(cfg.num_sites)]
        for server in sorted(range(self.num_servers), key=self._rank.__getitem__):
            self._initial_free[self._site_of[server]].append(server)
        self._slo_of_class = [c.slo_s for c in cfg.classes]

    # ------------------------------------------------------------------ episode
    def reset(self, seed: int | None) -> None:
        """Start a new episode; every random draw comes from generators made here."""
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.seed = seed
        self.workload_rng = np.random.default_rng(seed)
        self._tie_rng: np.random.Generator | None = None
        cfg = self.config
        self.requests: RequestBatch = generate_requests(
            self.workload_rng,
            cfg.streams,
            self._class_weights,
            cfg.num_tasks,
            cfg.initial_queue,
            cfg.degrees if cfg.degree_mode == "task" else None,
        )
        req = self.requests
        self.task_arrival: list[float] = req.arrival_s.tolist()
        """Each task's arrival stamp (what its record, the wait and the observation use)."""
        self.task_join_s: list[float] = self.task_arrival
        """When each task joins the queue: its stamp, unless the paper's clock stamps it
        earlier (:class:`~eat_bench.scenarios.PaperRules`); the same list otherwise."""
        self._clock0 = cfg.clock_start_s
        if cfg.clock_start_s or (cfg.stamp_at_tick_start and cfg.decision_interval_s is not None):
            self.task_join_s, self.task_arrival = self._paper_clock(req.arrival_s)
        self.task_class: list[int] = req.class_index.tolist()
        self.task_site: list[int] = req.site.tolist()
        self.task_degree: list[int] = req.degree.tolist()
        slo_of_class = self._slo_of_class
        self.task_slo: list[float] = [slo_of_class[c] for c in self.task_class]
        self.now = self._clock0
        self._tick = 0
        self._next_arrival = 0
        self.num_arrived = 0
        """How many of the episode's tasks have arrived so far (queued or dispatched)."""
        self.num_completed = 0
        """How many dispatched tasks have finished so far."""
        self.queue: list[int] = []
        self._taken = bytearray(len(self.task_arrival))  # 1 once a task was dispatched
        self._queue_inv_slo = 0.0
        self.queue_seconds = 0.0
        """Cumulative task-seconds spent queued (sum over tasks of their wait so far)."""
        self.queue_slo_seconds = 0.0
        """Cumulative queued time in units of each task's SLO (sum of dt / slo)."""
        self.busy_until = np.zeros(self.num_servers)
        self.warm_model = np.full(self.num_servers, -1, dtype=np.int64)
        self.group_size = np.zeros(self.num_servers, dtype=np.int64)
        self.warm = WarmGroups(self.num_servers, lowest_id_first=cfg.lowest_id_group)
        self._free: list[list[int]] = [list(free) for free in self._initial_free]
        self.free_count = [len(f) for f in self._free]
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self.records: list[TaskRecord] = []
        self.events: list[tuple[str, float, int]] = []
        self.busy_server_seconds = 0.0
        self.queue_version = 0
        self.server_version = 0
        self.changed_servers: set[int] = set(range(self.num_servers))
        """Servers whose state changed since the last :meth:`take_changed_servers`."""
        self._arrive_until(self.now)

    def _paper_clock(self, arrival_s: np.ndarray) -> tuple[list[float], list[float]]:
        """(queue-join times, stamps) on a clock that starts at ``clock_start_s``: the
        initial queue is stamped 0; later tasks join at their time + the start, stamped a
        tick earlier when ``stamp_at_tick_start`` (tick mode)."""
        cfg = self.config
        joins = arrival_s + cfg.clock_start_s
        stamps = joins.copy()
        stamps[: cfg.initial_queue] = 0.0
        if cfg.stamp_at_tick_start and cfg.decision_interval_s is not None:
            stamps[cfg.initial_queue :] -= cfg.decision_interval_s
        return joins.tolist(), stamps.tolist()

    def take_events(self) -> list[tuple[str, float, int]]:
        """The ``(kind, time_s, task_id)`` events since the last call (kinds: "arrival",
        "dispatch", "complete"), in order; the simulator starts a new list."""
        events = self.events
        if not events:
            return _NO_EVENTS  # a quiet step allocates nothing
        self.events = []
        return events

    def take_changed_servers(self) -> set[int]:
        """The servers whose state changed since the last call; a new set starts."""
        changed = self.changed_servers
        self.changed_servers = set()
        return changed

    @property
    def tie_rng(self) -> np.random.Generator:
        """The tie-breaking stream (its own entropy, independent of the workload's);
        made on first use, since only multi-agent conflict resolution draws from it."""
        if self._tie_rng is None:
            self._tie_rng = np.random.default_rng([self.seed, 1])
        return self._tie_rng

    # ------------------------------------------------------------------ queries
    @property
    def all_arrived(self) -> bool:
        return self._next_arrival >= len(self.task_arrival)

    @property
    def done(self) -> bool:
        """Every task arrived, was dispatched, and every server is idle again."""
        return not self.queue and not self._heap and self._next_arrival >= len(self.task_arrival)

    @property
    def truncated(self) -> bool:
        return self.now >= self.config.time_limit_s

    def next_event_time(self) -> float:
        arrival = self.task_join_s[self._next_arrival] if self._next_arrival < len(self.task_join_s) else math.inf
        completion = self._heap[0][0] if self._heap else math.inf
        return arrival if arrival < completion else completion

    def max_free(self, site: int | None = None) -> int:
        """Most free servers in one site (gangs never span sites), or in ``site``."""
        return max(self.free_count) if site is None else self.free_count[site]

    def required_degree(self, task: int) -> int:
        """Smallest degree this task can run at: its demand, or the smallest allowed."""
        return self.task_degree[task] or self.config.degrees[0]

    def can_decide(self) -> bool:
        """The default decision rule: some queued task fits the free servers of a site
        (its demanded degree, or the smallest allowed one). Envs that show a scheduler
        only part of the queue pass their own rule to :meth:`settle` and :meth:`wait`."""
        queue = self.queue  # queue_fits(self.queue), inlined: settle asks at every event
        if not queue:
            return False
        most = max(self.free_count)
        if self.config.degree_mode == "agent":
            return most >= self.config.degrees[0]
        degree = self.task_degree
        for task in queue:
            if degree[task] <= most:
                return True
        return False

    def queue_fits(self, tasks: list[int]) -> bool:
        """Whether one of ``tasks`` (queued task ids) fits the most free servers of a site."""
        if not tasks:
            return False
        most = max(self.free_count)
        if self.config.degree_mode == "agent":
            return most >= self.config.degrees[0]
        degree = self.task_degree
        for task in tasks:
            if degree[task] <= most:
                return True
        return False

    def metrics(self, invalid_actions: int = 0) -> EpisodeMetrics:
        """The episode's metrics so far (complete once :attr:`done`)."""
        return summarize(
            self.records,
            num_tasks=self.config.num_tasks,
            num_servers=self.num_servers,
            busy_server_seconds=self.busy_server_seconds,
            end_s=self.now,
            invalid_actions=invalid_actions,
        )

    def mean_wait(self, tasks: list[int]) -> float:
        """Mean waiting time so far of ``tasks`` (queued ids); 0 for none. The paper's
        reward uses it on the scheduler's visible queue (its W)."""
        if not tasks:
            return 0.0
        arrival = self.task_arrival
        return self.now - sum(arrival[t] for t in tasks) / len(tasks)

    # ------------------------------------------------------------------ placement
    def place(self, task: int, degree: int, site: int | None = None) -> tuple[int, tuple[int, ...]] | None:
        """Servers for ``task`` at ``degree``: an idle warm group holding its model if one
        exists (origin site first), else the first ``degree`` free servers of the first
        site with enough (origin first, then by transfer cost). ``site`` restricts it."""
        model = self.class_model[self.task_class[task]]
        sites = self._site_order[self.task_site[task]] if site is None else (site,)
        warm = self.warm
        for s in sites:
            group = warm.idle_group(model, degree, s)
            if group >= 0:
                return s, warm.members(group)
        for s in sites:
            free = self._free[s]
            if len(free) >= degree:
                return s, tuple(free[:degree])
        return None

    def service_estimate(self, task: int, degree: int, steps: int, site: int | None = None) -> float | None:
        """Seconds from dispatch to the image reaching the user, or None if infeasible now."""
        placed = self.place(task, degree, site)
        if placed is None:
            return None
        s, servers = placed
        c = self.task_class[task]
        warm = self.warm.is_warm(servers, self.class_model[c])
        return self._service_parts(c, degree, steps, servers, warm, self.task_site[task], s)[3]

    def _service_parts(
        self, c: int, degree: int, steps: int, servers: tuple[int, ...], warm: bool, origin: int, site: int
    ) -> tuple[float, float, float, float]:
        cold, compute = self.latency.service(c, degree, steps, servers, warm)
        transfer = self._transfer[c][origin][site]
        return cold, compute, transfer, cold + compute + transfer

    # ------------------------------------------------------------------ actions
    def preview_task(self, task: int, degree: int, steps: int, site: int | None = None) -> TaskRecord | str:
        """The record :meth:`dispatch_task` would produce now, without changing anything."""
        planned = self._plan(task, degree, steps, site)
        return planned if type(planned) is str else planned[0]

    def dispatch_task(self, task: int, degree: int, steps: int, site: int | None = None) -> TaskRecord | str:
        """Start queued task ``task`` (its id) on ``degree`` servers for ``steps`` steps,
        at ``site`` or where :meth:`place` puts it.

        Returns the task's record, or a short reason string when the decision is
        infeasible (nothing changes then). In "task" degree mode ``degree`` is ignored.
        """
        planned = self._plan(task, degree, steps, site)
        if type(planned) is str:
            return planned
        return self._start(planned[0], planned[1], self.queue.index(task))

    def preview(self, position: int, degree: int, steps: int, site: int | None = None) -> TaskRecord | str:
        """:meth:`preview_task` for the task at ``position`` in the queue (0: oldest)."""
        if not 0 <= position < len(self.queue):
            return EMPTY_SLOT
        return self.preview_task(self.queue[position], degree, steps, site)

    def dispatch(self, position: int, degree: int, steps: int, site: int | None = None) -> TaskRecord | str:
        """:meth:`dispatch_task` for the task at ``position`` in the queue (0: oldest);
        an empty position answers :data:`EMPTY_SLOT`. A convenience for scripts and tests."""
        if not 0 <= position < len(self.queue):
            return EMPTY_SLOT
        task = self.queue[position]
        planned = self._plan(task, degree, steps, site)
        if type(planned) is str:
            return planned
        return self._start(planned[0], planned[1], position)

    def _start(self, record: TaskRecord, site: int, position: int) -> TaskRecord:
        """Apply a planned dispatch of the task at queue ``position``."""
        servers, degree, task = record.servers, record.degree, record.task_id
        model = self.class_model[self.task_class[task]]
        warm, group, stale = self.warm.occupy(servers, model, site, not record.cold_start)
        free_at = record.start_s + record.cold_start_s + record.compute_s  # same sum as in _plan
        del self.queue[position]
        self._taken[task] = 1
        self._queue_inv_slo = self._queue_inv_slo - 1.0 / record.slo_s if self.queue else 0.0
        free = self._free[site]
        busy_until, warm_model, group_size = self.busy_until, self.warm_model, self.group_size
        for server in servers:
            free.remove(server)
            busy_until[server] = free_at
            if not warm:
                warm_model[server] = model
                group_size[server] = degree
        for server in stale:
            warm_model[server] = -1
            group_size[server] = 0
        self.free_count[site] -= degree
        self.changed_servers.update(servers)
        self.changed_servers.update(stale)
        heapq.heappush(self._heap, (free_at, self._seq, group, task))
        self._seq += 1
        self.busy_server_seconds += (record.cold_start_s + record.compute_s) * degree
        self.records.append(record)
        self.events.append(("dispatch", self.now, task))
        self.queue_version += 1
        self.server_version += 1
        return record

    def _plan(self, task: int, degree: int, steps: int, site: int | None) -> tuple[TaskRecord, int] | str:
        cfg = self.config
        if not (0 if cfg.real_steps else 1) <= steps <= cfg.max_steps:
            return f"steps {steps} outside {'0' if cfg.real_steps else '1'}..{cfg.max_steps}"
        if not 0 <= task < self._next_arrival or self._taken[task]:
            return f"task {task} is not queued"
        if self.task_degree[task]:
            degree = self.task_degree[task]
        elif degree not in self.latency.step_s[0]:
            return f"degree {degree} not in {cfg.degrees}"
        placed = None
        if degree <= (max(self.free_count) if site is None else self.free_count[site]):
            placed = self.place(task, degree, site)
        if placed is None:
            return f"no {degree} free servers" + ("" if site is None else f" at site {site}")
        site, servers = placed
        c = self.task_class[task]
        warm = self.warm.is_warm(servers, self.class_model[c])
        cold, compute, transfer, _ = self._service_parts(c, degree, steps, servers, warm, self.task_site[task], site)
        now = self.now
        quality, quality_norm = self._quality_table[c]
        spec = cfg.classes[c]
        if type(steps) is int:
            q, q_norm = quality[steps], quality_norm[steps]
        elif cfg.real_steps:
            q = cfg.quality.quality_at(spec.model, steps)
            q_norm = q / cfg.quality.max_quality(spec.model)
        else:
            q, q_norm = quality[steps], quality_norm[steps]  # numpy integers index too
        record = TaskRecord(
            task_id=task,
            site=self.task_site[task],
            model=spec.model,
            width=spec.width,
            height=spec.height,
            arrival_s=self.task_arrival[task],
            slo_s=self.task_slo[task],
            start_s=now,
            finish_s=(now + cold + compute) + transfer,
            steps=steps,
            degree=degree,
            servers=servers,
            cold_start=not warm,
            cold_start_s=cold,
            compute_s=compute,
            transfer_s=transfer,
            quality=q,
            quality_normalized=q_norm,
        )
        return record, site

    def reschedule_completion(self, task: int, finish_s: float) -> None:
        """Move running task ``task``'s completion to ``finish_s`` (``math.inf``: hold it
        until rescheduled again). For emulators whose completions come from real work
        (``eat-bench live``); ``busy_until`` and the task's record keep the prediction."""
        heap = self._heap
        for i, entry in enumerate(heap):
            if entry[3] == task:
                heap[i] = (finish_s, *entry[1:])
                heapq.heapify(heap)
                return
        raise ValueError(f"task {task} has no pending completion (not dispatched, or already complete)")

    def wait(self, can_decide: DecisionRule | None = None) -> None:
        """Let time pass: one tick in tick mode, else up to the next event, then on until
        ``can_decide()`` (default :meth:`can_decide`; event mode). With nothing pending,
        ``idle_advance_s``."""
        interval = self.config.decision_interval_s
        if interval is not None:
            # Time moves only by ticks in this mode, so now == _tick * interval exactly.
            # An event a rounding error past the tick (2.2 + 30.2 = 32.400000000000006
            # against 324 * 0.1 = 32.4) belongs to this tick, not the next.
            self._tick += 1
            target = self._tick * interval + self._clock0  # + 0.0: bit-identical when the clock starts at 0
            slack = TICK_SLACK * interval
            if self.next_event_time() > target + slack:
                self._accrue(target)  # a quiet tick: nothing arrives or completes
            else:
                self.advance_to(target, slack)
            return
        target = self.next_event_time()
        if target == math.inf:
            target = self.now + self.config.idle_advance_s
        self.advance_to(min(target, max(self.config.time_limit_s, self.now)))
        self.settle(can_decide)

    def settle(self, can_decide: DecisionRule | None = None) -> None:
        """Event mode: advance event by event until ``can_decide()`` (default
        :meth:`can_decide`), the episode is done or the time limit is reached. A no-op in
        tick mode, where every wait is one tick."""
        if self.config.decision_interval_s is not None:
            return
        if can_decide is None:
            can_decide = self.can_decide
        limit = self.config.time_limit_s
        while not can_decide() and not self.done and self.now < limit:
            target = self.next_event_time()
            if target == math.inf:
                break
            self.advance_to(min(target, limit))

    def advance_to(self, t: float, slack: float = 0.0) -> None:
        """Process every arrival and completion up to time ``t`` (in time order), and
        those at most ``slack`` later as if at ``t``; the clock ends at ``t``."""
        arrival = self.task_join_s
        heap = self._heap
        n = len(arrival)
        limit = t + slack
        while True:
            next_arrival = arrival[self._next_arrival] if self._next_arrival < n else math.inf
            next_completion = heap[0][0] if heap else math.inf
            if next_completion <= next_arrival:
                if next_completion > limit:
                    break
                self._accrue(min(next_completion, t))
                self._complete(heapq.heappop(heap))
            else:
                if next_arrival > limit:
                    break
                self._accrue(min(next_arrival, t))
                self._arrive_until(next_arrival)
        self._accrue(t)

    def _accrue(self, t: float) -> None:
        dt = t - self.now
        if dt > 0.0:
            if self.queue:
                self.queue_seconds += len(self.queue) * dt
                self.queue_slo_seconds += self._queue_inv_slo * dt
            self.now = t

    def _arrive_until(self, t: float) -> None:
        arrival = self.task_join_s
        n = len(arrival)
        i = self._next_arrival
        while i < n and arrival[i] <= t:
            self.queue.append(i)
            self._queue_inv_slo += 1.0 / self.task_slo[i]
            self.events.append(("arrival", arrival[i], i))
            i += 1
        if i != self._next_arrival:
            self._next_arrival = self.num_arrived = i
            self.queue_version += 1

    def _complete(self, entry: tuple[float, int, int, int]) -> None:
        _, _, group, task = entry
        members = self.warm.members(group)
        site = self._site_of[members[0]]
        free = self._free[site]
        rank = self._rank
        busy_until, now = self.busy_until, self.now
        for server in members:
            bisect.insort(free, server, key=rank.__getitem__)
            busy_until[server] = now  # free from now (a tick may complete it a rounding error early)
        self.free_count[site] += len(members)
        self.changed_servers.update(members)
        self.warm.release(group)
        self.events.append(("complete", self.now, task))
        self.num_completed += 1
        self.server_version += 1
