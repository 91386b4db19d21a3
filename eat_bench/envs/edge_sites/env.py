"""The ``edge_sites_v0`` parallel environment: construction, reset, step, metrics.

Observations live in :mod:`eat_bench.envs.edge_sites.observation`, actions and masks in
:mod:`eat_bench.envs.edge_sites.actions`, the multi-site scenario in
:mod:`eat_bench.scenarios.multi_site`; the documentation page is the module docstring of
:mod:`eat_bench.envs.edge_sites_v0`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from eat_bench.envs.edge_sites.actions import SiteActions
from eat_bench.envs.edge_sites.observation import SiteObservation
from eat_bench.rewards import get_reward
from eat_bench.scenarios import ScenarioSpec, get_scenario
from eat_bench.scenarios.multi_site import make_multi_site_scenario
from eat_bench.sim.engine import Simulator
from eat_bench.sim.metrics import summarize

__all__ = ["EdgeSitesEnv", "ENV_NAME", "INFO_MODES"]

ENV_NAME = "edge_sites_v0"
INFO_MODES = ("numeric", "events")
"""``"numeric"`` (default): every info value a number, a flag or the flat mask, the same
keys at every step; ``"events"`` adds the string ``invalid_reason`` when a decision acted
as wait and, on the last step, the ``episode_metrics`` / ``team_metrics`` dicts."""


class EdgeSitesEnv(SiteObservation, SiteActions, ParallelEnv):
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
        info_mode: str = "numeric",
        **scenario_kwargs: Any,
    ) -> None:
        if scenario is None:
            if reward is not None:
                scenario_kwargs["reward"] = reward
            if invalid_penalty is not None:
                scenario_kwargs["invalid_penalty"] = invalid_penalty
            spec = make_multi_site_scenario(num_sites, servers_per_site, **scenario_kwargs)
        else:
            if scenario_kwargs:
                raise TypeError(
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
        if info_mode not in INFO_MODES:
            raise ValueError(f"{ENV_NAME}: info_mode must be one of {INFO_MODES}, got {info_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{ENV_NAME}: render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.scenario = spec
        self.team_share = float(team_share)
        self.max_cycles = max_cycles
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.info_mode = info_mode
        self.reward_fn = get_reward(spec.reward, spec.invalid_penalty)

        # One simulator for the whole cluster.
        config = spec.sim_config()
        self.sim = Simulator(config)
        sim = self.sim
        S = self.num_sites = config.num_sites
        self.queue_len = spec.queue_len
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
        self._build_observation(config)
        self._build_actions()
        # The decision rule: when agents choose the degree, some agent can decide exactly
        # when some queued task fits (the simulator's own rule); when tasks fix it, only
        # the first Q tasks of each site's queue count.
        self._can_decide = sim.can_decide if self.agent_degree else self._some_agent_can_decide
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._started = False
        self.events: list[tuple[str, float, int]] = []

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
        S = self.num_sites
        self._reset_tables()
        self._dispatched_cost = [0.0] * S
        self._invalid_counts = [0] * S
        self._conflict_counts = [0] * S
        self._cycles = 0
        sim.settle(self._can_decide)
        self.agents = self.possible_agents[:]
        self._live_keys = frozenset(self.agents)
        self._started = True
        self.events = sim.take_events()
        self._rebuild_queues()  # every server is among the changed ones after a reset
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
            needs_wait = self.reward_fn.needs_visible_wait
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
                result = sim.dispatch_task(task, degree, self.step_levels[si], site=target)
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
            sim.settle(self._can_decide)
        else:
            sim.wait(self._can_decide)  # settles too
        self._cycles += 1
        self._take_events()

        cost = self._site_cost()
        previous = self._cost
        self._cost = cost
        reward_fn = self.reward_fn
        rate = reward_fn.queue_weight  # an idle agent's reward: linear in its queueing cost
        invalid = [False] * S
        own = [rate * (c - p) for c, p in zip(cost, previous)]
        for i in intents:  # agents that tried to dispatch: the preset's full formula
            if conflicts[i]:  # acted as wait, no penalty: ``own[i]`` is already right
                self._conflict_counts[i] += 1
                continue
            if reasons[i] is not None:
                invalid[i] = True
                self._invalid_counts[i] += 1
            own[i] = reward_fn(records[i], invalid[i], cost[i] - previous[i], visible_wait[i])
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
                if self.info_mode == "events":
                    info["invalid_reason"] = reasons[i]
        if terminated or truncated:
            if self.info_mode == "events":  # dicts: not storable by TorchRL's per-step specs
                team_metrics = self.episode_metrics().as_dict()
                for i, agent in enumerate(agents):
                    infos[agent]["episode_metrics"] = self.site_metrics(i)
                    infos[agent]["team_metrics"] = team_metrics
            self.agents = []
            self._live_keys = frozenset()
        return obs, rewards, dict.fromkeys(agents, terminated), dict.fromkeys(agents, truncated), infos

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
