"""Rewards: one protocol, one class per formula family, presets as table rows.

A reward turns one scheduler step into a number from: the task dispatched this step (if
any), whether the decision was infeasible, and how much queueing happened during the
step. Queueing is charged as it happens (``queue_cost``: the sum over queued tasks of
dt / SLO), so waiting is never free and an episode's latency cost adds up exactly to
``sum(response_i / slo_i)`` over its tasks.

What an env must know about a reward is stated as attributes of the protocol, never
probed: ``queue_weight`` (the reward per unit of queueing cost of a step without a
dispatch) and ``needs_visible_wait`` (the formula reads the visible queue's mean wait).
The invalid-action penalty is bound once, at make (:meth:`RewardFn.with_penalty`).

To add a preset, add a row to :data:`REWARD_PRESETS` (a :class:`LinearReward` with its
weights, or a new class implementing :class:`RewardFn`); ``eat-bench list`` and the docs
list presets from that table. This module sits below the scenarios (they validate
``reward=`` against it) and imports only the simulator's records and quality model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from eat_bench.sim.entities import TaskRecord
from eat_bench.sim.quality import PaperQuality

__all__ = [
    "RewardFn",
    "LinearReward",
    "PaperReward",
    "REWARD_PRESETS",
    "get_reward",
    "PAPER_QUALITY_MAX",
]

PAPER_QUALITY_MAX = PaperQuality().max_quality("sd14")
"""The paper's best quality, q(30) = 0.2837. Its reward uses q on that scale, taken as
``PAPER_QUALITY_MAX x normalised quality``: the paper's own q under the ``paper`` quality
model, and the same scale for any other quality model."""


@runtime_checkable
class RewardFn(Protocol):
    """What the envs call, and what they need to know about it."""

    name: str
    formula: str
    """The formula and its scale in words (``eat-bench list`` and the docs print it)."""
    invalid_penalty: float
    """Added for an infeasible decision (bound at make)."""

    @property
    def queue_weight(self) -> float:
        """Reward per unit of queueing cost in a step without a dispatch (0: not charged)."""
        ...

    @property
    def needs_visible_wait(self) -> bool:
        """Whether ``visible_wait_s`` (the visible queue's mean wait at dispatch) is read."""
        ...

    def __call__(
        self, record: TaskRecord | None, invalid: bool, queue_cost: float, visible_wait_s: float = 0.0
    ) -> float:
        """The reward of one step."""
        ...

    def with_penalty(self, invalid_penalty: float | None) -> RewardFn:
        """This reward with another invalid-action penalty (None: keep the preset's)."""
        ...


class _BoundPenalty:
    """``with_penalty`` for the frozen reward dataclasses below."""

    invalid_penalty: float

    def with_penalty(self, invalid_penalty: float | None):
        return self if invalid_penalty is None else replace(self, invalid_penalty=float(invalid_penalty))


@dataclass(frozen=True)
class LinearReward(_BoundPenalty):
    """A weighted sum: ``w_quality`` x normalised quality at dispatch, ``w_slo`` x [SLO met]
    at dispatch, ``w_latency`` x latency cost (queueing as it accrues + service / SLO at
    dispatch), ``w_wait`` x queueing cost only."""

    name: str
    formula: str
    w_quality: float = 0.0
    w_slo: float = 0.0
    w_latency: float = 0.0
    w_wait: float = 0.0
    invalid_penalty: float = -0.1

    @property
    def queue_weight(self) -> float:
        return 0.0 - (self.w_latency + self.w_wait)

    @property
    def needs_visible_wait(self) -> bool:
        return False

    def __call__(
        self, record: TaskRecord | None, invalid: bool, queue_cost: float, visible_wait_s: float = 0.0
    ) -> float:
        reward = 0.0
        if invalid:
            reward += self.invalid_penalty
        reward -= (self.w_latency + self.w_wait) * queue_cost
        if record is not None:
            reward += self.w_quality * record.quality_normalized
            if self.w_slo and record.finish_s - record.arrival_s <= record.slo_s:
                reward += self.w_slo
            if self.w_latency:
                reward -= self.w_latency * (record.finish_s - record.start_s) / record.slo_s
        return reward


@dataclass(frozen=True)
class PaperReward(_BoundPenalty):
    """The EAT paper's reward (SEED_MODEL.md): at dispatch ``min(cap, w_t / (w_tt * W +
    response)) + w_q * q``, W the visible queue's mean wait; 0 otherwise. Queueing is not
    charged as it accrues."""

    name: str
    formula: str
    w_t: float = 250.0
    w_q: float = 10.0
    w_tt: float = 1.0
    cap: float = 10.0
    invalid_penalty: float = 0.0

    @property
    def queue_weight(self) -> float:
        return 0.0

    @property
    def needs_visible_wait(self) -> bool:
        return True

    def __call__(
        self, record: TaskRecord | None, invalid: bool, queue_cost: float, visible_wait_s: float = 0.0
    ) -> float:
        reward = 0.0
        if invalid:
            reward += self.invalid_penalty
        if record is not None:
            response = record.finish_s - record.arrival_s
            reward += min(self.cap, self.w_t / (self.w_tt * visible_wait_s + response))
            reward += self.w_q * PAPER_QUALITY_MAX * record.quality_normalized
        return reward


REWARD_PRESETS: dict[str, RewardFn] = {
    preset.name: preset
    for preset in (
        PaperReward(
            "paper",
            "at dispatch: min(10, 250 / (W + response)) + 10 * q(steps), q the paper's quality (<= 0.284), "
            "W the visible queue's mean wait; 0 otherwise, and 0 for an infeasible decision. "
            "Per task in about [1, 12.8]. (SEED_MODEL.md)",
        ),
        LinearReward(
            "balanced",
            "q_norm + [response <= SLO] - response / SLO per task (queueing charged as it accrues); "
            "-0.1 for an infeasible decision. Per task in about [-3, 2].",
            w_quality=1.0,
            w_slo=1.0,
            w_latency=1.0,
        ),
        LinearReward(
            "latency",
            "-response / SLO per task (queueing charged as it accrues, service at dispatch); "
            "-0.1 for an infeasible decision. Episode return = -sum(response_i / SLO_i).",
            w_latency=1.0,
        ),
        LinearReward(
            "quality",
            "q_norm at dispatch - 0.1 * response / SLO per task; -0.1 for an infeasible decision. "
            "Per task in about [-0.3, 1].",
            w_quality=1.0,
            w_latency=0.1,
        ),
        LinearReward(
            "slo",
            "+1 when a dispatched task will meet its SLO, - 0.1 * queueing time / SLO as it accrues; "
            "-0.1 for an infeasible decision. Per task in about [-0.3, 1].",
            w_slo=1.0,
            w_wait=0.1,
        ),
    )
}
"""Every preset by name (``reward=`` at make)."""


def get_reward(name: str, invalid_penalty: float | None = None) -> RewardFn:
    """The preset ``name`` with its invalid-action penalty bound (None: the preset's own)."""
    try:
        preset = REWARD_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown reward preset {name!r}; choose from {sorted(REWARD_PRESETS)}") from None
    return preset.with_penalty(invalid_penalty)
