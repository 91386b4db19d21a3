"""Baselines: the agent protocol and registry, heuristics, the evaluation loop and its
records (here); SB3 algorithms and EAT need the ``rl`` extra."""

from eat_bench.baselines.agents import AGENTS, Agent, AgentSpec, make_agent, register_agent
from eat_bench.baselines.heuristics import HEURISTICS, make_heuristic

__all__ = ["Agent", "AgentSpec", "AGENTS", "HEURISTICS", "make_agent", "make_heuristic", "register_agent"]
