"""Observations, rewards, masks, episode ends and metrics stay bit-identical to the
trajectories recorded before the house refactor (``scripts/record_golden.py``).

A deliberate change of meaning records the file anew (and bumps the env's version or
says so in its version history); anything else that trips this test is a regression.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "record_golden.py"


def load_recorder():
    spec = importlib.util.spec_from_file_location("record_golden", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recorder = load_recorder()
GOLDEN = recorder.load()


@pytest.mark.parametrize("index", range(len(GOLDEN["single_agent"])))
def test_single_agent_trajectory_is_unchanged(index):
    golden = GOLDEN["single_agent"][index]
    now = recorder.run_single(golden["config"], golden["actions"])
    problem = recorder.first_difference(
        {"single_agent": [golden], "multi_agent": []}, {"single_agent": [now], "multi_agent": []}
    )
    assert problem is None, problem


@pytest.mark.parametrize("index", range(len(GOLDEN["multi_agent"])))
def test_multi_agent_trajectory_is_unchanged(index):
    golden = GOLDEN["multi_agent"][index]
    now = recorder.run_multi(golden["config"], golden["actions"])
    problem = recorder.first_difference(
        {"single_agent": [], "multi_agent": [golden]}, {"single_agent": [], "multi_agent": [now]}
    )
    assert problem is None, problem


def test_the_check_can_fail():
    """A changed reward at one step is reported with its step."""
    golden = GOLDEN["single_agent"][0]
    now = recorder.run_single(golden["config"], golden["actions"])
    now["steps"][5][1] += 1e-12
    problem = recorder.first_difference(
        {"single_agent": [golden], "multi_agent": []}, {"single_agent": [now], "multi_agent": []}
    )
    assert problem is not None and "step 5" in problem
