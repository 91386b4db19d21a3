"""Multi-site scenarios: every edge site its own servers and request stream.

:func:`make_multi_site_scenario` builds the scenario of ``edge_sites_v0`` (one agent per
site) from site profiles; any multi-site :class:`~eat_bench.scenarios.ScenarioSpec` of the
catalogue (``EAT-Edge-Large-v0``...) serves as well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from eat_bench.scenarios.catalogue import EDGE_CLASSES
from eat_bench.scenarios.spec import ClusterSpec, ScenarioSpec, SiteSpec, WorkloadSpec
from eat_bench.sim.profiles import load_trace
from eat_bench.sim.workload import PoissonArrivals, RequestClass, StreamSpec

__all__ = ["SiteProfile", "SITE_PROFILES", "BASE_CLASSES", "make_multi_site_scenario", "MULTI_SITE_ID"]

MULTI_SITE_ID = "edge_sites_v0"
"""The id multi-site scenarios carry (the env that runs them)."""

BASE_CLASSES = EDGE_CLASSES
"""Request kinds (EAT-Edge-v0's); site profiles mix them with their own weights."""


@dataclass(frozen=True)
class SiteProfile:
    """A kind of edge site: its GPUs (cycled over its servers), its share of the
    arrivals, and its request mix as ``(index into BASE_CLASSES, weight)`` pairs."""

    name: str
    gpus: tuple[str, ...]
    rate_weight: float
    mix: tuple[tuple[int, float], ...]


SITE_PROFILES: tuple[SiteProfile, ...] = (
    SiteProfile("metro", ("A100", "RTX4090", "RTX4090", "A100"), 1.0, ((0, 0.5), (1, 0.25), (2, 0.25))),
    SiteProfile("campus", ("RTX4090", "RTX3090", "RTX3090", "T4"), 1.1, ((0, 0.7), (1, 0.2), (2, 0.1))),
    SiteProfile("kiosk", ("RTX3090", "T4", "T4", "T4"), 0.8, ((0, 0.8), (1, 0.2))),
    SiteProfile("studio", ("H100", "A100", "RTX4090", "H100"), 1.1, ((0, 0.2), (1, 0.3), (2, 0.5))),
)
"""Heterogeneous sites cycle through these profiles (site i gets profile i mod 4)."""


def _ring_matrix(value: float | Sequence[Sequence[float]], size: int, scale: str) -> tuple[tuple[float, ...], ...]:
    if isinstance(value, (int, float)):
        out = []
        for i in range(size):
            row = []
            for j in range(size):
                hops = min(abs(i - j), size - abs(i - j))
                row.append(0.0 if hops == 0 else (float(value) * hops if scale == "mul" else float(value) / hops))
            out.append(tuple(row))
        return tuple(out)
    return tuple(tuple(float(v) for v in row) for row in value)


def make_multi_site_scenario(
    num_sites: int = 4,
    servers_per_site: int = 4,
    *,
    heterogeneous: bool = True,
    profiles: Sequence[SiteProfile] | None = None,
    load: float = 0.08,
    arrival_rate: float | None = None,
    tasks_per_site: int = 100,
    queue_len: int = 8,
    degrees: Sequence[int] | None = None,
    step_levels: Sequence[int] = (10, 20, 30, 50),
    link_latency_s: float | Sequence[Sequence[float]] = 0.01,
    link_bandwidth_mbps: float | Sequence[Sequence[float]] = 200.0,
    reward: str = "balanced",
    trace: str = "edge-mixed",
    time_limit_s: float = 3600.0,
    invalid_penalty: float | None = None,
) -> ScenarioSpec:
    """The multi-site scenario of ``edge_sites_v0`` (see the module docstring).

    ``profiles`` overrides the site kinds (site i gets ``profiles[i % len(profiles)]``);
    ``arrival_rate`` (requests/s, all sites together) overrides ``load``; ``degrees``
    defaults to the powers of two up to ``min(4, servers_per_site)``.
    """
    for name, value in (
        ("num_sites", num_sites),
        ("servers_per_site", servers_per_site),
        ("tasks_per_site", tasks_per_site),
        ("queue_len", queue_len),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{MULTI_SITE_ID}: {name} must be a positive integer, got {value!r}")
    if not (isinstance(load, (int, float)) and math.isfinite(load) and load > 0):
        raise ValueError(f"{MULTI_SITE_ID}: load must be a positive number, got {load!r}")
    if profiles is None:
        profiles = SITE_PROFILES if heterogeneous else SITE_PROFILES[:1]
    profiles = tuple(profiles)
    if not profiles:
        raise ValueError(f"{MULTI_SITE_ID}: profiles must not be empty")
    site_profiles = [profiles[i % len(profiles)] for i in range(num_sites)]
    if degrees is None:
        degrees = tuple(k for k in (1, 2, 4) if k <= servers_per_site)
    # Request classes: one per (profile, base class) weight, deduplicated.
    classes: list[RequestClass] = []
    stream_classes: list[tuple[int, ...]] = []
    for profile in site_profiles:
        indices = []
        for base, weight in profile.mix:
            c = replace(BASE_CLASSES[base], weight=float(weight))
            if c not in classes:
                classes.append(c)
            indices.append(classes.index(c))
        stream_classes.append(tuple(indices))
    sites = tuple(
        SiteSpec(f"site_{i}-{p.name}", tuple(p.gpus[j % len(p.gpus)] for j in range(servers_per_site)))
        for i, p in enumerate(site_profiles)
    )
    # Total rate: load x warm single-GPU capacity at 30 steps for the cluster's request mix.
    if arrival_rate is None:
        profile_trace = load_trace(trace)
        weights = np.array([p.rate_weight for p in site_profiles], dtype=float)
        share = weights / weights.sum()
        mix: dict[int, float] = {}
        for p, s in zip(site_profiles, share):
            total = sum(w for _, w in p.mix)
            for base, w in p.mix:
                mix[base] = mix.get(base, 0.0) + s * w / total
        capacity = 0.0
        for site in sites:
            for gpu in site.gpus:
                mean_service = sum(
                    p
                    * profile_trace.lookup(
                        gpu, BASE_CLASSES[b].model, BASE_CLASSES[b].width, BASE_CLASSES[b].height, 1
                    ).service_s(30)
                    for b, p in mix.items()
                )
                capacity += 1.0 / mean_service
        arrival_rate = float(load) * capacity
    if not (isinstance(arrival_rate, (int, float)) and math.isfinite(arrival_rate) and arrival_rate > 0):
        raise ValueError(f"{MULTI_SITE_ID}: arrival_rate must be a positive number of requests/s, got {arrival_rate!r}")
    weights = [p.rate_weight for p in site_profiles]
    streams = tuple(
        StreamSpec(site=i, arrivals=PoissonArrivals(arrival_rate * w / sum(weights)), classes=stream_classes[i])
        for i, w in enumerate(weights)
    )
    cluster = ClusterSpec(
        sites=sites,
        link_latency_s=_ring_matrix(link_latency_s, num_sites, "mul"),
        link_bandwidth_mbps=_ring_matrix(link_bandwidth_mbps, num_sites, "div"),
    )
    spec = ScenarioSpec(
        id=MULTI_SITE_ID,
        description=(
            f"{num_sites} edge sites x {servers_per_site} servers "
            f"({'heterogeneous' if len(set(profiles)) > 1 else 'homogeneous'}), one agent per site"
        ),
        cluster=cluster,
        workload=WorkloadSpec(classes=tuple(classes), streams=streams, num_tasks=tasks_per_site * num_sites),
        trace=trace,
        reward=reward,
        action_mode="discrete",
        queue_len=queue_len,
        degrees=tuple(degrees),
        step_levels=tuple(step_levels),
        time_limit_s=time_limit_s,
        invalid_penalty=invalid_penalty,
        history=("v0: first release",),
    )
    spec.validate()
    return spec
