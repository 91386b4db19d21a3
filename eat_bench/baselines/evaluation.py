"""The one evaluation loop and the one results record (``eat-bench run``, the suite and
the leaderboard all use them).

:func:`evaluate` plays an agent on a single-agent scenario for the given seeds and
returns one :class:`EpisodeRecord` per episode; :func:`evaluate_multi` does the same for
``edge_sites_v0`` with the cluster's (team) metrics. A :class:`RunRecord` gathers the
episodes of one (agent, env, training seed) run and reads and writes itself as JSON
(atomically: a temporary file in the same folder, then ``os.replace``).

Metric names are :meth:`eat_bench.sim.metrics.EpisodeMetrics.as_dict`'s everywhere.
Evaluation seeds are ``EVAL_SEED_BASE + i``; training seeds are small integers below it,
so the two never meet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import eat_bench
from eat_bench.scenarios import ScenarioSpec, get_scenario

__all__ = [
    "EVAL_SEED_BASE",
    "EpisodeRecord",
    "RunRecord",
    "spec_fingerprint",
    "trace_checksum",
    "make_eval_env",
    "Episode",
    "run_episode",
    "evaluate",
    "evaluate_multi",
    "run_multi_episode",
    "eval_seeds",
]

EVAL_SEED_BASE = 1_000_000
"""Evaluation episode i uses seed ``EVAL_SEED_BASE + i``; training seeds stay below it."""


def eval_seeds(episodes: int, base: int = EVAL_SEED_BASE) -> list[int]:
    """The seeds of ``episodes`` evaluation episodes."""
    return [base + i for i in range(episodes)]


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _none_to_nan(value: Any) -> Any:
    return math.nan if value is None else value


@dataclass(frozen=True)
class EpisodeRecord:
    """One evaluation episode: where, with what seed and agent, and what it achieved."""

    scenario_id: str
    spec_fingerprint: str
    seed: int
    agent: str
    metrics: dict[str, float]
    """:meth:`EpisodeMetrics.as_dict` at the episode's end."""
    episode_return: float
    env_steps: int
    truncated: bool
    package_version: str
    trace_checksum: str

    def row(self) -> dict[str, Any]:
        """The metrics plus ``episode_return``, ``env_steps`` and ``truncated`` (one flat row)."""
        return {
            **self.metrics,
            "episode_return": self.episode_return,
            "env_steps": self.env_steps,
            "truncated": self.truncated,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN and infinities as None)."""
        out = dataclasses.asdict(self)
        out["metrics"] = {k: _nan_to_none(v) for k, v in self.metrics.items()}
        out["episode_return"] = _nan_to_none(self.episode_return)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = names - set(d)
        if missing:
            raise ValueError(f"EpisodeRecord: missing field(s) {sorted(missing)}")
        data = {k: d[k] for k in names}
        data["metrics"] = {k: _none_to_nan(v) for k, v in d["metrics"].items()}
        data["episode_return"] = float(_none_to_nan(d["episode_return"]))
        return cls(**data)


@dataclass(frozen=True)
class RunRecord:
    """One (agent, env, training seed) run of the suite, or one ``eat-bench run``."""

    agent: str
    scenario_id: str
    spec_fingerprint: str
    train_seed: int | None
    budget_steps: int
    episodes: tuple[EpisodeRecord, ...]
    status: str = "ok"
    """"ok" or "failed"."""
    error: str = ""
    """"" or the failure's traceback."""
    wall_s: float = 0.0
    package_version: str = eat_bench.__version__
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    learning_curve: tuple[tuple[int, float, float], ...] = ()
    """(env steps, mean return, mean response s) measured during training."""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """The learner's hyper-parameter overrides, over its YAML file (empty: none, or a heuristic)."""

    def __post_init__(self) -> None:
        if self.status not in ("ok", "failed"):
            raise ValueError(f"RunRecord.status must be 'ok' or 'failed', got {self.status!r}")

    def summary(self) -> dict[str, float]:
        """Mean over the episodes of each metric, ``episode_return`` and ``env_steps``
        (NaN when an episode has NaN, e.g. no dispatch; empty for no episodes)."""
        rows = [e.row() for e in self.episodes]
        if not rows:
            return {}
        return {k: float(sum(float(r[k]) for r in rows) / len(rows)) for k in rows[0]}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["episodes"] = [e.to_dict() for e in self.episodes]
        out["learning_curve"] = [[s, _nan_to_none(r), _nan_to_none(t)] for s, r, t in self.learning_curve]
        return out

    def to_json(self) -> str:
        """Strict JSON (keys sorted, NaN as null): the same record gives the same bytes."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"RunRecord: unknown field(s) {sorted(unknown)}")
        data = dict(d)
        data["episodes"] = tuple(EpisodeRecord.from_dict(e) for e in d.get("episodes", ()))
        data["learning_curve"] = tuple(
            (int(s), float(_none_to_nan(r)), float(_none_to_nan(t))) for s, r, t in d.get("learning_curve", ())
        )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls.from_dict(json.loads(text))

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON atomically: a temporary file in the same folder, flushed to
        disk, then renamed over ``path`` (a reader sees the old file or the new one)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.to_json()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RunRecord:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------- fingerprints
def _resolve(spec: ScenarioSpec | str) -> ScenarioSpec:
    return get_scenario(spec) if isinstance(spec, str) else spec


def spec_fingerprint(spec: ScenarioSpec | str) -> str:
    """16 hex characters of the sha256 of the frozen spec's canonical repr (its
    ``history`` notes left out: they do not change what the scenario means), plus its
    ``paper_rules`` when set (not in the repr, so that older specs keep their prints)."""
    spec = dataclasses.replace(_resolve(spec), history=())
    text = repr(spec) if spec.paper_rules is None else f"{spec!r}+{spec.paper_rules!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trace_checksum(spec: ScenarioSpec | str) -> str:
    """16 hex characters of the sha256 of the scenario's trace CSV bytes."""
    from eat_bench.sim.profiles import load_trace

    path = load_trace(_resolve(spec).trace).path
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------------- single agent
def make_eval_env(env_id_or_spec: str | ScenarioSpec, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """The env an evaluation runs in: ``gym.make(id, **env_kwargs)``, or for a spec the
    env itself behind gymnasium's ``TimeLimit`` (when the spec sets a step limit)."""
    kwargs = dict(env_kwargs or {})
    if isinstance(env_id_or_spec, str):
        return gym.make(env_id_or_spec, **kwargs)
    from eat_bench.envs.single_agent import EatEdgeEnv

    limit = kwargs.pop("max_episode_steps", env_id_or_spec.max_episode_steps)
    env: gym.Env = EatEdgeEnv(env_id_or_spec, **kwargs)
    return gym.wrappers.TimeLimit(env, limit) if limit else env


class Episode:
    """One episode in progress: ``reset(seed)`` at construction, then :meth:`step` with
    each action until it returns True, then :meth:`record`. :func:`run_episode` drives
    one; the leaderboard drives several in lockstep for agents that act in batches."""

    def __init__(self, env: gym.Env, seed: int) -> None:
        self.env = env
        self.seed = int(seed)
        self.observation, self.info = env.reset(seed=seed)
        self.total, self.steps = 0.0, 0
        self.terminated = self.truncated = False

    def step(self, action: Any) -> bool:
        """Apply ``action``; True once the episode has ended."""
        self.observation, reward, self.terminated, self.truncated, self.info = self.env.step(action)
        self.total += float(reward)
        self.steps += 1
        return bool(self.terminated or self.truncated)

    def record(self, agent_name: str) -> EpisodeRecord:
        base = self.env.unwrapped
        spec = base.spec_scenario
        return EpisodeRecord(
            scenario_id=spec.id,
            spec_fingerprint=spec_fingerprint(spec),
            seed=self.seed,
            agent=agent_name,
            metrics=base.episode_metrics().as_dict(),
            episode_return=self.total,
            env_steps=self.steps,
            truncated=bool(self.truncated and not self.terminated),
            package_version=eat_bench.__version__,
            trace_checksum=trace_checksum(spec),
        )


def run_episode(env: gym.Env, agent: Any, seed: int, agent_name: str = "") -> EpisodeRecord:
    """Play one episode of ``agent`` in ``env`` from ``reset(seed=seed)``."""
    agent.reset(seed)
    episode = Episode(env, seed)
    while not episode.step(agent.act(episode.observation, episode.info)):
        pass
    return episode.record(agent_name or type(agent).__name__)


def acts_in_batches(agent: Any) -> bool:
    """Whether ``agent`` can act for several episodes at once: it has ``act_batch``, and
    an agent that ``needs_masks`` (a maskable SB3 model) also has ``masks_of(env)``, which
    reads one env's action masks the way the agent does. Such an agent is reset with every seed before
    the first decision, so it must not carry state from one decision to the next (a
    deterministic policy; the SB3 agents' ``act_batch`` is)."""
    if not callable(getattr(agent, "act_batch", None)):
        return False
    return not getattr(agent, "needs_masks", False) or callable(getattr(agent, "masks_of", None))


def play_lockstep(
    episodes: Sequence[Episode],
    agent: Any,
    on_action: Callable[[int, Any], None] | None = None,
    on_finish: Callable[[int], None] | None = None,
) -> None:
    """Play ``episodes`` (each in its own env) to their ends together: one
    ``agent.act_batch(observations, infos)`` per step for the unfinished ones, so a torch
    policy runs one forward pass for all of them (an agent that ``needs_masks`` gets
    ``masks=`` too, from each env's ``action_masks``). ``on_action(i, action)`` sees each
    action before it is applied, ``on_finish(i)`` each episode as it ends. Every episode
    plays exactly as :func:`run_episode` would play it alone (each env is its own)."""
    masked = bool(getattr(agent, "needs_masks", False))
    active = list(range(len(episodes)))
    while active:
        observations, infos = [episodes[i].observation for i in active], [episodes[i].info for i in active]
        if masked:  # each episode's env's own masks, one row per observation
            masks = np.stack([agent.masks_of(episodes[i].env) for i in active])
            actions = list(agent.act_batch(observations, infos, masks=masks))
        else:
            actions = list(agent.act_batch(observations, infos))
        if len(actions) != len(active):
            raise ValueError(f"act_batch returned {len(actions)} actions for {len(active)} observations")
        unfinished = []
        for i, action in zip(active, actions):
            if on_action is not None:
                on_action(i, action)
            if episodes[i].step(action):
                if on_finish is not None:
                    on_finish(i)
            else:
                unfinished.append(i)
        active = unfinished


def play_episodes(
    env: gym.Env,
    agent: Any,
    seeds: Sequence[int],
    agent_name: str,
    make_env: Callable[[], gym.Env],
    on_finish: Callable[[int, gym.Env], None] | None = None,
) -> list[EpisodeRecord]:
    """One episode per seed: in lockstep (an env from ``make_env`` per extra seed) when
    the agent :func:`acts_in_batches`, else one after another in ``env``. The records
    come in seed order either way; ``on_finish(k, env)`` sees the k-th seed's env as
    its episode ends (e.g. to read its per-task records)."""
    if not acts_in_batches(agent) or len(seeds) < 2:
        records = []
        for k, seed in enumerate(seeds):
            records.append(run_episode(env, agent, seed, agent_name))
            if on_finish is not None:
                on_finish(k, env)
        return records
    envs = [env] + [make_env() for _ in seeds[1:]]
    try:
        for seed in seeds:
            agent.reset(seed)
        episodes = [Episode(e, seed) for e, seed in zip(envs, seeds)]
        play_lockstep(episodes, agent, on_finish=None if on_finish is None else lambda i: on_finish(i, envs[i]))
        return [episode.record(agent_name) for episode in episodes]
    finally:
        for extra in envs[1:]:
            extra.close()


def evaluate(
    env_id_or_spec: str | ScenarioSpec,
    agent_name_or_path: str,
    seeds: Sequence[int],
    env_kwargs: dict[str, Any] | None = None,
    agent: Any | None = None,
) -> list[EpisodeRecord]:
    """THE evaluation loop: one episode per seed of the agent (a registered name or a
    saved model's path; or ``agent`` itself, with the name used in the records).

    The env is made with what the agent needs (:func:`agent_env_kwargs`, e.g.
    ``info_mode="scheduler"``) under the caller's ``env_kwargs`` (which win). An agent
    with ``act_batch`` plays every seed at once (:func:`play_episodes`)."""
    from eat_bench.baselines.agents import agent_env_kwargs, make_agent

    kwargs = {**(agent_env_kwargs(agent_name_or_path) if agent is None else {}), **(env_kwargs or {})}
    env = make_eval_env(env_id_or_spec, kwargs)
    try:
        if agent is None:
            agent = make_agent(agent_name_or_path, env)
        return play_episodes(env, agent, seeds, agent_name_or_path, lambda: make_eval_env(env_id_or_spec, kwargs))
    finally:
        env.close()


# ---------------------------------------------------------------------- multi-agent
def run_multi_episode(
    env: Any, agent: Any, seed: int, agent_name: str, fingerprint: str = "", checksum: str = ""
) -> EpisodeRecord:
    """Play one episode of ``edge_sites_v0`` (a parallel env) from ``reset(seed=seed)``
    with a :class:`~eat_bench.baselines.agents.MultiAgent`: the cluster's metrics plus
    ``conflicts``, and the team's return per agent."""
    spec = env.scenario
    agent.reset(seed)
    observations, infos = env.reset(seed=seed)
    agents = list(env.agents)
    total, steps, conflicts, truncated = 0.0, 0, 0, False
    while env.agents:
        observations, rewards, terms, truncs, infos = env.step(agent.act(observations, infos))
        total += sum(rewards.values()) / len(agents)
        steps += 1
        conflicts += sum(1 for a in agents if infos[a]["conflict"])
        truncated = any(truncs.values()) and not any(terms.values())
    metrics = env.episode_metrics().as_dict()
    metrics["conflicts"] = conflicts
    return EpisodeRecord(
        scenario_id=spec.id,
        spec_fingerprint=fingerprint or spec_fingerprint(spec),
        seed=int(seed),
        agent=agent_name,
        metrics=metrics,
        episode_return=total,
        env_steps=steps,
        truncated=truncated,
        package_version=eat_bench.__version__,
        trace_checksum=checksum or trace_checksum(spec),
    )


def evaluate_multi(
    env_kwargs: dict[str, Any],
    policy: str | Any | Callable[[Any, Any], Any],
    seeds: Sequence[int],
    agent_name: str = "",
) -> list[EpisodeRecord]:
    """Episodes of ``edge_sites_v0`` (``parallel_env(**env_kwargs)``), one per seed.

    ``policy``: a :data:`~eat_bench.baselines.agents.MULTI_AGENTS` name, a
    :class:`~eat_bench.baselines.agents.MultiAgent`, or a shared-policy callable
    ``(stacked observations, stacked flat masks) -> stacked actions`` / an SB3 model.
    The metrics are the whole cluster's (``team_metrics``) plus ``conflicts``; the
    return is the team's per agent (the mean over agents of each step's rewards)."""
    from eat_bench.baselines.agents import MultiAgent, SharedPolicyAgent, make_multi_agent
    from eat_bench.envs import edge_sites_v0

    env = edge_sites_v0.parallel_env(**env_kwargs)
    if isinstance(policy, str):
        name = agent_name or policy
        agent = make_multi_agent(policy, env)
    elif isinstance(policy, MultiAgent):
        name = agent_name or type(policy).__name__
        agent = policy
    else:
        name = agent_name or "shared-policy"
        agent = SharedPolicyAgent(policy)
    spec = env.scenario
    fingerprint, checksum = spec_fingerprint(spec), trace_checksum(spec)
    try:
        return [run_multi_episode(env, agent, seed, name, fingerprint, checksum) for seed in seeds]
    finally:
        env.close()
