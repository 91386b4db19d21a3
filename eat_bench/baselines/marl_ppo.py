"""Train one shared PPO policy for every site of ``edge_sites_v0`` (parameter sharing).

Usage::

    python -m eat_bench.baselines.marl_ppo --sites 4 --steps 20000 --seed 0

Every agent of every env copy is one entry of an SB3 vector env, built by
:func:`eat_bench.envs.vector.make_vec_env` (``--backend supersuit``, the default, goes
through SuperSuit's ``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1`` with the
seeding and truncation fixes; ``--backend direct`` uses the direct adapter; both give the
same rollouts). ``--algo maskable-ppo`` (the default) trains sb3-contrib's MaskablePPO,
which samples only actions the env's masks allow; ``--algo ppo`` trains plain PPO, which
must learn the masks from the invalid-action penalty and needs far more steps.

Before and after training the script evaluates the policy (stochastic, as trained, with
torch seeded by ``--eval-seed``; ``--deterministic`` takes the argmax instead) on
``--episodes`` held-out seeds (``--eval-seed`` + i, never used to seed training) and
prints a table of the cluster's
mean and p95 response time, SLO attainment, normalised quality, offloaded share, team
return per agent, and infeasible and conflicting decisions. Two reference rows come
first: ``random`` (masked uniform per component) and ``local-first`` (oldest task of its
own queue, locally when a local server is free, else at the nearest site with one,
degree 1, 30 steps).

**Threads.** ``--torch-threads`` (default 1) calls ``torch.set_num_threads`` before any
torch work. The policy is a small MLP fed a few entries at a time: extra intra-op threads
only contend with the env and with each other (5,000 agent-steps on a busy 2-core
machine: 258 s with torch's default threads, 6.8 s with one). The thread count also
changes the order of floating-point sums, so results reproduce exactly only at the same
``--torch-threads`` (and library versions); the default makes them the same on every
machine. **Progress.** Every phase prints a line as it starts, and training prints the
agent-steps done, the rate and an estimate of the time left after every rollout
(``--quiet`` turns the training lines off).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from eat_bench.envs import edge_sites_v0
from eat_bench.envs.vector import make_vec_env

__all__ = ["main", "evaluate", "local_first_action", "random_action", "train", "set_torch_threads", "progress_callback"]

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(observations (agents x obs), flat masks (agents x sum(nvec))) -> actions (agents x 4)."""


def _bounds(nvec) -> list[tuple[int, int]]:
    edges = np.cumsum((0, *nvec)).tolist()
    return list(zip(edges[:-1], edges[1:]))


def random_action(mask: np.ndarray, nvec, rng: np.random.Generator) -> np.ndarray:
    """A uniform choice per component among the valid ones."""
    out = np.zeros(len(nvec), dtype=np.int64)
    for k, (a, b) in enumerate(_bounds(nvec)):
        valid = np.flatnonzero(mask[a:b])
        out[k] = valid[rng.integers(valid.size)] if valid.size else 0
    return out


def local_first_action(mask: np.ndarray, nvec, steps_index: int) -> np.ndarray:
    """Oldest own task, locally if possible else at the nearest site with a free server
    (ring distance of the relative index), degree index 0, the given step level; wait
    when the own queue is empty (every component stays within the mask)."""
    (s0, s1), (t0, t1), _, _ = _bounds(nvec)
    sites = t1 - t0
    targets = [r for r in range(sites) if mask[t0 + r]]
    target = min(targets, key=lambda r: (min(r, sites - r), r))
    slot = 1 if mask[s0 + 1 : s1].any() else 0
    return np.array([slot, target, 0, steps_index], dtype=np.int64)


def evaluate(make_env: Callable[[], Any], policy: Policy, episodes: int, seed: int) -> dict[str, float]:
    """Run ``episodes`` episodes (seeds ``seed + i``) of the parallel env; the mean of
    the cluster's episode metrics, plus the team return per agent."""
    env = make_env()
    rows: list[dict[str, float]] = []
    for episode in range(episodes):
        obs, infos = env.reset(seed=seed + episode)
        agents = list(env.agents)
        total = 0.0
        conflicts = 0
        while env.agents:
            o = np.stack([obs[a] for a in agents])
            m = env.action_masks()
            actions = policy(o, m)
            obs, rewards, _, _, infos = env.step({a: actions[j] for j, a in enumerate(agents)})
            total += sum(rewards.values()) / len(agents)
            conflicts += sum(1 for a in agents if infos[a]["conflict"])
        metrics = env.episode_metrics().as_dict()
        rows.append(
            {
                "mean_response_s": metrics["mean_response_s"],
                "p95_response_s": metrics["p95_response_s"],
                "slo_attainment": metrics["slo_attainment"],
                "quality": metrics["mean_quality_normalized"],
                "offloaded": metrics["offloaded"] / max(1, metrics["dispatched"]),
                "completion": metrics["completion_rate"],
                "return_per_agent": total,
                "invalid": metrics["invalid_actions"],
                "conflicts": conflicts,
            }
        )
    env.close()
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def set_torch_threads(threads: int) -> int:
    """Set torch's intra-op thread count (``threads >= 1``); returns the count now in force."""
    import torch

    if threads < 1:
        raise ValueError(f"--torch-threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def progress_callback(total_steps: int, stream=None):
    """An SB3 callback printing agent-steps done, rate and time left after each rollout."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Progress(BaseCallback):
        def _on_training_start(self) -> None:
            self._started = time.perf_counter()

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            done = min(self.num_timesteps, total_steps)
            elapsed = max(time.perf_counter() - self._started, 1e-9)
            rate = done / elapsed
            left = (total_steps - done) / rate if rate > 0 else float("nan")
            print(
                f"  training: {done}/{total_steps} agent-steps ({100 * done / total_steps:.0f}%), "
                f"{elapsed:.1f} s, {rate:.0f} steps/s, ~{left:.0f} s left",
                file=stream or sys.stdout,
                flush=True,
            )

    return _Progress()


def train(args: argparse.Namespace, make_env: Callable[[], Any]):
    """A (Maskable)PPO model trained for ``args.steps`` agent-steps; returns (model, venv)."""
    venv = make_vec_env(make_env, copies=args.copies, backend=args.backend)
    n_steps = max(32, args.rollout // venv.num_envs)
    common = dict(
        n_steps=n_steps,
        batch_size=min(256, n_steps * venv.num_envs),
        n_epochs=args.epochs,
        learning_rate=args.lr,
        gamma=0.99,
        gae_lambda=0.95,
        ent_coef=0.01,
        seed=args.seed,
        device="cpu",
        verbose=0,
        policy_kwargs=dict(net_arch=[128, 128]),
    )
    if args.algo == "maskable-ppo":
        from sb3_contrib import MaskablePPO

        model = MaskablePPO("MlpPolicy", venv, **common)
    else:
        from stable_baselines3 import PPO

        model = PPO("MlpPolicy", venv, **common)
    return model, venv


def _model_policy(model, maskable: bool, deterministic: bool) -> Policy:
    def act(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        if maskable:
            actions, _ = model.predict(obs, action_masks=masks, deterministic=deterministic)
        else:
            actions, _ = model.predict(obs, deterministic=deterministic)
        return np.asarray(actions, dtype=np.int64)

    return act


def _format(name: str, row: dict[str, float]) -> str:
    def num(v: float, fmt: str) -> str:
        return "nan" if math.isnan(v) else format(v, fmt)

    return (
        f"{name:22s} {num(row['mean_response_s'], '9.2f')} {num(row['p95_response_s'], '9.2f')} "
        f"{row['slo_attainment']:6.3f} {num(row['quality'], '7.3f')} {row['offloaded']:9.3f} "
        f"{row['return_per_agent']:10.2f} {row['invalid']:8.1f} {row['conflicts']:9.1f}"
    )


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m eat_bench.baselines.marl_ppo", description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--servers-per-site", type=int, default=4)
    parser.add_argument("--tasks-per-site", type=int, default=100)
    parser.add_argument(
        "--steps", type=int, default=20000, help="training budget in agent-steps (entries of the vector env)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=int, default=2, help="env copies; the vector env has copies x sites entries")
    parser.add_argument("--team-share", type=float, default=0.5)
    parser.add_argument("--reward", default="balanced")
    parser.add_argument(
        "--homogeneous", action="store_true", help="identical sites instead of the heterogeneous profiles"
    )
    parser.add_argument("--backend", choices=("supersuit", "direct"), default="supersuit")
    parser.add_argument("--algo", choices=("ppo", "maskable-ppo"), default="maskable-ppo")
    parser.add_argument("--deterministic", action="store_true", help="evaluate the argmax action instead of sampling")
    parser.add_argument("--episodes", type=int, default=3, help="evaluation episodes before and after training")
    parser.add_argument("--eval-seed", type=int, default=1_000_000)
    parser.add_argument("--rollout", type=int, default=1024, help="agent-steps per PPO rollout")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: faster for this small MLP on small machines, and the same "
        "results on every machine; results differ between thread counts)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-rollout training progress lines")
    args = parser.parse_args(argv)
    threads = set_torch_threads(args.torch_threads)

    kwargs = dict(
        num_sites=args.sites,
        servers_per_site=args.servers_per_site,
        tasks_per_site=args.tasks_per_site,
        team_share=args.team_share,
        reward=args.reward,
        heterogeneous=not args.homogeneous,
    )

    def make_env():
        return edge_sites_v0.parallel_env(**kwargs)

    probe = make_env()
    nvec = probe.nvec
    steps_index = min(range(len(probe.step_levels)), key=lambda i: abs(probe.step_levels[i] - 30))
    print(probe.scenario.summary())
    print(f"torch threads: {threads} (--torch-threads)", flush=True)
    rng = np.random.default_rng(args.seed)
    results: dict[str, dict[str, float]] = {}
    episodes = f"{args.episodes} episode(s), seeds {args.eval_seed}..{args.eval_seed + args.episodes - 1}"
    print(f"evaluating random and local-first ({episodes}) ...", flush=True)
    results["random"] = evaluate(
        make_env, lambda o, m: np.stack([random_action(row, nvec, rng) for row in m]), args.episodes, args.eval_seed
    )
    results["local-first"] = evaluate(
        make_env,
        lambda o, m: np.stack([local_first_action(row, nvec, steps_index) for row in m]),
        args.episodes,
        args.eval_seed,
    )
    from stable_baselines3.common.utils import set_random_seed

    model, venv = train(args, make_env)
    policy = _model_policy(model, args.algo == "maskable-ppo", args.deterministic)
    print(f"evaluating {args.algo} before training ...", flush=True)
    set_random_seed(args.eval_seed)
    results[f"{args.algo} (before)"] = evaluate(make_env, policy, args.episodes, args.eval_seed)
    print(f"training {args.algo} for {args.steps} agent-steps ...", flush=True)
    set_random_seed(args.seed)
    started = time.perf_counter()
    model.learn(total_timesteps=args.steps, callback=None if args.quiet else progress_callback(args.steps))
    seconds = time.perf_counter() - started
    print(f"evaluating {args.algo} after training ...", flush=True)
    set_random_seed(args.eval_seed)
    results[f"{args.algo} (after)"] = evaluate(make_env, policy, args.episodes, args.eval_seed)
    venv.close()

    print(
        f"trained {args.algo} for {args.steps} agent-steps in {seconds:.1f} s "
        f"({args.steps / seconds:.0f} agent-steps/s; backend {args.backend}, {venv.num_envs} vector entries, seed {args.seed}, "
        f"{threads} torch thread(s)); "
        f"evaluation: {episodes}"
    )
    print(
        f"{'policy':22s} {'mean_resp':>9s} {'p95_resp':>9s} {'SLO':>6s} {'quality':>7s} {'offloaded':>9s} {'return/agt':>10s} {'invalid':>8s} {'conflicts':>9s}"
    )
    for name, row in results.items():
        print(_format(name, row))
    return results


if __name__ == "__main__":
    main()
