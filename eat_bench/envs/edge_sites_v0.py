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
site is a ``metro`` site with an equal share. Poisson arrivals add up to ``load`` (0.7)
times the cluster's warm single-GPU capacity at 30 steps. ``tasks_per_site`` (50)
requests per site per episode. Links: ``link_latency_s`` (0.01 s) and
``link_bandwidth_mbps`` (200) per hop of a ring of sites (latency x hops, bandwidth /
hops), or S x S matrices (row: request's site, column: servers' site).

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
works as is; ``infos[agent]["action_mask_flat"]`` is the same as one flat ``bool`` array
(sb3-contrib MaskablePPO's convention). Masks are per component (wait is always valid; a
slot is valid when it holds a task and some site has enough free servers; a target
when it has a free server; a degree when some site has that many free servers), so a
masked sample can still be infeasible as a whole.

**Simultaneous decisions and conflicts.** All agents act at once. Agents that dispatch
are served in a priority order drawn from the simulator's seeded tie-breaking generator
(a fresh permutation whenever two or more agents dispatch in one step). A decision that
was feasible when the step began but whose target site no longer has enough free
servers, because a higher-priority agent took them, acts as wait and sets
``infos[agent]["conflict"] = True`` (no penalty). A decision infeasible from the start
(empty slot, too few free servers at the target) acts as wait, sets
``infos[agent]["invalid_action"] = True`` and ``"invalid_reason"``, and earns the reward
preset's invalid penalty.

**Time.** Event-driven: if no agent dispatched in a step, time jumps to the next arrival
or completion; in every case it then advances until some agent can decide (a queued
task and a free server), the episode ends or the time limit is reached. A step in which
somebody dispatched does not advance time by itself, so agents that waited are asked
again at the same instant.

**Observation** (per agent, all entries >= 0, float32). ``obs_mode="flat"``: one Box
of ``Q*Ft + N*Fs + S*Fn + 4`` values; ``obs_mode="dict"``: ``{"tasks": (Q, Ft),
"servers": (N, Fs), "sites": (S, Fn), "globals": (4,)}``. With M the scenario's models:

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

The server block is computed once per step and shared by all agents (only the row
order and the distance columns differ).

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

**Infos** (every step, per agent): ``action_mask``, ``action_mask_flat``,
``invalid_action``, ``conflict``, ``dispatched_task`` (task id or -1), ``target_site``
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
from dataclasses import dataclass, replace
from typing import Any, Sequence

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
    load: float = 0.7,
    arrival_rate: float | None = None,
    tasks_per_site: int = 50,
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
    for name, value in (("num_sites", num_sites), ("servers_per_site", servers_per_site), ("tasks_per_site", tasks_per_site), ("queue_len", queue_len)):
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
                    p * profile_trace.lookup(gpu, BASE_CLASSES[b].model, BASE_CLASSES[b].width, BASE_CLASSES[b].height, 1).service_s(30)
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

    metadata = {"name": ENV_NAME, "render_modes": ["human", "ansi", "rgb_array"], "is_parallelizable": True, "render_fps": 4}

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
            raise ValueError(f"{ENV_NAME}: render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.scenario = spec
        self.team_share = float(team_share)
        self.max_cycles = max_cycles
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.reward_preset = get_reward_preset(spec.reward)
        self._invalid_penalty = spec.invalid_penalty

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

        # ---------------------------------------------------------------- layout
        self.task_features = Ft = 5 + M
        self.dynamic_server_features = Fd = 3 + M
        self.server_features = Fs = Fd + 3
        self.site_features = Fn = 4
        self.num_globals = G = 4
        self._sizes = (Q * Ft, N * Fs, S * Fn, G)
        self.obs_size = sum(self._sizes)
        self._model_col = 5

        # Relative orders: agent i's target r is site (i + r) % S; its server rows are the
        # servers of site i, then i+1, ... (each in server-id order).
        self._site_perm = np.array([[(i + r) % S for r in range(S)] for i in range(S)], dtype=np.int64)
        self._site_perm_list = self._site_perm.tolist()
        site_of = sim.server_site
        by_site = [np.flatnonzero(site_of == s) for s in range(S)]
        self._site_size = np.array([len(b) for b in by_site], dtype=np.float64)
        self._server_perm = np.stack([np.concatenate([by_site[s] for s in row]) for row in self._site_perm_list])
        # Distance between sites: link latency + a 1024x1024 RGB image's transfer.
        lat, bw = config.link_latency_s, config.link_bandwidth_bps
        distance = np.array(
            [
                [0.0 if i == j else lat[i][j] + REFERENCE_PIXELS * RAW_IMAGE_BYTES_PER_PIXEL / bw[i][j] for j in range(S)]
                for i in range(S)
            ]
        )
        self._distance = distance * self._inv_scale
        first = config.classes[0]
        ref = np.array([config.trace.lookup(s.gpu, first.model, first.width, first.height, self.degrees[0]).step_s for s in config.servers])
        self._speed = ref.min() / ref

        self._buf = np.zeros((S, self.obs_size), dtype=np.float32)
        o = 0
        self._tasks = self._buf[:, o : o + Q * Ft].reshape(S, Q, Ft)
        o += Q * Ft
        self._servers = self._buf[:, o : o + N * Fs].reshape(S, N, Fs)
        o += N * Fs
        self._sites = self._buf[:, o : o + S * Fn].reshape(S, S, Fn)
        o += S * Fn
        self._globals = self._buf[:, o:]
        # Static columns, written once.
        self._servers[:, :, Fd] = self._speed[self._server_perm]
        self._servers[:, :, Fd + 1] = self._distance[np.arange(S)[:, None], site_of[self._server_perm]]
        rel = (site_of[self._server_perm] - np.arange(S)[:, None]) % S
        self._servers[:, :, Fd + 2] = rel / S
        self._sites[:, :, 3] = self._distance[np.arange(S)[:, None], self._site_perm]
        # Everything that changes with time lives in one source vector: the shared server
        # block (N, Fd), the site load table (S, 3), each site's visible waits (S, Q) and
        # the globals; one gather per step writes it into every agent's observation.
        n_srv, n_site, n_wait = N * Fd, S * 3, S * Q
        self._src = np.zeros(n_srv + n_site + n_wait + G)
        self._shared = self._src[:n_srv].reshape(N, Fd)
        self._site_load = self._src[n_srv : n_srv + n_site].reshape(S, 3)
        self._waited = self._src[n_srv + n_site : n_srv + n_site + n_wait].reshape(S, Q)
        self._src_globals = self._src[n_srv + n_site + n_wait :]
        positions = np.arange(self._buf.size).reshape(self._buf.shape)
        o_s, o_n, o_g = Q * Ft, Q * Ft + N * Fs, Q * Ft + N * Fs + S * Fn
        dst, src = [], []
        for i in range(S):
            row = positions[i]
            dst.append(row[: Q * Ft].reshape(Q, Ft)[:, 1])
            src.append(n_srv + n_site + i * Q + np.arange(Q))
            dst.append(row[o_s:o_n].reshape(N, Fs)[:, :Fd].ravel())
            src.append((self._server_perm[i][:, None] * Fd + np.arange(Fd)[None, :]).ravel())
            dst.append(row[o_n:o_g].reshape(S, Fn)[:, :3].ravel())
            src.append(n_srv + (self._site_perm[i][:, None] * 3 + np.arange(3)[None, :]).ravel())
            dst.append(row[o_g:])
            src.append(n_srv + n_site + n_wait + np.arange(G))
        self._gather_dst = np.concatenate(dst)
        self._gather_src = np.concatenate(src)
        self._buf_flat = self._buf.reshape(-1)
        self._remaining = np.zeros(N)

        # ---------------------------------------------------------------- spaces
        D = len(self.degrees) if self.agent_degree else 1
        self.nvec = (Q + 1, S, D, len(self.step_levels))
        bounds = np.cumsum((0,) + self.nvec)
        self._mask_bounds = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
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
        self._obs_spaces: dict[str, spaces.Space] = {}
        self._act_spaces: dict[str, spaces.Space] = {}
        for agent in self.possible_agents:
            if obs_mode == "dict":
                self._obs_spaces[agent] = spaces.Dict({k: spaces.Box(0.0, v, dtype=np.float32) for k, v in blocks.items()})
            else:
                high = np.concatenate([v.ravel() for v in blocks.values()])
                self._obs_spaces[agent] = spaces.Box(0.0, high, dtype=np.float32)
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
        # Mask lookup tables: slot row by visible count, degree row by most free servers.
        self._slot_table = np.arange(Q + 1)[None, :] <= np.arange(Q + 1)[:, None]
        largest = int(self._site_size.max())
        self._degree_table = np.arange(largest + 1)[:, None] >= np.asarray(self.degrees if self.agent_degree else (0,))[None, :]
        self._degree_table[:, 0] = True
        self._steps_mask = np.ones((S, len(self.step_levels)), dtype=bool)
        self._action_batch_shape = (S, 4)
        self._nvec_array = np.array(self.nvec, dtype=np.int64)
        self._no_counts = np.zeros(S, dtype=np.int64)
        self._queue_capacity = S * Q
        self._mask_size = int(sum(self.nvec))
        self._degree_array = np.asarray(self.degrees)
        self._idx = np.zeros((S, Q), dtype=np.int64)
        self._vis_arrival = np.zeros((S, Q))
        self._vis_inv_slo = np.zeros((S, Q))
        self._site_queue: list[list[int]] = [[] for _ in range(S)]

        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._started = False
        self.events: list[tuple[str, float, int]] = []

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
        sim.settle()
        S = self.num_sites
        T = len(sim.task_arrival)
        cfg = sim.config
        # Per-episode task tables, padded with an empty row at index T.
        self._empty = T
        self._pad = [T] * self.queue_len
        cls = np.asarray(sim.task_class, dtype=np.int64)
        slo = np.asarray(sim.task_slo, dtype=np.float64)
        pixels = np.array([c.pixels for c in cfg.classes], dtype=np.float64)
        table = np.zeros((T + 1, self.task_features), dtype=np.float32)
        table[:T, 0] = 1.0
        table[:T, 2] = slo * self._inv_scale
        table[:T, 3] = pixels[cls] / 1024.0**2
        table[:T, 4] = np.asarray(sim.task_degree) / self._max_degree
        table[np.arange(T), self._model_col + np.asarray(sim.class_model, dtype=np.int64)[cls]] = 1.0
        self._task_table = table
        self._arrival = np.append(np.asarray(sim.task_arrival, dtype=np.float64), 0.0)
        self._inv_slo = np.append(1.0 / slo, 0.0)
        self._arrival_list = self._arrival.tolist()
        self._inv_slo_list = self._inv_slo.tolist()
        self._task_site = np.asarray(sim.task_site, dtype=np.int64)
        self._task_site_list = list(sim.task_site)
        self._task_degree_pad = np.append(np.asarray(sim.task_degree, dtype=np.int64), 0)
        self._task_degree_list = self._task_degree_pad.tolist()
        self._site_tasks = np.bincount(self._task_site, minlength=S)
        self._dispatched_cost = [0.0] * S
        self._invalid_counts = [0] * S
        self._conflict_counts = [0] * S
        self._server_version = -1
        self._cycles = 0
        self.agents = self.possible_agents[:]
        self._started = True
        self.events = sim.events
        sim.events = []
        self._rebuild_queues()
        self._cost = self._site_cost()
        obs = self._observe()
        comps, flat = self._masks()
        c0, c1, c2, c3 = comps
        now = sim.now
        infos = {
            agent: {
                "action_mask": (c0[i], c1[i], c2[i], c3[i]),
                "action_mask_flat": flat[i],
                "invalid_action": False,
                "conflict": False,
                "dispatched_task": -1,
                "target_site": -1,
                "time_s": now,
            }
            for i, agent in enumerate(self.agents)
        }
        return obs, infos

    def step(self, actions: dict[str, Any]):
        if not self._started:
            raise RuntimeError(f"{ENV_NAME}: call reset() before step()")
        if not self.agents:
            if actions:
                raise ValueError(f"{ENV_NAME}: the episode is over; actions were given for {sorted(map(str, actions))}; call reset()")
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
                order = sim.tie_rng.permutation(S).tolist()
                wanted = set(intents)
                intents = [i for i in order if i in wanted]
            free0 = list(sim.free_count)
            free = sim.free_count
            queues = self._site_queue
            site_perm = self._site_perm_list
            needs_wait = self.reward_preset.needs_visible_wait
            arrival, inv_slo = self._arrival_list, self._inv_slo_list
            Q = self.queue_len
            for i in intents:
                slot, rel, di, si = decisions[i]
                slot -= 1
                queue = queues[i]
                if slot >= len(queue) or slot >= Q:
                    reasons[i] = f"empty slot {slot + 1}: site_{i} has {min(len(queue), Q)} visible task(s)"
                    continue
                task = queue[slot]
                target = site_perm[i][rel]
                degree = (self.degrees[di] if self.agent_degree else self._task_degree_list[task]) or self._min_degree
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
                if type(result) is str:
                    reasons[i] = result
                    continue
                records[i] = result
                dispatched = True
                # Bookkeeping of the site's queue view and its queueing cost.
                del queue[slot]
                inv = inv_slo[task]
                self._dispatched_cost[i] += (now0 - arrival[task]) * inv
                if queue:
                    self._qinv[i] -= inv
                    self._qarr[i] -= arrival[task] * inv
                else:
                    self._qinv[i] = self._qarr[i] = 0.0
                self._dirty.add(i)
        if dispatched:
            sim.settle()
        else:
            sim.wait()
        self._cycles += 1
        self._take_events()
        cost = self._site_cost()
        previous = self._cost
        self._cost = cost
        preset = self.reward_preset
        penalty = self._invalid_penalty
        own = []
        invalid = [False] * S
        for i in range(S):
            if reasons[i] is not None:
                if conflicts[i]:
                    self._conflict_counts[i] += 1
                else:
                    invalid[i] = True
                    self._invalid_counts[i] += 1
            own.append(preset(records[i], invalid[i], cost[i] - previous[i], visible_wait[i], penalty))
        share = self.team_share
        team = share * sum(own) / S
        keep = 1.0 - share
        agents = self.agents
        rewards = {agent: keep * r + team for agent, r in zip(agents, own)}

        terminated = sim.done
        truncated = not terminated and (sim.now >= sim.config.time_limit_s or self._cycles >= self.max_cycles)
        obs = self._observe()
        comps, flat = self._masks()
        c0, c1, c2, c3 = comps
        now = sim.now
        infos = {}
        for i, agent in enumerate(agents):
            record = records[i]
            info = {
                "action_mask": (c0[i], c1[i], c2[i], c3[i]),
                "action_mask_flat": flat[i],
                "invalid_action": invalid[i],
                "conflict": conflicts[i],
                "dispatched_task": -1 if record is None else record.task_id,
                "target_site": -1 if record is None else self._site_perm_list[i][decisions[i][1]],
                "time_s": now,
            }
            if reasons[i] is not None:
                info["invalid_reason"] = reasons[i]
            infos[agent] = info
        if terminated or truncated:
            team_metrics = self.episode_metrics().as_dict()
            for i, agent in enumerate(agents):
                infos[agent]["episode_metrics"] = self.site_metrics(i)
                infos[agent]["team_metrics"] = team_metrics
            self.agents = []
        return obs, rewards, dict.fromkeys(agents, terminated), dict.fromkeys(agents, truncated), infos

    def state(self) -> np.ndarray:
        """The global state (see the module docstring), a vector in ``state_space``."""
        if not self._started:
            raise RuntimeError(f"{ENV_NAME}: call reset() before state()")
        servers = np.concatenate([self._shared, self._speed[:, None]], axis=1)
        g = self._globals[0]
        return np.concatenate(
            [self._tasks.ravel(), servers.ravel(), self._site_load.ravel(), g]
        ).astype(np.float32)

    def action_masks(self) -> np.ndarray:
        """Flat boolean masks, one row per agent in ``possible_agents`` order (MaskablePPO)."""
        return self._masks()[1]

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
        sim = self.sim
        return summarize(
            sim.records,
            num_tasks=sim.config.num_tasks,
            num_servers=sim.num_servers,
            busy_server_seconds=sim.busy_server_seconds,
            end_s=sim.now,
            invalid_actions=sum(self._invalid_counts),
        )

    def site_metrics(self, site: int) -> dict[str, float | int]:
        """Metrics of one site's own tasks (wherever they ran); utilisation is the work
        done on this site's servers over its servers x makespan."""
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
        if len(actions) != len(agents) or any(a not in actions for a in agents):
            unknown = [a for a in actions if a not in self._agent_index]
            if unknown:
                raise ValueError(f"{ENV_NAME}: unknown agent(s) {unknown!r}; agents are {self.possible_agents}")
            dead = [a for a in actions if a not in agents]
            if dead:
                raise ValueError(f"{ENV_NAME}: agent(s) {dead!r} are not live (live: {agents})")
            missing = [a for a in agents if a not in actions]
            raise ValueError(f"{ENV_NAME}: no action for agent(s) {missing!r}; every live agent must act each step")
        rows = [actions[a] for a in agents]
        try:
            array = np.asarray(rows)
        except (ValueError, TypeError):
            array = None
        if (
            array is not None
            and array.shape == self._action_batch_shape
            and array.dtype.kind in "iu"
            and array.min() >= 0
            and (array < self._nvec_array).all()
        ):
            return array.tolist()
        for agent, action in zip(agents, rows):
            self._check_one(agent, action)
        raise ValueError(f"{ENV_NAME}: malformed actions {actions!r}")  # pragma: no cover

    def _check_one(self, agent: str, action: Any) -> None:
        space = self._act_spaces[agent]
        if action is None or isinstance(action, (bool, np.bool_, str, bytes, dict)):
            raise ValueError(f"{ENV_NAME}: action for {agent} must be 4 integers in {space}, got {action!r}")
        try:
            array = np.asarray(action)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{ENV_NAME}: action for {agent} is not an integer array ({err}); expected {space}") from None
        if array.shape != (4,):
            raise ValueError(f"{ENV_NAME}: action for {agent} has shape {array.shape}, expected (4,) for {space}")
        if array.dtype.kind not in "iu":
            raise ValueError(f"{ENV_NAME}: action for {agent} has dtype {array.dtype}, expected integers for {space}")
        names = ("slot", "target", "degree", "steps")
        for k, (v, n) in enumerate(zip(array.tolist(), self.nvec)):
            if not 0 <= v < n:
                raise ValueError(f"{ENV_NAME}: action for {agent}: {names[k]} index a[{k}] = {v} is outside 0..{n - 1} ({space})")

    def _rebuild_queues(self) -> None:
        """Per-site views of the global queue (arrival order) and their queueing-cost
        sums, from scratch."""
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
        self._dirty = set(range(S))
        self._refresh_rows()

    def _take_events(self) -> None:
        """Move this step's simulator events to ``self.events`` and add arrivals to the
        per-site queue views (dispatches were applied as they happened)."""
        sim = self.sim
        events = self.events = sim.events
        sim.events = []
        queues = self._site_queue
        site, arrival, inv_slo = self._task_site_list, self._arrival_list, self._inv_slo_list
        qinv, qarr, dirty = self._qinv, self._qarr, self._dirty
        Q = self.queue_len
        for kind, _, task in events:
            if kind == "arrival":
                s = site[task]
                queue = queues[s]
                queue.append(task)
                qinv[s] += inv_slo[task]
                qarr[s] += arrival[task] * inv_slo[task]
                if len(queue) <= Q:
                    dirty.add(s)
        if sum(map(len, queues)) != len(sim.queue):  # pragma: no cover - defensive
            self._rebuild_queues()
        elif dirty:
            self._refresh_rows()

    def _refresh_rows(self) -> None:
        """Rewrite the task rows of sites whose visible window changed."""
        Q = self.queue_len
        pad = self._pad
        dirty = sorted(self._dirty)
        self._dirty.clear()
        idx = self._idx
        for s in dirty:
            row = self._site_queue[s][:Q]
            if len(row) < Q:
                row = row + pad[: Q - len(row)]
            idx[s] = row
        sub = idx[dirty]
        self._tasks[dirty] = self._task_table[sub]
        self._vis_arrival[dirty] = self._arrival[sub]
        self._vis_inv_slo[dirty] = self._inv_slo[sub]
        counts = [len(q) for q in self._site_queue]
        self._site_load[:, 1] = counts
        self._site_load[:, 1] /= Q
        self._vis_counts = np.minimum(counts, Q)
        if not self.agent_degree:
            self._visible = np.arange(Q)[None, :] < self._vis_counts[:, None]
            self._vis_degree = self._task_degree_pad[idx]

    def _site_cost(self) -> list[float]:
        """Cumulative queueing cost per site (sum over its tasks of queued time / SLO)."""
        now = self.sim.now
        return [d + now * a - b for d, a, b in zip(self._dispatched_cost, self._qinv, self._qarr)]

    def _observe(self) -> dict[str, Any]:
        sim = self.sim
        now = sim.now
        # Visible tasks' waits / SLO (padding rows have inverse SLO 0).
        waited = self._waited
        np.subtract(now, self._vis_arrival, out=waited)
        waited *= self._vis_inv_slo
        # The shared server block, once per step.
        shared = self._shared
        remaining = self._remaining
        np.subtract(sim.busy_until, now, out=remaining)
        np.maximum(remaining, 0.0, out=remaining)
        shared[:, 0] = remaining == 0.0
        np.multiply(remaining, self._inv_scale, out=shared[:, 1])
        if sim.server_version != self._server_version:
            self._server_version = sim.server_version
            warm = sim.warm_model
            np.multiply(sim.group_size, 1.0 / self._max_degree, out=shared[:, 2])
            shared[:, 3:] = 0.0
            held = np.flatnonzero(warm >= 0)
            shared[held, 3 + warm[held]] = 1.0
        # Site load table: free fraction, queued / Q (set with the queue), oldest wait / SLO.
        free_count = sim.free_count
        load = self._site_load
        load[:, 0] = free_count
        load[:, 0] /= self._site_size
        load[:, 2] = waited[:, 0]
        queued = len(sim.queue)
        self._src_globals[:] = (
            now / sim.config.time_limit_s,
            (len(sim.records) + queued) / (self._empty or 1),
            sum(free_count) / sim.num_servers,
            queued / self._queue_capacity,
        )
        # One gather into every agent's row (relative orders), then one copy out.
        self._buf_flat[self._gather_dst] = self._src[self._gather_src]
        out = self._buf.copy()
        agents = self.possible_agents
        if self.obs_mode == "flat":
            return dict(zip(agents, out))
        a, b, c, _ = self._sizes
        Q, N, S = self.queue_len, sim.num_servers, self.num_sites
        return {
            agents[i]: {
                "tasks": out[i, :a].reshape(Q, -1),
                "servers": out[i, a : a + b].reshape(N, -1),
                "sites": out[i, a + b : a + b + c].reshape(S, -1),
                "globals": out[i, a + b + c :],
            }
            for i in range(S)
        }

    def _masks(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Per-component int8 masks (one (S, n_k) array per component) and the flat
        bool masks (S, sum(nvec))."""
        free = self.sim.free_count
        most = max(free)
        able = most >= self._min_degree
        if self.agent_degree:
            slots = self._slot_table[self._vis_counts if able else self._no_counts]
        else:
            slots = self._slot_table[self._no_counts].copy()
            slots[:, 1:] = self._visible & (self._vis_degree <= most)
        targets = np.array(free)[self._site_perm] >= self._min_degree
        if not able:
            targets[:, 0] = True
        degrees = np.broadcast_to(self._degree_table[min(most, len(self._degree_table) - 1)], (self.num_sites, self.nvec[2]))
        masks = np.concatenate((slots, targets, degrees, self._steps_mask), axis=1)
        masks8 = masks.view(np.int8)
        return [masks8[:, a:b] for a, b in self._mask_bounds], masks

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


def parallel_env(**kwargs: Any) -> EdgeSitesEnv:
    """The parallel environment (keyword arguments: see :class:`EdgeSitesEnv`)."""
    return EdgeSitesEnv(**kwargs)


def raw_env(**kwargs: Any):
    """The AEC environment: ``parallel_to_aec(parallel_env(**kwargs))``."""
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs: Any):
    """The AEC environment, order-enforced (PettingZoo's ``env()`` convention)."""
    return raw_env(**kwargs)
