"""``edge_sites_v0``'s observations and global state: one source vector, gathered.

Every agent's observation (own queue, relative order, distances) is gathered from one
float32 source vector ``_V`` by a fixed index, so the shared server and site blocks exist
once. ``_V`` starts with the time-dependent entries (waits, remaining busy times, oldest
waits, now), a :class:`~eat_bench.envs.observation.TimeLinear` evaluated at every step;
the rest changes only at events. Columns are the named layouts ``SITE_TASK_COLUMNS``,
``SITE_SERVER_COLUMNS``, ``SITE_COLUMNS`` and ``SITE_GLOBAL_COLUMNS`` of
:mod:`eat_bench.envs.observation`. A mixin of :class:`~eat_bench.envs.edge_sites.env.EdgeSitesEnv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from eat_bench.envs.observation import (
    FULL_REWRITE_ABOVE,
    SITE_COLUMNS,
    SITE_GLOBAL_COLUMNS,
    SITE_SERVER_COLUMNS,
    SITE_TASK_COLUMNS,
    TimeLinear,
    relative_speed,
    task_table,
)
from eat_bench.sim.engine import RAW_IMAGE_BYTES_PER_PIXEL, SimConfig

__all__ = ["SiteObservation", "REFERENCE_PIXELS", "NO_TASK"]

REFERENCE_PIXELS = 1024 * 1024
"""The image size the observation's ``distance`` feature is quoted for."""
NO_TASK = 1 << 62
"""The "degree" of an empty visible slot: never fits."""


class SiteObservation:
    """Observation layout, per-site queue views, and the gathers (see the module docstring)."""

    def _build_observation(self, config: SimConfig) -> None:
        """Geometry (relative orders, distances, speeds), the source-vector layout, the
        gather indices and the observation and state spaces."""
        sim = self.sim
        spec = self.scenario
        S, N, Q, M = self.num_sites, sim.num_servers, self.queue_len, len(sim.models)
        obs_mode = self.obs_mode
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
        self._speed = relative_speed(sim.latency.step_s[0][self.degrees[0]])

        # ---------------------------------------------------------------- layout
        # Flat layout per agent: tasks (Q x Ft, row-major), servers (Fs x N, feature-major),
        # sites (Fn x S, feature-major), globals; the dict mode returns the blocks
        # transposed, (N, Fs) and (S, Fn). Between two events every entry is constant or
        # linear in time, so the env rewrites only what an event changed and evaluates the
        # linear ones at ``now``.
        self.task_features = Ft = SITE_TASK_COLUMNS.width(M, S)
        # The server columns up to ``speed`` change at events; the rest are static.
        self.dynamic_server_features = Fd = SITE_SERVER_COLUMNS.index("speed", M, S)
        self.server_features = Fs = SITE_SERVER_COLUMNS.width(M, S)
        self.site_features = Fn = SITE_COLUMNS.width(M, S)
        self.num_globals = G = SITE_GLOBAL_COLUMNS.width(M, S)
        self._sizes = (Q * Ft, N * Fs, S * Fn, G)
        self.obs_size = sum(self._sizes)
        self._model_col = SITE_TASK_COLUMNS.index("model")
        self._waited_col = SITE_TASK_COLUMNS.index("waited")
        # Every observation entry is gathered from one float32 source vector ``_V`` by a
        # fixed index (``_obs_index``, S x D): the shared server and site blocks exist once
        # in ``_V`` and each agent's order, distances and own queue are in the index.
        # ``_V`` starts with the time-dependent entries (waits, remaining busy times,
        # oldest waits, now), each intercept + slope * now in float64 (``_time``),
        # evaluated at every step; the rest changes only at events.
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
        self._time = TimeLinear(self._num_timed)
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
        task_high = SITE_TASK_COLUMNS.high(M, S)
        server_high = SITE_SERVER_COLUMNS.high(M, S)
        site_high = SITE_COLUMNS.high(M, S)
        global_high = SITE_GLOBAL_COLUMNS.high(M, S)
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
        for agent in self.possible_agents:
            if obs_mode == "dict":
                self._obs_spaces[agent] = spaces.Dict(
                    {k: spaces.Box(0.0, v, dtype=np.float32) for k, v in blocks.items()}
                )
            else:
                self._obs_spaces[agent] = spaces.Box(0.0, flat_high, dtype=np.float32)
        # The state: every task row, every server's dynamic columns and speed, every
        # site's free / queued / oldest wait, the globals.
        state_high = np.concatenate(
            [np.tile(task_high, S * Q), np.tile(server_high[: Fd + 1], N), np.tile(site_high[:3], S), global_high]
        )
        self.state_space = spaces.Box(0.0, state_high, dtype=np.float32)
        # Per-site queue views (oldest first); per site the visible count and, when tasks
        # fix their degree, each visible task's degree (NO_TASK past the queue's end).
        self._site_queue: list[list[int]] = [[] for _ in range(S)]
        self._vis_counts = [0] * S
        self._vis_degree = np.full((S, Q), NO_TASK, dtype=np.int64)

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
        o, V, TI, TS = self._offsets, self._V, self._time.intercept, self._time.slope
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

    def state(self) -> np.ndarray:
        """The global state (see the module docstring), a vector in ``state_space``."""
        if not self._started:
            raise RuntimeError(f"{self.metadata['name']}: call reset() before state()")
        self._evaluate_timed()
        return self._V.take(self._state_index)

    def _reset_tables(self) -> None:
        """Per-episode task tables (``SITE_TASK_COLUMNS``), padded with an empty row at
        index T (the row of a slot past a queue's end)."""
        sim = self.sim
        cfg = sim.config
        T = len(sim.task_arrival)
        self._empty = T
        self._pad = [T] * self.queue_len
        cls = np.asarray(sim.task_class, dtype=np.int64)
        slo = np.asarray(sim.task_slo, dtype=np.float64)
        arrival = np.asarray(sim.task_arrival, dtype=np.float64)
        pixels = np.array([c.pixels for c in cfg.classes], dtype=np.float64)
        table, inv_slo = task_table(
            SITE_TASK_COLUMNS,
            arrival=arrival,
            slo=slo,
            pixels=pixels[cls],
            degree=np.asarray(sim.task_degree),
            model=np.asarray(sim.class_model, dtype=np.int64)[cls],
            site=None,
            num_models=len(sim.models),
            num_sites=self.num_sites,
            time_scale_s=self.scenario.time_scale_s,
            max_degree=self._max_degree,
        )
        self._task_table = np.vstack([table, np.zeros((1, table.shape[1]))])
        self._inv_slo = np.append(inv_slo, 0.0)
        self._wait0_list = self._task_table[:, self._waited_col].tolist()
        self._arrival_list = arrival.tolist()
        self._inv_slo_list = self._inv_slo.tolist()
        self._task_site_list = list(sim.task_site)
        self._task_degree_list = list(sim.task_degree)
        self._site_tasks = np.bincount(np.asarray(sim.task_site, dtype=np.int64), minlength=self.num_sites)

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
        events = self.events = sim.take_events()
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
            self._vis_degree[s] = row + [NO_TASK] * (Q - len(row))

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
        changed = sim.take_changed_servers()
        if len(changed) > FULL_REWRITE_ABOVE:  # every server at once, vectorised
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
        self._time.evaluate(sim.now, self._V_timed)

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
