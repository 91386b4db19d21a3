"""Collect eat-bench transitions with Tianshou (2.x): a vector env, a Collector and a buffer.

    python examples/tianshou_collector.py --env-id EAT-Paper-v0 --steps 400 [--subproc]

Every ``info`` key is a number or a flag (``time_s``, ``invalid_action``, ``arrivals``,
``dispatches``, ``completions``; ``episode_metrics`` on the last step of an episode), so
Tianshou stores them in ``buffer.info`` as arrays. Swap ``RandomActionPolicy`` for any
Tianshou algorithm's policy to train.
"""

from __future__ import annotations

import argparse
import copy
import functools
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm.algorithm_base import RandomActionPolicy
from tianshou.data import Collector, VectorReplayBuffer
from tianshou.env import DummyVectorEnv, SubprocVectorEnv

import eat_bench  # noqa: F401  (registers the ids)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Collect ``--steps`` transitions with a seeded uniform policy; returns the buffer and stats."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="EAT-Paper-v0")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--envs", type=int, default=2)
    parser.add_argument("--subproc", action="store_true", help="one process per env (SubprocVectorEnv)")
    parser.add_argument("--context", choices=("fork", "spawn"), default=None, help="SubprocVectorEnv's start method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-tasks", type=int, default=None, help="tasks per episode (default: the id's)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    overrides = {} if args.num_tasks is None else {"num_tasks": args.num_tasks}
    # "eat_bench:<id>" makes gymnasium import eat_bench (which registers the ids) first: a
    # worker started with "spawn" (macOS, Windows, or once torchrl is imported) needs it.
    make_env = functools.partial(gym.make, f"eat_bench:{args.env_id}", **overrides)
    if args.subproc:
        envs = SubprocVectorEnv([make_env] * args.envs, context=args.context)
    else:
        envs = DummyVectorEnv([make_env] * args.envs)
    envs.seed(args.seed)  # env i: reset(seed=seed + i)
    space = copy.deepcopy(envs.action_space[0])
    space.seed(args.seed)  # the policy's own sampler
    policy = RandomActionPolicy(space)
    buffer = VectorReplayBuffer(total_size=args.steps + args.envs, buffer_num=args.envs)
    collector = Collector(policy, envs, buffer)
    stats = collector.collect(n_step=args.steps, reset_before_collect=True)
    envs.close()
    rewards = buffer.rew[buffer.sample_indices(0)]  # every stored transition
    print(
        f"{args.env_id}: {stats.n_collected_steps} steps, {stats.n_collected_episodes} episodes, "
        f"mean reward {np.mean(rewards):.3f}, info keys {sorted(buffer.info.keys())}"
    )
    return {"stats": stats, "buffer": buffer}


if __name__ == "__main__":
    main()
