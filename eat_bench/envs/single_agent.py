"""The single-agent Gymnasium environment: one scheduler for the whole cluster."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from eat_bench.envs.encoding import ActionDecoder, ObservationEncoder
from eat_bench.envs.rewards import get_reward_preset
from eat_bench.scenarios import ScenarioSpec, get_scenario
from eat_bench.sim.engine import Simulator
from eat_bench.sim.metrics import EpisodeMetrics

__all__ = ["EatEdgeEnv"]


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
    ``max_episode_steps``, ``render_mode``); bad values fail at make with the field named.

    **Observation.** ``obs_mode="flat"``: a float32 ``Box`` of ``Q*Ft + N*Fs + 4`` values
    (tasks, servers, globals), for MLP policies. ``obs_mode="dict"``: ``{"tasks": (Q, Ft),
    "servers": (N, Fs), "globals": (4,)}`` token matrices, for attention models. Q is
    ``queue_len``, N the servers; Ft = 5 + models + sites: present, waited/SLO,
    SLO/time_scale, pixels/1024², demanded degree/max degree, model one-hot, origin-site
    one-hot. Fs = 4 + models + sites: free, remaining busy/time_scale, warm group
    size/max degree, relative speed, warm-model one-hot, site one-hot. Globals: now/time
    limit, queued/Q, arrived fraction, free fraction. All entries are >= 0.

    **Action.** ``action_mode="continuous"``: the paper's ``Box(-1, 1)`` of length
    2 (+1 when the agent picks degrees) + Q: ``a[0] >= 0`` executes, ``a[1]`` sets steps
    ``round((a[1]+1)/2 * max_steps)``, [``a[2]`` picks the degree], then one score per
    visible slot (argmax). ``action_mode="discrete"``: ``MultiDiscrete([Q+1, D, L])``:
    slot (0 = wait), degree index (D = 1 when tasks fix their degree), step level; with
    :meth:`action_masks` for sb3-contrib's MaskablePPO. Placement is not the agent's: an
    idle warm group of the right size holding the model (origin site first), else the
    fastest free servers of the nearest site with enough. A malformed action raises
    ``ValueError`` naming the space, and changes nothing. An infeasible one (empty slot,
    not enough free servers) acts as wait and sets ``info["invalid_action"]``.

    **Time.** Event-driven by default: a wait jumps to the next arrival or completion,
    and the agent is asked only when a dispatch is possible. A dispatch does not advance
    time. With ``decision_interval_s`` (EAT-Paper-v0: 0.1 s) every wait advances one tick.

    **Reward.** A preset (``reward=``): ``paper``, ``balanced`` (default), ``latency``,
    ``quality``, ``slo``; formulas in :mod:`eat_bench.envs.rewards`. Queueing is charged
    as it accrues, so waiting is never free (except under ``paper``).

    **Episode end.** Terminated when every task of the episode (EAT-Edge-v0: 200) has
    arrived, been dispatched and every server is idle. Truncated when simulated time
    reaches ``time_limit_s``, or by gymnasium's ``max_episode_steps``. When the env ends
    the episode (terminated, or the time limit) ``info["episode_metrics"]`` holds
    mean/p50/p95/p99 response time, mean quality, SLO attainment, throughput,
    utilisation, cold starts and invalid actions; gymnasium's ``TimeLimit`` wrapper ends
    it from outside, so after its truncation read ``env.unwrapped.episode_metrics()``.
    The ids' step limits fit their own clocks: switching an event-driven id to ticks
    (``decision_interval_s=0.1``) needs ``max_episode_steps`` of about ``time_limit_s /
    0.1`` to simulate whole episodes. Every step's ``info["events"]`` lists
    ``(kind, time_s, task_id)`` for arrivals, dispatches and completions.

    **Seeding.** ``reset(seed=s)`` draws the whole episode's workload from generators
    made from ``s``; the same seed and actions give the same trajectory.

    **Version history.** v0 (eat-bench 0.1): first release.

    Example:

    >>> import gymnasium as gym
    >>> import eat_bench
    >>> env = gym.make("EAT-Edge-v0", action_mode="discrete")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (158,)
    >>> action = np.array([1, 0, 2])  # first visible task, degree 1, 30 steps
    >>> obs, reward, terminated, truncated, info = env.step(action)
    >>> info["invalid_action"], [kind for kind, _, _ in info["events"]][:1]
    (False, ['dispatch'])
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, scenario: str | ScenarioSpec = "EAT-Edge-v0", render_mode: str | None = None, **overrides: Any):
        spec = get_scenario(scenario) if isinstance(scenario, str) else scenario
        spec = spec.with_overrides(**overrides) if overrides else (spec.validate() or spec)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{spec.id}: render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.spec_scenario = spec
        self.render_mode = render_mode
        self.sim = Simulator(spec.sim_config())
        self.reward_preset = get_reward_preset(spec.reward)
        self._invalid_penalty = spec.invalid_penalty
        self.encoder = ObservationEncoder(spec, self.sim, spec.obs_mode)
        self.decoder = ActionDecoder(spec, self.sim)
        self.observation_space = self.encoder.space
        self.action_space = self.decoder.space
        self.invalid_actions = 0
        self.sim.track_visible_wait = self.reward_preset.needs_visible_wait

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.sim.reset(int(self.np_random.integers(2**63 - 1)))
        self.sim.settle()
        self.encoder.reset()
        self.invalid_actions = 0
        info = {"events": self.sim.events, "time_s": self.sim.now}
        self.sim.events = []
        return self.encoder.encode(), info

    def step(self, action):
        decision = self.decoder.decode(action)  # raises before any state changes
        sim = self.sim
        before = sim.queue_slo_seconds
        record = None
        reason = None
        if decision is None:
            sim.wait()
        else:
            result = sim.dispatch(*decision)
            if type(result) is str:
                reason = result
                self.invalid_actions += 1
                sim.wait()
            else:
                record = result
                sim.settle()
        reward = self.reward_preset(
            record,
            reason is not None,
            sim.queue_slo_seconds - before,
            sim.visible_wait_at_dispatch,
            self._invalid_penalty,
        )
        terminated = sim.done
        truncated = not terminated and sim.truncated
        info = {"invalid_action": reason is not None, "events": sim.events, "time_s": sim.now}
        sim.events = []
        if reason is not None:
            info["invalid_reason"] = reason
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

            return render_ansi(self.sim)
        if self.render_mode == "rgb_array":
            from eat_bench.envs.render import render_gantt

            return render_gantt(self.sim)
        return None

    def close(self) -> None:
        pass
