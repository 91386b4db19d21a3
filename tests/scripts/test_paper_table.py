"""scripts/paper_table.py: the paper's sweep, its cells and its intervals over training seeds."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "paper_table.py"


@pytest.fixture(scope="module")
def paper_table():
    spec = importlib.util.spec_from_file_location("paper_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(*responses):
    return [dict(seed=i, mean_response_s=r, mean_quality=0.2, ret=-r, truncated=False) for i, r in enumerate(responses)]


def test_a_cell_of_several_models_is_the_interval_over_their_means(paper_table):
    models = [_rows(10.0, 20.0), _rows(30.0, 30.0), _rows(50.0, 40.0)]  # model means 15, 30, 45
    cell = paper_table.summarise("eat", 0.05, [r for m in models for r in m], models)
    assert cell["models"] == 3 and cell["episodes"] == 6
    assert cell["mean_response_s"] == pytest.approx(30.0)
    # t(0.975, 2) = 4.3027; the models' standard deviation is 15; n = 3.
    assert cell["mean_response_s_ci95"] == pytest.approx(4.302653 * 15.0 / math.sqrt(3), rel=1e-5)
    single = paper_table.summarise("greedy", 0.05, _rows(10.0, 20.0, 30.0))
    assert single["models"] == 1 and single["mean_response_s"] == pytest.approx(20.0)
    assert single["mean_response_s_ci95"] == pytest.approx(4.302653 * 10.0 / math.sqrt(3), rel=1e-5)


def test_the_sweep_writes_its_table_and_merges_rows(paper_table, tmp_path):
    assert (
        paper_table.main(["--agents", "greedy,random", "--episodes", "2", "--rates", "0.05", "--out", str(tmp_path)])
        == 0
    )
    first = list(csv.DictReader(open(tmp_path / "table.csv")))
    assert [r["agent"] for r in first] == ["greedy", "random"] and all(r["models"] == "1" for r in first)
    assert all(float(r["mean_response_s"]) > 0 for r in first)
    # --merge keeps the other agents' rows and redoes the named one: the same episodes, the same cell.
    assert (
        paper_table.main(
            ["--agents", "random", "--episodes", "2", "--rates", "0.05", "--out", str(tmp_path), "--merge"]
        )
        == 0
    )
    merged = list(csv.DictReader(open(tmp_path / "table.csv")))
    assert merged == first
    assert "| greedy |" in (tmp_path / "table.md").read_text() and (tmp_path / "figure.png").stat().st_size > 10_000


def test_a_missing_model_file_is_refused(paper_table, tmp_path, capsys):
    with pytest.raises(SystemExit):
        paper_table.main(["--agents", "", "--model", f"eat={tmp_path / 'nope.zip'}", "--out", str(tmp_path)])
    assert "--model eat: no such model file" in capsys.readouterr().err


def test_a_model_plays_every_rate_at_once_as_it_plays_cell_by_cell(paper_table, monkeypatch):
    from eat_bench.baselines.agents import make_agent

    class Batched:  # fcfs that acts in batches, standing in for a trained model
        def __init__(self, env):
            self.inner, self.calls = make_agent("fcfs", env), 0

        def reset(self, seed=None):
            self.inner.reset(seed)

        def act(self, observation, info):
            return self.inner.act(observation, info)

        def act_batch(self, observations, infos):
            self.calls += 1
            return [self.inner.act(o, i) for o, i in zip(observations, infos)]

    made = []
    monkeypatch.setattr(paper_table, "agent_env_kwargs", lambda name: {"info_mode": "scheduler"})
    monkeypatch.setattr(paper_table, "make_agent", lambda name, env: made.append(Batched(env)) or made[-1])
    monkeypatch.setattr(paper_table, "make_env", lambda rate, kw: paper_table.gym.make(
        "EAT-Paper-v0", arrival_rate=rate, num_tasks=8, info_mode="scheduler", **paper_table.PAPER_SETTING))  # fmt: skip
    rates, seeds = [0.05, 0.11], [1_000_000, 1_000_001]
    together = paper_table.run_model_lockstep("fcfs", "model.zip", rates, seeds)
    for rate in rates:
        assert together[rate] == paper_table.run_cell("fcfs", "model.zip", rate, seeds, None)
    assert all(r["mean_response_s"] > 0 for rows in together.values() for r in rows)
