"""Gymnasium's own vector envs (``gym.make_vec``): sync and async over every id, seeds
reproduce and both modes give the same data; infos stack into fixed-shape arrays."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import eat_bench  # noqa: F401

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("EAT-"))
NUMERIC_KEYS = ("time_s", "invalid_action", "arrivals", "dispatches", "completions")
STEPS = 60


def test_every_documented_id_is_registered():
    expected = {"EAT-Edge-v0", "EAT-Paper-v0", "EAT-Edge-Large-v0", "EAT-Edge-Burst-v0", "EAT-Edge-Shift-v0"}
    assert expected <= set(ENV_IDS)


def _run(env_id: str, mode: str, seed: int = 0, **kwargs) -> dict[str, np.ndarray]:
    """A fixed action sequence (the space's sampler seeded with ``seed``) over 2 copies."""
    # Async workers forked: importing torchrl (test_torchrl.py) sets spawn globally, which starts
    # a fresh interpreter per worker (spawn has its own test below).
    vector_kwargs = {"context": "fork"} if mode == "async" else {}
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, vector_kwargs=vector_kwargs, num_tasks=4, **kwargs)
    envs.action_space.seed(seed)
    obs, info = envs.reset(seed=seed)
    out: dict[str, list] = {"obs": [obs], "rew": [], "term": [], "trunc": [], "masks": []}
    out.update({key: [info[key]] for key in NUMERIC_KEYS})
    metrics: list[float] = []
    for _ in range(STEPS):
        if kwargs.get("action_mode") == "discrete":
            out["masks"].append(np.stack(envs.call("action_masks")))  # each copy's unwrapped action_masks()
        obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
        for key, value in (("obs", obs), ("rew", rew), ("term", term), ("trunc", trunc)):
            out[key].append(value)
        for key in NUMERIC_KEYS:
            assert info[key].shape == (2,) and info[f"_{key}"].all()  # every copy reports every key
            out[key].append(info[key])
        if "episode_metrics" in info:
            ended = info["_episode_metrics"]
            assert np.array_equal(ended, term | trunc)
            metrics.extend(info["episode_metrics"]["mean_response_s"][ended].tolist())
    envs.close()
    result = {key: np.stack(values) for key, values in out.items() if values}
    result["metrics"] = np.array(metrics)
    return result


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sync_and_async_agree_and_seeds_reproduce(env_id):
    sync = _run(env_id, "sync")
    obs_shape = gym.make(env_id).observation_space.shape
    assert sync["obs"].shape == (STEPS + 1, 2, *obs_shape) and sync["obs"].dtype == np.float32
    assert np.isfinite(sync["rew"]).all() and sync["rew"].dtype == np.float64
    assert sync["invalid_action"].dtype == np.bool_ and sync["time_s"].dtype == np.float64
    assert all(np.issubdtype(sync[key].dtype, np.integer) for key in ("arrivals", "dispatches", "completions"))
    if env_id != "EAT-Paper-v0":  # 0.1 s ticks: a 4-task episode is longer than 60 steps
        assert (sync["term"] | sync["trunc"]).any() and np.isfinite(sync["metrics"]).all() and sync["metrics"].size
    again = _run(env_id, "sync")
    async_ = _run(env_id, "async")
    for key in ("obs", "rew", "term", "trunc", *NUMERIC_KEYS, "metrics"):
        assert np.array_equal(sync[key], again[key]), key
        assert np.array_equal(sync[key], async_[key]), key
    assert not np.array_equal(sync["obs"], _run(env_id, "sync", seed=1)["obs"])


def test_masks_through_the_vector_env():
    """``envs.call("action_masks")`` reaches each copy's ``action_masks()`` in both modes."""
    sync = _run("EAT-Edge-v0", "sync", action_mode="discrete")
    async_ = _run("EAT-Edge-v0", "async", action_mode="discrete")
    nvec = gym.make("EAT-Edge-v0", action_mode="discrete").action_space.nvec
    assert sync["masks"].shape == (STEPS, 2, int(nvec.sum())) and sync["masks"].dtype == np.bool_
    assert np.array_equal(sync["masks"], async_["masks"])
    # Wait (slot 0) is always allowed; each component keeps at least one choice.
    assert sync["masks"][:, :, 0].all()
    for part in np.split(sync["masks"], np.cumsum(nvec)[:-1], axis=-1):
        assert part.any(axis=-1).all()


def test_masks_reachable_as_documented():
    env = gym.make("EAT-Edge-v0", action_mode="discrete")
    env.reset(seed=0)
    assert not hasattr(env, "action_masks")  # gymnasium 1.x wrappers forward no attributes
    via_wrappers = env.get_wrapper_attr("action_masks")()
    assert np.array_equal(via_wrappers, env.unwrapped.action_masks())
    assert via_wrappers.dtype == np.bool_ and via_wrappers.shape == (int(env.action_space.nvec.sum()),)


def test_spawned_workers_register_the_ids_through_the_module_prefix():
    """A worker started with "spawn" (macOS, Windows, or any process that imported torchrl,
    which sets spawn globally) has not imported eat_bench; ``"eat_bench:<id>"`` imports it."""
    envs = gym.make_vec(
        "eat_bench:EAT-Edge-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"context": "spawn"}
    )
    obs, _ = envs.reset(seed=0)
    local = gym.make_vec("EAT-Edge-v0", num_envs=2, vectorization_mode="sync")
    assert np.array_equal(obs, local.reset(seed=0)[0])
    envs.close()
