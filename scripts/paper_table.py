"""Rerun the EAT paper's evaluation table on ``EAT-Paper-v0``.

The paper's setting for its table: 4 nodes, degrees {1, 2, 4}, arrival rates 0.01 to 0.11
in steps of 0.02. Every agent plays the same evaluation episodes per rate (seeds from
:func:`eat_bench.baselines.evaluation.eval_seeds`, disjoint from training seeds); each
cell is a mean over episodes with a 95% t-interval. Writes ``table.md``, ``table.csv``
and ``figure.png`` (mean response time against rate) to the output folder.

    python scripts/paper_table.py                       # the heuristics, 50 episodes
    python scripts/paper_table.py --model eat=runs/eat/model.zip --model sac=runs/sac/model.zip
    python scripts/paper_table.py --agents "" --merge --model eat=seed0.zip,seed1.zip,seed2.zip

A learner given several models (one per training seed) gets, per cell, the mean over its
models of each model's mean over the episodes, with the 95% t-interval over the models:
the spread between training seeds, which is what a learner's result depends on.

``--fixed-seed 233`` replays the paper's protocol quirk instead: every episode's
workload from seed 233 (its ``reset()`` reseeds so), the agent's own seed still varying.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import eat_bench  # noqa: E402, F401
from eat_bench.baselines.agents import agent_env_kwargs, make_agent  # noqa: E402
from eat_bench.baselines.evaluation import (  # noqa: E402
    Episode,
    acts_in_batches,
    eval_seeds,
    play_episodes,
    play_lockstep,
    run_episode,
)

RATES = (0.01, 0.03, 0.05, 0.07, 0.09, 0.11)
HEURISTICS = ("random", "round-robin", "paper-greedy", "greedy")
LEARNERS = ("ppo", "maskable-ppo", "sac", "dsac", "eat")
PAPER_SETTING = {"num_servers": 4, "degrees": (1, 2, 4)}
"""The paper's table: 4 nodes with degrees {1, 2, 4}; the rate is set per column."""
METRICS = (("mean_response_s", "response (s)"), ("mean_quality", "quality"), ("return", "return"))
OUT = Path(__file__).resolve().parent.parent / "baselines" / "results" / "paper_table"


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (0 for one value or none spread)."""
    from scipy import stats

    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, 0.0
    return mean, float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


def make_env(rate: float, extra: dict) -> gym.Env:
    return gym.make("EAT-Paper-v0", arrival_rate=rate, **PAPER_SETTING, **extra)


def run_cell(agent_name: str, path: str | None, rate: float, seeds: list[int], fixed_seed: int | None) -> list[dict]:
    """Every episode of one agent at one rate: its response, quality and return."""
    name = path or agent_name
    kwargs = agent_env_kwargs(name)
    kwargs.pop("info_mode", None)  # heuristics read the simulator in-process (same actions, faster)
    env = make_env(rate, kwargs)
    agent = make_agent(name, env)
    if path is not None and fixed_seed is None:
        # The shared evaluation loop, in the env the agent was made with (a maskable
        # model reads that env's masks when it plays one episode at a time).
        try:
            records = play_episodes(env, agent, seeds, agent_name, lambda: make_env(rate, kwargs))
        finally:
            env.close()
        return [_row(record) for record in records]
    rows = []
    for seed in seeds:
        if fixed_seed is None:
            record = run_episode(env, agent, seed, agent_name)
        else:  # the paper's protocol: the workload of one seed, the agent's own stream varying
            agent.reset(seed)
            obs, info = env.reset(seed=fixed_seed)
            total = 0.0
            while True:
                obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
                total += float(reward)
                if terminated or truncated:
                    break
            metrics = env.unwrapped.episode_metrics().as_dict()
            rows.append(dict(seed=seed, **{k: metrics[k] for k in ("mean_response_s", "mean_quality")}, ret=total))
            continue
        rows.append(_row(record))
    env.close()
    return rows


def _row(record) -> dict:
    """What the table keeps of an episode record."""
    return dict(
        seed=record.seed,
        mean_response_s=record.metrics["mean_response_s"],
        mean_quality=record.metrics["mean_quality"],
        ret=record.episode_return,
        truncated=record.truncated,
    )


def run_model_lockstep(
    agent_name: str, path: str, rates: list[float], seeds: list[int]
) -> dict[float, list[dict]] | None:
    """Every rate's episodes of one trained model at once (one env per rate and seed, one
    batched forward pass per step for all of them: a bigger batch is cheaper per
    decision), or None when the model cannot act in batches. Each episode plays as it
    would alone, so the cells are those of :func:`run_cell`."""
    kwargs = agent_env_kwargs(path)
    kwargs.pop("info_mode", None)
    probe = make_env(rates[0], kwargs)
    agent = make_agent(path, probe)
    probe.close()
    if not acts_in_batches(agent):
        return None
    pairs = [(rate, seed) for rate in rates for seed in seeds]
    envs = [make_env(rate, kwargs) for rate, _ in pairs]
    try:
        for seed in seeds:
            agent.reset(seed)
        episodes = [Episode(env, seed) for env, (_, seed) in zip(envs, pairs)]
        play_lockstep(episodes, agent)
        out: dict[float, list[dict]] = {rate: [] for rate in rates}
        for (rate, _), episode in zip(pairs, episodes):
            out[rate].append(_row(episode.record(agent_name)))
        return out
    finally:
        for env in envs:
            env.close()


def summarise(agent: str, rate: float, rows: list[dict], models: list[list[dict]] | None = None) -> dict:
    """One cell: over ``rows`` (episodes), or for several ``models`` (each a list of
    rows) over the models' means, with ``models`` the number of them (1 otherwise)."""
    out = {"agent": agent, "rate": rate, "episodes": len(rows), "models": len(models) if models else 1}
    for key, column in (("mean_response_s", "mean_response_s"), ("mean_quality", "mean_quality"), ("ret", "return")):
        if models and len(models) > 1:
            mean, half = interval([float(np.mean([r[key] for r in model_rows])) for model_rows in models])
        else:
            mean, half = interval([r[key] for r in rows])
        out[column], out[column + "_ci95"] = mean, half
    out["truncated_share"] = float(np.mean([bool(r.get("truncated", False)) for r in rows]))
    return out


def write_outputs(cells: list[dict], out: Path, episodes: int, fixed_seed: int | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cells = [{"models": 1, **c} for c in cells]  # rows merged from a table made before the column
    fields = list(dict.fromkeys(k for c in sorted(cells, key=lambda c: -len(c)) for k in c))
    with open(out / "table.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(cells)
    agents = list(dict.fromkeys(c["agent"] for c in cells))
    rates = sorted({c["rate"] for c in cells})
    by = {(c["agent"], c["rate"]): c for c in cells}
    counts = {c["agent"]: int(c["episodes"]) for c in cells}
    if len(set(counts.values())) == 1:
        per_cell = f"{episodes} episodes per cell"
    else:
        per_cell = "episodes per cell: " + ", ".join(f"{a} {n}" for a, n in counts.items())
    lines = [
        f"# The EAT paper's table on EAT-Paper-v0 ({per_cell}"
        + (f", every workload from seed {fixed_seed}" if fixed_seed is not None else "")
        + ")",
        "",
        "4 nodes, degrees {1, 2, 4}; mean over episodes ± the half-width of a 95% t-interval.",
    ]
    several = sorted({c["agent"]: int(c.get("models", 1)) for c in cells if int(c.get("models", 1)) > 1}.items())
    if several:
        lines += [
            "",
            "Learners with several models (one per training seed): "
            + ", ".join(f"{a} ({n})" for a, n in several)
            + "; their cells are the mean over the models of each model's episode mean, "
            "± the 95% t-interval over the models.",
        ]
    for column, title in METRICS:
        lines += ["", f"## Mean {title}", "", "| agent | " + " | ".join(f"rate {r:g}" for r in rates) + " |"]
        lines.append("|---|" + "---|" * len(rates))
        for agent in agents:
            digits = 3 if column == "mean_quality" else 1
            cells_text = [
                f"{by[agent, r][column]:.{digits}f} ± {by[agent, r][column + '_ci95']:.{digits}f}" for r in rates
            ]
            lines.append(f"| {agent} | " + " | ".join(cells_text) + " |")
    truncated = [c for c in cells if c["truncated_share"] > 0]
    if truncated:
        lines += ["", "Share of episodes truncated at 1024 s (the paper's clock), where above 0:", ""]
        lines += [f"- {c['agent']} at rate {c['rate']:g}: {c['truncated_share']:.0%}" for c in truncated]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    figure(cells, out / "figure.png")


def figure(cells: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    palette = sns.color_palette("colorblind")
    for i, agent in enumerate(dict.fromkeys(c["agent"] for c in cells)):
        rows = sorted((c for c in cells if c["agent"] == agent), key=lambda c: c["rate"])
        x = [c["rate"] for c in rows]
        y = np.array([c["mean_response_s"] for c in rows])
        half = np.array([c["mean_response_s_ci95"] for c in rows])
        ax.plot(x, y, marker="o", label=agent, color=palette[i % len(palette)])
        ax.fill_between(x, y - half, y + half, alpha=0.2, color=palette[i % len(palette)])
    ax.set_xlabel("arrival rate (tasks / s)")
    ax.set_ylabel("mean response time (s)")
    ax.set_title("EAT-Paper-v0, 4 nodes, degrees {1, 2, 4} (95% intervals)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per cell (default 50)")
    parser.add_argument("--agents", default=",".join(HEURISTICS), help="heuristics, comma-separated")
    parser.add_argument(
        "--model", action="append", default=[], metavar="NAME=PATH", help=f"a trained model ({', '.join(LEARNERS)})"
    )
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES))
    parser.add_argument("--fixed-seed", type=int, default=None, help="every workload from this seed (the paper: 233)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--merge", action="store_true", help="keep the other agents' rows of OUT/table.csv")
    args = parser.parse_args(argv)
    agents: list[tuple[str, list[str] | None]] = [(a, None) for a in args.agents.split(",") if a]
    for item in args.model:
        name, sep, paths = item.partition("=")
        if not sep or name not in LEARNERS or not paths:
            parser.error(f"--model takes NAME=PATH[,PATH...] with NAME one of {', '.join(LEARNERS)}, got {item!r}")
        missing = [p for p in paths.split(",") if not Path(p).is_file()]
        if missing:
            parser.error(f"--model {name}: no such model file {', '.join(missing)}")
        agents.append((name, paths.split(",")))
    rates = [float(r) for r in args.rates.split(",")]
    seeds = eval_seeds(args.episodes)
    # Trained models play every rate at once when they can; the rest cell by cell.
    together: dict[tuple[str, str], dict[float, list[dict]]] = {}
    if args.fixed_seed is None:
        for name, paths in agents:
            for path in paths or []:
                started = time.perf_counter()
                cells_of_model = run_model_lockstep(name, path, rates, seeds)
                if cells_of_model is not None:
                    together[name, path] = cells_of_model
                    print(f"{name} {path}: every rate in lockstep ({time.perf_counter() - started:.0f} s)", flush=True)
    cells = []
    for rate in rates:
        for name, paths in agents:
            started = time.perf_counter()
            per_model = [
                together[name, path][rate]
                if (name, path) in together
                else run_cell(name, path, rate, seeds, args.fixed_seed)
                for path in (paths or [None])
            ]
            cell = summarise(name, rate, [r for rows in per_model for r in rows], per_model if paths else None)
            cells.append(cell)
            print(
                f"rate {rate:g} {name:>12}: response {cell['mean_response_s']:.1f} ± {cell['mean_response_s_ci95']:.1f} s, "
                f"quality {cell['mean_quality']:.3f}, return {cell['return']:.1f} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    if args.merge and (args.out / "table.csv").is_file():
        ran = {c["agent"] for c in cells}
        with open(args.out / "table.csv", newline="") as f:
            kept = [
                {
                    k: (v if k == "agent" else int(v) if k in ("episodes", "models") else float(v))
                    for k, v in row.items()
                }
                for row in csv.DictReader(f)
                if row["agent"] not in ran
            ]
        cells = kept + cells
    write_outputs(cells, args.out, args.episodes, args.fixed_seed)
    print(f"wrote {args.out}/table.md, table.csv, figure.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
