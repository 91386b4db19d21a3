"""Heuristic schedulers for the single-agent env.

Every heuristic is an :class:`~eat_bench.baselines.agents.Agent` (``reset(seed)`` then
``act(obs, info) -> action``) answering in the env's own action space, so the same agent
runs in continuous and discrete mode. A heuristic decides from the scheduler view that
``info_mode="scheduler"`` puts in ``info`` (:mod:`eat_bench.envs.scheduler_view`), so it
can run in another process than the env; given an info without that view (the default
``info_mode``) it reads the simulator of the env it was built with instead (the fast
in-process path). Both give the same actions (tested). Placement is the env's rule, so
a heuristic picks a visible task, a degree and a step count.

"Default steps" is the largest step level not above 30 (quality saturates there in the
paper's model); a task "fits" when its smallest allowed degree (its demand, or the
smallest degree) is at most the most free servers of one site. Every heuristic except
``random``, ``greedy`` and ``paper-greedy`` dispatches at the smallest allowed degree and default steps,
and waits when no visible task fits. Ties go to the older task (lower slot).

- ``random``: a uniform draw from the action space (seeded at ``reset``); the paper's Random.
- ``fcfs``: first come, first served: the oldest visible task that fits.
- ``sjf``: shortest job first: the fitting task with the shortest service time (cold
  start + overhead + steps x per-step time + transfer) where the env would place it.
- ``edf``: earliest deadline first: the fitting task with the smallest arrival + SLO.
- ``warm-first``: the oldest fitting task whose placement is warm (an idle warm group
  holding its model), else the oldest fitting task: it avoids cold starts.
- ``round-robin``: a cursor over the visible queue slots 0..Q-1, at 0 after ``reset``:
  it dispatches the first fitting task at a slot at or after the cursor (wrapping round
  to slot 0), then moves the cursor to the slot after it. The EAT paper's code cycles
  through the servers; here the env places tasks, so eat-bench's round-robin cycles
  through the queue positions instead, spreading service over the window rather than
  always serving its head.
- ``least-loaded``: the fitting task that the env would place at the site with the most
  free servers (ties: the oldest): it steers work to the least loaded site. On a
  one-site cluster (EAT-Paper-v0) it is fcfs.
- ``greedy``: eat-bench's one-step greedy, *not* the paper's greedy baseline: every
  visible task x every allowed degree x every step level, the dispatch with the best
  one-step reward under the env's reward preset (its true reward, service time included).
- ``paper-greedy``: what the EAT paper's greedy agent actually does. It writes its action
  as [steps / max, 1, one-hot slot] while the paper's env reads [execute, steps, scores],
  so it always runs the maximum step count; and it scores each task before launch, while
  its duration is still 0: ``min(cap, w_t / (w_tt * W + now - arrival))`` with the paper's
  weights and W the visible queue's mean wait now. So it picks the newest fitting task,
  or the first fitting one when every score hits the cap (ties go to the lower slot).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

from eat_bench.envs.scheduler_view import OPTION_FIELDS, QUEUE_FIELDS, SCHEDULER_VIEW_VERSION
from eat_bench.sim.entities import TaskRecord

__all__ = [
    "HEURISTICS",
    "DESCRIPTIONS",
    "make_heuristic",
    "HeuristicAgent",
    "RandomAgent",
    "FCFSAgent",
    "SJFAgent",
    "EDFAgent",
    "WarmFirstAgent",
    "RoundRobinAgent",
    "LeastLoadedAgent",
    "GreedyAgent",
    "PaperGreedyAgent",
    "run_episode",
]

SOURCES = ("auto", "info", "sim")
"""Where a heuristic reads the state: the info's scheduler view when present ("auto"),
only the view ("info"), or only the simulator ("sim")."""

_Q = {name: i for i, name in enumerate(QUEUE_FIELDS)}
_O = {name: i for i, name in enumerate(OPTION_FIELDS)}


class RandomAgent:
    """Uniform over the action space (the paper's Random), from its own seeded stream."""

    def __init__(self, env: gym.Env, source: str = "auto") -> None:
        self.space = env.unwrapped.action_space
        self.reset(None)

    def reset(self, seed: int | None = None) -> None:
        self.space.seed(seed)

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        return self.space.sample()


class _SimState:
    """The state read from the simulator itself (in-process)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.sim = env.sim

    def visible(self) -> list[tuple[int, int]]:
        """(slot, demanded degree or 0) of each visible task."""
        demand = self.sim.task_degree
        return [(slot, demand[task]) for slot, task in enumerate(self.sim.queue[: self.env.queue_len])]

    def max_free(self) -> int:
        return self.sim.max_free()

    def deadline(self, slot: int) -> float:
        task = self.sim.queue[slot]
        return self.sim.task_arrival[task] + self.sim.task_slo[task]

    def arrival(self, slot: int) -> float:
        return self.sim.task_arrival[self.sim.queue[slot]]

    def now(self) -> float:
        return self.sim.now

    def service_s(self, slot: int, degree: int, steps: int) -> float | None:
        return self.sim.service_estimate(self.sim.queue[slot], degree, steps)

    def placement(self, slot: int, degree: int) -> tuple[int, bool] | None:
        """(site, warm) where the env would place the task now, or None."""
        sim = self.sim
        task = sim.queue[slot]
        placed = sim.place(task, degree)
        if placed is None:
            return None
        return placed[0], sim.warm.is_warm(placed[1], sim.class_model[sim.task_class[task]])

    def free_at(self, site: int) -> int:
        return self.sim.free_count[site]

    def record(self, slot: int, degree: int, steps: int) -> TaskRecord | None:
        record = self.sim.preview(slot, degree, steps)
        return None if type(record) is str else record

    def visible_wait(self, without: int | None = None) -> float:
        sim = self.sim
        visible = sim.queue[: self.env.queue_len]
        if without is not None:
            visible = visible[:without] + visible[without + 1 :]
        return sim.mean_wait(visible)


class _InfoState:
    """The state read from the scheduler view in ``info`` (works in any process)."""

    def __init__(self, info: dict[str, Any], degrees: tuple[int, ...]) -> None:
        version = info["scheduler_view_version"]
        if version != SCHEDULER_VIEW_VERSION:
            raise ValueError(f"scheduler view version {version}; these heuristics read {SCHEDULER_VIEW_VERSION}")
        self.time_s = float(info["time_s"])
        self.tasks = info["queue_tasks"].tolist()
        self.options = info["options"]
        self.free = info["free_per_site"].tolist()
        self.quality = info["quality_normalized"]
        self.degrees = degrees

    def visible(self) -> list[tuple[int, int]]:
        present, degree = _Q["present"], _Q["degree"]
        return [(slot, int(row[degree])) for slot, row in enumerate(self.tasks) if row[present]]

    def max_free(self) -> int:
        return max(self.free)

    def deadline(self, slot: int) -> float:
        row = self.tasks[slot]
        return row[_Q["arrival_s"]] + row[_Q["slo_s"]]

    def arrival(self, slot: int) -> float:
        return self.tasks[slot][_Q["arrival_s"]]

    def now(self) -> float:
        return self.time_s

    def _option(self, slot: int, degree: int) -> list[float] | None:
        option = self.options[slot, self.degrees.index(degree)].tolist()
        return option if option[_O["feasible"]] else None

    def service_s(self, slot: int, degree: int, steps: int) -> float | None:
        o = self._option(slot, degree)
        if o is None:
            return None
        return o[_O["cold_s"]] + (o[_O["overhead_s"]] + steps * o[_O["step_s"]]) + o[_O["transfer_s"]]

    def placement(self, slot: int, degree: int) -> tuple[int, bool] | None:
        o = self._option(slot, degree)
        return None if o is None else (int(o[_O["site"]]), bool(o[_O["warm"]]))

    def free_at(self, site: int) -> int:
        return self.free[site]

    def record(self, slot: int, degree: int, steps: int) -> TaskRecord | None:
        """The fields of the dispatch's record that rewards read (the same floats as the
        simulator's ``preview``)."""
        row = self.tasks[slot]
        degree = int(row[_Q["degree"]]) or degree
        o = self._option(slot, degree)
        if o is None:
            return None
        cold, transfer = o[_O["cold_s"]], o[_O["transfer_s"]]
        compute = o[_O["overhead_s"]] + steps * o[_O["step_s"]]
        now = self.time_s
        return TaskRecord(
            task_id=int(row[_Q["task_id"]]),
            site=int(row[_Q["site"]]),
            model="",
            width=0,
            height=0,
            arrival_s=row[_Q["arrival_s"]],
            slo_s=row[_Q["slo_s"]],
            start_s=now,
            finish_s=(now + cold + compute) + transfer,
            steps=steps,
            degree=degree,
            servers=(),
            cold_start=not o[_O["warm"]],
            cold_start_s=cold,
            compute_s=compute,
            transfer_s=transfer,
            quality=float("nan"),
            quality_normalized=float(self.quality[int(row[_Q["class"]]), steps]),
        )

    def visible_wait(self, without: int | None = None) -> float:
        arrivals = [
            row[_Q["arrival_s"]] for slot, row in enumerate(self.tasks) if row[_Q["present"]] and slot != without
        ]
        return self.time_s - sum(arrivals) / len(arrivals) if arrivals else 0.0


class HeuristicAgent:
    """A scheduler that picks a decision from the state (view or simulator) and encodes it."""

    def __init__(self, env: gym.Env, source: str = "auto") -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        env = self.env = env.unwrapped
        self.source = source
        self.decoder = env.decoder
        self.reward_fn = env.reward_fn
        spec = env.spec_scenario
        self.degrees = tuple(spec.degrees)
        self.agent_degree = spec.degree_mode == "agent"
        self.step_levels = spec.step_levels
        levels = [s for s in spec.step_levels if s <= 30]
        self.default_steps = max(levels) if levels else min(spec.step_levels)
        self._sim_state = _SimState(env) if source != "info" else None
        self.state: _SimState | _InfoState | None = self._sim_state

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        if self.source != "sim" and "scheduler_view_version" in info:
            self.state = _InfoState(info, self.degrees)
        elif self._sim_state is not None:
            self.state = self._sim_state
        else:
            raise ValueError(
                f"{type(self).__name__} (source='info') needs the scheduler view in info: make the env with "
                "info_mode='scheduler'"
            )
        return self.decoder.encode(self.decide())

    def candidates(self) -> list[tuple[int, int]]:
        """(slot, smallest allowed degree) of every visible task that fits now."""
        most = self.state.max_free()
        smallest = self.degrees[0]
        return [(slot, demand or smallest) for slot, demand in self.state.visible() if (demand or smallest) <= most]

    def decide(self) -> tuple[int, int, int] | None:
        raise NotImplementedError


class _KeyedAgent(HeuristicAgent):
    """Picks the fitting visible task with the smallest ``(key(slot, degree), slot)``."""

    def key(self, slot: int, degree: int) -> float:
        raise NotImplementedError

    def decide(self):
        options = self.candidates()
        if not options:
            return None
        slot, degree = min(options, key=lambda option: (self.key(*option), option[0]))
        return slot, degree, self.default_steps


class FCFSAgent(_KeyedAgent):
    """The oldest visible task that fits."""

    def key(self, slot: int, degree: int) -> float:
        return 0.0


class SJFAgent(_KeyedAgent):
    """The fitting task with the shortest service time where the env would place it."""

    def key(self, slot: int, degree: int) -> float:
        estimate = self.state.service_s(slot, degree, self.default_steps)
        return float("inf") if estimate is None else estimate


class EDFAgent(_KeyedAgent):
    """The fitting task with the earliest deadline (arrival + SLO)."""

    def key(self, slot: int, degree: int) -> float:
        return self.state.deadline(slot)


class WarmFirstAgent(_KeyedAgent):
    """The oldest fitting task whose placement is warm, else the oldest fitting task."""

    def key(self, slot: int, degree: int) -> float:
        placed = self.state.placement(slot, degree)
        return 0.0 if placed is not None and placed[1] else 1.0


class LeastLoadedAgent(_KeyedAgent):
    """The fitting task the env would place at the site with the most free servers."""

    def key(self, slot: int, degree: int) -> float:
        placed = self.state.placement(slot, degree)
        return 0.0 if placed is None else -float(self.state.free_at(placed[0]))


class RoundRobinAgent(HeuristicAgent):
    """The first fitting task at or after a cursor over the queue slots (wrapping), which
    then moves past it."""

    def reset(self, seed: int | None = None) -> None:
        self.cursor = 0

    def decide(self):
        options = self.candidates()
        if not options:
            return None
        after = [option for option in options if option[0] >= self.cursor]
        slot, degree = (after or options)[0]
        self.cursor = (slot + 1) % self.env.queue_len
        return slot, degree, self.default_steps

    def __init__(self, env: gym.Env, source: str = "auto") -> None:
        super().__init__(env, source)
        self.cursor = 0


class GreedyAgent(HeuristicAgent):
    """eat-bench's one-step greedy: the best one-step reward over tasks x degrees x step
    levels. Not the EAT paper's greedy baseline (that is :class:`PaperGreedyAgent`):
    this one scores each dispatch by its true reward, service time included.

    The estimate is the preset's reward for the dispatch itself (the paper's tick
    semantics, where a dispatch does not move the clock). In event mode the env also
    charges the queueing cost accrued while the clock then advances to the next
    decision, which the estimate leaves out, so greedy can pick a dispatch whose step
    reward is lower than another's. Only ``step_levels`` are tried (the continuous
    action space would allow every step count). When the scenario takes the reward's W
    after the task left the queue (``PaperRules.wait_after_dispatch``), the estimate
    takes W over the other visible tasks (exact unless more than ``queue_len`` queue)."""

    def decide(self):
        state = self.state
        reward_fn = self.reward_fn
        rules = self.env.spec_scenario.paper_rules
        after = rules is not None and rules.wait_after_dispatch
        visible_wait = state.visible_wait()
        best, best_reward = None, -float("inf")
        degrees = self.degrees if self.agent_degree else (0,)
        most = state.max_free()
        for slot, demand in state.visible():
            if after:
                visible_wait = state.visible_wait(without=slot)
            for degree in degrees:
                if (degree or demand) > most:
                    continue
                for steps in self.step_levels:
                    record = state.record(slot, degree, steps)
                    if record is None:
                        continue
                    reward = reward_fn(record, False, 0.0, visible_wait)
                    if reward > best_reward:
                        best, best_reward = (slot, degree or record.degree, steps), reward
        return best


class PaperGreedyAgent(HeuristicAgent):
    """The EAT paper's greedy agent as it behaves: the maximum step count, and the fitting
    task with the best score ``min(cap, w_t / (w_tt * W + now - arrival))`` (the ``paper``
    preset's reward with the task's duration still 0, W the visible queue's mean wait),
    the lower slot on ties: the newest fitting task, or the first when all are capped."""

    def __init__(self, env: gym.Env, source: str = "auto") -> None:
        super().__init__(env, source)
        from eat_bench.rewards import REWARD_PRESETS

        paper = REWARD_PRESETS["paper"]
        self.w_t, self.w_tt, self.cap = paper.w_t, paper.w_tt, paper.cap
        self.steps = max(self.step_levels) if self.decoder.mode == "discrete" else self.decoder.max_steps

    def score(self, slot: int, visible_wait: float) -> float:
        """The paper's greedy score of the task at ``slot`` (its duration taken as 0)."""
        denominator = self.w_tt * visible_wait + (self.state.now() - self.state.arrival(slot))
        return self.cap if denominator <= 0.0 else min(self.cap, self.w_t / denominator)

    def decide(self):
        options = self.candidates()
        if not options:
            return None
        visible_wait = self.state.visible_wait()
        best, best_score = options[0], -float("inf")
        for option in options:
            score = self.score(option[0], visible_wait)
            if score > best_score:
                best, best_score = option, score
        return best[0], best[1], self.steps


HEURISTICS: dict[str, Callable[..., Any]] = {
    "random": RandomAgent,
    "fcfs": FCFSAgent,
    "sjf": SJFAgent,
    "edf": EDFAgent,
    "warm-first": WarmFirstAgent,
    "round-robin": RoundRobinAgent,
    "least-loaded": LeastLoadedAgent,
    "greedy": GreedyAgent,
    "paper-greedy": PaperGreedyAgent,
}
"""Each heuristic's class by name; called as ``factory(env, source="auto")``."""

DESCRIPTIONS: dict[str, str] = {
    "random": "uniform over the action space (the paper's Random)",
    "fcfs": "oldest visible task that fits, smallest degree, default steps",
    "sjf": "fitting task with the shortest service time where the env would place it",
    "edf": "fitting task with the earliest deadline (arrival + SLO)",
    "warm-first": "oldest fitting task whose placement is warm, else fcfs",
    "round-robin": "cycles a cursor through the visible queue slots",
    "least-loaded": "fitting task the env would place at the site with the most free servers",
    "greedy": "eat-bench's one-step greedy: best one-step reward over tasks x degrees x steps",
    "paper-greedy": "the EAT paper's greedy as it behaves: max steps, newest fitting task (first when all capped)",
}
"""One line per heuristic (``eat-bench list``); the module docstring has the paragraphs."""


def make_heuristic(name: str, env: Any, source: str = "auto") -> Any:
    """The heuristic ``name`` bound to ``env`` (a gymnasium env or an ``EatEdgeEnv``)."""
    try:
        factory = HEURISTICS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; heuristics: {', '.join(HEURISTICS)}") from None
    return factory(env, source)


def run_episode(env: Any, agent: Any, seed: int) -> dict[str, float]:
    """Play one episode; the episode's metrics plus its return, step count and whether
    it was truncated (:func:`eat_bench.baselines.evaluation.run_episode`'s row)."""
    from eat_bench.baselines.evaluation import run_episode as play

    return play(env, agent, seed).row()
