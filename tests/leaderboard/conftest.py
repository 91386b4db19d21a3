"""Shared fixtures of the leaderboard tests.

``quick_results``: ONE quick evaluation (2 seeds x 6 scenarios) of the scaffold written by
``eat-bench submission init``, run once per session; tests that tamper with it take a
copy (``results_copy``) and edit it through ``Results``.

``memo_replay``: verify replays every episode (~2.5 s for the 12 of a quick run). A
replay is a deterministic function of the scenario (the evaluation set's entry and the
identity of the env built for it), the episode's entry in results.json and the log's
bytes; tamper tests change one or two episodes, so the clean replays of the untouched ones
are remembered across tests under that key. Only clean (problem-free) replays are
remembered: every tampered episode, and any episode whose key changed, is replayed for
real. ``test_untouched_results_pass`` runs without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest


class Results:
    """A copied results folder with helpers to edit it (as a cheater would)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def path(self) -> Path:
        return self.root / "results.json"

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def save(self, data: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def episode(self, data: dict[str, Any], key: str, seed: int) -> dict[str, Any]:
        [match] = [e for e in data["episodes"] if e["scenario"] == key and e["seed"] == seed]
        return match

    def read_log(self, data: dict[str, Any], key: str, seed: int) -> dict[str, np.ndarray]:
        with np.load(self.root / self.episode(data, key, seed)["log"], allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    def write_log(self, data: dict[str, Any], key: str, seed: int, arrays: dict[str, np.ndarray]) -> None:
        """Rewrite one episode's log and fix its recorded sha256 (so only the replay can tell)."""
        entry = self.episode(data, key, seed)
        path = self.root / entry["log"]
        np.savez_compressed(path, **arrays)
        entry["log_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()


collect_ignore_glob = ["fixtures/*"]
"""The fixture submissions are agents, not tests: ``--doctest-modules`` would import them
into the test process (``crash_on_import`` raises at import; the bombs are meant for the
sandbox only)."""

_CLEAN_REPLAYS: set[tuple[str, ...]] = set()


@pytest.fixture
def memo_replay(monkeypatch) -> None:
    """Remember verify's clean per-episode replays across tests (see the module docstring)."""
    from eat_bench.leaderboard import verify as verify_module
    from eat_bench.leaderboard.evaluate import scenario_identity

    real = verify_module._replay

    def replay(scenario: Any, env: Any, episode: dict[str, Any], root: Path) -> list[str]:
        relative = episode.get("log")
        try:
            data = (root / relative).read_bytes() if isinstance(relative, str) and ".." not in relative else None
        except OSError:
            data = None
        if data is None:
            return real(scenario, env, episode, root)
        key = (
            repr(dataclasses.replace(scenario, seeds=())),  # the episode names its own seed
            json.dumps(scenario_identity(scenario, env), sort_keys=True),
            json.dumps(episode, sort_keys=True),
            hashlib.sha256(data).hexdigest(),
        )
        if key in _CLEAN_REPLAYS:
            return []
        problems = real(scenario, env, episode, root)
        if not problems:
            _CLEAN_REPLAYS.add(key)
        return problems

    monkeypatch.setattr(verify_module, "_replay", replay)


@pytest.fixture(scope="session")
def scaffold(tmp_path_factory) -> Path:
    """A submission folder written by ``eat-bench submission init`` (the template agent)."""
    from eat_bench.cli import main

    folder = tmp_path_factory.mktemp("submission") / "scaffold"
    assert main(["submission", "init", str(folder)]) == 0
    return folder


@pytest.fixture(scope="session")
def quick_results(scaffold, tmp_path_factory) -> Path:
    """The results folder of one quick evaluation of the scaffold (never modified: copy it)."""
    from eat_bench.leaderboard.evaluate import evaluate_submission

    out = tmp_path_factory.mktemp("results") / "scaffold"
    results = evaluate_submission(scaffold, out, quick=True)
    assert results["complete"], results["failure"]
    return out


@pytest.fixture
def results_copy(quick_results, tmp_path) -> Results:
    """A private copy of the shared quick results, free to tamper with."""
    target = tmp_path / "results"
    shutil.copytree(quick_results, target)
    return Results(target)
