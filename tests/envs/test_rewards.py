"""Tests for eat_bench.rewards: each preset's formula, and episode-level identities."""

from __future__ import annotations

import numpy as np
import pytest

from eat_bench.envs.single_agent import EatEdgeEnv
from eat_bench.rewards import REWARD_PRESETS
from eat_bench.rewards import get_reward as get_reward_preset
from eat_bench.sim.entities import TaskRecord
from eat_bench.sim.quality import PaperQuality


def record(*, arrival=1.0, start=2.0, finish=5.0, slo=5.0, q=0.2, qn=0.5, steps=20) -> TaskRecord:
    return TaskRecord(
        task_id=0, site=0, model="sd14", width=512, height=512, arrival_s=arrival, slo_s=slo, start_s=start,
        finish_s=finish, steps=steps, degree=1, servers=(0,), cold_start=False, cold_start_s=0.0,
        compute_s=finish - start, transfer_s=0.0, quality=q, quality_normalized=qn,
    )  # fmt: skip


# record(): response 4 <= SLO 5 (met), service 3 -> service / SLO = 0.6
QUEUE = 0.2  # queue_slo_seconds accrued during the step


def test_presets_present_and_documented():
    assert set(REWARD_PRESETS) == {"paper", "balanced", "latency", "quality", "slo"}
    for name, preset in REWARD_PRESETS.items():
        assert preset.name == name and preset.formula
        assert get_reward_preset(name) is preset
    with pytest.raises(ValueError, match="unknown reward preset 'nope'"):
        get_reward_preset("nope")


def test_balanced():
    p = REWARD_PRESETS["balanced"]
    assert p(record(), False, QUEUE) == pytest.approx(0.5 + 1.0 - 0.2 - 0.6)
    missed = record(finish=6.5)  # response 5.5 > 5; service 4.5
    assert p(missed, False, QUEUE) == pytest.approx(0.5 + 0.0 - 0.2 - 4.5 / 5)
    assert p(None, False, QUEUE) == pytest.approx(-0.2)
    assert p(None, True, QUEUE) == pytest.approx(-0.1 - 0.2)
    assert p.with_penalty(-2.0)(None, True, 0.0) == -2.0  # the penalty is bound once, at make
    assert p(None, False, 0.0) == 0.0


def test_latency():
    p = REWARD_PRESETS["latency"]
    assert p(record(), False, QUEUE) == pytest.approx(-0.2 - 0.6)
    assert p(record(slo=10.0), False, 0.0) == pytest.approx(-0.3)
    assert p(None, True, 0.5) == pytest.approx(-0.1 - 0.5)


def test_quality():
    p = REWARD_PRESETS["quality"]
    assert p(record(), False, QUEUE) == pytest.approx(0.5 - 0.1 * 0.2 - 0.1 * 0.6)
    assert p(None, False, QUEUE) == pytest.approx(-0.02)
    assert p(None, True, 0.0) == pytest.approx(-0.1)


def test_slo():
    p = REWARD_PRESETS["slo"]
    assert p(record(), False, QUEUE) == pytest.approx(1.0 - 0.1 * 0.2)
    assert p(record(finish=6.5), False, QUEUE) == pytest.approx(-0.1 * 0.2)
    assert p(record(finish=6.0), False, 0.0) == 1.0  # response == SLO counts as met
    assert p(None, True, 0.0) == pytest.approx(-0.1)


@pytest.mark.parametrize("steps", [5, 10, 20, 30, 31, 32])
@pytest.mark.parametrize("visible_wait, response", [(3.0, 12.0), (0.0, 10.0), (0.0, 1.0), (40.0, 60.0)])
def test_paper_formula(steps, visible_wait, response):
    """min(10, 250 / (W + response)) + 10 * q(steps), q the paper's raw quality curve."""
    quality = PaperQuality()
    q = quality.quality("sd14", steps)
    rec = record(arrival=0.0, start=1.0, finish=response, q=q, qn=quality.normalized("sd14", steps), steps=steps)
    p = REWARD_PRESETS["paper"]
    expected = min(10.0, 250.0 / (1.0 * visible_wait + response)) + 10.0 * q
    assert p(rec, False, 123.0, visible_wait) == pytest.approx(expected, rel=1e-12)


def test_paper_no_dispatch_and_invalid():
    p = REWARD_PRESETS["paper"]
    assert p(None, False, 5.0, 2.0) == 0.0  # queueing is free under the paper's reward
    assert p(None, True, 5.0, 2.0) == 0.0  # and so is an infeasible decision
    assert p.with_penalty(-1.0)(None, True, 5.0, 2.0) == -1.0


def test_paper_time_term_is_capped():
    rec = record(arrival=0.0, start=0.0, finish=1.0, q=0.0, qn=0.0, steps=1)
    assert REWARD_PRESETS["paper"](rec, False, 0.0, 0.0) == 10.0


def test_paper_reward_in_env_matches_formula():
    env = EatEdgeEnv("EAT-Paper-v0", num_tasks=12, action_mode="discrete")
    env.reset(seed=2)
    sim = env.sim
    checked = 0
    levels = env.spec_scenario.step_levels
    for i in range(5000):
        mask = env.action_masks()
        slots = np.flatnonzero(mask[1 : env.action_space.nvec[0]])
        if len(slots):
            level = i % len(levels)
            _, reward, te, tr, info = env.step(np.array([1 + slots[0], 0, level]))
            w = env.visible_queue_wait()  # EAT-Paper-v0: W once the task has left the queue
            rec = sim.records[-1]
            assert rec.steps == levels[level]
            expected = min(10.0, 250.0 / (w + rec.response_s)) + 10.0 * PaperQuality().quality("sd14", rec.steps)
            assert reward == pytest.approx(expected, rel=1e-9)
            checked += 1
        else:
            _, reward, te, tr, info = env.step(np.array([0, 0, 0]))
            assert reward == 0.0
        if te or tr:
            break
    assert te and checked == 12


def _drive(env: EatEdgeEnv, seed: int, p_wait: float = 0.3, p_invalid: float = 0.0):
    """Random masked-valid dispatches and waits; returns (return, invalid count, terminated)."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    nvec = env.action_space.nvec
    total, invalid = 0.0, 0
    for _ in range(50_000):
        mask = env.action_masks()
        slots = np.flatnonzero(mask[1 : nvec[0]])
        degrees = np.flatnonzero(mask[nvec[0] : nvec[0] + nvec[1]])
        u = rng.random()
        if u < p_invalid:
            act = np.array([nvec[0] - 1, 0, 0])  # the last slot: usually empty
        elif len(slots) and u >= p_invalid + p_wait:
            act = np.array([1 + rng.choice(slots), rng.choice(degrees), rng.integers(nvec[2])])
        else:
            act = np.array([0, 0, 0])
        _, reward, te, tr, info = env.step(act)
        total += reward
        invalid += info["invalid_action"]
        if te or tr:
            return total, invalid, te
    raise AssertionError("episode did not end")


@pytest.mark.parametrize(
    "sid, kw",
    [
        ("EAT-Edge-v0", dict(num_tasks=20)),
        ("EAT-Edge-Shift-v0", dict(num_tasks=20)),
        ("EAT-Paper-v0", dict(num_tasks=12)),
        ("EAT-Edge-Burst-v0", dict(num_tasks=20, arrival_rate=5.0)),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_latency_return_is_minus_sum_response_over_slo(sid, kw, seed):
    env = EatEdgeEnv(sid, reward="latency", action_mode="discrete", **kw)
    total, invalid, terminated = _drive(env, seed)
    assert terminated and invalid == 0
    records = env.sim.records
    assert len(records) == kw["num_tasks"]
    # Queueing is charged from when a task joins the queue; under the paper's clock
    # (EAT-Paper-v0) that is after its stamp (1 s for the initial queue, a tick later).
    join = env.sim.task_join_s
    expected = -sum((r.finish_s - join[r.task_id]) / r.slo_s for r in records)
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_latency_return_with_invalid_actions_adds_penalties():
    env = EatEdgeEnv("EAT-Edge-v0", reward="latency", action_mode="discrete", num_tasks=20)
    total, invalid, terminated = _drive(env, 3, p_invalid=0.2)
    assert terminated and invalid > 0
    expected = -sum(r.response_s / r.slo_s for r in env.sim.records) - 0.1 * invalid
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_balanced_return_identity():
    env = EatEdgeEnv("EAT-Edge-v0", reward="balanced", action_mode="discrete", num_tasks=20)
    total, invalid, terminated = _drive(env, 4)
    assert terminated and invalid == 0
    recs = env.sim.records
    expected = sum(r.quality_normalized + (r.response_s <= r.slo_s) - r.response_s / r.slo_s for r in recs)
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9)
