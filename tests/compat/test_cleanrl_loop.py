"""A CleanRL-style, plain-torch PPO loop over ``gym.make_vec`` (``examples/cleanrl_ppo.py``)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

ARGV = ["--steps", "256", "--num-steps", "32", "--epochs", "2", "--minibatches", "2", "--num-tasks", "4"]


def test_losses_finite_shapes_and_seed_reproduces(load_example):
    example = load_example("cleanrl_ppo")
    first = example.main(ARGV)
    assert len(first["losses"]) == 4  # 256 steps / (2 copies x 32 steps)
    assert all(math.isfinite(v) for row in first["losses"] for v in row.values())
    shapes = first["shapes"]
    assert shapes["obs"] == (32, 2, 158) and shapes["masks"] == (32, 2, 18) and shapes["actions"] == (32, 2, 3)
    assert shapes["rewards"] == shapes["logp"] == shapes["values"] == (32, 2)
    assert first["returns"] and all(math.isfinite(r) for r in first["returns"])  # 4-task episodes end
    assert example.main(ARGV) == first
    assert example.main(ARGV[:-2] + ["--num-tasks", "4", "--seed", "1"])["losses"] != first["losses"]
