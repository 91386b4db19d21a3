"""The leaderboard's ``eat-bench`` commands: ``submission init``, ``evaluate``, ``verify``
and ``board`` (added to the main parser by :func:`add_commands`)."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

__all__ = ["add_commands"]


def cmd_submission_init(args: argparse.Namespace) -> int:
    from eat_bench.leaderboard.submission import SubmissionError, init_submission

    try:
        written = init_submission(args.folder, args.name)
    except SubmissionError as err:
        print(f"eat-bench submission init: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"next: eat-bench evaluate {args.folder} --out results/{written[0].parent.name} --quick")
    return 0


def _progress(quiet: bool) -> Any:
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    state: dict[str, Any] = {}

    def update(done: int, total: int, key: str, seed: int) -> None:
        if tqdm is None:
            print(f"[{done}/{total}] {key} seed {seed}", file=sys.stderr)
            return
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, unit="episode", file=sys.stderr)
        bar.set_description(key)
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update


def cmd_evaluate(args: argparse.Namespace) -> int:
    from eat_bench.leaderboard.evaluate import EvaluationError, evaluate_submission
    from eat_bench.leaderboard.sandbox import Limits
    from eat_bench.leaderboard.submission import SubmissionError

    limits = Limits(
        decision_s=args.decision_timeout,
        episode_s=args.episode_timeout,
        total_s=args.total_timeout,
        memory_bytes=int(args.memory_gib * (1 << 30)),
    )

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds: the sandbox is closed, results.json written

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        results = evaluate_submission(
            args.submission,
            args.out,
            quick=args.quick,
            limits=limits,
            isolation=args.isolation,
            overwrite=args.overwrite,
            progress=_progress(args.quiet),
        )
    except (SubmissionError, EvaluationError) as err:
        print(f"eat-bench evaluate: {err}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    isolation = results.get("isolation") or {}
    print(f"isolation: {isolation.get('kind')} ({isolation.get('detail', '')})")
    if results["failure"]:
        failure = results["failure"]
        print(
            f"eat-bench evaluate: the submission failed in {failure['scenario']} after {failure['episodes_done']} "
            f"episode(s): {failure['reason']}: {failure['detail']}",
            file=sys.stderr,
        )
        print(f"recorded in {args.out}/results.json (complete: false)", file=sys.stderr)
        return 1
    kind = "unofficial (--quick)" if args.quick else "official"
    print(f"{len(results['episodes'])} episodes, {kind}, in {results['wall_time_s']:.1f} s: {args.out}/results.json")
    print(f"next: eat-bench verify {args.out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from eat_bench.leaderboard.verify import verify

    report = verify(args.results)
    for problem in report.problems[: args.max_problems]:
        print(f"  {problem}", file=sys.stderr)
    if len(report.problems) > args.max_problems:
        print(f"  ... and {len(report.problems) - args.max_problems} more", file=sys.stderr)
    if not report.ok:
        print(f"eat-bench verify: {args.results}: REJECTED ({len(report.problems)} problem(s))", file=sys.stderr)
        return 1
    kind = "official" if report.official else "unofficial (--quick: the board refuses it)"
    print(f"{args.results}: verified, {report.episodes_checked} episodes replayed exactly ({kind})")
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    from eat_bench.leaderboard.publish import publish_board

    try:
        written, refused = publish_board(args.results, args.out, reps=args.reps, workers=args.workers)
    except ValueError as err:
        print(f"eat-bench board: {err}", file=sys.stderr)
        return 2
    for name, reason in refused:
        print(f"refused {name}: {reason}", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return 0


def add_commands(commands: Any) -> None:
    """Add the leaderboard's subcommands to ``eat-bench``'s subparsers."""
    sub = commands.add_parser("submission", help="leaderboard submissions: `submission init DIR` writes a template")
    sub_commands = sub.add_subparsers(dest="submission_command", required=True)
    init = sub_commands.add_parser("init", help="write submission.toml, agent.py and README.md into DIR")
    init.add_argument("folder", help="the submission folder (created)")
    init.add_argument("--name", default=None, help="the submission's name (default: the folder's name)")
    init.set_defaults(func=cmd_submission_init)

    ev = commands.add_parser("evaluate", help="evaluate a submission in a sandbox on the frozen evaluation set")
    ev.add_argument("submission", help="the submission folder (holding submission.toml)")
    ev.add_argument("--out", required=True, help="results folder: results.json and logs/")
    ev.add_argument("--quick", action="store_true", help="2 episodes per scenario; marked unofficial")
    ev.add_argument("--isolation", default="auto", choices=("auto", "bwrap", "unshare", "none"))
    ev.add_argument("--decision-timeout", type=float, default=10.0, help="seconds per decision (default 10)")
    ev.add_argument("--episode-timeout", type=float, default=1800.0, help="seconds per episode (default 1800)")
    ev.add_argument("--total-timeout", type=float, default=6 * 3600.0, help="seconds per scenario's agent process")
    ev.add_argument("--memory-gib", type=float, default=4.0, help="resident memory of the agent (default 4 GiB)")
    ev.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    ve = commands.add_parser("verify", help="replay a results folder's logs; exit 0 only if every number matches")
    ve.add_argument("results", help="a results folder of `eat-bench evaluate`")
    ve.add_argument("--max-problems", type=int, default=20, help="problems to print (default 20)")
    ve.set_defaults(func=cmd_verify)

    bo = commands.add_parser("board", help="verify every result and write LEADERBOARD.md and site/index.html")
    bo.add_argument("--results", required=True, help="folder of results folders (one per submission)")
    bo.add_argument("--out", required=True, help="where LEADERBOARD.md and site/ go")
    bo.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    bo.add_argument("--workers", type=int, default=1, help="processes replaying results in parallel (default 1)")
    bo.set_defaults(func=cmd_board)
