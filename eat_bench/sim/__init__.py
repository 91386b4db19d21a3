"""The discrete-event core: pure Python + numpy (no gymnasium, torch or pettingzoo)."""

from eat_bench.sim.engine import SimConfig, Simulator
from eat_bench.sim.entities import ServerSpec, TaskRecord, WarmGroups
from eat_bench.sim.metrics import EpisodeMetrics, summarize

__all__ = ["SimConfig", "Simulator", "ServerSpec", "TaskRecord", "WarmGroups", "EpisodeMetrics", "summarize"]
