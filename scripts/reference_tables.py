"""Markdown tables of a suite folder, per env: the tables of docs/reference_results.md.

    python scripts/reference_tables.py baselines/results/reference

Each cell is the mean over training seeds of each run's mean over its evaluation
episodes, ± the half-width of the 95% Student-t interval over seeds (the suite's
``aggregate``), plus the share of tasks completed by the episode's end: the response
times cover the tasks served, so a policy that leaves tasks waiting looks faster than
it is unless this column is read beside them. After the tables: each learner's mean response time against ``random``
and ``greedy`` on the same evaluation episodes (negative: faster), per env.
"""

from __future__ import annotations

import argparse
import math
import sys

from eat_bench.baselines.suite import METRICS, aggregate, format_cell, load_results, mean_ci


def _share(values: list[float]) -> str:
    mean, low, high = mean_ci(values)
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.0%}" if not math.isfinite(low) else f"{mean:.0%} ± {(high - low) / 2:.0%}"


def tables(out: str) -> str:
    plan, data, missing = load_results(out)
    rows = aggregate(plan, data)
    wall: dict[tuple[str, str], list[float]] = {}
    completed: dict[tuple[str, str], list[float]] = {}
    for d in data:
        wall.setdefault((d.env, d.algo), []).append(d.record.wall_s)
        if d.record.status == "ok" and d.record.episodes:
            shares = [e.metrics["completion_rate"] for e in d.record.episodes]
            completed.setdefault((d.env, d.algo), []).append(sum(shares) / len(shares))
    lines = []
    if missing:
        lines += [f"(unfinished runs: {len(missing)})", ""]
    for env in plan.envs:
        env_rows = [r for r in rows if r["env"] == env]
        lines += [f"**{env}**", ""]
        header = ["algorithm", "runs", "budget", "completed", *(label for _, label in METRICS), "wall per run (s)"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in env_rows:
            walls = wall.get((env, r["algo"]), [])
            cells = [
                r["algo"],
                f"{r['runs_ok']}/{r['seeds']}",
                f"{r['budget_steps']:,}" if r["budget_steps"] else "–",
                _share(completed.get((env, r["algo"]), [])),
                *(format_cell(r, key, missing="–", precise_below=10) for key, _ in METRICS),
                f"{sum(walls) / len(walls):.0f}" if walls else "–",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        by = {r["algo"]: r for r in env_rows}
        learners = [r for r in env_rows if r["kind"].endswith("learner")]
        for base in ("random", "greedy"):
            if base not in by or not learners or not math.isfinite(by[base]["mean_response_s"]):
                continue
            ref = by[base]["mean_response_s"]
            parts = [
                f"{r['algo']} {100 * (r['mean_response_s'] / ref - 1):+.0f}%"
                for r in learners
                if math.isfinite(r["mean_response_s"])
            ]
            lines += ["", f"Mean response against {base} ({ref:.1f} s): " + ", ".join(parts) + "."]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a suite folder")
    print(tables(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
