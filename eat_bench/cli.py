"""The ``eat-bench`` command: ``list`` what ships, ``run``, ``train``, ``suite``, the\nleaderboard's ``submission init``, ``evaluate``, ``verify`` and ``board``, ..."""

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
    from eat_bench.baselines.agents import AGENTS, MULTI_AGENTS, RL_EXTRA_HINT, learner_names
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
    print("Agents (eat-bench run --agent NAME, or --agent PATH/model.zip for a trained model):")
    for spec in AGENTS.values():
        print(f"  {spec.name}: {spec.description}")
    learners = learner_names()
    if learners is None:
        print(f"Learners: need the rl extra ({RL_EXTRA_HINT})")
    else:
        print(f"Learners (eat-bench train --algo NAME): {', '.join(learners)}")
    print("Multi-agent policies (edge_sites_v0):")
    for multi in MULTI_AGENTS.values():
        print(f"  {multi.name}: {multi.description}")
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
    import time

    import gymnasium as gym

    import eat_bench  # noqa: F401  (registers the ids)
    from eat_bench.baselines.agents import agent_env_kwargs, make_agent
    from eat_bench.baselines.evaluation import RunRecord, make_eval_env, run_episode, spec_fingerprint
    from eat_bench.scenarios import SCENARIOS

    if args.env not in SCENARIOS:
        print(f"eat-bench run: unknown env {args.env!r}; ids: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    overrides = dict(args.set or [])
    started = time.perf_counter()
    try:
        # The agent's needs (e.g. info_mode="scheduler") under the user's --set, which win.
        kwargs = {**agent_env_kwargs(args.agent), **overrides}
        env = make_eval_env(args.env, kwargs)
        agent = make_agent(args.agent, env)
    except (ValueError, TypeError, gym.error.Error) as err:
        print(f"eat-bench run: {err}", file=sys.stderr)
        return 2
    try:
        episodes = [run_episode(env, agent, args.seed + i, args.agent) for i in range(args.episodes)]
    except gym.error.Error as err:  # e.g. --set render_mode=human without pygame
        print(f"eat-bench run: {err}", file=sys.stderr)
        return 2
    spec = env.unwrapped.spec_scenario
    record = RunRecord(
        agent=args.agent,
        scenario_id=spec.id,
        spec_fingerprint=spec_fingerprint(spec),
        train_seed=None,
        budget_steps=0,
        episodes=tuple(episodes),
        wall_s=time.perf_counter() - started,
        env_kwargs=kwargs,
    )
    results = [e.row() for e in episodes]
    keys = [k for k, _ in _SHOWN_METRICS]
    header = ["seed", *[label for _, label in _SHOWN_METRICS]]
    rows = [[str(args.seed + i), *[_fmt(r[k]) for k in keys]] for i, r in enumerate(results)]
    means = record.summary()
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
        payload = {
            "env": args.env,
            "agent": args.agent,
            "episodes": [_json_safe(r) for r in results],
            "record": record.to_dict(),
        }
        print(json.dumps(payload, indent=2, allow_nan=False))
    return 0


def _json_safe(metrics: dict) -> dict:
    """NaN / inf (e.g. the mean response of an episode that dispatched nothing) as null:
    strict JSON has no NaN."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def cmd_profile(args: argparse.Namespace) -> int:
    """Record a measured trace (imports torch and diffusers only here)."""
    from eat_bench.profiling import ProfileError, require_profile_extra

    try:
        require_profile_extra()
        from eat_bench.profiling.recorder import RecordSpec, parse_resolutions, profile_to_csv

        spec = RecordSpec(
            models=tuple(m.strip() for m in args.model.split(",") if m.strip()),
            resolutions=parse_resolutions(args.resolutions),
            steps=args.steps,
            device=args.device,
            dtype=args.dtype,
            repeats=args.repeats,
            warmup=args.warmup,
            load_repeats=args.load_repeats,
            weights=args.weights,
            gpu_name=args.gpu_name,
            degrees=tuple(int(k) for k in args.degrees.split(",")) if args.degrees.strip() else (1,),
            parallel=args.parallel,
            threads=args.threads,
            seed=args.profile_seed,
        )
        spec.validate()
        if args.weights is None and not args.random_weights and set(spec.models) - {"tiny", "tiny-xl"}:
            print(
                f"eat-bench profile: no --weights DIR given; using random weights for {args.model} (same shapes "
                "and cost as trained ones; pass --random-weights to silence this)",
                file=sys.stderr,
            )
        profile_to_csv(spec, args.out, merge_into=args.merge_into, progress=not args.quiet, echo=print)
    except (ProfileError, ValueError) as err:  # ValueError: e.g. --degrees 1,x, or a trace validation error
        print(f"eat-bench profile: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    """Run the emulated cluster and report the simulator's prediction error."""
    from eat_bench.profiling import ProfileError, require_profile_extra

    try:
        require_profile_extra()
        from eat_bench.profiling.live import LiveSpec, run_live

        spec = LiveSpec(
            trace=args.trace,
            servers=args.servers,
            tasks=args.tasks,
            agent=args.agent,
            seed=args.live_seed,
            load=args.load,
            step_levels=tuple(int(s) for s in args.step_levels.split(",")),
            gpu=args.gpu,
            device=args.device,
            threads=args.threads,
            task_timeout_s=args.task_timeout,
        )
        result = run_live(spec, out_dir=args.out, echo=lambda line: print(line, file=sys.stderr))
    except (ProfileError, ValueError) as err:
        print(f"eat-bench live: {err}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"live: {s['completed']}/{s['tasks']} tasks completed, {s['failed']} failed ({s['agent']}, "
        f"{s['servers']} workers, trace {s['trace']})"
    )
    print(
        f"response time: MAPE {s['mape_pct']:.1f}%, p95 APE {s['p95_ape_pct']:.1f}%, "
        f"service-time MAPE {s['service_mape_pct']:.1f}%; largest mean error: {s['dominant_error']}"
    )
    print(f"wrote {os.path.join(args.out, 'live_report.csv')}, live_summary.csv and live_fidelity.png")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train an SB3 learner (imports torch only here); writes model.zip and train.json under --out."""
    from eat_bench.scenarios import SCENARIOS

    algos = ("ppo", "a2c", "sac", "td3", "dqn", "maskable-ppo", "eat", "dsac")
    if args.algo not in algos:
        print(f"eat-bench train: unknown algorithm {args.algo!r}; algorithms: {', '.join(algos)}", file=sys.stderr)
        return 2
    if args.env not in SCENARIOS:
        print(f"eat-bench train: unknown env {args.env!r}; ids: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    for flag, value, least in (
        ("--steps", args.steps, 1),
        ("--seed", args.train_seed, 0),
        ("--torch-threads", args.torch_threads, 1),
    ):
        if value < least:
            print(f"eat-bench train: {flag} must be at least {least}, got {value}", file=sys.stderr)
            return 2
    try:
        from eat_bench.baselines import sb3

        sb3.require_rl(args.algo)
    except ImportError as err:
        print(f"eat-bench train: {err}", file=sys.stderr)
        return 2
    try:
        result = sb3.train(
            args.algo,
            args.env,
            args.steps,
            args.train_seed,
            args.out,
            env_kwargs=dict(args.set or []),
            hyperparams=dict(args.hp or []),
            torch_threads=args.torch_threads,
            progress=not args.no_progress,
            tensorboard=not args.no_tensorboard,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            echo=lambda line: print(line, file=sys.stderr),
        )
    except (ValueError, TypeError) as err:
        print(f"eat-bench train: {err}", file=sys.stderr)
        return 2
    print(f"trained {args.algo} on {args.env} for {args.steps} steps (seed {args.train_seed}) in {result.wall_s:.1f} s")
    for steps, mean_return, response in result.learning_curve:
        print(f"  eval at {steps} steps: return {mean_return:.2f}, mean response {response:.2f} s")
    print(f"wrote {result.model_path} and {result.train_json}")
    return 0


# ---------------------------------------------------------------------- suite, plot, demo
def _parse_seeds(text: str) -> list[int]:
    """``N`` (seeds 0..N-1) or a comma-separated list ``0,4,7``."""
    try:
        if "," in text:
            return [int(x) for x in text.split(",") if x.strip()]
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds expects N or a list like 0,1,2, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"--seeds N needs N >= 1 (seeds 0..N-1), got {count}")
    return list(range(count))


def _suite_env_kwargs(overrides: Sequence[tuple[str, object]], envs: Sequence[str]) -> dict[str, dict]:
    """``--set KEY=VALUE`` for every env, ``--set ENV:KEY=VALUE`` for one (the latter wins)."""
    out: dict[str, dict] = {env: {} for env in envs}
    scoped = []
    for key, value in overrides:
        env, sep, name = key.rpartition(":")
        if sep:
            scoped.append((env, name, value))
        else:
            for env in envs:
                out[env][key] = value
    for env, name, value in scoped:
        out.setdefault(env, {})[name] = value
    return out


def _suite_hyperparams(overrides: Sequence[tuple[str, object]], algos: Sequence[str]) -> dict[str, dict]:
    """``--hp ALGO:KEY=VALUE`` for one learner; ``--hp KEY=VALUE`` for every learner of the suite."""
    from eat_bench.baselines.suite import KNOWN_LEARNERS, SuiteError

    out: dict[str, dict] = {}
    learners = [a for a in algos if a in KNOWN_LEARNERS]
    for key, value in overrides:
        algo, sep, name = key.rpartition(":")
        if not sep:
            if not learners:
                raise SuiteError(f"--hp {key}=...: the suite has no learner to apply it to")
            for learner in learners:
                out.setdefault(learner, {})[name] = value
        else:
            out.setdefault(algo, {})[name] = value
    return out


def _execute_suite(
    plan,
    out: str,
    workers: int,
    backend: str,
    ray_address: str | None,
    retry: bool,
    quiet: bool,
    prog: str,
    figures: bool = True,
) -> int:
    """Run a checked plan, then print the table and where everything went."""
    from eat_bench.baselines.suite import SuiteError, failed_runs, run_suite, write_outputs

    try:
        problems = run_suite(
            plan, out, workers=workers, backend=backend, ray_address=ray_address, retry_failed=retry, progress=not quiet
        )
    except SuiteError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    table, missing, written = write_outputs(out, figures=figures, echo=lambda line: print(line, file=sys.stderr))
    print(table)
    print(f"results: {os.path.join(out, 'results.csv')}; runs: {os.path.join(out, 'runs')}")
    if written:
        print(f"figures: {', '.join(str(f) for f in written)}")
    if any(k.endswith("learner") for per in plan.kinds.values() for k in per.values()):
        print(f"TensorBoard: tensorboard --logdir {os.path.join(out, 'train')}")
    for line in problems:
        print(f"{prog}: {line}; rerun the same command to finish", file=sys.stderr)
    failed = failed_runs(out)
    if failed:
        print(
            f"{prog}: {len(failed)} run(s) failed (traceback in the run's JSON): {', '.join(failed)}", file=sys.stderr
        )
    return 1 if problems or failed or missing else 0


def cmd_suite(args: argparse.Namespace) -> int:
    """A resumable baseline suite: (algo, env, seed) runs, then the table, results.csv and figures."""
    from eat_bench.baselines.suite import SuiteError, make_plan

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    envs = [e.strip() for e in args.envs.split(",") if e.strip()]
    try:
        if args.workers < 1:
            raise SuiteError(f"--workers must be >= 1, got {args.workers}")
        plan = make_plan(
            algos,
            envs,
            args.seeds,
            args.budget,
            episodes=args.episodes,
            env_kwargs=_suite_env_kwargs(args.set or [], envs),
            curve_points=args.curve_points,
            echo=lambda line: print(line, file=sys.stderr),
            hyperparams=_suite_hyperparams(args.hp or [], algos),
        )
    except SuiteError as err:
        print(f"eat-bench suite: {err}", file=sys.stderr)
        return 2
    return _execute_suite(
        plan,
        args.out,
        args.workers,
        args.backend,
        args.ray_address,
        args.retry_failed,
        args.quiet,
        "eat-bench suite",
        figures=not args.no_figures,
    )


def cmd_plot(args: argparse.Namespace) -> int:
    """The table, results.csv and the figures again, from a suite's files on disk."""
    from eat_bench.baselines.suite import SuiteError, write_outputs

    problems: list[str] = []
    try:
        table, missing, figures = write_outputs(args.out, echo=problems.append)
    except SuiteError as err:
        print(f"eat-bench plot: {err}", file=sys.stderr)
        return 2
    if problems:
        print(f"eat-bench plot: {'; '.join(problems)}", file=sys.stderr)
        return 2
    print(table)
    if missing:
        print(f"eat-bench plot: {len(missing)} run(s) not finished yet: {', '.join(missing)}", file=sys.stderr)
    print(f"figures: {', '.join(str(f) for f in figures)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """A small fixed suite on EAT-Edge-v0: heuristics and a short learner run."""
    from eat_bench.baselines.suite import SuiteError, demo_plan

    out = args.out or os.path.join("runs", "demo-quick" if args.quick else "demo")
    try:
        plan, note = demo_plan(quick=args.quick)
    except SuiteError as err:
        print(f"eat-bench demo: {err}", file=sys.stderr)
        return 2
    if note:
        print(f"eat-bench demo: {note}", file=sys.stderr)
    workers = 1 if args.quick else max(1, min(2, os.cpu_count() or 1))
    return _execute_suite(plan, out, workers, "local", None, False, args.quiet, "eat-bench demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eat-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="ids, scenarios, traces, reward presets, one line each")
    listing.set_defaults(func=cmd_list)
    run = commands.add_parser(
        "run", help="evaluate an agent (heuristic or saved model) on a scenario and print the episode metrics"
    )
    run.add_argument("--env", default="EAT-Edge-v0", help="environment id (see `eat-bench list`)")
    run.add_argument(
        "--agent", default="greedy", help="an agent name (see `eat-bench list`) or a saved model's path (.zip)"
    )
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
    prof = commands.add_parser("profile", help="time a diffusers model on this machine and write a measured trace")
    prof.add_argument("--model", required=True, help="sd15, sdxl, tiny or tiny-xl (comma-separated for several)")
    prof.add_argument("--resolutions", default="512", help="sides or WIDTHxHEIGHT, comma-separated: 512,768x512")
    prof.add_argument("--steps", type=int, default=20, help="timed denoising steps per repeat")
    prof.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    prof.add_argument("--dtype", default=None, help="float32, float16 or bfloat16 (default: float16 on cuda)")
    prof.add_argument("--repeats", type=int, default=5)
    prof.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    prof.add_argument("--load-repeats", type=int, default=3, help="cold starts timed")
    prof.add_argument("--weights", default=None, help="a local diffusers pipeline folder (never downloaded)")
    prof.add_argument("--random-weights", action="store_true", help="random weights (same shapes and cost)")
    prof.add_argument("--gpu-name", default=None, help="the trace's GPU kind (default: from the device name)")
    prof.add_argument("--degrees", default="1", help="degrees to write, e.g. 1,2,4,8")
    prof.add_argument("--parallel", default="derived", help="degree > 1 rows: derived (DistriFusion scaling) or none")
    prof.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    prof.add_argument("--merge-into", default=None, help="also copy the unmeasured rows of this trace")
    prof.add_argument("--seed", dest="profile_seed", type=int, default=0, help="seed of the random weights")
    prof.add_argument("--quiet", action="store_true", help="no progress bar")
    prof.add_argument("--out", required=True, help="the trace CSV to write")
    prof.set_defaults(func=cmd_profile)
    live = commands.add_parser("live", help="run real diffusion in worker processes; compare with the simulator")
    live.add_argument("--trace", required=True, help="a recorded trace CSV (or a name in eat_bench/traces)")
    live.add_argument("--servers", type=int, default=2, help="worker processes")
    live.add_argument("--tasks", type=int, default=12)
    live.add_argument("--agent", default="greedy", help="heuristic: random, fcfs, sjf, edf, warm-first, greedy")
    live.add_argument("--seed", dest="live_seed", type=int, default=0)
    live.add_argument("--load", type=float, default=0.7, help="target utilisation (sets the arrival rate)")
    live.add_argument("--step-levels", default="10,20", help="step counts the agent may choose")
    live.add_argument("--gpu", default=None, help="the trace's GPU kind to emulate (default: its first)")
    live.add_argument("--device", default="cpu")
    live.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    live.add_argument("--task-timeout", type=float, default=120.0, help="seconds before a task is failed")
    live.add_argument("--out", default=".", help="folder for live_report.csv, live_summary.csv, live_fidelity.png")
    live.set_defaults(func=cmd_live)
    tr = commands.add_parser("train", help="train an SB3 learner (ppo, sac, eat, ...) and save it (needs the rl extra)")
    tr.add_argument("--algo", required=True, help="ppo, a2c, sac, td3, dqn, maskable-ppo, eat, dsac")
    tr.add_argument("--env", default="EAT-Edge-v0", help="environment id (see `eat-bench list`)")
    tr.add_argument("--steps", type=int, required=True, help="training budget in env steps")
    tr.add_argument("--seed", dest="train_seed", type=int, default=0, help="training seed (evaluation seeds differ)")
    tr.add_argument("--out", required=True, help="folder for model.zip, train.json, tb/ and checkpoints/")
    tr.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads (default 1: fastest here)")
    tr.add_argument("--set", action="append", type=_parse_override, metavar="KEY=VALUE", help="env make override")
    tr.add_argument("--hp", action="append", type=_parse_override, metavar="KEY=VALUE", help="hyper-parameter override")
    tr.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (the learning curve); 0: off")
    tr.add_argument("--eval-episodes", type=int, default=2, help="episodes per evaluation (seeds 1000000 + i)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")
    tr.set_defaults(func=cmd_train)
    su = commands.add_parser("suite", help="a resumable baseline suite: algorithms x envs x seeds, table, CSV, figures")
    su.add_argument(
        "--algos", required=True, help="comma-separated: heuristics, learners (ppo, sac, eat, ...), local-first"
    )
    su.add_argument("--envs", default="EAT-Edge-v0", help="comma-separated env ids, edge_sites_v0 for multi-agent")
    su.add_argument(
        "--seeds", type=_parse_seeds, default=[0, 1, 2], help="N (seeds 0..N-1) or a list 0,4,7 (default 3)"
    )
    su.add_argument("--budget", type=int, default=50_000, help="training env steps per learner run")
    su.add_argument("--episodes", type=int, default=5, help="evaluation episodes per run")
    su.add_argument("--out", default=os.path.join("runs", "suite"), help="the suite folder (rerun to resume)")
    su.add_argument("--workers", type=int, default=1, help="parallel runs (processes, or Ray CPUs for a local Ray)")
    su.add_argument("--backend", choices=("local", "ray"), default="local", help="local processes or Ray")
    su.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start a local one)")
    su.add_argument(
        "--set", action="append", type=_parse_override, metavar="[ENV:]KEY=VALUE", help="env setting, e.g. num_tasks=20"
    )
    su.add_argument(
        "--hp",
        action="append",
        type=_parse_override,
        metavar="[ALGO:]KEY=VALUE",
        help="learner hyper-parameter over its YAML file, e.g. eat:batch_size=128",
    )
    su.add_argument("--curve-points", type=int, default=5, help="learning-curve evaluations per learner run")
    su.add_argument("--retry-failed", action="store_true", help="redo the runs recorded as failed")
    su.add_argument("--quiet", action="store_true", help="no progress output")
    su.add_argument("--no-figures", action="store_true", help="only the table and results.csv (`eat-bench plot` later)")
    su.set_defaults(func=cmd_suite)
    pl = commands.add_parser("plot", help="the results table, results.csv and figures again from a suite folder")
    pl.add_argument("out", help="the suite folder")
    pl.set_defaults(func=cmd_plot)
    de = commands.add_parser("demo", help="a small fixed suite on EAT-Edge-v0 (heuristics + a short learner run)")
    de.add_argument("--quick", action="store_true", help="a much smaller version (seconds)")
    de.add_argument("--out", default=None, help="folder (default runs/demo, or runs/demo-quick)")
    de.add_argument("--quiet", action="store_true", help="no progress output")
    de.set_defaults(func=cmd_demo)
    from eat_bench.leaderboard.cli import add_commands

    add_commands(commands)  # submission init, evaluate, verify, board
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
