"""Shared helpers of the RL-library compatibility tests: one torch thread, no numba
compilation, and the ``examples/`` scripts loaded as modules (the docs include them, so
these tests keep the docs honest)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

# Tianshou JIT-compiles its return computations with numba when a policy or buffer is made
# (about 25 s of CPU, more than all these tests' env steps); plain Python gives the same
# numbers on a few hundred steps. Must be set before numba is imported.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

if importlib.util.find_spec("torch") is not None:
    import torch

    torch.set_num_threads(1)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"eat_bench_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_example():
    """``load_example(name)``: ``examples/<name>.py`` imported as a module (once per session)."""
    loaded: dict[str, ModuleType] = {}

    def load(name: str) -> ModuleType:
        if name not in loaded:
            loaded[name] = _load(name)
        return loaded[name]

    return load
