"""Stable-Baselines3 learners: train, save and load PPO, A2C, SAC, TD3, DQN, MaskablePPO, EAT and DSAC.

Needs the ``rl`` extra (``pip install -e ".[rl]"``); torch and SB3 are imported only when a
function here runs. :data:`ALGOS` says, for each name, which SB3 class trains it and in
which env modes:

========== ====================== ================ ========= =========================
name       class                  action_mode      obs_mode  wrapper
========== ====================== ================ ========= =========================
ppo, a2c   SB3 PPO / A2C          discrete         flat      (MultiDiscrete as is)
maskable-  sb3-contrib            discrete         flat      (masks: the env's
ppo        MaskablePPO                                       ``action_masks()``)
dqn        SB3 DQN                discrete         flat      :class:`~eat_bench.envs.
                                                             wrappers.FlatDiscreteActions`
sac, td3   SB3 SAC / TD3          continuous       flat      (the paper's Box)
eat        SAC + ``EatPolicy``    continuous       dict      (attention over the rows)
dsac       SAC + ``DsacPolicy``   continuous       flat      (EAT without attention)
========== ====================== ================ ========= =========================

Hyper-parameters come from one YAML file per algorithm (``eat_bench/baselines/hyperparams/
<algo>.yml``, the rl-zoo convention), keyed by scenario family (:func:`scenario_family`):
``default``, then ``paper`` (EAT-Paper-v0) or ``edge`` (the EAT-Edge-* ids) on top of it.
:func:`train` writes ``model.zip``, ``train.json`` (everything needed to reload and to
reproduce it), TensorBoard logs under ``tb/`` and checkpoints under ``checkpoints/``;
:func:`load_agent` turns a saved model back into an :class:`~eat_bench.baselines.agents.Agent`.
"""

from __future__ import annotations

import inspect
import io
import json
import math
import os
import tempfile
import time
import types
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "ALGOS",
    "AlgoSpec",
    "HYPERPARAMS_DIR",
    "MissingExtraError",
    "SB3Agent",
    "TrainResult",
    "load_agent",
    "load_hyperparams",
    "make_train_env",
    "model_env_kwargs",
    "require_rl",
    "scenario_family",
    "train",
]

RL_EXTRA_HINT = 'pip install -e ".[rl]"'
HYPERPARAMS_DIR = Path(__file__).with_name("hyperparams")
"""Where the per-algorithm YAML files live."""
FAMILIES = ("default", "paper", "edge")
SPECIAL_KEYS = ("policy", "weight_decay", "noise_type", "noise_std")
"""YAML keys that are not constructor arguments: ``policy`` (the SB3 policy name),
``weight_decay`` (the optimiser's L2 term, into ``policy_kwargs.optimizer_kwargs``),
``noise_type`` (``normal`` or ``ornstein-uhlenbeck``) and ``noise_std`` (TD3/SAC
exploration noise, as in rl-zoo)."""
ACTIVATIONS = ("relu", "tanh", "elu", "leaky_relu", "gelu", "silu", "mish", "sigmoid")
"""Names allowed for ``policy_kwargs.activation_fn`` (torch.nn classes)."""


class MissingExtraError(ImportError):
    """An optional dependency of the ``rl`` extra is not installed."""


@dataclass(frozen=True)
class AlgoSpec:
    """How one algorithm name is trained: its SB3 class and the env modes it needs."""

    name: str
    class_path: str  # "module:Class"
    action_mode: str  # "discrete" | "continuous"
    obs_mode: str  # "flat" | "dict"
    wrapper: str = ""  # "" | "flat-discrete"
    policy_class_path: str = ""  # a custom policy "module:Class" (eat, dsac); else the YAML's `policy`
    maskable: bool = False
    description: str = ""

    def load_class(self) -> type:
        """The SB3 algorithm class (imports SB3 / sb3-contrib)."""
        return _import(self.class_path, self.name)

    def load_policy(self) -> type | None:
        return _import(self.policy_class_path, self.name) if self.policy_class_path else None


ALGOS: dict[str, AlgoSpec] = {
    spec.name: spec
    for spec in (
        AlgoSpec("ppo", "stable_baselines3:PPO", "discrete", "flat", description="PPO on the MultiDiscrete choice"),
        AlgoSpec("a2c", "stable_baselines3:A2C", "discrete", "flat", description="A2C on the MultiDiscrete choice"),
        AlgoSpec(
            "maskable-ppo",
            "sb3_contrib:MaskablePPO",
            "discrete",
            "flat",
            maskable=True,
            description="PPO sampling only what the env's action_masks() allow",
        ),
        AlgoSpec(
            "dqn",
            "stable_baselines3:DQN",
            "discrete",
            "flat",
            wrapper="flat-discrete",
            description="DQN on the flattened Discrete(prod(nvec)) choice (FlatDiscreteActions)",
        ),
        AlgoSpec("sac", "stable_baselines3:SAC", "continuous", "flat", description="SAC, MLP actor, paper's Box"),
        AlgoSpec("td3", "stable_baselines3:TD3", "continuous", "flat", description="TD3 on the paper's Box"),
        AlgoSpec(
            "eat",
            "stable_baselines3:SAC",
            "continuous",
            "dict",
            policy_class_path="eat_bench.baselines.eat:EatPolicy",
            description="the paper's EAT: SAC, attention encoder + diffusion actor",
        ),
        AlgoSpec(
            "dsac",
            "stable_baselines3:SAC",
            "continuous",
            "flat",
            policy_class_path="eat_bench.baselines.eat:DsacPolicy",
            description="DSAC: EAT without attention (MLP encoder + diffusion actor)",
        ),
    )
}


def _import(path: str, algo: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        module = __import__(module_name, fromlist=[attr])
    except ImportError as err:
        raise MissingExtraError(
            f"algorithm {algo!r} needs {module_name.split('.')[0]} ({err}); install the rl extra: {RL_EXTRA_HINT}"
        ) from err
    return getattr(module, attr)


def require_rl(algo: str | None = None) -> None:
    """Raise :class:`MissingExtraError` (saying which ``pip install`` fixes it) when torch,
    SB3 or, for ``algo``, its class cannot be imported."""
    for module in ("torch", "stable_baselines3"):
        _import(f"{module}:__name__", algo or module)
    if algo is not None:
        _spec(algo).load_class()
        _spec(algo).load_policy()


def _spec(algo: str) -> AlgoSpec:
    try:
        return ALGOS[algo]
    except KeyError:
        raise ValueError(f"unknown algorithm {algo!r}; algorithms: {', '.join(ALGOS)}") from None


def _check_env_id(env_id: str) -> None:
    from eat_bench.scenarios import SCENARIOS

    if env_id not in SCENARIOS:
        raise ValueError(f"unknown env {env_id!r}; ids: {', '.join(SCENARIOS)}")


# ---------------------------------------------------------------------- hyper-parameters
def scenario_family(env_id: str) -> str:
    """The YAML section of an env id: ``paper`` for EAT-Paper-*, ``edge`` for EAT-Edge-*, else ``default``."""
    if env_id.startswith("EAT-Paper"):
        return "paper"
    if env_id.startswith("EAT-Edge"):
        return "edge"
    return "default"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        import yaml
    except ImportError as err:
        raise MissingExtraError(f"reading {path} needs PyYAML ({err}); install it with {RL_EXTRA_HINT}") from err
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of scenario families ({', '.join(FAMILIES)}), got {data!r}")
    return data


def load_hyperparams(algo: str, env_id: str, path: str | Path | None = None) -> dict[str, Any]:
    """The hyper-parameters of ``algo`` on ``env_id``: the file's ``default`` section updated
    with the env's family section (``policy_kwargs`` merged key by key).

    Values are as written in YAML (plain data: ``activation_fn: tanh`` stays a string,
    which is what ``train.json`` stores); :func:`resolve_hyperparams` turns them into
    constructor arguments. Unknown algorithms, families, keys or wrongly typed values raise
    ``ValueError`` naming the file and the key."""
    spec = _spec(algo)
    path = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algo}.yml"
    if not path.is_file():
        raise ValueError(f"no hyper-parameter file for {algo!r}: {path} does not exist")
    data = _read_yaml(path)
    for family, section in data.items():
        if family not in FAMILIES:
            raise ValueError(f"{path}: unknown scenario family {family!r}; families: {', '.join(FAMILIES)}")
        if not isinstance(section, dict):
            raise ValueError(f"{path}: section {family!r} must be a mapping of hyper-parameters, got {section!r}")
    params = dict(data.get("default") or {})
    family = scenario_family(env_id)
    if family != "default":
        for key, value in (data.get(family) or {}).items():
            if key == "policy_kwargs" and isinstance(value, dict) and isinstance(params.get(key), dict):
                params[key] = {**params[key], **value}
            else:
                params[key] = value
    check_hyperparams(spec, params, source=f"{path} ({family})")
    return params


def _allowed(spec: AlgoSpec) -> dict[str, inspect.Parameter]:
    cls = spec.load_class()
    params = dict(inspect.signature(cls.__init__).parameters)
    for name in ("self", "policy", "env", "_init_setup_model", "seed", "tensorboard_log", "verbose"):
        params.pop(name, None)
    return params


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a constructor annotation (lists count as tuples)."""
    if hint is inspect.Parameter.empty or hint is Any or isinstance(hint, (str, typing.ForwardRef)):
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        return isinstance(value, (list, tuple))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return False  # callables, classes, objects: not expressible in YAML


def check_overrides(algo: str, params: dict[str, Any], source: str) -> None:
    """:func:`check_hyperparams` for ``algo`` by name (e.g. the suite's ``--hp`` values)."""
    check_hyperparams(_spec(algo), params, source)


def check_hyperparams(spec: AlgoSpec, params: dict[str, Any], source: str) -> None:
    """Raise ``ValueError`` (naming ``source`` and the key) for an unknown key or a wrong type."""
    allowed = _allowed(spec)
    for key, value in params.items():
        if key in SPECIAL_KEYS:
            ok = {
                "policy": isinstance(value, str),
                "weight_decay": _type_ok(value, float),
                "noise_type": value in ("normal", "ornstein-uhlenbeck"),
                "noise_std": _type_ok(value, float),
            }[key]
            if not ok:
                raise ValueError(f"{source}: {key}: bad value {value!r}")
            continue
        if key not in allowed:
            valid = ", ".join(sorted([*allowed, *SPECIAL_KEYS]))
            raise ValueError(f"{source}: unknown key {key!r} for {spec.name}; valid keys: {valid}")
        hint = allowed[key].annotation
        if not _type_ok(value, hint):
            raise ValueError(f"{source}: {key}: {value!r} ({type(value).__name__}) does not fit the type {hint}")
        if key == "policy_kwargs":
            activation = value.get("activation_fn")
            if activation is not None and activation not in ACTIVATIONS:
                raise ValueError(
                    f"{source}: policy_kwargs.activation_fn: unknown activation {activation!r}; "
                    f"names: {', '.join(ACTIVATIONS)}"
                )


def resolve_hyperparams(spec: AlgoSpec, params: dict[str, Any], env: gym.Env) -> tuple[Any, dict[str, Any]]:
    """(policy, constructor kwargs) from plain hyper-parameters: activation names become
    torch classes, YAML lists become tuples where the constructor wants them,
    ``weight_decay`` goes into ``optimizer_kwargs``, ``noise_*`` become an action noise."""
    import torch

    kwargs = dict(params)
    policy: Any = spec.load_policy() or kwargs.pop("policy", "MlpPolicy")
    kwargs.pop("policy", None)
    policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
    activation = policy_kwargs.get("activation_fn")
    if isinstance(activation, str):
        names = {n: n.title().replace("_", "") for n in ACTIVATIONS}
        names.update(relu="ReLU", elu="ELU", gelu="GELU", silu="SiLU", leaky_relu="LeakyReLU")
        policy_kwargs["activation_fn"] = getattr(torch.nn, names[activation])
    if "train_freq" in kwargs and isinstance(kwargs["train_freq"], list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    noise_type, noise_std = kwargs.pop("noise_type", None), kwargs.pop("noise_std", 0.1)
    if noise_type is not None:
        from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

        n = int(np.prod(env.action_space.shape))
        cls = NormalActionNoise if noise_type == "normal" else OrnsteinUhlenbeckActionNoise
        kwargs["action_noise"] = cls(np.zeros(n), float(noise_std) * np.ones(n))
    if spec.policy_class_path:
        from eat_bench.baselines.eat import paper_kwargs

        kwargs = paper_kwargs(env, policy_kwargs=policy_kwargs, **kwargs)  # n-step buffer for dict obs
        return policy, kwargs
    weight_decay = kwargs.pop("weight_decay", None)
    if weight_decay is not None:
        policy_kwargs["optimizer_kwargs"] = {
            "weight_decay": float(weight_decay),
            **policy_kwargs.get("optimizer_kwargs", {}),
        }
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return policy, kwargs


# ---------------------------------------------------------------------- environments
def env_modes(algo: str) -> dict[str, str]:
    """The make keywords ``algo`` trains with: ``{"obs_mode": ..., "action_mode": ...}``."""
    spec = _spec(algo)
    return {"obs_mode": spec.obs_mode, "action_mode": spec.action_mode}


def make_train_env(algo: str, env_id: str, seed: int, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """``gym.make(env_id)`` in the modes ``algo`` needs, its wrapper (DQN: flat Discrete),
    and SB3's ``Monitor`` (episode returns in the logs), reset once with ``seed``.

    ``env_kwargs`` are make overrides (e.g. ``{"num_tasks": 20}``); an ``obs_mode`` or
    ``action_mode`` that contradicts the algorithm raises ``ValueError``."""
    import eat_bench  # noqa: F401  (registers the ids)

    spec = _spec(algo)
    _check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    for key, needed in env_modes(algo).items():
        if kwargs.get(key, needed) != needed:
            raise ValueError(f"{algo} trains with {key}={needed!r}; env_kwargs set {key}={kwargs[key]!r}")
        kwargs[key] = needed
    env = gym.make(env_id, **kwargs)
    if spec.wrapper == "flat-discrete":
        from eat_bench.envs.wrappers import FlatDiscreteActions

        env = FlatDiscreteActions(env)
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(env)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


# ---------------------------------------------------------------------- agents
class SB3Agent:
    """A trained SB3 model as an :class:`~eat_bench.baselines.agents.Agent`: deterministic
    ``predict``, with the env's masks for maskable models, answering in ``env``'s own
    action space (a flat-Discrete model in a MultiDiscrete env is translated back)."""

    def __init__(self, model: Any, env: gym.Env, algo: str, maskable: bool = False) -> None:
        self.model = model
        self.env = env
        self.algo = algo
        self.maskable = maskable
        self.nvec: np.ndarray | None = None  # set when the model's Discrete indexes the env's MultiDiscrete
        if isinstance(model.action_space, spaces.Discrete) and isinstance(env.action_space, spaces.MultiDiscrete):
            self.nvec = np.asarray(env.action_space.nvec, dtype=np.int64).reshape(-1)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: deterministic actions depend on the observation only."""

    def _masks(self) -> np.ndarray:
        return self.masks_of(self.env)

    def masks_of(self, env: gym.Env) -> np.ndarray:
        """``env``'s action masks as this model reads them (flattened for a Discrete model
        in a MultiDiscrete env): what :func:`~eat_bench.baselines.evaluation.play_lockstep`
        hands ``act_batch`` for each episode."""
        masks = env.get_wrapper_attr("action_masks")()
        if self.nvec is not None:
            from eat_bench.envs.wrappers import flat_mask

            masks = flat_mask(masks, self.nvec)
        return masks

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        if self.maskable:
            action, _ = self.model.predict(observation, deterministic=True, action_masks=self._masks())
        else:
            action, _ = self.model.predict(observation, deterministic=True)
        if self.nvec is not None:
            from eat_bench.envs.wrappers import unflatten_index

            return unflatten_index(int(np.asarray(action).reshape(())), self.nvec)
        return action

    @property
    def needs_masks(self) -> bool:
        """A maskable model: ``act`` reads the env's masks, ``act_batch`` needs them given."""
        return self.maskable

    def act_batch(
        self, observations: list[Any], infos: list[dict[str, Any]], masks: np.ndarray | None = None
    ) -> list[Any]:
        """Deterministic actions for several observations in one forward pass (the
        leaderboard's lockstep evaluation). A maskable model needs ``masks`` (one row
        per observation): the env's own masks hold for one state only."""
        if self.maskable and masks is None:
            raise ValueError("a maskable model's act_batch needs one mask row per observation")
        if isinstance(observations[0], dict):
            batch: Any = {key: np.stack([o[key] for o in observations]) for key in observations[0]}
        else:
            batch = np.stack(observations)
        if self.maskable:
            actions, _ = self.model.predict(batch, deterministic=True, action_masks=masks)
        else:
            actions, _ = self.model.predict(batch, deterministic=True)
        if self.nvec is not None:
            from eat_bench.envs.wrappers import unflatten_index

            return [unflatten_index(int(a), self.nvec) for a in np.asarray(actions).reshape(-1)]
        return list(actions)


def _algo_of(data: dict[str, Any]) -> str:
    """The algorithm name of a saved model's data, from its policy class."""
    policy = data.get("policy_class")
    name = getattr(policy, "__name__", "")
    module = getattr(policy, "__module__", "")
    if name in ("EatPolicy", "DsacPolicy"):
        return name[:-6].lower()
    if module.startswith("sb3_contrib") and "Maskable" in name:
        return "maskable-ppo"
    if "ent_coef_optimizer" in data or "target_entropy" in data or module.startswith("stable_baselines3.sac"):
        return "sac"
    if "policy_delay" in data:
        return "td3"
    if "exploration_fraction" in data:
        return "dqn"
    if "clip_range" in data:
        return "ppo"
    if "gae_lambda" in data:
        return "a2c"
    raise ValueError(f"unrecognised policy class {module}.{name}")


def _sidecar(path: Path) -> dict[str, Any] | None:
    """``train.json`` beside the model (or one folder up, for checkpoints); None when absent."""
    for folder in (path.parent, path.parent.parent):
        meta = folder / "train.json"
        if meta.is_file():
            try:
                return json.loads(meta.read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise ValueError(f"{meta}: not a readable train.json ({err})") from None
    return None


def _read_model_data(path: Path) -> dict[str, Any]:
    from stable_baselines3.common.save_util import load_from_zip_file

    try:
        data, _, _ = load_from_zip_file(path, device="cpu", load_data=True)
    except Exception as err:  # zipfile.BadZipFile, KeyError, pickle and JSON errors: all mean "not a model"
        raise ValueError(f"{path}: not a readable SB3 model file ({type(err).__name__}: {err})") from None
    if not data or "observation_space" not in data or "action_space" not in data:
        raise ValueError(f"{path}: not an SB3 model (no saved observation/action space)")
    return data


def model_env_kwargs(path: str | Path) -> dict[str, str]:
    """The ``obs_mode`` / ``action_mode`` a saved model acts in (from ``train.json``, else its spaces)."""
    path = Path(path)
    meta = _sidecar(path)
    if meta is not None and isinstance(meta.get("obs_mode"), str) and isinstance(meta.get("action_mode"), str):
        return {"obs_mode": meta["obs_mode"], "action_mode": meta["action_mode"]}
    require_rl()
    data = _read_model_data(path)
    obs_mode = "dict" if isinstance(data["observation_space"], spaces.Dict) else "flat"
    action_mode = "continuous" if isinstance(data["action_space"], spaces.Box) else "discrete"
    return {"obs_mode": obs_mode, "action_mode": action_mode}


def _describe(space: spaces.Space) -> str:
    """A short description of a space (no bound arrays)."""
    if isinstance(space, spaces.Dict):
        return "Dict(" + ", ".join(f"{k}: {_describe(v)}" for k, v in space.spaces.items()) + ")"
    if isinstance(space, spaces.Box):
        return f"Box{space.shape} {space.dtype}"
    return str(space)


def _difference(saved: spaces.Space, current: spaces.Space) -> str:
    """What differs between two spaces, in words."""
    if type(saved) is not type(current):
        return f"{type(saved).__name__} vs {type(current).__name__}"
    if isinstance(saved, spaces.Dict):
        keys = [k for k in saved.spaces if k not in current.spaces or saved[k] != current[k]]
        return "; ".join(f"{k}: {_difference(saved[k], current[k])}" for k in keys if k in current.spaces) or "keys"
    if saved.shape != current.shape:
        return f"shape {saved.shape} vs {current.shape}"
    return "same shape, different bounds or sizes"


def _expected_action_space(model_space: spaces.Space, env_space: spaces.Space) -> spaces.Space:
    if isinstance(model_space, spaces.Discrete) and isinstance(env_space, spaces.MultiDiscrete):
        return spaces.Discrete(int(np.prod(env_space.nvec)))
    return env_space


def load_agent(path: str | Path, env: gym.Env) -> SB3Agent:
    """The saved model at ``path`` as an agent acting in ``env``.

    The algorithm comes from ``train.json`` beside the model, else from the saved policy
    class. A missing, corrupt or foreign file, or a model whose saved observation or action
    space differs from ``env``'s (another scenario, size or mode), raises ``ValueError``
    naming the file and the mismatch. A DQN model (flat ``Discrete``) acts in the
    env's ``MultiDiscrete`` space directly."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file")
    require_rl()
    meta = _sidecar(path)
    data = _read_model_data(path)
    if meta is not None and meta.get("algo") in ALGOS:
        algo = meta["algo"]
    else:
        try:
            algo = _algo_of(data)
        except ValueError as err:
            raise ValueError(f"{path}: cannot tell which algorithm saved it ({err}); no train.json beside it") from None
    spec = ALGOS[algo]
    where = f" (trained on {meta.get('env_id')} with {meta.get('env_kwargs') or {}})" if meta else ""
    saved_obs, saved_act = data["observation_space"], data["action_space"]
    if saved_obs != env.observation_space:
        raise ValueError(
            f"{path}: the model was trained on observation space {_describe(saved_obs)}{where}, but this env has "
            f"{_describe(env.observation_space)} ({_difference(saved_obs, env.observation_space)}; obs_mode, "
            "queue_len, servers, models and sites must match)"
        )
    if saved_act != _expected_action_space(saved_act, env.action_space):
        raise ValueError(
            f"{path}: the model was trained on action space {_describe(saved_act)}{where}, but this env has "
            f"{_describe(env.action_space)} ({_difference(saved_act, env.action_space)}; action_mode, queue_len, "
            "degrees and step levels must match)"
        )
    cls = spec.load_class()
    spec.load_policy()  # imports (and registers) a custom policy class before unpickling
    try:
        with warnings.catch_warnings():
            # SB3 re-creates an n-step model with its saved NStepReplayBuffer and warns that n_steps is unused.
            warnings.filterwarnings("ignore", message=r"`n_steps=\d+` is ignored")
            model = cls.load(path, device="cpu")
    except Exception as err:
        raise ValueError(f"{path}: could not load as {cls.__name__} ({type(err).__name__}: {err})") from None
    return SB3Agent(model, env, algo, maskable=spec.maskable)


# ---------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What :func:`train` produced."""

    model_path: Path
    learning_curve: list[tuple[int, float, float]]  # (env steps, mean return, mean response s) on eval seeds
    wall_s: float
    train_json: Path
    model: Any = field(default=None, repr=False)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return _json_safe(value.item())
    return value


def _eval_points(model: Any, env: gym.Env, algo: str, seeds: Sequence[int]) -> tuple[float, float]:
    """(mean return, mean of the episodes' mean response time) of the deterministic policy."""
    from eat_bench.baselines.evaluation import run_episode

    agent = SB3Agent(model, env, algo, maskable=ALGOS[algo].maskable)
    records = [run_episode(env, agent, seed, algo) for seed in seeds]
    returns = [r.episode_return for r in records]
    responses = [r.metrics.get("mean_response_s", float("nan")) for r in records]
    finite = [x for x in responses if x is not None and math.isfinite(x)]
    return float(np.mean(returns)), float(np.mean(finite)) if finite else float("nan")


def _callbacks(
    algo: str,
    env_id: str,
    env_kwargs: dict[str, Any],
    steps: int,
    out: Path,
    checkpoint_every: int,
    eval_every: int,
    eval_episodes: int,
    curve: list[tuple[int, float, float]],
) -> list[Any]:
    from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

    from eat_bench.baselines.evaluation import EVAL_SEED_BASE

    callbacks: list[Any] = []
    if checkpoint_every > 0:
        callbacks.append(CheckpointCallback(checkpoint_every, str(out / "checkpoints"), name_prefix="model"))
    if eval_every > 0:
        eval_env = gym.make(env_id, **{**env_kwargs, **env_modes(algo)})
        seeds = [EVAL_SEED_BASE + i for i in range(eval_episodes)]

        class LearningCurve(BaseCallback):
            """Evaluates every ``eval_every`` env steps and at the end (the learning curve)."""

            def _point(self) -> None:
                if curve and curve[-1][0] == self.num_timesteps:
                    return
                curve.append((int(self.num_timesteps), *_eval_points(self.model, eval_env, algo, seeds)))

            def _on_step(self) -> bool:
                # The last point waits for the end: on-policy algorithms still update after the final rollout.
                if self.num_timesteps % eval_every == 0 and self.num_timesteps < steps:
                    self._point()
                return True

            def _on_training_end(self) -> None:
                self._point()
                eval_env.close()

        callbacks.append(LearningCurve())
    return callbacks


def train(
    algo: str,
    env_id: str,
    steps: int,
    seed: int,
    out: str | Path,
    *,
    env_kwargs: dict[str, Any] | None = None,
    hyperparams: dict[str, Any] | None = None,
    torch_threads: int = 1,
    progress: bool = True,
    tensorboard: bool = True,
    eval_every: int = 0,
    eval_episodes: int = 2,
    callback: Any = None,
    checkpoint_every: int | None = None,
    device: str = "cpu",
    echo: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``algo`` on ``env_id`` for ``steps`` env steps from ``seed``; write ``out/``.

    Hyper-parameters: :func:`load_hyperparams` updated with ``hyperparams`` (checked the
    same way). Seeds: SB3's ``seed=`` (torch, numpy, the action space) and the env's
    resets. ``torch_threads`` (default 1) is set with ``torch.set_num_threads`` before any
    torch work: these policies are small and the env is single-threaded, so more
    intra-op threads only contend (5,000 PPO steps on a busy 2-core machine: 258 s with
    torch's default threads, 6.8 s with 1), and float sums, hence results, depend on the
    thread count. ``eval_every`` > 0 evaluates the deterministic policy every that many
    steps and at the end on ``eval_episodes`` seeds ``EVAL_SEED_BASE + i`` (disjoint from
    training seeds), giving the learning curve. ``checkpoint_every`` (default
    ``steps // 4``; 0: none) saves ``out/checkpoints/model_<steps>_steps.zip``. Writes
    ``out/model.zip`` and ``out/train.json`` atomically and TensorBoard logs under
    ``out/tb/`` (when ``tensorboard`` and the package is installed)."""
    spec = _spec(algo)
    _check_env_id(env_id)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if torch_threads < 1:
        raise ValueError(f"torch_threads must be >= 1, got {torch_threads}")
    require_rl(algo)
    say = echo or (lambda line: None)
    import torch

    torch.set_num_threads(torch_threads)
    params = load_hyperparams(algo, env_id)
    if hyperparams:
        check_hyperparams(spec, dict(hyperparams), source="hyperparams overrides")
        for key, value in hyperparams.items():
            if key == "policy_kwargs" and isinstance(params.get(key), dict):
                params[key] = {**params[key], **value}
            else:
                params[key] = value
    env_kwargs = dict(env_kwargs or {})
    env = make_train_env(algo, env_id, seed, env_kwargs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    policy, kwargs = resolve_hyperparams(spec, params, env)
    tb_dir: Path | None = None
    if tensorboard:
        try:
            import tensorboard as _tb  # noqa: F401

            tb_dir = out / "tb"
        except ImportError:
            say("note: tensorboard is not installed; no TensorBoard logs (pip install tensorboard)")
    if progress:
        try:
            import rich  # noqa: F401
            import tqdm  # noqa: F401
        except ImportError:
            say("note: the progress bar needs tqdm and rich; training without it")
            progress = False
    model = spec.load_class()(
        policy,
        env,
        seed=seed,
        device=kwargs.pop("device", device),
        verbose=0,
        tensorboard_log=str(tb_dir) if tb_dir else None,
        **kwargs,
    )
    curve: list[tuple[int, float, float]] = []
    every = max(1, steps // 4) if checkpoint_every is None else checkpoint_every
    callbacks = _callbacks(algo, env_id, env_kwargs, steps, out, every, eval_every, eval_episodes, curve)
    if callback is not None:
        callbacks.append(callback)
    started = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callbacks or None, progress_bar=progress, tb_log_name=algo)
    wall_s = time.perf_counter() - started
    env.close()
    buffer = io.BytesIO()
    model.save(buffer)
    model_path = out / "model.zip"
    _atomic_write(model_path, buffer.getvalue())
    import stable_baselines3

    import eat_bench

    meta = {
        "algo": algo,
        "env_id": env_id,
        "seed": seed,
        "steps": steps,
        "env_kwargs": env_kwargs,
        **env_modes(algo),
        "wrapper": spec.wrapper,
        "hyperparams": params,
        "observation_space": str(model.observation_space),
        "action_space": str(model.action_space),
        "wall_s": wall_s,
        "torch_threads": torch_threads,
        "learning_curve": [list(p) for p in curve],
        "eval_seeds": f"EVAL_SEED_BASE + i for i < {eval_episodes}" if eval_every > 0 else "",
        "tensorboard": str(tb_dir) if tb_dir else None,
        "versions": {
            "eat_bench": eat_bench.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__,
        },
    }
    train_json = out / "train.json"
    _atomic_write(train_json, (json.dumps(_json_safe(meta), indent=2, allow_nan=False, default=repr) + "\n").encode())
    return TrainResult(model_path, curve, wall_s, train_json, model)
