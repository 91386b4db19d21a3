"""Scenario specs: frozen dataclasses of a cluster, a workload and the decision
interface, with make-time overrides and validation (errors name the scenario and the
field). The registered ids are in :mod:`eat_bench.scenarios.catalogue`."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from eat_bench.sim.checks import is_int, is_real
from eat_bench.sim.workload import (
    RequestClass,
    StreamSpec,
)

if TYPE_CHECKING:
    from eat_bench.sim.engine import SimConfig

__all__ = [
    "SiteSpec",
    "ClusterSpec",
    "WorkloadSpec",
    "ScenarioSpec",
    "PaperRules",
    "ACTION_MODES",
    "DEGREE_MODES",
    "OBS_MODES",
    "OVERRIDES",
]

ACTION_MODES = ("continuous", "discrete")
OBS_MODES = ("flat", "dict")
DEGREE_MODES = ("agent", "task")
OVERRIDES = (
    "reward",
    "action_mode",
    "obs_mode",
    "trace",
    "quality",
    "arrival_rate",
    "num_servers",
    "num_tasks",
    "queue_len",
    "degrees",
    "decision_interval_s",
    "time_limit_s",
    "placement",
    "invalid_penalty",
)
"""Keyword overrides accepted by ``gym.make(id, **overrides)`` (plus gymnasium's own
``max_episode_steps`` and ``render_mode``)."""


@dataclass(frozen=True)
class SiteSpec:
    """An edge site: a name and the GPU kind of each of its servers."""

    name: str
    gpus: tuple[str, ...]


def _matrix(value: float | tuple[tuple[float, ...], ...], size: int, name: str) -> tuple[tuple[float, ...], ...]:
    if isinstance(value, (int, float)):
        return tuple(tuple(0.0 if i == j else float(value) for j in range(size)) for i in range(size))
    if len(value) != size or any(len(row) != size for row in value):
        raise ValueError(f"ClusterSpec.{name}: expected a {size}x{size} matrix (one row per site)")
    return tuple(tuple(float(v) for v in row) for row in value)


@dataclass(frozen=True)
class ClusterSpec:
    """Servers grouped into sites, and the links between sites.

    ``link_latency_s`` and ``link_bandwidth_mbps`` are one number for every pair of sites
    or an S x S matrix (row: the request's site, column: the servers' site).
    """

    sites: tuple[SiteSpec, ...]
    link_latency_s: float | tuple[tuple[float, ...], ...] = 0.02
    link_bandwidth_mbps: float | tuple[tuple[float, ...], ...] = 100.0

    def __post_init__(self) -> None:
        if not self.sites or not any(site.gpus for site in self.sites):
            raise ValueError("ClusterSpec: the cluster has no servers")
        latency = _matrix(self.link_latency_s, len(self.sites), "link_latency_s")
        bandwidth = _matrix(self.link_bandwidth_mbps, len(self.sites), "link_bandwidth_mbps")
        for i, row in enumerate(latency):
            for j, v in enumerate(row):
                if i != j and not (math.isfinite(v) and v >= 0):
                    raise ValueError(f"ClusterSpec.link_latency_s[{i}][{j}] must be finite and >= 0, got {v}")
                if i != j and not (math.isfinite(bandwidth[i][j]) and bandwidth[i][j] > 0):
                    raise ValueError(
                        f"ClusterSpec.link_bandwidth_mbps[{i}][{j}] must be positive, got {bandwidth[i][j]}"
                    )

    @property
    def num_servers(self) -> int:
        return sum(len(site.gpus) for site in self.sites)

    @property
    def num_sites(self) -> int:
        return len(self.sites)

    @property
    def gpu_kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g for site in self.sites for g in site.gpus))

    def latency_matrix(self) -> tuple[tuple[float, ...], ...]:
        return _matrix(self.link_latency_s, self.num_sites, "link_latency_s")

    def bandwidth_bps_matrix(self) -> tuple[tuple[float, ...], ...]:
        """Bytes per second (the spec is in megabits per second)."""
        mbps = _matrix(self.link_bandwidth_mbps, self.num_sites, "link_bandwidth_mbps")
        return tuple(tuple(v * 1e6 / 8 if v else math.inf for v in row) for row in mbps)

    def resized(self, num_servers: int) -> ClusterSpec:
        """The same sites and GPU mix with ``num_servers`` servers in all: servers are
        dealt in turn to the sites that have GPUs, each cycling through its own list
        (a site without servers stays without)."""
        holders = [i for i, site in enumerate(self.sites) if site.gpus]
        if not is_int(num_servers) or num_servers < 1:
            raise ValueError(f"num_servers must be a positive integer, got {num_servers!r}")
        if num_servers < len(holders):
            raise ValueError(
                f"num_servers={num_servers} is fewer than the cluster's {len(holders)} sites with servers "
                "(each keeps at least one)"
            )
        counts = [0] * self.num_sites
        for i in range(num_servers):
            counts[holders[i % len(holders)]] += 1
        sites = tuple(
            SiteSpec(site.name, tuple(site.gpus[i % len(site.gpus)] for i in range(n)))
            for site, n in zip(self.sites, counts)
        )
        return ClusterSpec(sites, self.link_latency_s, self.link_bandwidth_mbps)


@dataclass(frozen=True)
class WorkloadSpec:
    """Request kinds, one arrival stream per site that originates requests, episode size."""

    classes: tuple[RequestClass, ...]
    streams: tuple[StreamSpec, ...]
    num_tasks: int
    initial_queue: int = 0

    @property
    def total_rate(self) -> float:
        return sum(stream.arrivals.mean_rate for stream in self.streams)

    def with_total_rate(self, rate: float) -> WorkloadSpec:
        """Scale every stream so that the rates add up to ``rate`` requests per second."""
        if not (is_real(rate) and rate > 0):
            raise ValueError(f"arrival_rate must be a positive number of requests per second, got {rate!r}")
        scale = rate / self.total_rate
        streams = tuple(replace(s, arrivals=s.arrivals.with_rate(s.arrivals.mean_rate * scale)) for s in self.streams)
        return replace(self, streams=streams)


@dataclass(frozen=True)
class PaperRules:
    """Rules of the EAT paper's own simulator that differ from eat-bench's defaults.

    ``EAT-Paper-v0`` turns them all on, so that it follows that simulator task by task
    (docs/paper_model.md); each can be switched off alone, for ablations and tests.
    """

    real_steps: bool = True
    """Continuous actions run the real step count ``(a[1] + 1) / 2 * max_steps``,
    unrounded (from 0 to max_steps), for service time and quality alike."""
    wait_after_dispatch: bool = True
    """The reward's W (mean wait of the visible queue) is taken after the dispatched task
    has left the queue (the ``paper`` preset reads it)."""
    clock_start_s: float = 1.0
    """The clock reads this at reset, while the initial queue is stamped 0 s: those tasks
    have waited this long when the first decision comes."""
    stamp_at_tick_start: bool = True
    """Tick mode: a task that arrives during a tick is stamped at the tick's start (it is
    seen at the tick's end)."""
    lowest_id_group: bool = True
    """Of several idle warm groups of the right size, take the one holding the lowest
    server id (eat-bench's default: the one that became idle first)."""

    def __post_init__(self) -> None:
        if not (is_real(self.clock_start_s) and self.clock_start_s >= 0):
            raise ValueError(f"PaperRules.clock_start_s must be a finite number >= 0, got {self.clock_start_s!r}")
        for name in ("real_steps", "wait_after_dispatch", "stamp_at_tick_start", "lowest_id_group"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"PaperRules.{name} must be a bool, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ScenarioSpec:
    """One benchmark scenario. Its fields are the whole meaning of an id."""

    id: str
    description: str
    cluster: ClusterSpec
    workload: WorkloadSpec
    trace: str
    quality: str = "published"
    reward: str = "balanced"
    action_mode: str = "continuous"
    obs_mode: str = "flat"
    queue_len: int = 10
    degrees: tuple[int, ...] = (1, 2, 4)
    degree_mode: str = "agent"
    max_steps: int = 50
    step_levels: tuple[int, ...] = (10, 20, 30, 50)
    decision_interval_s: float | None = None
    idle_advance_s: float = 1.0
    time_limit_s: float = 3600.0
    max_episode_steps: int | None = None
    placement: str = "edge"
    time_scale_s: float = 10.0
    """Seconds that observations divide times by (about one typical service time)."""
    invalid_penalty: float | None = None
    """Reward for an infeasible decision; None takes the reward preset's default."""
    held_out: bool = False
    """Reserved for the leaderboard's generalisation track: do not train on it."""
    paper_rules: PaperRules | None = field(default=None, repr=False)
    """The paper simulator's own rules (:class:`PaperRules`); None: eat-bench's. Left out of
    the repr so that the specs made before it keep their fingerprints; the fingerprint
    adds it when set (:func:`eat_bench.baselines.evaluation.spec_fingerprint`)."""
    history: tuple[str, ...] = field(default=(), compare=False)

    # ------------------------------------------------------------------ overrides
    def with_overrides(self, **overrides: Any) -> ScenarioSpec:
        """A validated copy with make-time overrides applied (see ``OVERRIDES``)."""
        unknown = sorted(set(overrides) - set(OVERRIDES))
        if unknown:
            # TypeError, as Python raises for an unexpected keyword (TorchRL and others rely on it).
            raise TypeError(
                f"{self.id}: got an unexpected keyword argument {unknown[0]!r} (unknown keyword(s) {unknown}); "
                f"accepted overrides: {', '.join(OVERRIDES)}"
            )
        spec = self
        changes = dict(overrides)
        if "num_servers" in changes:
            spec = replace(spec, cluster=spec.cluster.resized(changes.pop("num_servers")))
        if "arrival_rate" in changes:
            spec = replace(spec, workload=spec.workload.with_total_rate(changes.pop("arrival_rate")))
        if "num_tasks" in changes:
            num_tasks = changes.pop("num_tasks")
            if not is_int(num_tasks) or num_tasks < 1:
                raise ValueError(f"{self.id}: num_tasks must be a positive integer, got {num_tasks!r}")
            spec = replace(
                spec,
                workload=replace(
                    spec.workload, num_tasks=num_tasks, initial_queue=min(spec.workload.initial_queue, num_tasks)
                ),
            )
        if "degrees" in changes:
            degrees = changes["degrees"]
            if isinstance(degrees, (str, bytes)) or not hasattr(degrees, "__iter__"):
                raise ValueError(f"{self.id}: degrees must be a sequence of integers, e.g. (1, 2, 4), got {degrees!r}")
            changes["degrees"] = tuple(degrees)
        spec = replace(spec, **changes)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Check every field; errors name the scenario and the field. Loads the trace."""
        from eat_bench.rewards import REWARD_PRESETS
        from eat_bench.sim.profiles import load_trace
        from eat_bench.sim.quality import QUALITY_MODELS

        where = self.id
        for name in ("reward", "action_mode", "obs_mode", "degree_mode", "quality", "placement"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{where}: {name} must be a string, got {getattr(self, name)!r}")
        if not isinstance(self.trace, (str, os.PathLike)):
            raise ValueError(f"{where}: trace must be a shipped trace name or a CSV path, got {self.trace!r}")
        if self.reward not in REWARD_PRESETS:
            raise ValueError(f"{where}: unknown reward preset {self.reward!r}; choose from {sorted(REWARD_PRESETS)}")
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"{where}: action_mode must be one of {ACTION_MODES}, got {self.action_mode!r}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"{where}: obs_mode must be one of {OBS_MODES}, got {self.obs_mode!r}")
        if self.degree_mode not in DEGREE_MODES:
            raise ValueError(f"{where}: degree_mode must be one of {DEGREE_MODES}, got {self.degree_mode!r}")
        if self.quality not in QUALITY_MODELS:
            raise ValueError(f"{where}: unknown quality model {self.quality!r}; choose from {QUALITY_MODELS}")
        if self.placement not in ("paper", "edge"):
            raise ValueError(f"{where}: placement must be 'paper' or 'edge', got {self.placement!r}")
        if not is_int(self.queue_len) or self.queue_len < 1:
            raise ValueError(f"{where}: queue_len must be a positive integer, got {self.queue_len!r}")
        if (
            not self.degrees
            or any(not is_int(k) or k < 1 for k in self.degrees)
            or list(self.degrees) != sorted(set(self.degrees))
        ):
            raise ValueError(
                f"{where}: degrees must be distinct positive integers in increasing order, got {self.degrees!r}"
            )
        largest_site = max(len(site.gpus) for site in self.cluster.sites)
        if self.degrees[-1] > largest_site:
            raise ValueError(
                f"{where}: degree {self.degrees[-1]} needs a site with {self.degrees[-1]} servers, but the largest "
                f"site has {largest_site}; pass degrees= with smaller values or more servers"
            )
        if not is_int(self.max_steps) or self.max_steps < 1:
            raise ValueError(f"{where}: max_steps must be a positive integer, got {self.max_steps!r}")
        if not self.step_levels or any(not 1 <= s <= self.max_steps for s in self.step_levels):
            raise ValueError(f"{where}: step_levels must lie in 1..{self.max_steps}, got {self.step_levels!r}")
        if self.decision_interval_s is not None and not (
            is_real(self.decision_interval_s) and self.decision_interval_s > 0
        ):
            raise ValueError(
                f"{where}: decision_interval_s must be a positive finite number of seconds or None, "
                f"got {self.decision_interval_s!r}"
            )
        if self.paper_rules is not None and not isinstance(self.paper_rules, PaperRules):
            raise ValueError(f"{where}: paper_rules must be a PaperRules or None, got {self.paper_rules!r}")
        penalty = self.invalid_penalty
        if penalty is not None and not is_real(penalty):
            raise ValueError(f"{where}: invalid_penalty must be a finite number or None, got {penalty!r}")
        if not (is_real(self.time_limit_s) and self.time_limit_s > 0):
            raise ValueError(
                f"{where}: time_limit_s must be a positive finite number of seconds, got {self.time_limit_s!r}"
            )
        if self.workload.num_tasks < 1 or not 0 <= self.workload.initial_queue <= self.workload.num_tasks:
            raise ValueError(f"{where}: need num_tasks >= 1 and 0 <= initial_queue <= num_tasks")
        classes = len(self.workload.classes)
        for stream in self.workload.streams:
            if not stream.classes or any(not (is_int(c) and 0 <= c < classes) for c in stream.classes):
                raise ValueError(
                    f"{where}: the stream at site {stream.site} draws from classes {stream.classes}; "
                    f"they must be indices into the scenario's {classes} request classes"
                )
        for stream in self.workload.streams:
            if not 0 <= stream.site < self.cluster.num_sites:
                raise ValueError(
                    f"{where}: a stream originates at site {stream.site}, but the cluster has {self.cluster.num_sites}"
                )
        trace = load_trace(self.trace)
        for site in self.cluster.sites:
            for gpu in site.gpus:
                for c in self.workload.classes:
                    for k in self.degrees:
                        if not trace.has(gpu, c.model, c.width, c.height, k):
                            raise ValueError(
                                f"{where}: trace {trace.name!r} has no row for gpu={gpu}, model={c.model}, "
                                f"resolution={c.width}x{c.height}, degree={k} (site {site.name!r}); "
                                f"its GPUs are {', '.join(trace.gpus())}"
                            )

    # ------------------------------------------------------------------ resolution
    def sim_config(self) -> SimConfig:
        """Resolve the trace and quality model into a :class:`~eat_bench.sim.SimConfig`."""
        from eat_bench.sim.engine import SimConfig
        from eat_bench.sim.entities import ServerSpec
        from eat_bench.sim.profiles import load_trace
        from eat_bench.sim.quality import get_quality_model

        servers = tuple(
            ServerSpec(server_id=i, site=site_index, gpu=gpu)
            for i, (site_index, gpu) in enumerate(
                (s, g) for s, site in enumerate(self.cluster.sites) for g in site.gpus
            )
        )
        rules = self.paper_rules
        return SimConfig(
            servers=servers,
            num_sites=self.cluster.num_sites,
            classes=self.workload.classes,
            streams=self.workload.streams,
            num_tasks=self.workload.num_tasks,
            initial_queue=self.workload.initial_queue,
            degrees=self.degrees,
            degree_mode=self.degree_mode,
            trace=load_trace(self.trace),
            quality=get_quality_model(self.quality),
            link_latency_s=self.cluster.latency_matrix(),
            link_bandwidth_bps=self.cluster.bandwidth_bps_matrix(),
            placement=self.placement,
            decision_interval_s=self.decision_interval_s,
            idle_advance_s=self.idle_advance_s,
            time_limit_s=self.time_limit_s,
            max_steps=self.max_steps,
            real_steps=rules is not None and rules.real_steps,
            clock_start_s=0.0 if rules is None else float(rules.clock_start_s),
            stamp_at_tick_start=rules is not None and rules.stamp_at_tick_start,
            lowest_id_group=rules is not None and rules.lowest_id_group,
        )

    def summary(self) -> str:
        """One line: id, servers, GPU kinds, arrivals, what the agent chooses."""
        arrivals = ", ".join(type(s.arrivals).__name__.replace("Arrivals", "").lower() for s in self.workload.streams)
        return (
            f"{self.id}: {self.cluster.num_servers} servers in {self.cluster.num_sites} site(s) "
            f"({'/'.join(self.cluster.gpu_kinds)}), {self.workload.num_tasks} tasks, "
            f"{arrivals} arrivals at {self.workload.total_rate:.3g}/s, degree chosen by {self.degree_mode}, "
            f"{'tick ' + str(self.decision_interval_s) + ' s' if self.decision_interval_s else 'event-driven'}"
            + (" [held out]" if self.held_out else "")
        )
