"""The evaluation loop and the results records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eat_bench.baselines.evaluation import (
    EVAL_SEED_BASE,
    EpisodeRecord,
    RunRecord,
    eval_seeds,
    evaluate,
    evaluate_multi,
    spec_fingerprint,
    trace_checksum,
)
from eat_bench.scenarios import get_scenario
from eat_bench.sim.metrics import EpisodeMetrics


def test_evaluate_records_each_episode_with_the_metric_names():
    records = evaluate("EAT-Edge-v0", "fcfs", [1, 2], env_kwargs={"num_tasks": 20})
    assert [r.seed for r in records] == [1, 2]
    first = records[0]
    assert first.scenario_id == "EAT-Edge-v0" and first.agent == "fcfs"
    assert set(first.metrics) == set(EpisodeMetrics.__dataclass_fields__)
    assert first.metrics["num_tasks"] == 20 and first.metrics["dispatched"] == 20
    assert first.env_steps >= 20 and not first.truncated
    assert first.spec_fingerprint == spec_fingerprint(get_scenario("EAT-Edge-v0").with_overrides(num_tasks=20))
    assert first.trace_checksum == trace_checksum("EAT-Edge-v0")
    # The same seed gives the same episode.
    assert evaluate("EAT-Edge-v0", "fcfs", [1], env_kwargs={"num_tasks": 20})[0] == first


def test_fingerprints_tell_specs_apart_and_ignore_history():
    from dataclasses import replace

    spec = get_scenario("EAT-Edge-v0")
    assert len(spec_fingerprint(spec)) == 16
    assert spec_fingerprint(spec) == spec_fingerprint(replace(spec, history=("another note",)))
    assert spec_fingerprint(spec) != spec_fingerprint(spec.with_overrides(arrival_rate=0.5))
    assert trace_checksum("EAT-Paper-v0") != trace_checksum("EAT-Edge-v0")


def test_run_record_round_trips_through_json_with_nan(tmp_path):
    episodes = evaluate("EAT-Edge-v0", "fcfs", [0], env_kwargs={"time_limit_s": 0.01})
    assert math.isnan(episodes[0].metrics["mean_response_s"])  # nothing was dispatched
    record = RunRecord(
        agent="fcfs",
        scenario_id="EAT-Edge-v0",
        spec_fingerprint=episodes[0].spec_fingerprint,
        train_seed=None,
        budget_steps=0,
        episodes=tuple(episodes),
        env_kwargs={"time_limit_s": 0.01},
        learning_curve=((100, 1.5, math.nan),),
    )
    text = record.to_json()
    assert json.loads(text)["episodes"][0]["metrics"]["mean_response_s"] is None  # strict JSON
    path = tmp_path / "runs" / "fcfs.json"
    record.write(path)
    assert path.read_text() == text and [p.name for p in path.parent.iterdir()] == ["fcfs.json"]
    again = RunRecord.read(path)
    assert again.to_json() == text
    assert math.isnan(again.episodes[0].metrics["mean_response_s"])
    assert again.summary()["dispatched"] == 0.0


def test_summary_is_the_mean_over_episodes():
    episodes = tuple(evaluate("EAT-Edge-v0", "sjf", [0, 1], env_kwargs={"num_tasks": 15}))
    record = RunRecord("sjf", "EAT-Edge-v0", episodes[0].spec_fingerprint, 0, 0, episodes)
    expected = (episodes[0].metrics["p95_response_s"] + episodes[1].metrics["p95_response_s"]) / 2
    assert record.summary()["p95_response_s"] == pytest.approx(expected)
    assert record.summary()["episode_return"] == pytest.approx(sum(e.episode_return for e in episodes) / 2)


def test_records_refuse_bad_data():
    with pytest.raises(ValueError, match="status"):
        RunRecord("a", "b", "c", None, 0, (), status="maybe")
    with pytest.raises(ValueError, match="missing"):
        EpisodeRecord.from_dict({"seed": 1})


def test_evaluation_seeds_are_disjoint_from_training_seeds():
    assert eval_seeds(3) == [EVAL_SEED_BASE, EVAL_SEED_BASE + 1, EVAL_SEED_BASE + 2]
    assert EVAL_SEED_BASE == 1_000_000


def test_evaluate_multi_uses_the_team_metrics():
    kwargs = dict(num_sites=2, servers_per_site=2, tasks_per_site=10)
    records = evaluate_multi(kwargs, "local-first", [0, 1])
    assert [r.seed for r in records] == [0, 1] and records[0].agent == "local-first"
    assert set(EpisodeMetrics.__dataclass_fields__) <= set(records[0].metrics)
    assert records[0].metrics["num_tasks"] == 20 and "conflicts" in records[0].metrics
    assert records == evaluate_multi(kwargs, "local-first", [0, 1])


# ---------------------------------------------------------------------- lockstep
class _Batched:
    """A heuristic that also acts in batches (one ``act`` per item): the lockstep path
    must play every episode exactly as the one-at-a-time path does."""

    def __init__(self, inner, needs_masks: bool = False) -> None:
        self.inner, self.needs_masks, self.batch_sizes = inner, needs_masks, []

    def reset(self, seed=None) -> None:
        self.inner.reset(seed)

    def act(self, observation, info):
        return self.inner.act(observation, info)

    def act_batch(self, observations, infos):
        self.batch_sizes.append(len(observations))
        return [self.inner.act(o, i) for o, i in zip(observations, infos)]


def _fcfs_agent():
    from eat_bench.baselines.agents import agent_env_kwargs, make_agent
    from eat_bench.baselines.evaluation import make_eval_env

    env = make_eval_env("EAT-Paper-v0", {**agent_env_kwargs("fcfs"), "num_tasks": 12})
    return env, make_agent("fcfs", env)


def test_lockstep_plays_each_episode_as_it_plays_alone():
    from eat_bench.baselines.evaluation import acts_in_batches

    seeds = [3, 4, 5]  # episodes of 1,088, 1,002 and 1,088 decisions
    alone = evaluate("EAT-Paper-v0", "fcfs", seeds, env_kwargs={"num_tasks": 12})
    env, inner = _fcfs_agent()
    batched = _Batched(inner)
    assert acts_in_batches(batched) and not acts_in_batches(inner)
    view = {"info_mode": "scheduler", "num_tasks": 12}
    together = evaluate("EAT-Paper-v0", "fcfs", seeds, env_kwargs=view, agent=batched)
    assert all(r.metrics["dispatched"] == 12 for r in together)
    assert together == alone
    # One call for all three until seed 4's episode ends, then for the other two.
    assert batched.batch_sizes == [3] * 1002 + [2] * 86


class _Masked:
    """Picks the first valid slot from the masks it is handed (a stand-in for a maskable
    SB3 model): alone it reads its env's masks, in lockstep it gets each env's."""

    needs_masks = True

    def __init__(self, env, with_masks_of: bool = True) -> None:
        self.env, self.batch_sizes = env, []
        if with_masks_of:
            self.masks_of = lambda env: np.asarray(env.unwrapped.action_masks(), dtype=bool)

    def reset(self, seed=None) -> None:
        pass

    def _choose(self, mask) -> np.ndarray:
        space = self.env.action_space
        action = np.zeros(len(space.nvec), dtype=np.int64)
        start = 0
        for k, n in enumerate(space.nvec):
            allowed = np.flatnonzero(mask[start : start + n])
            if k == 0 and (allowed > 0).any():
                allowed = allowed[allowed > 0]  # slot 0 is "wait": dispatch when something may go
            action[k] = allowed[0] if len(allowed) else 0
            start += n
        return action

    def act(self, observation, info):
        return self._choose(np.asarray(self.env.unwrapped.action_masks(), dtype=bool))

    def act_batch(self, observations, infos, masks=None):
        assert masks is not None and len(masks) == len(observations)
        self.batch_sizes.append(len(observations))
        return [self._choose(row) for row in masks]


def test_an_agent_that_needs_masks_gets_each_episodes_masks_in_lockstep():
    from eat_bench.baselines.evaluation import acts_in_batches, make_eval_env, play_episodes

    kwargs = {"num_tasks": 12, "action_mode": "discrete"}
    seeds = [3, 4, 5]
    env = make_eval_env("EAT-Paper-v0", kwargs)
    one_at_a_time = _Masked(env, with_masks_of=False)
    assert not acts_in_batches(one_at_a_time)
    alone = play_episodes(env, one_at_a_time, seeds, "x", lambda: make_eval_env("EAT-Paper-v0", kwargs))
    masked = _Masked(env)
    assert acts_in_batches(masked)
    together = play_episodes(env, masked, seeds, "x", lambda: make_eval_env("EAT-Paper-v0", kwargs))
    assert together == alone and masked.batch_sizes[0] == 3
    assert all(r.metrics["dispatched"] == 12 for r in together)


def test_lockstep_refuses_a_wrong_number_of_actions():
    from eat_bench.baselines.evaluation import Episode, make_eval_env, play_lockstep

    class _Short(_Batched):
        def act_batch(self, observations, infos):
            return super().act_batch(observations, infos)[:-1]

    env, inner = _fcfs_agent()
    other = make_eval_env("EAT-Paper-v0", {"info_mode": "scheduler", "num_tasks": 12})
    with pytest.raises(ValueError, match="act_batch returned 1 actions for 2 observations"):
        play_lockstep([Episode(env, 1), Episode(other, 2)], _Short(inner))
