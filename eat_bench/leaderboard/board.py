"""The published board: verified results in, ``LEADERBOARD.md`` and a static page out.

:func:`load_entry` reads one evaluator results folder (``results.json`` plus the action
logs) into a :class:`BoardEntry`, raising :class:`ResultsError`, which names the file, on
malformed input. :func:`score_entries` puts every entry on one scale per scenario (the
random agent's mean return is 0, the reference heuristic's is 1) and ranks them by the
interquartile mean over all (scenario, episode) scores with a 95% stratified-bootstrap
interval (:mod:`eat_bench.leaderboard.score`). :func:`build_board` writes:

- ``LEADERBOARD.md``: the ranking, per-scenario scores, the refused results and how to
  read the score;
- ``site/index.html``: the same tables as a self-contained page (no external resources)
  with three seaborn figures under ``site/figures/``: ``latency_cdf.png``,
  ``latency_quality.png`` and ``scores.png`` (the ``plot`` extra).

Every file is written atomically (a temporary file in the same folder, then
``os.replace``); the Markdown is byte-for-byte deterministic for the same inputs. One bad
results folder never stops the board: :func:`collect_entries` turns it into a refusal.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

import numpy as np

from eat_bench.leaderboard.files import write_atomic
from eat_bench.leaderboard.score import Interval, iqm, normalise, probability_of_improvement, stratified_bootstrap

__all__ = [
    "SCHEMA",
    "REFERENCE_AGENT",
    "RANDOM_AGENT",
    "DEFAULT_BASELINES",
    "BOARD_METRICS",
    "FIGURES",
    "ResultsError",
    "BoardEntry",
    "ScenarioScore",
    "EntryScore",
    "load_entry",
    "admission_problem",
    "collect_entries",
    "score_entries",
    "build_board",
]

SCHEMA = "eat-bench/results/1"
"""The ``schema`` value of the results this board reads."""

REFERENCE_AGENT = "greedy"
"""The heuristic whose mean return on each scenario scores 1."""

RANDOM_AGENT = "random"
"""The agent whose mean return on each scenario scores 0."""

DEFAULT_BASELINES: frozenset[str] = frozenset(
    {"random", "fcfs", "sjf", "edf", "warm-first", "round-robin", "least-loaded", "greedy", "paper-greedy"}
    | {"ppo", "a2c", "sac", "td3", "dqn", "maskable-ppo", "eat", "dsac"}
    | {"marl-random", "local-first"}
)
"""Submission names of the shipped baselines (probability of improvement is over the best)."""

BOARD_METRICS = ("mean_response_s", "p95_response_s", "mean_quality_normalized", "slo_attainment", "cold_starts")
"""Episode metrics the board shows; each episode of a result must have them."""

FIGURES = ("latency_cdf.png", "latency_quality.png", "scores.png")

MARKDOWN = "LEADERBOARD.md"
PAGE = "site/index.html"
DOCS = "docs/leaderboard_scoring.md"


class ResultsError(ValueError):
    """A results folder is malformed; the message names the file and what is wrong."""


@dataclass(frozen=True, eq=False)
class BoardEntry:
    """One evaluated submission as the board sees it. Arrays are read-only.

    ``returns`` and ``episode_metrics`` hold the successful episodes, ordered by seed;
    ``response_times`` pools every completed task's response time per scenario from the
    action logs.
    """

    name: str
    results_dir: Path
    results: Mapping[str, Any]
    response_times: Mapping[str, np.ndarray]
    returns: Mapping[str, np.ndarray]
    episode_metrics: Mapping[str, Mapping[str, np.ndarray]]

    @property
    def submission(self) -> Mapping[str, Any]:
        return self.results["submission"]

    @property
    def evaluation_set(self) -> tuple[str, str]:
        """(track, version) of the evaluation set it ran on."""
        return (self.results["evaluation_set"]["track"], self.results["evaluation_set"]["version"])

    @property
    def scenarios(self) -> tuple[str, ...]:
        return tuple(sorted(self.results["scenarios"]))

    @property
    def date(self) -> str:
        """The day the evaluation finished (ISO, YYYY-MM-DD)."""
        return _parse_time(self.results["finished"]).date().isoformat()

    def metric(self, name: str, scenario: str | None = None) -> float:
        """The mean of an episode metric over all episodes (or one scenario's), leaving
        out the episodes where it is undefined (latency of an episode that dispatched
        nothing: its tasks still count as SLO misses); NaN when it is undefined in all."""
        keys = self.scenarios if scenario is None else (scenario,)
        values = np.concatenate([self.episode_metrics[k][name] for k in keys if k in self.episode_metrics])
        values = values[np.isfinite(values)]
        return float(values.mean()) if values.size else math.nan


@dataclass(frozen=True)
class ScenarioScore:
    """An entry's normalised IQM on one scenario, with its 95% interval."""

    scenario: str
    score: Interval


@dataclass(frozen=True)
class EntryScore:
    """An entry's place on the board."""

    rank: int
    name: str
    score: Interval
    """IQM of the normalised scores over all (scenario, episode), 95% stratified bootstrap."""
    per_scenario: tuple[ScenarioScore, ...]
    improvement: Interval | None
    """P(this entry beats ``versus`` on an episode), averaged over scenarios; None without one."""
    versus: str | None
    """The best-scoring baseline other than this entry."""
    baseline: bool


# ---------------------------------------------------------------------------- loading


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)


def _need(where: str, mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if key not in mapping:
        raise ResultsError(f"{where}: missing field {what}{key!r}")
    value = mapping[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ResultsError(f"{where}: field {what}{key!r} must be {_kind_name(kind)}, got a bool")
    if not isinstance(value, kind):
        raise ResultsError(f"{where}: field {what}{key!r} must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
                        bool: "true or false", type(None): "null"}.get(k, k.__name__) for k in kinds)  # fmt: skip


def _readonly(values: Iterable[float]) -> np.ndarray:
    array = np.asarray(list(values), dtype=np.float64)
    array.setflags(write=False)
    return array


def load_entry(results_dir: str | os.PathLike[str]) -> BoardEntry:
    """Read ``results_dir/results.json`` and the logs of its successful episodes.

    Checks the schema, the fields the board uses and their types, that each log lies
    inside the folder, matches its recorded SHA-256 and holds ``response_times``. Raises
    :class:`ResultsError` naming the file on any problem. Whether the result may go on
    the board (official, complete, no failures) is :func:`admission_problem`'s question.
    """
    root = Path(results_dir)
    path = root / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ResultsError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        results = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    where = str(path)
    if not isinstance(results, dict):
        raise ResultsError(f"{where}: the top level must be an object")
    schema = _need(where, results, "schema", str, "")
    if schema != SCHEMA:
        raise ResultsError(f"{where}: schema {schema!r} is not {SCHEMA!r}")
    submission = _need(where, results, "submission", dict, "")
    name = _need(where, submission, "name", str, "submission.")
    if not name.strip():
        raise ResultsError(f"{where}: field submission.'name' is empty")
    for key in ("authors", "links"):
        items = _need(where, submission, key, list, "submission.")
        if not all(isinstance(item, str) for item in items):
            raise ResultsError(f"{where}: field submission.{key!r} must be a list of strings")
    _need(where, submission, "track", str, "submission.")
    budget = _need(where, submission, "training_budget", int, "submission.")
    if budget < 0:
        raise ResultsError(f"{where}: field submission.'training_budget' is negative")
    evaluation_set = _need(where, results, "evaluation_set", dict, "")
    _need(where, evaluation_set, "track", str, "evaluation_set.")
    _need(where, evaluation_set, "version", str, "evaluation_set.")
    _need(where, results, "official", bool, "")
    _need(where, results, "complete", bool, "")
    finished = _need(where, results, "finished", str, "")
    try:
        _parse_time(finished)
    except ValueError:
        raise ResultsError(f"{where}: field 'finished' is not an ISO-8601 time: {finished!r}") from None
    failure = _need(where, results, "failure", (dict, type(None)), "")
    if failure is not None:
        _need(where, failure, "reason", str, "failure.")
    scenarios = _need(where, results, "scenarios", dict, "")
    if not scenarios:
        raise ResultsError(f"{where}: no scenarios")
    for key, spec in scenarios.items():
        if not isinstance(spec, dict):
            raise ResultsError(f"{where}: scenarios[{key!r}] must be an object")
        _need(where, spec, "spec_fingerprint", str, f"scenarios[{key!r}].")
        _need(where, spec, "trace_checksum", str, f"scenarios[{key!r}].")
    episodes = _need(where, results, "episodes", list, "")

    returns: dict[str, list[tuple[int, float]]] = {k: [] for k in scenarios}
    metrics: dict[str, list[tuple[int, dict[str, float]]]] = {k: [] for k in scenarios}
    responses: dict[str, list[np.ndarray]] = {k: [] for k in scenarios}
    seen: set[tuple[str, int]] = set()
    base = root.resolve()
    for i, episode in enumerate(episodes):
        at = f"episodes[{i}]."
        if not isinstance(episode, dict):
            raise ResultsError(f"{where}: episodes[{i}] must be an object")
        scenario = _need(where, episode, "scenario", str, at)
        if scenario not in scenarios:
            raise ResultsError(f"{where}: episodes[{i}] names scenario {scenario!r}, which is not in 'scenarios'")
        seed = _need(where, episode, "seed", int, at)
        if (scenario, seed) in seen:
            raise ResultsError(f"{where}: episodes[{i}] repeats scenario {scenario!r} seed {seed}")
        seen.add((scenario, seed))
        status = _need(where, episode, "status", str, at)
        if status not in ("ok", "failed"):
            raise ResultsError(f"{where}: episodes[{i}].'status' must be 'ok' or 'failed', got {status!r}")
        if status != "ok":
            continue
        values = _need(where, episode, "metrics", dict, at)
        row = {}
        for metric in BOARD_METRICS:
            if values.get(metric, 0) is None:  # undefined, written as null (no task was dispatched)
                row[metric] = math.nan
                continue
            value = _need(where, values, metric, (int, float), f"{at}metrics.")
            row[metric] = float(value)
        episode_return = float(_need(where, episode, "episode_return", (int, float), at))
        if not math.isfinite(episode_return):
            raise ResultsError(f"{where}: episodes[{i}].'episode_return' is not finite")
        log = _need(where, episode, "log", str, at)
        digest = _need(where, episode, "log_sha256", str, at)
        responses[scenario].append(_read_log(where, i, base, log, digest))
        returns[scenario].append((seed, episode_return))
        metrics[scenario].append((seed, row))

    ordered = {k: sorted(v) for k, v in returns.items()}
    return BoardEntry(
        name=name,
        results_dir=root,
        results=MappingProxyType(results),
        response_times=MappingProxyType(
            {k: _readonly(np.concatenate(v) if v else ()) for k, v in sorted(responses.items())}
        ),
        returns=MappingProxyType({k: _readonly(r for _, r in v) for k, v in sorted(ordered.items())}),
        episode_metrics=MappingProxyType(
            {
                k: MappingProxyType(
                    {m: _readonly(row[m] for _, row in sorted(v, key=lambda t: t[0])) for m in BOARD_METRICS}
                )
                for k, v in sorted(metrics.items())
            }
        ),
    )


def _read_log(where: str, index: int, base: Path, log: str, digest: str) -> np.ndarray:
    """One episode's per-task response times, after checking where the log is and its hash."""
    path = (base / log).resolve()
    if not path.is_relative_to(base):
        raise ResultsError(f"{where}: episodes[{index}].'log' {log!r} points outside the results folder")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ResultsError(f"{path}: cannot read the log of episodes[{index}] ({err.strerror or err})") from None
    if hashlib.sha256(data).hexdigest() != digest.lower():
        raise ResultsError(f"{path}: SHA-256 differs from episodes[{index}].'log_sha256' in {where}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if "response_times" not in npz.files:
                raise ResultsError(f"{path}: no 'response_times' array")
            times = np.asarray(npz["response_times"], dtype=np.float64)
    except ResultsError:
        raise
    except Exception as err:  # a corrupt archive raises any of several numpy/zipfile errors
        raise ResultsError(f"{path}: not a readable .npz log ({type(err).__name__}: {err})") from None
    if times.ndim != 1 or not np.all(np.isfinite(times)):
        raise ResultsError(f"{path}: 'response_times' must be a 1-D array of finite seconds")
    return times


def admission_problem(entry: BoardEntry) -> str | None:
    """Why the board refuses this result (unofficial or ``--quick``, partial, failed, a
    scenario without episodes, a track mismatch), or None when it may go on the board.
    Replay verification is ``eat-bench verify``'s job and happens before this."""
    results = entry.results
    if results["failure"] is not None:
        failure = results["failure"]
        return f"failed: {failure['reason']}" + (f" ({failure['detail']})" if failure.get("detail") else "")
    if not results["official"]:
        return "unofficial (a --quick or otherwise non-official run)"
    if not results["complete"]:
        return "partial: the evaluation set was not completed"
    failed = [e for e in results["episodes"] if e.get("status") != "ok"]
    if failed:
        first = failed[0]
        return f"{len(failed)} failed episode(s), first {first.get('scenario')} seed {first.get('seed')}"
    empty = [k for k in entry.scenarios if entry.returns[k].size == 0]
    if empty:
        return f"no episodes for scenario(s) {', '.join(empty)}"
    if entry.submission["track"] != entry.evaluation_set[0]:
        return f"submission track {entry.submission['track']!r} differs from the evaluation set's {entry.evaluation_set[0]!r}"
    return None


def collect_entries(
    results_dirs: Iterable[str | os.PathLike[str]], verify: Callable[[Path], str | None] | None = None
) -> tuple[list[BoardEntry], list[tuple[str, str]]]:
    """Load each folder; return (accepted entries, refused (name, reason) pairs).

    ``verify(folder)`` returns why a result fails replay verification, or None; a folder
    that cannot be loaded is refused under its folder name. Nothing here raises for one
    bad folder.
    """
    entries: list[BoardEntry] = []
    refused: list[tuple[str, str]] = []
    for folder in results_dirs:
        folder = Path(folder)
        try:
            entry = load_entry(folder)
        except ResultsError as err:
            refused.append((folder.name, f"unreadable: {err}"))
            continue
        problem = admission_problem(entry)
        if problem is None and verify is not None:
            failed = verify(folder)
            problem = None if failed is None else f"unverified: {failed}"
        if problem is None:
            entries.append(entry)
        else:
            refused.append((entry.name, problem))
    return entries, refused


# ---------------------------------------------------------------------------- scoring


def _by_name(entries: Sequence[BoardEntry]) -> dict[str, BoardEntry]:
    named: dict[str, BoardEntry] = {}
    for entry in entries:
        if entry.name in named:
            raise ValueError(
                f"two entries are named {entry.name!r} ({named[entry.name].results_dir}, {entry.results_dir})"
            )
        named[entry.name] = entry
    return named


def normalised_returns(
    entries: Sequence[BoardEntry], random_name: str = RANDOM_AGENT, reference_name: str = REFERENCE_AGENT
) -> dict[str, dict[str, np.ndarray]]:
    """Each entry's per-scenario episode returns on the random = 0, reference = 1 scale."""
    named = _by_name(entries)
    for role, wanted in (("random", random_name), ("reference", reference_name)):
        if wanted not in named:
            raise ValueError(
                f"the {role} entry {wanted!r} is not among the entries ({', '.join(sorted(named)) or 'none'}); "
                "the board normalises every score by it"
            )
    scenarios = named[reference_name].scenarios
    for entry in entries:
        if entry.scenarios != scenarios:
            raise ValueError(
                f"entry {entry.name!r} ran scenarios {list(entry.scenarios)}, the reference ran {list(scenarios)}"
            )
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in named}
    for scenario in scenarios:
        low = float(np.mean(named[random_name].returns[scenario]))
        high = float(np.mean(named[reference_name].returns[scenario]))
        try:
            for name, entry in named.items():
                out[name][scenario] = normalise(entry.returns[scenario], low, high)
        except ValueError as err:
            raise ValueError(f"scenario {scenario!r}: {err}") from None
    return out


def score_entries(
    entries: Sequence[BoardEntry],
    random_name: str = RANDOM_AGENT,
    reference_name: str = REFERENCE_AGENT,
    baselines: Collection[str] = DEFAULT_BASELINES,
    reps: int = 2000,
    seed: int = 0,
) -> list[EntryScore]:
    """Rank the entries by the IQM of their normalised scores (best first).

    Per scenario, returns are normalised so the random entry's mean is 0 and the
    reference's is 1; the aggregate is the IQM over every (scenario, episode) with a 95%
    stratified-bootstrap interval; each entry also gets per-scenario IQMs and its
    probability of improvement over the best-scoring baseline other than itself. Ties in
    the aggregate share a rank. Every bootstrap uses ``seed``, so the board is
    reproducible.
    """
    scores = normalised_returns(entries, random_name, reference_name)
    aggregate = {name: stratified_bootstrap(s, iqm, reps, 0.95, seed) for name, s in scores.items()}
    order = sorted(scores, key=lambda name: (-aggregate[name].point, name))
    ranked = []
    for position, name in enumerate(order):
        rank = position + 1
        if position and aggregate[name].point == aggregate[order[position - 1]].point:
            rank = ranked[-1].rank
        rivals = [other for other in order if other in baselines and other != name]
        versus = rivals[0] if rivals else None  # order is best first
        improvement = (
            probability_of_improvement(scores[name], scores[versus], reps, 0.95, seed) if versus is not None else None
        )
        per_scenario = tuple(
            ScenarioScore(k, stratified_bootstrap({k: v}, iqm, reps, 0.95, seed))
            for k, v in sorted(scores[name].items())
        )
        ranked.append(EntryScore(rank, name, aggregate[name], per_scenario, improvement, versus, name in baselines))
    return ranked


# ---------------------------------------------------------------------------- writing


def _admit(
    entries: Sequence[BoardEntry], refused: Sequence[tuple[str, str]], random_name: str, reference_name: str
) -> tuple[list[BoardEntry], list[tuple[str, str]]]:
    """Split the entries into those the board shows and more refusals: inadmissible
    results, repeated names, and results from another evaluation set, traces or seeds
    than the reference's. Missing random or reference entries are an error."""
    kept: list[BoardEntry] = []
    out = list(refused)
    names: set[str] = set()
    for entry in entries:
        problem = admission_problem(entry)
        if problem is None and entry.name in names:
            problem = f"another result is already named {entry.name!r}"
        if problem is None:
            kept.append(entry)
            names.add(entry.name)
        else:
            out.append((entry.name, problem))
    named = {e.name: e for e in kept}
    for role, wanted in (("random", random_name), ("reference", reference_name)):
        if wanted not in named:
            raise ValueError(
                f"cannot build the board: the {role} entry {wanted!r} is missing or refused; every score is normalised by it"
            )
    reference = named[reference_name]
    # The spec fingerprint also covers the obs/action modes, which differ between fair
    # submissions; the workload is identified by the trace checksum and the episode seeds.
    workload = _workload(reference)
    board: list[BoardEntry] = []
    for entry in kept:
        theirs = _workload(entry)
        problem = None
        if entry.evaluation_set != reference.evaluation_set:
            problem = "evaluation set {} {} differs from the board's {} {}".format(
                *entry.evaluation_set, *reference.evaluation_set
            )
        elif theirs.keys() != workload.keys():
            problem = f"scenarios {sorted(theirs)} differ from the board's {sorted(workload)}"
        elif theirs != workload:
            changed = sorted(k for k in theirs if theirs[k] != workload[k])
            problem = f"trace checksums or episode seeds differ from the reference's for {', '.join(changed)}"
        if problem is None:
            board.append(entry)
        elif entry.name in (random_name, reference_name):
            raise ValueError(f"cannot build the board: the {entry.name!r} entry is unusable: {problem}")
        else:
            out.append((entry.name, problem))
    return board, sorted(out)


def _workload(entry: BoardEntry) -> dict[str, tuple[Any, tuple[int, ...]]]:
    """Per scenario: its trace checksum (None if not recorded) and the seeds of its episodes."""
    seeds: dict[str, list[int]] = {k: [] for k in entry.results["scenarios"]}
    for episode in entry.results["episodes"]:
        seeds[episode["scenario"]].append(episode["seed"])
    return {k: (spec.get("trace_checksum"), tuple(sorted(seeds[k]))) for k, spec in entry.results["scenarios"].items()}


def _fmt(value: float, digits: int = 2) -> str:
    """Fixed decimals with thousands separators; never ``-0.00`` for a value that rounds to 0."""
    return "n/a" if not math.isfinite(value) else f"{round(value, digits) + 0.0:,.{digits}f}"


def _interval(interval: Interval | None, digits: int = 2) -> str:
    if interval is None:
        return "n/a"
    return f"{_fmt(interval.point, digits)} [{_fmt(interval.low, digits)}, {_fmt(interval.high, digits)}]"


def _safe_link(url: str) -> str | None:
    """The URL when it is a plain http(s) link (so a submission cannot inject script or
    Markdown through its links), else None."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https") and parsed.netloc and not re.search(r"[\s<>()\[\]\"'`|\\]", url):
        return url
    return None


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def _rows(ranking: Sequence[EntryScore], named: Mapping[str, BoardEntry]) -> list[dict[str, Any]]:
    """One dict per ranked entry with the table's display values (shared by both outputs)."""
    rows = []
    for score in ranking:
        entry = named[score.name]
        links = [(urlparse(u).netloc, u) if _safe_link(u) else (u, None) for u in entry.submission["links"]]
        rows.append(
            {
                "rank": str(score.rank),
                "name": score.name,
                "baseline": score.baseline,
                "score": _interval(score.score),
                "improvement": "n/a"
                if score.improvement is None
                else f"{_interval(score.improvement)} vs {score.versus}",
                "improvement_interval": _interval(score.improvement),
                "versus": score.versus,
                "mean_latency": _fmt(entry.metric("mean_response_s")),
                "p95_latency": _fmt(entry.metric("p95_response_s")),
                "quality": _fmt(entry.metric("mean_quality_normalized"), 3),
                "slo": _fmt(100.0 * entry.metric("slo_attainment"), 1) + "%",
                "cold_starts": _fmt(entry.metric("cold_starts"), 1),
                "budget": f"{int(entry.submission['training_budget']):,}",
                "date": entry.date,
                "links": links,
                "authors": ", ".join(entry.submission["authors"]),
                "per_scenario": [_interval(s.score) for s in score.per_scenario],
            }
        )
    return rows


COLUMNS = (
    ("rank", "Rank"),
    ("name", "Name"),
    ("score", "Score: IQM [95% CI]"),
    ("improvement", "P(beats best baseline) [95% CI]"),
    ("mean_latency", "Mean latency (s)"),
    ("p95_latency", "p95 latency (s)"),
    ("quality", "Quality (normalised)"),
    ("slo", "SLO attainment"),
    ("cold_starts", "Cold starts / episode"),
    ("budget", "Training budget (steps)"),
    ("date", "Date"),
    ("links", "Links"),
)
_NUMERIC = {"rank", "mean_latency", "p95_latency", "quality", "slo", "cold_starts", "budget"}


def _reading(random_name: str, reference_name: str, reps: int, seed: int) -> list[str]:
    """How to read the board, one paragraph each (backticks mark code)."""
    return [
        f"**Score.** Per scenario, each episode's return is rescaled so that the mean return of `{random_name}` "
        f"is 0 and that of the reference heuristic `{reference_name}` is 1; above 1 beats the reference, below 0 "
        "is worse than random.",
        "**Aggregate.** The score is the interquartile mean (IQM: the mean of the middle 50%) of the normalised "
        "scores of every (scenario, episode); it is robust to a few outlying episodes yet uses half of the data.",
        f"**Intervals.** Brackets are 95% percentile intervals from a stratified bootstrap ({reps} resamples of "
        f"episodes within each scenario, seed {seed}). Entries whose intervals overlap much are not reliably ordered "
        "by rank alone.",
        "**Probability of improvement.** The chance that this entry beats the best other baseline on an episode "
        "of a random scenario (ties count half); 0.5 means neither is better, and an interval above 0.5 is a "
        "reliable improvement.",
        "**Other columns.** Means over all evaluation episodes of the episode metrics: mean and 95th-percentile "
        "response time, mean image quality, the fraction of tasks finished within their SLO, and cold starts per "
        "episode. The date is when the evaluation finished; the training budget is as declared by the submission.",
        "Every result was evaluated in isolation on the frozen evaluation set and replayed by `eat-bench verify`; "
        f"the definitions and references are in `{DOCS}` (Agarwal et al., 2021, *Deep Reinforcement Learning at "
        "the Edge of the Statistical Precipice*, NeurIPS).",
    ]


def _markdown(
    ranking: Sequence[EntryScore],
    rows: Sequence[dict[str, Any]],
    refused: Sequence[tuple[str, str]],
    header: dict[str, str],
    scenarios: Sequence[str],
    reading: Sequence[str],
) -> str:
    lines = [
        f"# eat-bench leaderboard: {header['track']} track",
        "",
        f"Evaluation set `{header['track']}` version `{header['version']}`: {len(scenarios)} scenarios, "
        f"{header['episodes']} episodes per entry. Updated {header['date']}. {len(rows)} entries; "
        "† marks a shipped baseline.",
        "",
        "## Ranking",
        "",
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "|".join("---:" if key in _NUMERIC else "---" for key, _ in COLUMNS) + "|",
    ]
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            if key == "name":
                cells.append(_md(row["name"]) + (" †" if row["baseline"] else ""))
            elif key == "links":
                cells.append(
                    ", ".join(f"[{_md(label)}]({url})" if url else _md(label) for label, url in row["links"]) or ""
                )
            elif key == "improvement" and row["versus"] is not None:
                cells.append(f"{row['improvement_interval']} vs {_md(row['versus'])}")
            else:
                cells.append(row[key])  # numbers and dates formatted here, nothing from a submission
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Per-scenario scores",
        "",
        "Normalised IQM over the scenario's episodes [95% CI].",
        "",
        "| Rank | Name | " + " | ".join(f"`{_md(k)}`" for k in scenarios) + " |",
        "|---:|---|" + "---|" * len(scenarios),
    ]
    for row in rows:
        lines.append(f"| {row['rank']} | {_md(row['name'])} | " + " | ".join(row["per_scenario"]) + " |")
    lines += ["", "## Refused", ""]
    if refused:
        lines += ["Results the board did not accept.", "", "| Name | Reason |", "|---|---|"]
        lines += [f"| {_md(name)} | {_md(reason)} |" for name, reason in refused]
    else:
        lines.append("None.")
    lines += ["", "## How to read the board", ""]
    for paragraph in reading:
        lines += [paragraph, ""]
    return "\n".join(lines)


_CSS = """
:root { --ink:#1d2430; --muted:#5b6576; --line:#dde2ea; --head:#f3f5f9; --accent:#2f5fb3; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       color:var(--ink); background:#fff; }
header { background:#16213a; color:#fff; padding:28px 40px 22px; }
header h1 { margin:0 0 6px; font-size:26px; font-weight:650; letter-spacing:.2px; }
header p { margin:0; color:#c9d3e6; }
header code { background:#2a3757; color:#fff; }
main { padding:24px 40px 48px; max-width:1600px; }
h2 { font-size:19px; margin:34px 0 10px; padding-bottom:6px; border-bottom:1px solid var(--line); }
.table-wrap { overflow-x:auto; border:1px solid var(--line); border-radius:6px; }
table { border-collapse:collapse; width:100%; font-size:13.5px; }
th, td { padding:7px 9px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
th { background:var(--head); font-weight:600; color:#2c3442; position:sticky; top:0; white-space:normal;
     vertical-align:bottom; font-size:12.5px; line-height:1.3; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tbody tr:nth-child(even) { background:#fafbfd; }
tbody tr:hover { background:#eef3fb; }
td.name { font-weight:600; }
.badge { display:inline-block; margin-left:6px; padding:0 6px; border-radius:9px; font-size:11px; font-weight:500;
         background:#e6ecf7; color:var(--accent); vertical-align:1px; }
.authors { display:block; font-weight:400; color:var(--muted); font-size:12px; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
code { font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; background:#f1f3f7; padding:1px 4px;
       border-radius:3px; }
figure { margin:18px 0 26px; } figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px; }
figcaption { color:var(--muted); font-size:13px; margin-top:6px; }
.reading p { max-width:980px; }
footer { color:var(--muted); font-size:12.5px; padding:0 40px 30px; }
"""

_FIGURE_CAPTIONS = {
    "scores.png": "Normalised scores: IQM with 95% stratified-bootstrap intervals, over all scenarios and per "
    "scenario. Dashed lines mark random (0) and the reference (1).",
    "latency_cdf.png": "Response-time CDFs: every completed task of every evaluation episode, per scenario.",
    "latency_quality.png": "Latency-quality frontier: each entry's mean response time against its mean quality, "
    "per scenario; the dashed line joins the entries no other beats on both.",
}


def _inline(text: str) -> str:
    """Escape, then render the **bold** and `code` marks of the reading paragraphs."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"\*(.+?)\*", r"<em>\1</em>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _html(
    rows: Sequence[dict[str, Any]],
    refused: Sequence[tuple[str, str]],
    header: dict[str, str],
    scenarios: Sequence[str],
    reading: Sequence[str],
    figures: Sequence[str],
) -> str:
    e = html.escape
    head = "".join(f'<th class="{"num" if k in _NUMERIC else ""}" scope="col">{e(t)}</th>' for k, t in COLUMNS)
    body = []
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            if key == "name":
                badge = '<span class="badge">baseline</span>' if row["baseline"] else ""
                authors = f'<span class="authors">{e(row["authors"])}</span>' if row["authors"] else ""
                cells.append(f'<td class="name" data-name="{e(row["name"])}">{e(row["name"])}{badge}{authors}</td>')
            elif key == "links":
                links = ", ".join(
                    f'<a href="{e(url)}" rel="nofollow noopener">{e(label)}</a>' if url else e(label)
                    for label, url in row["links"]
                )
                cells.append(f"<td>{links}</td>")
            else:
                cls = ' class="num"' if key in _NUMERIC else ""
                cells.append(f"<td{cls}>{e(row[key])}</td>")
        body.append(f'<tr data-rank="{e(row["rank"])}">' + "".join(cells) + "</tr>")
    scenario_head = "".join(f'<th class="num" scope="col"><code>{e(k)}</code></th>' for k in scenarios)
    scenario_body = "".join(
        f'<tr><td class="num">{e(r["rank"])}</td><td class="name">{e(r["name"])}</td>'
        + "".join(f'<td class="num">{e(v)}</td>' for v in r["per_scenario"])
        + "</tr>"
        for r in rows
    )
    if refused:
        refused_html = (
            '<div class="table-wrap"><table id="refused"><thead><tr><th>Name</th><th>Reason</th></tr></thead><tbody>'
            + "".join(f"<tr><td>{e(n)}</td><td>{e(r)}</td></tr>" for n, r in refused)
            + "</tbody></table></div>"
        )
    else:
        refused_html = '<p id="refused">None.</p>'
    figure_html = "".join(
        f'<figure><img src="figures/{e(name)}" alt="{e(name[:-4].replace("_", " "))}" loading="eager">'
        f"<figcaption>{e(_FIGURE_CAPTIONS[name])}</figcaption></figure>"
        for name in figures
    )
    title = f"eat-bench leaderboard: {header['track']} track"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{e(title)}</h1>
<p>Evaluation set <code>{e(header["track"])}</code> version <code>{e(header["version"])}</code> &middot;
{len(scenarios)} scenarios &middot; {e(header["episodes"])} episodes per entry &middot; {len(rows)} entries &middot;
updated {e(header["date"])}</p>
</header>
<main>
<h2>Ranking</h2>
<div class="table-wrap"><table id="ranking"><thead><tr>{head}</tr></thead><tbody>
{"".join(body)}
</tbody></table></div>
<h2>Figures</h2>
{figure_html}
<h2>Per-scenario scores</h2>
<p>Normalised IQM over the scenario's episodes [95% CI].</p>
<div class="table-wrap"><table id="per-scenario"><thead><tr><th class="num">Rank</th><th>Name</th>{scenario_head}</tr></thead>
<tbody>{scenario_body}</tbody></table></div>
<h2>Refused</h2>
{refused_html}
<h2>How to read the board</h2>
<div class="reading">{"".join(f"<p>{_inline(p)}</p>" for p in reading)}</div>
</main>
<footer>Generated by <code>eat-bench board</code>.</footer>
</body>
</html>
"""


def build_board(
    entries: Sequence[BoardEntry],
    out_dir: str | os.PathLike[str],
    refused: Sequence[tuple[str, str]] = (),
    baselines: Collection[str] = DEFAULT_BASELINES,
    date: str | None = None,
    random_name: str = RANDOM_AGENT,
    reference_name: str = REFERENCE_AGENT,
    reps: int = 2000,
    seed: int = 0,
    figures: bool = True,
) -> dict[str, Path]:
    """Write ``LEADERBOARD.md`` and ``site/index.html`` (with ``site/figures/*.png``
    unless ``figures`` is False) under ``out_dir``; return the written paths by their
    path relative to ``out_dir``.

    ``refused`` lists (name, reason) for results the caller did not accept; entries that
    are inadmissible here (see :func:`admission_problem`), repeat a name, or ran another
    evaluation set, traces or seeds than the reference are refused too. ``date``
    defaults to the latest evaluation date among the shown entries, so the same inputs
    give the same Markdown.
    """
    out = Path(out_dir)
    plotting = _require_plot() if figures else None
    shown, refusals = _admit(entries, refused, random_name, reference_name)
    ranking = score_entries(shown, random_name, reference_name, baselines, reps, seed)
    named = {e.name: e for e in shown}
    reference = named[reference_name]
    scenarios = list(reference.scenarios)
    episodes = sum(reference.returns[k].size for k in scenarios)
    header = {
        "track": reference.evaluation_set[0],
        "version": reference.evaluation_set[1],
        "episodes": str(episodes),
        "date": date or max(e.date for e in shown),
    }
    rows = _rows(ranking, named)
    reading = _reading(random_name, reference_name, reps, seed)
    written: dict[str, Path] = {}
    markdown = _markdown(ranking, rows, refusals, header, scenarios, reading)
    written[MARKDOWN] = write_atomic(out / MARKDOWN, markdown.encode("utf-8"))
    figure_names: list[str] = []
    if plotting is not None:
        for name, data in _render_figures(plotting, ranking, named, scenarios).items():
            written[f"site/figures/{name}"] = write_atomic(out / "site" / "figures" / name, data)
            figure_names.append(name)
    page = _html(rows, refusals, header, scenarios, reading, figure_names)
    written[PAGE] = write_atomic(out / PAGE, page.encode("utf-8"))
    return written


def _require_plot() -> Any:
    try:
        import matplotlib
        import seaborn
    except ImportError as err:
        raise ImportError(
            f'the board\'s figures need the plot extra ({err.name} is missing): pip install -e ".[plot]", '
            "or build_board(..., figures=False)"
        ) from None
    return matplotlib, seaborn


# ---------------------------------------------------------------------------- figures


def _grid(Figure: Any, panels: int, width: float, height: float, extra: int = 0) -> tuple[Any, list[Any]]:
    """A figure with ``panels`` axes in rows of at most 3, plus room for a legend below."""
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.25 * extra), layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def _png(fig: Any) -> bytes:
    """The figure as PNG bytes from the Agg canvas, without a version stamp."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _legend(fig: Any, axes: Sequence[Any], count: int) -> None:
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(count, 6), frameon=False, fontsize=9)


def _render_figures(
    plotting: Any, ranking: Sequence[EntryScore], named: Mapping[str, BoardEntry], scenarios: Sequence[str]
) -> dict[str, bytes]:
    """The three figures as PNG bytes, entries coloured alike in all of them (rank order)."""
    from eat_bench.baselines.plots import pareto_front

    _, sns = plotting
    from matplotlib.figure import Figure

    names = [s.name for s in ranking]
    palette = sns.color_palette("tab10" if len(names) <= 10 else "husl", n_colors=max(len(names), 1))
    colors = dict(zip(names, palette))
    out: dict[str, bytes] = {}
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        # Per-scenario and aggregate scores with intervals.
        fig, axes = _grid(Figure, len(scenarios) + 1, 4.6, 0.32 * len(names) + 1.6)
        panels = [("All scenarios (IQM)", [s.score for s in ranking])] + [
            (k, [s.per_scenario[i].score for s in ranking]) for i, k in enumerate(scenarios)
        ]
        for ax, (title, intervals) in zip(axes, panels):
            y = np.arange(len(names))
            for i, (name, interval) in enumerate(zip(names, intervals)):
                ax.errorbar(
                    interval.point, i, xerr=[[interval.point - interval.low], [interval.high - interval.point]],
                    fmt="o", color=colors[name], capsize=3, markersize=5,
                )  # fmt: skip
            for level in (0.0, 1.0):
                ax.axvline(level, color="0.45", lw=1, ls="--", zorder=0)
            ax.set_yticks(y, names)
            ax.set_ylim(len(names) - 0.5, -0.5)
            ax.set_title(title, fontweight="bold" if title.startswith("All") else "normal")
            ax.set_xlabel("normalised score (random 0, reference 1)")
        fig.suptitle("Normalised scores: IQM with 95% stratified-bootstrap intervals")
        out["scores.png"] = _png(fig)

        # Response-time CDFs.
        fig, axes = _grid(Figure, len(scenarios), 4.8, 3.6, extra=math.ceil(len(names) / 6))
        for ax, scenario in zip(axes, scenarios):
            spread = []
            for name in names:
                times = named[name].response_times[scenario]
                if times.size:
                    sns.ecdfplot(x=np.asarray(times), ax=ax, color=colors[name], label=name, lw=1.4)
                    spread.append((float(times.min()), float(times.max())))
            if spread and min(s[0] for s in spread) > 0 and max(s[1] for s in spread) > 20 * min(s[0] for s in spread):
                ax.set_xscale("log")
            ax.set_title(scenario)
            ax.set_xlabel("response time (s)")
            ax.set_ylabel("fraction of tasks")
        _legend(fig, axes, len(names))
        fig.suptitle("Response-time CDFs (all evaluation episodes)")
        out["latency_cdf.png"] = _png(fig)

        # Latency-quality frontier.
        fig, axes = _grid(Figure, len(scenarios), 4.8, 3.8, extra=math.ceil(len(names) / 6))
        for ax, scenario in zip(axes, scenarios):
            points = []
            for name in names:
                x = named[name].metric("mean_response_s", scenario)
                y = named[name].metric("mean_quality_normalized", scenario)
                if math.isfinite(x) and math.isfinite(y):
                    ax.scatter([x], [y], color=colors[name], label=name, s=36, zorder=3, edgecolor="white", lw=0.6)
                    ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7, color="0.25")
                    points.append((name, x, y))
            front = pareto_front(points)
            if len(front) > 1:
                ax.step([p[1] for p in front], [p[2] for p in front], where="post", color="0.4", ls="--", lw=1)
            ax.set_title(scenario)
            ax.set_xlabel("mean response time (s), lower is better")
            ax.set_ylabel("mean quality, higher is better")
        _legend(fig, axes, len(names))
        fig.suptitle("Latency-quality frontier (means over evaluation episodes)")
        out["latency_quality.png"] = _png(fig)
    return {name: out[name] for name in FIGURES}
