"""A CleanRL-style, single-file PPO with action masks over ``gymnasium.make_vec``.

    python examples/cleanrl_ppo.py --steps 20000 --seed 0

Plain torch, no RL library: a vector of ``EAT-Edge-v0`` copies in discrete mode
(``MultiDiscrete([Q + 1, D, L])``), the masks read through the vector env with
``envs.call("action_masks")`` (each copy's ``env.get_wrapper_attr("action_masks")()``),
invalid choices removed from the logits of each component, GAE and the clipped PPO loss.
Same-step autoreset: when a copy's episode ends, the observation returned is the next
episode's first one (CleanRL's convention).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import eat_bench  # noqa: F401  (registers the ids)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="EAT-Edge-v0")
    parser.add_argument("--steps", type=int, default=20000, help="total env steps (all copies)")
    parser.add_argument("--num-envs", type=int, default=2)
    parser.add_argument("--num-steps", type=int, default=128, help="steps per copy per rollout")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-tasks", type=int, default=None, help="tasks per episode (default: the id's)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads (1 is fastest for this MLP)")
    return parser.parse_args(argv)


class Agent(nn.Module):
    """An MLP critic and one logit head per action component (``nvec``)."""

    def __init__(self, obs_dim: int, nvec: np.ndarray) -> None:
        super().__init__()
        self.nvec = [int(n) for n in nvec]
        self.critic = nn.Sequential(nn.Linear(obs_dim, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
        self.actor = nn.Sequential(
            nn.Linear(obs_dim, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, sum(self.nvec))
        )

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(self, obs: torch.Tensor, mask: torch.Tensor, action: torch.Tensor | None = None):
        """(action, log-prob, entropy, value); masked components get a logit of -1e8."""
        logits = self.actor(obs).masked_fill(~mask, -1e8)
        dists = [torch.distributions.Categorical(logits=part) for part in torch.split(logits, self.nvec, dim=-1)]
        if action is None:
            action = torch.stack([d.sample() for d in dists], dim=-1)
        logp = torch.stack([d.log_prob(action[:, k]) for k, d in enumerate(dists)], dim=-1).sum(-1)
        entropy = torch.stack([d.entropy() for d in dists], dim=-1).sum(-1)
        return action, logp, entropy, self.value(obs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train; returns the per-update losses, the rollout buffer shapes and episode returns."""
    args = parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    overrides = {} if args.num_tasks is None else {"num_tasks": args.num_tasks}
    envs = gym.make_vec(
        args.env_id,
        num_envs=args.num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        action_mode="discrete",
        **overrides,
    )
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    nvec = envs.single_action_space.nvec
    agent = Agent(obs_dim, nvec)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
    n, t_len = args.num_envs, args.num_steps
    buf = {
        "obs": torch.zeros((t_len, n, obs_dim)),
        "masks": torch.zeros((t_len, n, int(nvec.sum())), dtype=torch.bool),
        "actions": torch.zeros((t_len, n, len(nvec)), dtype=torch.long),
        "logp": torch.zeros((t_len, n)),
        "rewards": torch.zeros((t_len, n)),
        "dones": torch.zeros((t_len, n)),
        "values": torch.zeros((t_len, n)),
    }
    obs_np, _ = envs.reset(seed=args.seed)
    obs, done = torch.as_tensor(obs_np), torch.zeros(n)
    losses: list[dict[str, float]] = []
    returns: list[float] = []
    running = np.zeros(n)
    updates = max(1, args.steps // (n * t_len))
    started = time.perf_counter()
    for update in range(updates):
        for t in range(t_len):
            mask = torch.as_tensor(np.stack(envs.call("action_masks")), dtype=torch.bool)
            with torch.no_grad():
                action, logp, _, value = agent.act(obs, mask)
            buf["obs"][t], buf["masks"][t], buf["actions"][t] = obs, mask, action
            buf["logp"][t], buf["values"][t], buf["dones"][t] = logp, value, done
            obs_np, reward, terminated, truncated, _ = envs.step(action.numpy())
            running += reward
            ended = terminated | truncated
            returns.extend(running[ended].tolist())
            running[ended] = 0.0
            buf["rewards"][t] = torch.as_tensor(reward, dtype=torch.float32)
            obs, done = torch.as_tensor(obs_np), torch.as_tensor(ended, dtype=torch.float32)
        with torch.no_grad():  # GAE (gamma 0.99, lambda 0.95); truncation treated as termination, as CleanRL does
            advantages = torch.zeros((t_len, n))
            last, next_value, next_done = torch.zeros(n), agent.value(obs), done
            for t in reversed(range(t_len)):
                if t < t_len - 1:
                    next_value, next_done = buf["values"][t + 1], buf["dones"][t + 1]
                delta = buf["rewards"][t] + 0.99 * next_value * (1 - next_done) - buf["values"][t]
                last = delta + 0.99 * 0.95 * (1 - next_done) * last
                advantages[t] = last
            targets = advantages + buf["values"]
        flat = {key: value.reshape((t_len * n, *value.shape[2:])) for key, value in buf.items()}
        adv, ret = advantages.reshape(-1), targets.reshape(-1)
        order = torch.randperm(t_len * n)
        for _ in range(args.epochs):
            for idx in order.reshape(args.minibatches, -1):
                _, logp, entropy, value = agent.act(flat["obs"][idx], flat["masks"][idx], flat["actions"][idx])
                ratio = (logp - flat["logp"][idx]).exp()
                a = (adv[idx] - adv[idx].mean()) / (adv[idx].std() + 1e-8)
                pg_loss = torch.max(-a * ratio, -a * ratio.clamp(0.8, 1.2)).mean()
                v_loss = 0.5 * ((value - ret[idx]) ** 2).mean()
                loss = pg_loss + 0.5 * v_loss - 0.01 * entropy.mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()
        losses.append({"policy": pg_loss.item(), "value": v_loss.item(), "entropy": entropy.mean().item()})
        done_steps = (update + 1) * n * t_len
        print(
            f"update {update + 1}/{updates}: {done_steps} steps, {time.perf_counter() - started:.1f} s, "
            f"value loss {v_loss.item():.3f}, episodes {len(returns)}",
            flush=True,
        )
    envs.close()
    return {"losses": losses, "shapes": {key: tuple(value.shape) for key, value in buf.items()}, "returns": returns}


if __name__ == "__main__":
    main()
