"""The live emulated cluster: 2 workers run real tiny-model steps; faults end in a failed task, not a hang."""

from __future__ import annotations

import csv
import math
import os
import signal

import pytest

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from eat_bench.profiling import ProfileError  # noqa: E402
from eat_bench.profiling.live import REPORT_COLUMNS, LiveSpec, run_live  # noqa: E402
from eat_bench.profiling.recorder import RecordSpec, profile_to_csv  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "cpu.csv"
    spec = RecordSpec(
        models=("tiny",), resolutions=((64, 64),), steps=3, repeats=2, warmup=1, load_repeats=1, threads=1
    )
    profile_to_csv(spec, path, progress=False)
    return str(path)


def test_two_workers_complete_every_task_and_report_errors(trace, tmp_path):
    spec = LiveSpec(trace=trace, servers=2, tasks=6, agent="greedy", seed=0, step_levels=(2, 4))
    result = run_live(spec, out_dir=tmp_path)
    rows = [o.row for o in result.tasks]
    assert [r["task_id"] for r in rows] == list(range(6))  # none lost
    assert all(r["status"] == "ok" for r in rows)
    assert {r["server"] for r in rows} == {0, 1}
    for r in rows:
        assert r["measured_response_s"] > 0 and r["predicted_response_s"] > 0
        assert r["measured_steps_s"] > 0 and r["steps"] in (2, 4)
        assert r["ape"] == pytest.approx(
            abs(r["predicted_response_s"] - r["measured_response_s"]) / r["measured_response_s"]
        )
    # Each worker's first task is a real model load, as the simulator predicts.
    assert sum(r["measured_cold"] for r in rows) == sum(r["predicted_cold"] for r in rows) == 2
    s = result.summary
    assert (s["completed"], s["failed"]) == (6, 0)
    assert math.isfinite(s["mape_pct"]) and math.isfinite(s["p95_ape_pct"]) and s["p95_ape_pct"] >= 0
    assert s["mape_pct"] == pytest.approx(100 * sum(r["ape"] for r in rows) / 6)
    with open(tmp_path / "live_report.csv", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert len(report) == 6 and list(report[0]) == list(REPORT_COLUMNS)
    with open(tmp_path / "live_summary.csv", newline="") as fh:
        summary = next(csv.DictReader(fh))
    assert float(summary["mape_pct"]) == pytest.approx(s["mape_pct"], rel=1e-4)
    assert (tmp_path / "live_fidelity.png").stat().st_size > 1000


def test_killed_worker_fails_its_task_and_the_run_ends(trace):
    killed = []

    def kill_second(task_id, pid):
        if len(killed) == 0 and task_id >= 1:
            os.kill(pid, signal.SIGKILL)
            killed.append(task_id)

    spec = LiveSpec(trace=trace, servers=2, tasks=5, agent="fcfs", seed=1, step_levels=(2,), task_timeout_s=30)
    result = run_live(spec, on_dispatch=kill_second)
    rows = {o.row["task_id"]: o.row for o in result.tasks}
    assert sorted(rows) == list(range(5))  # every task reported
    assert rows[killed[0]]["status"] == "failed"
    assert "worker died" in rows[killed[0]]["error"]
    # The other worker keeps serving: the rest complete.
    assert [t for t, r in rows.items() if r["status"] == "failed"] == killed
    assert result.summary["failed"] == 1 and result.summary["completed"] == 4


def test_bad_live_input_is_a_clear_error(trace):
    with pytest.raises(ProfileError, match="--servers must be an integer >= 1"):
        run_live(LiveSpec(trace=trace, servers=0))
    with pytest.raises(ProfileError, match="--trace: unknown trace"):
        run_live(LiveSpec(trace="no-such-trace.csv"))
    with pytest.raises(ProfileError, match="--agent: unknown agent 'smart'"):
        run_live(LiveSpec(trace=trace, agent="smart"))
