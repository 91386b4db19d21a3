"""The ``edge_sites_v0`` environment, split by concern (see :mod:`eat_bench.envs.edge_sites_v0`
for its documentation and factories)."""

from eat_bench.envs.edge_sites.env import ENV_NAME, INFO_MODES, EdgeSitesEnv

__all__ = ["EdgeSitesEnv", "ENV_NAME", "INFO_MODES"]
