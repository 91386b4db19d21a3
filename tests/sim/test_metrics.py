"""Tests for eat_bench.sim.metrics.summarize."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eat_bench.sim.entities import TaskRecord
from eat_bench.sim.metrics import EpisodeMetrics, summarize


def rec(task_id, arrival, start, finish, slo=5.0, *, cold=False, transfer=0.0, steps=10, degree=1, q=0.2, qn=0.5):
    return TaskRecord(
        task_id=task_id, site=0, model="m", width=512, height=512, arrival_s=arrival, slo_s=slo,
        start_s=start, finish_s=finish, steps=steps, degree=degree, servers=tuple(range(degree)),
        cold_start=cold, cold_start_s=2.0 if cold else 0.0, compute_s=finish - start - transfer - (2.0 if cold else 0.0),
        transfer_s=transfer, quality=q, quality_normalized=qn,
    )  # fmt: skip


RECORDS = [
    rec(0, 0.0, 0.0, 1.0, steps=10, degree=1, q=0.1, qn=0.25),  # response 1
    rec(1, 0.0, 1.0, 2.0, steps=20, degree=2, cold=True, q=0.2, qn=0.5),  # response 2 (wait 1)
    rec(2, 1.0, 2.0, 4.0, steps=30, degree=1, transfer=0.5, q=0.3, qn=0.75),  # response 3 (wait 1)
    rec(3, 2.0, 3.0, 8.0, slo=5.0, steps=40, degree=4, cold=True, q=0.4, qn=1.0),  # response 6 > SLO 5
]


def test_hand_computed_summary():
    m = summarize(RECORDS, num_tasks=6, num_servers=4, busy_server_seconds=12.0, end_s=7.0, invalid_actions=3)
    assert isinstance(m, EpisodeMetrics)
    assert m.num_tasks == 6 and m.dispatched == 4
    assert m.completion_rate == 4 / 6
    assert m.mean_response_s == (1 + 2 + 3 + 6) / 4
    # numpy's linear interpolation on [1, 2, 3, 6]
    assert m.p50_response_s == pytest.approx(2.5)
    assert m.p95_response_s == pytest.approx(3 + 0.85 * 3)
    assert m.p99_response_s == pytest.approx(3 + 0.97 * 3)
    assert m.mean_wait_s == (0 + 1 + 1 + 1) / 4
    assert m.mean_service_s == pytest.approx((1 + 1 + 2 + 5) / 4)
    assert m.mean_quality == pytest.approx(0.25)
    assert m.mean_quality_normalized == pytest.approx(0.625)
    assert m.mean_steps == 25.0
    assert m.mean_degree == 2.0
    # Three of four dispatched meet the SLO; the two never dispatched count as misses.
    assert m.slo_attainment == 3 / 6
    # Makespan: the last finish (8) beats end_s (7).
    assert m.makespan_s == 8.0
    assert m.throughput_per_s == 4 / 8
    assert m.utilisation == 12.0 / (4 * 8.0)
    assert m.cold_starts == 2 and m.cold_start_rate == 0.5
    assert m.offloaded == 1
    assert m.invalid_actions == 3


def test_percentiles_match_numpy_on_random_records():
    rng = np.random.default_rng(0)
    arrival = np.sort(rng.uniform(0, 100, 101))
    response = rng.exponential(3.0, 101)
    records = [rec(i, float(a), float(a), float(a + r)) for i, (a, r) in enumerate(zip(arrival, response))]
    m = summarize(records, num_tasks=101, num_servers=2, busy_server_seconds=1.0, end_s=0.0)
    expected = np.percentile(arrival + response - arrival, [50, 95, 99])
    assert [m.p50_response_s, m.p95_response_s, m.p99_response_s] == pytest.approx(expected.tolist(), rel=1e-12)
    assert m.p50_response_s <= m.p95_response_s <= m.p99_response_s
    assert m.slo_attainment == pytest.approx(np.mean(arrival + response - arrival <= 5.0))


def test_end_time_sets_makespan_when_later():
    m = summarize(RECORDS, num_tasks=4, num_servers=2, busy_server_seconds=10.0, end_s=20.0)
    assert m.makespan_s == 20.0
    assert m.utilisation == 10.0 / 40.0
    assert m.throughput_per_s == 4 / 20.0
    assert m.completion_rate == 1.0
    assert m.slo_attainment == 0.75


def test_no_dispatches():
    m = summarize([], num_tasks=5, num_servers=3, busy_server_seconds=0.0, end_s=10.0, invalid_actions=2)
    assert m.dispatched == 0 and m.completion_rate == 0.0
    assert m.slo_attainment == 0.0
    assert m.throughput_per_s == 0.0 and m.utilisation == 0.0
    assert m.cold_starts == 0 and m.offloaded == 0
    assert math.isnan(m.mean_response_s) and math.isnan(m.p99_response_s) and math.isnan(m.cold_start_rate)
    assert m.makespan_s == 10.0 and m.invalid_actions == 2


def test_zero_length_episode():
    m = summarize([], num_tasks=0, num_servers=3, busy_server_seconds=0.0, end_s=0.0)
    assert m.completion_rate == 0.0 and m.slo_attainment == 0.0 and m.throughput_per_s == 0.0


def test_no_servers_means_no_utilisation():
    """Metrics of a subset with no servers of its own (a site that only offloads)."""
    m = summarize(RECORDS, num_tasks=4, num_servers=0, busy_server_seconds=0.0, end_s=20.0)
    assert m.utilisation == 0.0 and m.dispatched == 4


def test_as_dict_has_every_field():
    m = summarize(RECORDS, num_tasks=4, num_servers=2, busy_server_seconds=10.0, end_s=0.0)
    d = m.as_dict()
    assert d["dispatched"] == 4 and d["slo_attainment"] == 0.75
    assert set(d) == set(EpisodeMetrics.__dataclass_fields__)
