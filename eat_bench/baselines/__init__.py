"""Baselines: heuristics (here), SB3 algorithms and EAT (need the ``rl`` extra)."""

from eat_bench.baselines.heuristics import HEURISTICS, Agent, make_heuristic

__all__ = ["Agent", "HEURISTICS", "make_heuristic"]
