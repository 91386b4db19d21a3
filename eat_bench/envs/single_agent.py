"""The single-agent Gymnasium environment: one scheduler for the whole cluster."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from eat_bench.envs.encoding import ActionDecoder, ObservationEncoder
from eat_bench.envs.scheduler_view import SchedulerView
from eat_bench.rewards import get_reward
from eat_bench.scenarios import ScenarioSpec, get_scenario
from eat_bench.sim.engine import EMPTY_SLOT, Simulator
from eat_bench.sim.metrics import EpisodeMetrics

__all__ = ["EatEdgeEnv", "INFO_MODES"]

# Info values carry a dtype (TorchRL's info reader needs one) and are numbers to
# gymnasium's vector envs (which stack np.number scalars and arrays, not np.bool_): numpy
# float64 / int64 scalars, and the flag a 0-d bool array, fresh at every step (gymnasium's
# checker rejects infos that share objects). ``_ZERO + x`` makes a numpy scalar in about
# half the time of ``np.float64(x)`` / ``np.int64(x)``.
_ZERO_F, _ZERO_I, _flag = np.float64(0.0), np.int64(0), np.array

INFO_MODES = ("numeric", "events", "scheduler")
"""``info_mode="numeric"`` (default): fixed keys of numbers and flags, storable in any
library's buffer. ``"events"`` adds the per-step event list and the invalid reason.
``"scheduler"`` adds the scheduler view (:mod:`eat_bench.envs.scheduler_view`): the
visible queue, the servers and the cost of each dispatch option as numeric arrays."""


class EatEdgeEnv(gym.Env):
    """Schedule text-to-image diffusion requests on an edge GPU cluster.

    Requests (a model such as SD 1.5 or SDXL, an image size, an SLO) arrive at edge sites
    and queue. At each decision the agent picks a visible queued task, how many servers
    run it at once (the gang *degree*: patch-parallel diffusion, DistriFusion-style) and
    how many denoising steps (latency against image quality). Servers that last ran the
    same model together stay warm; any other set pays a cold start. Latencies come from
    GPU profile traces (``eat_bench/traces``; the slowest GPU of a gang sets the pace).

    **Ids.** ``EAT-Edge-v0`` (default benchmark), ``EAT-Paper-v0`` (the EAT paper's
    simulator), ``EAT-Edge-Large-v0``, ``EAT-Edge-Burst-v0``, ``EAT-Edge-Shift-v0``
    (held out). ``eat-bench list`` prints them. Keyword overrides at make: ``reward``,
    ``action_mode``, ``obs_mode``, ``trace``, ``quality``, ``arrival_rate``,
    ``num_servers``, ``num_tasks``, ``queue_len``, ``degrees``, ``decision_interval_s``,
    ``time_limit_s``, ``placement``, ``invalid_penalty`` (and gymnasium's
    ``max_episode_steps``, ``render_mode``, and ``info_mode``); an unknown keyword raises
    ``TypeError``, a bad value ``ValueError``, both naming the field.

    **Observation.** ``obs_mode="flat"``: a float32 ``Box`` of ``Q*Ft + N*Fs + 4`` values
    (tasks, servers, globals), for MLP policies. ``obs_mode="dict"``: ``{"tasks": (Q, Ft),
    "servers": (N, Fs), "globals": (4,)}`` token matrices, for attention models. Q is
    ``queue_len``, N the servers; the columns are the named layouts of
    :mod:`eat_bench.envs.observation`. Ft = 5 + models + sites (``TASK_COLUMNS``):
    present, waited/SLO, SLO/time_scale, pixels/1024², demanded degree/max degree, model
    one-hot, origin-site one-hot; ``present`` is 0 on padding rows past the queue's end
    (an attention policy's padding mask). Fs = 4 + models + sites (``SERVER_COLUMNS``):
    free, remaining busy/time_scale, warm group size/max degree, relative speed,
    warm-model one-hot, site one-hot. Globals (``GLOBAL_COLUMNS``): now/time limit,
    queued/Q, arrived fraction, free fraction. All entries are >= 0.

    **Action.** ``action_mode="continuous"``: the paper's ``Box(-1, 1)`` of length
    2 (+1 when the agent picks degrees) + Q: ``a[0] >= 0`` executes, ``a[1]`` sets steps
    ``round((a[1]+1)/2 * max_steps)`` (EAT-Paper-v0: the real number, unrounded, as the
    paper's simulator runs it), [``a[2]`` picks the degree], then one score per
    visible slot (argmax). ``action_mode="discrete"``: ``MultiDiscrete([Q+1, D, L])``:
    slot (0 = wait), degree index (D = 1 when tasks fix their degree), step level; with
    :meth:`action_masks` for sb3-contrib's MaskablePPO (through ``gym.make``'s wrappers:
    ``env.unwrapped.action_masks()`` or ``env.get_wrapper_attr("action_masks")()``;
    MaskablePPO finds it by itself). Placement is not the agent's: an
    idle warm group of the right size holding the model (origin site first), else the
    fastest free servers of the nearest site with enough. A malformed action raises
    ``ValueError`` naming the space, and changes nothing. An infeasible one (empty slot,
    not enough free servers) acts as wait and sets ``info["invalid_action"]``.

    **Time.** Event-driven by default: a wait jumps to the next arrival or completion,
    and the agent is asked only when a dispatch is possible. A dispatch does not advance
    time. With ``decision_interval_s`` (EAT-Paper-v0: 0.1 s) every wait advances one tick.

    **Reward.** A preset (``reward=``): ``paper``, ``balanced`` (default), ``latency``,
    ``quality``, ``slo``; formulas in :mod:`eat_bench.rewards`. Queueing is charged as it
    accrues, so waiting is never free (except under ``paper``).

    **Episode end.** Terminated when every task of the episode (EAT-Edge-v0: 200) has
    arrived, been dispatched and every server is idle. Truncated when simulated time
    reaches ``time_limit_s``, or by gymnasium's ``max_episode_steps``. When the env ends
    the episode (terminated, or the time limit) ``info["episode_metrics"]`` holds
    mean/p50/p95/p99 response time, mean quality, SLO attainment, throughput,
    utilisation, cold starts and invalid actions; gymnasium's ``TimeLimit`` wrapper ends
    it from outside, so after its truncation read ``env.unwrapped.episode_metrics()``.
    The ids' step limits fit their own clocks: switching an event-driven id to ticks
    (``decision_interval_s=0.1``) needs ``max_episode_steps`` of about ``time_limit_s /
    0.1`` to simulate whole episodes.

    **Info.** By default (``info_mode="numeric"``) ``reset`` and every ``step`` return the
    same keys, all numpy values with a dtype (float64 / int64 scalars, the flag a 0-d bool
    array), so Tianshou, TorchRL, RLlib and gymnasium's vector envs store them:
    ``time_s`` (simulated time), ``invalid_action``, and this step's ``arrivals``,
    ``dispatches`` and ``completions``; plus ``episode_metrics`` (a flat dict of numbers)
    on the step where the env ends the episode. ``info_mode="events"`` adds ``events``
    (``(kind, time_s, task_id)`` for arrivals, dispatches and completions) and, for an
    infeasible decision, ``invalid_reason``; in any mode the unwrapped env's
    ``last_events`` and ``last_invalid_reason`` hold them. ``info_mode="scheduler"`` adds,
    to the numeric keys, the versioned scheduler view (``info["scheduler_view_version"]``
    = 1; :mod:`eat_bench.envs.scheduler_view`): ``queue_tasks`` (Q, 9: task id, arrival,
    SLO, class, model, site, demanded degree, pixels), ``queue_length``, ``servers`` (N,
    6: free, busy until, warm model, group, group size, site), ``free_per_site``,
    ``options`` (Q, D, 7: per visible task and degree, where the env would place it and
    its cold start, overhead, per-step and transfer seconds), and the constant
    ``degrees``, ``step_levels`` and ``quality_normalized``: what the heuristics need to
    act without the simulator object (e.g. in another process).

    **Seeding.** ``reset(seed=s)`` draws the whole episode's workload from generators
    made from ``s``; the same seed and actions give the same trajectory.

    **Version history.** v0 (eat-bench 0.1): first release. eat-bench 0.2: ``info`` holds
    fixed-shape numbers by default (the event list and the invalid reason moved to
    ``info_mode="events"``); unknown make keywords raise ``TypeError``; observations,
    rewards and episode ends unchanged. eat-bench 0.2 (later): ``info_mode="scheduler"``
    (scheduler view version 1); the other modes, observations, rewards, masks and episode
    ends unchanged. ``EAT-Paper-v0`` before its first release (issue 12; no version bump,
    the id was never released): it follows the paper's simulator task by task
    (:class:`~eat_bench.scenarios.PaperRules`, docs/paper_model.md): real step counts for
    continuous actions, the ``paper`` reward's W taken after the task left the queue, the
    paper's clock (1 s at reset, arrivals stamped at their tick's start, truncation at
    1024 s of that clock) and the idle warm group holding the lowest server id; the other
    ids unchanged (bit for bit).

    Example:

    >>> import gymnasium as gym
    >>> import eat_bench
    >>> env = gym.make("EAT-Edge-v0", action_mode="discrete")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (158,)
    >>> action = np.array([1, 0, 2])  # first visible task, degree 1, 30 steps
    >>> obs, reward, terminated, truncated, info = env.step(action)
    >>> bool(info["invalid_action"]), int(info["dispatches"])  # numpy scalars (with a dtype)
    (False, 1)
    >>> env.unwrapped.action_masks().shape  # slot (Q + 1), degree, step level
    (18,)
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: str | ScenarioSpec = "EAT-Edge-v0",
        render_mode: str | None = None,
        info_mode: str = "numeric",
        **overrides: Any,
    ):
        spec = get_scenario(scenario) if isinstance(scenario, str) else scenario
        spec = spec.with_overrides(**overrides) if overrides else (spec.validate() or spec)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{spec.id}: render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        if info_mode not in INFO_MODES:
            raise ValueError(f"{spec.id}: info_mode must be one of {INFO_MODES}, got {info_mode!r}")
        self.spec_scenario = spec
        self.render_mode = render_mode
        self.info_mode = info_mode
        self.sim = Simulator(spec.sim_config())
        self.reward_fn = get_reward(spec.reward, spec.invalid_penalty)
        self._needs_visible_wait = self.reward_fn.needs_visible_wait
        self._wait_after_dispatch = spec.paper_rules is not None and spec.paper_rules.wait_after_dispatch
        self.encoder = ObservationEncoder(spec, self.sim, spec.obs_mode)
        self.decoder = ActionDecoder(spec, self.sim)
        self.observation_space = self.encoder.space
        self.action_space = self.decoder.space
        self.queue_len = spec.queue_len
        # The decision rule: in "agent" degree mode any queued task fits when the smallest
        # degree does, so the whole queue gives the same answer as the visible window.
        self._can_decide = self.sim.can_decide if spec.degree_mode == "agent" else self._visible_task_fits
        self.invalid_actions = 0
        self.last_events: list[tuple[str, float, int]] = []
        """This step's ``(kind, time_s, task_id)`` events (any info mode)."""
        self.last_invalid_reason = ""
        """Why this step's decision was infeasible ("" when it was not)."""
        self._started = False
        self._view = SchedulerView(spec, self.sim) if info_mode == "scheduler" else None

    def _visible_task_fits(self) -> bool:
        """Some task of the visible window fits the free servers of a site."""
        sim = self.sim
        return sim.queue_fits(sim.queue[: self.queue_len])

    def visible_queue_wait(self) -> float:
        """Mean waiting time so far of the visible queue (the paper's W)."""
        sim = self.sim
        return sim.mean_wait(sim.queue[: self.queue_len])

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        sim = self.sim
        sim.reset(int(self.np_random.integers(2**63 - 1)))
        sim.settle(self._can_decide)
        self.encoder.reset()
        self.invalid_actions = 0
        self._started = True
        events = self.last_events = sim.take_events()
        self.last_invalid_reason = ""
        self._arrived, self._dispatched, self._completed = sim.num_arrived, len(sim.records), sim.num_completed
        info = {
            "time_s": _ZERO_F + sim.now,
            "invalid_action": _flag(False),
            "arrivals": _ZERO_I + self._arrived,
            "dispatches": _ZERO_I + 0,
            "completions": _ZERO_I + 0,
        }
        if self.info_mode == "events":
            info["events"] = events
        elif self._view is not None:
            info.update(self._view.info())
        return self.encoder.encode(), info

    def step(self, action):
        if not self._started:
            raise RuntimeError(f"{self.spec_scenario.id}: call reset() before step()")
        decision = self.decoder.decode(action)  # raises before any state changes
        sim = self.sim
        before = sim.queue_slo_seconds
        record = None
        reason = None
        visible_wait = 0.0
        if decision is None:
            sim.wait(self._can_decide)
        else:
            slot, degree, steps = decision
            queue = sim.queue
            if slot >= len(queue) or slot >= self.queue_len:
                result = EMPTY_SLOT
            else:
                result = sim.dispatch(slot, degree, steps)
            if type(result) is str:
                reason = result
                self.invalid_actions += 1
                sim.wait(self._can_decide)
            else:
                record = result
                if self._needs_visible_wait:
                    Q = self.queue_len
                    if self._wait_after_dispatch:
                        # W of the visible queue once the task has left it (the paper's simulator).
                        visible_wait = sim.mean_wait(queue[:Q])
                    else:
                        # W of the visible queue as it was before the task left it, rebuilt in
                        # queue order; only a successful dispatch pays for it.
                        visible = queue[:slot] + [record.task_id] + queue[slot : Q - 1]
                        visible_wait = sim.mean_wait(visible)
                sim.settle(self._can_decide)
        reward = self.reward_fn(record, reason is not None, sim.queue_slo_seconds - before, visible_wait)
        terminated = sim.done
        truncated = not terminated and sim.truncated
        events = self.last_events = sim.take_events()
        self.last_invalid_reason = reason or ""
        # This step's event counts, from the simulator's running totals (no pass over events).
        arrived, dispatched, completed = sim.num_arrived, len(sim.records), sim.num_completed
        info = {
            "time_s": _ZERO_F + sim.now,
            "invalid_action": _flag(reason is not None),
            "arrivals": _ZERO_I + (arrived - self._arrived),
            "dispatches": _ZERO_I + (dispatched - self._dispatched),
            "completions": _ZERO_I + (completed - self._completed),
        }
        self._arrived, self._dispatched, self._completed = arrived, dispatched, completed
        if self.info_mode == "events":
            info["events"] = events
            if reason is not None:
                info["invalid_reason"] = reason
        elif self._view is not None:
            info.update(self._view.info())
        if terminated or truncated:
            info["episode_metrics"] = self.episode_metrics().as_dict()
        return self.encoder.encode(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Valid choices per component, concatenated (sb3-contrib MaskablePPO)."""
        return self.decoder.masks()

    def episode_metrics(self) -> EpisodeMetrics:
        """Metrics of the episode so far (complete at its end)."""
        return self.sim.metrics(invalid_actions=self.invalid_actions)

    def render(self):
        if self.render_mode == "ansi":
            from eat_bench.envs.render import render_ansi

            return render_ansi(self.sim, self.queue_len)
        if self.render_mode == "rgb_array":
            from eat_bench.envs.render import render_gantt

            return render_gantt(self.sim)
        return None

    def close(self) -> None:
        pass
