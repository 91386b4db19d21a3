"""Tests of the published board (eat_bench.leaderboard.board): loading results folders,
refusing bad ones, scoring, the Markdown, and the page in headless Chromium."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eat_bench.leaderboard.board import (
    FIGURES,
    SCHEMA,
    BoardEntry,
    ResultsError,
    admission_problem,
    build_board,
    collect_entries,
    load_entry,
    score_entries,
)
from eat_bench.leaderboard.score import Interval

HERE = Path(__file__).resolve().parent
SCENARIOS = ("EAT-Edge-v0", "EAT-Paper-v0")
SEEDS = (1003, 1001, 1002, 1000)  # deliberately unsorted: entries order episodes by seed


def _browser():
    """tests/leaderboard/browser.py, imported by path (the tests are not a package)."""
    name = "eat_bench_tests_leaderboard_browser"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "browser.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def write_results(
    root: Path,
    name: str,
    returns: dict[str, list[float]] | float,
    latency: float = 10.0,
    quality: float = 0.8,
    links: tuple[str, ...] = ("https://example.org/paper",),
    version: str = "1",
    trace: str = "c0",
    **overrides: Any,
) -> Path:
    """A fake evaluator results folder: results.json plus one .npz log per episode.
    ``returns`` is per scenario (one per seed) or a constant for every episode."""
    folder = root / name
    rng = np.random.default_rng(len(name) * 7 + int(latency))
    episodes = []
    for k, scenario in enumerate(SCENARIOS):
        for i, seed in enumerate(SEEDS):
            value = returns if isinstance(returns, float) else returns[scenario][i]
            times = latency * (1 + k) * rng.lognormal(0.0, 0.5, size=30)
            log = f"logs/{scenario}/{seed}.npz"
            (folder / "logs" / scenario).mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            np.savez_compressed(buffer, actions=rng.integers(0, 4, size=(30, 2)), response_times=times)
            (folder / log).write_bytes(buffer.getvalue())
            episodes.append(
                {
                    "scenario": scenario,
                    "seed": seed,
                    "status": "ok",
                    "metrics": {
                        "mean_response_s": float(times.mean()),
                        "p95_response_s": float(np.percentile(times, 95)),
                        "mean_quality": quality,
                        "mean_quality_normalized": quality,
                        "slo_attainment": 0.9,
                        "cold_starts": 3,
                        "num_tasks": 30,
                    },
                    "episode_return": value,
                    "env_steps": 30,
                    "truncated": False,
                    "wall_time_s": 0.5,
                    "log": log,
                    "log_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                }
            )
    results = {
        "schema": SCHEMA,
        "submission": {
            "name": name,
            "authors": ["A. Author"],
            "links": list(links),
            "track": "single-agent",
            "entry_point": "agent:make",
            "obs_mode": "dict",
            "action_mode": "discrete",
            "info_mode": "none",
            "training_budget": 100_000 if name == "my-algo" else 0,
            "training_seeds": [0],
            "env_modified": False,
        },
        "evaluation_set": {"track": "single-agent", "version": version},
        "official": True,
        "complete": True,
        "package_version": "0.1.0",
        "isolation": {"kind": "bubblewrap"},
        "started": "2025-03-01T10:00:00+00:00",
        "finished": "2025-03-02T11:30:00Z",
        "wall_time_s": 12.0,
        "scenarios": {
            s: {"env_id": s, "spec_fingerprint": "f0", "trace_checksum": trace, "env_kwargs": {}} for s in SCENARIOS
        },
        "episodes": episodes,
        "failure": None,
    }
    for key, value in overrides.items():
        results[key] = value
    (folder / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return folder


def _edit(folder: Path, change) -> Path:
    path = folder / "results.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return folder


@pytest.fixture()
def board_inputs(tmp_path) -> tuple[list[BoardEntry], Path]:
    """random -100, greedy (the reference) -50, my-algo -40, round-robin -80, constant."""
    root = tmp_path / "results"
    spec = {"random": (-100.0, 30.0, 0.5), "greedy": (-50.0, 12.0, 0.8), "my-algo": (-40.0, 9.0, 0.82),
            "round-robin": (-80.0, 20.0, 0.7)}  # fmt: skip
    entries = [load_entry(write_results(root, n, r, latency=lat, quality=q)) for n, (r, lat, q) in spec.items()]
    return entries, root


# ---------------------------------------------------------------------------- loading


def test_load_entry_reads_results_and_logs(tmp_path):
    returns = {"EAT-Edge-v0": [4.0, 2.0, 3.0, 1.0], "EAT-Paper-v0": [8.0, 6.0, 7.0, 5.0]}
    entry = load_entry(write_results(tmp_path, "my-algo", returns))
    assert entry.name == "my-algo"
    assert entry.scenarios == SCENARIOS
    assert entry.evaluation_set == ("single-agent", "1")
    assert entry.date == "2025-03-02"
    # ordered by seed: 1000 -> the 4th value, 1001 -> 2nd, 1002 -> 3rd, 1003 -> 1st
    assert entry.returns["EAT-Edge-v0"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert entry.returns["EAT-Paper-v0"].tolist() == [5.0, 6.0, 7.0, 8.0]
    pooled = np.concatenate(
        [np.load(tmp_path / "my-algo" / f"logs/EAT-Edge-v0/{s}.npz")["response_times"] for s in SEEDS]
    )
    np.testing.assert_array_equal(entry.response_times["EAT-Edge-v0"], pooled)
    assert entry.metric("cold_starts") == 3.0
    assert entry.metric("mean_response_s", "EAT-Edge-v0") == pytest.approx(
        np.mean([np.load(tmp_path / "my-algo" / f"logs/EAT-Edge-v0/{s}.npz")["response_times"].mean() for s in SEEDS])
    )
    with pytest.raises(ValueError):
        entry.returns["EAT-Edge-v0"][0] = 9.0  # read-only
    assert admission_problem(entry) is None


def _drop(key):
    return lambda d: d.pop(key)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(schema="eat-bench/results/0"), "schema 'eat-bench/results/0'"),
        (_drop("episodes"), "missing field 'episodes'"),
        (lambda d: d["submission"].pop("name"), r"missing field submission\.'name'"),
        (lambda d: d["submission"].update(training_budget="lots"), r"submission\.'training_budget' must be an integer"),
        (lambda d: d.update(official="yes"), r"'official' must be true or false"),
        (lambda d: d["episodes"][0]["metrics"].pop("p95_response_s"), r"episodes\[0\]\.metrics\.'p95_response_s'"),
        (lambda d: d["episodes"][1].update(scenario="EAT-Nope-v0"), r"episodes\[1\] names scenario 'EAT-Nope-v0'"),
        (lambda d: d["episodes"][1].update(seed=d["episodes"][0]["seed"]), r"episodes\[1\] repeats scenario"),
        (lambda d: d["episodes"][2].update(log_sha256="0" * 64), "SHA-256 differs"),
        (lambda d: d["episodes"][2].update(log="../../etc/passwd"), "points outside the results folder"),
        (lambda d: d["episodes"][2].update(log="logs/none.npz"), "cannot read the log"),
        (lambda d: d.update(finished="yesterday"), "not an ISO-8601 time"),
    ],
)
def test_malformed_results_raise_naming_the_file(tmp_path, change, message):
    folder = _edit(write_results(tmp_path, "bad", -1.0), change)
    with pytest.raises(ResultsError, match=message) as err:
        load_entry(folder)
    assert str(folder) in str(err.value)


def test_unreadable_files_raise_naming_the_file(tmp_path):
    with pytest.raises(ResultsError, match=re.escape(str(tmp_path / "results.json")) + ": cannot read"):
        load_entry(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ResultsError, match="not valid JSON .* line 1"):
        load_entry(tmp_path)
    folder = write_results(tmp_path, "corrupt", -1.0)
    log = folder / "logs" / SCENARIOS[0] / f"{SEEDS[0]}.npz"
    log.write_bytes(b"not a zip")
    _edit(folder, lambda d: d["episodes"][0].update(log_sha256=hashlib.sha256(b"not a zip").hexdigest()))
    with pytest.raises(ResultsError, match="not a readable .npz log"):
        load_entry(folder)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"official": False}, "unofficial"),
        ({"complete": False}, "partial"),
        ({"failure": {"reason": "timeout", "detail": "episode 3"}}, r"failed: timeout \(episode 3\)"),
    ],
)
def test_admission_refuses_quick_partial_and_failed_runs(tmp_path, overrides, reason):
    entry = load_entry(write_results(tmp_path, "x", -1.0, **overrides))
    assert re.search(reason, admission_problem(entry))


def test_a_failed_episode_is_refused(tmp_path):
    folder = _edit(write_results(tmp_path, "x", -1.0), lambda d: d["episodes"][3].update(status="failed"))
    assert admission_problem(load_entry(folder)) == "1 failed episode(s), first EAT-Edge-v0 seed 1000"


def test_collect_entries_turns_bad_folders_into_refusals(tmp_path):
    good = write_results(tmp_path, "good", -1.0)
    quick = write_results(tmp_path, "quick", -1.0, official=False)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("[]")
    tampered = write_results(tmp_path, "tampered", -1.0)
    entries, refused = collect_entries(
        [good, quick, broken, tampered], verify=lambda f: "metric changed" if f.name == "tampered" else None
    )
    assert [e.name for e in entries] == ["good"]
    assert [name for name, _ in refused] == ["quick", "broken", "tampered"]
    assert refused[1][1].startswith("unreadable: ") and "must be an object" in refused[1][1]
    assert refused[2][1] == "unverified: metric changed"


# ---------------------------------------------------------------------------- scoring


def test_scores_are_normalised_between_random_and_reference(board_inputs):
    entries, _ = board_inputs
    ranking = score_entries(entries, reps=200)
    assert [(s.rank, s.name) for s in ranking] == [(1, "my-algo"), (2, "greedy"), (3, "round-robin"), (4, "random")]
    by_name = {s.name: s for s in ranking}
    # constant returns: (-40 + 100) / 50 = 1.2, (-80 + 100) / 50 = 0.4; zero-width intervals
    assert by_name["my-algo"].score == Interval(1.2, 1.2, 1.2)
    assert by_name["greedy"].score == Interval(1.0, 1.0, 1.0)
    assert by_name["round-robin"].score.point == pytest.approx(0.4)
    assert by_name["random"].score == Interval(0.0, 0.0, 0.0)
    assert [s.scenario for s in by_name["my-algo"].per_scenario] == list(SCENARIOS)
    # the best baseline other than itself: greedy for the rest, round-robin for greedy
    assert (by_name["my-algo"].versus, by_name["my-algo"].improvement) == ("greedy", Interval(1.0, 1.0, 1.0))
    assert by_name["greedy"].versus == "round-robin"
    assert by_name["random"].improvement == Interval(0.0, 0.0, 0.0)
    assert not by_name["my-algo"].baseline and by_name["greedy"].baseline


def test_scores_per_scenario_by_hand(tmp_path):
    random = load_entry(write_results(tmp_path, "random", {s: [0.0, 0.0, 0.0, 0.0] for s in SCENARIOS}))
    greedy = load_entry(write_results(tmp_path, "greedy", {s: [10.0, 10.0, 10.0, 10.0] for s in SCENARIOS}))
    mine = load_entry(
        write_results(
            tmp_path, "mine", {"EAT-Edge-v0": [0.0, 5.0, 10.0, 40.0], "EAT-Paper-v0": [-10.0, -10.0, 0.0, 0.0]}
        )
    )
    by_name = {s.name: s for s in score_entries([random, greedy, mine], reps=300)}
    edge, paper = by_name["mine"].per_scenario
    assert edge.score.point == pytest.approx(0.75)  # IQM of 0, .5, 1, 4 = mean(.5, 1)
    assert paper.score.point == pytest.approx(-0.5)  # IQM of -1, -1, 0, 0
    # pooled and sorted: -1, -1, 0, 0, 0, .5, 1, 4; drop two each side: 0, 0, 0, .5
    assert by_name["mine"].score.point == pytest.approx(0.125)


def test_scoring_needs_the_random_and_reference_entries(board_inputs):
    entries, _ = board_inputs
    with pytest.raises(ValueError, match="the reference entry 'greedy' is not among the entries"):
        score_entries([e for e in entries if e.name != "greedy"], reps=10)
    with pytest.raises(ValueError, match="the random entry 'uniform'"):
        score_entries(entries, random_name="uniform", reps=10)


def test_equal_random_and_reference_means_are_an_error_naming_the_scenario(tmp_path):
    entries = [load_entry(write_results(tmp_path, n, -5.0)) for n in ("random", "greedy")]
    with pytest.raises(ValueError, match="scenario 'EAT-Edge-v0': cannot normalise"):
        score_entries(entries, reps=10)


# ---------------------------------------------------------------------------- the board


def _table_names(markdown: str, heading: str) -> list[str]:
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Rank")]
    rows = [r for r in rows if not r.startswith("| Name ")]
    return [cell.strip() for cell in (r.split(" | ")[1] for r in rows)]


def test_board_markdown(board_inputs, tmp_path):
    entries, root = board_inputs
    other_set = load_entry(write_results(root, "old-set", -45.0, version="0"))
    changed = load_entry(write_results(root, "changed", -45.0, trace="c1"))
    quick = load_entry(write_results(root, "quick", -45.0, official=False))
    written = build_board(
        [*entries, other_set, changed, quick], tmp_path / "board", refused=[("broken", "unreadable: x")], reps=200
    )
    assert set(written) == {"LEADERBOARD.md", "site/index.html", *(f"site/figures/{f}" for f in FIGURES)}
    text = written["LEADERBOARD.md"].read_text(encoding="utf-8")
    assert text.startswith("# eat-bench leaderboard: single-agent track\n")
    assert "Evaluation set `single-agent` version `1`: 2 scenarios, 8 episodes per entry. Updated 2025-03-02." in text
    assert _table_names(text, "Ranking") == ["my-algo", "greedy †", "round-robin †", "random †"]
    first = next(line for line in text.splitlines() if line.startswith("| 1 | my-algo |"))
    cells = [c.strip() for c in first.strip("|").split("|")]
    assert cells[2] == "1.20 [1.20, 1.20]"
    assert cells[3] == "1.00 [1.00, 1.00] vs greedy"
    assert cells[7] == "90.0%" and cells[8] == "3.0" and cells[9] == "100,000" and cells[10] == "2025-03-02"
    assert cells[11] == "[example.org](https://example.org/paper)"
    assert float(cells[6]) == pytest.approx(0.82)
    refused = text.split("## Refused\n", 1)[1].split("\n## ", 1)[0]
    assert "| broken | unreadable: x |" in refused
    assert "| old\\-set |" not in refused and "| old-set | evaluation set single-agent 0 differs" in refused
    assert (
        "| changed | trace checksums or episode seeds differ from the reference's for EAT-Edge-v0, EAT-Paper-v0 |"
        in refused
    )
    assert "| quick | unofficial" in refused
    assert "## How to read the board" in text and "Agarwal et al., 2021" in text
    assert not [p for p in (tmp_path / "board").rglob("*") if p.name.endswith(".tmp")]


def test_board_markdown_is_deterministic(board_inputs, tmp_path):
    entries, _ = board_inputs
    a = build_board(entries, tmp_path / "a", reps=100, figures=False)
    b = build_board(list(reversed(entries)), tmp_path / "b", reps=100, figures=False)
    assert a["LEADERBOARD.md"].read_bytes() == b["LEADERBOARD.md"].read_bytes()
    assert "site/figures/scores.png" not in a
    c = build_board(entries, tmp_path / "c", reps=100, figures=False, date="2030-01-01")
    assert "Updated 2030-01-01." in c["LEADERBOARD.md"].read_text()


def test_board_needs_its_random_and_reference_entries(board_inputs, tmp_path):
    entries, root = board_inputs
    quick_greedy = load_entry(write_results(root / "q", "greedy", -50.0, official=False))
    others = [e for e in entries if e.name != "greedy"]
    with pytest.raises(ValueError, match="the reference entry 'greedy' is missing or refused"):
        build_board([*others, quick_greedy], tmp_path / "board", figures=False, reps=10)
    assert not (tmp_path / "board" / "LEADERBOARD.md").exists()


def test_repeated_names_are_refused(board_inputs, tmp_path):
    entries, root = board_inputs
    twin = load_entry(write_results(root / "twin", "my-algo", -10.0))
    written = build_board([*entries, twin], tmp_path / "board", figures=False, reps=10)
    text = written["LEADERBOARD.md"].read_text()
    assert "| my\\-algo | another result is already named 'my-algo' |" not in text
    assert "| my-algo | another result is already named 'my-algo' |" in text
    assert _table_names(text, "Ranking")[0] == "my-algo"
    assert "1.20 [1.20, 1.20]" in text  # the first one stays


def test_submission_text_cannot_inject_markup(board_inputs, tmp_path):
    entries, root = board_inputs
    hostile = load_entry(
        write_results(root, "<script>alert(1)</script>|x", -45.0, links=("javascript:alert(1)", "https://ok.example/a"))
    )
    written = build_board([*entries, hostile], tmp_path / "board", reps=50, figures=False)
    page = written["site/index.html"].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;|x" in page
    assert 'href="javascript' not in page and 'href="https://ok.example/a"' in page
    text = written["LEADERBOARD.md"].read_text()
    assert "\\<script\\>alert(1)\\</script\\>\\|x" in text
    assert "(javascript:" not in text and "[ok.example](https://ok.example/a)" in text


def _check_png(path: Path) -> None:
    image = pytest.importorskip("matplotlib.image").imread(path)
    height, width = image.shape[:2]
    assert width >= 400 and height >= 200, (path, image.shape)
    assert float(image[..., :3].var()) > 1e-3, f"{path} is blank"


def test_the_figures_have_content(board_inputs, tmp_path):
    pytest.importorskip("seaborn")
    entries, _ = board_inputs
    written = build_board(entries, tmp_path / "board", reps=100)
    for name in FIGURES:
        _check_png(written[f"site/figures/{name}"])
    page = written["site/index.html"].read_text()
    assert all(f'src="figures/{name}"' in page for name in FIGURES)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.replace('href="https://example.org/paper"', ""))


# ---------------------------------------------------------------------------- the page in Chromium


PAGE_PROBES = {
    "title": "document.title",
    "ranks": "[...document.querySelectorAll('#ranking tbody tr')].map(r => r.dataset.rank)",
    "names": "[...document.querySelectorAll('#ranking tbody td.name')].map(td => td.dataset.name)",
    "images": "[...document.images].map(i => ({src: i.getAttribute('src'), complete: i.complete,"
    " width: i.naturalWidth, height: i.naturalHeight}))",
    "refused": "[...document.querySelectorAll('#refused tbody tr td:first-child')].map(td => td.textContent)",
}


def test_the_page_in_headless_chromium(board_inputs, tmp_path):
    pytest.importorskip("seaborn")
    browser = _browser()
    if browser.find_chromium() is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; or set EAT_BENCH_CHROMIUM)")
    entries, _ = board_inputs
    written = build_board(entries, tmp_path / "board", refused=[("broken", "unreadable")], reps=200)
    page = written["site/index.html"]
    report = browser.load_page(page.as_uri(), PAGE_PROBES, screenshot=True)
    assert report.errors == ()
    values = report.values
    assert values["title"] == "eat-bench leaderboard: single-agent track"
    assert values["ranks"] == ["1", "2", "3", "4"]
    assert values["names"] == ["my-algo", "greedy", "round-robin", "random"]
    assert values["refused"] == ["broken"]
    assert sorted(i["src"] for i in values["images"]) == sorted(f"figures/{f}" for f in FIGURES)
    for image in values["images"]:
        assert image["complete"] and image["width"] > 400 and image["height"] > 200, image
        _check_png(page.parent / image["src"])
    shot = tmp_path / "board.png"
    browser.save_screenshot(report, shot)
    _check_png(shot)
    if target := os.environ.get("EAT_BENCH_BOARD_SCREENSHOT"):
        browser.save_screenshot(report, Path(target))


def test_the_browser_check_can_fail(tmp_path):
    """The helper reports a broken image and a script error, so a clean report means something."""
    browser = _browser()
    if browser.find_chromium() is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; or set EAT_BENCH_CHROMIUM)")
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><title>x</title><img src="gone.png"><script>undefinedThing()</script>')
    report = browser.load_page(page.as_uri(), {"width": "document.images[0].naturalWidth"})
    assert report.values["width"] == 0
    assert any("gone.png" in e for e in report.errors)
    assert any("undefinedThing" in e for e in report.errors)


def test_undefined_latency_of_an_episode_that_dispatched_nothing(tmp_path):
    """A null latency (an episode that dispatched nothing) loads as NaN and is left out of
    the latency means, while its SLO misses still count; NaN when no episode defines it."""
    folder = write_results(tmp_path, "idle", 1.0, latency=10.0)
    path = folder / "results.json"
    data = json.loads(path.read_text())
    for episode in data["episodes"]:
        if episode["scenario"] == "EAT-Paper-v0" or episode["seed"] == SEEDS[0]:
            episode["metrics"]["mean_response_s"] = None
            episode["metrics"]["slo_attainment"] = 0.0
    path.write_text(json.dumps(data))
    entry = load_entry(folder)
    defined = [e["metrics"]["mean_response_s"] for e in data["episodes"] if e["metrics"]["mean_response_s"] is not None]
    assert entry.metric("mean_response_s") == pytest.approx(np.mean(defined))
    assert math.isnan(entry.metric("mean_response_s", "EAT-Paper-v0"))
    slo = [e["metrics"]["slo_attainment"] for e in data["episodes"]]
    assert entry.metric("slo_attainment") == pytest.approx(np.mean(slo))
