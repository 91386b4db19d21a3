"""Tests of the multi-agent PettingZoo env ``edge_sites_v0``."""

from __future__ import annotations

import copy
import functools
import pickle
from dataclasses import replace

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, parallel_seed_test, render_test, seed_test

from eat_bench.envs import edge_sites_v0
from eat_bench.envs.edge_sites_v0 import EdgeSitesEnv, make_scenario
from eat_bench.scenarios import SiteSpec
from eat_bench.testing import check_determinism, check_seed_changes_trajectory

SMALL = dict(num_sites=3, servers_per_site=2, tasks_per_site=12)


def small(**kwargs) -> EdgeSitesEnv:
    return edge_sites_v0.parallel_env(**{**SMALL, **kwargs})


def masked_actions(env: EdgeSitesEnv, infos: dict, rng: np.random.Generator) -> dict:
    """A uniform valid choice per component, from the flat masks (cheap and seeded)."""
    edges = np.cumsum((0, *env.nvec))
    actions = {}
    masks = env.action_masks()
    for agent in env.agents:
        mask = masks[env.possible_agents.index(agent)]
        actions[agent] = np.array(
            [rng.choice(np.flatnonzero(mask[a:b])) for a, b in zip(edges[:-1], edges[1:])], dtype=np.int64
        )
    return actions


def wait_all(env: EdgeSitesEnv) -> dict:
    return {a: np.zeros(4, dtype=np.int64) for a in env.agents}


# ---------------------------------------------------------------------- PettingZoo's own tests
def test_parallel_api():
    parallel_api_test(small(), num_cycles=300)


def test_aec_api():
    api_test(edge_sites_v0.env(**SMALL), num_cycles=200)


def test_seed_tests():
    seed_test(functools.partial(edge_sites_v0.env, **SMALL), num_cycles=100)
    parallel_seed_test(functools.partial(edge_sites_v0.parallel_env, **SMALL), num_cycles=100)


def test_max_cycles():
    max_cycles_test(edge_sites_v0)


def test_render_modes():
    render_test(functools.partial(edge_sites_v0.env, num_sites=2, servers_per_site=2, tasks_per_site=6))


def test_issue_snippet_runs_to_the_end():
    env = edge_sites_v0.parallel_env(num_sites=4, servers_per_site=4, render_mode=None, tasks_per_site=15)
    obs, infos = env.reset(seed=0)
    cycles = 0
    while env.agents:
        actions = {a: env.action_space(a).sample(mask=infos[a].get("action_mask")) for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        cycles += 1
    assert all(terms.values()) or all(truncs.values())
    assert cycles > 10
    aec = edge_sites_v0.env()
    aec.reset(seed=0)
    assert aec.agent_selection == "site_0"


# ---------------------------------------------------------------------- spaces and observations
def test_spaces_observations_and_state():
    for mode in ("flat", "dict"):
        env = small(obs_mode=mode)
        obs, infos = env.reset(seed=1)
        rng = np.random.default_rng(0)
        for _ in range(60):
            if not env.agents:
                obs, infos = env.reset()
            for agent in env.agents:
                assert env.observation_space(agent).contains(obs[agent]), agent
                assert env.action_space(agent).contains(
                    env.action_space(agent).sample(mask=infos[agent]["action_mask"])
                )
            assert env.state_space.contains(env.state())
            obs, *_, infos = env.step(masked_actions(env, infos, rng))


def test_relative_server_order_and_distance():
    env = small(obs_mode="dict")
    obs, _ = env.reset(seed=0)
    per_site = 2
    for _i, agent in enumerate(env.possible_agents):
        servers = obs[agent]["servers"]
        distance, relative = servers[:, -2], servers[:, -1]
        assert np.all(distance[:per_site] == 0) and np.all(relative[:per_site] == 0)
        assert np.all(distance[per_site:] > 0)
        # Rows come site by site in relative order: own, own+1, own+2.
        assert np.allclose(relative, [0, 0, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
        sites = obs[agent]["sites"]
        assert sites[0, 3] == 0 and np.all(sites[1:, 3] > 0)


def test_dict_and_flat_observations_agree():
    flat, dct = small(), small(obs_mode="dict")
    o1, i1 = flat.reset(seed=4)
    o2, _ = dct.reset(seed=4)
    rng = np.random.default_rng(1)
    for _ in range(20):
        for agent in flat.agents:
            parts = o2[agent]
            joined = np.concatenate(
                [parts["tasks"].ravel(), parts["servers"].T.ravel(), parts["sites"].T.ravel(), parts["globals"]]
            )
            assert np.array_equal(joined, o1[agent])
        actions = masked_actions(flat, i1, rng)
        o1, *_, i1 = flat.step(actions)
        o2, *_ = dct.step(actions)


def _from_scratch(env: EdgeSitesEnv) -> dict:
    """The observation rebuilt from the simulator's state, not incrementally."""
    twin = copy.deepcopy(env)
    twin._rebuild_queues()
    twin.sim.changed_servers.update(range(twin.sim.num_servers))
    return twin._observe()


def _unequal_sites_scenario():
    from dataclasses import replace

    from eat_bench.scenarios import ClusterSpec, SiteSpec

    spec = make_scenario(3, 2, tasks_per_site=15)
    sites = (SiteSpec("a", ("A100", "T4", "RTX4090")), SiteSpec("b", ("T4",)), SiteSpec("c", ("RTX3090", "H100")))
    return replace(spec, cluster=ClusterSpec(sites=sites, link_latency_s=0.01), degrees=(1,))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(SMALL, tasks_per_site=20),
        dict(SMALL, tasks_per_site=20, arrival_rate=3.0, queue_len=4),  # queues longer than the window
        dict(scenario="EAT-Paper-v0", max_cycles=200),  # tick mode, degrees fixed by the tasks
        "unequal",  # sites of different sizes
    ],
)
def test_incremental_observation_equals_rebuilt(kwargs):
    env = (
        edge_sites_v0.parallel_env(scenario=_unequal_sites_scenario())
        if kwargs == "unequal"
        else edge_sites_v0.parallel_env(**kwargs)
    )
    obs, infos = env.reset(seed=2)
    rng = np.random.default_rng(2)
    longest = 0
    for _ in range(150):
        if not env.agents:
            break
        obs, _, _, _, infos = env.step(masked_actions(env, infos, rng))
        rebuilt = _from_scratch(env)
        for agent in obs:
            assert np.array_equal(obs[agent], rebuilt[agent])
            assert env.observation_space(agent).contains(obs[agent])
        longest = max(longest, max(map(len, env._site_queue)))
    if kwargs != "unequal" and "arrival_rate" in kwargs:
        assert longest > kwargs["queue_len"]


def test_masks_are_flat_int8_with_parts_and_flat_bool():
    env = small()
    _, infos = env.reset(seed=0)
    info = infos["site_0"]
    flat = info["action_mask"]  # PettingZoo's convention: one flat int8 array
    assert isinstance(flat, np.ndarray) and flat.dtype == np.int8 and flat.shape == (sum(env.nvec),)
    parts = env.action_mask_parts("site_0")
    assert np.array_equal(np.concatenate(parts), flat)
    assert isinstance(parts, tuple) and len(parts) == 4
    assert all(p.dtype == np.int8 for p in parts)
    assert [p.size for p in parts] == list(env.nvec)
    assert parts[0][0] == 1  # wait is always valid
    assert env.action_masks().shape == (3, sum(env.nvec))
    assert env.action_masks().dtype == bool


def expected_masks(env: EdgeSitesEnv, agent_index: int) -> list[list[bool]]:
    """The mask rules of the module docstring, computed from the simulator's state."""
    sim, S, Q = env.sim, env.num_sites, env.queue_len
    free = sim.free_count
    most, need = max(free), env.degrees[0]
    if most < need:  # nothing can start anywhere: only wait
        return [
            [j == 0 for j in range(Q + 1)],
            [r == 0 for r in range(S)],
            [d == 0 for d in range(env.nvec[2])],
            [True] * env.nvec[3],
        ]
    queue = [t for t in sim.queue if sim.task_site[t] == agent_index][:Q]
    if env.agent_degree:
        slots = [j == 0 or j <= len(queue) for j in range(Q + 1)]
        degrees = [d == 0 or most >= env.degrees[d] for d in range(len(env.degrees))]
    else:
        slots = [True] + [j < len(queue) and sim.task_degree[queue[j]] <= most for j in range(Q)]
        degrees = [True]
    targets = [free[(agent_index + r) % S] >= need for r in range(S)]
    return [slots, targets, degrees, [True] * env.nvec[3]]


@pytest.mark.parametrize("degree_mode", ["agent", "task"])
def test_masks_follow_the_documented_rules(degree_mode):
    """On every step of a busy episode each agent's component masks (read-only int8,
    from caches) equal the rules computed afresh, and ``action_masks()`` is their
    concatenation."""
    spec = replace(make_scenario(num_sites=4, servers_per_site=2, tasks_per_site=30, load=0.5), degree_mode=degree_mode)
    env = EdgeSitesEnv(scenario=spec)
    rng = np.random.default_rng(0)
    _, infos = env.reset(seed=1)
    seen = set()
    while env.agents:
        flat = env.action_masks()
        for i, agent in enumerate(env.agents):
            parts = env.action_mask_parts(agent)
            assert np.array_equal(np.concatenate(parts), infos[agent]["action_mask"])
            assert all(p.dtype == np.int8 and not p.flags.writeable for p in parts)
            assert [p.astype(bool).tolist() for p in parts] == expected_masks(env, i)
            assert np.array_equal(np.concatenate(parts).astype(bool), flat[i])
            seen.add(flat[i].tobytes())
        _, _, _, _, infos = env.step(masked_actions(env, infos, rng))
    assert len(seen) > 10  # the masks did change over the episode


def test_a_site_without_servers_only_offloads():
    spec = make_scenario(num_sites=3, servers_per_site=4, tasks_per_site=20, load=0.3)
    sites = (spec.cluster.sites[0], SiteSpec("relay", ()), spec.cluster.sites[2])
    env = EdgeSitesEnv(scenario=replace(spec, cluster=replace(spec.cluster, sites=sites)))
    rng = np.random.default_rng(2)
    obs, infos = env.reset(seed=2)
    offloaded = 0
    while env.agents:
        for agent in env.agents:
            assert env.observation_space(agent).contains(obs[agent])
        parts = env.action_mask_parts("site_1")
        assert parts[1][0] == 0 or parts[0][1:].sum() == 0
        obs, _, _, _, infos = env.step(masked_actions(env, infos, rng))
        offloaded += infos.get("site_1", {}).get("dispatched_task", -1) >= 0
    relay = env.site_metrics(1)
    assert relay["utilisation"] == 0.0 and relay["completion_rate"] == 1.0
    assert relay["dispatched"] == offloaded == relay["offloaded"] > 0  # all of them ran elsewhere
    assert env.episode_metrics().completion_rate == 1.0


def test_task_degree_mode_asks_only_when_some_agent_can_dispatch():
    """With tasks fixing their degree, time stops only when a task in some agent's
    visible queue fits some site's free servers (not one deeper in a queue)."""
    spec = replace(
        make_scenario(num_sites=3, servers_per_site=4, queue_len=1, load=0.3, tasks_per_site=60), degree_mode="task"
    )
    env = EdgeSitesEnv(scenario=spec)
    rng = np.random.default_rng(0)
    _, infos = env.reset(seed=0)
    steps = 0
    while env.agents:
        sim = env.sim
        can_dispatch = any(env.action_mask_parts(a)[0][1:].any() for a in env.agents)
        assert can_dispatch or sim.done or sim.now >= sim.config.time_limit_s or sim.next_event_time() == np.inf
        _, _, _, _, infos = env.step(masked_actions(env, infos, rng))
        steps += 1
    assert env.episode_metrics().completion_rate == 1.0 and steps > 60


# ---------------------------------------------------------------------- determinism
def test_lockstep_determinism_over_many_cycles():
    # Several episodes, automatic resets without a seed; observations, rewards, flags, infos,
    # masks and state() equal at every step.
    report = check_determinism(lambda: small(max_cycles=150), steps=600, seed=3, reseed=False)
    assert report.episodes >= 4


def test_different_seeds_differ():
    check_seed_changes_trajectory(lambda: small(max_cycles=150), seeds=(3, 4), steps=50)


# ---------------------------------------------------------------------- conservation
def test_no_task_lost_or_duplicated():
    env = small(tasks_per_site=20)
    _, infos = env.reset(seed=5)
    rng = np.random.default_rng(5)
    sim = env.sim
    dispatched_by: dict[int, str] = {}
    while env.agents:
        _, _, terms, truncs, infos = env.step(masked_actions(env, infos, rng))
        queued = list(sim.queue)
        assert len(set(queued)) == len(queued)
        views = [t for q in env._site_queue for t in q]
        assert sorted(views) == sorted(queued)
        for s, q in enumerate(env._site_queue):
            assert all(sim.task_site[t] == s for t in q)
            assert q == [t for t in queued if sim.task_site[t] == s]  # arrival order kept
        ids = [r.task_id for r in sim.records]
        assert len(set(ids)) == len(ids)
        assert not set(ids) & set(queued)
        arrived = sum(1 for t in sim.task_arrival if t <= sim.now)
        assert len(ids) + len(queued) == arrived
        for agent, info in infos.items():
            task = info["dispatched_task"]
            if task >= 0:
                assert task not in dispatched_by
                dispatched_by[task] = agent
                assert sim.task_site[task] == env.possible_agents.index(agent)  # own tasks only
    assert all(terms.values())
    assert sorted(r.task_id for r in sim.records) == list(range(sim.config.num_tasks))
    assert set(dispatched_by) == set(range(sim.config.num_tasks))
    site_totals = sum(env.site_metrics(i)["num_tasks"] for i in range(env.num_sites))
    assert site_totals == sim.config.num_tasks


def test_offloaded_tasks_pay_transfer_and_run_at_the_target():
    env = small()
    _, infos = env.reset(seed=2)
    sim = env.sim
    # Agent of the site holding the first task offloads it one site over.
    origin = sim.task_site[sim.queue[0]]
    actions = wait_all(env)
    actions[f"site_{origin}"] = np.array([1, 1, 0, 0])
    _, _, _, _, infos = env.step(actions)
    target = (origin + 1) % 3
    info = infos[f"site_{origin}"]
    assert info["target_site"] == target
    record = sim.records[-1]
    assert record.site == origin and all(sim.server_site[s] == target for s in record.servers)
    link = sim.config.link_latency_s[origin][target]
    pixels = record.width * record.height
    assert record.transfer_s == pytest.approx(link + pixels * 3 / sim.config.link_bandwidth_bps[origin][target])


# ---------------------------------------------------------------------- conflicts
def _state_with_two_queues(seed: int) -> EdgeSitesEnv:
    """All servers free, sites 0 and 1 each with a queued task (agents only waited)."""
    env = edge_sites_v0.parallel_env(
        num_sites=3, servers_per_site=1, tasks_per_site=20, degrees=(1,), info_mode="events"
    )
    env.reset(seed=seed)
    for _ in range(200):
        if env._site_queue[0] and env._site_queue[1] and env.sim.free_count == [1, 1, 1]:
            return env
        env.step(wait_all(env))
    raise AssertionError("no such state")


def test_conflict_resolution_hand_checked():
    winners = set()
    for seed in range(12):
        env = _state_with_two_queues(seed)
        sim = env.sim
        head0, head1 = env._site_queue[0][0], env._site_queue[1][0]
        keys = copy.deepcopy(sim.tie_rng).random(3)
        expected_order = np.argsort(keys, kind="stable").tolist()
        first = next(i for i in expected_order if i in (0, 1))
        loser = 1 - first
        actions = wait_all(env)
        actions["site_0"] = np.array([1, 2, 0, 0])  # both claim site 2's only server
        actions["site_1"] = np.array([1, 1, 0, 0])
        records_before = len(sim.records)
        _, rewards, _, _, infos = env.step(actions)
        assert len(sim.records) == records_before + 1
        record = sim.records[-1]
        assert record.task_id == (head0, head1)[first]
        assert sim.server_site[record.servers[0]] == 2
        win, lose = infos[f"site_{first}"], infos[f"site_{loser}"]
        assert win["dispatched_task"] == record.task_id and win["target_site"] == 2 and not win["conflict"]
        assert lose["conflict"] and not lose["invalid_action"] and lose["dispatched_task"] == -1
        assert "higher-priority" in lose["invalid_reason"]
        assert (head0, head1)[loser] in env._site_queue[loser]  # the loser's task still waits
        winners.add(first)
    assert winners == {0, 1}  # the seeded order favours neither agent


def test_infeasible_decision_acts_as_wait_with_flag_and_penalty():
    env = _state_with_two_queues(0)
    sim = env.sim
    actions = wait_all(env)
    actions["site_2"] = np.array([1, 0, 0, 0])  # site 2's queue is empty
    before = (sim.now, list(sim.queue), len(sim.records))
    _, rewards, _, _, infos = env.step(actions)
    info = infos["site_2"]
    assert info["invalid_action"] and not info["conflict"] and "empty slot" in info["invalid_reason"]
    assert len(sim.records) == before[2]
    assert sim.now > before[0]  # nobody dispatched: time moved on, as for a wait
    assert env.site_metrics(2)["invalid_actions"] == 1


def test_target_without_free_server_is_invalid_not_conflict():
    env = _state_with_two_queues(1)
    actions = wait_all(env)
    actions["site_0"] = np.array([1, 0, 0, 0])  # runs locally, on site 0's only server
    env.step(actions)
    assert env.sim.free_count[0] == 0 and env._site_queue[1]  # no time passed: site 1 still waits
    actions = wait_all(env)
    actions["site_1"] = np.array([1, 2, 0, 0])  # site (1 + 2) % 3 = 0: busy since the step began
    _, _, _, _, infos = env.step(actions)
    info = infos["site_1"]
    assert info["invalid_action"] and not info["conflict"] and "site 0 has 0 free" in info["invalid_reason"]


# ---------------------------------------------------------------------- rewards
def _rewards_run(team_share: float, reward: str = "balanced", steps: int = 80) -> list[dict]:
    env = small(team_share=team_share, reward=reward)
    _, infos = env.reset(seed=9)
    rng = np.random.default_rng(9)
    out = []
    for _ in range(steps):
        if not env.agents:
            break
        _, rewards, _, _, infos = env.step(masked_actions(env, infos, rng))
        out.append(rewards)
    return out


def test_team_share_blends_own_and_team_mean():
    own = _rewards_run(0.0)
    for share in (0.3, 1.0):
        blended = _rewards_run(share)
        for r0, rs in zip(own, blended):
            mean = sum(r0.values()) / len(r0)
            for agent in r0:
                assert rs[agent] == pytest.approx((1 - share) * r0[agent] + share * mean, abs=1e-9)
    for rs in _rewards_run(1.0):
        assert len({round(v, 9) for v in rs.values()}) == 1


def test_latency_rewards_add_up_to_the_episode_cost():
    env = small(team_share=0.0, reward="latency", tasks_per_site=15)
    _, infos = env.reset(seed=11)
    rng = np.random.default_rng(11)
    total = 0.0
    while env.agents:
        _, rewards, _, _, infos = env.step(masked_actions(env, infos, rng))
        total += sum(rewards.values())
    cost = sum((r.finish_s - r.arrival_s) / r.slo_s for r in env.sim.records)
    invalid = sum(env.site_metrics(i)["invalid_actions"] for i in range(env.num_sites))
    assert total == pytest.approx(-cost - 0.1 * invalid, rel=1e-9, abs=1e-6)


# ---------------------------------------------------------------------- episode end
def test_max_cycles_truncates_all_agents_together():
    env = small(max_cycles=7, info_mode="events")
    env.reset(seed=0)
    for _cycle in range(7):
        _, _, terms, truncs, infos = env.step(wait_all(env))
    assert all(truncs.values()) and not any(terms.values())
    assert env.agents == []
    assert "episode_metrics" in infos["site_0"] and "team_metrics" in infos["site_0"]
    plain = small(max_cycles=7)  # the default infos keep the same keys to the end (no dicts)
    _, first = plain.reset(seed=0)
    for _cycle in range(7):
        _, _, _, _, last = plain.step(wait_all(plain))
    assert set(last["site_0"]) == set(first["site_0"])
    assert plain.episode_metrics().as_dict()["num_tasks"] == infos["site_0"]["team_metrics"]["num_tasks"]
    assert env.step({}) == ({}, {}, {}, {}, {})
    with pytest.raises(ValueError, match="episode is over"):
        env.step({"site_0": np.zeros(4, dtype=np.int64)})


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: {**a, "site_9": np.zeros(4, dtype=np.int64)}, "unknown agent.*site_9"),
        (lambda a: {k: v for k, v in a.items() if k != "site_1"}, "no action for agent.*site_1"),
        (lambda a: {**a, "site_2": np.zeros(3, dtype=np.int64)}, "site_2 has shape"),
        (lambda a: {**a, "site_0": np.array([0.0, 0.0, 0.0, 0.0])}, "site_0 has dtype float64"),
        (lambda a: {**a, "site_1": np.array([99, 0, 0, 0])}, "site_1: slot index a\\[0\\] = 99"),
        (lambda a: {**a, "site_1": np.array([0, -1, 0, 0])}, "site_1: target index a\\[1\\] = -1"),
        (lambda a: {**a, "site_2": None}, "site_2 must be 4 integers"),
        (lambda a: {**a, "site_2": "wait"}, "site_2 must be 4 integers"),
        (lambda a: {**a, "site_0": [[1, 2], [3]]}, "site_0"),
        (lambda a: {**a, "site_1": np.array([True, False, False, False])}, "site_1 has dtype bool"),
        (lambda a: {**a, "site_2": np.zeros((1, 4), dtype=np.int64)}, "site_2 has shape \\(1, 4\\)"),
        (lambda a: {**a, "site_0": np.array([0, 0, 0, 0], dtype=object)}, "site_0 has dtype object"),
    ],
)
def test_bad_actions_raise_and_change_nothing(mutate, message):
    env = small()
    _, infos = env.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(5):
        _, _, _, _, infos = env.step(masked_actions(env, infos, rng))
    twin = pickle.loads(pickle.dumps(env))
    good = masked_actions(env, infos, rng)
    with pytest.raises(ValueError, match=message):
        env.step(mutate(good))
    assert data_equivalence(env.step(good), twin.step(good))


@pytest.mark.parametrize(
    "convert",
    [list, tuple, lambda a: a.astype(np.int32), lambda a: a.astype(np.uint8), lambda a: [np.int64(v) for v in a]],
)
def test_integer_actions_in_any_container_are_accepted(convert):
    env, twin = small(), small()
    _, infos = env.reset(seed=4)
    twin.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(20):
        actions = masked_actions(env, infos, rng)
        out = env.step({a: convert(v) for a, v in actions.items()})
        assert data_equivalence(out, twin.step(actions))
        infos = out[4]


def test_bad_arguments():
    with pytest.raises(ValueError, match="team_share"):
        small(team_share=1.5)
    with pytest.raises(ValueError, match="max_cycles"):
        small(max_cycles=0)
    with pytest.raises(ValueError, match="obs_mode"):
        small(obs_mode="image")
    with pytest.raises(ValueError, match="render_mode"):
        small(render_mode="video")
    with pytest.raises(ValueError, match="num_sites"):
        edge_sites_v0.parallel_env(num_sites=0)
    with pytest.raises(TypeError, match="scenario= was given"):  # keywords it cannot take
        edge_sites_v0.parallel_env(scenario="EAT-Edge-v0", tasks_per_site=3)
    with pytest.raises(ValueError, match="reward preset"):
        small(reward="nope")
    with pytest.raises(RuntimeError, match="reset"):
        small().step({})


# ---------------------------------------------------------------------- pickling, scenarios
def test_pickling_mid_episode_continues_identically():
    env = small()
    pickle.loads(pickle.dumps(env))  # before reset too
    _, infos = env.reset(seed=8)
    rng = np.random.default_rng(8)
    for _ in range(15):
        _, _, _, _, infos = env.step(masked_actions(env, infos, rng))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(60):
        if not env.agents:
            break
        actions = masked_actions(env, infos, rng)
        out1, out2 = env.step(actions), clone.step(actions)
        assert data_equivalence(out1, out2)
        infos, infos_clone = out1[4], out2[4]
        assert not any(info["action_mask"].flags.writeable for info in infos_clone.values())
        assert not any(part.flags.writeable for a in clone.agents for part in clone.action_mask_parts(a))
    assert data_equivalence(env.state(), clone.state())


def test_heterogeneous_knob():
    het = make_scenario(4, 4, heterogeneous=True)
    hom = make_scenario(4, 4, heterogeneous=False)
    assert len({site.gpus for site in het.cluster.sites}) == 4
    assert len({site.gpus for site in hom.cluster.sites}) == 1
    het_rates = [s.arrivals.mean_rate for s in het.workload.streams]
    hom_rates = [s.arrivals.mean_rate for s in hom.workload.streams]
    assert len(set(het_rates)) > 1 and len(set(hom_rates)) == 1
    assert len({s.classes for s in het.workload.streams}) > 1  # own model / resolution mix
    # Links grow with ring distance.
    lat = het.cluster.latency_matrix()
    assert lat[0][1] < lat[0][2] and lat[0][1] == lat[0][3]


@pytest.mark.parametrize("scenario", ["EAT-Edge-v0", "EAT-Paper-v0"])
def test_existing_scenarios_as_multi_agent(scenario):
    env = edge_sites_v0.parallel_env(scenario=scenario, max_cycles=300)
    obs, infos = env.reset(seed=0)
    assert len(env.agents) == env.scenario.cluster.num_sites
    rng = np.random.default_rng(0)
    while env.agents:
        obs, _, _, _, infos = env.step(masked_actions(env, infos, rng))
        for agent in obs:
            assert env.observation_space(agent).contains(obs[agent])
