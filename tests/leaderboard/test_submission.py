"""``submission.toml``: the scaffold loads; every error names the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eat_bench.leaderboard.submission import (
    SUBMISSION_FILE,
    Submission,
    SubmissionError,
    init_submission,
    load_submission,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.parent for p in (REPO / "leaderboard" / "submissions").glob(f"*/{SUBMISSION_FILE}"))

VALID: dict[str, Any] = {
    "name": "my-algo",
    "authors": ["Ada Lovelace"],
    "links": ["https://example.org/paper"],
    "track": "single-agent",
    "entry_point": "agent:make_agent",
    "obs_mode": "flat",
    "action_mode": "discrete",
    "info_mode": "scheduler",
    "training_budget": 50000,
    "training_seeds": [0, 1, 2],
    "env_modified": False,
    "description": "one line",
}
AGENT = "def make_agent(observation_space, action_space, env_id):\n    return None\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def write(folder: Path, drop: tuple[str, ...] = (), agent: str | None = AGENT, **fields: Any) -> Path:
    """A submission folder: VALID with ``fields`` changed and ``drop`` removed."""
    folder.mkdir(parents=True, exist_ok=True)
    table = {**VALID, **fields}
    lines = ["[submission]"] + [f"{k} = {_toml(v)}" for k, v in table.items() if k not in drop]
    (folder / SUBMISSION_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    if agent is not None:
        (folder / "agent.py").write_text(agent, encoding="utf-8")
    return folder


def error(folder: Path) -> str:
    with pytest.raises(SubmissionError) as caught:
        load_submission(folder)
    return str(caught.value)


def assert_names(message: str, folder: Path, field: str) -> None:
    assert str(folder / SUBMISSION_FILE) in message, message
    assert f"'{field}'" in message, message


# ---------------------------------------------------------------------- valid
def test_scaffold_loads(tmp_path):
    """init's template is a valid submission, named after the folder (or --name)."""
    written = init_submission(tmp_path / "alpha")
    assert sorted(p.name for p in written) == ["README.md", "agent.py", SUBMISSION_FILE]
    sub = load_submission(tmp_path / "alpha")
    assert (sub.name, sub.track, sub.entry_point) == ("alpha", "single-agent", "agent:make_agent")
    assert (sub.obs_mode, sub.action_mode, sub.info_mode) == ("flat", "discrete", "scheduler")
    assert sub.path == (tmp_path / "alpha").resolve()
    init_submission(tmp_path / "other", name="given.name_1")
    assert load_submission(tmp_path / "other").name == "given.name_1"
    assert "given.name_1" in (tmp_path / "other" / "README.md").read_text()


def test_to_dict_and_env_kwargs(tmp_path):
    """to_dict stores every field as written (lists, not tuples; no path); env_kwargs
    gives the env's modes (multi-agent: obs_mode only)."""
    sub = load_submission(write(tmp_path / "s"))
    assert isinstance(sub, Submission)
    assert sub.to_dict() == VALID
    assert json.loads(json.dumps(sub.to_dict())) == VALID
    assert sub.env_kwargs() == {"obs_mode": "flat", "action_mode": "discrete", "info_mode": "scheduler"}
    multi = load_submission(write(tmp_path / "m", track="multi-agent", obs_mode="dict", info_mode="numeric"))
    assert multi.env_kwargs() == {"obs_mode": "dict"}


def test_optional_fields_default(tmp_path):
    """links, info_mode and description may be left out: [], 'numeric', ''."""
    sub = load_submission(write(tmp_path / "s", drop=("links", "info_mode", "description")))
    assert (sub.links, sub.info_mode, sub.description) == ((), "numeric", "")


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_submissions_load(folder):
    """Every shipped baseline's submission is valid and named after its folder."""
    assert load_submission(folder).name == folder.name


# ---------------------------------------------------------------------- field errors
@pytest.mark.parametrize(
    "field",
    [
        "name",
        "authors",
        "track",
        "entry_point",
        "obs_mode",
        "action_mode",
        "training_budget",
        "training_seeds",
        "env_modified",
    ],
)
def test_missing_required_field(tmp_path, field):
    """A required field left out: 'missing field' naming it."""
    message = error(write(tmp_path / "s", drop=(field,)))
    assert_names(message, tmp_path / "s", field)
    assert "missing field" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("training_budget", "10"),
        ("training_budget", -1),
        ("training_budget", True),
        ("training_budget", 1.5),
        ("authors", "x"),
        ("authors", [1]),
        ("authors", []),
        ("links", "https://example.org"),
        ("training_seeds", [0, "1"]),
        ("training_seeds", [True]),
        ("training_seeds", 3),
        ("env_modified", 1),
        ("env_modified", "false"),
        ("description", 3),
        ("name", 7),
        ("track", 1),
        ("obs_mode", ["flat"]),
        ("entry_point", 3),
    ],
)
def test_wrong_type(tmp_path, field, value):
    """A field of the wrong type (or out of range) is refused, naming the file and field."""
    message = error(write(tmp_path / "s", **{field: value}))
    assert_names(message, tmp_path / "s", field)


@pytest.mark.parametrize(
    ("field", "value", "changes"),
    [
        ("track", "both", {}),
        ("obs_mode", "image", {}),
        ("action_mode", "box", {}),
        ("info_mode", "verbose", {}),
        ("action_mode", "continuous", {"track": "multi-agent", "info_mode": "numeric"}),
        ("info_mode", "scheduler", {"track": "multi-agent"}),
        ("info_mode", "events", {"track": "multi-agent"}),
    ],
)
def test_unknown_mode(tmp_path, field, value, changes):
    """An unknown track or mode (multi-agent: discrete actions, numeric info only) lists the choices."""
    message = error(write(tmp_path / "s", **{**changes, field: value}))
    assert_names(message, tmp_path / "s", field)
    assert f"unknown value {value!r}" in message
    assert "expected one of" in message


@pytest.mark.parametrize("name", ["", "-leading", "has space", "slash/name", "x" * 65, "ünï"])
def test_bad_name(tmp_path, name):
    """A name that cannot be a board's name (and a folder's) is refused."""
    message = error(write(tmp_path / "s", name=name))
    assert_names(message, tmp_path / "s", "name")


def test_unknown_extra_field(tmp_path):
    """A typo'd or invented field is refused, naming it."""
    message = error(write(tmp_path / "s", tranining_budget=3))
    assert str(tmp_path / "s" / SUBMISSION_FILE) in message
    assert "unknown field(s) tranining_budget" in message


def test_invalid_toml(tmp_path):
    """A file that is not TOML: its path and the parser's line."""
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / SUBMISSION_FILE).write_text('[submission]\nname = "x\n', encoding="utf-8")
    message = error(folder)
    assert str(folder / SUBMISSION_FILE) in message and "not valid TOML" in message
    assert "line 2" in message


def test_no_submission_table_and_missing_file(tmp_path):
    """No [submission] table; no submission.toml; not a folder."""
    folder = tmp_path / "s"
    folder.mkdir()
    assert "missing" in error(folder) and SUBMISSION_FILE in error(folder)
    (folder / SUBMISSION_FILE).write_text('[other]\nname = "x"\n', encoding="utf-8")
    assert "no [submission] table" in error(folder)
    assert "not a folder" in error(tmp_path / "nowhere")


# ---------------------------------------------------------------------- entry point
@pytest.mark.parametrize(
    "value", ["agent", "agent:make:agent", "agent:", ":make_agent", "ag-ent:make_agent", "agent:1x"]
)
def test_entry_point_malformed(tmp_path, value):
    """entry_point must be 'module:factory' of Python names."""
    message = error(write(tmp_path / "s", entry_point=value))
    assert_names(message, tmp_path / "s", "entry_point")


def test_entry_point_module_missing(tmp_path):
    """A module not in the folder: named, with the files looked for."""
    message = error(write(tmp_path / "s", entry_point="pkg.policy:make_agent"))
    assert_names(message, tmp_path / "s", "entry_point")
    assert "'pkg.policy'" in message and "pkg/policy.py" in message


def test_entry_point_in_a_package(tmp_path):
    """A factory in a package module (pkg/policy.py, pkg/__init__.py) is found."""
    folder = write(tmp_path / "s", entry_point="pkg.policy:make_agent")
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (folder / "pkg" / "policy.py").write_text(AGENT, encoding="utf-8")
    assert load_submission(folder).entry_point == "pkg.policy:make_agent"


def test_entry_point_factory_not_defined(tmp_path):
    """The module exists but binds no such name at top level (a nested def does not count)."""
    agent = "def other():\n    def make_agent():\n        pass\n"
    message = error(write(tmp_path / "s", agent=agent))
    assert_names(message, tmp_path / "s", "entry_point")
    assert "defines no top-level 'make_agent'" in message and "agent.py" in message


@pytest.mark.parametrize(
    "agent",
    [
        "make_agent = lambda o, a, e: None\n",
        "class make_agent:\n    pass\n",
        "from policy import build as make_agent\n",
        "make_agent: object = None\n",
    ],
)
def test_entry_point_factory_bound_otherwise(tmp_path, agent):
    """An assignment, class or import also defines the factory."""
    assert load_submission(write(tmp_path / "s", agent=agent)).entry_point == "agent:make_agent"


def test_entry_point_syntax_error(tmp_path):
    """A module that does not parse: the file and the line of the error (never imported)."""
    agent = "import os\n\ndef make_agent(:\n    pass\n"
    message = error(write(tmp_path / "s", agent=agent))
    assert_names(message, tmp_path / "s", "entry_point")
    assert "syntax error at line 3" in message and "agent.py" in message


def test_load_never_imports_the_module(tmp_path):
    """Validation reads the entry point with ast only: the agent's top-level code does not run."""
    marker = tmp_path / "ran"
    agent = f"open({str(marker)!r}, 'w').close()\n" + AGENT
    load_submission(write(tmp_path / "s", agent=agent))
    assert not marker.exists()


# ---------------------------------------------------------------------- init
def test_init_refuses_existing_files(tmp_path):
    """init over any template file refuses, names it, and writes nothing (nothing lost)."""
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "README.md").write_text("mine\n", encoding="utf-8")
    with pytest.raises(SubmissionError) as caught:
        init_submission(folder)
    assert str(folder / "README.md") in str(caught.value) and "nothing was written" in str(caught.value)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md"]
    assert (folder / "README.md").read_text() == "mine\n"

    other = tmp_path / "t"
    init_submission(other)
    (other / "agent.py").write_text("edited\n", encoding="utf-8")
    with pytest.raises(SubmissionError):
        init_submission(other)
    assert (other / "agent.py").read_text() == "edited\n"
    assert sorted(p.name for p in other.iterdir()) == ["README.md", "agent.py", SUBMISSION_FILE]


def test_init_bad_name(tmp_path):
    """init with an invalid name refuses before creating anything."""
    with pytest.raises(SubmissionError, match="not a valid submission name"):
        init_submission(tmp_path / "s", name="bad name")
    assert not (tmp_path / "s").exists()
