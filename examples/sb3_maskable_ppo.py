"""Train sb3-contrib's MaskablePPO on eat-bench through ``gym.make``'s wrappers.

    python examples/sb3_maskable_ppo.py --steps 20000 --seed 0

``action_masks()`` is a method of the unwrapped env; MaskablePPO finds it through the
wrappers of ``gym.make`` and of SB3's vector envs by itself (``get_action_masks``). In your
own code call ``env.unwrapped.action_masks()`` or ``env.get_wrapper_attr("action_masks")()``
(``env.action_masks()`` on the wrapped env does not exist: gymnasium 1.x wrappers no longer
forward unknown attributes).
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.env_util import make_vec_env

import eat_bench  # noqa: F401  (registers the ids)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Check the env, train MaskablePPO, run the policy for one rollout; returns model and masks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="EAT-Edge-v0")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--n-steps", type=int, default=256, help="PPO rollout length per env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads (1 is fastest for this MLP)")
    parser.add_argument("--quiet", action="store_true", help="no SB3 progress table after each rollout")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.torch_threads)

    env = gym.make(args.env_id, action_mode="discrete")
    check_env(env)  # SB3's API checks (spaces, reset/step types, seeding)
    env.reset(seed=args.seed)
    mask = env.get_wrapper_attr("action_masks")()  # the same as env.unwrapped.action_masks()

    venv = make_vec_env(args.env_id, n_envs=2, seed=args.seed, env_kwargs={"action_mode": "discrete"})
    model = MaskablePPO(
        "MlpPolicy",
        venv,
        n_steps=args.n_steps,
        batch_size=64,
        n_epochs=4,
        seed=args.seed,
        device="cpu",
        verbose=0 if args.quiet else 1,
    )
    model.learn(total_timesteps=args.steps, progress_bar=False)
    obs = venv.reset()
    masks = get_action_masks(venv)  # one flat boolean row per env
    actions, _ = model.predict(obs, action_masks=masks, deterministic=True)
    print(f"{args.env_id}: trained {model.num_timesteps} steps; first actions {actions.tolist()}")
    venv.close()
    return {"model": model, "mask": np.asarray(mask), "masks": masks, "actions": actions}


if __name__ == "__main__":
    main()
