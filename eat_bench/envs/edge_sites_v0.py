"""``edge_sites_v0``: a PettingZoo environment where every edge site is an agent.

Each edge site has its own request stream (its own arrival rate, model mix and resolution
mix) and its own GPU servers. Every agent schedules its own site's queue: it picks a
task, runs it locally or offloads it to another site (the image then pays the link's
transfer time: bytes / bandwidth + latency, from the scenario's site-to-site matrices),
and picks the gang degree and the number of denoising steps. Offloaded work competes
for the other site's servers: edge collaboration. One :class:`~eat_bench.sim.Simulator`
holds the whole cluster, so the simulation work is shared, not repeated per agent.

Usage::

    from eat_bench.envs import edge_sites_v0
    env = edge_sites_v0.parallel_env(num_sites=4, servers_per_site=4)
    obs, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample(mask=infos[a]["action_mask"]) for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)
    aec = edge_sites_v0.env()          # the AEC version (parallel_to_aec)

**Agents.** ``site_0 .. site_{S-1}``; all are live from ``reset`` to the episode's end
(no agent dies early).

**Cluster and workload** (built by :func:`make_scenario`; pass ``scenario=`` to use any
multi-site :class:`~eat_bench.scenarios.ScenarioSpec` or registered id instead, e.g.
``EAT-Edge-Large-v0``). ``num_sites`` sites of ``servers_per_site`` servers each. With
``heterogeneous=True`` (default) sites cycle through four :data:`SITE_PROFILES`:
``metro`` (A100/RTX 4090, mixed requests), ``campus`` (RTX 4090/3090, mostly SD 1.5),
``kiosk`` (RTX 3090/T4, small SD 1.5 images only) and ``studio`` (H100/A100/RTX 4090,
SDXL-heavy), each with its own share of the arrivals; with ``heterogeneous=False`` every
site is a ``metro`` site with an equal share. Request kinds are EAT-Edge-v0's (SD 1.5 at
512² and 768², SDXL at 1024²; SLOs 5, 10, 20 s). Poisson arrivals add up to ``load``
(0.08) times the cluster's warm single-GPU capacity at 30 steps (``arrival_rate=``
overrides it); cold starts (24-131 s per model load) dominate, so 0.08 already gives
about 60-70% measured utilisation (see ``docs/multi_agent.md``). ``tasks_per_site``
(100) requests per site per episode. Links: ``link_latency_s`` (0.01 s) and
``link_bandwidth_mbps`` (200) per hop of a ring of sites (latency x hops, bandwidth /
hops), or S x S matrices (row: request's site, column: servers' site). ``queue_len``
(8), ``degrees`` (1, 2, 4 up to the site size), ``step_levels`` (10, 20, 30, 50),
``reward``, ``trace``, ``time_limit_s`` and ``invalid_penalty`` are knobs too. A
scenario may give a site no servers of its own: that agent can only offload. From a
``scenario=`` only the cluster, workload, trace, quality, reward, degrees, step levels,
queue length, time limit and clock are used; the observation mode and episode length
are this env's own ``obs_mode`` and ``max_cycles``.

**Action** (per agent): ``MultiDiscrete([Q + 1, S, D, L])`` with Q = ``queue_len`` (8),
S sites, D = ``len(degrees)`` (1 when tasks fix their degree), L = ``len(step_levels)``:

* ``a[0]``: 0 waits; ``i >= 1`` picks the i-th oldest task of this site's own queue.
* ``a[1]``: the target site, *relative* to this agent: 0 runs locally, ``j`` runs at
  site ``(own + j) % S``. Relative indices let one shared policy serve every site.
* ``a[2]``: degree index into ``degrees`` (servers run the task together, one site).
* ``a[3]``: step-level index into ``step_levels`` (denoising steps).

Placement inside the target site is the simulator's: an idle warm group of that size
holding the model, else the fastest free servers.

**Action masks.** ``infos[agent]["action_mask"]`` is a tuple of four ``int8`` arrays, one
per component, so ``env.action_space(agent).sample(mask=infos[agent]["action_mask"])``
works as is. :meth:`EdgeSitesEnv.action_masks` gives the same masks for all agents as
one ``bool`` array, a row per agent of the components concatenated (sb3-contrib
MaskablePPO's convention). Masks are per component (wait is always valid; a slot is
valid when it holds a task and some site has enough free servers; a target when that
site has free servers for the smallest degree; a degree when some site has that many
free servers), so a masked sample can still be infeasible as a whole. Mask arrays are read-only and shared between agents
and steps (copy one before changing it).

**Simultaneous decisions and conflicts.** All agents act at once. Agents that dispatch
are served in a priority order drawn from the simulator's seeded tie-breaking generator
(a fresh uniformly random permutation whenever two or more agents dispatch in one step:
the agents sorted by one uniform key each, ``sim.tie_rng.random(S)``). A decision that
was feasible when the step began but whose target site no longer has enough free
servers, because a higher-priority agent took them, acts as wait and sets
``infos[agent]["conflict"] = True`` (no penalty). A decision infeasible from the start
(empty slot, too few free servers at the target) acts as wait, sets
``infos[agent]["invalid_action"] = True`` and ``"invalid_reason"``, and earns the reward
preset's invalid penalty.

**Time.** Event-driven: if no agent dispatched in a step, time jumps to the next arrival
or completion; in every case it then advances until some agent can decide (a task in
its visible queue that fits some site's free servers), the episode ends or the time
limit is reached. A step in which somebody dispatched does not advance time by itself,
so agents that waited are asked again at the same instant. A scenario with a decision
interval (``decision_interval_s``, e.g. ``EAT-Paper-v0``'s 0.1 s) moves in ticks
instead: a step in which nobody dispatched advances one tick.

**Observation** (per agent, all entries >= 0, float32). ``obs_mode="dict"``:
``{"tasks": (Q, Ft), "servers": (N, Fs), "sites": (S, Fn), "globals": (4,)}`` token
matrices (for attention models). ``obs_mode="flat"`` (default): one Box of
``Q*Ft + N*Fs + S*Fn + 4`` values (for MLPs): the tasks row by row, then the servers
and the sites *feature by feature* (the transposes of the dict's matrices, ``Fs x N``
and ``Fn x S``: each feature of every server is one contiguous run), then the globals.
With M the scenario's models and N servers:

* tasks (this site's queue, oldest first; zero rows past its end), Ft = 5 + M: present,
  waited / SLO, SLO / time_scale, pixels / 1024², demanded degree / max degree, model
  one-hot.
* servers (every server of the cluster, grouped by site in *relative* order: this
  site's servers first, then site own+1, ...), Fs = 6 + M: free, remaining busy seconds
  / time_scale, warm group size / max degree, warm model one-hot, relative speed,
  distance from this site (link latency + transfer of a 1024x1024 image, / time_scale),
  relative site index / S.
* sites (relative order, the neighbours' load), Fn = 4: free servers / site size,
  queued tasks / Q, oldest task's wait / SLO, distance / time_scale.
* globals: now / time limit, fraction of the episode's tasks arrived, free fraction of
  the cluster, queued tasks / (S*Q).

The server and site blocks exist once, updated only where an event changed them, and
are shared by all agents: every agent's observation (own queue, relative order,
distances) is gathered from one source vector by a fixed index. Between events every
entry is linear in time, so a step evaluates the time-dependent entries and does one
gather, not a rebuild.

**State.** ``state()`` returns the global state for centralised critics, a flat float32
vector in ``state_space``: every site's task block (absolute site order), every server
(absolute order: free, remaining, warm size, warm model one-hot, relative speed), every
site's (free fraction, queued / Q, oldest wait / SLO) and the globals.

**Reward.** ``own_i`` is the reward preset (``reward=``, default ``balanced``; see
:mod:`eat_bench.envs.rewards`) applied to agent i's own dispatch and to the queueing
cost of its own site's queue during the step (sum over its queued tasks of dt / SLO),
plus the preset's invalid penalty for an infeasible decision. Then
``r_i = (1 - team_share) * own_i + team_share * mean_j(own_j)`` (``team_share`` in
[0, 1], default 0.5: 0 is selfish, 1 fully cooperative).

**Episode end.** For all agents together: terminated when every task has arrived, been
dispatched and finished; truncated at the scenario's time limit (3600 s) or after
``max_cycles`` (5000) parallel steps. ``env.agents`` is empty afterwards. The last
step's ``infos[agent]["episode_metrics"]`` holds that site's metrics (its own tasks:
latency percentiles, SLO attainment, quality, offloaded count, invalid actions) and
``infos[agent]["team_metrics"]`` the whole cluster's; :meth:`EdgeSitesEnv.episode_metrics`
returns the latter at any time.

**Infos** (every step, per agent): ``action_mask``, ``invalid_action``, ``conflict``, ``dispatched_task`` (task id or -1), ``target_site``
(absolute site or -1), ``time_s``; ``invalid_reason`` when the decision acted as wait.
``env.events`` holds the step's ``(kind, time_s, task_id)`` simulator events.

**Bad input.** Actions for unknown or finished agents, a missing live agent, or a
malformed action (wrong shape, non-integer dtype, value outside the space) raise a
``ValueError`` that names the agent and the problem; nothing changes.

**Seeding.** ``reset(seed=s)`` draws the episode's workload and tie-breaking from
generators made from ``s``; later ``reset()`` calls without a seed continue
deterministically. Same seed and same actions give the same trajectory.

**Rendering.** ``render_mode="ansi"`` (text table per site), ``"human"`` (prints it),
``"rgb_array"`` (Gantt chart of the servers; needs matplotlib).

**Parameter sharing.** All agents have equal spaces and relative views (own site
first), so one policy can drive every site: :mod:`eat_bench.envs.vector` turns the env
into a seedable, truncation-correct Stable-Baselines3 ``VecEnv`` (directly or through
SuperSuit), and ``python -m eat_bench.baselines.marl_ppo`` trains MaskablePPO / PPO.

**Version history.** v0 (eat-bench 0.1): first release.

Example (runs under ``pytest --doctest-modules``):

>>> from eat_bench.envs import edge_sites_v0
>>> env = edge_sites_v0.parallel_env(num_sites=4, servers_per_site=4)
>>> obs, infos = env.reset(seed=0)
>>> env.agents
['site_0', 'site_1', 'site_2', 'site_3']
>>> env.action_space("site_0")
MultiDiscrete([9 4 3 4])
>>> obs["site_0"].shape == env.observation_space("site_0").shape
True
>>> actions = {a: env.action_space(a).sample(mask=infos[a]["action_mask"]) for a in env.agents}
>>> obs, rewards, terminations, truncations, infos = env.step(actions)
>>> sorted(rewards) == env.agents
True
>>> env.state().shape == env.state_space.shape
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv
from pettingzoo.utils import parallel_to_aec

from eat_bench.envs.rewards import get_reward_preset
from eat_bench.scenarios import ClusterSpec, ScenarioSpec, SiteSpec, WorkloadSpec, get_scenario
from eat_bench.sim.engine import RAW_IMAGE_BYTES_PER_PIXEL, Simulator
from eat_bench.sim.metrics import summarize
from eat_bench.sim.profiles import load_trace
from eat_bench.sim.workload import PoissonArrivals, RequestClass, StreamSpec

__all__ = [
    "EdgeSitesEnv",
    "SiteProfile",
    "SITE_PROFILES",
    "BASE_CLASSES",
    "make_scenario",
    "parallel_env",
    "raw_env",
    "env",
]

ENV_NAME = "edge_sites_v0"
REFERENCE_PIXELS = 1024 * 1024
_NO_TASK = 1 << 62  # "degree" of an empty visible slot: never fits
"""The image size the observation's ``distance`` feature is quoted for."""

BASE_CLASSES = (
    RequestClass("sd15", 512, 512, slo_s=5.0),
    RequestClass("sd15", 768, 768, slo_s=10.0),
    RequestClass("sdxl", 1024, 1024, slo_s=20.0),
)
"""Request kinds (as in EAT-Edge-v0); site profiles mix them with their own weights."""


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


def make_scenario(
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
            raise ValueError(f"{ENV_NAME}: {name} must be a positive integer, got {value!r}")
    if not (isinstance(load, (int, float)) and math.isfinite(load) and load > 0):
        raise ValueError(f"{ENV_NAME}: load must be a positive number, got {load!r}")
    if profiles is None:
        profiles = SITE_PROFILES if heterogeneous else SITE_PROFILES[:1]
    profiles = tuple(profiles)
    if not profiles:
        raise ValueError(f"{ENV_NAME}: profiles must not be empty")
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
        raise ValueError(f"{ENV_NAME}: arrival_rate must be a positive number of requests/s, got {arrival_rate!r}")
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
        id=ENV_NAME,
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


class EdgeSitesEnv(ParallelEnv):
    """The ``edge_sites_v0`` parallel environment; its documentation is the module
    docstring of :mod:`eat_bench.envs.edge_sites_v0`."""

    metadata = {
        "name": ENV_NAME,
        "render_modes": ["human", "ansi", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        num_sites: int = 4,
        servers_per_site: int = 4,
        *,
        scenario: str | ScenarioSpec | None = None,
        team_share: float = 0.5,
        max_cycles: int = 5000,
        obs_mode: str = "flat",
        reward: str | None = None,
        invalid_penalty: float | None = None,
        render_mode: str | None = None,
        **scenario_kwargs: Any,
    ) -> None:
        if scenario is None:
            if reward is not None:
                scenario_kwargs["reward"] = reward
            if invalid_penalty is not None:
                scenario_kwargs["invalid_penalty"] = invalid_penalty
            spec = make_scenario(num_sites, servers_per_site, **scenario_kwargs)
        else:
            if scenario_kwargs:
                raise ValueError(
                    f"{ENV_NAME}: scenario= was given, so {sorted(scenario_kwargs)} cannot be applied; "
                    "build the scenario with make_scenario(...) instead"
                )
            spec = get_scenario(scenario) if isinstance(scenario, str) else scenario
            overrides: dict[str, Any] = {}
            if reward is not None:
                overrides["reward"] = reward
            if invalid_penalty is not None:
                overrides["invalid_penalty"] = invalid_penalty
            spec = spec.with_overrides(**overrides) if overrides else (spec.validate() or spec)
        if isinstance(team_share, bool) or not isinstance(team_share, (int, float)) or not 0.0 <= team_share <= 1.0:
            raise ValueError(f"{ENV_NAME}: team_share must lie in [0, 1], got {team_share!r}")
        if isinstance(max_cycles, bool) or not isinstance(max_cycles, int) or max_cycles < 1:
            raise ValueError(f"{ENV_NAME}: max_cycles must be a positive integer, got {max_cycles!r}")
        if obs_mode not in ("flat", "dict"):
            raise ValueError(f"{ENV_NAME}: obs_mode must be 'flat' or 'dict', got {obs_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{ENV_NAME}: render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.scenario = spec
        self.team_share = float(team_share)
        self.max_cycles = max_cycles
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.reward_preset = get_reward_preset(spec.reward)
        self._invalid_penalty = spec.invalid_penalty
        # An idle agent's reward is linear in its queueing cost under every preset; use
        # the slope directly when the preset confirms it (else call it per agent).
        preset, penalty = self.reward_preset, self._invalid_penalty
        slope = preset(None, False, 1.0, 0.0, penalty)
        linear = preset(None, False, 0.0, 0.0, penalty) == 0.0 and preset(None, False, 2.5, 0.0, penalty) == 2.5 * slope
        self._idle_rate: float | None = slope if linear else None

        # One simulator for the whole cluster; every queued task must be addressable.
        config = replace(spec.sim_config(), visible=spec.workload.num_tasks)
        self.sim = Simulator(config)
        sim = self.sim
        S = self.num_sites = config.num_sites
        N = sim.num_servers
        Q = self.queue_len = spec.queue_len
        M = len(sim.models)
        self.degrees = tuple(spec.degrees)
        self.step_levels = tuple(spec.step_levels)
        self.agent_degree = spec.degree_mode == "agent"
        self._min_degree = self.degrees[0]
        self._inv_scale = 1.0 / spec.time_scale_s
        self._max_degree = float(max(self.degrees))
        self.possible_agents = [f"site_{i}" for i in range(S)]
        self.agents: list[str] = []
        self._agent_index = {a: i for i, a in enumerate(self.possible_agents)}
        self._live_keys: frozenset[str] = frozenset()

        # ---------------------------------------------------------------- geometry
        # Relative orders: agent i's target r is site (i + r) % S; its servers are those
        # of site i, then i+1, ... (each site's in server-id order).
        self._site_perm = np.array([[(i + r) % S for r in range(S)] for i in range(S)], dtype=np.int64)
        self._site_perm_list = self._site_perm.tolist()
        site_of = sim.server_site
        by_site = [np.flatnonzero(site_of == s) for s in range(S)]
        sizes = [len(b) for b in by_site]
        self._site_size = np.array(sizes, dtype=np.float64)
        self._free_divisor = np.maximum(self._site_size, 1.0)  # a site may have no servers
        self._server_perm = np.stack([np.concatenate([by_site[s] for s in row]) for row in self._site_perm_list])
        lat, bw = config.link_latency_s, config.link_bandwidth_bps
        distance = np.array(
            [
                [
                    0.0 if i == j else lat[i][j] + REFERENCE_PIXELS * RAW_IMAGE_BYTES_PER_PIXEL / bw[i][j]
                    for j in range(S)
                ]
                for i in range(S)
            ]
        )
        self._distance = distance * self._inv_scale
        first = config.classes[0]
        ref = np.array(
            [
                config.trace.lookup(s.gpu, first.model, first.width, first.height, self.degrees[0]).step_s
                for s in config.servers
            ]
        )
        self._speed = ref.min() / ref

        # ---------------------------------------------------------------- layout
        # Flat layout per agent: tasks (Q x Ft, row-major), servers (Fs x N, feature-major),
        # sites (Fn x S, feature-major), globals; the dict mode returns the blocks
        # transposed, (N, Fs) and (S, Fn). Between two events every entry is constant or
        # linear in time, so the env rewrites only what an event changed and evaluates the
        # linear ones at ``now``.
        self.task_features = Ft = 5 + M
        self.dynamic_server_features = Fd = 3 + M
        self.server_features = Fs = Fd + 3
        self.site_features = Fn = 4
        self.num_globals = G = 4
        self._sizes = (Q * Ft, N * Fs, S * Fn, G)
        self.obs_size = sum(self._sizes)
        self._model_col = 5
        # Every observation entry is gathered from one float32 source vector ``_V`` by a
        # fixed index (``_obs_index``, S x D): the shared server and site blocks exist once
        # in ``_V`` and each agent's order, distances and own queue are in the index.
        # ``_V`` starts with the time-dependent entries (waits, remaining busy times,
        # oldest waits, now), each intercept + slope * now in float64 (``_T_I``,
        # ``_T_Sl``), evaluated at every step; the rest changes only at events.
        sections = {
            "wait": S * Q,
            "remaining": N,
            "oldest": S,
            "now": 1,
            "tasks": S * Q * Ft,
            "servers": N * Fd,
            "free": S,
            "queued": S,
            "globals": 3,
            "speed": N,
            "distance": S * S,
            "relative": S,
        }
        self._offsets = offsets = dict(zip(sections, np.cumsum([0, *sections.values()])[:-1].tolist()))
        self._num_timed = offsets["tasks"]
        self._V = np.zeros(sum(sections.values()), dtype=np.float32)
        self._T_I = np.zeros(self._num_timed)
        self._T_Sl = np.zeros(self._num_timed)
        self._T = np.zeros(self._num_timed)
        self._inv_time_limit = 1.0 / spec.time_limit_s
        self._make_views()
        # Static entries, written once.
        self._now_Sl[0] = self._inv_time_limit
        self._V_speed[:] = self._speed
        self._V_distance[:] = self._distance.ravel()
        self._V_relative[:] = np.arange(S) / S
        self._obs_index, self._state_index = self._gather_indices(site_of)
        self._warm_one_hot = np.vstack([np.eye(M), np.zeros((1, M))])  # row -1: no warm model
        self._warm_one_hot_rows = [tuple(row) for row in self._warm_one_hot.tolist()]
        self._server_site_list = site_of.tolist()
        self._site_size_list = [float(n) for n in sizes]

        # ---------------------------------------------------------------- spaces
        D = len(self.degrees) if self.agent_degree else 1
        self.nvec = (Q + 1, S, D, len(self.step_levels))
        bounds = np.cumsum((0,) + self.nvec)
        self._mask_bounds = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._mask_size = int(bounds[-1])
        inf = np.inf
        task_high = np.full(Ft, inf, dtype=np.float32)
        task_high[[0, 4]] = 1.0
        task_high[5:] = 1.0
        dyn_high = np.full(Fd, inf, dtype=np.float32)
        dyn_high[[0, 2]] = 1.0
        dyn_high[3:] = 1.0
        server_high = np.concatenate([dyn_high, np.array([1.0, inf, 1.0], dtype=np.float32)])
        site_high = np.array([1.0, inf, inf, inf], dtype=np.float32)
        global_high = np.array([inf, 1.0, 1.0, inf], dtype=np.float32)
        blocks = {
            "tasks": np.broadcast_to(task_high, (Q, Ft)).copy(),
            "servers": np.broadcast_to(server_high, (N, Fs)).copy(),
            "sites": np.broadcast_to(site_high, (S, Fn)).copy(),
            "globals": global_high,
        }
        flat_high = np.concatenate(
            [blocks["tasks"].ravel(), blocks["servers"].T.ravel(), blocks["sites"].T.ravel(), global_high]
        )
        self._obs_spaces: dict[str, spaces.Space] = {}
        self._act_spaces: dict[str, spaces.Space] = {}
        for agent in self.possible_agents:
            if obs_mode == "dict":
                self._obs_spaces[agent] = spaces.Dict(
                    {k: spaces.Box(0.0, v, dtype=np.float32) for k, v in blocks.items()}
                )
            else:
                self._obs_spaces[agent] = spaces.Box(0.0, flat_high, dtype=np.float32)
            self._act_spaces[agent] = spaces.MultiDiscrete(self.nvec)
        state_high = np.concatenate(
            [
                np.tile(task_high, S * Q),
                np.tile(np.concatenate([dyn_high, np.array([1.0], dtype=np.float32)]), N),
                np.tile(site_high[:3], S),
                global_high,
            ]
        )
        self.state_space = spaces.Box(0.0, state_high, dtype=np.float32)
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
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._started = False
        self.events: list[tuple[str, float, int]] = []
        self._site_queue: list[list[int]] = [[] for _ in range(S)]
        # Per site: visible queue length and, when tasks fix their degree, each visible
        # task's degree (_NO_TASK past the queue's end).
        self._vis_counts = [0] * S
        self._vis_degree = np.full((S, Q), _NO_TASK, dtype=np.int64)

    _VIEWS = (
        "_wait_I",
        "_wait_Sl",
        "_rem_I",
        "_rem_Sl",
        "_old_I",
        "_old_Sl",
        "_now_Sl",
        "_V_timed",
        "_tasks_I",
        "_servers_V",
        "_free_V",
        "_queued_V",
        "_globals_V",
        "_V_speed",
        "_V_distance",
        "_V_relative",
    )

    def _make_views(self) -> None:
        """Named views into ``_V`` and the time intercepts and slopes (made again after
        unpickling: pickling does not keep views)."""
        S, Q, N = self.num_sites, self.queue_len, self.sim.num_servers
        o, V, TI, TS = self._offsets, self._V, self._T_I, self._T_Sl
        self._wait_I = TI[: S * Q].reshape(S, Q)
        self._wait_Sl = TS[: S * Q].reshape(S, Q)
        self._rem_I = TI[o["remaining"] : o["remaining"] + N]
        self._rem_Sl = TS[o["remaining"] : o["remaining"] + N]
        self._old_I = TI[o["oldest"] : o["oldest"] + S]
        self._old_Sl = TS[o["oldest"] : o["oldest"] + S]
        self._now_Sl = TS[o["now"] : o["now"] + 1]
        self._V_timed = V[: self._num_timed]
        self._tasks_I = V[o["tasks"] : o["servers"]].reshape(S, Q, self.task_features)
        self._servers_V = V[o["servers"] : o["free"]].reshape(N, self.dynamic_server_features)
        self._free_V = V[o["free"] : o["free"] + S]
        self._queued_V = V[o["queued"] : o["queued"] + S]
        self._globals_V = V[o["globals"] : o["globals"] + 3]
        self._V_speed = V[o["speed"] : o["speed"] + N]
        self._V_distance = V[o["distance"] : o["distance"] + S * S]
        self._V_relative = V[o["relative"] : o["relative"] + S]

    def _gather_indices(self, site_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where in ``_V`` each entry of every agent's observation (S x D) and of the
        global state comes from."""
        S, Q, N = self.num_sites, self.queue_len, self.sim.num_servers
        Ft, Fd, Fs, Fn = self.task_features, self.dynamic_server_features, self.server_features, self.site_features
        o = self._offsets
        agent = np.arange(S)[:, None]
        # Tasks, (S, Q, Ft): the agent's own queue; feature 1 (waited / SLO) is timed.
        tasks = o["tasks"] + np.arange(S * Q * Ft).reshape(S, Q, Ft)
        tasks[:, :, 1] = o["wait"] + np.arange(S * Q).reshape(S, Q)
        # Servers, (S, Fs, N) feature-major, in the agent's relative order.
        perm = self._server_perm
        servers = np.empty((S, Fs, N), dtype=np.intp)
        servers[:, :Fd] = o["servers"] + perm[:, None, :] * Fd + np.arange(Fd)[None, :, None]
        servers[:, 1] = o["remaining"] + perm
        servers[:, Fd] = o["speed"] + perm
        servers[:, Fd + 1] = o["distance"] + agent * S + site_of[perm]
        servers[:, Fd + 2] = o["relative"] + (site_of[perm] - agent) % S
        # Sites, (S, Fn, S) feature-major, in the agent's relative order.
        site = self._site_perm
        sites = np.stack(
            [o["free"] + site, o["queued"] + site, o["oldest"] + site, o["distance"] + agent * S + site], 1
        )
        globals_ = np.array([o["now"], o["globals"], o["globals"] + 1, o["globals"] + 2])
        obs = np.concatenate(
            [tasks.reshape(S, -1), servers.reshape(S, -1), sites.reshape(S, -1), np.tile(globals_, (S, 1))], axis=1
        )
        # The global state: tasks (absolute), servers (N, Fd + 1: dynamic then speed),
        # sites (S, 3: free, queued, oldest), globals.
        absolute = np.arange(N)[:, None]
        state_servers = np.concatenate([o["servers"] + absolute * Fd + np.arange(Fd), o["speed"] + absolute], axis=1)
        state_servers[:, 1] = o["remaining"] + np.arange(N)
        state_sites = np.stack([o[k] + np.arange(S) for k in ("free", "queued", "oldest")], 1)
        state = np.concatenate([tasks.ravel(), state_servers.ravel(), state_sites.ravel(), globals_])
        assert obs.shape == (S, self.obs_size) and Fn == 4
        return obs.astype(np.intp), state.astype(np.intp)

    def _make_mask_parts(self) -> None:
        """The read-only ``int8`` mask components that infos share, and empty caches
        (made again after unpickling, which does not keep arrays read-only)."""
        int8_parts = [
            _read_only(part) for part in np.split(self._wait_only_mask.astype(np.int8), np.cumsum(self.nvec)[:-1])
        ]
        self._wait_only_parts = tuple(int8_parts)
        self._steps_part = int8_parts[3]
        self._degree_parts = [_read_only(row.astype(np.int8)) for row in self._degree_table]
        slot_index = np.arange(self.queue_len + 1)
        self._slot_parts = [_read_only((slot_index <= n).astype(np.int8)) for n in range(self.queue_len + 1)]
        self._target_parts: dict[int, np.ndarray] = {}
        self._mask_cache: dict[int, tuple[np.ndarray, ...]] = {}

    _MASK_PARTS = ("_wait_only_parts", "_steps_part", "_degree_parts", "_slot_parts", "_target_parts", "_mask_cache")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS and k not in self._MASK_PARTS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._make_views()
        self._make_mask_parts()

    # ------------------------------------------------------------------ PettingZoo API
    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start an episode; ``options`` is accepted and unused."""
        if seed is not None or self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        sim = self.sim
        sim.reset(int(self._np_random.integers(2**63 - 1)))
        S, Q = self.num_sites, self.queue_len
        T = len(sim.task_arrival)
        cfg = sim.config
        # Per-episode task tables, padded with an empty row at index T.
        self._empty = T
        self._pad = [T] * Q
        cls = np.asarray(sim.task_class, dtype=np.int64)
        slo = np.asarray(sim.task_slo, dtype=np.float64)
        arrival = np.asarray(sim.task_arrival, dtype=np.float64)
        pixels = np.array([c.pixels for c in cfg.classes], dtype=np.float64)
        table = np.zeros((T + 1, self.task_features))
        table[:T, 0] = 1.0
        inv_slo = 1.0 / slo
        table[:T, 1] = -arrival * inv_slo  # waited / SLO = now * inv - arrival * inv (never negative)
        table[:T, 2] = slo * self._inv_scale
        table[:T, 3] = pixels[cls] / 1024.0**2
        table[:T, 4] = np.asarray(sim.task_degree) / self._max_degree
        table[np.arange(T), self._model_col + np.asarray(sim.class_model, dtype=np.int64)[cls]] = 1.0
        self._task_table = table
        self._inv_slo = np.append(inv_slo, 0.0)
        self._wait0_list = table[:, 1].tolist()
        self._arrival_list = arrival.tolist()
        self._inv_slo_list = self._inv_slo.tolist()
        self._task_site_list = list(sim.task_site)
        self._task_degree_list = list(sim.task_degree)
        self._site_tasks = np.bincount(np.asarray(sim.task_site, dtype=np.int64), minlength=S)
        self._dispatched_cost = [0.0] * S
        self._invalid_counts = [0] * S
        self._conflict_counts = [0] * S
        self._cycles = 0
        sim.settle()
        self._settle_visible()
        self.agents = self.possible_agents[:]
        self._live_keys = frozenset(self.agents)
        self._started = True
        self.events = sim.events
        sim.events = []
        sim.changed_servers.update(range(sim.num_servers))
        self._rebuild_queues()
        self._cost = self._site_cost()
        obs = self._observe()
        return obs, self._idle_infos(self.agents)

    def step(self, actions: dict[str, Any]):
        if not self._started:
            raise RuntimeError(f"{ENV_NAME}: call reset() before step()")
        if not self.agents:
            if actions:
                raise ValueError(
                    f"{ENV_NAME}: the episode is over; actions were given for {sorted(map(str, actions))}; call reset()"
                )
            return {}, {}, {}, {}, {}
        decisions = self._validate(actions)  # raises before any state changes
        sim = self.sim
        S = self.num_sites
        now0 = sim.now
        records: list[Any] = [None] * S
        reasons: list[str | None] = [None] * S
        conflicts = [False] * S
        visible_wait = [0.0] * S
        intents = [i for i in range(S) if decisions[i][0]]
        dispatched = False
        if intents:
            if len(intents) > 1:
                # Seeded priority order: agents sorted by i.i.d. uniform keys (one per
                # agent, from the tie-breaking stream), i.e. a uniform random permutation.
                keys = sim.tie_rng.random(S).tolist()
                intents.sort(key=keys.__getitem__)
            free0 = list(sim.free_count)
            free = sim.free_count
            queues = self._site_queue
            site_perm = self._site_perm_list
            needs_wait = self.reward_preset.needs_visible_wait
            arrival, inv_slo = self._arrival_list, self._inv_slo_list
            Q = self.queue_len
            degrees = self.degrees if self.agent_degree else None
            task_degree, min_degree = self._task_degree_list, self._min_degree
            for i in intents:
                slot, rel, di, si = decisions[i]
                slot -= 1
                queue = queues[i]
                if slot >= len(queue) or slot >= Q:
                    reasons[i] = f"empty slot {slot + 1}: site_{i} has {min(len(queue), Q)} visible task(s)"
                    continue
                task = queue[slot]
                target = site_perm[i][rel]
                degree = (degrees[di] if degrees else task_degree[task]) or min_degree
                if free0[target] < degree:
                    reasons[i] = f"site {target} has {free0[target]} free server(s); degree {degree} needs {degree}"
                    continue
                if free[target] < degree:
                    conflicts[i] = True
                    reasons[i] = f"site {target}'s free servers were taken by a higher-priority agent this step"
                    continue
                if needs_wait:
                    vis = queue[:Q]
                    visible_wait[i] = now0 - sum(arrival[t] for t in vis) / len(vis)
                result = sim.dispatch(sim.queue.index(task), degree, self.step_levels[si], site=target)
                if type(result) is str:  # pragma: no cover - feasibility was checked above
                    reasons[i] = result
                    continue
                records[i] = result
                dispatched = True
                # The site's queue view and its queueing cost.
                del queue[slot]
                inv = inv_slo[task]
                self._dispatched_cost[i] += (now0 - arrival[task]) * inv
                if queue:
                    self._qinv[i] -= inv
                    self._qarr[i] -= arrival[task] * inv
                else:
                    self._qinv[i] = self._qarr[i] = 0.0
                self._row_removed(i, slot)
        if dispatched:
            sim.settle()
        else:
            sim.wait()  # settles too
        self._settle_visible()
        self._cycles += 1
        self._take_events()

        cost = self._site_cost()
        previous = self._cost
        self._cost = cost
        preset = self.reward_preset
        penalty = self._invalid_penalty
        rate = self._idle_rate
        invalid = [False] * S
        if rate is None:
            own = [preset(None, False, c - p, 0.0, penalty) for c, p in zip(cost, previous)]
        else:
            own = [rate * (c - p) for c, p in zip(cost, previous)]
        for i in intents:  # agents that tried to dispatch: the preset's full formula
            if conflicts[i]:  # acted as wait, no penalty: ``own[i]`` is already right
                self._conflict_counts[i] += 1
                continue
            if reasons[i] is not None:
                invalid[i] = True
                self._invalid_counts[i] += 1
            own[i] = preset(records[i], invalid[i], cost[i] - previous[i], visible_wait[i], penalty)
        share = self.team_share
        team = share * sum(own) / S
        keep = 1.0 - share
        agents = self.agents
        rewards = {agent: keep * r + team for agent, r in zip(agents, own)}

        terminated = sim.done
        truncated = not terminated and (sim.truncated or self._cycles >= self.max_cycles)
        obs = self._observe()
        infos = self._idle_infos(agents)
        for i in intents:
            info = infos[agents[i]]
            record = records[i]
            if record is not None:
                info["dispatched_task"] = record.task_id
                info["target_site"] = self._site_perm_list[i][decisions[i][1]]
            else:
                info["invalid_action"] = invalid[i]
                info["conflict"] = conflicts[i]
                info["invalid_reason"] = reasons[i]
        if terminated or truncated:
            team_metrics = self.episode_metrics().as_dict()
            for i, agent in enumerate(agents):
                infos[agent]["episode_metrics"] = self.site_metrics(i)
                infos[agent]["team_metrics"] = team_metrics
            self.agents = []
            self._live_keys = frozenset()
        return obs, rewards, dict.fromkeys(agents, terminated), dict.fromkeys(agents, truncated), infos

    def state(self) -> np.ndarray:
        """The global state (see the module docstring), a vector in ``state_space``."""
        if not self._started:
            raise RuntimeError(f"{ENV_NAME}: call reset() before state()")
        self._evaluate_timed()
        return self._V.take(self._state_index)

    def action_masks(self) -> np.ndarray:
        """Flat boolean masks, one row per agent in ``possible_agents`` order (MaskablePPO)."""
        return np.array([np.concatenate(parts) for parts in self._mask_parts()], dtype=bool)

    def render(self):
        if self.render_mode is None:
            return None
        if self.render_mode == "rgb_array":
            from eat_bench.envs.render import render_gantt

            return render_gantt(self.sim)
        text = self._render_text()
        if self.render_mode == "human":
            print(text, end="")
            return None
        return text

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ metrics
    def episode_metrics(self):
        """The whole cluster's metrics of the episode so far (complete at its end)."""
        return self.sim.metrics(invalid_actions=sum(self._invalid_counts))

    def site_metrics(self, site: int) -> dict[str, float | int]:
        """Metrics of one site's own tasks (wherever they ran), plus its conflicts;
        utilisation is the work done on this site's servers over its servers x makespan."""
        sim = self.sim
        records = [r for r in sim.records if r.site == site]
        site_of = sim.server_site
        busy = sum((r.cold_start_s + r.compute_s) * r.degree for r in sim.records if site_of[r.servers[0]] == site)
        metrics = summarize(
            records,
            num_tasks=int(self._site_tasks[site]),
            num_servers=int(self._site_size[site]),
            busy_server_seconds=busy,
            end_s=sim.now,
            invalid_actions=self._invalid_counts[site],
        ).as_dict()
        metrics["conflicts"] = self._conflict_counts[site]
        return metrics

    # ------------------------------------------------------------------ internals
    def _validate(self, actions: Any) -> list[list[int]]:
        """Per agent ``[slot, relative target, degree index, step index]``; raises
        ValueError naming the agent and the problem."""
        if not isinstance(actions, dict):
            raise ValueError(f"{ENV_NAME}: actions must be a dict {{agent: action}}, got {type(actions).__name__}")
        agents = self.agents
        if actions.keys() != self._live_keys:
            unknown = [a for a in actions if a not in self._agent_index]
            if unknown:
                raise ValueError(f"{ENV_NAME}: unknown agent(s) {unknown!r}; agents are {self.possible_agents}")
            dead = [a for a in actions if a not in agents]
            if dead:
                raise ValueError(f"{ENV_NAME}: agent(s) {dead!r} are not live (live: {agents})")
            missing = [a for a in agents if a not in actions]
            raise ValueError(f"{ENV_NAME}: no action for agent(s) {missing!r}; every live agent must act each step")
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
            raise ValueError(f"{ENV_NAME}: action for {agent} must be 4 integers in {space}, got {action!r}")
        try:
            array = np.asarray(action)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"{ENV_NAME}: action for {agent} is not an integer array ({err}); expected {space}"
            ) from None
        if array.shape != (4,):
            raise ValueError(f"{ENV_NAME}: action for {agent} has shape {array.shape}, expected (4,) for {space}")
        if array.dtype.kind not in "iu":
            raise ValueError(f"{ENV_NAME}: action for {agent} has dtype {array.dtype}, expected integers for {space}")
        names = ("slot", "target", "degree", "steps")
        for k, (v, n) in enumerate(zip(array.tolist(), self.nvec)):
            if not 0 <= v < n:
                raise ValueError(
                    f"{ENV_NAME}: action for {agent}: {names[k]} index a[{k}] = {v} is outside 0..{n - 1} ({space})"
                )
        return array.tolist()

    def _settle_visible(self) -> None:
        """After the simulator settled (event mode): advance on until some *agent* can
        decide, the episode is done or the time limit is reached. The simulator's test
        looks at its whole queue, which is the same thing when agents choose the degree;
        when tasks fix it, an agent sees only the first Q tasks of its own site, so a
        task that fits deeper in a queue must not stop the clock."""
        sim = self.sim
        if self.agent_degree or sim.config.decision_interval_s is not None:
            return
        limit = sim.config.time_limit_s
        while not sim.done and sim.now < limit and not self._some_agent_can_decide():
            target = sim.next_event_time()
            if target == math.inf:
                break
            sim.advance_to(min(target, limit))

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

    def _rebuild_queues(self) -> None:
        """Per-site views of the global queue (arrival order), their queueing-cost sums
        and every task row, from scratch (at reset)."""
        S = self.num_sites
        site, arrival, inv_slo = self._task_site_list, self._arrival_list, self._inv_slo_list
        self._site_queue = queues = [[] for _ in range(S)]
        self._qinv = qinv = [0.0] * S
        self._qarr = qarr = [0.0] * S
        for task in self.sim.queue:
            s = site[task]
            queues[s].append(task)
            qinv[s] += inv_slo[task]
            qarr[s] += arrival[task] * inv_slo[task]
        Q = self.queue_len
        rows = [(q + self._pad)[:Q] for q in queues]
        block = self._task_table[rows]
        self._tasks_I[:] = block
        self._wait_I[:] = block[:, :, 1]
        self._wait_Sl[:] = self._inv_slo[rows]
        for s in range(S):
            self._site_rows_changed(s)

    def _take_events(self) -> None:
        """Move this step's simulator events to ``self.events`` and add arrivals to the
        per-site queue views (dispatches were applied as they happened)."""
        sim = self.sim
        events = self.events = sim.events
        sim.events = []
        queues = self._site_queue
        site, arrival, inv_slo = self._task_site_list, self._arrival_list, self._inv_slo_list
        qinv, qarr = self._qinv, self._qarr
        Q = self.queue_len
        for kind, _, task in events:
            if kind == "arrival":
                s = site[task]
                queue = queues[s]
                queue.append(task)
                qinv[s] += inv_slo[task]
                qarr[s] += arrival[task] * inv_slo[task]
                n = len(queue)
                if n <= Q:
                    self._tasks_I[s, n - 1] = self._task_table[task]
                    self._wait_I[s, n - 1] = self._wait0_list[task]
                    self._wait_Sl[s, n - 1] = inv_slo[task]
                self._site_rows_changed(s)
        if sum(map(len, queues)) != len(sim.queue):  # pragma: no cover - defensive
            self._rebuild_queues()

    def _row_removed(self, s: int, slot: int) -> None:
        """Site ``s``'s task at visible ``slot`` left its queue: shift the rows below up
        and bring in the next task (if any) at the bottom."""
        Q = self.queue_len
        queue = self._site_queue[s]
        tasks_I, wait_I, wait_Sl = self._tasks_I, self._wait_I, self._wait_Sl
        last = Q - 1
        if slot < last:
            tasks_I[s, slot:last] = tasks_I[s, slot + 1 :]
            wait_I[s, slot:last] = wait_I[s, slot + 1 :]
            wait_Sl[s, slot:last] = wait_Sl[s, slot + 1 :]
        task = queue[last] if len(queue) > last else self._empty
        tasks_I[s, last] = self._task_table[task]
        wait_I[s, last] = self._wait0_list[task]
        wait_Sl[s, last] = self._inv_slo_list[task]
        self._site_rows_changed(s)

    def _site_rows_changed(self, s: int) -> None:
        """Site ``s``'s queue changed: its load entries, visible count (and degrees)."""
        Q = self.queue_len
        queue = self._site_queue[s]
        n = len(queue)
        head = queue[0] if n else self._empty
        self._queued_V[s] = n / Q
        self._old_I[s] = self._wait0_list[head]
        self._old_Sl[s] = self._inv_slo_list[head]
        self._vis_counts[s] = n if n < Q else Q
        if not self.agent_degree:
            degree = self._task_degree_list
            row = [degree[t] for t in queue[:Q]]
            self._vis_degree[s] = row + [_NO_TASK] * (Q - len(row))

    def _site_cost(self) -> list[float]:
        """Cumulative queueing cost per site (sum over its tasks of queued time / SLO)."""
        now = self.sim.now
        return [d + now * a - b for d, a, b in zip(self._dispatched_cost, self._qinv, self._qarr)]

    def _write_servers(self) -> None:
        """Update the server block (and the sites' free fractions) for the servers the
        simulator reports as changed."""
        sim = self.sim
        now = sim.now
        servers, rem_I, rem_Sl, free_V = self._servers_V, self._rem_I, self._rem_Sl, self._free_V
        changed = sim.changed_servers
        if len(changed) > 8:  # every server at once, vectorised (reset, or many changed)
            busy_until = sim.busy_until
            busy = busy_until > now
            servers[:, 0] = ~busy
            np.multiply(busy_until, self._inv_scale, out=rem_I)
            rem_I[~busy] = 0.0
            np.multiply(busy, -self._inv_scale, out=rem_Sl)
            np.multiply(sim.group_size, 1.0 / self._max_degree, out=servers[:, 2])
            servers[:, 3:] = self._warm_one_hot[sim.warm_model]
            np.divide(sim.free_count, self._free_divisor, out=free_V)
        else:  # a few servers, as Python scalars
            busy_until, group_size, warm_model = sim.busy_until, sim.group_size, sim.warm_model
            inv_scale, inv_degree, one_hot = self._inv_scale, 1.0 / self._max_degree, self._warm_one_hot_rows
            site_of, free, size = self._server_site_list, sim.free_count, self._site_size_list
            for j in changed:
                until = busy_until.item(j)
                if until > now:
                    servers[j] = (0.0, 0.0, group_size.item(j) * inv_degree, *one_hot[warm_model.item(j)])
                    rem_I[j] = until * inv_scale
                    rem_Sl[j] = -inv_scale
                else:
                    servers[j] = (1.0, 0.0, group_size.item(j) * inv_degree, *one_hot[warm_model.item(j)])
                    rem_I[j] = rem_Sl[j] = 0.0
                s = site_of[j]
                free_V[s] = free[s] / size[s]
        changed.clear()

    def _evaluate_timed(self) -> None:
        """Bring ``_V`` up to date: changed servers, the globals and the timed entries at
        ``now``."""
        sim = self.sim
        if sim.changed_servers:
            self._write_servers()
        queued = len(sim.queue)
        self._globals_V[:] = (
            (len(sim.records) + queued) / (self._empty or 1),
            sum(sim.free_count) / sim.num_servers,
            queued / (self.num_sites * self.queue_len),
        )
        timed = self._T
        np.multiply(self._T_Sl, sim.now, out=timed)
        timed += self._T_I
        self._V_timed[:] = timed

    def _observe(self) -> dict[str, Any]:
        self._evaluate_timed()
        out = self._V.take(self._obs_index)
        agents = self.possible_agents
        if self.obs_mode == "flat":
            return dict(zip(agents, out))
        S, Q, N = self.num_sites, self.queue_len, self.sim.num_servers
        a, b, c, _ = self._sizes
        return {
            agents[i]: {
                "tasks": out[i, :a].reshape(Q, -1),
                "servers": out[i, a : a + b].reshape(-1, N).T,
                "sites": out[i, a + b : a + b + c].reshape(-1, S).T,
                "globals": out[i, a + b + c :],
            }
            for i in range(S)
        }

    def _idle_infos(self, agents: list[str]) -> dict[str, dict[str, Any]]:
        """Each agent's info for a step in which it did not try to dispatch."""
        base = {
            "invalid_action": False,
            "conflict": False,
            "dispatched_task": -1,
            "target_site": -1,
            "time_s": self.sim.now,
        }
        return {agent: dict(base, action_mask=mask) for agent, mask in zip(agents, self._mask_parts())}

    def _mask_parts(self) -> list[tuple[np.ndarray, ...]]:
        """Every agent's action mask as four ``int8`` component arrays.

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
            return [self._wait_only_parts] * S
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
            # One cached tuple per (degree row, visible count, rotated target bits).
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
                    mask = cache[key] = (self._slot_parts[n], self._target_part(rotated), degree, steps)
                parts.append(mask)
            return parts
        slots = [_read_only(row.view(np.int8)) for row in self._task_slot_masks(most)]
        return [(slot, self._target_part((bits >> i) & full), degree, steps) for i, slot in enumerate(slots)]

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

    def _render_text(self) -> str:
        sim = self.sim
        cfg = sim.config
        lines = [
            f"{ENV_NAME}  t = {sim.now:9.2f} s   queued {len(sim.queue)}   dispatched {len(sim.records)}/{cfg.num_tasks}"
        ]
        lines.append("site              gpus                                 free  queued  oldest_wait_s")
        now = sim.now
        for s in range(self.num_sites):
            site = self.scenario.cluster.sites[s]
            queue = self._site_queue[s] if self._started else []
            wait = now - sim.task_arrival[queue[0]] if queue else 0.0
            gpus = ",".join(site.gpus)
            lines.append(
                f"{site.name[:17]:17s} {gpus[:36]:36s} {sim.free_count[s]:2d}/{int(self._site_size[s]):<2d} {len(queue):6d}  {wait:13.2f}"
            )
        busy = ["B" if b > now else "." for b in sim.busy_until.tolist()]
        lines.append("servers: " + "".join(busy) + "  (B busy, . free)")
        return "\n".join(lines) + "\n"


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def parallel_env(**kwargs: Any) -> EdgeSitesEnv:
    """The parallel environment (keyword arguments: see :class:`EdgeSitesEnv`)."""
    return EdgeSitesEnv(**kwargs)


def raw_env(**kwargs: Any):
    """The AEC environment: ``parallel_to_aec(parallel_env(**kwargs))``."""
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs: Any):
    """The AEC environment, order-enforced (PettingZoo's ``env()`` convention)."""
    return raw_env(**kwargs)
