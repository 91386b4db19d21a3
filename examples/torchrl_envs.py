"""eat-bench as TorchRL envs: the single-agent env through ``GymWrapper`` and the
multi-agent ``edge_sites_v0`` through ``PettingZooWrapper`` (TorchRL 0.14).

    python examples/torchrl_envs.py --steps 100

``check_env_specs`` runs a short rollout and compares every tensor with the env's specs.
The multi-agent env hands one flat ``int8`` action mask per agent in
``infos[agent]["action_mask"]``; with ``use_mask=True`` TorchRL turns it into
``("site", "action_mask")`` and samples only allowed components.
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import torch
from torchrl.envs import GymWrapper, PettingZooWrapper
from torchrl.envs.utils import check_env_specs

import eat_bench  # noqa: F401  (registers the ids)
from eat_bench.envs import edge_sites_v0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Check both envs' specs and roll each out; returns the two rollouts (TensorDicts)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="EAT-Edge-v0")
    parser.add_argument("--steps", type=int, default=100, help="single-agent rollout length")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)  # TorchRL samples random actions with torch's generator

    env = GymWrapper(gym.make(args.env_id))
    check_env_specs(env, seed=args.seed)
    env.set_seed(args.seed)
    single = env.rollout(args.steps)
    print(f"{args.env_id}: {single.batch_size[0]} steps, observation {tuple(single['observation'].shape[1:])}")

    marl = PettingZooWrapper(
        edge_sites_v0.parallel_env(num_sites=3, servers_per_site=2, tasks_per_site=12), use_mask=True
    )
    check_env_specs(marl, seed=args.seed)
    marl.set_seed(args.seed)
    multi = marl.rollout(10_000, break_when_any_done=True)  # one whole episode
    print(f"edge_sites_v0: {multi.batch_size[0]} steps, group 'site' of {multi['site', 'observation'].shape[1]} agents")
    return {"single": single, "multi": multi}


if __name__ == "__main__":
    main()
