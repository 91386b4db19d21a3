"""Tests for eat_bench.scenarios: the catalogue, overrides and their validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from eat_bench.envs.single_agent import EatEdgeEnv
from eat_bench.scenarios import (
    OVERRIDES,
    SCENARIOS,
    ClusterSpec,
    ScenarioSpec,
    SiteSpec,
    get_scenario,
)
from eat_bench.sim.engine import SimConfig
from eat_bench.sim.profiles import load_trace, write_trace
from eat_bench.sim.workload import PoissonArrivals, SlottedBernoulliArrivals

IDS = sorted(SCENARIOS)


def test_catalogue_has_the_designed_ids():
    assert {"EAT-Edge-v0", "EAT-Paper-v0", "EAT-Edge-Large-v0", "EAT-Edge-Burst-v0"} <= set(SCENARIOS)
    assert any(spec.held_out for spec in SCENARIOS.values())
    for sid, spec in SCENARIOS.items():
        assert spec.id == sid


@pytest.mark.parametrize("sid", IDS)
def test_every_registered_id_validates_and_resolves(sid):
    spec = get_scenario(sid)
    spec.validate()
    cfg = spec.sim_config()
    assert isinstance(cfg, SimConfig)
    assert len(cfg.servers) == spec.cluster.num_servers
    assert cfg.num_tasks == spec.workload.num_tasks
    assert [s.server_id for s in cfg.servers] == list(range(len(cfg.servers)))
    assert spec.summary().startswith(sid)


def test_design_facts_of_the_main_ids():
    edge = get_scenario("EAT-Edge-v0")
    assert edge.cluster.num_servers == 8 and edge.cluster.num_sites == 2
    assert {c.model for c in edge.workload.classes} == {"sd15", "sdxl"}
    assert edge.reward == "balanced" and edge.degree_mode == "agent"
    assert edge.decision_interval_s is None
    paper = get_scenario("EAT-Paper-v0")
    assert paper.cluster.num_servers == 8 and paper.degrees == (1, 2, 4, 8)
    assert paper.decision_interval_s == 0.1 and paper.degree_mode == "task"
    assert paper.workload.num_tasks == 32 and paper.workload.initial_queue == 10
    assert paper.reward == "paper" and paper.max_steps == 32 and paper.time_limit_s == 1024.0
    assert paper.max_episode_steps == 100_000
    assert paper.workload.total_rate == pytest.approx(0.15)
    large = get_scenario("EAT-Edge-Large-v0")
    assert large.cluster.num_servers >= 64 and len(large.cluster.gpu_kinds) >= 4


def test_unknown_id():
    with pytest.raises(ValueError, match="unknown scenario id 'EAT-Nope-v0'.*EAT-Edge-v0"):
        get_scenario("EAT-Nope-v0")


def test_overrides_applied():
    base = get_scenario("EAT-Edge-v0")
    spec = base.with_overrides(
        reward="latency", action_mode="discrete", obs_mode="dict", num_tasks=20, queue_len=4,
        degrees=[1, 2], decision_interval_s=0.5, time_limit_s=100.0, placement="paper",
        invalid_penalty=-1.0, quality="paper", trace="edge-mixed",
    )  # fmt: skip
    assert spec.reward == "latency" and spec.action_mode == "discrete" and spec.obs_mode == "dict"
    assert spec.workload.num_tasks == 20 and spec.queue_len == 4
    assert spec.degrees == (1, 2)  # a list becomes a tuple
    assert spec.decision_interval_s == 0.5 and spec.time_limit_s == 100.0
    assert spec.placement == "paper" and spec.invalid_penalty == -1.0 and spec.quality == "paper"
    assert base.reward == "balanced"  # the catalogue entry is untouched
    cfg = spec.sim_config()
    assert cfg.degrees == (1, 2) and cfg.decision_interval_s == 0.5
    assert EatEdgeEnv(spec).queue_len == 4  # the visible window is the env's, not the simulator's


def test_num_tasks_clamps_initial_queue():
    spec = get_scenario("EAT-Paper-v0").with_overrides(num_tasks=5)
    assert spec.workload.num_tasks == 5 and spec.workload.initial_queue == 5


def test_every_override_name_is_accepted():
    values = dict(
        reward="slo", action_mode="discrete", obs_mode="dict", trace="edge-mixed", quality="paper",
        arrival_rate=1.0, num_servers=8, num_tasks=10, queue_len=5, degrees=(1, 2), decision_interval_s=1.0,
        time_limit_s=50.0, placement="edge", invalid_penalty=0.0,
    )  # fmt: skip
    assert set(values) == set(OVERRIDES)
    get_scenario("EAT-Edge-v0").with_overrides(**values)


def test_unknown_override_is_a_type_error():
    """As Python raises for an unexpected keyword (TorchRL retries without ``frameskip`` on it)."""
    with pytest.raises(TypeError) as err:
        get_scenario("EAT-Edge-v0").with_overrides(rewards="latency")
    for fragment in ["unknown keyword", "rewards", "reward"]:
        assert fragment in str(err.value)


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        (dict(reward="fast"), ["unknown reward preset 'fast'", "balanced"]),
        (dict(arrival_rate=-1.0), ["arrival_rate", "-1.0"]),
        (dict(arrival_rate=0), ["arrival_rate"]),
        (dict(arrival_rate=float("nan")), ["arrival_rate"]),
        (dict(num_servers=0), ["num_servers", "0"]),
        (dict(num_servers=-3), ["num_servers"]),
        (dict(num_servers=2.5), ["num_servers"]),
        (dict(num_tasks=0), ["num_tasks"]),
        (dict(queue_len=0), ["queue_len"]),
        (dict(trace="no-such-trace"), ["unknown trace 'no-such-trace'", "eat-paper"]),
        (dict(degrees=(1, 2, 8)), ["degree 8", "largest site has 4"]),
        (dict(degrees=(2, 1)), ["degrees"]),
        (dict(degrees=()), ["degrees"]),
        (dict(action_mode="box"), ["action_mode"]),
        (dict(obs_mode="image"), ["obs_mode"]),
        (dict(quality="clip"), ["quality"]),
        (dict(placement="random"), ["placement"]),
        (dict(decision_interval_s=0.0), ["decision_interval_s"]),
        (dict(time_limit_s=-5.0), ["time_limit_s"]),
        (dict(time_limit_s=float("nan")), ["time_limit_s"]),
        (dict(time_limit_s=float("inf")), ["time_limit_s"]),
        (dict(decision_interval_s=float("inf")), ["decision_interval_s"]),
        (dict(decision_interval_s=True), ["decision_interval_s"]),
        (dict(num_tasks=True), ["num_tasks"]),
        (dict(queue_len=True), ["queue_len"]),
        (dict(num_servers=True), ["num_servers"]),
        (dict(arrival_rate=True), ["arrival_rate"]),
        (dict(degrees=4), ["degrees", "sequence"]),
        (dict(degrees=(True, 2)), ["degrees"]),
        (dict(reward=["x"]), ["reward must be a string"]),
        (dict(trace=5), ["trace must be"]),
    ],
)
def test_bad_overrides_fail_clearly(overrides, fragments):
    with pytest.raises(ValueError) as err:
        get_scenario("EAT-Edge-v0").with_overrides(**overrides)
    for fragment in fragments:
        assert fragment in str(err.value)


@pytest.mark.parametrize("penalty", ["big", float("nan"), None])
def test_bad_invalid_penalty_fails_at_make(penalty):
    # invalid_penalty is an accepted override; a non-number must fail when the
    # scenario is validated, not at the first infeasible step.
    if penalty is None:
        get_scenario("EAT-Edge-v0").with_overrides(invalid_penalty=None)  # None: the preset's default
        return
    with pytest.raises(ValueError, match="invalid_penalty"):
        get_scenario("EAT-Edge-v0").with_overrides(invalid_penalty=penalty)


def test_paper_rate_too_high_for_slot():
    with pytest.raises(ValueError, match="rate"):
        get_scenario("EAT-Paper-v0").with_overrides(arrival_rate=20.0)


def test_custom_trace_lacking_a_gpu(tmp_path: Path):
    shipped = load_trace("edge-mixed")
    rows = [r for r in shipped.rows if r.gpu != "T4"]
    path = tmp_path / "no-t4.csv"
    write_trace(path, rows)
    with pytest.raises(ValueError) as err:
        get_scenario("EAT-Edge-v0").with_overrides(trace=str(path))
    message = str(err.value)
    assert "EAT-Edge-v0" in message and "no-t4" in message and "gpu=T4" in message


def test_custom_trace_path_works(tmp_path: Path):
    shipped = load_trace("edge-mixed")
    path = tmp_path / "copy.csv"
    write_trace(path, shipped.rows)
    spec = get_scenario("EAT-Edge-v0").with_overrides(trace=str(path))
    assert spec.trace == str(path)
    assert spec.sim_config().trace.path == str(path)


def test_resized_cluster_deals_servers_in_turn():
    spec = get_scenario("EAT-Edge-v0").with_overrides(num_servers=12)
    sites = spec.cluster.sites
    assert spec.cluster.num_servers == 12
    assert [len(s.gpus) for s in sites] == [6, 6]
    assert sites[0].gpus == ("RTX4090", "RTX4090", "RTX3090", "RTX3090", "RTX4090", "RTX4090")
    assert sites[1].gpus == ("A100", "A100", "T4", "T4", "A100", "A100")
    assert [s.name for s in sites] == ["edge-a", "edge-b"]
    odd = get_scenario("EAT-Edge-v0").with_overrides(num_servers=5, degrees=(1, 2))
    assert [len(s.gpus) for s in odd.cluster.sites] == [3, 2]


def test_resized_cluster_keeps_link_matrices_square():
    shift = get_scenario("EAT-Edge-Shift-v0")
    spec = shift.with_overrides(num_servers=6, degrees=(1, 2))
    assert spec.cluster.num_sites == 3
    assert len(spec.cluster.latency_matrix()) == 3
    assert spec.cluster.bandwidth_bps_matrix()[0][1] == 200.0 * 1e6 / 8


def test_resize_to_fewer_servers_needs_smaller_degrees():
    with pytest.raises(ValueError, match="degree 4"):
        get_scenario("EAT-Edge-v0").with_overrides(num_servers=4)
    spec = get_scenario("EAT-Edge-v0").with_overrides(num_servers=4, degrees=(1, 2))
    assert [len(s.gpus) for s in spec.cluster.sites] == [2, 2]


def test_cluster_resized_direct():
    cluster = ClusterSpec(sites=(SiteSpec("a", ("T4", "A100")), SiteSpec("b", ("H100",))))
    r = cluster.resized(5)
    assert [s.gpus for s in r.sites] == [("T4", "A100", "T4"), ("H100", "H100")]
    with pytest.raises(ValueError):
        cluster.resized(0)


def test_cluster_validation():
    with pytest.raises(ValueError, match="no servers"):
        ClusterSpec(sites=())
    with pytest.raises(ValueError, match="2x2"):
        ClusterSpec(sites=(SiteSpec("a", ("T4",)), SiteSpec("b", ("T4",))), link_latency_s=((0.0,),))
    with pytest.raises(ValueError, match="bandwidth"):
        ClusterSpec(sites=(SiteSpec("a", ("T4",)), SiteSpec("b", ("T4",))), link_bandwidth_mbps=0.0)
    c = ClusterSpec(sites=(SiteSpec("a", ("T4",)), SiteSpec("b", ("T4",))), link_latency_s=0.1, link_bandwidth_mbps=8.0)
    assert c.latency_matrix() == ((0.0, 0.1), (0.1, 0.0))
    assert c.bandwidth_bps_matrix()[0][1] == 1e6  # 8 Mbit/s = 1 MB/s


def test_with_total_rate_scales_streams_proportionally():
    burst = get_scenario("EAT-Edge-Burst-v0")
    before = [s.arrivals.mean_rate for s in burst.workload.streams]
    w = burst.workload.with_total_rate(3.0)
    after = [s.arrivals.mean_rate for s in w.streams]
    assert w.total_rate == pytest.approx(3.0)
    assert after[0] / after[1] == pytest.approx(before[0] / before[1])
    assert [type(s.arrivals) for s in w.streams] == [type(s.arrivals) for s in burst.workload.streams]
    # Other parameters of the processes are kept.
    assert w.streams[0].arrivals.amplitude == burst.workload.streams[0].arrivals.amplitude
    with pytest.raises(ValueError, match="arrival_rate"):
        burst.workload.with_total_rate(0.0)


def test_arrival_rate_override():
    spec = get_scenario("EAT-Edge-v0").with_overrides(arrival_rate=2.0)
    assert spec.workload.total_rate == pytest.approx(2.0)
    assert all(isinstance(s.arrivals, PoissonArrivals) for s in spec.workload.streams)
    paper = get_scenario("EAT-Paper-v0").with_overrides(arrival_rate=0.05)
    (stream,) = paper.workload.streams
    assert isinstance(stream.arrivals, SlottedBernoulliArrivals)
    assert stream.arrivals.rate == pytest.approx(0.05) and stream.arrivals.slot_s == 0.1


def test_specs_are_frozen():
    spec = get_scenario("EAT-Edge-v0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.reward = "latency"  # type: ignore[misc]
    assert isinstance(spec, ScenarioSpec)


def test_numpy_integers_are_accepted_where_integers_are():
    spec = get_scenario("EAT-Edge-v0").with_overrides(
        num_tasks=np.int64(12), queue_len=np.int32(4), num_servers=np.int64(8), degrees=(np.int64(1), np.int64(2))
    )
    assert spec.workload.num_tasks == 12 and spec.queue_len == 4
    assert spec.cluster.num_servers == 8 and spec.degrees == (1, 2)


def test_resizing_keeps_a_site_without_servers():
    edge = get_scenario("EAT-Edge-v0").cluster
    cluster = ClusterSpec((edge.sites[0], SiteSpec("relay", ()), edge.sites[1]))
    resized = cluster.resized(7)
    assert [len(site.gpus) for site in resized.sites] == [4, 0, 3]
    assert resized.sites[1].name == "relay"
    with pytest.raises(ValueError, match="2 sites with servers"):
        cluster.resized(1)
