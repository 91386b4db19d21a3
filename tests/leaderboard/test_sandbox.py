"""The sandboxed agent process: good agents work under every isolation available here,
hostile ones are stopped with their reason, and nothing else is affected.

Every bomb is bounded by construction (8 GiB of memory, 2000 forks at most) and by a
small test limit (512 MiB, 32 processes), so a broken sandbox cannot take the machine down.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from eat_bench.leaderboard.sandbox import (
    FAILURE_REASONS,
    AgentFailure,
    Limits,
    SandboxedAgent,
    detect_isolation,
    validate_action,
)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
OBS = spaces.Box(0.0, 1.0, (158,), np.float32)
ACT = spaces.Box(-1.0, 1.0, (13,), np.float32)
FAST = Limits(startup_s=60.0, decision_s=2.0, memory_bytes=512 << 20, max_processes=32)
ENTRY = "agent:make_agent"


def kind_or_skip(kind: str):
    try:
        return detect_isolation(kind)
    except ValueError as err:
        pytest.skip(f"isolation {kind!r} is unavailable here: {err}")


def agent(
    name: str, group: str = "hostile", limits: Limits = FAST, isolation: str = "auto", folder: Path | None = None, **kw
) -> SandboxedAgent:
    return SandboxedAgent(
        folder or FIXTURES / group / name,
        ENTRY,
        kw.get("obs_space", OBS),
        kw.get("act_space", ACT),
        "EAT-Edge-v0",
        limits=limits,
        isolation=isolation,
    )


def obs(value: float = 0.5) -> np.ndarray:
    return np.full(158, value, np.float32)


def assert_gone(sandboxed: SandboxedAgent) -> None:
    """The process tree and the scratch folder are gone."""
    assert sandboxed.scratch is not None and not sandboxed.scratch.exists()
    pid = sandboxed.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def run_hostile(name: str, limits: Limits = FAST, isolation: str = "auto", steps: int = 1) -> AgentFailure:
    sandboxed = agent(name, limits=limits, isolation=isolation)
    start = time.monotonic()
    with pytest.raises(AgentFailure) as caught:
        with sandboxed:
            sandboxed.reset(0)
            for _ in range(steps):
                sandboxed.act(obs(), {"time_s": 0.0})
    assert time.monotonic() - start < 30.0
    assert_gone(sandboxed)
    assert caught.value.reason in FAILURE_REASONS
    return caught.value


def test_auto_picks_the_strongest_isolation():
    iso = detect_isolation("auto")
    assert iso.kind in ("bwrap", "unshare", "none")
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed: auto fell back to " + iso.kind)
    assert (iso.kind, iso.network_isolated, iso.uid, iso.read_only_root) == ("bwrap", True, 65534, True)
    none = detect_isolation("none")
    assert none.kind == "none" and not none.network_isolated and not none.read_only_root
    with pytest.raises(ValueError, match="unknown isolation"):
        detect_isolation("docker")


@pytest.mark.parametrize("kind", ["bwrap", "unshare", "none"])
def test_good_agent_under_each_isolation(kind):
    iso = kind_or_skip(kind)
    with agent("tiny", "good", isolation=kind) as sandboxed:
        assert sandboxed.isolation == iso
        sandboxed.reset(7)
        action = sandboxed.act(obs(0.25), {"time_s": np.float64(0.75), "invalid_action": np.array(False), "n": 3})
        assert action.dtype == np.float32 and action.shape == (13,)
        np.testing.assert_allclose(action, [0.25] * 12 + [0.75])
        # the schema changes (a new info key), values keep flowing
        action = sandboxed.act(obs(0.5), {"time_s": 0.1, "echo_seed": True})
        np.testing.assert_allclose(action, [0.007] + [0.5] * 11 + [0.1], rtol=1e-6)
        scratch = sandboxed.scratch
        assert (scratch / "agent.py").read_text() == (FIXTURES / "good" / "tiny" / "agent.py").read_text()
        assert sandboxed.peak_processes < 8
    assert_gone(sandboxed)
    sandboxed.close()  # idempotent


def test_multi_agent_dict_spaces_and_actions():
    names = [f"site_{i}" for i in range(3)]
    obs_spaces = {n: spaces.Box(0.0, 1.0, (4,), np.float32) for n in names}
    act_spaces = {n: spaces.MultiDiscrete([9, 4, 3, 4]) for n in names}
    with agent("tiny", "good", obs_space=obs_spaces, act_space=act_spaces) as sandboxed:
        sandboxed.reset(None)
        infos = {n: {"invalid_action": False, "time_s": 1.5, "action_mask": np.ones(20, np.int8)} for n in names}
        actions = sandboxed.act({n: np.zeros(4, np.float32) for n in names}, infos)
        assert sorted(actions) == names
        for n in names:
            assert actions[n].dtype == np.int64 and actions[n].tolist() == [0, 0, 0, 0]
        # an agent finished: fewer keys on the wire, the action must match the spaces
        with pytest.raises(AgentFailure) as caught:
            sandboxed.act({n: np.zeros(4, np.float32) for n in names[:2]}, {n: infos[n] for n in names[:2]})
    assert caught.value.reason == "crash"  # the tiny agent indexes observation[name]
    assert "KeyError: 'site_2'" in caught.value.detail


def test_agent_importing_torch_works_in_the_sandbox():
    pytest.importorskip("torch")
    with agent("torch_agent", "good", limits=Limits(startup_s=90.0, decision_s=10.0)) as sandboxed:
        sandboxed.reset(1)
        first = sandboxed.act(obs(0.1), {})
        second = sandboxed.act(obs(0.1), {})
        assert first.shape == (13,) and np.all(np.abs(first) <= 1.0)
        np.testing.assert_array_equal(first, second)
        assert sandboxed.peak_memory_bytes < 2 << 30


@pytest.mark.parametrize(
    "name, reason, text",
    [
        ("infinite_loop", "decision-timeout", "did not answer within"),
        ("crash_on_import", "import-error", "broken on purpose"),
        ("factory_error", "factory-error", "cannot handle env 'EAT-Edge-v0'"),
        ("crash_in_act", "crash", "agent exploded on purpose"),
        ("segfault", "crash", "SIGSEGV"),
        ("wrong_shape", "malformed-action", "shape (14,)"),
        ("wrong_type_string", "malformed-action", "got str 'dispatch everything'"),
        ("wrong_type_nan", "malformed-action", "NaN"),
        ("wrong_type_object", "malformed-action", "cannot send a object"),
    ],
)
def test_hostile_agents_are_stopped_with_their_reason(name, reason, text):
    failure = run_hostile(name, limits=Limits(startup_s=60.0, decision_s=0.5))
    assert failure.reason == reason
    assert text in failure.detail


def test_memory_bomb_is_stopped():
    failure = run_hostile("memory_bomb", limits=Limits(startup_s=60.0, decision_s=20.0, memory_bytes=512 << 20))
    assert failure.reason == "memory"
    assert "over the 512 MiB limit" in failure.detail


def test_fork_bomb_is_stopped():
    iso = detect_isolation("auto")
    if iso.uid == 0 and iso.kind != "bwrap":
        pytest.skip("no uid drop here: RLIMIT_NPROC would not bind, only the polling would")
    failure = run_hostile("fork_bomb", limits=Limits(startup_s=60.0, decision_s=10.0, max_processes=32))
    assert failure.reason == "processes"
    assert "the limit is 32" in failure.detail


def test_failure_is_sticky_and_close_is_idempotent():
    sandboxed = agent("wrong_shape", limits=Limits(startup_s=60.0, decision_s=1.0))
    sandboxed.start()
    sandboxed.reset(None)
    with pytest.raises(AgentFailure) as first:
        sandboxed.act(obs(), {})
    with pytest.raises(AgentFailure) as again:
        sandboxed.act(obs(), {})
    assert again.value is first.value
    sandboxed.close()
    sandboxed.close()
    assert_gone(sandboxed)


def test_startup_episode_and_total_timeouts():
    with pytest.raises(AgentFailure) as caught:
        agent("tiny", "good", limits=Limits(startup_s=0.01)).start()
    assert caught.value.reason == "startup-timeout"
    with agent("tiny", "good", limits=Limits(startup_s=60.0, episode_s=0.3)) as sandboxed:
        sandboxed.reset(0)
        sandboxed.act(obs(), {})
        time.sleep(0.35)
        with pytest.raises(AgentFailure) as caught:
            sandboxed.act(obs(), {})
    assert caught.value.reason == "episode-timeout"
    sandboxed = agent("tiny", "good", limits=Limits(startup_s=60.0, total_s=60.0))
    with sandboxed:
        object.__setattr__(sandboxed, "limits", Limits(total_s=0.1))  # the clock started at spawn
        time.sleep(0.15)
        with pytest.raises(AgentFailure) as caught:
            sandboxed.act(obs(), {})
    assert caught.value.reason == "total-timeout"


def test_network_is_unreachable():
    iso = detect_isolation("auto")
    if not iso.network_isolated:
        pytest.skip(f"no network namespace here ({iso.kind})")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        folder = Path(tempfile_dir()) / "network"
        shutil.copytree(FIXTURES / "hostile" / "network", folder)
        (folder / "target.json").write_text(json.dumps({"tcp": ["127.0.0.1", server.getsockname()[1]]}))
        with agent("network", folder=folder) as sandboxed:
            sandboxed.reset(0)
            np.testing.assert_array_equal(sandboxed.act(obs(), {}), np.zeros(13, np.float32))
            time.sleep(0.3)
            tail = sandboxed.stderr_tail
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
    assert accepted == []
    assert "network: blocked" in tail and "CONNECTED" not in tail


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="eat-sandbox-test-")


def test_writes_outside_the_scratch_folder_are_blocked():
    iso = detect_isolation("auto")
    if not iso.read_only_root and iso.uid == 0:
        pytest.skip(f"no filesystem isolation here ({iso.kind} as uid 0)")
    folder = Path(tempfile_dir()) / "write_outside"
    shutil.copytree(FIXTURES / "hostile" / "write_outside", folder)
    targets = [str(folder / "pwned.txt"), str(REPO / f"pwned-{uuid.uuid4().hex}.txt"), str(folder.parent / "pwned.txt")]
    (folder / "target.json").write_text(json.dumps({"write": targets}))
    with agent("write_outside", folder=folder) as sandboxed:
        sandboxed.reset(0)
        sandboxed.act(obs(), {})
        assert (sandboxed.scratch / "inside_scratch.txt").read_text() == "pwned"
        time.sleep(0.2)
        tail = sandboxed.stderr_tail
    for target in targets:
        assert not Path(target).exists(), target
        assert f"write: blocked {target}" in tail
    assert "write: WROTE inside_scratch.txt" in tail
    shutil.rmtree(folder.parent)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("infinite_loop", "decision-timeout"),
        ("crash_in_act", "crash"),
        ("wrong_type_nan", "malformed-action"),
        ("memory_bomb", "memory"),
    ],
)
def test_none_fallback_still_guards_limits(name, reason):
    assert detect_isolation("none").kind == "none"
    failure = run_hostile(
        name,
        limits=Limits(startup_s=60.0, decision_s=0.5 if reason != "memory" else 20.0, memory_bytes=512 << 20),
        isolation="none",
    )
    assert failure.reason == reason


def test_a_good_agent_after_the_hostile_ones_is_unaffected():
    with agent("tiny", "good") as sandboxed:
        sandboxed.reset(3)
        for value in (0.0, 0.5, 1.0):
            np.testing.assert_allclose(sandboxed.act(obs(value), {})[:12], value)


def test_validate_action():
    assert validate_action(spaces.Discrete(5), 3.0) == 3
    assert validate_action(spaces.Discrete(5), np.array([4])) == 4
    for bad, match in (
        (True, "expected an int"),
        (2.5, "expected integers"),
        (7, "out of range"),
        (float("nan"), "NaN"),
        ("1", "got str"),
    ):
        with pytest.raises(ValueError, match=match):
            validate_action(spaces.Discrete(5), bad)
    box = spaces.Box(-1.0, 1.0, (2, 2), np.float32)
    out = validate_action(box, [[0.5, 0.5, 0.5, 0.5]])  # size-matching shapes are reshaped
    assert out.dtype == np.float32 and out.shape == (2, 2)
    with pytest.raises(ValueError, match="outside"):
        validate_action(box, np.full(4, 2.0))
    with pytest.raises(ValueError, match="missing \\['b'\\], unexpected \\['c'\\]"):
        validate_action({"a": spaces.Discrete(2), "b": spaces.Discrete(2)}, {"a": 1, "c": 0})
    with pytest.raises(ValueError, match="\\[b\\] action 5 out of range"):
        validate_action({"a": spaces.Discrete(2), "b": spaces.Discrete(2)}, {"a": 1, "b": 5})


BATCH_AGENT = """
import numpy as np


class Echo:
    def act(self, observation, info):
        return np.full(13, float(observation[0]), np.float32)

    def act_batch(self, observations, infos):
        actions = [self.act(o, i) for o, i in zip(observations, infos)]
        return actions[:-1] if infos[0].get("drop_one") else actions


def make_agent(observation_space, action_space, env_id):
    return Echo()
"""


def test_act_batch_round_trip_and_a_wrong_count(tmp_path):
    """ACT_BATCH: one round trip answers every observation in order, each validated; a
    batch answered with too few actions fails the agent as a malformed action."""
    (tmp_path / "agent.py").write_text(BATCH_AGENT)
    with agent("", folder=tmp_path) as sandboxed:
        assert sandboxed.supports_batch
        sandboxed.reset(0)
        actions = sandboxed.act_batch([obs(0.1), obs(0.2), obs(0.3)], [{}, {}, {}])
        assert [float(a[0]) for a in actions] == pytest.approx([0.1, 0.2, 0.3])
        assert all(a.dtype == np.float32 and a.shape == (13,) for a in actions)
        with pytest.raises(AgentFailure) as failure:
            sandboxed.act_batch([obs(0.1), obs(0.2)], [{"drop_one": True}, {}])
        assert failure.value.reason == "malformed-action" and "1 actions for 2 observations" in failure.value.detail
    with agent("tiny", "good") as plain:
        assert not plain.supports_batch
        with pytest.raises(RuntimeError, match="no act_batch"):
            plain.act_batch([obs()], [{}])
