"""Heuristic schedulers for the single-agent env.

Every baseline follows one :class:`Agent` protocol: ``reset(seed)`` then
``act(obs, info) -> action``. Heuristics read the simulator behind the env (what a
hand-written scheduler would know) and answer in the env's own action space, so the same
agent runs in continuous and discrete mode.

- ``random``: a uniform draw from the action space (seeded at ``reset``).
- ``fcfs``: the oldest visible task, smallest feasible degree, default steps.
- ``sjf``: the visible task with the shortest service estimate at default steps.
- ``edf``: the visible task with the earliest deadline (arrival + SLO).
- ``warm-first``: the oldest task whose model has an idle warm group, else ``fcfs``.
- ``greedy``: the paper's greedy: every visible task x every degree x every step level,
  the dispatch with the best one-step reward under the env's reward preset.

"Default steps" is the largest step level not above 30 (quality saturates there in the
paper's model); degrees are the smallest a task allows, except for ``greedy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from eat_bench.envs.single_agent import EatEdgeEnv

__all__ = ["Agent", "HEURISTICS", "make_heuristic", "HeuristicAgent", "RandomAgent", "GreedyAgent"]


class Agent(Protocol):
    """What the suite and the leaderboard run: any object with these two methods."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, obs: Any, info: dict[str, Any]) -> Any: ...


class RandomAgent:
    """Uniform over the action space (the paper's Random), from its own seeded stream."""

    def __init__(self, env: EatEdgeEnv) -> None:
        self.space = env.action_space
        self.reset(None)

    def reset(self, seed: int | None = None) -> None:
        self.space.seed(seed)

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        return self.space.sample()


class HeuristicAgent:
    """A scheduler that picks a decision from the simulator's state and encodes it."""

    def __init__(self, env: EatEdgeEnv) -> None:
        self.env = env
        self.sim = env.sim
        self.decoder = env.decoder
        spec = env.spec_scenario
        self.degrees = spec.degrees
        self.step_levels = spec.step_levels
        levels = [s for s in spec.step_levels if s <= 30]
        self.default_steps = max(levels) if levels else min(spec.step_levels)

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        return self.decoder.encode(self.decide())

    def candidates(self) -> list[tuple[int, int]]:
        """(slot, smallest feasible degree) of every visible task that can start now."""
        sim = self.sim
        most = sim.max_free()
        out = []
        for slot, task in enumerate(sim.queue[: self.env.queue_len]):
            degree = sim.required_degree(task)
            if degree <= most:
                out.append((slot, degree))
        return out

    def decide(self) -> tuple[int, int, int] | None:
        raise NotImplementedError


class FCFSAgent(HeuristicAgent):
    def decide(self):
        options = self.candidates()
        if not options:
            return None
        slot, degree = options[0]
        return slot, degree, self.default_steps


class _KeyedAgent(HeuristicAgent):
    """Picks the feasible visible task with the smallest ``key(slot, degree)``."""

    def key(self, slot: int, degree: int) -> float:
        raise NotImplementedError

    def decide(self):
        options = self.candidates()
        if not options:
            return None
        slot, degree = min(options, key=lambda option: (self.key(*option), option[0]))
        return slot, degree, self.default_steps


class SJFAgent(_KeyedAgent):
    def key(self, slot: int, degree: int) -> float:
        estimate = self.sim.service_estimate(self.sim.queue[slot], degree, self.default_steps)
        return float("inf") if estimate is None else estimate


class EDFAgent(_KeyedAgent):
    def key(self, slot: int, degree: int) -> float:
        task = self.sim.queue[slot]
        return self.sim.task_arrival[task] + self.sim.task_slo[task]


class WarmFirstAgent(_KeyedAgent):
    def key(self, slot: int, degree: int) -> float:
        sim = self.sim
        task = sim.queue[slot]
        placed = sim.place(task, degree)
        warm = placed is not None and sim.warm.is_warm(placed[1], sim.class_model[sim.task_class[task]])
        return 0.0 if warm else 1.0


class GreedyAgent(HeuristicAgent):
    """The paper's greedy: the best one-step reward over tasks x degrees x step levels.

    The estimate is the preset's reward for the dispatch itself (the paper's tick
    semantics, where a dispatch does not move the clock). In event mode the env also
    charges the queueing cost accrued while the clock then advances to the next
    decision, which the estimate leaves out, so greedy can pick a dispatch whose step
    reward is lower than another's. Only ``step_levels`` are tried (the continuous
    action space would allow every step count)."""

    def decide(self):
        sim = self.sim
        reward_fn = self.env.reward_fn
        visible_wait = self.env.visible_queue_wait()
        best, best_reward = None, -float("inf")
        degrees = self.degrees if sim.config.degree_mode == "agent" else (0,)
        most = sim.max_free()
        for slot, task in enumerate(sim.queue[: self.env.queue_len]):
            for degree in degrees:
                if (degree or sim.task_degree[task]) > most:
                    continue
                for steps in self.step_levels:
                    record = sim.preview(slot, degree, steps)
                    if type(record) is str:
                        continue
                    reward = reward_fn(record, False, 0.0, visible_wait)
                    if reward > best_reward:
                        best, best_reward = (slot, degree or record.degree, steps), reward
        return best


HEURISTICS: dict[str, Callable[[EatEdgeEnv], Agent]] = {
    "random": RandomAgent,
    "fcfs": FCFSAgent,
    "sjf": SJFAgent,
    "edf": EDFAgent,
    "warm-first": WarmFirstAgent,
    "greedy": GreedyAgent,
}


def make_heuristic(name: str, env: Any) -> Agent:
    """The heuristic ``name`` bound to ``env`` (a gymnasium env or an ``EatEdgeEnv``)."""
    try:
        factory = HEURISTICS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; heuristics: {', '.join(HEURISTICS)}") from None
    return factory(env.unwrapped)


def run_episode(env: Any, agent: Agent, seed: int) -> dict[str, float]:
    """Play one episode; return the episode metrics plus its return and step count."""
    agent.reset(seed)
    obs, info = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            metrics = dict(env.unwrapped.episode_metrics().as_dict())
            metrics.update(episode_return=total, env_steps=steps, truncated=bool(truncated and not terminated))
            return metrics
