"""Root pytest configuration: skip doctest collection of modules whose extra is missing,
and keep torch to one thread per test process (pytest-xdist already runs one process per
core; more threads per process only contend)."""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch when first imported

collect_ignore: list[str] = []
if importlib.util.find_spec("stable_baselines3") is None or importlib.util.find_spec("supersuit") is None:
    # Need the `rl` extra (pip install -e ".[rl]").
    collect_ignore += ["eat_bench/envs/vector.py", "eat_bench/baselines/marl_ppo.py"]
if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec("torch") is None:
    # Need the `profile` extra (pip install -e ".[profile]").
    collect_ignore += ["eat_bench/profiling/models.py", "eat_bench/profiling/recorder.py", "eat_bench/profiling/live.py"]
