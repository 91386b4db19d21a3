"""The scheduler view (``info_mode="scheduler"``) against a plain, slot-by-slot reading
of the simulator: the view previews each (class, origin site, degree) once per step,
and must give exactly what previewing every slot and degree gives."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import eat_bench  # noqa: F401
from eat_bench.envs.scheduler_view import OPTION_FIELDS, QUEUE_FIELDS, SCHEDULER_VIEW_VERSION


def _reference(env) -> dict[str, np.ndarray]:
    """Every visible slot and allowed degree previewed on its own (no sharing)."""
    base = env.unwrapped
    sim, spec = base.sim, base.spec_scenario
    degrees = list(spec.degrees)
    q = spec.queue_len
    tasks = np.zeros((q, len(QUEUE_FIELDS)))
    tasks[:, 1] = -1
    options = np.zeros((q, len(degrees), len(OPTION_FIELDS)))
    for slot, task in enumerate(sim.queue[:q]):
        c = sim.task_class[task]
        tasks[slot] = (1, task, sim.task_arrival[task], sim.task_slo[task], c, sim.class_model[c],
                       sim.task_site[task], sim.task_degree[task], sim.config.classes[c].pixels)  # fmt: skip
        wanted = degrees if spec.degree_mode == "agent" else [sim.task_degree[task]]
        for degree in wanted:
            record = sim.preview_task(task, degree, 1)
            if isinstance(record, str):
                continue
            servers = list(record.servers)
            options[slot, degrees.index(record.degree)] = (
                1, sim.server_site[servers[0]], 0 if record.cold_start else 1, record.cold_start_s,
                max(sim.latency.overhead_s[c][record.degree][s] for s in servers),
                max(sim.latency.step_s[c][record.degree][s] for s in servers), record.transfer_s,
            )  # fmt: skip
    servers = np.array(
        [[sim.busy_until[s] <= sim.now, sim.busy_until[s], sim.warm_model[s], sim.warm.group_of[s],
          sim.group_size[s], sim.server_site[s]] for s in range(len(sim.busy_until))], dtype=np.float64,
    )  # fmt: skip
    return {"queue_tasks": tasks, "options": options, "servers": servers}


@pytest.mark.parametrize("env_id", ["EAT-Edge-v0", "EAT-Edge-Large-v0", "EAT-Edge-Shift-v0", "EAT-Paper-v0"])
def test_the_view_is_what_previewing_every_slot_gives(env_id):
    env = gym.make(env_id, info_mode="scheduler")
    rng = np.random.default_rng(7)
    env.action_space.seed(7)  # the random actions too: the same trajectory every run
    _, info = env.reset(seed=3)
    checked = shared = 0
    for _ in range(150):
        expected = _reference(env)
        for key, value in expected.items():
            np.testing.assert_array_equal(info[key], value, err_msg=f"{env_id}: {key}")
        assert info["scheduler_view_version"] == SCHEDULER_VIEW_VERSION
        assert info["queue_length"] == len(env.unwrapped.sim.queue)
        feasible = info["options"][..., 0] > 0
        checked += int(feasible.sum())
        keys = {(int(r[4]), int(r[6])) for r in info["queue_tasks"] if r[0]}
        shared += int(info["queue_tasks"][:, 0].sum()) - len(keys)
        _, _, terminated, truncated, info = env.step(
            env.action_space.sample() if rng.random() < 0.3 else _first(env, info)
        )
        if terminated or truncated:
            _, info = env.reset(seed=int(rng.integers(1000)))
    assert checked > 20  # the comparison saw real options, not only empty rows
    assert shared > 0  # and slots whose option the view shared with another slot


def _first(env, info):
    """Dispatch the oldest task at its first feasible degree (a plain valid action)."""
    space = env.action_space
    feasible = np.argwhere(info["options"][..., 0] > 0)
    if not len(feasible):
        return space.sample()
    slot, j = feasible[0]
    if isinstance(space, gym.spaces.MultiDiscrete):
        action = np.zeros(len(space.nvec), dtype=np.int64)
        action[0] = slot
        if len(space.nvec) > 2:
            action[1] = j
        return action
    return space.sample()


def test_every_step_hands_out_fresh_arrays():
    env = gym.make("EAT-Edge-v0", info_mode="scheduler")
    _, first = env.reset(seed=0)
    _, _, _, _, second = env.step(env.action_space.sample())
    for key in ("queue_tasks", "servers", "options", "free_per_site", "degrees", "step_levels", "quality_normalized"):
        assert not np.shares_memory(first[key], second[key]), key
