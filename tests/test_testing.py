"""Tests for eat_bench.testing: the lockstep determinism checks."""

from __future__ import annotations

import random
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import eat_bench  # noqa: F401  (registers the ids)
from eat_bench.envs import edge_sites_v0
from eat_bench.testing import check_determinism, check_seed_changes_trajectory, first_difference

MULTI = dict(num_sites=3, servers_per_site=2, tasks_per_site=12)


class NoisyReward(gym.Wrapper):
    """Non-deterministic on purpose: from step ``after`` on, rewards get noise from the global ``random``."""

    def __init__(self, env: gym.Env, after: int) -> None:
        super().__init__(env)
        self.after, self.t = after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t > self.after:
            reward = float(reward) + random.random()
        return obs, reward, terminated, truncated, info


class NoisyInfo(edge_sites_v0.EdgeSitesEnv):
    """A parallel env whose ``time_s`` info of site_1 drifts by a global-``random`` amount after 5 steps."""

    t = 0

    def step(self, actions):
        out = super().step(actions)
        self.t += 1
        if self.t > 5 and "site_1" in out[4]:
            out[4]["site_1"] = dict(out[4]["site_1"], time_s=out[4]["site_1"]["time_s"] + random.random())
        return out


@pytest.mark.parametrize(
    "sid, kw, steps",
    [
        ("EAT-Edge-v0", {"action_mode": "discrete", "num_tasks": 10}, 150),
        ("EAT-Edge-v0", {"obs_mode": "dict", "action_mode": "continuous", "num_tasks": 10}, 150),
        ("EAT-Paper-v0", {"num_tasks": 4}, 1200),  # 0.1 s ticks: about 900 steps per episode
    ],
)
def test_single_agent_ids_are_deterministic_across_episodes(sid, kw, steps):
    report = check_determinism(lambda: gym.make(sid, **kw), steps=steps, seed=3)
    assert report.steps == steps and report.episodes >= 2


def test_parallel_env_is_deterministic_across_episodes():
    report = check_determinism(lambda: edge_sites_v0.parallel_env(**MULTI, max_cycles=40), steps=150, seed=2)
    assert report.steps == 150 and report.episodes >= 3


def test_parallel_env_with_per_component_masks_and_no_reseed():
    class TupleMasks(edge_sites_v0.EdgeSitesEnv):  # the 0.1 form of infos[agent]["action_mask"]
        def _tuple(self, infos):
            return {a: dict(i, action_mask=self.action_mask_parts(a)) for a, i in infos.items()}

        def reset(self, seed=None, options=None):
            obs, infos = super().reset(seed=seed, options=options)
            return obs, self._tuple(infos)

        def step(self, actions):
            *rest, infos = super().step(actions)
            return (*rest, self._tuple(infos))

    report = check_determinism(lambda: TupleMasks(**MULTI, max_cycles=40), steps=100, seed=2, reseed=False)
    assert report.episodes >= 2


def test_noisy_single_agent_env_fails_naming_the_step_and_field():
    with pytest.raises(AssertionError, match=r"step 7 \(episode 0\), field 'reward': "):
        check_determinism(lambda: NoisyReward(gym.make("EAT-Edge-v0", num_tasks=10), after=7), steps=50)


def test_noisy_parallel_env_fails_naming_the_step_agent_and_field():
    with pytest.raises(AssertionError, match=r"step 5 \(episode 0\), agent 'site_1', field 'infos'\['time_s'\]"):
        check_determinism(lambda: NoisyInfo(**MULTI), steps=50)


def test_same_env_object_twice_is_refused():
    env = gym.make("EAT-Edge-v0")
    with pytest.raises(ValueError, match="same env object"):
        check_determinism(lambda: env, steps=5)


def test_different_seeds_give_different_workloads():
    where = check_seed_changes_trajectory(lambda: gym.make("EAT-Edge-v0", num_tasks=10), seeds=(0, 1))
    assert where.startswith("reset before step 0")
    check_seed_changes_trajectory(lambda: edge_sites_v0.parallel_env(**MULTI), seeds=(3, 4))


def test_a_seed_that_does_not_reach_the_env_is_caught():
    class IgnoresSeed(gym.Wrapper):
        def reset(self, *, seed=None, options=None):
            return self.env.reset(seed=0, options=options)

    with pytest.raises(AssertionError, match="identical trajectories over 20 steps"):
        check_seed_changes_trajectory(lambda: IgnoresSeed(gym.make("EAT-Edge-v0", num_tasks=10)), steps=20)


def test_first_difference():
    assert first_difference({"a": np.array([1.0, np.nan])}, {"a": np.array([1.0, np.nan])}) is None
    assert first_difference({"a": np.array([1.0, 2.0])}, {"a": np.array([1.0, 3.0])}) == (
        "['a']: arrays differ first at index (1,): np.float64(2.0) != np.float64(3.0)"
    )
    assert first_difference(np.zeros(2, np.float32), np.zeros(2)) == ": array float32(2,) != float64(2,)"
    assert first_difference(1, 1.0) == ": 1 (int) != 1.0 (float)"
    assert first_difference(np.bool_(True), np.bool_(False)) == ": np.True_ != np.False_"
    assert first_difference((1, "x"), (1, "y")) == "[1]: 'x' != 'y'"
    assert first_difference({"a": 1}, {"b": 1}) == ": keys ['a'] != ['b']"
    assert first_difference(float("nan"), float("nan")) is None


def test_import_eat_bench_does_not_import_the_checks():
    code = "import sys, eat_bench; print('eat_bench.testing' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
