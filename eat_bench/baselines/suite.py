"""The baseline suite: a plan of (algorithm, env, seed) runs, executed by local worker
processes or by Ray, resumable after a kill at any moment.

Layout of a suite folder ``OUT``:

- ``plan.json``: the plan (algorithms, envs, seeds, budget, episodes, env settings). A
  folder whose plan differs is refused before anything runs, so two suites never mix.
- ``runs/<algo>__<env>__seed<k>.json``: one :class:`~eat_bench.baselines.evaluation.RunRecord`
  per finished run (``ok`` or ``failed`` with its traceback), written atomically by the
  driver (temporary file, then ``os.replace``). A run is finished exactly when its file
  exists; a rerun skips those runs and never rewrites their files.
- ``runs/<algo>__<env>__seed<k>.responses.json``: the per-task response times of the
  evaluation episodes (single-agent envs; for ``figures/latency_cdf.png``), written just
  before the record.
- ``train/<algo>__<env>__seed<k>/``: a learner's model, ``train.json`` and TensorBoard logs.
- ``results.csv``, ``figures/*.png``: rebuilt from the files above at the end of every
  suite (and by ``eat-bench plot OUT``).

Seeds. Run seed ``k`` trains a learner with seed ``k`` (a small integer) and evaluates
every algorithm on the same episodes, seeds ``EVAL_SEED_BASE + k * EVAL_SEED_STRIDE + i``
for ``i < episodes`` (see :func:`run_eval_seeds`): disjoint from every training seed, and
paired across algorithms (the same seed ``k`` means the same evaluation episodes).

Determinism. A run's record depends only on the run (one torch thread per worker), so
the local and the Ray backends write the same records; ``wall_s`` is the one field that
differs between two executions, and ``results.csv`` holds no wall-clock time at all.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import math
import multiprocessing
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from eat_bench.baselines.evaluation import EVAL_SEED_BASE, RunRecord

__all__ = [
    "EVAL_SEED_STRIDE",
    "MULTI_ENV",
    "METRICS",
    "RAY_EXTRA_HINT",
    "PLOT_EXTRA_HINT",
    "SuiteError",
    "RunSpec",
    "SuitePlan",
    "RunData",
    "make_plan",
    "run_eval_seeds",
    "execute_run",
    "run_suite",
    "load_results",
    "aggregate",
    "mean_ci",
    "results_csv",
    "results_table",
    "write_outputs",
]

EVAL_SEED_STRIDE = 10_000
"""Evaluation episodes of run seed k start at ``EVAL_SEED_BASE + k * EVAL_SEED_STRIDE``."""

MULTI_ENV = "edge_sites_v0"
"""The multi-agent env id (PettingZoo parallel env; env settings go to ``parallel_env``)."""

MULTI_LEARNERS = ("maskable-ppo", "ppo")
"""Learners trained with one shared policy for every site (``eat_bench.baselines.marl_ppo``)."""

KNOWN_LEARNERS = ("ppo", "a2c", "sac", "td3", "dqn", "maskable-ppo", "eat", "dsac")
"""Learner names, known even without the ``rl`` extra (to say what to install)."""

RL_EXTRA_HINT = 'pip install -e ".[rl]"'
RAY_EXTRA_HINT = 'pip install -e ".[ray]"'
PLOT_EXTRA_HINT = 'pip install -e ".[plot]"'

METRICS: tuple[tuple[str, str], ...] = (
    ("mean_response_s", "mean resp (s)"),
    ("p95_response_s", "p95 resp (s)"),
    ("mean_quality_normalized", "quality"),
    ("slo_attainment", "SLO"),
    ("cold_starts", "cold starts"),
    ("episode_return", "return"),
)
"""(summary key, table label) of what the results table and ``results.csv`` report."""

PLAN_FORMAT = "eat-bench-suite/1"


class SuiteError(ValueError):
    """Bad input, refused before anything runs (the message says what to change)."""


# ---------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class RunSpec:
    """One run: an algorithm on an env at a seed; ``kind`` says how it is executed."""

    algo: str
    env: str
    seed: int
    kind: str
    """"heuristic", "learner", "multi-heuristic" or "multi-learner"."""
    budget: int
    episodes: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    curve_points: int = 5
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Hyper-parameter overrides of a learner run (on top of its YAML file)."""

    @property
    def name(self) -> str:
        return f"{self.algo}__{self.env}__seed{self.seed}"

    @property
    def trains(self) -> bool:
        return self.kind in ("learner", "multi-learner")

    @property
    def eval_seeds(self) -> list[int]:
        return run_eval_seeds(self.seed, self.episodes)


def run_eval_seeds(seed: int, episodes: int) -> list[int]:
    """The evaluation episode seeds of run seed ``seed`` (disjoint from training seeds)."""
    start = EVAL_SEED_BASE + seed * EVAL_SEED_STRIDE
    return [start + i for i in range(episodes)]


@dataclass(frozen=True)
class SuitePlan:
    """What a suite runs: every applicable (algo, env, seed), in this order."""

    algos: tuple[str, ...]
    envs: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: int
    episodes: int
    env_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Settings per env id (``gym.make`` keywords; ``parallel_env`` keywords for edge_sites_v0)."""
    curve_points: int = 5
    """Learning-curve points per learner run (evaluations during training)."""
    kinds: dict[str, dict[str, str]] = field(default_factory=dict)
    """env -> algo -> kind, for the pairs that apply (filled by :func:`make_plan`)."""
    hyperparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Hyper-parameter overrides per learner (``--hp ALGO:KEY=VALUE``), over its YAML file."""

    def runs(self) -> list[RunSpec]:
        out = []
        for env in self.envs:
            for algo in self.algos:
                kind = self.kinds.get(env, {}).get(algo)
                if kind is None:
                    continue
                for seed in self.seeds:
                    out.append(
                        RunSpec(
                            algo=algo,
                            env=env,
                            seed=seed,
                            kind=kind,
                            budget=self.budget if kind in ("learner", "multi-learner") else 0,
                            episodes=self.episodes,
                            env_kwargs=dict(self.env_kwargs.get(env, {})),
                            curve_points=self.curve_points,
                            hyperparams=dict(self.hyperparams.get(algo, {})) if kind == "learner" else {},
                        )
                    )
        return out

    def to_dict(self) -> dict[str, Any]:
        # Through JSON so tuples and lists compare equal after a round trip.
        return json.loads(json.dumps(asdict(self), sort_keys=True))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SuitePlan:
        return cls(
            algos=tuple(d["algos"]),
            envs=tuple(d["envs"]),
            seeds=tuple(int(s) for s in d["seeds"]),
            budget=int(d["budget"]),
            episodes=int(d["episodes"]),
            env_kwargs={k: dict(v) for k, v in d.get("env_kwargs", {}).items()},
            curve_points=int(d.get("curve_points", 5)),
            kinds={k: dict(v) for k, v in d.get("kinds", {}).items()},
            hyperparams={k: dict(v) for k, v in d.get("hyperparams", {}).items()},
        )


def _single_agent_envs() -> tuple[str, ...]:
    from eat_bench.scenarios import SCENARIOS

    return tuple(SCENARIOS)


def _learners() -> tuple[str, ...] | None:
    """The SB3 algorithm names, or None without the ``rl`` extra."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        return None
    from eat_bench.baselines.sb3 import ALGOS

    return tuple(ALGOS)


def _kind(algo: str, env: str, learners: tuple[str, ...]) -> str | None:
    from eat_bench.baselines.agents import AGENTS, MULTI_AGENTS

    if env == MULTI_ENV:
        if algo in MULTI_AGENTS:
            return "multi-heuristic"
        return "multi-learner" if algo in MULTI_LEARNERS else None
    if algo in AGENTS:
        return "heuristic"
    return "learner" if algo in learners else None


def make_plan(
    algos: Sequence[str],
    envs: Sequence[str],
    seeds: Sequence[int],
    budget: int,
    episodes: int = 5,
    env_kwargs: dict[str, dict[str, Any]] | None = None,
    curve_points: int = 5,
    echo: Callable[[str], None] | None = None,
    hyperparams: dict[str, dict[str, Any]] | None = None,
) -> SuitePlan:
    """A checked plan: every name known, every extra installed, every setting accepted by
    its env (each env is made once here), seeds and budgets in range; else
    :class:`SuiteError`. ``hyperparams`` (algo -> overrides) must name single-agent
    learners of the plan and keys their algorithm accepts. Pairs that do not apply (a single-agent heuristic on
    edge_sites_v0) are left out and named through ``echo``."""
    from eat_bench.baselines.agents import AGENTS, MULTI_AGENTS

    algos, envs, seeds = tuple(algos), tuple(envs), tuple(int(s) for s in seeds)
    if not algos or not envs:
        raise SuiteError("give at least one algorithm (--algos) and one env (--envs)")
    if not seeds:
        raise SuiteError("give at least one seed (--seeds N runs seeds 0..N-1)")
    if any(s < 0 for s in seeds):
        raise SuiteError(f"seeds must be non-negative integers, got {list(seeds)}")
    if max(seeds) >= (2**31 - 1 - EVAL_SEED_BASE) // EVAL_SEED_STRIDE:
        raise SuiteError(f"seeds must stay below {(2**31 - 1 - EVAL_SEED_BASE) // EVAL_SEED_STRIDE}")
    if len(set(seeds)) != len(seeds) or len(set(algos)) != len(algos) or len(set(envs)) != len(envs):
        raise SuiteError("algorithms, envs and seeds must each be listed once")
    if budget < 1:
        raise SuiteError(f"--budget must be a positive number of env steps, got {budget}")
    if not 1 <= episodes <= EVAL_SEED_STRIDE:
        raise SuiteError(f"--episodes must be between 1 and {EVAL_SEED_STRIDE}, got {episodes}")
    if curve_points < 0:
        raise SuiteError(f"curve points must be >= 0, got {curve_points}")
    single = _single_agent_envs()
    unknown_envs = [e for e in envs if e not in single and e != MULTI_ENV]
    if unknown_envs:
        raise SuiteError(f"unknown env(s) {', '.join(unknown_envs)}; envs: {', '.join((*single, MULTI_ENV))}")
    learners = _learners()
    known = set(AGENTS) | set(MULTI_AGENTS) | set(MULTI_LEARNERS) | set(learners or KNOWN_LEARNERS)
    unknown = [a for a in algos if a not in known]
    if unknown:
        learned = ", ".join(learners) if learners is not None else f"{', '.join(KNOWN_LEARNERS)} (need {RL_EXTRA_HINT})"
        raise SuiteError(
            f"unknown algorithm(s) {', '.join(unknown)}; heuristics: {', '.join(AGENTS)}; "
            f"learners: {learned}; multi-agent ({MULTI_ENV}): {', '.join([*MULTI_AGENTS, *MULTI_LEARNERS])}"
        )
    if learners is None:
        needing = [a for a in algos if a in KNOWN_LEARNERS and a not in AGENTS and a not in MULTI_AGENTS]
        if needing:
            raise SuiteError(f"{', '.join(needing)} need(s) the rl extra (torch, stable-baselines3): {RL_EXTRA_HINT}")
        learners = ()
    kwargs = {e: dict((env_kwargs or {}).get(e, {})) for e in envs}
    extra = set(env_kwargs or {}) - set(envs)
    if extra:
        raise SuiteError(f"settings given for env(s) not in the suite: {', '.join(sorted(extra))}")
    kinds: dict[str, dict[str, str]] = {}
    for env in envs:
        for algo in algos:
            kind = _kind(algo, env, learners)
            if kind is None:
                if echo is not None:
                    scope = "single-agent envs only" if env == MULTI_ENV else f"{MULTI_ENV} only"
                    echo(f"skipped: {algo} on {env} ({scope})")
                continue
            kinds.setdefault(env, {})[algo] = kind
        if env not in kinds:
            raise SuiteError(f"no algorithm of {', '.join(algos)} applies to {env}")
        _check_env(env, kwargs[env])
    for algo in algos:
        if not any(algo in k for k in kinds.values()):
            raise SuiteError(f"{algo} applies to none of the envs {', '.join(envs)}")
    single_learners = sorted({a for per in kinds.values() for a, k in per.items() if k == "learner"})
    if single_learners:
        from eat_bench.baselines import sb3

        for algo in single_learners:
            try:
                sb3.require_rl(algo)  # its SB3 class and policy import (e.g. sb3-contrib for maskable-ppo)
            except ImportError as err:
                raise SuiteError(str(err)) from None
    hyperparams = {algo: dict(params) for algo, params in (hyperparams or {}).items() if params}
    stray = sorted(set(hyperparams) - set(single_learners))
    if stray:
        raise SuiteError(
            f"--hp names {', '.join(stray)}, not a single-agent learner of this suite "
            f"(its learners: {', '.join(single_learners) or 'none'})"
        )
    for algo, params in hyperparams.items():
        try:
            sb3.check_overrides(algo, params, source=f"--hp {algo}")
        except (ValueError, TypeError) as err:
            raise SuiteError(str(err)) from None
    if any(k == "multi-learner" for per in kinds.values() for k in per.values()):
        try:
            import sb3_contrib  # noqa: F401
        except ImportError:
            raise SuiteError(f"multi-agent learners need the rl extra: {RL_EXTRA_HINT}") from None
    return SuitePlan(algos, envs, seeds, budget, episodes, kwargs, curve_points, kinds, hyperparams)


def _check_env(env: str, kwargs: dict[str, Any]) -> None:
    """Make the env once with the suite's settings: a bad keyword fails here, not in a run."""
    import gymnasium as gym

    import eat_bench  # noqa: F401  (registers the ids)

    try:
        if env == MULTI_ENV:
            from eat_bench.envs import edge_sites_v0

            edge_sites_v0.parallel_env(**kwargs).close()
        else:
            gym.make(env, **kwargs).close()
    except (TypeError, ValueError, gym.error.Error) as err:
        raise SuiteError(f"{env} does not accept the settings {kwargs}: {err}") from None


# ---------------------------------------------------------------------- one run
Reporter = Callable[[str, int], None]
"""(run name, env steps done) during training, for the progress display."""


def _set_one_thread() -> None:
    """One intra-op thread per worker: the runs are the parallelism (and results then do
    not depend on the machine's core count)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _responses(env: Any) -> list[float]:
    """Per-task response times of the episode the env just finished (dispatch order)."""
    return [round(r.finish_s - r.arrival_s, 6) for r in env.unwrapped.sim.records]


def _evaluate_single(
    run: RunSpec, agent_name: str, name_in_records: str
) -> tuple[list[Any], list[float], dict[str, Any]]:
    """The evaluation loop of :func:`eat_bench.baselines.evaluation.evaluate` (same
    functions: the agent's env needs under the run's settings, ``make_eval_env``,
    ``make_agent``, ``play_episodes``), keeping each episode's per-task response times."""
    from eat_bench.baselines.agents import agent_env_kwargs, make_agent
    from eat_bench.baselines.evaluation import make_eval_env, play_episodes

    kwargs = {**agent_env_kwargs(agent_name), **run.env_kwargs}
    env = make_eval_env(run.env, kwargs)
    try:
        agent = make_agent(agent_name, env)
        per_seed: dict[int, list[float]] = {}
        episodes = play_episodes(
            env,
            agent,
            run.eval_seeds,
            name_in_records,
            lambda: make_eval_env(run.env, kwargs),
            on_finish=lambda k, finished: per_seed.__setitem__(k, _responses(finished)),
        )
        responses = [r for k in sorted(per_seed) for r in per_seed[k]]
        return episodes, responses, kwargs
    finally:
        env.close()


def _train_callback(run: RunSpec, report: Reporter | None) -> Any:
    """An SB3 callback that reports the env steps done (None without a reporter)."""
    if report is None:
        return None
    from stable_baselines3.common.callbacks import BaseCallback

    every = max(1, run.budget // 100)

    class _Report(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % every == 0:
                report(run.name, int(self.num_timesteps))
            return True

    return _Report()


def _run_learner(run: RunSpec, out: Path, report: Reporter | None) -> tuple[RunRecord, list[float]]:
    from eat_bench.baselines import sb3

    train_dir = out / "train" / run.name
    if train_dir.exists():  # an earlier attempt, killed before its record was written
        shutil.rmtree(train_dir)
    result = sb3.train(
        run.algo,
        run.env,
        run.budget,
        run.seed,
        train_dir,
        env_kwargs=run.env_kwargs,
        hyperparams=run.hyperparams or None,
        torch_threads=1,
        progress=False,
        tensorboard=True,
        eval_every=run.budget // run.curve_points if run.curve_points else 0,
        eval_episodes=2,
        callback=_train_callback(run, report),
    )
    episodes, responses, kwargs = _evaluate_single(run, str(result.model_path), run.algo)
    return _record(run, episodes, kwargs, result.learning_curve), responses


def _run_multi_learner(run: RunSpec, out: Path, report: Reporter | None) -> tuple[RunRecord, list[float]]:
    """Parameter-shared (Maskable)PPO on edge_sites_v0 through ``marl_ppo`` and
    ``envs.vector``; the learning curve comes from the training episodes (team return per
    agent and mean response time of the episodes that ended in each window)."""
    import argparse

    import numpy as np
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed

    from eat_bench.baselines import marl_ppo
    from eat_bench.baselines.evaluation import evaluate_multi
    from eat_bench.envs import edge_sites_v0

    marl_ppo.set_torch_threads(1)
    args = argparse.Namespace(algo=run.algo, copies=2, backend="direct", rollout=1024, epochs=5, lr=1e-3, seed=run.seed)
    # info_mode="events": the last step's infos carry the team metrics the learning curve reads.
    train_kwargs = {**run.env_kwargs, "info_mode": "events"}
    model, venv = marl_ppo.train(args, lambda: edge_sites_v0.parallel_env(**train_kwargs))
    every = max(1, run.budget // max(1, run.curve_points)) if run.curve_points else 0
    curve: list[tuple[int, float, float]] = []

    class _Curve(BaseCallback):
        def _on_training_start(self) -> None:
            self.totals = np.zeros(self.training_env.num_envs)
            self.window: list[tuple[float, float]] = []
            self.next_point = every

        def _on_step(self) -> bool:
            self.totals += self.locals["rewards"]
            for k, done in enumerate(self.locals["dones"]):
                if done:
                    info = self.locals["infos"][k]
                    response = info.get("team_metrics", {}).get("mean_response_s", math.nan)
                    self.window.append((float(self.totals[k]), float(response)))
                    self.totals[k] = 0.0
            if report is not None and self.num_timesteps % max(1, run.budget // 100) == 0:
                report(run.name, int(self.num_timesteps))
            if every and self.num_timesteps >= self.next_point:
                if self.window:
                    curve.append(
                        (
                            int(self.num_timesteps),
                            float(np.mean([w[0] for w in self.window])),
                            float(np.nanmean([w[1] for w in self.window])),
                        )
                    )
                self.window = []
                self.next_point += every
            return True

    set_random_seed(run.seed)
    model.learn(total_timesteps=run.budget, callback=_Curve())
    venv.close()
    set_random_seed(run.eval_seeds[0])  # the shared policy samples: seed torch for the evaluation
    episodes = evaluate_multi(run.env_kwargs, model, run.eval_seeds, agent_name=run.algo)
    return _record(run, episodes, run.env_kwargs, tuple(curve)), []


def _record(run: RunSpec, episodes: Sequence[Any], kwargs: dict[str, Any], curve: Iterable[Any] = ()) -> RunRecord:
    first = episodes[0]
    return RunRecord(
        agent=run.algo,
        scenario_id=run.env,
        spec_fingerprint=first.spec_fingerprint,
        train_seed=run.seed,
        budget_steps=run.budget,
        episodes=tuple(episodes),
        env_kwargs=dict(kwargs),
        learning_curve=tuple((int(s), float(r), float(t)) for s, r, t in curve),
        hyperparams=dict(run.hyperparams),
    )


def execute_run(
    run: RunSpec, out: str | os.PathLike[str], report: Reporter | None = None
) -> tuple[RunRecord, list[float]]:
    """Execute one run and return its record and per-task response times. Never raises
    for a failing run: the record then has ``status="failed"`` and the traceback."""
    import dataclasses

    _set_one_thread()
    started = time.perf_counter()
    try:
        if run.kind == "heuristic":
            episodes, responses, kwargs = _evaluate_single(run, run.algo, run.algo)
            record, responses = _record(run, episodes, kwargs), responses
        elif run.kind == "learner":
            record, responses = _run_learner(run, Path(out), report)
        elif run.kind == "multi-heuristic":
            from eat_bench.baselines.evaluation import evaluate_multi

            record = _record(run, evaluate_multi(run.env_kwargs, run.algo, run.eval_seeds), run.env_kwargs)
            responses = []
        elif run.kind == "multi-learner":
            record, responses = _run_multi_learner(run, Path(out), report)
        else:
            raise ValueError(f"unknown run kind {run.kind!r}")
    except Exception:  # a failed run is a result: recorded, and the suite goes on
        record = RunRecord(
            agent=run.algo,
            scenario_id=run.env,
            spec_fingerprint="",
            train_seed=run.seed,
            budget_steps=run.budget,
            episodes=(),
            status="failed",
            error=traceback.format_exc(),
            env_kwargs=dict(run.env_kwargs),
        )
        responses = []
    return dataclasses.replace(record, wall_s=round(time.perf_counter() - started, 3)), responses


# ---------------------------------------------------------------------- files
def _run_path(out: Path, run: RunSpec) -> Path:
    return out / "runs" / f"{run.name}.json"


def _responses_path(out: Path, run: RunSpec) -> Path:
    return out / "runs" / f"{run.name}.responses.json"


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _save(out: Path, run: RunSpec, record: RunRecord, responses: list[float]) -> None:
    """The responses first, then the record: the record's existence marks the run finished."""
    _atomic_write_text(_responses_path(out, run), json.dumps(responses) + "\n")
    record.write(_run_path(out, run))


def _read_record(path: Path) -> RunRecord | None:
    try:
        return RunRecord.read(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"suite: {path} is unreadable ({err}); the run will be redone", file=sys.stderr)
        return None


def _claim(out: Path, plan: SuitePlan) -> None:
    """Write ``plan.json``, or check that the folder's plan is this one."""
    path = out / "plan.json"
    doc = {"format": PLAN_FORMAT, "plan": plan.to_dict(), "runs": [r.name for r in plan.runs()]}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise SuiteError(f"{path} is not a suite plan ({err}); use another --out") from None
        old = existing.get("plan") if isinstance(existing, dict) else None
        if existing.get("format") != PLAN_FORMAT or old != doc["plan"]:
            diff = (
                [k for k in doc["plan"] if not isinstance(old, dict) or old.get(k) != doc["plan"][k]]
                if isinstance(old, dict)
                else ["format"]
            )
            raise SuiteError(
                f"{out} holds another suite (its plan.json differs in: {', '.join(diff)}); "
                "rerun with the same arguments to resume it, or choose another --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _clean_temporaries(out: Path) -> None:
    """Temporary files left by a killed writer (never a finished run's file)."""
    for tmp in (out / "runs").glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------- progress
class _Progress:
    """Runs done / total and the current runs' env steps: a rich display on a terminal,
    plain lines otherwise (logs, CI, a test's pipe)."""

    def __init__(self, total: int, done: int, enabled: bool = True) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.live = None
        if enabled and sys.stderr.isatty():
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            except ImportError:
                pass
            else:
                self.live = Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
                )
                self.live.start()
                self.runs_task = self.live.add_task("runs", total=total, completed=done)
                self.step_tasks: dict[str, Any] = {}
        if self.live is None:
            self._line(f"suite: {done}/{total} runs already done")

    def _line(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def steps(self, name: str, steps: int, budget: int) -> None:
        if self.live is not None:
            if name not in self.step_tasks:
                self.step_tasks[name] = self.live.add_task(f"  {name} env steps", total=budget)
            self.live.update(self.step_tasks[name], completed=steps)

    def finished(self, name: str, record: RunRecord) -> None:
        self.done += 1
        if self.live is not None:
            self.live.update(self.runs_task, completed=self.done)
            if name in self.step_tasks:
                self.live.remove_task(self.step_tasks.pop(name))
            if record.status != "ok":
                self.live.console.print(f"[red]failed[/red]: {name} ({record.error.strip().splitlines()[-1]})")
        else:
            note = "" if record.status == "ok" else f" ({record.error.strip().splitlines()[-1]})"
            self._line(f"suite: [{self.done}/{self.total}] {name} {record.status} in {record.wall_s:.1f} s{note}")

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


# ---------------------------------------------------------------------- backends
_PROGRESS: Any = None
"""A worker process's queue of (run name, env steps) to the driver (None: no reports)."""


def _pool_init(driver: int, progress: Any) -> None:
    global _PROGRESS
    _set_one_thread()
    _PROGRESS = progress
    _exit_with(driver)


def _exit_with(driver: int) -> None:
    """End this worker when the driver process ``driver`` is gone (killed, even with
    SIGKILL, which leaves it no chance to stop its workers): a daemon thread polls the
    parent pid. Without it, a killed suite's workers would train on, orphaned."""

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


def _pool_entry(run: RunSpec, out: str) -> tuple[RunRecord, list[float]]:
    queue = _PROGRESS
    report = (lambda name, steps: queue.put((name, steps))) if queue is not None and run.trains else None
    return execute_run(run, out, report)


def _run_serial(pending: list[RunSpec], out: Path, progress: _Progress) -> None:
    budgets = {r.name: r.budget for r in pending}
    for run in pending:
        record, responses = execute_run(run, out, lambda n, s: progress.steps(n, s, budgets[n]))
        _save(out, run, record, responses)
        progress.finished(run.name, record)


def _run_pool(pending: list[RunSpec], out: Path, workers: int, progress: _Progress) -> list[str]:
    """Worker processes (spawn: no state inherited from the driver); the driver writes
    every record as its future completes."""
    context = multiprocessing.get_context("spawn")
    errors: list[str] = []
    budgets = {r.name: r.budget for r in pending}
    # A plain queue handed to each worker as it starts (no manager process, which would
    # outlive a killed driver); the workers end with the driver (_exit_with).
    queue = context.Queue() if any(r.trains for r in pending) else None
    with cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_pool_init, initargs=(os.getpid(), queue)
    ) as pool:
        futures = {pool.submit(_pool_entry, run, str(out)): run for run in pending}
        waiting = set(futures)
        while waiting:
            done, waiting = cf.wait(waiting, timeout=0.5, return_when=cf.FIRST_COMPLETED)
            while queue is not None:
                try:
                    name, steps = queue.get_nowait()
                except Empty:
                    break
                progress.steps(name, steps, budgets[name])
            for future in done:
                run = futures[future]
                try:
                    record, responses = future.result()
                except Exception as err:  # the worker process died (not the run's own error)
                    errors.append(f"{run.name}: worker lost ({type(err).__name__}: {err})")
                    continue
                _save(out, run, record, responses)
                progress.finished(run.name, record)
    if queue is not None:
        queue.close()
    return errors


def _ray_entry(run: RunSpec, out: str) -> tuple[RunRecord, list[float]]:
    return execute_run(run, out)


def _run_ray(pending: list[RunSpec], out: Path, workers: int, address: str | None, progress: _Progress) -> list[str]:
    """One Ray task per run (1 CPU each); ``ray.init()`` local with ``workers`` CPUs, or
    the cluster at ``address``. The driver writes the records, so the cluster's nodes
    need no shared disk (a learner's model and logs stay in ``OUT/train`` where it ran)."""
    try:
        import ray
    except ImportError:
        raise SuiteError(f"the ray backend needs the ray extra: {RAY_EXTRA_HINT}") from None
    started_here = not ray.is_initialized()
    if started_here:
        env_vars = {v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        options: dict[str, Any] = {"runtime_env": {"env_vars": env_vars}, "log_to_driver": False}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **options)
    errors: list[str] = []
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_entry)
        refs = {remote.remote(run, str(out)): run for run in pending}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in done:
                run = refs.pop(ref)
                try:
                    record, responses = ray.get(ref)
                except Exception as err:  # the task's worker died
                    errors.append(f"{run.name}: ray task lost ({type(err).__name__}: {err})")
                    continue
                _save(out, run, record, responses)
                progress.finished(run.name, record)
    finally:
        if started_here:
            ray.shutdown()
    return errors


# ---------------------------------------------------------------------- the suite
def run_suite(
    plan: SuitePlan,
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> list[str]:
    """Execute the plan's unfinished runs into ``out`` (resuming a killed suite), then
    write ``results.csv`` and the figures. Returns the problems that left runs
    unfinished (a lost worker process); a run's own failure is a finished, failed record."""
    out = Path(out)
    if workers < 1:
        raise SuiteError(f"--workers must be >= 1, got {workers}")
    if backend not in ("local", "ray"):
        raise SuiteError(f"--backend must be local or ray, got {backend!r}")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SuiteError(f"the ray backend needs the ray extra: {RAY_EXTRA_HINT}") from None
    _claim(out, plan)
    (out / "runs").mkdir(exist_ok=True)
    _clean_temporaries(out)
    runs = plan.runs()
    pending = []
    for run in runs:
        record = _read_record(_run_path(out, run))
        if record is None or (retry_failed and record.status != "ok"):
            pending.append(run)
    pending.sort(key=lambda r: not r.trains)  # the long runs first: better packing
    display = _Progress(len(runs), len(runs) - len(pending), enabled=progress)
    errors: list[str] = []
    try:
        if pending:
            if backend == "ray":
                errors = _run_ray(pending, out, workers, ray_address, display)
            elif workers == 1 or len(pending) == 1:
                _run_serial(pending, out, display)
            else:
                errors = _run_pool(pending, out, min(workers, len(pending)), display)
    finally:
        display.close()
    return errors


@dataclass(frozen=True)
class RunData:
    """One finished run as read back from disk (what the table, CSV and figures use)."""

    algo: str
    env: str
    seed: int
    kind: str
    record: RunRecord
    responses: tuple[float, ...]


def load_results(out: str | os.PathLike[str]) -> tuple[SuitePlan, list[RunData], list[str]]:
    """The plan, its finished runs (plan order) and the names of its unfinished ones."""
    out = Path(out)
    path = out / "plan.json"
    if not path.is_file():
        raise SuiteError(f"{out} holds no suite (no plan.json); run `eat-bench suite --out {out}` first")
    plan = SuitePlan.from_dict(json.loads(path.read_text(encoding="utf-8"))["plan"])
    data, missing = [], []
    for run in plan.runs():
        record = _read_record(_run_path(out, run))
        if record is None:
            missing.append(run.name)
            continue
        responses: tuple[float, ...] = ()
        rpath = _responses_path(out, run)
        if rpath.is_file():
            responses = tuple(float(x) for x in json.loads(rpath.read_text(encoding="utf-8")))
        data.append(RunData(run.algo, run.env, run.seed, run.kind, record, responses))
    return plan, data, missing


# ---------------------------------------------------------------------- statistics
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip
"""Student's t 0.975 quantiles for 1..30 degrees of freedom (1.96 beyond)."""


def mean_ci(values: Iterable[float]) -> tuple[float, float, float]:
    """(mean, low, high): the mean over seeds and its 95% Student-t interval (NaN values
    left out; the interval is NaN for fewer than two values)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return math.nan, math.nan, math.nan
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    t = _T975[len(xs) - 2] if len(xs) - 1 <= len(_T975) else 1.96
    half = t * sd / math.sqrt(len(xs))
    return mean, mean - half, mean + half


def aggregate(plan: SuitePlan, data: Sequence[RunData]) -> list[dict[str, Any]]:
    """One row per (env, algo) of the plan: runs ok / failed, and per metric the mean over
    seeds of the run's mean over episodes, with its 95% interval."""
    rows = []
    for env in plan.envs:
        for algo in plan.algos:
            kind = plan.kinds.get(env, {}).get(algo)
            if kind is None:
                continue
            runs = [d for d in data if d.env == env and d.algo == algo]
            ok = [d for d in runs if d.record.status == "ok"]
            row: dict[str, Any] = {
                "env": env,
                "algo": algo,
                "kind": kind,
                "seeds": len(plan.seeds),
                "runs_ok": len(ok),
                "runs_failed": len(runs) - len(ok),
                "budget_steps": plan.budget if kind.endswith("learner") else 0,
                "episodes_per_run": plan.episodes,
            }
            summaries = [d.record.summary() for d in ok]
            for key, _ in METRICS:
                mean, low, high = mean_ci(s.get(key, math.nan) for s in summaries)
                row[key], row[f"{key}_ci_low"], row[f"{key}_ci_high"] = mean, low, high
            rows.append(row)
    return rows


def _csv_value(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else format(value, ".10g")
    return str(value)


def results_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The aggregate rows as CSV text (no wall-clock times: the same results give the same bytes)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow([_csv_value(v) for v in row.values()])
    return buffer.getvalue()


def format_cell(row: dict[str, Any], key: str, missing: str = "nan", precise_below: float = 100.0) -> str:
    """``mean ± half-width`` of an aggregate row's metric ``key``: 3 decimals below
    ``precise_below`` in magnitude, else 1; ``missing`` for no value."""
    mean, low, high = row[key], row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if not math.isfinite(mean):
        return missing
    digits = 3 if abs(mean) < precise_below else 1
    if not math.isfinite(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


def results_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a plain-text table: mean ± half-width of the 95% interval over seeds."""
    header = ["env", "algo", "runs", *(label for _, label in METRICS)]
    body = [
        [r["env"], r["algo"], f"{r['runs_ok']}/{r['seeds']}", *(format_cell(r, key) for key, _ in METRICS)]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([fmt(header), fmt("-" * w for w in widths), *(fmt(r) for r in body)])


def write_outputs(
    out: str | os.PathLike[str], figures: bool = True, echo: Callable[[str], None] = print
) -> tuple[str, list[str], list[Path]]:
    """Rebuild ``results.csv`` and (with the ``plot`` extra) the figures from the files on
    disk; returns (the table, unfinished run names, the figures written)."""
    out = Path(out)
    plan, data, missing = load_results(out)
    rows = aggregate(plan, data)
    _atomic_write_text(out / "results.csv", results_csv(rows))
    written: list[Path] = []
    if figures:
        try:
            from eat_bench.baselines import plots

            written = plots.make_figures(plan, data, out / "figures")
        except plots.PlotExtraMissing as err:
            echo(f"figures skipped: {err}")
    return results_table(rows), missing, written


def failed_runs(out: str | os.PathLike[str]) -> list[str]:
    """Names of the finished runs that failed (their records hold the traceback)."""
    _, data, _ = load_results(out)
    return [f"{d.algo}__{d.env}__seed{d.seed}" for d in data if d.record.status != "ok"]


# ---------------------------------------------------------------------- the demo
DEMO_ENV = "EAT-Edge-v0"
DEMO_HEURISTICS = ("random", "round-robin", "least-loaded", "warm-first", "greedy")
DEMO_LEARNER = "maskable-ppo"


def demo_plan(quick: bool = False) -> tuple[SuitePlan, str]:
    """The fixed suite of ``eat-bench demo`` on EAT-Edge-v0: the heuristics and a short
    MaskablePPO run (left out, with a note saying what to install, without the ``rl``
    extra). Full: 3 seeds, 3 episodes, 10,000 steps (meant for under 5 minutes on 2 cores);
    ``quick``: 20-task episodes, 2 seeds, 2 episodes, 512 steps (seconds)."""
    from eat_bench.baselines.agents import AGENTS

    heuristics = [h for h in DEMO_HEURISTICS if h in AGENTS]
    if quick:
        heuristics = [h for h in heuristics if h in ("random", "greedy")]
    note = ""
    try:
        from eat_bench.baselines import sb3

        sb3.require_rl(DEMO_LEARNER)
        algos = [*heuristics, DEMO_LEARNER]
    except ImportError:
        algos = heuristics
        note = f"no learner in this demo: {DEMO_LEARNER} needs the rl extra ({RL_EXTRA_HINT})"
    if quick:
        plan = make_plan(algos, [DEMO_ENV], [0, 1], 512, episodes=2, env_kwargs={DEMO_ENV: {"num_tasks": 20}},
                         curve_points=2)  # fmt: skip
    else:
        plan = make_plan(algos, [DEMO_ENV], [0, 1, 2], 10_000, episodes=3, curve_points=5)
    return plan, note
