"""Reward presets.

A preset turns one env step into a number from: the task dispatched this step (if any),
whether the decision was infeasible, and how much queueing happened during the step.
Queueing is charged as it happens (``queue_slo_seconds``: the sum over queued tasks of
dt / SLO), so waiting is never free and an episode's latency cost adds up exactly to
``sum(response_i / slo_i)`` over its tasks. Every preset is documented with its formula
and scale in its ``formula`` attribute; ``eat-bench list`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

from eat_bench.sim.entities import TaskRecord
from eat_bench.sim.quality import PaperQuality

__all__ = ["RewardPreset", "REWARD_PRESETS", "get_reward_preset", "PAPER_QUALITY_MAX"]

PAPER_QUALITY_MAX = PaperQuality().max_quality("sd14")
"""The paper's best quality, q(30) = 0.2837. Its reward uses q on that scale, taken as
``PAPER_QUALITY_MAX x normalised quality``: the paper's own q under the ``paper`` quality
model, and the same scale for any other quality model."""


@dataclass(frozen=True)
class RewardPreset:
    """A named reward. ``invalid_penalty`` is added for an infeasible decision.

    Weights: ``w_quality`` x normalised quality at dispatch, ``w_slo`` x [SLO met] at
    dispatch, ``w_latency`` x latency cost (queueing as it accrues + service / SLO at
    dispatch), ``w_wait`` x queueing cost only. ``paper`` switches to the paper's formula.
    """

    name: str
    formula: str
    w_quality: float = 0.0
    w_slo: float = 0.0
    w_latency: float = 0.0
    w_wait: float = 0.0
    invalid_penalty: float = -0.1
    paper: bool = False
    paper_w_t: float = 250.0
    paper_w_q: float = 10.0
    paper_w_tt: float = 1.0

    def __call__(
        self,
        record: TaskRecord | None,
        invalid: bool,
        queue_slo_seconds: float,
        visible_wait_s: float = 0.0,
        invalid_penalty: float | None = None,
    ) -> float:
        """The reward of one step (see the module docstring for the arguments)."""
        reward = 0.0
        if invalid:
            reward += self.invalid_penalty if invalid_penalty is None else invalid_penalty
        if self.paper:
            if record is not None:
                response = record.finish_s - record.arrival_s
                reward += min(10.0, self.paper_w_t / (self.paper_w_tt * visible_wait_s + response))
                reward += self.paper_w_q * PAPER_QUALITY_MAX * record.quality_normalized
            return reward
        reward -= (self.w_latency + self.w_wait) * queue_slo_seconds
        if record is not None:
            reward += self.w_quality * record.quality_normalized
            if self.w_slo and record.finish_s - record.arrival_s <= record.slo_s:
                reward += self.w_slo
            if self.w_latency:
                reward -= self.w_latency * (record.finish_s - record.start_s) / record.slo_s
        return reward

    @property
    def needs_visible_wait(self) -> bool:
        return self.paper


REWARD_PRESETS: dict[str, RewardPreset] = {
    preset.name: preset
    for preset in (
        RewardPreset(
            "paper",
            "at dispatch: min(10, 250 / (W + response)) + 10 * q(steps), q the paper's quality (<= 0.284), "
            "W the visible queue's mean wait; 0 otherwise, and 0 for an infeasible decision. "
            "Per task in about [1, 12.8]. (SEED_MODEL.md)",
            invalid_penalty=0.0,
            paper=True,
        ),
        RewardPreset(
            "balanced",
            "q_norm + [response <= SLO] - response / SLO per task (queueing charged as it accrues); "
            "-0.1 for an infeasible decision. Per task in about [-3, 2].",
            w_quality=1.0,
            w_slo=1.0,
            w_latency=1.0,
        ),
        RewardPreset(
            "latency",
            "-response / SLO per task (queueing charged as it accrues, service at dispatch); "
            "-0.1 for an infeasible decision. Episode return = -sum(response_i / SLO_i).",
            w_latency=1.0,
        ),
        RewardPreset(
            "quality",
            "q_norm at dispatch - 0.1 * response / SLO per task; -0.1 for an infeasible decision. "
            "Per task in about [-0.3, 1].",
            w_quality=1.0,
            w_latency=0.1,
        ),
        RewardPreset(
            "slo",
            "+1 when a dispatched task will meet its SLO, - 0.1 * queueing time / SLO as it accrues; "
            "-0.1 for an infeasible decision. Per task in about [-0.3, 1].",
            w_slo=1.0,
            w_wait=0.1,
        ),
    )
}


def get_reward_preset(name: str) -> RewardPreset:
    try:
        return REWARD_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown reward preset {name!r}; choose from {sorted(REWARD_PRESETS)}") from None
