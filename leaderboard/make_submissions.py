"""Writes the submission folders of every shipped baseline under leaderboard/submissions/.

    python leaderboard/make_submissions.py [--force]   # then: bash leaderboard/evaluate_all.sh

Heuristics act from the scheduler view only (``info_mode = "scheduler"``); learners load
the models that ``leaderboard/train_learners.sh`` trained (one per public scenario
layout) and fall back to ``fcfs`` on a held-out layout no model fits (EAT-Edge-Shift-v0's
3-site cluster). The multi-agent baselines act from each site's action mask.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "submissions"
AUTHORS = '["eat-bench maintainers"]'
LINKS = "[]"

RANDOM_ACTION_MODE = "continuous"
"""random samples the scenarios' own (continuous) action space, as the paper's Random does;
the other heuristics answer in the discrete space (the same decisions, exactly encoded)."""
LEARNERS = ("ppo", "maskable-ppo", "sac", "dsac", "eat")
MULTI = {
    "marl-random": ("random", "Per site, uniform over the valid choices of its action mask."),
    "local-first": ("local-first", "Per site, its oldest task locally when a server is free, else the nearest site."),
}

_TOML = """[submission]
name = "{name}"
authors = {authors}
links = {links}
track = "{track}"
entry_point = "agent:make_agent"
obs_mode = "{obs_mode}"
action_mode = "{action_mode}"
info_mode = "{info_mode}"
training_budget = {budget}
training_seeds = {seeds}
env_modified = false
description = {description}
"""

_HEURISTIC = '''"""eat-bench's `{name}` heuristic as a leaderboard submission (acts from the scheduler view)."""

from eat_bench.leaderboard.entries import heuristic_agent


def make_agent(observation_space, action_space, env_id):
    return heuristic_agent("{name}", observation_space, action_space, env_id)
'''

_LEARNER = '''"""eat-bench's `{name}` baseline as a leaderboard submission: the model trained for the
scenario's layout (models/<env id>.zip), else `fcfs` on a layout no model was trained on."""

from pathlib import Path

from eat_bench.leaderboard.entries import model_agent

MODELS = Path(__file__).resolve().parent / "models"


def make_agent(observation_space, action_space, env_id):
    return model_agent(MODELS, observation_space, action_space, env_id, fallback="fcfs")
'''

_MULTI = '''"""eat-bench's `{policy}` multi-agent baseline as a leaderboard submission."""

from eat_bench.leaderboard.entries import multi_agent


def make_agent(observation_space, action_space, env_id):
    return multi_agent("{policy}", observation_space, action_space, env_id)
'''


FORCE = "--force" in sys.argv[1:]
"""Rewrite existing submissions too. Without it an existing submission.toml is kept: a
result names the sha256 of its submission's files, which a rewrite would make stale."""


def _write(folder: Path, toml: str, agent: str) -> None:
    if (folder / "submission.toml").exists() and not FORCE:
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.toml").write_text(toml)
    (folder / "agent.py").write_text(agent)


def main() -> None:
    from eat_bench.baselines.heuristics import DESCRIPTIONS

    for name, description in DESCRIPTIONS.items():
        action_mode = RANDOM_ACTION_MODE if name == "random" else "discrete"
        toml = _TOML.format(
            name=name,
            authors=AUTHORS,
            links=LINKS,
            track="single-agent",
            obs_mode="flat",
            action_mode=action_mode,
            info_mode="scheduler",
            budget=0,
            seeds="[]",
            description=json.dumps(description),
        )
        _write(ROOT / name, toml, _HEURISTIC.format(name=name))
    for algo in LEARNERS:
        models = ROOT / algo / "models"
        trains = [json.loads(p.read_text()) for p in sorted(models.glob("*.train.json"))]
        if not trains:
            print(f"skip {algo}: no trained models in {models} (run leaderboard/train_learners.sh)")
            continue
        budget = sum(int(t["steps"]) for t in trains)
        per_env = ", ".join(f"{t['env_id']} {t['steps']}" for t in trains)
        batches = sorted({t["hyperparams"]["batch_size"] for t in trains if isinstance(t.get("hyperparams"), dict) and "batch_size" in t["hyperparams"]})
        batch = f", batch size {'/'.join(map(str, batches))}" if batches else ""
        description = (
            f"SB3 {algo} with eat-bench's hyper-parameters{batch}, one model per layout ({per_env} steps); "
            "fcfs where no model fits."
        )
        toml = _TOML.format(
            name=algo,
            authors=AUTHORS,
            links=LINKS,
            track="single-agent",
            obs_mode=trains[0]["obs_mode"],
            action_mode=trains[0]["action_mode"],
            info_mode="scheduler",
            budget=budget,
            seeds=sorted({int(t["seed"]) for t in trains}),
            description=json.dumps(description),
        )
        _write(ROOT / algo, toml, _LEARNER.format(name=algo))
    for name, (policy, description) in MULTI.items():
        toml = _TOML.format(
            name=name,
            authors=AUTHORS,
            links=LINKS,
            track="multi-agent",
            obs_mode="flat",
            action_mode="discrete",
            info_mode="numeric",
            budget=0,
            seeds="[]",
            description=json.dumps(description),
        )
        _write(ROOT / name, toml, _MULTI.format(policy=policy))
    print(f"wrote the submissions under {ROOT}")


if __name__ == "__main__":
    main()
