"""docs/tutorial_submit.md runs as written (on a two-scenario, two-seed evaluation set)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from eat_bench.cli import main
from eat_bench.leaderboard import evalset
from eat_bench.leaderboard.evalset import HELD_OUT_SURGE, EvalScenario, EvaluationSet

REPO = Path(__file__).resolve().parents[2]


def _commands() -> list[list[str]]:
    text = (REPO / "docs" / "tutorial_submit.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def test_the_tutorial_commands_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("seaborn")
    seeds = (evalset.LEADERBOARD_SEED_BASE, evalset.LEADERBOARD_SEED_BASE + 1)
    tiny = EvaluationSet(
        track="single-agent",
        version="tutorial",
        scenarios=(
            EvalScenario("EAT-Edge-v0", seeds),
            EvalScenario(HELD_OUT_SURGE.id, seeds, held_out=True, spec=HELD_OUT_SURGE),
        ),
    )
    monkeypatch.setitem(evalset.EVALUATION_SETS, "single-agent", tiny)
    monkeypatch.chdir(tmp_path)
    commands = _commands()
    assert [c[:2] for c in commands] == [
        ["eat-bench", "submission"],
        ["eat-bench", "evaluate"],
        ["eat-bench", "verify"],
        ["eat-bench", "evaluate"],
        ["eat-bench", "verify"],
        ["cp", "-r"],
        ["eat-bench", "board"],
    ]
    for words in commands:
        if words[0] == "cp":
            # The committed reference results belong to the real set: evaluate the two
            # reference submissions on the tutorial's set instead.
            for name in ("random", "greedy"):
                assert (
                    main(
                        [
                            "evaluate",
                            str(REPO / "leaderboard" / "submissions" / name),
                            "--out",
                            f"results/{name}",
                            "--quiet",
                        ]
                    )
                    == 0
                )
            continue
        assert main(words[1:]) == 0, words
    printed = capsys.readouterr().out
    assert "verified" in printed and "unofficial" in printed
    board = (tmp_path / "board" / "LEADERBOARD.md").read_text()
    ranked = re.findall(r"^\| (\d+) \| ([\w.-]+)", board, flags=re.M)
    assert sorted(name for _, name in ranked[:3]) == ["greedy", "my-algo", "random"]  # the ranking table
    assert "tutorial" in board  # the evaluation set's version
    assert (tmp_path / "board" / "site" / "index.html").is_file()
    # replaying in two processes publishes the same board, byte for byte
    assert main(["board", "--results", "results", "--out", "board2", "--workers", "2"]) == 0
    assert (tmp_path / "board2" / "LEADERBOARD.md").read_bytes() == (tmp_path / "board" / "LEADERBOARD.md").read_bytes()
    assert not (tmp_path / "scratch" / "my-algo" / "results.json").read_text().count('"official": true')
