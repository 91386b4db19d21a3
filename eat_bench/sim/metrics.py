"""Episode summary: latency percentiles, quality, SLO attainment, utilisation, cold starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from eat_bench.sim.entities import TaskRecord

__all__ = ["EpisodeMetrics", "summarize"]


@dataclass(frozen=True)
class EpisodeMetrics:
    """What one episode achieved. Latencies in seconds; rates in [0, 1].

    ``slo_attainment`` and ``completion_rate`` count every task of the episode, so a task
    never dispatched (the episode was truncated) counts as a miss. Latency statistics
    cover the dispatched tasks. ``throughput_per_s`` is dispatched tasks over the makespan;
    ``utilisation`` is busy server-seconds (cold starts included) over servers x makespan.
    """

    num_tasks: int
    dispatched: int
    completion_rate: float
    mean_response_s: float
    p50_response_s: float
    p95_response_s: float
    p99_response_s: float
    mean_wait_s: float
    mean_service_s: float
    mean_quality: float
    mean_quality_normalized: float
    mean_steps: float
    mean_degree: float
    slo_attainment: float
    throughput_per_s: float
    utilisation: float
    cold_starts: int
    cold_start_rate: float
    offloaded: int
    invalid_actions: int
    makespan_s: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(
    records: Sequence[TaskRecord],
    num_tasks: int,
    num_servers: int,
    busy_server_seconds: float,
    end_s: float,
    invalid_actions: int = 0,
) -> EpisodeMetrics:
    """Summarise an episode from its per-task records."""
    n = len(records)
    if n:
        response = np.fromiter((r.finish_s - r.arrival_s for r in records), float, n)
        wait = np.fromiter((r.start_s - r.arrival_s for r in records), float, n)
        met = sum(1 for r in records if r.finish_s - r.arrival_s <= r.slo_s)
        p50, p95, p99 = np.percentile(response, [50, 95, 99]).tolist()
        makespan = max(end_s, max(r.finish_s for r in records))
        cold = sum(1 for r in records if r.cold_start)
        stats = dict(
            mean_response_s=float(response.mean()),
            p50_response_s=p50,
            p95_response_s=p95,
            p99_response_s=p99,
            mean_wait_s=float(wait.mean()),
            mean_service_s=float((response - wait).mean()),
            mean_quality=sum(r.quality for r in records) / n,
            mean_quality_normalized=sum(r.quality_normalized for r in records) / n,
            mean_steps=sum(r.steps for r in records) / n,
            mean_degree=sum(r.degree for r in records) / n,
            cold_starts=cold,
            cold_start_rate=cold / n,
            offloaded=sum(1 for r in records if r.transfer_s > 0),
        )
    else:
        nan = float("nan")
        met, makespan = 0, end_s
        stats = dict.fromkeys(
            (
                "mean_response_s p50_response_s p95_response_s p99_response_s mean_wait_s mean_service_s "
                "mean_quality mean_quality_normalized mean_steps mean_degree cold_start_rate"
            ).split(),
            nan,
        )
        stats.update(cold_starts=0, offloaded=0)
    return EpisodeMetrics(
        num_tasks=num_tasks,
        dispatched=n,
        completion_rate=n / num_tasks if num_tasks else 0.0,
        slo_attainment=met / num_tasks if num_tasks else 0.0,
        throughput_per_s=n / makespan if makespan > 0 else 0.0,
        utilisation=busy_server_seconds / (num_servers * makespan) if makespan > 0 else 0.0,
        invalid_actions=invalid_actions,
        makespan_s=makespan,
        **stats,
    )
