"""The four rules ``EAT-Paper-v0`` takes from the paper's simulator (``PaperRules``),
each pinned by a hand-built case, and proof that the other ids keep eat-bench's."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import eat_bench  # noqa: F401
from eat_bench.envs.single_agent import EatEdgeEnv
from eat_bench.scenarios import SCENARIOS, PaperRules, get_scenario
from eat_bench.sim.entities import WarmGroups
from eat_bench.sim.workload import FixedArrivals, StreamSpec

PAPER = get_scenario("EAT-Paper-v0")
RULES = PaperRules()


def q(s: float) -> float:
    """The paper's quality curve, written out."""
    return 0.0 if s < 5 else (0.16 * math.log(s) / math.log(6) - 0.02 if s <= 30 else 0.27)


def paper_env(times=(), initial=1, rules=RULES, **overrides) -> EatEdgeEnv:
    """EAT-Paper-v0 with ``initial`` tasks at 0 and later ones at ``times`` (eat-bench's clock)."""
    stream = StreamSpec(site=0, arrivals=FixedArrivals(tuple(times)), classes=(0,))
    workload = replace(PAPER.workload, streams=(stream,), num_tasks=initial + len(times), initial_queue=initial)
    return EatEdgeEnv(replace(PAPER, workload=workload, paper_rules=rules), **overrides)


def execute(env: EatEdgeEnv, slot: int, a1: float) -> np.ndarray:
    action = np.full(env.action_space.shape, -1.0, dtype=np.float32)
    action[0], action[1], action[2 + slot] = 1.0, a1, 1.0
    return action


def wait(env: EatEdgeEnv) -> np.ndarray:
    return np.full(env.action_space.shape, -1.0, dtype=np.float32)


def test_only_the_paper_id_turns_the_rules_on():
    assert PAPER.paper_rules == PaperRules()
    assert all(spec.paper_rules is None for name, spec in SCENARIOS.items() if name != "EAT-Paper-v0")
    with pytest.raises(ValueError, match="clock_start_s"):
        PaperRules(clock_start_s=-1.0)


def test_rule_1_the_step_count_is_not_rounded():
    env = paper_env(degrees=(1,))
    env.reset(seed=0)
    a1 = np.float32(0.6056)  # (a1 + 1) / 2 * 32 = 25.6896 steps
    _, reward, *_ = env.step(execute(env, 0, a1))
    record = env.sim.records[0]
    steps = (float(a1) + 1.0) / 2 * 32
    assert record.steps == steps and abs(steps - 25.6896) < 1e-5
    assert record.compute_s == pytest.approx(0.315 * steps, abs=1e-12)
    assert record.quality == pytest.approx(q(steps), abs=1e-12)
    # The rounded rule runs 26 steps.
    rounded = paper_env(rules=replace(PaperRules(), real_steps=False), degrees=(1,))
    rounded.reset(seed=0)
    rounded.step(execute(rounded, 0, a1))
    assert rounded.sim.records[0].steps == 26


def test_rule_2_the_reward_takes_w_after_the_task_left_the_queue():
    # Two tasks wait from 0 s; at 1 s (the paper's clock) the first is dispatched:
    # W after it left is the other task's wait, 1 s; with the task gone and none left, 0.
    env = paper_env(times=(), initial=2, degrees=(1,))
    env.reset(seed=0)
    _, reward, *_ = env.step(execute(env, 0, 1.0))  # 32 steps, cold: 24 + 0.315 * 32 s
    response = 1.0 + 24.0 + 0.315 * 32
    assert reward == pytest.approx(min(10, 250 / (1.0 + response)) + 10 * 0.27, abs=1e-12)
    _, reward, *_ = env.step(execute(env, 0, 1.0))
    assert reward == pytest.approx(min(10, 250 / (0.0 + response)) + 10 * 0.27, abs=1e-12)
    # eat-bench's rule: W of the queue before the task left (both tasks: 1 s).
    before = paper_env(times=(), initial=2, rules=replace(PaperRules(), wait_after_dispatch=False), degrees=(1,))
    before.reset(seed=0)
    before.step(execute(before, 0, 1.0))
    _, reward, *_ = before.step(execute(before, 0, 1.0))
    assert reward == pytest.approx(min(10, 250 / (1.0 + response)) + 10 * 0.27, abs=1e-12)


def test_rule_3_the_paper_clock():
    # One task waits at 0 s, one arrives during the tick that ends at 5.0 s (eat-bench's
    # clock). The paper's clock reads 1 s at reset; the later task is stamped 5.9 s.
    env = paper_env(times=(5.0,), initial=1, degrees=(1,))
    plain = paper_env(times=(5.0,), initial=1, rules=None, degrees=(1,))
    _, info = env.reset(seed=0)
    plain.reset(seed=0)
    assert info["time_s"] == 1.0 and env.sim.task_arrival == [0.0, pytest.approx(5.9)]
    assert plain.sim.now == 0.0 and plain.sim.task_arrival == [0.0, 5.0]
    for e in (env, plain):
        e.step(execute(e, 0, 1.0))
        while e.sim.num_arrived < 2:
            e.step(wait(e))
        e.step(execute(e, 0, 1.0))
        assert len(e.sim.records) == 2
    response = [r.response_s for r in env.sim.records]
    plain_response = [r.response_s for r in plain.sim.records]
    assert response[0] - plain_response[0] == pytest.approx(1.0, abs=1e-9)  # the initial queue: +1 s
    assert response[1] - plain_response[1] == pytest.approx(0.1, abs=1e-9)  # an arrival: +0.1 s


def test_rule_3_truncation_at_1024_s_of_the_paper_clock():
    env = paper_env(times=(2000.0,), initial=1, degrees=(1,))
    env.reset(seed=0)
    env.step(execute(env, 0, 1.0))
    ticks = 0
    while True:
        *_, terminated, truncated, info = env.step(wait(env))
        ticks += 1
        if terminated or truncated:
            break
    assert truncated and info["time_s"] == pytest.approx(1024.0)
    assert ticks == 10230  # 1023 s of eat-bench's clock


def test_rule_4_the_idle_warm_group_holding_the_lowest_server_id():
    for lowest_first, expected in ((False, (2, 3)), (True, (0, 1))):
        warm = WarmGroups(4, lowest_id_first=lowest_first)
        high = warm.occupy((2, 3), 0, 0)[1]
        low = warm.occupy((0, 1), 0, 0)[1]
        warm.release(high)  # {2, 3} becomes idle first
        warm.release(low)
        assert warm.members(warm.idle_group(0, 2, 0)) == expected


def test_rule_4_in_the_env():
    # Two degree-2 tasks run cold on {0, 1} (a shorter run) and {2, 3}; {0, 1} is idle
    # first, then both are; a third degree-2 task goes to {0, 1} under either rule, so
    # run the shorter one on {2, 3}: with idle-first eat-bench would pick {2, 3}.
    for rules, expected in ((PaperRules(), (0, 1)), (replace(PaperRules(), lowest_id_group=False), (2, 3))):
        env = paper_env(times=(60.0,), initial=2, rules=rules, degrees=(2,), num_servers=4)
        env.reset(seed=0)
        env.step(execute(env, 0, 1.0))  # {0, 1}: 24 + 0.15625 * 32 = 29 s
        env.step(execute(env, 0, -1.0 + 2 / 32))  # {2, 3}: 1 step, 24.15625 s: idle first
        while env.sim.num_arrived < 3:
            env.step(wait(env))
        env.step(execute(env, 0, 1.0))
        assert env.sim.records[2].servers == expected and not env.sim.records[2].cold_start
