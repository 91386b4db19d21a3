"""The docs site builds with --strict, and the env pages carry the env docstrings, rendered."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_extension():
    pytest.importorskip("griffe")
    spec = importlib.util.spec_from_file_location(
        "griffe_rst_docstrings", ROOT / "scripts" / "griffe_rst_docstrings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rst_habits_become_markdown():
    convert = _load_extension().rst_to_markdown
    text = "Usage::\n\n    env = make()\n    env.reset()\n\nSee :mod:`eat_bench.rewards` and :meth:`~A.b`.\n\n>>> 1 + 1\n2\n"
    assert convert(text).splitlines() == [
        "Usage:",
        "",
        "```python",
        "env = make()",
        "env.reset()",
        "```",
        "",
        "See `eat_bench.rewards` and `b`.",
        "",
        "```pycon",
        ">>> 1 + 1",
        "2",
        "```",
    ]
    assert convert("A table::\n\n    a | b\n    ) (\n").splitlines() == [
        "A table:",
        "",
        "```text",
        "a | b",
        ") (",
        "```",
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return out


def _reference(site: Path, page: str) -> str:
    html = (site / page / "index.html").read_text(encoding="utf-8")
    assert 'id="reference"' in html
    return html[html.index('id="reference"') :]


@pytest.mark.parametrize(
    "page, phrases",
    [
        (
            "single_agent",
            ["<strong>Version history.</strong>", "<strong>Seeding.</strong>", "Valid choices per component"],
        ),
        (
            "multi_agent",
            ["<strong>Version history.</strong>", "<strong>Action masks.</strong>", "<strong>State.</strong>"],
        ),
    ],
)
def test_env_pages_render_the_docstrings(site: Path, page: str, phrases: list[str]) -> None:
    body = _reference(site, page)
    for phrase in phrases:
        assert phrase in body
    text = re.sub(r"<[^>]+>", "", body)
    assert re.search(r":(mod|meth|func|class|data):", text) is None  # Sphinx roles were rewritten
    assert "<blockquote>" not in body  # ">>>" examples are code, not nested quotes
    assert '<span class="gp">&gt;&gt;&gt; </span>' in body  # ... highlighted as a console session


def test_contributing_page_is_in_the_site(site: Path) -> None:
    html = (site / "contributing" / "index.html").read_text(encoding="utf-8")
    for heading in ("Add a GPU kind", "Add a scenario", "Change or add a reward", "Check determinism"):
        assert heading in html
