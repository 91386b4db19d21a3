"""Tests of the suite's figures (eat_bench.baselines.plots): real PNGs, not blank."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from eat_bench.baselines.plots import FIGURES, PlotExtraMissing, make_figures, pareto_front
from eat_bench.baselines.suite import load_results, make_plan, run_suite
from eat_bench.cli import main


def test_pareto_front_keeps_the_undominated_points():
    points = [("slow-good", 9.0, 0.99), ("fast-bad", 1.0, 0.5), ("dominated", 5.0, 0.4), ("mid", 4.0, 0.9)]
    assert [p[0] for p in pareto_front(points)] == ["fast-bad", "mid", "slow-good"]
    assert pareto_front([("nan", float("nan"), 1.0)]) == []


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "suite"
    plan = make_plan(
        ["random", "greedy"], ["EAT-Edge-v0"], [0, 1], 100, episodes=1, env_kwargs={"EAT-Edge-v0": {"num_tasks": 10}}
    )
    run_suite(plan, out, progress=False)
    return out


def _check_png(path, min_width=400, min_height=150):
    image = pytest.importorskip("matplotlib.image").imread(path)
    height, width = image.shape[:2]
    assert width >= min_width and height >= min_height, (path, image.shape)
    assert float(image[..., :3].var()) > 1e-3, f"{path} is blank"


def test_the_figures_are_pngs_with_content(suite, tmp_path):
    pytest.importorskip("seaborn")
    plan, data, missing = load_results(suite)
    assert missing == []
    # Give the runs learning curves (as learners have) so the curve figure draws lines and bands.
    curves = [((500, -20.0 - d.seed, 40.0), (1000, -10.0 + d.seed, 30.0)) for d in data]
    data = [
        dataclasses.replace(d, record=dataclasses.replace(d.record, learning_curve=c)) for d, c in zip(data, curves)
    ]
    written = make_figures(plan, data, tmp_path / "figures")
    assert [p.name for p in written] == list(FIGURES)
    for path in written:
        _check_png(path)


def test_plot_command_rebuilds_from_disk(suite, capsys):
    pytest.importorskip("seaborn")
    for name in FIGURES:
        (suite / "figures" / name).unlink(missing_ok=True)
    (suite / "results.csv").unlink(missing_ok=True)
    assert main(["plot", str(suite)]) == 0
    printed = capsys.readouterr().out
    assert "greedy" in printed and "figures:" in printed
    for name in FIGURES:
        _check_png(suite / "figures" / name)
    assert (suite / "results.csv").read_text().startswith("env,algo,kind,")


def test_plot_of_a_folder_without_a_suite_says_so(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "holds no suite (no plan.json)" in capsys.readouterr().err


def test_without_the_plot_extra_the_error_names_the_install(suite, monkeypatch):
    monkeypatch.setitem(sys.modules, "seaborn", None)
    plan, data, _ = load_results(suite)
    with pytest.raises(PlotExtraMissing, match=r'pip install -e "\.\[plot\]"'):
        make_figures(plan, data, suite / "elsewhere")
