"""Tests for eat_bench.sim.engine: hand-computed dispatches, placement, clocks, accrual.

Every scenario here runs on a tiny cluster with a custom trace whose numbers are exact
binary fractions, so service times can be compared with ``==``.

Cluster (edge placement, fastest first):  site 0 = servers 0 (A100), 1 (A100), 2 (T4);
site 1 = servers 3 (A100), 4 (T4). Links: 0.5 s latency, 30,000 bytes/s, so a 100x100
image (30,000 raw bytes) costs 0.5 + 1.0 = 1.5 s to cross sites.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from eat_bench.scenarios import get_scenario
from eat_bench.sim.engine import RAW_IMAGE_BYTES_PER_PIXEL, SimConfig, Simulator
from eat_bench.sim.entities import ServerSpec, TaskRecord
from eat_bench.sim.profiles import ProfileRow, load_trace, write_trace
from eat_bench.sim.quality import get_quality_model
from eat_bench.sim.workload import FixedArrivals, RequestClass, StreamSpec

# (gpu, model, degree) -> (step_s, overhead_s, load_s)
PROFILE = {
    ("A100", "m1", 1): (0.5, 1.0, 8.0),
    ("A100", "m1", 2): (0.25, 1.5, 9.0),
    ("T4", "m1", 1): (2.0, 0.5, 16.0),
    ("T4", "m1", 2): (1.0, 0.25, 18.0),
    ("A100", "m2", 1): (0.75, 0.0, 4.0),
    ("A100", "m2", 2): (0.5, 0.5, 5.0),
    ("T4", "m2", 1): (3.0, 1.0, 6.0),
    ("T4", "m2", 2): (1.5, 2.0, 7.0),
}
SIZE = 100
TRANSFER = 0.5 + SIZE * SIZE * 3 / 30000.0  # = 1.5


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory):
    path = Path(tmp_path_factory.mktemp("trace")) / "tiny.csv"
    rows = [
        ProfileRow(gpu, model, SIZE, SIZE, k, step, over, load, "measured", "test")
        for (gpu, model, k), (step, over, load) in PROFILE.items()
    ]
    write_trace(path, rows)
    return load_trace(path)


CLASSES = (
    RequestClass("m1", SIZE, SIZE, slo_s=5.0),
    RequestClass("m2", SIZE, SIZE, slo_s=10.0),
    RequestClass("m1", SIZE, SIZE, slo_s=10.0),
)


def make_sim(
    trace,
    tasks: list[tuple[float, int, int]],
    *,
    sites: tuple[tuple[str, ...], ...] = (("A100", "A100", "T4"), ("A100", "T4")),
    degree_mode: str = "agent",
    placement: str = "edge",
    decision_interval_s: float | None = None,
    time_limit_s: float = 1000.0,
) -> Simulator:
    """A simulator whose tasks are ``(arrival, class, site)`` in arrival order."""
    servers = tuple(
        ServerSpec(i, s, gpu) for i, (s, gpu) in enumerate((s, g) for s, gs in enumerate(sites) for g in gs)
    )
    streams = []
    for site in range(len(sites)):
        for c in range(len(CLASSES)):
            times = tuple(t for t, cc, ss in tasks if cc == c and ss == site)
            if times:
                streams.append(StreamSpec(site=site, arrivals=FixedArrivals(times), classes=(c,)))
    n = len(sites)
    config = SimConfig(
        servers=servers,
        num_sites=n,
        classes=CLASSES,
        streams=tuple(streams),
        num_tasks=len(tasks),
        initial_queue=0,
        degrees=(1, 2),
        degree_mode=degree_mode,
        trace=trace,
        quality=get_quality_model("paper"),
        link_latency_s=tuple(tuple(0.0 if i == j else 0.5 for j in range(n)) for i in range(n)),
        link_bandwidth_bps=tuple(tuple(math.inf if i == j else 30000.0 for j in range(n)) for i in range(n)),
        placement=placement,
        decision_interval_s=decision_interval_s,
        time_limit_s=time_limit_s,
        max_steps=50,
    )
    sim = Simulator(config)
    sim.reset(0)
    # The builder must reproduce the requested tasks exactly.
    assert sim.task_arrival == [t for t, _, _ in tasks]
    assert sim.task_class == [c for _, c, _ in tasks]
    assert sim.task_site == [s for _, _, s in tasks]
    return sim


def snapshot(sim: Simulator) -> dict:
    return dict(
        now=sim.now,
        queue=list(sim.queue),
        busy_until=sim.busy_until.copy().tolist(),
        warm_model=sim.warm_model.copy().tolist(),
        group_size=sim.group_size.copy().tolist(),
        free_count=list(sim.free_count),
        records=list(sim.records),
        events=list(sim.events),
        heap=sorted(sim._heap),
        group_of=list(sim.warm.group_of),
        queue_seconds=sim.queue_seconds,
        queue_slo_seconds=sim.queue_slo_seconds,
        busy=sim.busy_server_seconds,
        versions=(sim.queue_version, sim.server_version),
        next_arrival=sim._next_arrival,
    )


def compute(gpu_model_k: list[tuple[str, str, int]], steps: int) -> float:
    rows = [PROFILE[key] for key in gpu_model_k]
    return max(r[1] for r in rows) + steps * max(r[0] for r in rows)


# ----------------------------------------------------------------------------- service time
def test_cold_dispatch_then_warm_reuse(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (1.0, 0, 0)])
    assert sim.queue == [0]
    rec = sim.dispatch(0, 1, 10)
    assert isinstance(rec, TaskRecord)
    assert rec.servers == (0,)  # fastest free server at the origin site
    assert rec.cold_start is True
    assert rec.cold_start_s == 8.0
    assert rec.compute_s == 1.0 + 10 * 0.5 == 6.0
    assert rec.transfer_s == 0.0
    assert rec.start_s == 0.0 and rec.finish_s == 14.0
    assert sim.busy_until[0] == 14.0
    assert sim.warm_model[0] == 0 and sim.group_size[0] == 1
    sim.advance_to(14.0)
    assert sim.queue == [1]
    assert ("complete", 14.0, 0) in sim.events
    rec2 = sim.dispatch(0, 1, 20)
    assert rec2.servers == (0,)
    assert rec2.cold_start is False and rec2.cold_start_s == 0.0
    assert rec2.compute_s == 1.0 + 20 * 0.5
    assert rec2.start_s == 14.0 and rec2.finish_s == 14.0 + 11.0
    assert rec2.wait_s == 13.0 and rec2.response_s == 24.0


def test_service_estimate_matches_dispatch(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 1, 1)])
    est = sim.service_estimate(sim.queue[0], 2, 12)  # takes a task id, not a slot
    rec = sim.dispatch(0, 2, 12)
    assert est == rec.service_s == 9.0 + 1.5 + 12 * 0.25
    est1 = sim.service_estimate(sim.queue[0], 1, 7)
    rec1 = sim.dispatch(0, 1, 7)
    assert est1 == rec1.service_s == 4.0 + 0.0 + 7 * 0.75  # site 1's A100, cold for m2


def test_other_model_breaks_group_and_pays_its_load(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (1.0, 1, 0)])
    sim.dispatch(0, 1, 10)  # m1 on server 0, free at 14
    sim.advance_to(14.0)
    rec = sim.dispatch(0, 1, 4)
    assert rec.servers == (0,)  # no warm m2 group anywhere: fastest free server
    assert rec.cold_start is True
    assert rec.cold_start_s == 4.0  # A100 m2 load
    assert rec.compute_s == 0.0 + 4 * 0.75
    assert sim.warm_model[0] == 1  # now holds m2
    assert sim.busy_until[0] == 14.0 + 4.0 + 3.0


def test_different_server_set_breaks_groups_and_marks_stale(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (1.0, 0, 0)])
    rec = sim.dispatch(0, 2, 10)
    assert rec.servers == (0, 1)
    assert rec.cold_start_s == max(9.0, 9.0)
    free_at = 0.0 + 9.0 + 1.5 + 10 * 0.25
    assert sim.busy_until[0] == sim.busy_until[1] == free_at
    assert sim.group_size[0] == sim.group_size[1] == 2
    sim.advance_to(free_at)
    # Degree 1 of the same model: no idle group of size 1, so server 0 alone: cold.
    rec2 = sim.dispatch(0, 1, 10)
    assert rec2.servers == (0,)
    assert rec2.cold_start is True and rec2.cold_start_s == 8.0
    assert sim.warm_model[0] == 0 and sim.group_size[0] == 1
    assert sim.warm_model[1] == -1 and sim.group_size[1] == 0  # stale member of the broken pair
    assert sim.warm.group_of[1] == -1


def test_cold_load_is_max_over_group_and_heterogeneous_pace(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0)])
    first = sim.dispatch(0, 1, 10)
    assert first.servers == (0,)
    rec = sim.dispatch(0, 2, 10)  # the two fastest free at site 0: A100 #1 and T4 #2
    assert rec.servers == (1, 2)
    assert rec.cold_start_s == max(9.0, 18.0) == 18.0
    # Slowest GPU's step (T4: 1.0) sets the pace; overhead is the max (A100: 1.5),
    # taken separately, not max(overhead + steps * step) = 10.25.
    assert rec.compute_s == 1.5 + 10 * 1.0 == compute([("A100", "m1", 2), ("T4", "m1", 2)], 10)
    assert rec.finish_s == 18.0 + 11.5
    assert sim.busy_until.tolist() == [14.0, 29.5, 29.5, 0.0, 0.0]


def test_cross_site_transfer(trace):
    sim = make_sim(trace, [(0.0, 0, 1), (0.0, 0, 1)])
    local = sim.dispatch(0, 2, 10)  # both site-1 servers
    assert local.servers == (3, 4)
    assert local.transfer_s == 0.0
    remote = sim.dispatch(0, 1, 10)  # site 1 full: site 0's fastest
    assert remote.servers == (0,)
    expected_transfer = 0.5 + SIZE * SIZE * RAW_IMAGE_BYTES_PER_PIXEL / 30000.0
    assert remote.transfer_s == expected_transfer == TRANSFER == 1.5
    assert remote.finish_s == 0.0 + 8.0 + 6.0 + 1.5
    # The servers are free when the compute ends; the transfer does not hold them.
    assert sim.busy_until[0] == 14.0
    assert remote.site == 1


def test_gang_occupies_exactly_k_servers_until_compute_end(trace):
    sim = make_sim(trace, [(0.0, 2, 0), (100.0, 0, 0)])
    before = list(sim.free_count)
    rec = sim.dispatch(0, 2, 8)
    end = rec.start_s + rec.cold_start_s + rec.compute_s
    assert end == 9.0 + 1.5 + 8 * 0.25
    assert len(rec.servers) == rec.degree == 2
    assert sim.free_count == [before[0] - 2, before[1]]
    busy = [s for s in range(5) if sim.busy_until[s] > sim.now]
    assert busy == list(rec.servers)
    assert all(sim.busy_until[s] == end for s in rec.servers)
    sim.advance_to(end - 1e-9)
    assert sim.free_count == [1, 2]
    sim.advance_to(end)
    assert sim.free_count == [3, 2]
    assert ("complete", end, 0) in sim.events
    assert sim.busy_server_seconds == 2 * end


# ----------------------------------------------------------------------------- placement
def test_origin_site_first(trace):
    sim = make_sim(trace, [(0.0, 0, 1)])
    rec = sim.dispatch(0, 1, 5)
    assert rec.servers == (3,)  # the A100 of site 1, not server 0
    assert rec.transfer_s == 0.0


def test_fastest_free_servers_first(trace):
    sim = make_sim(trace, [(0.0, 0, 0)] * 3)
    assert [sim.dispatch(0, 1, 5).servers for _ in range(3)] == [(0,), (1,), (2,)]


def test_paper_placement_is_by_index(trace):
    sites = (("T4", "A100", "A100"),)
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0)], sites=sites, placement="paper")
    assert sim.dispatch(0, 1, 5).servers == (0,)  # the T4: first by index
    sim2 = make_sim(trace, [(0.0, 0, 0)], sites=sites, placement="edge")
    assert sim2.dispatch(0, 1, 5).servers == (1,)  # fastest first


def test_idle_warm_group_beats_faster_free_servers(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0), (0.0, 0, 0), (50.0, 0, 0)])
    a = sim.dispatch(0, 1, 10)  # server 0
    b = sim.dispatch(0, 1, 10)  # server 1
    c = sim.dispatch(0, 1, 10)  # server 2 (T4)
    assert (a.servers, b.servers, c.servers) == ((0,), (1,), (2,))
    sim.advance_to(50.0)  # all idle and warm with m1, each a group of one
    rec = sim.dispatch(0, 1, 10)
    assert rec.cold_start is False
    assert rec.servers == (0,)  # first idle warm group released (server 0 freed first)
    sim3 = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0), (40.0, 1, 0), (60.0, 0, 0)], sites=(("A100", "T4"),))
    sim3.dispatch(0, 1, 10)  # server 0, m1, free at 14
    sim3.dispatch(0, 1, 5)  # server 1 (T4), m1, free at 16 + 0.5 + 10 = 26.5
    sim3.advance_to(40.0)
    sim3.dispatch(0, 1, 2)  # m2: no warm m2 group: fastest free = server 0; breaks its m1 group
    assert sim3.warm_model.tolist() == [1, 0]
    sim3.advance_to(60.0)
    rec = sim3.dispatch(0, 1, 10)  # m1: the T4's idle warm group wins over the faster A100
    assert rec.servers == (1,)
    assert rec.cold_start is False
    assert rec.compute_s == 0.5 + 10 * 2.0


def test_warm_group_at_origin_site_before_remote_warm_group(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 1), (50.0, 0, 1)])
    sim.dispatch(0, 1, 10)  # site 0 task -> server 0
    sim.dispatch(0, 1, 10)  # site 1 task -> server 3
    sim.advance_to(50.0)
    rec = sim.dispatch(0, 1, 10)
    assert rec.servers == (3,) and rec.cold_start is False and rec.transfer_s == 0.0


def test_remote_idle_warm_group_used_when_origin_has_none(trace):
    sim = make_sim(trace, [(0.0, 0, 1), (50.0, 0, 0)])
    sim.dispatch(0, 1, 10)  # server 3, warm m1 afterwards
    sim.advance_to(50.0)
    rec = sim.dispatch(0, 1, 10)
    assert rec.servers == (3,)
    assert rec.cold_start is False
    assert rec.transfer_s == TRANSFER
    assert rec.finish_s == 50.0 + 6.0 + 1.5


def test_task_degree_mode_ignores_requested_degree(trace):
    sim = make_sim(trace, [(0.0, 0, 0)], degree_mode="task")
    demanded = sim.task_degree[0]
    assert demanded in (1, 2)
    rec = sim.dispatch(0, 99, 5)
    assert isinstance(rec, TaskRecord)
    assert rec.degree == demanded == len(rec.servers)


# ----------------------------------------------------------------------------- infeasible
@pytest.mark.parametrize(
    "args, reason",
    [
        ((2, 1, 10), "empty slot"),
        ((-1, 1, 10), "empty slot"),
        ((0, 1, 0), "steps 0 outside 1..50"),
        ((0, 1, 51), "steps 51 outside 1..50"),
        ((0, 3, 10), "degree 3 not in (1, 2)"),
        ((0, 2, 10), "no 2 free servers"),
    ],
)
def test_infeasible_dispatch_changes_nothing(trace, args, reason):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0), (0.0, 0, 1)], sites=(("A100", "T4"), ("A100",)))
    sim.dispatch(1, 1, 10)  # site 0 keeps one free server, site 1 one
    assert sim.free_count == [1, 1]
    before = snapshot(sim)
    result = sim.dispatch(*args)
    assert isinstance(result, str)
    assert result == reason
    assert snapshot(sim) == before


def test_position_beyond_the_queue_is_empty(trace):
    """The core knows no scheduler window (the env's visible queue is tested with the env)."""
    sim = make_sim(trace, [(0.0, 0, 0)] * 3)
    before = snapshot(sim)
    assert sim.dispatch(3, 1, 10) == "empty slot"
    assert snapshot(sim) == before


def test_dispatch_by_task_id(trace):
    sim = make_sim(trace, [(0.0, 0, 0)] * 3)
    before = snapshot(sim)
    assert sim.dispatch_task(7, 1, 10) == "task 7 is not queued"
    assert snapshot(sim) == before
    record = sim.dispatch_task(2, 1, 10)  # not the oldest: any queued task by its id
    assert record.task_id == 2 and sim.queue == [0, 1]
    assert sim.dispatch_task(2, 1, 10) == "task 2 is not queued"  # already dispatched
    events = sim.take_events()
    assert [e[0] for e in events].count("dispatch") == 1 and sim.events == []
    assert sim.take_changed_servers() == set(record.servers) | set(range(sim.num_servers))
    assert sim.take_changed_servers() == set()


def test_settle_takes_the_callers_decision_rule(trace):
    """An env that sees only part of the queue passes its own "can someone decide?" rule."""
    sim = make_sim(trace, [(0.0, 0, 0), (5.0, 0, 0)], decision_interval_s=None)
    asked = []

    def nobody_can_decide() -> bool:
        asked.append(sim.now)
        return False

    sim.settle(nobody_can_decide)
    assert asked and sim.num_arrived == 2  # advanced through the arrival at 5 s
    assert sim.now == 5.0


def test_dispatch_restricted_to_site(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0)])
    rec = sim.dispatch(0, 1, 10, site=1)
    assert rec.servers == (3,) and rec.transfer_s == TRANSFER
    before = snapshot(sim)
    assert sim.dispatch(0, 2, 10, site=1) == "no 2 free servers at site 1"
    assert snapshot(sim) == before


# ----------------------------------------------------------------------------- clocks
def test_dispatch_does_not_advance_time(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 1, 0), (3.0, 0, 0)])
    sim.dispatch(0, 1, 10)
    sim.dispatch(0, 1, 10)
    assert sim.now == 0.0
    assert [r.start_s for r in sim.records] == [0.0, 0.0]


def test_event_mode_wait_jumps_to_next_arrival(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (3.0, 0, 0), (7.5, 0, 0)])
    sim.dispatch(0, 1, 10)  # busy until 14; 4 servers still free
    sim.wait()
    assert sim.now == 3.0
    assert sim.queue == [1]
    assert sim.events[-1] == ("arrival", 3.0, 1)
    sim.wait()  # a dispatch was possible, the agent waited: next event is the arrival at 7.5
    assert sim.now == 7.5
    assert sim.queue == [1, 2]


def test_event_mode_wait_skips_to_completion_when_nothing_fits(trace):
    sites = (("A100",),)
    sim = make_sim(trace, [(0.0, 0, 0), (2.0, 0, 0), (30.0, 0, 0)], sites=sites)
    sim.dispatch(0, 1, 10)  # busy until 14
    sim.wait()  # arrival at 2 cannot be served: settle on to the completion at 14
    assert sim.now == 14.0
    assert sim.queue == [1]
    assert [e[0] for e in sim.events[-2:]] == ["arrival", "complete"]
    assert sim.can_decide()


def test_event_mode_idle_wait_advances_idle_advance(trace):
    sim = make_sim(trace, [(0.0, 0, 0)])
    sim.dispatch(0, 1, 10)
    sim.advance_to(14.0)
    assert sim.done
    sim.wait()
    assert sim.now == 15.0  # idle_advance_s = 1


def test_tick_mode_advances_exactly_one_tick(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.25, 0, 0), (0.3, 0, 0)], decision_interval_s=0.1)
    for k in range(1, 6):
        sim.wait()
        assert sim.now == k * 0.1
    # The task arriving at 0.25 joined the queue at the 0.3 tick, not before.
    assert sim.queue == [0, 1, 2]


def test_tick_mode_arrival_joins_at_tick_boundary(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.25, 0, 0)], decision_interval_s=0.1)
    sim.wait()
    sim.wait()
    assert sim.now == 2 * 0.1 and sim.queue == [0]
    sim.wait()
    assert sim.now == 3 * 0.1 and sim.queue == [0, 1]
    assert sim.events[-1] == ("arrival", 0.25, 1)


def test_tick_mode_with_dispatch_keeps_ticking(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 0, 0)], decision_interval_s=0.1)
    sim.dispatch(0, 1, 10)
    assert sim.now == 0.0
    sim.wait()
    assert sim.now == 0.1
    sim.wait()
    assert sim.now == 2 * 0.1


def test_tick_mode_frees_servers_at_the_tick_their_work_ends():
    """A completion lands on the first tick at or after its finish time, even when float
    rounding puts the finish a hair past the boundary (2.2 + 30.2 = 32.400000000000006
    used to free the servers a tick late, at 32.5)."""
    spec = get_scenario("EAT-Paper-v0").with_overrides(num_tasks=60)
    sim = Simulator(spec.sim_config())
    sim.reset(1)
    steps = 1
    finish = {}
    completions = 0
    while not sim.done and sim.now < spec.time_limit_s:
        record = sim.dispatch(0, 0, steps)
        if type(record) is not str:
            finish[record.task_id] = record.finish_s
            steps = steps % 32 + 1
            continue
        sim.wait()
        tick = round(sim.now / 0.1)
        for kind, _, task in sim.events:
            if kind == "complete":
                assert tick == math.ceil(finish[task] / 0.1 - 1e-6), (task, finish[task], sim.now)
                completions += 1
        sim.events.clear()
    assert completions >= 20


def test_tick_mode_slotted_arrivals_land_on_ticks():
    spec = get_scenario("EAT-Paper-v0").with_overrides(num_tasks=20)
    sim = Simulator(spec.sim_config())
    sim.reset(3)
    seen = 0
    tick = 0
    while not sim.all_arrived:
        before = list(sim.queue)
        sim.wait()
        tick += 1
        assert sim.now == tick * 0.1 + 1.0  # the paper's clock starts at 1 s
        new = [t for t in sim.queue if t not in before]
        for t in new:
            # Arrived in (previous tick, this tick]: seen on this tick's boundary, stamped
            # at the tick's start (the paper's clock).
            assert sim.task_join_s[t] == sim.now
            assert sim.task_arrival[t] == pytest.approx(sim.now - 0.1, abs=1e-12)
        seen += len(new)
    assert seen == 20 - 10


def test_slotted_arrivals_in_paper_config_are_tick_multiples():
    spec = get_scenario("EAT-Paper-v0").with_overrides(num_tasks=40)
    sim = Simulator(spec.sim_config())
    sim.reset(7)
    arrivals = sim.requests.arrival_s  # eat-bench's clock, before the paper's offsets
    ticks = np.round(arrivals / 0.1)
    assert np.array_equal(ticks * 0.1, arrivals)
    assert (arrivals[:10] == 0).all() and (arrivals[10:] > 0).all()
    stamps = np.asarray(sim.task_arrival)  # the paper's clock: 1 s later, a tick earlier
    assert (stamps[:10] == 0).all() and np.allclose(stamps[10:], arrivals[10:] + 1.0 - 0.1, atol=1e-12)


def test_next_event_time(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (20.0, 0, 0)])
    assert sim.next_event_time() == 20.0
    sim.dispatch(0, 1, 10)
    assert sim.next_event_time() == 14.0
    sim.advance_to(14.0)
    assert sim.next_event_time() == 20.0
    sim.advance_to(20.0)
    assert sim.next_event_time() == math.inf


def test_done_and_truncated(trace):
    sim = make_sim(trace, [(0.0, 0, 0)], time_limit_s=10.0)
    assert not sim.done
    sim.dispatch(0, 1, 10)
    assert not sim.done  # still running
    sim.wait()  # event mode: settle stops at the time limit
    assert sim.now == 10.0
    assert sim.truncated and not sim.done
    sim.advance_to(14.0)
    assert sim.done


def test_completion_before_arrival_at_same_instant(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (14.0, 0, 0)], sites=(("A100",),))
    sim.dispatch(0, 1, 10)  # ends at 14, the arrival is at 14
    sim.advance_to(14.0)
    kinds = [e[0] for e in sim.events if e[1] == 14.0]
    assert kinds == ["complete", "arrival"]


# ----------------------------------------------------------------------------- accrual
def test_queue_seconds_accrual(trace):
    # Two tasks at 0 (SLO 5 and 10), one at 3 (SLO 5).
    sim = make_sim(trace, [(0.0, 0, 0), (0.0, 2, 0), (3.0, 0, 0)], sites=(("A100",),))
    sim.advance_to(4.0)
    assert sim.queue == [0, 1, 2]
    assert sim.queue_seconds == pytest.approx(2 * 3.0 + 3 * 1.0, abs=1e-12)
    assert sim.queue_slo_seconds == pytest.approx((1 / 5 + 1 / 10) * 3 + (1 / 5 + 1 / 10 + 1 / 5) * 1, abs=1e-12)
    rec = sim.dispatch(1, 1, 10)  # the SLO-10 task leaves at 4
    assert rec.task_id == 1
    sim.advance_to(6.0)
    assert sim.queue_seconds == pytest.approx(9.0 + 2 * 2.0, abs=1e-12)
    assert sim.queue_slo_seconds == pytest.approx(1.4 + (2 / 5) * 2.0, abs=1e-12)
    total_wait = sum(min(sim.now, r.start_s) - r.arrival_s for r in sim.records) + sum(
        sim.now - sim.task_arrival[t] for t in sim.queue
    )
    assert sim.queue_seconds == pytest.approx(total_wait, abs=1e-12)


def test_queue_accrual_equals_waits_at_episode_end(trace):
    tasks = [(0.0, 0, 0), (0.0, 1, 0), (1.0, 2, 1), (2.5, 0, 1), (2.75, 1, 0)]
    sim = make_sim(trace, tasks, sites=(("A100",), ("T4",)))
    while not sim.done:
        if sim.can_decide():
            sim.dispatch(0, 1, 5)
        else:
            sim.wait()
    assert len(sim.records) == 5
    waits = sum(r.wait_s for r in sim.records)
    slo_waits = sum(r.wait_s / r.slo_s for r in sim.records)
    assert sim.queue_seconds == pytest.approx(waits, rel=1e-12, abs=1e-12)
    assert sim.queue_slo_seconds == pytest.approx(slo_waits, rel=1e-12, abs=1e-12)


def test_reset_is_reproducible_and_clears_state():
    spec = get_scenario("EAT-Edge-v0").with_overrides(num_tasks=20)
    sim = Simulator(spec.sim_config())
    sim.reset(5)
    first = (list(sim.task_arrival), list(sim.task_class), list(sim.task_site))
    while sim.can_decide():
        sim.dispatch(0, 1, 10)
    sim.wait()
    sim.reset(5)
    assert (sim.task_arrival, sim.task_class, sim.task_site) == first
    assert sim.now == 0.0 and sim.records == [] and sim.queue_seconds == 0.0
    assert sim.busy_until.tolist() == [0.0] * 8 and sim.free_count == [4, 4]
    assert (sim.warm_model == -1).all() and (sim.group_size == 0).all()
    sim.reset(6)
    assert sim.task_arrival != first[0]


def test_deepcopy_simulator_is_independent(trace):
    sim = make_sim(trace, [(0.0, 0, 0), (1.0, 0, 0)])
    twin = copy.deepcopy(sim)
    sim.dispatch(0, 1, 10)
    assert twin.queue == [0] and twin.records == []
    assert twin.dispatch(0, 1, 10) == sim.records[0]


def test_reschedule_completion_holds_and_releases(trace):
    """An emulator holds a running task's completion until real work reports it."""
    sim = make_sim(trace, [(0.0, 0, 0)])
    record = sim.dispatch(0, 1, 10)
    sim.reschedule_completion(record.task_id, math.inf)
    sim.wait()
    assert not sim.done and sim.free_count[0] < 3  # held: the server stays busy
    sim.reschedule_completion(record.task_id, sim.now + 1.0)
    sim.wait()
    assert sim.done
    with pytest.raises(ValueError, match="no pending completion"):
        sim.reschedule_completion(record.task_id, 5.0)
