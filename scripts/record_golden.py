"""Record (or check) golden trajectories: the refactor-safety net.

Runs a fixed set of env configurations with seeded actions and writes, per step, a
digest of the observation (and mask, and state for ``edge_sites_v0``), the exact reward,
the episode flags, and at each episode's end the episode metrics. The actions themselves
are stored, so a check replays exactly the recorded stream.

    python scripts/record_golden.py            # write tests/golden/trajectories.json.gz
    python scripts/record_golden.py --check    # compare the current code against it

``tests/test_golden.py`` runs the check. A change of meaning (an env version bump)
records anew; a refactor must leave the file bit-identical.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "trajectories.json.gz"

SINGLE_AGENT_IDS = ("EAT-Edge-v0", "EAT-Paper-v0", "EAT-Edge-Large-v0", "EAT-Edge-Burst-v0", "EAT-Edge-Shift-v0")
STEPS = 400


def digest(*arrays: Any) -> str:
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def obs_digest(obs: Any) -> str:
    if isinstance(obs, dict):
        return digest(*(obs[k] for k in sorted(obs)))
    return digest(obs)


def number(x: Any) -> Any:
    """JSON-safe exact numbers (floats round-trip through repr)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def metrics_of(m: dict) -> dict:
    return {k: number(v) for k, v in sorted(m.items())}


# ---------------------------------------------------------------------- single agent
def single_agent_configs() -> list[dict]:
    configs = []
    for env_id in SINGLE_AGENT_IDS:
        for obs_mode in ("flat", "dict"):
            for action_mode in ("discrete", "continuous"):
                configs.append(dict(env_id=env_id, obs_mode=obs_mode, action_mode=action_mode, overrides={}))
        # A short episode to the end, with the episode metrics (and every reward preset).
        for reward in ("balanced", "paper", "latency", "quality", "slo"):
            configs.append(
                dict(
                    env_id=env_id,
                    obs_mode="flat",
                    action_mode="discrete",
                    overrides={"num_tasks": 12, "reward": reward},
                    steps=2500 if env_id == "EAT-Paper-v0" else STEPS,
                )
            )
    return configs


def run_single(config: dict, actions: list | None) -> dict:
    import gymnasium as gym

    import eat_bench  # noqa: F401

    env = gym.make(
        config["env_id"], obs_mode=config["obs_mode"], action_mode=config["action_mode"], **config["overrides"]
    ).unwrapped
    rng = np.random.default_rng(12345)
    obs, _ = env.reset(seed=7)
    discrete = config["action_mode"] == "discrete"
    out: dict = {"config": config, "actions": [], "steps": [], "reset": obs_digest(obs), "episodes": []}
    # Continuous actions do not depend on the env: they are drawn again, not stored.
    replay = actions is not None and discrete
    limit = config.get("steps", STEPS)
    episodes = 0
    for t in range(limit):
        mask = env.action_masks() if discrete else None
        if replay:
            action = np.asarray(actions[t], dtype=np.int64 if discrete else np.float32)
        elif discrete:
            edges = np.cumsum((0, *env.action_space.nvec))
            action = np.array(
                [rng.choice(np.flatnonzero(mask[a:b])) for a, b in zip(edges[:-1], edges[1:])], dtype=np.int64
            )
            if rng.random() < 0.2:
                action[0] = rng.integers(env.action_space.nvec[0])  # sometimes an infeasible slot
        else:
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        if discrete:
            out["actions"].append(action.tolist())
        obs, reward, terminated, truncated, info = env.step(action)
        step = [
            obs_digest(obs),
            number(reward),
            bool(terminated),
            bool(truncated),
            bool(info["invalid_action"]),
            number(info["time_s"]),
            digest(mask.astype(bool)) if discrete else "",
        ]
        out["steps"].append(step)
        if terminated or truncated:
            out["episodes"].append([t, metrics_of(info["episode_metrics"])])
            episodes += 1
            obs, _ = env.reset(seed=100 + episodes)
            out["steps"].append(["reset", obs_digest(obs)])
    return out


# ---------------------------------------------------------------------- multi agent
def multi_agent_configs() -> list[dict]:
    configs = []
    for obs_mode in ("flat", "dict"):
        for degree_mode in ("agent", "task"):
            configs.append(dict(obs_mode=obs_mode, degree_mode=degree_mode, kwargs={}))
    configs.append(dict(obs_mode="flat", degree_mode="agent", kwargs={"reward": "paper"}))
    configs.append(dict(obs_mode="flat", degree_mode="agent", kwargs={"team_share": 0.0, "reward": "latency"}))
    configs.append(dict(obs_mode="flat", degree_mode="agent", scenario="EAT-Paper-v0", kwargs={}))
    configs.append(dict(obs_mode="dict", degree_mode="agent", scenario="EAT-Edge-v0", kwargs={}))
    return configs


def make_multi(config: dict):
    from eat_bench.envs.edge_sites_v0 import EdgeSitesEnv, make_scenario

    kwargs = dict(config["kwargs"])
    team_share = kwargs.pop("team_share", 0.5)
    if "scenario" in config:
        spec = config["scenario"]
        return EdgeSitesEnv(scenario=spec, obs_mode=config["obs_mode"], team_share=team_share, max_cycles=600, **kwargs)
    spec = make_scenario(num_sites=3, servers_per_site=2, tasks_per_site=25, load=0.4, **kwargs)
    spec = replace(spec, degree_mode=config["degree_mode"])
    return EdgeSitesEnv(scenario=spec, obs_mode=config["obs_mode"], team_share=team_share, max_cycles=600)


def run_multi(config: dict, actions: list | None) -> dict:
    env = make_multi(config)
    rng = np.random.default_rng(54321)
    obs, infos = env.reset(seed=3)
    out: dict = {"config": config, "actions": [], "steps": [], "episodes": []}
    out["reset"] = [obs_digest(obs[a]) for a in env.possible_agents]
    replay = actions is not None
    limit = STEPS
    edges = np.cumsum((0, *env.nvec))
    episodes = 0
    for t in range(limit):
        masks = env.action_masks()
        if replay:
            acts = {a: np.asarray(v, dtype=np.int64) for a, v in zip(env.agents, actions[t])}
        else:
            acts = {}
            for i, agent in enumerate(env.agents):
                mask = masks[i]
                act = np.array(
                    [rng.choice(np.flatnonzero(mask[a:b])) for a, b in zip(edges[:-1], edges[1:])], dtype=np.int64
                )
                if rng.random() < 0.5:
                    act[0] = 0
                acts[agent] = act
        out["actions"].append([acts[a].tolist() for a in env.agents])
        obs, rewards, terms, truncs, infos = env.step(acts)
        agents = list(rewards)
        step = [
            [obs_digest(obs[a]) for a in agents],
            [number(rewards[a]) for a in agents],
            [bool(terms[a]) for a in agents],
            [bool(truncs[a]) for a in agents],
            [
                [
                    bool(infos[a].get("invalid_action", False)),
                    bool(infos[a].get("conflict", False)),
                    int(infos[a].get("dispatched_task", -1)),
                ]
                for a in agents
            ],
            digest(masks.astype(bool)),
            digest(env.state()) if env.agents else "",
        ]
        out["steps"].append(step)
        if not env.agents:
            out["episodes"].append(
                [
                    t,
                    metrics_of(env.episode_metrics().as_dict()),
                    [metrics_of(env.site_metrics(i)) for i in range(len(agents))],
                ]
            )
            episodes += 1
            obs, infos = env.reset(seed=200 + episodes)
            out["steps"].append(["reset", [obs_digest(obs[a]) for a in env.possible_agents]])
    return out


# ---------------------------------------------------------------------- main
def record() -> dict:
    return {
        "single_agent": [run_single(c, None) for c in single_agent_configs()],
        "multi_agent": [run_multi(c, None) for c in multi_agent_configs()],
    }


def load() -> dict:
    with gzip.open(GOLDEN, "rt") as f:
        return json.load(f)


def replay(golden: dict) -> dict:
    return {
        "single_agent": [run_single(g["config"], g["actions"]) for g in golden["single_agent"]],
        "multi_agent": [run_multi(g["config"], g["actions"]) for g in golden["multi_agent"]],
    }


def first_difference(golden: dict, now: dict) -> str | None:
    """A description of the first step that differs, or None."""
    for kind in ("single_agent", "multi_agent"):
        for g, n in zip(golden[kind], now[kind]):
            g = json.loads(json.dumps(g))
            n = json.loads(json.dumps(n))
            if g["reset"] != n["reset"]:
                return f"{kind} {g['config']}: the first observation differs"
            for t, (a, b) in enumerate(zip(g["steps"], n["steps"])):
                if a != b:
                    return f"{kind} {g['config']}: step {t} differs:\n  golden {a}\n  now    {b}"
            if len(g["steps"]) != len(n["steps"]) or g["episodes"] != n["episodes"]:
                return f"{kind} {g['config']}: episode ends or metrics differ"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare against the recorded file instead")
    args = parser.parse_args(argv)
    if args.check:
        problem = first_difference(load(), replay(load()))
        print(problem or "golden trajectories: identical")
        return 1 if problem else 0
    data = record()
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=GOLDEN.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(json.dumps(data, separators=(",", ":")).encode())
    os.replace(tmp, GOLDEN)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
