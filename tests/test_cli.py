"""The `eat-bench` command: list and run."""

from __future__ import annotations

import json

import pytest

from eat_bench.cli import main
from eat_bench.scenarios import SCENARIOS


def test_list_names_every_id_trace_and_preset(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for scenario_id in SCENARIOS:
        assert scenario_id in out
    for name in ("eat-paper", "edge-mixed", "a100-distrifusion", "balanced", "latency", "greedy"):
        assert name in out


def test_run_prints_one_row_per_episode_and_a_mean(capsys):
    code = main(
        [
            "run",
            "--env",
            "EAT-Paper-v0",
            "--agent",
            "fcfs",
            "--episodes",
            "2",
            "--seed",
            "3",
            "--set",
            "decision_interval_s=null",
            "--json",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()  # with --json the table goes to stderr
    assert lines[0] == "EAT-Paper-v0 / fcfs / 2 episode(s) from seed 3"
    assert lines[3].split()[0] == "3" and lines[4].split()[0] == "4" and lines[5].split()[0] == "mean"
    payload = json.loads(captured.out)  # stdout is the JSON document alone
    assert [e["num_tasks"] for e in payload["episodes"]] == [32, 32]
    assert all(e["dispatched"] == 32 for e in payload["episodes"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--set", "foo=1"], "unknown keyword(s) ['foo']"),
        (["run", "--agent", "oracle"], "unknown agent 'oracle'"),
        (["run", "--set", "arrival_rate=-1"], "arrival_rate must be a positive number"),
        (["run", "--episodes", "0"], "--episodes must be at least 1"),
        (["run", "--seed", "-1"], "--seed must be a non-negative integer"),
        (["run", "--env", "Nope-v0"], "unknown env 'Nope-v0'"),
        (["run", "--env", "CartPole-v1"], "unknown env 'CartPole-v1'"),
        (["run", "--set", "max_episode_steps=abc"], "eat-bench run:"),
    ],
)
def test_run_rejects_bad_input_with_a_clear_message(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly():
    """`eat-bench list | head -n 1`: no traceback when the reader has gone away."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "import sys; from eat_bench.cli import main; sys.exit(main(['list']))"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # the reader is gone before the first line is written
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 141


def test_json_output_is_strict_json_even_with_nan_metrics(capsys):
    """An episode that dispatches nothing has no mean response (NaN): null in JSON."""
    argv = ["run", "--agent", "fcfs", "--episodes", "1", "--set", "time_limit_s=0.01", "--json"]
    assert main(argv) == 0
    episode = json.loads(capsys.readouterr().out)["episodes"][0]
    assert episode["dispatched"] == 0 and episode["mean_response_s"] is None
