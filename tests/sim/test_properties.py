"""Property tests: the Simulator driven by random decisions keeps its invariants."""

from __future__ import annotations

import functools
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eat_bench.scenarios import get_scenario
from eat_bench.sim.engine import TICK_SLACK, Simulator
from eat_bench.sim.entities import TaskRecord

CONFIGS = {
    # event-driven, agent degrees, two sites, transfer
    "edge": dict(scenario="EAT-Edge-v0", num_tasks=15, num_servers=6, degrees=(1, 2)),
    # tick mode, task-fixed degrees, single site (the paper)
    "paper": dict(scenario="EAT-Paper-v0", num_tasks=12, num_servers=4, degrees=(1, 2, 4)),
    # three sites with asymmetric links, agent degrees up to 4
    "shift": dict(scenario="EAT-Edge-Shift-v0", num_tasks=15, degrees=(1, 2, 4)),
}


@functools.cache
def config(name: str):
    kw = dict(CONFIGS[name])
    spec = get_scenario(kw.pop("scenario")).with_overrides(**kw)
    return spec.sim_config()


def make(name: str, seed: int) -> Simulator:
    sim = Simulator(config(name))
    sim.reset(seed)
    return sim


decision = st.one_of(
    st.just(None),
    st.tuples(st.integers(-1, 11), st.sampled_from([0, 1, 2, 3, 4, 8]), st.integers(0, 60)),
)


def check_invariants(sim: Simulator, last_now: float) -> None:
    n = len(sim.task_arrival)
    # Time never runs backwards.
    assert sim.now >= last_now
    # Every task is exactly one of: queued, dispatched once, not yet arrived.
    queued = sim.queue
    assert len(queued) == len(set(queued))
    dispatched = [r.task_id for r in sim.records]
    assert len(dispatched) == len(set(dispatched))
    arrived = set(range(sim._next_arrival))
    assert set(queued) | set(dispatched) == arrived
    assert not set(queued) & set(dispatched)
    for t in range(sim._next_arrival, n):
        assert sim.task_join_s[t] > sim.now  # not yet arrived: strictly in the future
    for t in queued:
        assert sim.task_arrival[t] <= sim.task_join_s[t] <= sim.now
    # Queue order is arrival order.
    assert [sim.task_arrival[t] for t in queued] == sorted(sim.task_arrival[t] for t in queued)
    # No server is double-booked: busy intervals on one server never overlap.
    per_server: dict[int, list[tuple[float, float]]] = {}
    for r in sim.records:
        assert isinstance(r, TaskRecord)
        assert r.start_s >= r.arrival_s
        assert len(set(r.servers)) == len(r.servers) == r.degree
        assert len({sim.config.servers[s].site for s in r.servers}) == 1  # gangs never span sites
        end = r.start_s + r.cold_start_s + r.compute_s
        assert end > r.start_s
        assert math.isclose(r.finish_s, end + r.transfer_s, rel_tol=0, abs_tol=1e-9)
        for s in r.servers:
            per_server.setdefault(s, []).append((r.start_s, end))
    # In tick mode a gang ending a rounding error past a tick is done at that tick.
    interval = sim.config.decision_interval_s
    slack = TICK_SLACK * interval if interval else 0.0
    for s, spans in per_server.items():
        spans.sort()
        for (_, e1), (s2, _) in zip(spans, spans[1:]):
            assert s2 >= e1 - slack, f"server {s} double-booked"
    # busy_until is the end of a busy server's gang, and at most now for a free one
    # (the time it was freed); free flags and counts agree.
    for s in range(sim.num_servers):
        last_end = max((e for _, e in per_server.get(s, [])), default=0.0)
        if sim.busy_until[s] > sim.now:
            assert sim.busy_until[s] == last_end
        else:
            assert last_end <= sim.now + slack
    site_of = [spec.site for spec in sim.config.servers]
    for site in range(sim.config.num_sites):
        free_now = sum(1 for s in range(sim.num_servers) if site_of[s] == site and sim.busy_until[s] <= sim.now)
        assert sim.free_count[site] == free_now
    # Busy server-seconds equal the sum over gangs.
    busy = sum((r.cold_start_s + r.compute_s) * r.degree for r in sim.records)
    assert math.isclose(sim.busy_server_seconds, busy, rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CONFIGS)),
    seed=st.integers(0, 2**32 - 1),
    decisions=st.lists(decision, min_size=1, max_size=120),
)
def test_random_decisions_keep_invariants(name, seed, decisions):
    sim = make(name, seed)
    check_invariants(sim, 0.0)
    for d in decisions:
        last = sim.now
        if d is None:
            sim.wait()
        else:
            before_now = sim.now
            result = sim.dispatch(*d)
            assert sim.now == before_now  # a dispatch never moves the clock
            if isinstance(result, str):
                assert result  # a reason
            else:
                assert result.start_s == sim.now
                assert (0 if sim.config.real_steps else 1) <= result.steps <= sim.config.max_steps
                assert result.degree in sim.config.degrees
        check_invariants(sim, last)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(CONFIGS)), seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 50))
def test_greedy_slot_zero_policy_terminates(name, seed, steps):
    sim = make(name, seed)
    n = len(sim.task_arrival)
    for _ in range(20_000):
        if sim.done:
            break
        last = sim.now
        if sim.can_decide():
            result = sim.dispatch(0, sim.config.degrees[0], min(steps, sim.config.max_steps))
            if isinstance(result, str):
                sim.wait()
        else:
            sim.wait()
        assert sim.now >= last
    assert sim.done
    assert not sim.queue and sim.all_arrived
    assert sorted(r.task_id for r in sim.records) == list(range(n))
    assert sim.free_count == sim.site_sizes
    assert (sim.busy_until <= sim.now).all()
    check_invariants(sim, 0.0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), decisions=st.lists(decision, max_size=60))
def test_same_seed_same_decisions_same_trajectory(seed, decisions):
    a, b = make("edge", seed), make("edge", seed)
    for d in decisions:
        ra = a.wait() if d is None else a.dispatch(*d)
        rb = b.wait() if d is None else b.dispatch(*d)
        assert ra == rb
        assert a.now == b.now and a.queue == b.queue and a.events == b.events
    assert a.records == b.records
    assert a.queue_slo_seconds == b.queue_slo_seconds
