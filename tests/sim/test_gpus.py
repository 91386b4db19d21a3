"""Tests for the GPU registry eat_bench.sim.gpus."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from eat_bench.sim import gpus
from eat_bench.sim.gpus import GPUS, GPUS_BY_NAME, Figure, GpuKind, get_gpu, match_device_name
from eat_bench.sim.profiles import KNOWN_GPUS


def test_known_gpus_is_the_registry() -> None:
    assert list(KNOWN_GPUS) == [g.name for g in GPUS]
    assert all(KNOWN_GPUS[g.name] == g.description for g in GPUS)
    assert get_gpu("A100") is GPUS_BY_NAME["A100"]
    with pytest.raises(KeyError, match="unknown GPU 'B200'; known GPUs: T4, V100"):
        get_gpu("B200")


def test_edge_mixed_gpus_and_their_figures() -> None:
    edge = [g.name for g in GPUS if g.in_edge_mixed]
    assert edge == ["T4", "RTX3090", "RTX4090", "A100", "H100", "Jetson-AGX-Orin"]
    assert get_gpu("RTX4090").sd15_it_s == Figure(40.5, get_gpu("T4").sd15_it_s.source)
    assert get_gpu("H100").sdxl_30_steps_s.value == 2.496
    assert get_gpu("T4").sd15_cold_load_s.value == 40.0
    assert [g.name for g in GPUS if g.sd15_cold_load_s] == ["T4"]


def test_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="description is empty"):
        GpuKind("B200", " ")
    with pytest.raises(ValueError, match="CSV-safe"):
        GpuKind("B200,x", "a GPU")
    with pytest.raises(ValueError, match="source is empty"):
        Figure(1.0, "")
    with pytest.raises(ValueError, match="must be > 0"):
        Figure(0.0, "somewhere")


@pytest.mark.parametrize(
    "device, kind",
    [
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A10", "A10"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA GeForce RTX 4090", "RTX4090"),
        ("Tesla T4", "T4"),
        ("Orin (nvgpu)", "Jetson-AGX-Orin"),
        ("Fancy GPU 9000", None),
    ],
)
def test_match_device_name(device: str, kind: str | None) -> None:
    assert match_device_name(device) == kind


def test_registry_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(gpus.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "dataclasses"}
