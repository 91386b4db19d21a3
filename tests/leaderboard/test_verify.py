"""``verify``: the untouched quick results pass; every kind of tampering is rejected with
the episode (or scenario) named. Each test edits its own copy of the shared results; the
tamper tests remember clean replays of untouched episodes (``memo_replay``, conftest)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

import eat_bench
from eat_bench.leaderboard import evalset
from eat_bench.leaderboard.evalset import HELD_OUT_SURGE, SINGLE_AGENT
from eat_bench.leaderboard.verify import ResultsError, _replay, read_results, verify

REAL_REPLAY = _replay

EDGE, PAPER, SURGE = "EAT-Edge-v0", "EAT-Paper-v0", "heldout-edge-surge-v0"
S0, S1 = 2_000_000, 2_000_001

pytestmark = pytest.mark.usefixtures("memo_replay")


def rejected(root, *fragments: str) -> tuple[str, ...]:
    """verify's problems, which must be non-empty and include each fragment."""
    report = verify(root)
    assert not report.ok
    for fragment in fragments:
        assert any(fragment in p for p in report.problems), (fragment, report.problems)
    return report.problems


def only_about(problems, *episodes: str) -> None:
    """Every problem names one of ``episodes`` (the untouched episodes replay cleanly)."""
    for problem in problems:
        assert problem.startswith(episodes), (problem, episodes)


def test_untouched_results_pass(results_copy, monkeypatch):
    """The results as evaluate wrote them replay exactly: 12 episodes, unofficial (every
    episode replayed for real, not remembered)."""
    import eat_bench.leaderboard.verify as verify_module

    monkeypatch.setattr(verify_module, "_replay", REAL_REPLAY)
    report = verify(results_copy.root)
    assert report.problems == ()
    assert report.ok
    assert report.episodes_checked == 12
    assert report.official is False
    assert report.results_dir == results_copy.root


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("mean_response_s", lambda v: v * 0.9),
        ("slo_attainment", lambda v: v + 0.01),
        ("cold_starts", lambda v: v - 1),
        ("completion_rate", lambda v: None),
    ],
)
def test_changed_metric(results_copy, field, change):
    """A metric edited in results.json: that metric of that episode, both values shown."""
    data = results_copy.load()
    episode = results_copy.episode(data, PAPER, S1)
    old = episode["metrics"][field]
    episode["metrics"][field] = change(old)
    results_copy.save(data)
    problems = rejected(
        results_copy.root, f"{PAPER} seed {S1}: metric {field} is {change(old)!r} in the results but {old!r}"
    )
    assert len(problems) == 1


def test_dropped_metric(results_copy):
    """A metric removed from one episode: present on one side only."""
    data = results_copy.load()
    del results_copy.episode(data, EDGE, S0)["metrics"]["p99_response_s"]
    results_copy.save(data)
    only_about(
        rejected(results_copy.root, f"{EDGE} seed {S0}: metric 'p99_response_s' present on one side only"),
        f"{EDGE} seed {S0}",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("episode_return", lambda v: v + 1.0), ("env_steps", lambda v: v - 1), ("truncated", lambda v: True)],
)
def test_changed_return_steps_truncation(results_copy, field, value):
    """The return, the step count or the truncation flag edited: named with the episode."""
    data = results_copy.load()
    episode = results_copy.episode(data, SURGE, S0)
    episode[field] = value(episode[field])
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{SURGE} seed {S0}: {field} is {episode[field]!r} in the results")
    assert len(problems) == 1


def test_dropped_episode(results_copy):
    """An episode left out (a bad seed hidden): missing."""
    data = results_copy.load()
    data["episodes"] = [e for e in data["episodes"] if (e["scenario"], e["seed"]) != (EDGE, S1)]
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{EDGE} seed {S1}: episode missing")
    assert len(problems) == 1


def test_duplicated_episode(results_copy):
    """A good episode listed twice in place of a bad one: counted, and the bad one missing."""
    data = results_copy.load()
    good = results_copy.episode(data, EDGE, S0)
    data["episodes"] = [e for e in data["episodes"] if (e["scenario"], e["seed"]) != (EDGE, S1)] + [dict(good)]
    results_copy.save(data)
    rejected(results_copy.root, f"{EDGE} seed {S0}: episode appears 2 times", f"{EDGE} seed {S1}: episode missing")


def test_duplicated_episode_under_another_seed(results_copy):
    """A good episode copied over another seed's entry (log, numbers and all): its replay
    from the other seed does not match."""
    data = results_copy.load()
    good = results_copy.episode(data, EDGE, S0)
    bad = results_copy.episode(data, EDGE, S1)
    bad.update({k: v for k, v in good.items() if k != "seed"})
    results_copy.save(data)
    only_about(rejected(results_copy.root, f"{EDGE} seed {S1}: metric"), f"{EDGE} seed {S1}")


def test_episode_outside_the_set(results_copy):
    """An episode with a seed the set does not have."""
    data = results_copy.load()
    results_copy.episode(data, EDGE, S1)["seed"] = 7
    results_copy.save(data)
    rejected(
        results_copy.root,
        f"{EDGE} seed 7: episode not in evaluation set single-agent",
        f"{EDGE} seed {S1}: episode missing",
    )


def test_swapped_logs(results_copy):
    """Two episodes' log files exchanged and their sha256 fixed up: only the replay can
    tell, and it names both episodes."""
    data = results_copy.load()
    a, b = results_copy.episode(data, PAPER, S0), results_copy.episode(data, PAPER, S1)
    pa, pb = results_copy.root / a["log"], results_copy.root / b["log"]
    tmp = pa.with_suffix(".swap")
    pa.rename(tmp)
    pb.rename(pa)
    tmp.rename(pb)
    a["log_sha256"], b["log_sha256"] = b["log_sha256"], a["log_sha256"]
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{PAPER} seed {S0}: ", f"{PAPER} seed {S1}: ")
    assert not any("sha256" in p for p in problems)
    only_about(problems, f"{PAPER} seed {S0}", f"{PAPER} seed {S1}")


def test_swapped_logs_same_actions(results_copy):
    """Two seeds whose logged actions are identical (the template always takes the oldest
    task): swapped, the per-task response times still give it away."""
    data = results_copy.load()
    a, b = results_copy.episode(data, EDGE, S0), results_copy.episode(data, EDGE, S1)
    logs = results_copy.read_log(data, EDGE, S0), results_copy.read_log(data, EDGE, S1)
    results_copy.write_log(data, EDGE, S0, logs[1])
    results_copy.write_log(data, EDGE, S1, logs[0])
    results_copy.save(data)
    assert a["log_sha256"] != b["log_sha256"]
    problems = rejected(
        results_copy.root,
        f"{EDGE} seed {S0}: the logged response times differ",
        f"{EDGE} seed {S1}: the logged response times differ",
    )
    only_about(problems, f"{EDGE} seed {S0}", f"{EDGE} seed {S1}")


def test_log_sha256_mismatch(results_copy):
    """A log file whose bytes differ from the recorded sha256."""
    data = results_copy.load()
    log = results_copy.read_log(data, EDGE, S0)
    path = results_copy.root / results_copy.episode(data, EDGE, S0)["log"]
    np.savez(path, **log)  # same arrays, other bytes (uncompressed)
    problems = rejected(results_copy.root, f"{EDGE} seed {S0}: log {path} does not match its recorded sha256")
    assert len(problems) == 1


def test_one_action_changed(results_copy):
    """One logged action changed (another step level for the first dispatch): the replay
    differs."""
    data = results_copy.load()
    log = results_copy.read_log(data, EDGE, S0)
    actions = log["actions"].copy()
    row = int(np.flatnonzero(actions[:, 0] > 0)[0])
    actions[row, 2] = 0 if actions[row, 2] else 1
    results_copy.write_log(data, EDGE, S0, {**log, "actions": actions})
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{EDGE} seed {S0}:")
    assert not any("sha256" in p for p in problems)
    only_about(problems, f"{EDGE} seed {S0}")


def test_one_action_dropped(results_copy):
    """One logged action removed: the actions run out (or the replay differs)."""
    data = results_copy.load()
    log = results_copy.read_log(data, EDGE, S1)
    results_copy.write_log(data, EDGE, S1, {**log, "actions": np.delete(log["actions"], 0, axis=0)})
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{EDGE} seed {S1}: the logged actions end before the episode does")
    only_about(problems, f"{EDGE} seed {S1}")


def test_extra_action_appended(results_copy):
    """A logged action more than the episode used."""
    data = results_copy.load()
    log = results_copy.read_log(data, PAPER, S0)
    n = len(log["actions"])
    results_copy.write_log(data, PAPER, S0, {**log, "actions": np.concatenate([log["actions"], log["actions"][-1:]])})
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{PAPER} seed {S0}: the episode ended after {n} of {n + 1} logged actions")
    assert len(problems) == 1


def test_response_times_edited(results_copy):
    """The logged per-task response times edited (the board's bootstrap reads them)."""
    data = results_copy.load()
    log = results_copy.read_log(data, SURGE, S1)
    results_copy.write_log(data, SURGE, S1, {**log, "response_times": log["response_times"] * 0.5})
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{SURGE} seed {S1}: the logged response times differ from the replay's")
    assert len(problems) == 1


def test_missing_and_escaping_log(results_copy):
    """A log file removed; a log path outside the results folder."""
    data = results_copy.load()
    (results_copy.root / results_copy.episode(data, EDGE, S0)["log"]).unlink()
    results_copy.episode(data, EDGE, S1)["log"] = "../elsewhere.npz"
    results_copy.save(data)
    problems = rejected(
        results_copy.root,
        f"{EDGE} seed {S0}: log {results_copy.root / 'logs' / EDGE / f'{S0}.npz'} is missing",
        f"{EDGE} seed {S1}: log path '../elsewhere.npz' is not a relative path",
    )
    assert len(problems) == 2


def test_recorded_spec_fingerprint_edited(results_copy):
    """A results.json claiming another scenario (its spec fingerprint changed)."""
    data = results_copy.load()
    data["scenarios"][SURGE]["spec_fingerprint"] = "0" * 16
    results_copy.save(data)
    problems = rejected(results_copy.root, f"{SURGE}: spec_fingerprint '{'0' * 16}' in the results")
    assert len(problems) == 1 and "the scenario changed" in problems[0]


def test_scenario_changed_since_evaluation(results_copy, monkeypatch):
    """The evaluation set's held-out scenario edited after the evaluation (another
    num_tasks): the fingerprint and the replays of its episodes differ; others pass."""
    spec = dataclasses.replace(HELD_OUT_SURGE, workload=dataclasses.replace(HELD_OUT_SURGE.workload, num_tasks=120))
    changed = dataclasses.replace(
        SINGLE_AGENT,
        scenarios=tuple(dataclasses.replace(s, spec=spec) if s.key == SURGE else s for s in SINGLE_AGENT.scenarios),
    )
    monkeypatch.setitem(evalset.EVALUATION_SETS, "single-agent", changed)
    problems = rejected(
        results_copy.root,
        f"{SURGE}: spec_fingerprint",
        "the scenario changed",
        f"{SURGE} seed {S0}: metric num_tasks is 250",
    )
    only_about(problems, SURGE)


def test_other_evaluation_set_version(results_copy):
    """Results of another evaluation-set version do not compare."""
    data = results_copy.load()
    data["evaluation_set"]["version"] = "2025.01"
    results_copy.save(data)
    problems = rejected(
        results_copy.root, f"evaluation set single-agent 2025.01 is not the current single-agent {SINGLE_AGENT.version}"
    )
    assert len(problems) == 1


def test_other_package_version(results_copy):
    """Results of another eat-bench version are refused (the simulator may differ)."""
    data = results_copy.load()
    data["package_version"] = "0.0.1"
    results_copy.save(data)
    problems = rejected(
        results_copy.root, f"package version '0.0.1' of the results is not this one ({eat_bench.__version__})"
    )
    assert len(problems) == 1


def test_partial_results(results_copy):
    """complete: false is rejected even when every episode present replays."""
    data = results_copy.load()
    data["complete"] = False
    results_copy.save(data)
    assert rejected(results_copy.root, "the evaluation is partial (complete: false)") == (
        "the evaluation is partial (complete: false)",
    )


def test_quick_results_claiming_official(results_copy):
    """A quick run relabelled official lacks 18 episodes per scenario."""
    data = results_copy.load()
    data["official"] = True
    results_copy.save(data)
    report = verify(results_copy.root)
    assert report.official and not report.ok
    assert len(report.problems) == 6 * 18
    assert all(p.endswith("episode missing") for p in report.problems)


def test_missing_or_unreadable_results(tmp_path, results_copy):
    """No results.json, broken JSON, another schema: one clear problem naming the file."""
    empty = tmp_path / "empty"
    empty.mkdir()
    report = verify(empty)
    assert not report.ok and report.episodes_checked == 0
    assert report.problems == (f"{empty / 'results.json'}: missing (not a results folder of `eat-bench evaluate`)",)
    with pytest.raises(ResultsError, match="missing"):
        read_results(empty)
    (empty / "results.json").write_text("{not json", encoding="utf-8")
    assert "not readable JSON" in verify(empty).problems[0]
    data = results_copy.load()
    data["schema"] = "eat-bench/results/0"
    (empty / "results.json").write_text(json.dumps(data), encoding="utf-8")
    assert "schema 'eat-bench/results/0'" in verify(empty).problems[0]
    shutil.rmtree(empty)


def test_scenario_modified_through_env_kwargs(scaffold, tmp_path, monkeypatch):
    """An evaluation run on a modified scenario (an extra env keyword: 12 tasks an episode),
    recorded consistently (fingerprints, logs and all): rejected, because the env of an
    evaluation is the frozen scenario in the submission's modes only."""
    from eat_bench.leaderboard.evaluate import evaluate_submission
    from eat_bench.leaderboard.submission import Submission

    modes = Submission.env_kwargs
    monkeypatch.setattr(Submission, "env_kwargs", lambda self: {**modes(self), "num_tasks": 12})
    results = evaluate_submission(scaffold, tmp_path / "easy", quick=True)
    assert results["complete"] and results["episodes"][0]["metrics"]["num_tasks"] == 12
    monkeypatch.setattr(Submission, "env_kwargs", modes)
    problems = rejected(tmp_path / "easy", f"{EDGE}: env_kwargs", "'num_tasks': 12")
    assert len(problems) == len(SINGLE_AGENT.scenarios)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            lambda d: d["episodes"][0].pop("seed"),
            "episode entry 0: not an object with a scenario name and an integer seed",
        ),
        (lambda d: d["episodes"][3].update(seed="2000001"), "episode entry 3: not an object"),
        (lambda d: d["episodes"].append([1, 2]), "episode entry 12: not an object"),
        (lambda d: d.update(episodes={"a": 1}), "results.json: 'episodes' is not a list"),
        (lambda d: d.update(failure={"reason": "crash", "detail": None}), "the evaluation failed (crash: )"),
        (lambda d: d.update(failure="boom"), "the evaluation failed (boom)"),
        (lambda d: d.update(scenarios=[]), f"{EDGE}: env_kwargs None in the results"),
        (lambda d: d.update(evaluation_set=None), "evaluation set None None is not the current"),
        (lambda d: d.update(submission=None), "results.json: unknown track None"),
    ],
)
def test_malformed_results_are_problems_not_crashes(results_copy, edit, fragment):
    """A hand-edited results.json of the wrong shape is reported, never a traceback."""
    data = results_copy.load()
    edit(data)
    results_copy.save(data)
    rejected(results_copy.root, fragment)


def test_undefined_metrics_compare_equal():
    """A metric that is undefined (NaN, written as null: the latency of an episode that
    dispatched nothing) matches itself on replay, and only itself."""
    import math

    from eat_bench.leaderboard.verify import _same

    assert _same(None, None) and _same(None, math.nan) and _same(None, math.inf)
    assert not _same(None, 0.0) and not _same(0.0, None) and not _same(1.0, 1.0 + 1e-9)
    assert _same(3, 3.0) and _same(True, 1) and not _same(True, False)
