"""SB3 learners (eat_bench.baselines.sb3): hyper-parameter files, train/save/load, errors, learning."""

from __future__ import annotations

import importlib.util
import json
import re
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("yaml")

import eat_bench  # noqa: E402, F401
from eat_bench.baselines import sb3  # noqa: E402
from eat_bench.baselines.evaluation import EVAL_SEED_BASE, run_episode  # noqa: E402
from eat_bench.baselines.heuristics import RandomAgent  # noqa: E402

TINY = {"num_tasks": 20}  # EAT-Edge-v0 with 20 tasks: episodes of about 60 decisions
SHORT = {**TINY, "max_episode_steps": 200}  # bounds the episodes of a policy that never dispatches
HAS_EAT = importlib.util.find_spec("eat_bench.baselines.eat") is not None
# A few hundred steps: learning starts early, small batches and rollouts.
SMALL = {"net_arch": [32, 32]}
SMOKE_HP = {
    "ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1, "policy_kwargs": SMALL},
    "maskable-ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1, "policy_kwargs": SMALL},
    "a2c": {"n_steps": 8, "policy_kwargs": SMALL},
    "dqn": {"learning_starts": 64, "batch_size": 32, "policy_kwargs": SMALL},
    "sac": {"learning_starts": 96, "batch_size": 32, "policy_kwargs": SMALL},
    "td3": {"learning_starts": 96, "batch_size": 32, "policy_kwargs": SMALL},
    "eat": {"learning_starts": 48, "batch_size": 16, "train_freq": 4},
    "dsac": {"learning_starts": 48, "batch_size": 16, "train_freq": 4},
}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _algos():
    marks = pytest.mark.skipif(not HAS_EAT, reason="eat_bench.baselines.eat not importable")
    return [pytest.param(a, marks=marks) if a in ("eat", "dsac") else a for a in sb3.ALGOS]


# ---------------------------------------------------------------------- hyper-parameters
def test_every_algo_has_a_hyperparameter_file_for_every_family():
    for algo in sb3.ALGOS:
        assert (sb3.HYPERPARAMS_DIR / f"{algo}.yml").is_file()
        if algo in ("eat", "dsac") and not HAS_EAT:
            continue
        for env_id in ("EAT-Paper-v0", "EAT-Edge-v0", "EAT-Edge-Large-v0"):
            assert sb3.load_hyperparams(algo, env_id)


def test_paper_sac_settings_and_family_merge():
    for algo in ("sac", "eat", "dsac"):
        if algo != "sac" and not HAS_EAT:
            continue
        hp = sb3.load_hyperparams(algo, "EAT-Paper-v0")
        assert (hp["ent_coef"], hp["tau"], hp["gamma"], hp["learning_rate"], hp["batch_size"]) == (
            0.05,
            0.005,
            0.95,
            3e-4,
            512,
        )
        assert hp["n_steps"] == 3 and hp["weight_decay"] == 0.005
    assert sb3.scenario_family("EAT-Paper-v0") == "paper" and sb3.scenario_family("EAT-Edge-Burst-v0") == "edge"
    assert sb3.load_hyperparams("ppo", "EAT-Paper-v0")["gamma"] == 0.95  # paper section over default
    assert sb3.load_hyperparams("ppo", "EAT-Edge-v0")["gamma"] == 0.99
    assert sb3.load_hyperparams("ppo", "EAT-Edge-v0")["policy_kwargs"] == {
        "net_arch": [128, 128],
        "activation_fn": "tanh",
    }


def test_resolve_turns_names_into_objects():
    import torch

    env = sb3.make_train_env("td3", "EAT-Edge-v0", 0, TINY)
    policy, kwargs = sb3.resolve_hyperparams(sb3.ALGOS["td3"], sb3.load_hyperparams("td3", "EAT-Edge-v0"), env)
    assert policy == "MlpPolicy" and kwargs["policy_kwargs"]["activation_fn"] is torch.nn.Mish
    assert kwargs["action_noise"]._sigma.tolist() == [0.2] * env.action_space.shape[0]
    _, kwargs = sb3.resolve_hyperparams(sb3.ALGOS["sac"], sb3.load_hyperparams("sac", "EAT-Edge-v0"), env)
    assert kwargs["policy_kwargs"]["optimizer_kwargs"] == {"weight_decay": 0.005}
    assert "weight_decay" not in kwargs and kwargs["n_steps"] == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("default:\n  learning_rat: 0.1\n", "unknown key 'learning_rat' for ppo"),
        ("default:\n  n_steps: 1.5\n", "n_steps: 1.5 \\(float\\) does not fit"),
        ("default:\n  normalize_advantage: 3\n", "normalize_advantage: 3"),
        ("huge:\n  n_steps: 8\n", "unknown scenario family 'huge'"),
        ("default:\n  policy_kwargs: {activation_fn: swish}\n", "unknown activation 'swish'"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("default: [\n", "not valid YAML"),
    ],
)
def test_loader_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "ppo.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        sb3.load_hyperparams("ppo", "EAT-Edge-v0", path=path)
    assert str(path) in str(err.value)


def test_unknown_algorithm_and_env_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown algorithm 'ppo2'; algorithms: ppo, a2c, .*maskable-ppo.*eat, dsac"):
        sb3.load_hyperparams("ppo2", "EAT-Edge-v0")
    with pytest.raises(ValueError, match="unknown env 'EAT-Nope-v0'; ids: EAT-Edge-v0"):
        sb3.train("ppo", "EAT-Nope-v0", 10, 0, tmp_path)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        sb3.train("ppo", "EAT-Edge-v0", 0, 0, tmp_path)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        sb3.train("ppo", "EAT-Edge-v0", 10, -1, tmp_path)
    with pytest.raises(ValueError, match="unknown key 'gama'"):
        sb3.train("ppo", "EAT-Edge-v0", 10, 0, tmp_path, hyperparams={"gama": 0.9})
    with pytest.raises(ValueError, match="ppo trains with action_mode='discrete'"):
        sb3.make_train_env("ppo", "EAT-Edge-v0", 0, {"action_mode": "continuous"})
    assert not (tmp_path / "model.zip").exists()


# ---------------------------------------------------------------------- train, save, load
def _trajectory_actions(agent, env, seed: int, count: int = 25) -> list[list[float]]:
    obs, info = env.reset(seed=seed)
    actions = []
    for _ in range(count):
        action = agent.act(obs, info)
        actions.append(np.asarray(action, dtype=np.float64).round(6).tolist())
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            obs, info = env.reset(seed=seed + 1)
    return actions


@pytest.mark.parametrize("algo", _algos())
def test_every_algo_trains_saves_and_loads(tmp_path, algo):
    steps = 64 if algo in ("eat", "dsac") else 128
    result = sb3.train(
        algo, "EAT-Edge-v0", steps, 0, tmp_path, env_kwargs=TINY, hyperparams=SMOKE_HP[algo], progress=False
    )
    assert result.model_path == tmp_path / "model.zip" and result.model_path.is_file()
    meta = json.loads(result.train_json.read_text())
    assert (meta["algo"], meta["env_id"], meta["seed"], meta["steps"], meta["env_kwargs"]) == (
        algo,
        "EAT-Edge-v0",
        0,
        steps,
        TINY,
    )
    assert (
        meta["torch_threads"] == 1
        and meta["hyperparams"]["batch_size" if "batch_size" in meta["hyperparams"] else "n_steps"]
    )
    env = gym.make("EAT-Edge-v0", **sb3.env_modes(algo), **TINY)
    assert sb3.model_env_kwargs(result.model_path) == sb3.env_modes(algo)
    trained = sb3.SB3Agent(result.model, env, algo, maskable=sb3.ALGOS[algo].maskable)
    loaded = sb3.load_agent(result.model_path, env)
    assert loaded.algo == algo
    before = _trajectory_actions(trained, env, 7)
    assert before == _trajectory_actions(loaded, env, 7)  # the same deterministic actions after the round trip
    for action in before:
        assert env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype))
    # Without train.json, the algorithm is recognised from the saved policy class.
    (tmp_path / "train.json").unlink()
    assert sb3.load_agent(result.model_path, env).algo == algo


def test_train_writes_curve_checkpoints_and_tensorboard(tmp_path):
    result = sb3.train(
        "maskable-ppo",
        "EAT-Edge-v0",
        256,
        3,
        tmp_path,
        env_kwargs=SHORT,
        hyperparams=SMOKE_HP["maskable-ppo"],
        progress=False,
        eval_every=128,
        eval_episodes=2,
        checkpoint_every=128,
    )
    assert [p[0] for p in result.learning_curve] == [128, 256]
    assert all(p[1] < 0 and p[2] > 0 for p in result.learning_curve)  # returns are costs; responses positive
    meta = json.loads(result.train_json.read_text())
    assert meta["learning_curve"] == [list(p) for p in result.learning_curve]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "model_128_steps.zip",
        "model_256_steps.zip",
    ]
    if importlib.util.find_spec("tensorboard") is not None:
        assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp files
    # The learning curve's evaluation seeds are EVAL_SEED_BASE + i: the deterministic policy replays them.
    env = gym.make("EAT-Edge-v0", action_mode="discrete", **SHORT)
    agent = sb3.load_agent(result.model_path, env)
    returns = [run_episode(env, agent, EVAL_SEED_BASE + i).episode_return for i in range(2)]
    assert np.mean(returns) == pytest.approx(result.learning_curve[-1][1])
    # A checkpoint loads too (train.json is one folder up).
    assert sb3.load_agent(tmp_path / "checkpoints" / "model_128_steps.zip", env).algo == "maskable-ppo"


def test_same_seed_same_model(tmp_path):
    kwargs = dict(env_kwargs=TINY, hyperparams=SMOKE_HP["ppo"], progress=False, tensorboard=False, checkpoint_every=0)
    a = sb3.train("ppo", "EAT-Edge-v0", 128, 5, tmp_path / "a", **kwargs)
    b = sb3.train("ppo", "EAT-Edge-v0", 128, 5, tmp_path / "b", **kwargs)
    env = gym.make("EAT-Edge-v0", action_mode="discrete", **TINY)
    pa, pb = a.model.policy.state_dict(), b.model.policy.state_dict()
    assert all(np.array_equal(pa[k].numpy(), pb[k].numpy()) for k in pa)
    assert _trajectory_actions(sb3.load_agent(a.model_path, env), env, 1) == _trajectory_actions(
        sb3.load_agent(b.model_path, env), env, 1
    )


@pytest.fixture(scope="module")
def saved_ppo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ppo")
    return sb3.train(
        "ppo",
        "EAT-Edge-v0",
        64,
        0,
        out,
        env_kwargs=TINY,
        hyperparams=SMOKE_HP["ppo"],
        progress=False,
        tensorboard=False,
    ).model_path


def test_load_errors_name_the_file_and_the_mismatch(tmp_path, saved_ppo):
    env = gym.make("EAT-Edge-v0", action_mode="discrete")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'missing.zip'}: no such model file")):
        sb3.load_agent(tmp_path / "missing.zip", env)
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(saved_ppo.read_bytes()[:500])
    with pytest.raises(ValueError, match=re.escape(f"{corrupt}: not a readable SB3 model file")):
        sb3.load_agent(corrupt, env)
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("hello.txt", "not a model")
    with pytest.raises(ValueError, match=re.escape(str(foreign))):
        sb3.load_agent(foreign, env)
    with pytest.raises(
        ValueError,
        match="trained on observation space Box.*\\(158,\\).*this env has Box\\(122,\\).*shape \\(158,\\) vs \\(122,\\)",
    ):
        sb3.load_agent(saved_ppo, gym.make("EAT-Edge-v0", action_mode="discrete", queue_len=6))
    with pytest.raises(ValueError, match="trained on observation space Box.*this env has Dict"):
        sb3.load_agent(saved_ppo, gym.make("EAT-Edge-v0", action_mode="discrete", obs_mode="dict"))
    with pytest.raises(ValueError, match="action space MultiDiscrete.*this env has Box.*action_mode"):
        sb3.load_agent(saved_ppo, gym.make("EAT-Edge-v0"))


# ---------------------------------------------------------------------- CLI
def test_cli_train_refuses_bad_input_before_running(tmp_path, capsys):
    from eat_bench.cli import main

    out = tmp_path / "run"
    assert main(["train", "--algo", "ppo3", "--steps", "10", "--out", str(out)]) == 2
    assert "unknown algorithm 'ppo3'; algorithms: ppo, a2c, sac" in capsys.readouterr().err
    assert main(["train", "--algo", "ppo", "--env", "Nope", "--steps", "10", "--out", str(out)]) == 2
    assert "unknown env 'Nope'; ids: EAT-Edge-v0" in capsys.readouterr().err
    assert main(["train", "--algo", "ppo", "--steps", "0", "--out", str(out)]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    assert main(["train", "--algo", "ppo", "--steps", "10", "--seed", "-1", "--out", str(out)]) == 2
    assert "--seed must be at least 0" in capsys.readouterr().err
    assert main(["train", "--algo", "ppo", "--steps", "10", "--hp", "gama=0.9", "--out", str(out)]) == 2
    assert "unknown key 'gama'" in capsys.readouterr().err
    assert not out.exists()


def test_training_tutorial_commands_run(tmp_path, monkeypatch, capsys):
    """The commands of docs/training.md, at a tiny budget: train, then run the saved model."""
    from eat_bench.cli import main

    page = (Path(__file__).parents[2] / "docs" / "training.md").read_text()
    tutorial = page.split("## Tutorial", 1)[1].split("```", 2)[1]  # the first code block
    commands = re.findall(r"^eat-bench (train .*|run .*)$", tutorial, flags=re.M)
    assert [c.split()[0] for c in commands] == ["train", "run"]
    monkeypatch.chdir(tmp_path)
    for command in commands:
        argv = command.split() + ["--set", "num_tasks=20", "--set", "max_episode_steps=300"]
        if argv[0] == "train":
            argv[argv.index("--steps") + 1] = "128"
            argv += ["--no-progress", "--hp", "n_steps=64", "--hp", "batch_size=32", "--hp", "n_epochs=1"]
        else:
            argv[argv.index("--episodes") + 1] = "1"
        assert main(argv) == 0, command
    out = capsys.readouterr().out
    assert "wrote runs/ppo0/model.zip" in out and "mean" in out


# ---------------------------------------------------------------------- learning
def _mean_return(env, agent, episodes: int = 5) -> float:
    return float(np.mean([run_episode(env, agent, EVAL_SEED_BASE + i).episode_return for i in range(episodes)]))


LEARNING = {
    # algo: (env overrides, steps, hyper-parameter overrides, check(trained, random))
    # maskable-ppo, balanced reward (returns are costs): the trained policy removes at least half of random's cost.
    # Measured (2,048 steps, 5 evaluation episodes): random -394; trained -78 (seed 0), -315 (seed 1), -136 (seed 2).
    "maskable-ppo": (TINY, 2048, {"n_steps": 256, "batch_size": 64, "n_epochs": 4}, lambda t, r: t > 0.5 * r),
    # sac, the paper's reward (positive per dispatch, 0 for waiting): at least 1.4 x random's return.
    # Measured (1,500 steps): random 85.5; trained 147.1 (seed 0, 1.72x), 182.0 (seed 1, 2.13x).
    "sac": (
        {**TINY, "reward": "paper"},
        1500,
        {"learning_starts": 300, "batch_size": 128, "policy_kwargs": {"net_arch": [64, 64]}},
        lambda t, r: t > 1.4 * r,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(LEARNING))
def test_learns_on_a_tiny_scenario(tmp_path, algo):
    """EAT-Edge-v0 with 20 tasks, training seed 0: the trained deterministic policy's mean
    return on 5 evaluation seeds beats the uniform random policy's by the margin in LEARNING.
    (Plain PPO is not here: at this budget it does not beat random, see the report.)"""
    env_kwargs, steps, hp, check = LEARNING[algo]
    result = sb3.train(
        algo,
        "EAT-Edge-v0",
        steps,
        0,
        tmp_path,
        env_kwargs=env_kwargs,
        hyperparams=hp,
        progress=False,
        tensorboard=False,
        checkpoint_every=0,
    )
    env = gym.make("EAT-Edge-v0", **sb3.env_modes(algo), **env_kwargs)
    random = _mean_return(env, RandomAgent(env))
    trained = _mean_return(env, sb3.load_agent(result.model_path, env))
    assert check(trained, random), (trained, random)


# Plain PPO on a toy scenario with a clear learning signal: one queue slot (slot 0 waits, slot 1 dispatches the
# oldest task), one degree, the latency reward (waiting is charged as it accrues).
TOY_PPO = {"queue_len": 1, "degrees": (1,), "num_tasks": 20, "reward": "latency", "max_episode_steps": 200}


@pytest.mark.slow
def test_ppo_learns_to_dispatch_on_a_toy_scenario(tmp_path):
    """EAT-Edge-v0, discrete, queue_len=1, degrees=(1,), 20 tasks, reward="latency"; plain PPO, 2,048 steps from
    training seed 0 (n_steps 256, batch 64, 4 epochs). Uniform random waits half the time; the trained policy
    dispatches when it can. Trained deterministic policy vs random on 5 seeds EVAL_SEED_BASE + i: it removes at
    least a quarter of random's cost, and its mean queueing wait is under half of random's.
    Measured: random return -121.4, mean wait 24.3 s; trained -81.2 / 8.2 s (seed 0), -78.8 / 7.7 s (seed 1),
    -76.8 / 7.4 s (seed 2), -75.8 / 7.1 s (seed 3): cost ratios 0.62-0.67. The test: ~7 s on one core."""
    result = sb3.train(
        "ppo",
        "EAT-Edge-v0",
        2048,
        0,
        tmp_path,
        env_kwargs=TOY_PPO,
        hyperparams={"n_steps": 256, "batch_size": 64, "n_epochs": 4},
        progress=False,
        tensorboard=False,
        checkpoint_every=0,
    )
    env = gym.make("EAT-Edge-v0", action_mode="discrete", **TOY_PPO)
    seeds = [EVAL_SEED_BASE + i for i in range(5)]
    random = [run_episode(env, RandomAgent(env), s) for s in seeds]
    trained = [run_episode(env, sb3.load_agent(result.model_path, env), s) for s in seeds]

    def mean(records, key=None):
        return float(np.mean([r.episode_return if key is None else r.metrics[key] for r in records]))

    assert mean(trained) > 0.75 * mean(random), (mean(trained), mean(random))  # returns are costs (negative)
    assert mean(trained, "mean_wait_s") < 0.5 * mean(random, "mean_wait_s"), (
        mean(trained, "mean_wait_s"),
        mean(random, "mean_wait_s"),
    )
    assert mean(trained, "completion_rate") == mean(random, "completion_rate") == 1.0
