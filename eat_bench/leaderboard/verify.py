"""``eat-bench verify``: replay every logged episode and compare every number.

A result is accepted only if it is of this package version and the current evaluation
set, complete (every (scenario, seed) pair exactly once, no failure), its scenarios are
unchanged (spec fingerprints and trace checksums), and replaying each episode's logged
actions in the deterministic simulator reproduces its metrics, return, step count,
truncation and per-task response times exactly. Each problem names the episode.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import eat_bench
from eat_bench.baselines.evaluation import run_episode, run_multi_episode
from eat_bench.leaderboard.evalset import EvalScenario, EvaluationSet, get_evaluation_set
from eat_bench.leaderboard.evaluate import RESULTS_FILE, RESULTS_SCHEMA, response_times, scenario_identity

__all__ = ["VerifyReport", "verify", "read_results", "ResultsError"]


class ResultsError(ValueError):
    """A results folder that cannot be read at all."""


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found: ``ok`` only with no problem."""

    results_dir: Path
    problems: tuple[str, ...]
    episodes_checked: int
    official: bool

    @property
    def ok(self) -> bool:
        return not self.problems


def read_results(results_dir: str | Path) -> dict[str, Any]:
    """``results.json`` of a results folder, or :class:`ResultsError` naming the file."""
    path = Path(results_dir) / RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing (not a results folder of `eat-bench evaluate`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(data, dict) or data.get("schema") != RESULTS_SCHEMA:
        raise ResultsError(
            f"{path}: schema {data.get('schema') if isinstance(data, dict) else None!r}, expected {RESULTS_SCHEMA!r}"
        )
    return data


class _Replay:
    """Feeds the logged actions back (single-agent); counts what was used."""

    def __init__(self, actions: np.ndarray) -> None:
        self.actions = actions
        self.used = 0

    def reset(self, seed: int | None = None) -> None:
        self.used = 0

    def act(self, observation: Any, info: Any) -> Any:
        if self.used >= len(self.actions):
            raise _LogEnded
        action = self.actions[self.used]
        self.used += 1
        return action


class _MultiReplay(_Replay):
    def __init__(self, actions: np.ndarray, present: np.ndarray, agents: list[str]) -> None:
        super().__init__(actions)
        self.present = present
        self.agents = agents

    def act(self, observations: Any, infos: Any) -> Any:
        if self.used >= len(self.actions):
            raise _LogEnded
        t = self.used
        self.used += 1
        return {a: self.actions[t, i] for i, a in enumerate(self.agents) if self.present[t, i]}


class _LogEnded(Exception):
    pass


def _same(recorded: Any, replayed: Any) -> bool:
    if recorded is None:  # NaN or infinity, written as null
        return replayed is None or (isinstance(replayed, float) and not math.isfinite(replayed))
    if isinstance(recorded, bool) or isinstance(replayed, bool):
        return bool(recorded) == bool(replayed)
    if isinstance(recorded, (int, float)) and isinstance(replayed, (int, float)):
        return recorded == replayed or math.isclose(recorded, replayed, rel_tol=1e-12, abs_tol=1e-12)
    return recorded == replayed


def _replay(scenario: EvalScenario, env: Any, episode: dict[str, Any], root: Path) -> list[str]:
    """Problems of one episode (empty when it replays exactly)."""
    where = f"{scenario.key} seed {episode.get('seed')}"
    relative = episode.get("log")
    if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
        return [f"{where}: log path {relative!r} is not a relative path inside the results folder"]
    path = root / relative
    try:
        data = path.read_bytes()
    except OSError:
        return [f"{where}: log {path} is missing"]
    problems = []
    if hashlib.sha256(data).hexdigest() != episode.get("log_sha256"):
        problems.append(f"{where}: log {path} does not match its recorded sha256")
    try:
        with np.load(path, allow_pickle=False) as npz:
            log = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        return [*problems, f"{where}: log {path} is not a readable npz ({err})"]
    if "actions" not in log or "response_times" not in log:
        return [*problems, f"{where}: log {path} lacks 'actions' or 'response_times'"]
    seed = int(episode["seed"])
    try:
        if scenario.multi_agent_kwargs:
            if "present" not in log:
                return [*problems, f"{where}: log {path} lacks 'present'"]
            replay: _Replay = _MultiReplay(log["actions"], log["present"], list(env.possible_agents))
            record = run_multi_episode(env, replay, seed, "replay")
        else:
            replay = _Replay(log["actions"])
            record = run_episode(env, replay, seed, "replay")
    except _LogEnded:
        return [*problems, f"{where}: the logged actions end before the episode does"]
    except Exception as err:  # a forged action the env rejects
        return [*problems, f"{where}: replay failed: {type(err).__name__}: {err}"]
    if replay.used != len(log["actions"]):
        problems.append(f"{where}: the episode ended after {replay.used} of {len(log['actions'])} logged actions")
    metrics = episode.get("metrics")
    if not isinstance(metrics, dict):
        return [*problems, f"{where}: no metrics"]
    replayed = record.to_dict()["metrics"]
    for key in sorted(set(metrics) | set(replayed)):
        if key not in metrics or key not in replayed:
            problems.append(f"{where}: metric {key!r} present on one side only")
        elif not _same(metrics[key], replayed[key]):
            problems.append(f"{where}: metric {key} is {metrics[key]!r} in the results but {replayed[key]!r} on replay")
    for key, value in (
        ("episode_return", record.episode_return),
        ("env_steps", record.env_steps),
        ("truncated", record.truncated),
    ):
        if not _same(episode.get(key), value):
            problems.append(f"{where}: {key} is {episode.get(key)!r} in the results but {value!r} on replay")
    if not np.array_equal(log["response_times"], response_times(env)):
        problems.append(f"{where}: the logged response times differ from the replay's")
    return problems


def verify(results_dir: str | Path, evaluation_sets: Mapping[str, EvaluationSet] | None = None) -> VerifyReport:
    """Check a results folder of ``eat-bench evaluate`` (see the module docstring)
    against the current evaluation sets (or ``evaluation_sets``, by track: the board
    passes its own to the processes that replay for it)."""
    root = Path(results_dir)
    try:
        results = read_results(root)
    except ResultsError as err:
        return VerifyReport(root, (str(err),), 0, False)
    problems: list[str] = []
    official = bool(results.get("official"))
    if results.get("package_version") != eat_bench.__version__:
        problems.append(
            f"package version {results.get('package_version')!r} of the results is not this one ({eat_bench.__version__})"
        )
    submission = results.get("submission")
    track = submission.get("track") if isinstance(submission, dict) else None
    try:
        if evaluation_sets is not None and track in evaluation_sets:
            current = evaluation_sets[track]
        else:
            current = get_evaluation_set(track)
    except ValueError as err:
        return VerifyReport(root, (*problems, f"results.json: {err}"), 0, official)
    recorded_set = results.get("evaluation_set")
    recorded_set = recorded_set if isinstance(recorded_set, dict) else {}
    if recorded_set.get("version") != current.version or recorded_set.get("track") != current.track:
        problems.append(
            f"evaluation set {recorded_set.get('track')} {recorded_set.get('version')} is not the current "
            f"{current.track} {current.version}"
        )
    failure = results.get("failure")
    if failure:
        if isinstance(failure, dict):
            problems.append(
                f"the evaluation failed ({failure.get('reason')}: {str(failure.get('detail') or '')[:200]})"
            )
        else:
            problems.append(f"the evaluation failed ({str(failure)[:200]})")
    if not results.get("complete"):
        problems.append("the evaluation is partial (complete: false)")
    chosen = current if official else current.quick()
    expected = Counter(chosen.episodes())
    raw = results.get("episodes")
    if not isinstance(raw, list):
        problems.append(f"results.json: 'episodes' is not a list ({type(raw).__name__})")
        raw = []
    episodes = []
    for index, e in enumerate(raw):
        seed = e.get("seed") if isinstance(e, dict) else None
        if (
            isinstance(e, dict)
            and isinstance(e.get("scenario"), str)
            and isinstance(seed, int)
            and not isinstance(seed, bool)
        ):
            episodes.append(e)
        else:
            problems.append(f"episode entry {index}: not an object with a scenario name and an integer seed")
    found = Counter((e.get("scenario"), e.get("seed")) for e in episodes)
    for key, seed in sorted(set(expected) - set(found), key=str):
        problems.append(f"{key} seed {seed}: episode missing")
    for (key, seed), count in sorted(found.items(), key=str):
        if (key, seed) not in expected:
            problems.append(f"{key} seed {seed}: episode not in evaluation set {current.track} {current.version}")
        elif count > 1:
            problems.append(f"{key} seed {seed}: episode appears {count} times")
    checked = 0
    recorded_scenarios = results.get("scenarios")
    recorded_scenarios = recorded_scenarios if isinstance(recorded_scenarios, dict) else {}
    for scenario in chosen.scenarios:
        mine = [
            e
            for e in episodes
            if e["scenario"] == scenario.key
            and (scenario.key, e["seed"]) in expected
            and found[(scenario.key, e["seed"])] == 1
        ]
        if not mine:
            continue
        info = recorded_scenarios.get(scenario.key)
        info = info if isinstance(info, dict) else {}
        # the env of an evaluation is the frozen scenario in the submission's modes, nothing else
        # (any other keyword, e.g. num_tasks, would change the scenario along with its fingerprint)
        modes = ("obs_mode",) if scenario.multi_agent_kwargs else ("obs_mode", "action_mode", "info_mode")
        env_kwargs = {mode: submission.get(mode) if isinstance(submission, dict) else None for mode in modes}
        if info.get("env_kwargs") != {**scenario.multi_agent_kwargs, **env_kwargs}:
            problems.append(
                f"{scenario.key}: env_kwargs {info.get('env_kwargs')!r} in the results are not the evaluation set's "
                f"scenario in the submission's modes ({ {**scenario.multi_agent_kwargs, **env_kwargs}!r})"
            )
            continue
        try:
            # The info mode changes what info holds, never the dynamics: replay without
            # the scheduler view's per-step arrays (the actions are in the log).
            replay_kwargs = {**env_kwargs, "info_mode": "numeric"} if "info_mode" in env_kwargs else env_kwargs
            env = scenario.make_env(replay_kwargs)
        except Exception as err:
            problems.append(f"{scenario.key}: cannot make its env with {env_kwargs} ({err})")
            continue
        try:
            identity = scenario_identity(scenario, env)
            for field, value in identity.items():
                if info.get(field) != value:
                    problems.append(
                        f"{scenario.key}: {field} {info.get(field)!r} in the results but {value!r} now: the scenario "
                        "changed since the evaluation"
                    )
            for episode in mine:
                problems.extend(_replay(scenario, env, episode, root))
                checked += 1
        finally:
            env.close()
    return VerifyReport(root, tuple(problems), checked, official)
