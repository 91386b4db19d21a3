"""The suite's figures (seaborn on matplotlib's headless Agg canvas; the ``plot`` extra).

:func:`make_figures` writes, from a suite's results on disk:

- ``latency_cdf.png``: per env, the CDF of per-task response times of each algorithm's
  evaluation episodes, pooled over seeds (edge_sites_v0: of the episodes' mean response).
- ``latency_quality.png``: per env, each algorithm's mean response time against mean
  normalised quality (95% intervals over seeds), and the frontier of the algorithms no
  other beats on both.
- ``learning_curves.png``: return and mean response time against env steps during
  training, the mean over seeds with a 95% band (learners only).
- ``scores.png``: per env and metric, each algorithm's mean over seeds with its interval.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eat_bench.baselines.suite import RunData, SuitePlan

__all__ = ["PlotExtraMissing", "make_figures", "FIGURES", "pareto_front"]

FIGURES = ("latency_cdf.png", "latency_quality.png", "learning_curves.png", "scores.png")


class PlotExtraMissing(ImportError):
    """matplotlib or seaborn is not installed."""


def _require() -> tuple[Any, Any, Any]:
    """(seaborn, pandas, matplotlib.figure.Figure), or :class:`PlotExtraMissing` with the fix."""
    try:
        import pandas as pd
        import seaborn as sns
        from matplotlib.figure import Figure
    except ImportError as err:
        raise PlotExtraMissing(
            f'the figures need the plot extra ({err.name} is missing): pip install -e ".[plot]"'
        ) from None
    return sns, pd, Figure


def _save(fig: Any, path: Path) -> Path:
    """Render on the Agg canvas (no display needed) to a temporary file, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, path)
    return path


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """The (name, latency, quality) points no other point beats on both (lower latency and
    higher quality), by increasing latency.

    >>> pareto_front([("a", 1.0, 0.5), ("b", 2.0, 0.9), ("c", 3.0, 0.8)])
    [('a', 1.0, 0.5), ('b', 2.0, 0.9)]
    """
    finite = sorted((p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])), key=lambda p: (p[1], -p[2]))
    front, best = [], -math.inf
    for point in finite:
        if point[2] > best:
            front.append(point)
            best = point[2]
    return front


def _palette(sns: Any, algos: Sequence[str]) -> dict[str, Any]:
    return dict(zip(algos, sns.color_palette("tab10", n_colors=max(len(algos), 1))))


def _grid(Figure: Any, rows: int, cols: int, width: float = 5.0, height: float = 3.8) -> tuple[Any, list[list[Any]]]:
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [list(r) for r in axes]


def _latency_cdf(sns: Any, pd: Any, Figure: Any, plan: SuitePlan, data: Sequence[RunData], colors: dict) -> Any:
    fig, axes = _grid(Figure, 1, len(plan.envs))
    for ax, env in zip(axes[0], plan.envs):
        runs = [d for d in data if d.env == env and d.record.status == "ok"]
        per_task = any(d.responses for d in runs)
        rows = []
        for d in runs:
            values = (
                d.responses if per_task else [e.metrics.get("mean_response_s", math.nan) for e in d.record.episodes]
            )
            rows.extend({"algo": d.algo, "response_s": v} for v in values if math.isfinite(v))
        if rows:
            frame = pd.DataFrame(rows)
            sns.ecdfplot(data=frame, x="response_s", hue="algo", palette=colors, ax=ax)
        ax.set_title(f"{env}" + ("" if per_task else " (episode means)"))
        ax.set_xlabel("response time (s)")
        ax.set_ylabel("fraction of tasks" if per_task else "fraction of episodes")
    fig.suptitle("Response-time CDF (evaluation episodes, all seeds)")
    return fig


def _latency_quality(Figure: Any, plan: SuitePlan, rows: Sequence[dict], colors: dict) -> Any:
    fig, axes = _grid(Figure, 1, len(plan.envs))
    for ax, env in zip(axes[0], plan.envs):
        points = []
        for r in (r for r in rows if r["env"] == env):
            x, y = r["mean_response_s"], r["mean_quality_normalized"]
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            xerr = [[x - r["mean_response_s_ci_low"]], [r["mean_response_s_ci_high"] - x]]
            yerr = [[y - r["mean_quality_normalized_ci_low"]], [r["mean_quality_normalized_ci_high"] - y]]
            has_ci = math.isfinite(r["mean_response_s_ci_low"])
            ax.errorbar(
                x, y, xerr=xerr if has_ci else None, yerr=yerr if has_ci else None,
                fmt="o", color=colors[r["algo"]], label=r["algo"], capsize=3,
            )  # fmt: skip
            ax.annotate(r["algo"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            points.append((r["algo"], x, y))
        front = pareto_front(points)
        if len(front) > 1:
            ax.step([p[1] for p in front], [p[2] for p in front], where="post", color="0.4", ls="--", label="frontier")
        ax.set_title(env)
        ax.set_xlabel("mean response time (s), lower is better")
        ax.set_ylabel("mean normalised quality, higher is better")
        if points:
            ax.legend(fontsize=7)
    fig.suptitle("Latency-quality frontier (means over seeds, 95% intervals)")
    return fig


def _learning_curves(sns: Any, pd: Any, Figure: Any, plan: SuitePlan, data: Sequence[RunData], colors: dict) -> Any:
    rows = [
        {"env": d.env, "algo": d.algo, "seed": d.seed, "env_steps": s, "return": r, "response_s": t}
        for d in data
        if d.record.status == "ok"
        for s, r, t in d.record.learning_curve
    ]
    envs = [e for e in plan.envs if any(r["env"] == e for r in rows)]
    if not envs:
        fig, axes = _grid(Figure, 1, 1)
        ax = axes[0][0]
        ax.text(0.5, 0.5, "no learning curves:\nthis suite has no learner runs", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
        return fig
    frame = pd.DataFrame(rows)
    fig, axes = _grid(Figure, 2, len(envs))
    for col, env in enumerate(envs):
        part = frame[frame["env"] == env]
        for row, (key, label) in enumerate((("return", "episode return"), ("response_s", "mean response time (s)"))):
            ax = axes[row][col]
            sns.lineplot(
                data=part, x="env_steps", y=key, hue="algo", palette=colors, errorbar=("ci", 95),
                seed=0, marker="o", ax=ax,
            )  # fmt: skip
            ax.set_title(env)
            ax.set_xlabel("env steps")
            ax.set_ylabel(label)
    fig.suptitle("Learning curves (mean over seeds, 95% band)")
    return fig


def _scores(Figure: Any, plan: SuitePlan, rows: Sequence[dict], colors: dict) -> Any:
    from eat_bench.baselines.suite import METRICS

    fig, axes = _grid(Figure, len(plan.envs), len(METRICS), width=3.6, height=max(2.0, 0.8 + 0.45 * len(plan.algos)))
    for i, env in enumerate(plan.envs):
        part = [r for r in rows if r["env"] == env]
        for j, (key, label) in enumerate(METRICS):
            ax = axes[i][j]
            for k, r in enumerate(part):
                mean, low, high = r[key], r[f"{key}_ci_low"], r[f"{key}_ci_high"]
                if not math.isfinite(mean):
                    continue
                err = [[mean - low], [high - mean]] if math.isfinite(low) else None
                ax.barh(k, mean, xerr=err, color=colors[r["algo"]], capsize=3)
            ax.set_yticks(range(len(part)))
            ax.set_yticklabels([r["algo"] for r in part] if j == 0 else [])
            if i == 0:
                ax.set_title(label, fontsize=9)
            if j == 0:
                ax.set_ylabel(env)
    fig.suptitle("Scores (mean over seeds, 95% intervals)")
    return fig


def make_figures(plan: SuitePlan, data: Sequence[RunData], folder: str | os.PathLike[str]) -> list[Path]:
    """Write the four figures into ``folder``; returns their paths."""
    sns, pd, Figure = _require()
    from eat_bench.baselines.suite import aggregate

    folder = Path(folder)
    rows = aggregate(plan, data)
    colors = _palette(sns, plan.algos)
    with sns.axes_style("whitegrid"):
        figures = {
            "latency_cdf.png": _latency_cdf(sns, pd, Figure, plan, data, colors),
            "latency_quality.png": _latency_quality(Figure, plan, rows, colors),
            "learning_curves.png": _learning_curves(sns, pd, Figure, plan, data, colors),
            "scores.png": _scores(Figure, plan, rows, colors),
        }
        return [_save(fig, folder / name) for name, fig in figures.items()]
