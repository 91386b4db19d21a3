"""Train RLlib's PPO (new API stack) on eat-bench: the single-agent env, and ``edge_sites_v0``
with one policy shared by every site through ``ParallelPettingZooEnv``.

    python examples/rllib_ppo.py --iterations 2            # single agent
    python examples/rllib_ppo.py --iterations 2 --multi-agent

NOT run in CI: ``ray[rllib]`` is a large install that pins its own gymnasium, so install it
in a separate virtualenv (``python -m venv rllib-venv && rllib-venv/bin/pip install "ray[rllib]"
torch -e .``). Plain PPO here: masking in RLlib needs a custom RLModule that reads the mask from
the observation, so invalid choices just act as wait (and pay the invalid penalty).
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env

import eat_bench  # noqa: F401  (registers the ids)
from eat_bench.envs import edge_sites_v0


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run ``--iterations`` PPO iterations; returns RLlib's result dicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="EAT-Edge-v0")
    parser.add_argument("--multi-agent", action="store_true", help="edge_sites_v0, one shared policy")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    config = PPOConfig().env_runners(num_env_runners=0).training(train_batch_size_per_learner=512, minibatch_size=128)
    if args.multi_agent:
        register_env(
            "eat-edge-sites",
            lambda cfg: ParallelPettingZooEnv(edge_sites_v0.parallel_env(num_sites=3, servers_per_site=2)),
        )
        config = config.environment("eat-edge-sites").multi_agent(
            policies={"shared"}, policy_mapping_fn=lambda agent_id, episode, **kwargs: "shared"
        )
    else:
        register_env("eat-edge", lambda cfg: gym.make(args.env_id, action_mode="discrete"))
        config = config.environment("eat-edge")
    config = config.debugging(seed=args.seed)
    algo = config.build_algo()
    results = []
    for i in range(args.iterations):
        result = algo.train()
        returns = result["env_runners"].get("episode_return_mean", float("nan"))
        print(f"iteration {i + 1}: env steps {result['num_env_steps_sampled_lifetime']}, episode return {returns}")
        results.append(result)
    algo.stop()
    return results


if __name__ == "__main__":
    main()
