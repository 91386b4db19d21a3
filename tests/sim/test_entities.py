"""Tests for eat_bench.sim.entities: TaskRecord properties and the WarmGroups rules."""

from __future__ import annotations

import copy
import pickle

import pytest

from eat_bench.sim.entities import ServerSpec, TaskRecord, WarmGroups

M1, M2 = 0, 1


def record(**kw) -> TaskRecord:
    base = dict(
        task_id=0, site=0, model="m", width=512, height=512, arrival_s=1.0, slo_s=5.0, start_s=3.0,
        finish_s=6.0, steps=10, degree=1, servers=(0,), cold_start=False, cold_start_s=0.0,
        compute_s=3.0, transfer_s=0.0, quality=0.2, quality_normalized=0.5,
    )  # fmt: skip
    base.update(kw)
    return TaskRecord(**base)


def test_task_record_derived_times():
    r = record()
    assert r.wait_s == 2.0
    assert r.service_s == 3.0
    assert r.response_s == 5.0
    assert r.slo_met is True  # response == SLO counts as met
    assert record(finish_s=6.5).slo_met is False


def test_task_record_and_server_spec_are_frozen_and_picklable():
    r = record()
    with pytest.raises(AttributeError):
        r.finish_s = 1.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(r)) == r
    s = ServerSpec(3, 1, "A100")
    assert pickle.loads(pickle.dumps(s)) == s
    assert copy.deepcopy(s) == s


def test_first_dispatch_is_cold_and_forms_a_group():
    w = WarmGroups(4)
    warm, group, stale = w.occupy((0, 1), M1, 0)
    assert warm is False and stale == []
    assert w.members(group) == (0, 1)
    assert w.model(group) == M1
    assert w.group_of == [group, group, -1, -1]
    # Busy groups are not idle.
    assert w.idle_group(M1, 2, 0) == -1


def test_release_makes_group_idle_and_warm_reuse():
    w = WarmGroups(4)
    _, group, _ = w.occupy((0, 1), M1, 0)
    w.release(group)
    assert w.idle_group(M1, 2, 0) == group
    assert w.idle_group(M1, 1, 0) == -1  # other size
    assert w.idle_group(M2, 2, 0) == -1  # other model
    assert w.idle_group(M1, 2, 1) == -1  # other site
    assert w.is_warm((0, 1), M1)
    assert w.is_warm((1, 0), M1)  # order does not matter
    warm, again, stale = w.occupy((0, 1), M1, 0)
    assert warm is True and again == group and stale == []
    assert w.idle_group(M1, 2, 0) == -1  # busy again


def test_is_warm_requires_exact_group_and_model():
    w = WarmGroups(4)
    _, group, _ = w.occupy((0, 1), M1, 0)
    w.release(group)
    assert not w.is_warm((0,), M1)  # subset
    assert not w.is_warm((0, 1, 2), M1)  # superset
    assert not w.is_warm((0, 2), M1)
    assert not w.is_warm((0, 1), M2)  # other model
    assert not w.is_warm((2,), M1)  # never used


def test_subset_breaks_group_and_reports_stale_members():
    w = WarmGroups(4)
    _, old, _ = w.occupy((0, 1, 2), M1, 0)
    w.release(old)
    warm, new, stale = w.occupy((1,), M1, 0)
    assert warm is False
    assert new != old
    assert sorted(stale) == [0, 2]
    assert w.group_of == [-1, new, -1, -1]
    assert w.idle_group(M1, 3, 0) == -1  # the broken group is gone from the idle index
    with pytest.raises(KeyError):
        w.members(old)


def test_union_of_two_groups_breaks_both():
    w = WarmGroups(4)
    _, a, _ = w.occupy((0, 1), M1, 0)
    _, b, _ = w.occupy((2, 3), M1, 0)
    w.release(a)
    w.release(b)
    warm, new, stale = w.occupy((1, 2), M1, 0)
    assert warm is False
    assert sorted(stale) == [0, 3]
    assert w.group_of == [-1, new, new, -1]
    assert w.idle_group(M1, 2, 0) == -1


def test_same_servers_other_model_is_cold_without_stale():
    w = WarmGroups(2)
    _, a, _ = w.occupy((0, 1), M1, 0)
    w.release(a)
    warm, b, stale = w.occupy((0, 1), M2, 0)
    assert warm is False and stale == [] and b != a
    assert w.model(b) == M2
    w.release(b)
    assert w.idle_group(M2, 2, 0) == b
    assert w.idle_group(M1, 2, 0) == -1


def test_idle_groups_are_fifo():
    w = WarmGroups(3)
    groups = []
    for s in range(3):
        _, g, _ = w.occupy((s,), M1, 0)
        groups.append(g)
    for g in (groups[2], groups[0], groups[1]):
        w.release(g)
    assert w.idle_group(M1, 1, 0) == groups[2]
    w.occupy((2,), M1, 0)
    assert w.idle_group(M1, 1, 0) == groups[0]


def test_warm_groups_pickle_round_trip():
    w = WarmGroups(3)
    _, g, _ = w.occupy((0, 1), M1, 0)
    w.release(g)
    w2 = pickle.loads(pickle.dumps(w))
    assert w2.group_of == w.group_of
    assert w2.idle_group(M1, 2, 0) == g
    assert w2.is_warm((0, 1), M1)
