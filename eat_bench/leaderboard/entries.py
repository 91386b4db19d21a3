"""Factories for the shipped baselines as leaderboard submissions.

Inside the sandbox an agent gets only ``(observation_space, action_space, env_id)`` and
then ``(observation, info)``. The heuristics need static facts of the scenario (its
degrees, step levels, the action encoding): :func:`local_env` builds a fresh env of the
same scenario for those, and the heuristics read the state only from the info's
scheduler view (``source="info"``), never from that env. Trained SB3 models are loaded
against such an env; MaskablePPO's masks come from the view too (:func:`mask_from_view`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["local_env", "mask_from_view", "heuristic_agent", "model_agent", "multi_agent"]


def local_env(env_id: str, observation_space: Any, action_space: Any, info_mode: str = "scheduler") -> Any:
    """A fresh env of ``env_id`` (an evaluation-set key or a registered id) in the modes
    the given spaces imply; used for static facts only."""
    from eat_bench.baselines.evaluation import make_eval_env
    from eat_bench.leaderboard.evalset import EVALUATION_SETS

    kwargs = {
        "obs_mode": "dict" if isinstance(observation_space, spaces.Dict) else "flat",
        "action_mode": "continuous" if isinstance(action_space, spaces.Box) else "discrete",
        "info_mode": info_mode,
    }
    for evaluation_set in EVALUATION_SETS.values():
        for scenario in evaluation_set.scenarios:
            if scenario.key == env_id and not scenario.multi_agent_kwargs:
                return scenario.make_env(kwargs)
    return make_eval_env(env_id, kwargs)


def mask_from_view(info: dict[str, Any], nvec: np.ndarray, agent_degree: bool) -> np.ndarray:
    """MaskablePPO's flat mask (slot, degree, step level) computed from the scheduler view:
    the same as the env's ``action_masks()``."""
    n_slots, n_deg, n_steps = (int(n) for n in nvec)
    mask = np.zeros(n_slots + n_deg + n_steps, dtype=bool)
    mask[0] = True
    most = int(np.max(info["free_per_site"]))
    degrees = info["degrees"]
    queue = info["queue_tasks"]
    present = queue[:, 0] > 0
    demand = queue[:, 7].astype(np.int64)
    demand[demand == 0] = int(degrees[0])
    visible = int(present.sum())
    mask[1 : 1 + visible] = demand[:visible] <= most
    if agent_degree:
        mask[n_slots : n_slots + n_deg] = degrees <= most
    mask[n_slots] = True
    mask[n_slots + n_deg :] = True
    return mask


def heuristic_agent(name: str, observation_space: Any, action_space: Any, env_id: str) -> Any:
    """The registered heuristic ``name`` acting from the scheduler view only."""
    from eat_bench.baselines import heuristics

    env = local_env(env_id, observation_space, action_space)
    if name == "random":
        return heuristics.RandomAgent(env)
    return heuristics.HEURISTICS[name](env, source="info")


class _ViewMaskedAgent:
    """A maskable SB3 agent whose masks come from the info's scheduler view."""

    def __init__(self, inner: Any, env: Any) -> None:
        self.inner = inner
        base = env.unwrapped
        self.nvec = np.asarray(base.action_space.nvec)
        self.agent_degree = base.spec_scenario.degree_mode == "agent"

    def reset(self, seed: int | None = None) -> None:
        self.inner.reset(seed)

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        masks = mask_from_view(info, self.nvec, self.agent_degree)
        action, _ = self.inner.model.predict(observation, deterministic=True, action_masks=masks)
        return action

    def act_batch(self, observations: list[Any], infos: list[dict[str, Any]]) -> list[Any]:
        masks = np.stack([mask_from_view(info, self.nvec, self.agent_degree) for info in infos])
        return self.inner.act_batch(observations, infos, masks=masks)


def model_agent(
    models: str | Path, observation_space: Any, action_space: Any, env_id: str, fallback: str = "fcfs"
) -> Any:
    """A trained model from the folder ``models``: ``<env_id>.zip`` when it exists, else
    the first model trained on the same spaces; with none, the ``fallback`` heuristic
    (a scenario whose layout no model was trained on, e.g. a held-out cluster)."""
    import torch

    from eat_bench.baselines.sb3 import load_agent

    torch.set_num_threads(1)
    models = Path(models)
    env = local_env(env_id, observation_space, action_space)
    candidates = [models / f"{env_id}.zip"] + sorted(p for p in models.glob("*.zip") if p.stem != env_id)
    for path in candidates:
        if not path.is_file():
            continue
        try:
            agent = load_agent(path, env)
        except ValueError:
            continue  # trained on other spaces
        if getattr(agent, "maskable", False):
            return _ViewMaskedAgent(agent, env)
        return agent
    return heuristic_agent(fallback, observation_space, action_space, env_id)


def multi_agent(name: str, observation_space: dict[str, Any], action_space: dict[str, Any], env_id: str) -> Any:
    """A registered multi-agent policy (``random``, ``local-first``): they act from each
    site's info (its ``action_mask``) only; the local env gives the static facts."""
    from eat_bench.baselines.agents import make_multi_agent
    from eat_bench.leaderboard.evalset import get_evaluation_set

    obs_mode = "dict" if isinstance(next(iter(observation_space.values())), spaces.Dict) else "flat"
    env = get_evaluation_set("multi-agent").scenario(env_id).make_env({"obs_mode": obs_mode})
    return make_multi_agent(name, env)
