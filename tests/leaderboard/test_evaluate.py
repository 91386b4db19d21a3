"""``evaluate_submission``: results.json and the logs of a quick run, refusal to overwrite,
a failing submission recorded (not raised), and lockstep (act_batch) evaluation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import eat_bench
from eat_bench.baselines.evaluation import spec_fingerprint, trace_checksum
from eat_bench.leaderboard.evalset import SINGLE_AGENT
from eat_bench.leaderboard.evaluate import (
    RESULTS_SCHEMA,
    EvaluationError,
    evaluate_submission,
    log_path,
    submission_digest,
)
from eat_bench.leaderboard.sandbox import FAILURE_REASONS, Limits
from eat_bench.leaderboard.submission import load_submission
from eat_bench.leaderboard.verify import verify

FIXTURES = Path(__file__).parent / "fixtures"
QUICK = SINGLE_AGENT.quick()


def _read(root: Path) -> dict:
    return json.loads((root / "results.json").read_text(encoding="utf-8"))


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_results_header(quick_results, scaffold):
    """Schema, the submission as validated (plus the digest of its files), the set, the
    package version; a quick run is unofficial; complete, no failure; isolation and limits
    recorded."""
    results = _read(quick_results)
    assert results["schema"] == RESULTS_SCHEMA == "eat-bench/results/1"
    assert results["submission"] == {**load_submission(scaffold).to_dict(), "sha256": submission_digest(scaffold)}
    assert results["submission"]["name"] == "scaffold"
    assert results["evaluation_set"] == {"track": "single-agent", "version": SINGLE_AGENT.version}
    assert results["official"] is False
    assert results["complete"] is True
    assert results["failure"] is None
    assert results["package_version"] == eat_bench.__version__
    assert results["isolation"]["kind"] in ("bwrap", "unshare", "none")
    assert isinstance(results["isolation"]["detail"], str) and results["isolation"]["detail"]
    assert results["limits"] == dataclasses.asdict(Limits())
    assert results["started"] <= results["finished"]
    assert results["wall_time_s"] > 0


def test_results_scenarios(quick_results):
    """Each scenario's env id, identity (spec fingerprint, trace checksum), modes, held-out
    flag and the quick seeds."""
    scenarios = _read(quick_results)["scenarios"]
    assert list(scenarios) == [s.key for s in QUICK.scenarios]
    modes = {"obs_mode": "flat", "action_mode": "discrete", "info_mode": "scheduler"}
    for scenario in QUICK.scenarios:
        info = scenarios[scenario.key]
        spec = scenario.scenario_spec()
        env = scenario.make_env(modes)
        try:
            built = env.unwrapped.spec_scenario
        finally:
            env.close()
        assert info == {
            "env_id": scenario.key,
            "spec_fingerprint": spec_fingerprint(built),
            "trace_checksum": trace_checksum(spec),
            "env_kwargs": modes,
            "held_out": scenario.held_out,
            "seeds": list(scenario.seeds),
        }


def test_results_episodes_and_logs(quick_results):
    """12 episodes (6 scenarios x 2 seeds) in evaluation order; each log exists at
    logs/<scenario>/<seed>.npz, matches its sha256 and holds one action per env step and
    one response time per dispatched task; no temporary file is left behind."""
    episodes = _read(quick_results)["episodes"]
    assert len(episodes) == 12
    assert [(e["scenario"], e["seed"]) for e in episodes] == QUICK.episodes()
    for episode in episodes:
        assert episode["status"] == "ok"
        assert (
            episode["log"]
            == log_path(episode["scenario"], episode["seed"])
            == f"logs/{episode['scenario']}/{episode['seed']}.npz"
        )
        path = quick_results / episode["log"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == episode["log_sha256"]
        with np.load(path, allow_pickle=False) as npz:
            assert sorted(npz.files) == ["actions", "response_times"]
            assert npz["actions"].shape == (episode["env_steps"], 3)
            assert npz["actions"].dtype == np.int64
            assert len(npz["response_times"]) == episode["metrics"]["dispatched"]
            assert np.all(npz["response_times"] > 0)
        assert episode["metrics"]["num_tasks"] > 0
        assert 0.0 < episode["metrics"]["completion_rate"] <= 1.0
        assert episode["episode_return"] != 0.0
        assert episode["truncated"] is False
    assert not [p for p in quick_results.rglob("*") if p.name.endswith(".tmp")]
    assert sorted(p.relative_to(quick_results).as_posix() for p in quick_results.rglob("*.npz")) == sorted(
        e["log"] for e in episodes
    )


def test_refuses_to_overwrite(results_copy, scaffold):
    """An existing results.json is not replaced without overwrite=True, and nothing in the
    folder changes."""
    before = _files(results_copy.root)
    with pytest.raises(EvaluationError, match="results.json exists"):
        evaluate_submission(scaffold, results_copy.root, quick=True)
    assert _files(results_copy.root) == before


def test_failing_submission_is_recorded(tmp_path):
    """An agent that crashes in act: results.json says complete false with the reason and
    where; no exception escapes; verify rejects it."""
    out = tmp_path / "crash"
    results = evaluate_submission(
        FIXTURES / "hostile" / "crash_in_act", out, quick=True, limits=Limits(startup_s=60.0, decision_s=10.0)
    )
    assert results == _read(out)
    assert results["complete"] is False
    assert results["episodes"] == []
    failure = results["failure"]
    assert failure["reason"] == "crash" and failure["reason"] in FAILURE_REASONS
    assert "agent exploded on purpose" in failure["detail"]
    assert (failure["scenario"], failure["episodes_done"]) == ("EAT-Edge-v0", 0)
    from datetime import datetime

    assert datetime.fromisoformat(results["finished"]) >= datetime.fromisoformat(results["started"])
    report = verify(out)
    assert not report.ok
    assert any("the evaluation failed (crash" in p for p in report.problems)
    assert any("partial" in p for p in report.problems)


_BATCHED = '''

class Batched(OldestFirst):
    """The same stateless policy, with act_batch: evaluated in lockstep."""

    def act_batch(self, observations, infos):
        assert len(observations) == len(infos) >= 1
        return [self.act(o, i) for o, i in zip(observations, infos)]


def make_agent(observation_space, action_space, env_id):
    return Batched(observation_space, action_space, env_id)
'''


def test_lockstep_equals_one_by_one(tmp_path, scaffold, quick_results):
    """An agent with act_batch plays all seeds of a scenario at once; its results verify
    and equal, episode by episode, those of the same policy without act_batch."""
    folder = tmp_path / "batched"
    folder.mkdir()
    (folder / "agent.py").write_text((scaffold / "agent.py").read_text() + _BATCHED, encoding="utf-8")
    toml = (scaffold / "submission.toml").read_text().replace('name = "scaffold"', 'name = "batched"')
    (folder / "submission.toml").write_text(toml, encoding="utf-8")
    calls: list[tuple[int, int, str, int]] = []
    out = tmp_path / "out"
    results = evaluate_submission(folder, out, quick=True, progress=lambda *a: calls.append(a))
    assert results["complete"], results["failure"]
    assert {seed for *_, seed in calls} == {-1}  # lockstep progress reports no single seed
    assert calls[-1][:2] == (12, 12)
    single = {(e["scenario"], e["seed"]): e for e in _read(quick_results)["episodes"]}
    batched = {(e["scenario"], e["seed"]): e for e in results["episodes"]}
    assert set(batched) == set(single) and len(results["episodes"]) == 12
    for key, episode in batched.items():
        other = single[key]
        for field in ("metrics", "episode_return", "env_steps", "truncated"):
            assert episode[field] == other[field], (key, field)
        with np.load(out / episode["log"]) as a, np.load(quick_results / other["log"]) as b:
            np.testing.assert_array_equal(a["actions"], b["actions"])
            np.testing.assert_array_equal(a["response_times"], b["response_times"])
    report = verify(out)
    assert report.ok, report.problems
    assert report.episodes_checked == 12
