"""Tests of the multi-agent PPO script (eat_bench.baselines.marl_ppo)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sb3_contrib")

from eat_bench.baselines import marl_ppo  # noqa: E402
from eat_bench.envs import edge_sites_v0  # noqa: E402

TINY = ["--sites", "2", "--servers-per-site", "2", "--backend", "direct", "--copies", "2"]


def test_policies_choose_only_masked_components():
    env = edge_sites_v0.parallel_env(num_sites=3, servers_per_site=2, tasks_per_site=20, load=0.5)
    rng = np.random.default_rng(0)
    _, infos = env.reset(seed=0)
    edges = np.cumsum((0, *env.nvec))
    local_first_dispatched = 0
    while env.agents:
        masks = env.action_masks()
        actions = {}
        for i, agent in enumerate(env.agents):
            for action in (
                marl_ppo.random_action(masks[i], env.nvec, rng),
                marl_ppo.local_first_action(masks[i], env.nvec, 1),
            ):
                assert all(masks[i][edges[k] + v] for k, v in enumerate(action))
            actions[agent] = action  # local-first drives the episode
            local_first_dispatched += int(action[0] > 0)
        _, _, _, _, infos = env.step(actions)
    assert local_first_dispatched > 0


def test_local_first_prefers_own_site_then_the_nearest():
    nvec = (3, 5, 1, 2)
    mask = np.zeros(sum(nvec), dtype=bool)
    mask[[0, 1, 2]] = True  # wait and two visible tasks
    mask[3 + 4] = mask[3 + 2] = True  # relative sites 4 and 2 have a free server, not site 0
    mask[8] = mask[9] = mask[10] = True
    assert marl_ppo.local_first_action(mask, nvec, 1).tolist() == [1, 4, 0, 1]  # 4 is one hop back
    mask[3] = True
    assert marl_ppo.local_first_action(mask, nvec, 1).tolist() == [1, 0, 0, 1]
    mask[1:3] = False
    assert marl_ppo.local_first_action(mask, nvec, 1).tolist() == [0, 0, 0, 1]  # nothing queued: wait


def test_cli_smoke(capsys):
    results = marl_ppo.main(
        TINY + ["--tasks-per-site", "4", "--steps", "128", "--episodes", "1", "--rollout", "64", "--epochs", "1"]
    )
    assert set(results) == {"random", "local-first", "maskable-ppo (before)", "maskable-ppo (after)"}
    for row in results.values():
        assert 0.0 <= row["slo_attainment"] <= 1.0 and row["completion"] == 1.0
    out = capsys.readouterr().out
    assert "mean_resp" in out and "maskable-ppo (after)" in out


def test_same_seed_same_numbers_and_progress(capsys):
    """Two short runs with one seed give identical tables (torch pinned to one thread by
    default: a different thread count changes float sums, hence the trained policy), and
    training prints progress lines."""
    import torch

    argv = TINY + ["--tasks-per-site", "4", "--steps", "256", "--episodes", "1", "--rollout", "64", "--epochs", "2"]
    first = marl_ppo.main(argv)
    assert torch.get_num_threads() == 1
    out = capsys.readouterr().out
    assert "torch threads: 1" in out and "training: 256/256 agent-steps (100%)" in out
    assert out.index("evaluating random") < out.index("training maskable-ppo") < out.index("after training")
    second = marl_ppo.main(argv + ["--quiet"])
    assert second == first
    assert "training: " not in capsys.readouterr().out
    assert first["maskable-ppo (after)"] != first["maskable-ppo (before)"]  # training changed the policy


def test_torch_threads_flag():
    import torch

    before = torch.get_num_threads()
    try:
        assert marl_ppo.set_torch_threads(2) == 2
        with pytest.raises(ValueError, match="--torch-threads"):
            marl_ppo.set_torch_threads(0)
    finally:
        torch.set_num_threads(before)


def test_training_improves_the_policy():
    """A few thousand agent-steps on a small cluster: the trained policy earns a clearly
    better team return than itself before training and than the masked-random policy,
    and the local-first heuristic beats random (about 10 s on 2 cores)."""
    results = marl_ppo.main(
        TINY + ["--tasks-per-site", "30", "--steps", "6000", "--episodes", "3", "--rollout", "512", "--seed", "0"]
    )
    before, after = results["maskable-ppo (before)"], results["maskable-ppo (after)"]
    random, local_first = results["random"], results["local-first"]
    # Returns are negative (costs): "better" is closer to zero, here by at least 15 %.
    assert after["return_per_agent"] > 0.85 * before["return_per_agent"]
    assert after["return_per_agent"] > 0.85 * random["return_per_agent"]
    assert after["mean_response_s"] < before["mean_response_s"]
    assert local_first["return_per_agent"] > random["return_per_agent"]
    assert local_first["mean_response_s"] < random["mean_response_s"]
