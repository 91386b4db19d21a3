"""A leaderboard submission: a folder with ``submission.toml``, code and weights.

``submission.toml`` has one table, ``[submission]``::

    [submission]
    name = "my-algo"                  # letters, digits, '-', '_', '.'; the board's name
    authors = ["Ada Lovelace"]
    links = ["https://example.org/paper"]   # may be empty
    track = "single-agent"            # or "multi-agent" (edge_sites_v0)
    entry_point = "agent:make_agent"  # module:factory, relative to the folder
    obs_mode = "flat"                 # "flat" or "dict"
    action_mode = "discrete"          # "continuous" or "discrete" (multi-agent: "discrete")
    info_mode = "scheduler"           # "numeric" (default), "events" or "scheduler"
    training_budget = 50000           # env steps used in training (0: none)
    training_seeds = [0, 1, 2]
    env_modified = false              # true if training used a modified environment
    description = "one line"          # optional

The evaluator calls ``factory(observation_space, action_space, env_id)`` in a sandboxed
process (:mod:`eat_bench.leaderboard.sandbox`) and then ``act(observation, info)``
(and ``reset(seed)`` when the object has it). :func:`load_submission` validates every
field and that the entry point's module defines the factory (read with ``ast``, never
imported here: the evaluator does not run a stranger's code in its own process).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from eat_bench.leaderboard.files import write_atomic

__all__ = [
    "TRACKS",
    "OBS_MODES",
    "ACTION_MODES",
    "INFO_MODES",
    "SUBMISSION_FILE",
    "Submission",
    "SubmissionError",
    "load_submission",
    "init_submission",
]

SUBMISSION_FILE = "submission.toml"
TRACKS = ("single-agent", "multi-agent")
OBS_MODES = ("flat", "dict")
ACTION_MODES = {"single-agent": ("continuous", "discrete"), "multi-agent": ("discrete",)}
INFO_MODES = {"single-agent": ("numeric", "events", "scheduler"), "multi-agent": ("numeric",)}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELDS = (
    "name",
    "authors",
    "links",
    "track",
    "entry_point",
    "obs_mode",
    "action_mode",
    "info_mode",
    "training_budget",
    "training_seeds",
    "env_modified",
    "description",
)
_REQUIRED = (
    "name",
    "authors",
    "track",
    "entry_point",
    "obs_mode",
    "action_mode",
    "training_budget",
    "training_seeds",
    "env_modified",
)


class SubmissionError(ValueError):
    """A submission folder that cannot be evaluated; the message names the file and field."""


@dataclass(frozen=True)
class Submission:
    """A validated ``submission.toml`` (``path``: the submission folder)."""

    path: Path
    name: str
    authors: tuple[str, ...]
    links: tuple[str, ...]
    track: str
    entry_point: str
    obs_mode: str
    action_mode: str
    info_mode: str
    training_budget: int
    training_seeds: tuple[int, ...]
    env_modified: bool
    description: str = ""

    def env_kwargs(self) -> dict[str, Any]:
        """The make keywords the evaluator builds every scenario's env with."""
        if self.track == "multi-agent":
            return {"obs_mode": self.obs_mode}
        return {"obs_mode": self.obs_mode, "action_mode": self.action_mode, "info_mode": self.info_mode}

    def to_dict(self) -> dict[str, Any]:
        """The fields as stored in ``results.json`` (the folder left out)."""
        return {
            "name": self.name,
            "authors": list(self.authors),
            "links": list(self.links),
            "track": self.track,
            "entry_point": self.entry_point,
            "obs_mode": self.obs_mode,
            "action_mode": self.action_mode,
            "info_mode": self.info_mode,
            "training_budget": self.training_budget,
            "training_seeds": list(self.training_seeds),
            "env_modified": self.env_modified,
            "description": self.description,
        }


def _string_list(where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SubmissionError(f"{where}: field {key!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise SubmissionError(f"{where}: field {key!r} must be a string, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise SubmissionError(f"{where}: field {key!r}: unknown value {value!r}; expected one of {', '.join(choices)}")
    return value


def _module_file(folder: Path, module: str) -> Path | None:
    parts = module.split(".")
    base = folder.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defines(tree: ast.Module, name: str) -> bool:
    """Whether a module's top level binds ``name`` (def, class, assignment or import)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            if node.target.id == name:
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
                return True
    return False


def _check_entry_point(folder: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or value.count(":") != 1:
        raise SubmissionError(f"{where}: field 'entry_point' must be 'module:factory', got {value!r}")
    module, factory = value.split(":")
    if not all(_IDENTIFIER.match(part) for part in module.split(".")) or not _IDENTIFIER.match(factory):
        raise SubmissionError(f"{where}: field 'entry_point': {value!r} is not 'module:factory' of Python names")
    source = _module_file(folder, module)
    if source is None:
        raise SubmissionError(
            f"{where}: field 'entry_point': module {module!r} is not importable from the submission folder "
            f"(no {module.replace('.', '/')}.py or {module.replace('.', '/')}/__init__.py in {folder})"
        )
    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except SyntaxError as err:
        raise SubmissionError(
            f"{where}: field 'entry_point': {source} has a syntax error at line {err.lineno}: {err.msg}"
        ) from None
    if not _defines(tree, factory):
        raise SubmissionError(f"{where}: field 'entry_point': {source} defines no top-level {factory!r}")
    return value


def _parse(folder: Path, data: Mapping[str, Any], where: str) -> Submission:
    table = data.get("submission")
    if not isinstance(table, dict):
        raise SubmissionError(f"{where}: no [submission] table")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise SubmissionError(f"{where}: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(_FIELDS)}")
    for key in _REQUIRED:
        if key not in table:
            raise SubmissionError(f"{where}: missing field {key!r}")
    name = table["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise SubmissionError(
            f"{where}: field 'name' must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
            f"got {name!r}"
        )
    authors = _string_list(where, "authors", table["authors"])
    if not authors:
        raise SubmissionError(f"{where}: field 'authors' must name at least one author")
    links = _string_list(where, "links", table.get("links", []))
    track = _choice(where, "track", table["track"], TRACKS)
    obs_mode = _choice(where, "obs_mode", table["obs_mode"], OBS_MODES)
    action_mode = _choice(where, "action_mode", table["action_mode"], ACTION_MODES[track])
    info_mode = _choice(where, "info_mode", table.get("info_mode", "numeric"), INFO_MODES[track])
    budget = table["training_budget"]
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise SubmissionError(f"{where}: field 'training_budget' must be an integer >= 0 (env steps), got {budget!r}")
    seeds = table["training_seeds"]
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise SubmissionError(f"{where}: field 'training_seeds' must be a list of integers, got {seeds!r}")
    modified = table["env_modified"]
    if not isinstance(modified, bool):
        raise SubmissionError(f"{where}: field 'env_modified' must be true or false, got {modified!r}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise SubmissionError(f"{where}: field 'description' must be a string, got {description!r}")
    entry_point = _check_entry_point(folder, where, table["entry_point"])
    return Submission(
        path=folder,
        name=name,
        authors=authors,
        links=links,
        track=track,
        entry_point=entry_point,
        obs_mode=obs_mode,
        action_mode=action_mode,
        info_mode=info_mode,
        training_budget=budget,
        training_seeds=tuple(seeds),
        env_modified=modified,
        description=description,
    )


def load_submission(folder: str | os.PathLike[str]) -> Submission:
    """The validated submission in ``folder``; :class:`SubmissionError` names what is wrong."""
    folder = Path(folder)
    path = folder / SUBMISSION_FILE
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: not a folder (a submission is a folder holding {SUBMISSION_FILE})")
    if not path.is_file():
        raise SubmissionError(f"{path}: missing (run `eat-bench submission init {folder}` for a template)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SubmissionError(f"{path}: not valid TOML ({err})") from None
    return _parse(folder.resolve(), data, str(path))


# ---------------------------------------------------------------------- scaffold
_TOML = """[submission]
name = "{name}"
authors = ["Your Name"]
links = []
track = "single-agent"
entry_point = "agent:make_agent"
obs_mode = "flat"
action_mode = "discrete"
info_mode = "scheduler"
training_budget = 0
training_seeds = []
env_modified = false
description = "Shortest queue first: the oldest visible task that fits, at 20 steps."
"""

_AGENT = '''"""{name}: a leaderboard submission for eat-bench.

The evaluator calls ``make_agent(observation_space, action_space, env_id)`` once per
scenario of the evaluation set, in a sandboxed process whose working directory is a copy
of this folder, then ``reset(seed)`` before each episode and ``act(observation, info)``
at each decision. Replace the body of ``act`` with your algorithm; load weights with
paths relative to this file.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class OldestFirst:
    """Dispatch the oldest visible task that fits on the idle servers, at 20 steps.

    With ``action_mode = "discrete"`` the action is ``[slot + 1 or 0 to wait, degree
    index, step level index]``; ``info_mode = "scheduler"`` gives the queue and servers
    as plain arrays (see the scheduler view in eat-bench's docs).
    """

    def __init__(self, observation_space, action_space, env_id):
        self.action_space = action_space
        self.env_id = env_id

    def reset(self, seed=None):
        pass

    def act(self, observation, info):
        queue = info["queue_tasks"]  # (Q, 9): present, task id, arrival, SLO, class, model, site, degree, pixels
        degrees = info["degrees"]
        most = int(np.max(info["free_per_site"]))
        levels = info["step_levels"]
        level = int(np.argmin(np.abs(levels - 20)))
        for slot in range(queue.shape[0]):
            if queue[slot, 0] == 0:
                break
            demand = int(queue[slot, 7]) or int(degrees[0])
            if demand <= most:
                # when tasks fix their own degree the degree component has one choice
                degree = int(np.searchsorted(degrees, demand)) if self.action_space.nvec[1] > 1 else 0
                return np.array([slot + 1, degree, level], dtype=np.int64)
        return np.array([0, 0, level], dtype=np.int64)


def make_agent(observation_space, action_space, env_id):
    return OldestFirst(observation_space, action_space, env_id)
'''

_README = """# {name}

An eat-bench leaderboard submission. Evaluate it, check it and see it on a board:

```
eat-bench evaluate {name} --out results/{name} --quick   # a smoke run (unofficial)
eat-bench evaluate {name} --out results/{name}           # the frozen evaluation set
eat-bench verify results/{name}                           # replays every logged episode
eat-bench board --results results --out board             # LEADERBOARD.md + site/index.html
```

## The folder
- `submission.toml`: who you are and how to run the agent (every field below is checked;
  an error names the file and the field).
- `agent.py` (or any module named by `entry_point`): `make_agent(observation_space,
  action_space, env_id)` returns an object with `act(observation, info) -> action` and
  optionally `reset(seed)`.
- weights and other files: loaded with paths relative to the module.

An agent may also define `act_batch(observations, infos) -> actions` (lists): then all
episodes of a scenario run in lockstep, one batched call per step, with one agent object
for all of them and `reset(seed)` called for every seed first. Only for stateless
policies (e.g. a deterministic network); it makes a torch policy's evaluation about ten
times cheaper.

## submission.toml fields
| field | type | meaning |
|---|---|---|
| `name` | string | the board's name: letters, digits, `.`, `_`, `-` |
| `authors` | list of strings | at least one |
| `links` | list of strings | paper, code (may be empty) |
| `track` | `"single-agent"` or `"multi-agent"` | which evaluation set |
| `entry_point` | `"module:factory"` | relative to this folder |
| `obs_mode` | `"flat"` or `"dict"` | the observation the env hands out |
| `action_mode` | `"continuous"` or `"discrete"` | the action space (multi-agent: `"discrete"`) |
| `info_mode` | `"numeric"`, `"events"` or `"scheduler"` | extra info keys (multi-agent: `"numeric"`) |
| `training_budget` | integer | env steps of training (0 for none) |
| `training_seeds` | list of integers | seeds used in training |
| `env_modified` | boolean | whether training used a modified environment |
| `description` | string | optional, one line |

## The sandbox
The agent runs in a separate process with no network, a read-only file system except a
scratch copy of this folder (its working directory), one CPU thread per BLAS library,
and limits on time per decision, per episode and in total, on memory and on processes.
The agent sees only the observation, the info and the spaces. A crash, a hang, a limit
hit or a malformed action stops the evaluation and is recorded as a failure with its
reason.
"""


def init_submission(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Write a working template submission into ``folder`` (created; it must not already
    hold any of the template's files). Returns the files written."""
    folder = Path(folder)
    name = name or folder.resolve().name
    if not _NAME.match(name):
        raise SubmissionError(f"{folder}: {name!r} is not a valid submission name (letters, digits, '.', '_', '-')")
    files = {SUBMISSION_FILE: _TOML, "agent.py": _AGENT, "README.md": _README}
    existing = [folder / f for f in files if (folder / f).exists()]
    if existing:
        raise SubmissionError(f"{folder}: already holds {', '.join(str(p) for p in existing)}; nothing was written")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, template in files.items():
        path = folder / filename
        write_atomic(path, template.format(name=name).encode())
        written.append(path)
    return written
