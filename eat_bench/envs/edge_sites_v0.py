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

**Cluster and workload** (built by :func:`make_scenario`, i.e.
:func:`eat_bench.scenarios.multi_site.make_multi_site_scenario`; pass ``scenario=`` to use any
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

**Action masks.** ``infos[agent]["action_mask"]`` is one flat ``int8`` array, the four
per-component masks concatenated (PettingZoo's convention, as MaskablePPO and TorchRL
read it); the action spaces take it as is:
``env.action_space(agent).sample(mask=infos[agent]["action_mask"])`` (a
``MultiDiscrete`` whose ``sample`` also accepts the flat form).
``env.action_mask_parts(agent)`` gives the same mask as a tuple of four ``int8`` arrays. :meth:`EdgeSitesEnv.action_masks` gives the masks of all agents as one
``bool`` array, a row per agent (sb3-contrib MaskablePPO's convention). Masks are per component (wait is always valid; a slot is
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
:mod:`eat_bench.rewards`) applied to agent i's own dispatch and to the queueing
cost of its own site's queue during the step (sum over its queued tasks of dt / SLO),
plus the preset's invalid penalty for an infeasible decision. Then
``r_i = (1 - team_share) * own_i + team_share * mean_j(own_j)`` (``team_share`` in
[0, 1], default 0.5: 0 is selfish, 1 fully cooperative).

**Episode end.** For all agents together: terminated when every task has arrived, been
dispatched and finished; truncated at the scenario's time limit (3600 s) or after
``max_cycles`` (5000) parallel steps. ``env.agents`` is empty afterwards. The last
:meth:`EdgeSitesEnv.site_metrics` gives a site's metrics (its own tasks: latency
percentiles, SLO attainment, quality, offloaded count, invalid actions) and
:meth:`EdgeSitesEnv.episode_metrics` the whole cluster's, at any time; with
``info_mode="events"`` the last step's infos also carry them as ``episode_metrics`` and
``team_metrics``.

**Infos** (every step and at reset, per agent, the same keys: numbers, flags and the
flat mask, so every library can store them): ``action_mask``, ``invalid_action``,
``conflict``, ``dispatched_task`` (task id or -1), ``target_site`` (absolute site or
-1), ``time_s``. ``info_mode="events"`` adds the string ``invalid_reason`` when a
decision acted as wait, and the metrics dicts on the last step. ``env.events`` holds the step's ``(kind, time_s, task_id)`` simulator events.

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

**Version history.** v0 (eat-bench 0.1): first release. eat-bench 0.2:
``infos[agent]["action_mask"]`` is one flat ``int8`` array (was a tuple of component
arrays, now :meth:`~EdgeSitesEnv.action_mask_parts`); ``invalid_reason`` moved to
``info_mode="events"``, and so did the last step's ``episode_metrics`` and
``team_metrics`` (dicts, which TorchRL cannot store per step); observations, rewards,
masks and episode ends unchanged.

**Code.** The env is a package split by concern: :mod:`eat_bench.envs.edge_sites.env`
(reset, step, metrics), :mod:`~eat_bench.envs.edge_sites.observation` (the source vector
and gathers), :mod:`~eat_bench.envs.edge_sites.actions` (validation, masks); the
scenario builder is :mod:`eat_bench.scenarios.multi_site`; the column layouts are in
:mod:`eat_bench.envs.observation`.

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
>>> infos["site_0"]["action_mask"].shape, infos["site_0"]["action_mask"].dtype
((20,), dtype('int8'))
>>> actions = {a: env.action_space(a).sample(mask=infos[a]["action_mask"]) for a in env.agents}
>>> obs, rewards, terminations, truncations, infos = env.step(actions)
>>> sorted(rewards) == env.agents
True
>>> env.state().shape == env.state_space.shape
True
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from eat_bench.envs.edge_sites.env import ENV_NAME, INFO_MODES, EdgeSitesEnv
from eat_bench.scenarios.multi_site import BASE_CLASSES, SITE_PROFILES, SiteProfile, make_multi_site_scenario

__all__ = [
    "EdgeSitesEnv",
    "ENV_NAME",
    "INFO_MODES",
    "SiteProfile",
    "SITE_PROFILES",
    "BASE_CLASSES",
    "make_scenario",
    "parallel_env",
    "raw_env",
    "env",
]

make_scenario = make_multi_site_scenario
"""The multi-site scenario of this env (:func:`eat_bench.scenarios.multi_site.make_multi_site_scenario`)."""


def parallel_env(**kwargs: Any) -> EdgeSitesEnv:
    """The parallel environment (keyword arguments: see :class:`EdgeSitesEnv`)."""
    return EdgeSitesEnv(**kwargs)


def raw_env(**kwargs: Any):
    """The AEC environment: ``parallel_to_aec(parallel_env(**kwargs))``."""
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs: Any):
    """The AEC environment, order-enforced (PettingZoo's ``env()`` convention)."""
    return raw_env(**kwargs)
