"""``eat-bench evaluate``: a submission on the frozen evaluation set, in a sandbox.

The evaluator owns the environment; the agent runs in a separate, sandboxed process
(:class:`~eat_bench.leaderboard.sandbox.SandboxedAgent`, one per scenario, built with
that scenario's spaces) and sees only the observation, the info and the spaces. Episodes
are played by the one evaluation loop (:func:`eat_bench.baselines.evaluation.run_episode`
and :func:`~eat_bench.baselines.evaluation.run_multi_episode`), with every action the
agent returned logged. Output, all written atomically (a temporary file, then a rename)::

    OUT/results.json                 # RESULTS_SCHEMA; see docs/leaderboard.md
    OUT/logs/<scenario>/<seed>.npz   # actions (and present, multi-agent), response_times

A submission that fails (crash, hang, a limit, a malformed action) stops its evaluation:
``results.json`` is still written, with ``complete: false`` and the failure's reason.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import eat_bench
from eat_bench.baselines.evaluation import (
    Episode,
    play_lockstep,
    run_episode,
    run_multi_episode,
    spec_fingerprint,
    trace_checksum,
)
from eat_bench.leaderboard.evalset import EvalScenario, EvaluationSet, get_evaluation_set
from eat_bench.leaderboard.files import write_atomic
from eat_bench.leaderboard.submission import Submission, load_submission

__all__ = [
    "RESULTS_SCHEMA",
    "RESULTS_FILE",
    "EvaluationError",
    "evaluate_submission",
    "submission_digest",
    "scenario_identity",
    "log_path",
    "write_atomic",
    "save_log",
    "response_times",
]

RESULTS_SCHEMA = "eat-bench/results/1"
RESULTS_FILE = "results.json"

Progress = Callable[[int, int, str, int], None]
"""``progress(done, total, scenario key, seed)`` after each episode."""


class EvaluationError(RuntimeError):
    """The evaluation could not run at all (bad output folder); the submission's own
    failures are recorded in ``results.json`` instead."""


# ---------------------------------------------------------------------- helpers
def submission_digest(folder: Path) -> str:
    """sha256 over the submission's files (relative paths and bytes, sorted), so that a
    result names the exact code and weights it came from."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def scenario_identity(scenario: EvalScenario, env: Any) -> dict[str, str]:
    """The spec fingerprint and trace checksum of a scenario's env (what verify compares)."""
    spec = env.scenario if scenario.multi_agent_kwargs else env.unwrapped.spec_scenario
    return {"spec_fingerprint": spec_fingerprint(spec), "trace_checksum": trace_checksum(spec)}


def log_path(key: str, seed: int) -> str:
    """The log of one episode, relative to the results folder."""
    return f"logs/{key}/{seed}.npz"


def response_times(env: Any) -> np.ndarray:
    """Per-task response times of the episode the env just played (dispatch order)."""
    sim = getattr(env, "unwrapped", env).sim
    return np.array([r.finish_s - r.arrival_s for r in sim.records], dtype=np.float64)


def save_log(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write one episode's log (compressed npz) atomically; returns its sha256."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


class _Recorder:
    """Logs every action an agent returns (single-agent); ``agent`` None: filled by hand."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.actions: list[np.ndarray] = []

    def reset(self, seed: int | None = None) -> None:
        self.actions = []
        self.agent.reset(seed)

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        action = self.agent.act(observation, info)
        self.actions.append(np.asarray(action))
        return action

    def log(self, action_space: Any) -> dict[str, np.ndarray]:
        shape = tuple(action_space.shape or ())
        if not self.actions:
            return {"actions": np.zeros((0, *shape), dtype=action_space.dtype)}
        return {"actions": np.stack(self.actions).astype(action_space.dtype, copy=False)}


class _MultiRecorder(_Recorder):
    """Logs every joint action: ``actions`` (T, agents, d), ``present`` (T, agents)."""

    def __init__(self, agent: Any, agents: list[str], width: int) -> None:
        super().__init__(agent)
        self.agents = agents
        self.width = width
        self.present: list[np.ndarray] = []

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.present = []

    def act(self, observations: dict[str, Any], infos: dict[str, Any]) -> Any:
        actions = self.agent.act(observations, infos)
        row = np.zeros((len(self.agents), self.width), dtype=np.int64)
        present = np.zeros(len(self.agents), dtype=bool)
        for i, name in enumerate(self.agents):
            if name in actions:
                row[i] = np.asarray(actions[name]).reshape(-1)
                present[i] = True
        self.actions.append(row)
        self.present.append(present)
        return actions

    def log(self, action_space: Any = None) -> dict[str, np.ndarray]:
        n = len(self.agents)
        if not self.actions:
            return {"actions": np.zeros((0, n, self.width), np.int64), "present": np.zeros((0, n), bool)}
        return {"actions": np.stack(self.actions), "present": np.stack(self.present)}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- evaluation
def _spaces(scenario: EvalScenario, env: Any) -> tuple[Any, Any]:
    if scenario.multi_agent_kwargs:
        agents = list(env.possible_agents)
        return {a: env.observation_space(a) for a in agents}, {a: env.action_space(a) for a in agents}
    return env.observation_space, env.action_space


def _entry(
    scenario: EvalScenario, env: Any, record: Any, log: dict[str, np.ndarray], out: Path, wall_s: float
) -> dict[str, Any]:
    """Write one finished episode's log; its entry in ``results.json``."""
    log["response_times"] = response_times(env)
    relative = log_path(scenario.key, record.seed)
    digest = save_log(out / relative, log)
    return {
        "scenario": scenario.key,
        "seed": int(record.seed),
        "status": "ok",
        "metrics": record.to_dict()["metrics"],
        "episode_return": record.episode_return,
        "env_steps": record.env_steps,
        "truncated": record.truncated,
        "wall_time_s": wall_s,
        "log": relative,
        "log_sha256": digest,
    }


def _play(scenario: EvalScenario, env: Any, agent: Any, seed: int, out: Path, name: str) -> dict[str, Any]:
    """One episode through the one evaluation loop, every action logged."""
    started = time.perf_counter()
    if scenario.multi_agent_kwargs:
        agents = list(env.possible_agents)
        recorder: _Recorder = _MultiRecorder(agent, agents, len(env.action_space(agents[0]).nvec))
        record = run_multi_episode(env, recorder, seed, name)
        log = recorder.log()
    else:
        recorder = _Recorder(agent)
        record = run_episode(env, recorder, seed, name)
        log = recorder.log(env.action_space)
    return _entry(scenario, env, record, log, out, time.perf_counter() - started)


def _play_lockstep(
    scenario: EvalScenario,
    agent: Any,
    env_kwargs: dict[str, Any],
    out: Path,
    name: str,
    progress: Callable[[int], None],
) -> list[dict[str, Any]]:
    """Every episode of a single-agent scenario at once, for an agent with ``act_batch``:
    one env per seed, one batched decision per step of all unfinished episodes. Each env
    is the same as in :func:`_play`, so each episode's log replays alike."""
    envs = [scenario.make_env(env_kwargs) for _ in scenario.seeds]
    try:
        for seed in scenario.seeds:
            agent.reset(seed)
        started = time.perf_counter()
        episodes = [Episode(env, seed) for env, seed in zip(envs, scenario.seeds)]
        recorders = [_Recorder(None) for _ in envs]
        entries: list[dict[str, Any] | None] = [None] * len(envs)

        def finish(i: int) -> None:
            log = recorders[i].log(envs[i].action_space)
            entries[i] = _entry(scenario, envs[i], episodes[i].record(name), log, out, time.perf_counter() - started)
            progress(1)

        play_lockstep(episodes, agent, lambda i, action: recorders[i].actions.append(np.asarray(action)), finish)
        return [e for e in entries if e is not None]
    finally:
        for env in envs:
            env.close()


def evaluate_submission(
    submission: str | os.PathLike[str] | Submission,
    out: str | os.PathLike[str],
    *,
    quick: bool = False,
    limits: Any = None,
    isolation: str = "auto",
    evaluation_set: EvaluationSet | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate ``submission`` on its track's frozen set (``quick``: a few episodes per
    scenario, marked unofficial) and write ``out/results.json`` plus the logs.

    Returns the results as written. The submission's failures are recorded, not raised;
    an unusable ``out`` (it already holds results and ``overwrite`` is false) raises
    :class:`EvaluationError` before anything runs."""
    from eat_bench.leaderboard.sandbox import AgentFailure, Limits, SandboxedAgent

    sub = submission if isinstance(submission, Submission) else load_submission(submission)
    out = Path(out)
    results_path = out / RESULTS_FILE
    if results_path.exists() and not overwrite:
        raise EvaluationError(f"{results_path} exists: choose another --out (or --overwrite to replace it)")
    full_set = evaluation_set or get_evaluation_set(sub.track)
    if full_set.track != sub.track:
        raise EvaluationError(f"evaluation set {full_set.track} does not match the submission's track {sub.track}")
    chosen = full_set.quick() if quick else full_set
    limits = limits or Limits()
    env_kwargs = sub.env_kwargs()
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "submission": {**sub.to_dict(), "sha256": submission_digest(sub.path)},
        "evaluation_set": {"track": chosen.track, "version": chosen.version},
        "official": not quick,
        "complete": False,
        "package_version": eat_bench.__version__,
        "isolation": None,
        "limits": dataclasses.asdict(limits),
        "started": _now(),
        "finished": None,
        "wall_time_s": 0.0,
        "scenarios": {},
        "episodes": [],
        "failure": None,
    }
    started = time.perf_counter()
    total = len(chosen.episodes())
    done = 0
    if overwrite:  # the old results first, so that no results.json points at deleted logs
        results_path.unlink(missing_ok=True)
        for old in (out / "logs").rglob("*.npz") if (out / "logs").exists() else ():
            old.unlink()
    try:
        scenario: EvalScenario | None = None
        for scenario in chosen.scenarios:
            env = scenario.make_env(env_kwargs)
            try:
                results["scenarios"][scenario.key] = {
                    "env_id": "edge_sites_v0" if scenario.multi_agent_kwargs else scenario.key,
                    **scenario_identity(scenario, env),
                    "env_kwargs": {**scenario.multi_agent_kwargs, **env_kwargs},
                    "held_out": scenario.held_out,
                    "seeds": list(scenario.seeds),
                }
                observation_space, action_space = _spaces(scenario, env)
                agent = SandboxedAgent(
                    sub.path,
                    sub.entry_point,
                    observation_space,
                    action_space,
                    scenario.key,
                    limits=limits,
                    isolation=isolation,
                )
                try:
                    results["isolation"] = dataclasses.asdict(agent.isolation)
                    agent.start()
                    if agent.supports_batch and not scenario.multi_agent_kwargs:

                        def advance(n: int, key: str = scenario.key) -> None:
                            nonlocal done
                            done += n
                            if progress is not None:
                                progress(done, total, key, -1)

                        results["episodes"].extend(_play_lockstep(scenario, agent, env_kwargs, out, sub.name, advance))
                    else:
                        for seed in scenario.seeds:
                            results["episodes"].append(_play(scenario, env, agent, seed, out, sub.name))
                            done += 1
                            if progress is not None:
                                progress(done, total, scenario.key, seed)
                finally:
                    agent.close()
            finally:
                env.close()
        results["complete"] = True
    except AgentFailure as failure:
        results["failure"] = {
            "reason": failure.reason,
            "detail": failure.detail,
            "scenario": scenario.key,
            "episodes_done": done,
        }
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C or SIGTERM (the CLI turns it into SystemExit)
        results["failure"] = {
            "reason": "interrupted",
            "detail": "the evaluation was stopped before it finished",
            "scenario": None if scenario is None else scenario.key,
            "episodes_done": done,
        }
        raise
    finally:
        results["finished"] = _now()
        results["wall_time_s"] = time.perf_counter() - started
        write_atomic(results_path, (json.dumps(results, indent=1, allow_nan=False) + "\n").encode())
    return results
