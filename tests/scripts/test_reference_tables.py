"""scripts/reference_tables.py: the markdown tables of docs/reference_results.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from eat_bench.baselines.suite import aggregate, load_results, make_plan, run_suite

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "baselines" / "results" / "reference"


@pytest.fixture(scope="module")
def reference_tables():
    spec = importlib.util.spec_from_file_location("reference_tables", REPO / "scripts" / "reference_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_table_row_is_the_suite_aggregate(reference_tables, tmp_path):
    plan = make_plan(
        ["random", "greedy"], ["EAT-Edge-v0"], [0, 1], 100, episodes=2, env_kwargs={"EAT-Edge-v0": {"num_tasks": 8}}
    )
    assert run_suite(plan, tmp_path, progress=False) == []
    text = reference_tables.tables(str(tmp_path))
    rows = {r["algo"]: r for r in aggregate(*load_results(tmp_path)[:2])}
    greedy = next(line for line in text.splitlines() if line.startswith("| greedy |"))
    cells = [c.strip() for c in greedy.strip("|").split("|")]
    assert cells[1:4] == ["2/2", "–", "100% ± 0%"]  # greedy serves every task of these short episodes
    mean, low, high = (
        rows["greedy"][k] for k in ("mean_response_s", "mean_response_s_ci_low", "mean_response_s_ci_high")
    )
    digits = 1 if abs(mean) >= 10 else 3
    assert cells[4] == f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"
    assert "**EAT-Edge-v0**" in text and "| random |" in text


@pytest.mark.skipif(not (REFERENCE / "plan.json").is_file(), reason="no committed reference suite")
def test_the_committed_tables_are_those_of_the_committed_runs(reference_tables):
    # docs/reference_results.md includes tables.md: regenerate it with
    # python scripts/reference_tables.py baselines/results/reference > baselines/results/reference/tables.md
    assert (REFERENCE / "tables.md").read_text() == reference_tables.tables(str(REFERENCE)) + "\n"
