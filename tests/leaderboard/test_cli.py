"""The leaderboard's ``eat-bench`` commands, called in-process: exit codes and messages."""

from __future__ import annotations

import pytest

from eat_bench.cli import build_parser, main
from eat_bench.leaderboard import cli as leaderboard_cli
from eat_bench.leaderboard.submission import SUBMISSION_FILE, load_submission


def test_submission_init(tmp_path, capsys):
    """init writes the three files (exit 0, each named, and the next command); a second
    time it exits 2 saying what exists, and changes nothing."""
    folder = tmp_path / "my-algo"
    assert main(["submission", "init", str(folder)]) == 0
    out = capsys.readouterr().out
    for name in (SUBMISSION_FILE, "agent.py", "README.md"):
        assert f"wrote {folder / name}" in out
    assert f"eat-bench evaluate {folder} --out results/my-algo --quick" in out
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "agent.py", SUBMISSION_FILE]
    assert load_submission(folder).name == "my-algo"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    assert main(["submission", "init", str(folder), "--name", "other"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("eat-bench submission init: ")
    assert "already holds" in captured.err and "nothing was written" in captured.err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_submission_init_name_and_bad_name(tmp_path, capsys):
    """--name sets the submission's name; an invalid one exits 2."""
    assert main(["submission", "init", str(tmp_path / "a"), "--name", "given"]) == 0
    assert load_submission(tmp_path / "a").name == "given"
    assert main(["submission", "init", str(tmp_path / "b"), "--name", "no spaces"]) == 2
    assert "not a valid submission name" in capsys.readouterr().err


def test_verify_good_results(quick_results, capsys, memo_replay):
    """verify exits 0 on the untouched quick results and says they are unofficial."""
    assert main(["verify", str(quick_results)]) == 0
    captured = capsys.readouterr()
    assert f"{quick_results}: verified, 12 episodes replayed exactly (unofficial" in captured.out
    assert captured.err == ""


def test_verify_tampered_results(results_copy, capsys, memo_replay):
    """verify exits 1 on tampered results, printing the problem and REJECTED."""
    data = results_copy.load()
    results_copy.episode(data, "EAT-Edge-v0", 2_000_000)["episode_return"] += 1.0
    results_copy.save(data)
    assert main(["verify", str(results_copy.root)]) == 1
    captured = capsys.readouterr()
    assert "EAT-Edge-v0 seed 2000000: episode_return" in captured.err
    assert f"eat-bench verify: {results_copy.root}: REJECTED (1 problem(s))" in captured.err
    assert "verified" not in captured.out


def test_verify_caps_printed_problems(results_copy, capsys, memo_replay):
    """--max-problems limits the lines printed and says how many more."""
    data = results_copy.load()
    data["official"] = True  # 108 episodes missing
    results_copy.save(data)
    assert main(["verify", str(results_copy.root), "--max-problems", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("episode missing") == 3
    assert "... and 105 more" in err and "REJECTED (108 problem(s))" in err


def test_verify_missing_results(tmp_path, capsys):
    """verify of a folder without results.json exits 1 with a clear message."""
    assert main(["verify", str(tmp_path)]) == 1
    assert f"{tmp_path / 'results.json'}: missing" in capsys.readouterr().err


def test_evaluate_refuses_existing_results(results_copy, scaffold, capsys):
    """evaluate into a folder holding results exits 2 before running anything."""
    before = results_copy.path.read_bytes()
    assert main(["evaluate", str(scaffold), "--out", str(results_copy.root), "--quick", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eat-bench evaluate: ") and "results.json exists" in err and "--overwrite" in err
    assert results_copy.path.read_bytes() == before


def test_evaluate_bad_submission(tmp_path, capsys):
    """evaluate of a folder that is no submission exits 2 naming submission.toml."""
    assert main(["evaluate", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{tmp_path / SUBMISSION_FILE}: missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_parser_knows_every_command():
    """submission init, evaluate (with its limits), verify and board parse to their commands."""
    parser = build_parser()
    args = parser.parse_args(["evaluate", "sub", "--out", "o", "--quick", "--isolation", "none", "--memory-gib", "2"])
    assert args.func is leaderboard_cli.cmd_evaluate
    assert (args.quick, args.isolation, args.memory_gib, args.decision_timeout, args.overwrite) == (
        True,
        "none",
        2.0,
        10.0,
        False,
    )
    assert parser.parse_args(["verify", "r"]).func is leaderboard_cli.cmd_verify
    assert parser.parse_args(["submission", "init", "d"]).func is leaderboard_cli.cmd_submission_init
    board = parser.parse_args(["board", "--results", "r", "--out", "o"])
    assert board.func is leaderboard_cli.cmd_board and board.reps == 2000
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "sub", "--isolation", "docker", "--out", "o"])


def test_board_with_only_refused_results_exits_2_naming_them(quick_results, tmp_path, capsys):
    """A results folder whose only result is a --quick run publishes nothing: exit 2, the
    refusal and its reason in the message, and no board files."""
    import shutil

    root = tmp_path / "results"
    shutil.copytree(quick_results, root / "scaffold")
    assert main(["board", "--results", str(root), "--out", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert "nothing to publish" in err and "unofficial" in err
    assert not (tmp_path / "board").exists()
    assert main(["board", "--results", str(tmp_path / "empty"), "--out", str(tmp_path / "board")]) == 2
    assert "no results folders" in capsys.readouterr().err


def test_sigterm_stops_evaluate_cleanly(scaffold, tmp_path):
    """SIGTERM to `eat-bench evaluate` unwinds: exit 143, results.json written with
    complete false and reason "interrupted", and the agent's scratch folder removed."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(scratch_root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "eat_bench.cli", "evaluate", str(scaffold), "--out", str(out), "--quick", "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(scratch_root.glob("eat-agent-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(scratch_root.glob("eat-agent-*")), "the sandbox never started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is False and results["failure"]["reason"] == "interrupted"
    assert not list(scratch_root.glob("eat-agent-*"))
