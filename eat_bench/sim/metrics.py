"""Episode summary: latency percentiles, quality, SLO attainment, utilisation, cold starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eat_bench.sim.entities import TaskRecord

__all__ = ["EpisodeMetrics", "summarize", "percentile"]


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
        return dict(self.__dict__)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile of already sorted values, interpolated linearly between the
    closest ranks (numpy's default method), without numpy's per-call overhead."""
    position = (len(sorted_values) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    a, b = sorted_values[low], sorted_values[high]
    return a + (b - a) * fraction


def summarize(
    records: Sequence[TaskRecord],
    num_tasks: int,
    num_servers: int,
    busy_server_seconds: float,
    end_s: float,
    invalid_actions: int = 0,
) -> EpisodeMetrics:
    """Summarise an episode from its per-task records (one pass, then one sort)."""
    n = len(records)
    met = 0
    makespan = end_s
    if n:
        response = []
        wait_sum = quality_sum = quality_norm_sum = steps_sum = degree_sum = 0.0
        cold = offloaded = 0
        for r in records:
            latency = r.finish_s - r.arrival_s
            response.append(latency)
            wait_sum += r.start_s - r.arrival_s
            quality_sum += r.quality
            quality_norm_sum += r.quality_normalized
            steps_sum += r.steps
            degree_sum += r.degree
            if latency <= r.slo_s:
                met += 1
            if r.cold_start:
                cold += 1
            if r.transfer_s > 0:
                offloaded += 1
            if r.finish_s > makespan:
                makespan = r.finish_s
        mean_response = sum(response) / n
        response.sort()
        stats = dict(
            mean_response_s=mean_response,
            p50_response_s=percentile(response, 50),
            p95_response_s=percentile(response, 95),
            p99_response_s=percentile(response, 99),
            mean_wait_s=wait_sum / n,
            mean_service_s=mean_response - wait_sum / n,
            mean_quality=quality_sum / n,
            mean_quality_normalized=quality_norm_sum / n,
            mean_steps=steps_sum / n,
            mean_degree=degree_sum / n,
            cold_starts=cold,
            cold_start_rate=cold / n,
            offloaded=offloaded,
        )
    else:
        nan = float("nan")
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
        utilisation=busy_server_seconds / (num_servers * makespan) if makespan > 0 and num_servers > 0 else 0.0,
        invalid_actions=invalid_actions,
        makespan_s=makespan,
        **stats,
    )
