"""The ``eat-bench`` command: ``list`` what ships, ``run`` a heuristic on a scenario."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

_SHOWN_METRICS = (
    ("mean_response_s", "mean resp (s)"),
    ("p50_response_s", "p50 (s)"),
    ("p95_response_s", "p95 (s)"),
    ("p99_response_s", "p99 (s)"),
    ("mean_quality_normalized", "quality"),
    ("slo_attainment", "SLO"),
    ("throughput_per_s", "tput (/s)"),
    ("utilisation", "util"),
    ("cold_starts", "cold"),
    ("invalid_actions", "invalid"),
    ("episode_return", "return"),
    ("env_steps", "steps"),
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line("-" * w for w in widths), *(line(r) for r in rows)])


def _fmt(value: float) -> str:
    if isinstance(value, bool) or isinstance(value, int):
        return str(int(value))
    if math.isnan(value):
        return "nan"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"


def cmd_list(args: argparse.Namespace) -> int:
    from eat_bench.baselines.heuristics import HEURISTICS
    from eat_bench.rewards import REWARD_PRESETS
    from eat_bench.scenarios import SCENARIOS
    from eat_bench.sim.profiles import available_traces
    from eat_bench.sim.quality import QUALITY_MODELS

    print("Environment ids:")
    for spec in SCENARIOS.values():
        print(f"  {spec.summary()}")
    print("Traces:")
    for name in available_traces():
        print(f"  {name}")
    print("Reward presets:")
    for preset in REWARD_PRESETS.values():
        print(f"  {preset.name}: {preset.formula}")
    print("Quality models:")
    for name in QUALITY_MODELS:
        print(f"  {name}")
    print("Heuristic agents:")
    print(f"  {', '.join(HEURISTICS)}")
    return 0


def _parse_override(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, list):
        value = tuple(value)
    return key, value


def cmd_run(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import eat_bench  # noqa: F401  (registers the ids)
    from eat_bench.baselines.heuristics import make_heuristic, run_episode
    from eat_bench.scenarios import SCENARIOS

    if args.env not in SCENARIOS:
        print(f"eat-bench run: unknown env {args.env!r}; ids: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    overrides = dict(args.set or [])
    try:
        env = gym.make(args.env, **overrides)
        agent = make_heuristic(args.agent, env)
    except (ValueError, TypeError, gym.error.Error) as err:
        print(f"eat-bench run: {err}", file=sys.stderr)
        return 2
    try:
        results = [run_episode(env, agent, args.seed + i) for i in range(args.episodes)]
    except gym.error.Error as err:  # e.g. --set render_mode=human without pygame
        print(f"eat-bench run: {err}", file=sys.stderr)
        return 2
    keys = [k for k, _ in _SHOWN_METRICS]
    header = ["seed", *[label for _, label in _SHOWN_METRICS]]
    rows = [[str(args.seed + i), *[_fmt(r[k]) for k in keys]] for i, r in enumerate(results)]
    means = {k: sum(r[k] for r in results) / len(results) for k in keys}
    rows.append(
        [
            "mean",
            *[
                _fmt(means[k]) if k not in ("cold_starts", "invalid_actions", "env_steps") else f"{means[k]:.1f}"
                for k in keys
            ],
        ]
    )
    # With --json, stdout is the JSON document alone (the table goes to stderr).
    table = sys.stderr if args.json else sys.stdout
    print(f"{args.env} / {args.agent} / {args.episodes} episode(s) from seed {args.seed}", file=table)
    print(_table(header, rows), file=table)
    if args.json:
        payload = {"env": args.env, "agent": args.agent, "episodes": [_json_safe(r) for r in results]}
        print(json.dumps(payload, indent=2, allow_nan=False))
    return 0


def _json_safe(metrics: dict) -> dict:
    """NaN / inf (e.g. the mean response of an episode that dispatched nothing) as null:
    strict JSON has no NaN."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eat-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="ids, scenarios, traces, reward presets, one line each")
    listing.set_defaults(func=cmd_list)
    run = commands.add_parser("run", help="evaluate a heuristic on a scenario and print the episode metrics")
    run.add_argument("--env", default="EAT-Edge-v0", help="environment id (see `eat-bench list`)")
    run.add_argument("--agent", default="greedy", help="heuristic: random, fcfs, sjf, edf, warm-first, greedy")
    run.add_argument("--episodes", type=int, default=5)
    run.add_argument("--seed", type=int, default=0, help="episode i uses seed + i")
    run.add_argument(
        "--set",
        action="append",
        type=_parse_override,
        metavar="KEY=VALUE",
        help="make-time override, e.g. --set reward=latency --set 'degrees=[1,2]'",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print every episode's metrics as JSON on stdout (the table then goes to stderr)",
    )
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "episodes", 1) < 1:
        print("eat-bench run: --episodes must be at least 1", file=sys.stderr)
        return 2
    if getattr(args, "seed", 0) < 0:
        print("eat-bench run: --seed must be a non-negative integer", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (e.g. `eat-bench list | head`): stop quietly, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by it


if __name__ == "__main__":
    sys.exit(main())
