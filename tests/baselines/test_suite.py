"""Tests of the baseline suite (eat_bench.baselines.suite and ``eat-bench suite / plot / demo``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from eat_bench.baselines.agents import AGENTS, AgentSpec, register_agent
from eat_bench.baselines.evaluation import EVAL_SEED_BASE, RunRecord
from eat_bench.baselines.suite import (
    EVAL_SEED_STRIDE,
    SuiteError,
    load_results,
    make_plan,
    mean_ci,
    run_suite,
    write_outputs,
)
from eat_bench.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = {"num_tasks": 10}
"""Env settings that keep every episode to a few decisions."""


def _plan(algos=("random", "greedy"), seeds=(0, 1), **kw):
    return make_plan(list(algos), ["EAT-Edge-v0"], list(seeds), 100, episodes=1, env_kwargs={"EAT-Edge-v0": TINY}, **kw)


def _record_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "runs").glob("*.json"))}


def _without_wall(text: bytes) -> dict:
    doc = json.loads(text)
    if isinstance(doc, dict):
        doc.pop("wall_s", None)
    return doc


# ---------------------------------------------------------------------- the plan
def test_plan_lists_applicable_runs_with_disjoint_eval_seeds():
    skipped: list[str] = []
    plan = make_plan(
        ["random", "greedy", "local-first"],
        ["EAT-Edge-v0", "edge_sites_v0"],
        [0, 2],
        100,
        episodes=3,
        env_kwargs={"edge_sites_v0": {"num_sites": 2, "servers_per_site": 2, "tasks_per_site": 5}},
        echo=skipped.append,
    )
    names = [r.name for r in plan.runs()]
    assert names == [
        "random__EAT-Edge-v0__seed0",
        "random__EAT-Edge-v0__seed2",
        "greedy__EAT-Edge-v0__seed0",
        "greedy__EAT-Edge-v0__seed2",
        "random__edge_sites_v0__seed0",
        "random__edge_sites_v0__seed2",
        "local-first__edge_sites_v0__seed0",
        "local-first__edge_sites_v0__seed2",
    ]
    assert skipped == [
        "skipped: local-first on EAT-Edge-v0 (edge_sites_v0 only)",
        "skipped: greedy on edge_sites_v0 (single-agent envs only)",
    ]
    run = plan.runs()[1]
    assert run.eval_seeds == [EVAL_SEED_BASE + 2 * EVAL_SEED_STRIDE + i for i in range(3)]
    assert min(run.eval_seeds) > max(plan.seeds)  # evaluation seeds never meet training seeds


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--algos", "random,nope"], r"unknown algorithm\(s\) nope; heuristics: random, .*greedy"),
        (["--algos", "random", "--envs", "EAT-Nope-v0"], r"unknown env\(s\) EAT-Nope-v0; envs: .*EAT-Paper-v0"),
        (["--algos", "random", "--budget", "0"], r"--budget must be a positive number"),
        (["--algos", "random", "--seeds", "0,-1"], r"seeds must be non-negative"),
        (["--algos", "random", "--set", "bogus_setting=1"], r"EAT-Edge-v0 does not accept the settings"),
        (["--algos", "local-first"], r"no algorithm of local-first applies to EAT-Edge-v0"),
        (["--algos", "random", "--workers", "0"], r"--workers must be >= 1"),
        (["--algos", "random,ppo", "--hp", "ppo:nonsense_key=1"], r"--hp ppo: unknown key 'nonsense_key' for ppo"),
        (["--algos", "random,ppo", "--hp", "ppo:n_steps=fast"], r"--hp ppo: n_steps: 'fast' \(str\) does not fit"),
        (
            ["--algos", "random,ppo", "--hp", "sac:batch_size=8"],
            r"--hp names sac, not a single-agent learner .*: ppo\)",
        ),
        (["--algos", "random", "--hp", "batch_size=8"], r"the suite has no learner to apply it to"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(tmp_path, capsys, argv, message):
    out = tmp_path / "suite"
    assert main(["suite", *argv, "--out", str(out), "--quiet"]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_negative_seed_count_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["suite", "--algos", "random", "--seeds", "-2"])
    assert "--seeds N needs N >= 1" in capsys.readouterr().err


def test_a_folder_with_another_plan_is_refused(tmp_path):
    out = tmp_path / "suite"
    assert run_suite(_plan(seeds=(0,)), out, progress=False) == []
    before = _record_files(out)
    with pytest.raises(SuiteError, match=r"holds another suite \(its plan.json differs in: .*seeds"):
        run_suite(_plan(seeds=(0, 1)), out, progress=False)
    assert _record_files(out) == before  # nothing ran
    # The same plan again resumes: nothing to redo, nothing rewritten.
    assert run_suite(_plan(seeds=(0,)), out, progress=False) == []
    assert _record_files(out) == before


# ---------------------------------------------------------------------- failures
class _Crasher:
    def __init__(self, env) -> None:
        pass

    def reset(self, seed=None) -> None:
        pass

    def act(self, observation, info):
        raise RuntimeError("boom: this agent always crashes")


@pytest.fixture
def crasher():
    register_agent(AgentSpec("test-crasher", _Crasher, "raises on its first decision"))
    yield "test-crasher"
    del AGENTS["test-crasher"]


def test_a_crashing_run_is_recorded_as_failed_and_the_suite_goes_on(tmp_path, crasher):
    out = tmp_path / "suite"
    plan = _plan(algos=("random", crasher), seeds=(0,))
    run_suite(plan, out, progress=False)
    failed = RunRecord.read(out / "runs" / f"{crasher}__EAT-Edge-v0__seed0.json")
    assert failed.status == "failed"
    assert "Traceback (most recent call last)" in failed.error
    assert "RuntimeError: boom: this agent always crashes" in failed.error
    assert failed.episodes == ()
    ok = RunRecord.read(out / "runs" / "random__EAT-Edge-v0__seed0.json")
    assert ok.status == "ok" and len(ok.episodes) == 1 and ok.episodes[0].seed == EVAL_SEED_BASE
    table, missing, _ = write_outputs(out, figures=False)
    assert missing == []
    rows = {r.split(",")[1]: r.split(",") for r in (out / "results.csv").read_text().splitlines()[1:]}
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert rows[crasher][header.index("runs_failed")] == "1"
    assert rows["random"][header.index("runs_ok")] == "1"
    # A failed run is finished: a rerun keeps it, --retry-failed redoes it.
    before = (out / "runs" / f"{crasher}__EAT-Edge-v0__seed0.json").read_bytes()
    run_suite(plan, out, progress=False)
    assert (out / "runs" / f"{crasher}__EAT-Edge-v0__seed0.json").read_bytes() == before
    run_suite(plan, out, progress=False, retry_failed=True)
    assert RunRecord.read(out / "runs" / f"{crasher}__EAT-Edge-v0__seed0.json").status == "failed"


# ---------------------------------------------------------------------- kill -9 and resume
_SLEEPY = textwrap.dedent(
    """
    import os, sys, time
    from eat_bench.baselines.agents import AgentSpec, register_agent
    from eat_bench.baselines.heuristics import HEURISTICS

    class Sleepy:
        # fcfs, but its first reset waits (while SLEEPY_SENTINEL is set) so the test can kill the suite mid-run.
        def __init__(self, env):
            self.inner = HEURISTICS["fcfs"](env)
        def reset(self, seed=None):
            sentinel = os.environ.get("SLEEPY_SENTINEL")
            if sentinel:
                with open(sentinel + ".tmp", "w") as f:
                    f.write(str(os.getpid()))
                os.replace(sentinel + ".tmp", sentinel)
                time.sleep(600)
            self.inner.reset(seed)
        def act(self, observation, info):
            return self.inner.act(observation, info)

    register_agent(AgentSpec("sleepy", Sleepy, "fcfs that sleeps first", needs=dict(__import__(
        "eat_bench.baselines.agents", fromlist=["AGENTS"]).AGENTS["fcfs"].needs)))
    from eat_bench.cli import main

    if __name__ == "__main__":  # not in the spawned worker processes, which import this file
        sys.exit(main(sys.argv[1:]))
    """
)


def _start_sleepy_suite(tmp_path: Path, suite_argv: list[str]) -> tuple[subprocess.Popen, list[str]]:
    """Start ``eat-bench suite`` with the sleepy agent registered, in its own session, and
    wait until the sleepy run has started (its pid in ``tmp_path / "sleepy-started"``).
    Returns the process and the full command line (to rerun it)."""
    script = tmp_path / "sleepy_suite.py"
    script.write_text(_SLEEPY)
    sentinel = tmp_path / "sleepy-started"
    argv = [sys.executable, str(script), "suite", *suite_argv]
    env = {**os.environ, "SLEEPY_SENTINEL": str(sentinel)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not sentinel.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the sleepy run never started"
            time.sleep(0.1)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, argv


def test_a_suite_killed_with_sigkill_resumes_without_touching_finished_runs(tmp_path):
    out = tmp_path / "suite"
    argv = ["--algos", "random,sleepy,greedy", "--envs", "EAT-Edge-v0", "--seeds", "2", "--episodes", "1"]
    argv += ["--set", "num_tasks=10", "--out", str(out), "--no-figures"]
    proc, argv = _start_sleepy_suite(tmp_path, argv)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = _record_files(out)
    assert set(finished) == {f"random__EAT-Edge-v0__seed{s}{x}.json" for s in (0, 1) for x in ("", ".responses")}
    assert not (out / "results.csv").exists()

    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "suite: 2/6 runs already done" in rerun.stderr
    after = _record_files(out)
    assert {k: after[k] for k in finished} == finished  # byte-identical, not redone
    names = [f"{a}__EAT-Edge-v0__seed{s}.json" for a in ("random", "sleepy", "greedy") for s in (0, 1)]
    assert sorted(after) == sorted([*names, *(n.replace(".json", ".responses.json") for n in names)])
    for name in names:
        record = RunRecord.read(out / "runs" / name)
        assert record.status == "ok" and len(record.episodes) == 1
        assert record.episodes[0].metrics["num_tasks"] == 10
    assert not list((out / "runs").glob(".*"))  # no temporary files left
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 3


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _session(sid: int) -> list[int]:
    """The live processes of session ``sid`` (the suite's driver started it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[3]) == sid:
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_driver_ends_its_worker_processes(tmp_path):
    argv = ["--algos", "sleepy,random", "--envs", "EAT-Edge-v0", "--seeds", "1", "--episodes", "1"]
    argv += ["--set", "num_tasks=10", "--workers", "2", "--out", str(tmp_path / "suite"), "--quiet"]
    proc, _ = _start_sleepy_suite(tmp_path, argv)
    sentinel = tmp_path / "sleepy-started"
    try:
        worker = int(sentinel.read_text())
        assert worker != proc.pid and _alive(worker)  # the sleepy run is in a worker process
        proc.kill()  # the driver alone, with SIGKILL: no chance to stop its workers
        proc.wait()
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the worker outlived its driver"
        deadline = time.monotonic() + 15
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:200] for p in _session(proc.pid)}
        assert not left, f"processes of the suite outlived its driver: {left}"
    finally:
        with contextlib.suppress(ProcessLookupError):  # nothing left to kill: the point
            os.killpg(proc.pid, signal.SIGKILL)


# ---------------------------------------------------------------------- backends agree
@pytest.fixture(scope="module")
def serial_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "suite"
    assert run_suite(_plan(seeds=(0, 1, 2)), out, workers=1, progress=False) == []
    write_outputs(out, figures=False)
    return out


def _assert_same_results(a: Path, b: Path) -> None:
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    files_a, files_b = _record_files(a), _record_files(b)
    assert sorted(files_a) == sorted(files_b) and len(files_a) == 12  # 6 records + 6 response files
    for name in files_a:
        assert _without_wall(files_a[name]) == _without_wall(files_b[name]), name


def test_worker_processes_give_the_serial_results(serial_suite, tmp_path):
    out = tmp_path / "suite"
    assert run_suite(_plan(seeds=(0, 1, 2)), out, workers=2, progress=False) == []
    write_outputs(out, figures=False)
    _assert_same_results(serial_suite, out)


def test_the_ray_backend_gives_the_local_results(serial_suite, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "suite"
    assert run_suite(_plan(seeds=(0, 1, 2)), out, workers=2, backend="ray", progress=False) == []
    write_outputs(out, figures=False)
    _assert_same_results(serial_suite, out)


def test_the_ray_backend_without_ray_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SuiteError, match=r'pip install -e "\.\[ray\]"'):
        run_suite(_plan(seeds=(0,)), tmp_path / "suite", backend="ray", progress=False)
    assert not (tmp_path / "suite").exists()


# ---------------------------------------------------------------------- statistics, multi-agent
def test_mean_ci_is_the_student_t_interval():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert high - mean == pytest.approx(4.303 * 1.0 / 3**0.5)
    assert mean_ci([5.0])[0] == 5.0 and all(v != v for v in mean_ci([5.0])[1:])
    assert mean_ci([float("nan"), 1.0, 3.0])[0] == 2.0


def test_edge_sites_runs_use_the_same_schema(tmp_path):
    settings = {"num_sites": 2, "servers_per_site": 2, "tasks_per_site": 5}
    plan = make_plan(
        ["random", "local-first"], ["edge_sites_v0"], [0], 100, episodes=1, env_kwargs={"edge_sites_v0": settings}
    )
    run_suite(plan, tmp_path, progress=False)
    _, data, missing = load_results(tmp_path)
    assert missing == [] and [d.algo for d in data] == ["random", "local-first"]
    for d in data:
        assert d.record.status == "ok" and d.record.scenario_id == "edge_sites_v0"
        assert d.record.env_kwargs == settings
        assert d.record.episodes[0].metrics["num_tasks"] == 10
        assert "conflicts" in d.record.episodes[0].metrics


@pytest.mark.slow
def test_edge_sites_shared_maskable_ppo_trains_and_is_evaluated(tmp_path):
    pytest.importorskip("sb3_contrib")
    settings = {"num_sites": 2, "servers_per_site": 2, "tasks_per_site": 5}
    plan = make_plan(["maskable-ppo"], ["edge_sites_v0"], [0], 256, episodes=1, env_kwargs={"edge_sites_v0": settings})
    run_suite(plan, tmp_path, progress=False)
    record = RunRecord.read(tmp_path / "runs" / "maskable-ppo__edge_sites_v0__seed0.json")
    assert record.status == "ok", record.error
    assert record.budget_steps == 256 and record.episodes[0].agent == "maskable-ppo"
    assert record.learning_curve and all(s <= 256 + 2 * 4 * 1024 for s, _, _ in record.learning_curve)


# ---------------------------------------------------------------------- demo and tutorial
def test_demo_quick_writes_its_table_and_figures(tmp_path, capsys):
    pytest.importorskip("seaborn")
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "greedy" in printed and "mean resp (s)" in printed and "figures:" in printed
    rows = (out / "results.csv").read_text().splitlines()
    algos = [r.split(",")[1] for r in rows[1:]]
    assert algos[:2] == ["random", "greedy"]
    for name in ("latency_cdf", "latency_quality", "learning_curves", "scores"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 5_000
    if "maskable-ppo" in algos:
        record = RunRecord.read(out / "runs" / "maskable-ppo__EAT-Edge-v0__seed0.json")
        assert record.status == "ok", record.error
        assert record.learning_curve and (out / "train" / "maskable-ppo__EAT-Edge-v0__seed0" / "model.zip").is_file()


def _tutorial_commands() -> list[list[str]]:
    text = (REPO / "docs" / "tutorial_suite.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "eat-bench":
                commands.append(words[1:])
    return commands


def _tiny(words: list[str], root: Path) -> list[str]:
    """The tutorial's command with tiny budgets and episodes, inside ``root``."""
    out, i = [], 0
    small = {"--budget": "256", "--seeds": "1", "--episodes": "1", "--workers": "1"}
    while i < len(words):
        word = words[i]
        if word in small:
            out += [word, small[word]]
            i += 2
            continue
        out.append(str(root / word) if word.startswith("runs/") else word)
        i += 1
    if out[0] == "suite":
        out += ["--set", "num_tasks=10", "--quiet", "--curve-points", "1", "--no-figures"]  # `plot` draws them
    return out


def test_the_tutorial_commands_run(tmp_path, capsys):
    pytest.importorskip("seaborn")
    pytest.importorskip("stable_baselines3")
    commands = _tutorial_commands()
    assert [c[0] for c in commands] == ["suite", "suite", "plot"]
    for words in commands:
        assert main(_tiny(words, tmp_path)) == 0, words
    printed = capsys.readouterr().out
    assert "ppo" in printed and "figures:" in printed


# ---------------------------------------------------------------------- hyper-parameters
def test_hyperparameters_reach_the_learner_runs_and_their_records(tmp_path):
    from eat_bench.cli import _suite_hyperparams

    # Unscoped keys go to every learner of the suite, scoped ones to one (and win).
    assert _suite_hyperparams([("n_steps", 64), ("ppo:n_steps", 32), ("a2c:gamma", 0.9)], ["random", "ppo", "a2c"]) == {
        "ppo": {"n_steps": 32},
        "a2c": {"n_steps": 64, "gamma": 0.9},
    }
    plan = _plan(algos=("random", "ppo"), seeds=(0,), hyperparams={"ppo": {"n_steps": 32, "batch_size": 32}})
    by_algo = {r.algo: r for r in plan.runs()}
    assert by_algo["ppo"].hyperparams == {"n_steps": 32, "batch_size": 32} and by_algo["random"].hyperparams == {}
    assert type(plan).from_dict(plan.to_dict()) == plan
    assert run_suite(plan, tmp_path, progress=False) == []
    record = RunRecord.read(tmp_path / "runs" / "ppo__EAT-Edge-v0__seed0.json")
    assert record.hyperparams == {"n_steps": 32, "batch_size": 32}
    trained = json.loads((tmp_path / "train" / "ppo__EAT-Edge-v0__seed0" / "train.json").read_text())
    assert trained["hyperparams"]["n_steps"] == 32 and trained["hyperparams"]["batch_size"] == 32
    # Another set of hyper-parameters is another suite: the folder refuses it.
    with pytest.raises(SuiteError, match=r"differs in: .*hyperparams"):
        run_suite(
            _plan(algos=("random", "ppo"), seeds=(0,), hyperparams={"ppo": {"n_steps": 64}}), tmp_path, progress=False
        )
