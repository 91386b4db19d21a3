"""A griffe extension for the docs build: render eat-bench's reST-flavoured docstrings as Markdown.

The env docstrings are also ``help()`` text and doctests, so they use reST habits that
Markdown renders badly: ``>>>`` examples (Markdown reads ``>`` as a quote), ``::``
literal blocks, and Sphinx roles such as ``:mod:`eat_bench.rewards```. On loading, this
extension rewrites each docstring for mkdocstrings (the source files are not touched):

* a run of ``>>>`` / ``...`` lines and their output becomes a ```` ```pycon ```` block;
* ``Text::`` followed by an indented block becomes ``Text:`` and a fenced block
  (``python`` when the block parses as Python);
* ``:role:`target``` becomes ```target``` (``~`` keeps the last dotted name).

Configured in ``mkdocs.yml`` (``plugins: mkdocstrings: handlers: python: options:
extensions``).
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:mod|meth|func|class|data|attr|obj|exc|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _fence(lines: list[str], language: str, indent: str) -> list[str]:
    return [f"{indent}```{language}", *(indent + line if line else "" for line in lines), f"{indent}```"]


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with doctest blocks, ``::`` literal blocks and roles in Markdown form."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(">>>"):  # a doctest block: up to the next blank line
            indent = line[: _indent(line)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i].strip())
                i += 1
            if out and out[-1].strip():
                out.append("")
            out.extend(_fence(block, "pycon", indent))
            continue
        if stripped.endswith("::") and i + 1 < len(lines) and not lines[i + 1].strip():
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and _indent(lines[j]) > _indent(line):
                end = j
                while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > _indent(line)):
                    end += 1
                while end > j and not lines[end - 1].strip():
                    end -= 1
                block = textwrap.dedent("\n".join(lines[j:end])).splitlines()
                try:
                    ast.parse("\n".join(block))
                    language = "python"
                except SyntaxError:
                    language = "text"
                head = line.rstrip()[:-1]  # "Usage::" -> "Usage:"; a lone "::" -> ":"
                if head.strip() != ":":
                    out.append(_ROLE.sub(_role, head))
                out.append("")
                out.extend(_fence(block, language, line[: _indent(line)]))
                i = end
                continue
        out.append(_ROLE.sub(_role, line))
        i += 1
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrite every loaded docstring with :func:`rst_to_markdown`."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
