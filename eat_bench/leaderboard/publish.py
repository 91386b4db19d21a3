"""``eat-bench board``: verify every result under a folder and publish the boards.

Each subfolder of ``--results`` is one submission's results (``eat-bench evaluate``'s
``--out``). Every one is replayed by :func:`eat_bench.leaderboard.verify.verify`; what
fails, or is partial, failed or ``--quick``, is refused (listed on the board with its
reason) and never breaks the board. Single-agent results go to ``OUT/LEADERBOARD.md``
and ``OUT/site/``; multi-agent results to ``OUT/multi-agent/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from eat_bench.leaderboard.board import build_board, collect_entries
from eat_bench.leaderboard.evalset import EVALUATION_SETS, EvaluationSet
from eat_bench.leaderboard.verify import verify

__all__ = ["publish_board", "TRACK_REFERENCES"]

TRACK_REFERENCES: dict[str, tuple[str, str, str]] = {
    "single-agent": ("random", "greedy", ""),
    "multi-agent": ("marl-random", "local-first", "multi-agent"),
}
"""Per track: the submission scored 0, the one scored 1, and the board's subfolder."""


def _verified(folder: Path, evaluation_sets: dict[str, EvaluationSet] | None = None) -> str | None:
    report = verify(folder, evaluation_sets)
    if report.ok:
        return None
    more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
    return f"{report.problems[0]}{more}"


def publish_board(
    results_root: str | os.PathLike[str], out: str | os.PathLike[str], reps: int = 2000, workers: int = 1
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write the board of every track that has entries; returns (written files, refused
    (name, reason) pairs). ``ValueError`` when there is nothing to publish. ``workers``
    processes replay the results in parallel (replay is the board's main cost)."""
    root, out = Path(results_root), Path(out)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise ValueError(f"{root}: no results folders (each submission's `eat-bench evaluate --out`)")
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        sets = dict(EVALUATION_SETS)  # this process's sets, whatever the workers would import
        with ProcessPoolExecutor(workers) as pool:
            verdicts = dict(zip(folders, pool.map(_verified, folders, [sets] * len(folders))))
    else:
        verdicts = {folder: _verified(folder) for folder in folders}
    entries, refused = collect_entries(folders, verify=verdicts.__getitem__)
    written: list[Path] = []
    claimed = _claimed_tracks(root)
    for track, (random_name, reference_name, subfolder) in TRACK_REFERENCES.items():
        mine = [e for e in entries if e.submission["track"] == track]
        if not mine:
            continue
        names = {e.name for e in mine}
        track_refused = [(n, r) for n, r in refused if n not in names and claimed.get(n) in (track, None)]
        paths = build_board(
            mine,
            out / subfolder if subfolder else out,
            refused=track_refused,
            random_name=random_name,
            reference_name=reference_name,
            reps=reps,
        )
        written.extend(paths.values())
    if not written:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in refused) or "no entries"
        raise ValueError(f"{root}: nothing to publish, every result was refused ({reasons})")
    return written, refused


def _claimed_tracks(root: Path) -> dict[str, str]:
    """Submission name -> the track its results claim, for every readable results.json
    (read once: where each refused result is listed)."""
    import json

    tracks: dict[str, str] = {}
    for folder in root.iterdir():
        try:
            data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        submission = data.get("submission") if isinstance(data, dict) else None
        if isinstance(submission, dict) and isinstance(submission.get("name"), str):
            if isinstance(submission.get("track"), str):
                tracks[submission["name"]] = submission["track"]
    return tracks
