"""eat-bench: a benchmark for scheduling diffusion (AIGC) requests on edge GPU clusters.

``import eat_bench`` registers the Gymnasium ids (``gym.make("EAT-Edge-v0")``) and
nothing else: no torch, no trace loading.
"""

from eat_bench.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "register_envs"]
