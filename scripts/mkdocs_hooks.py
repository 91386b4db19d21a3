"""mkdocs hooks: pages that list what the code defines, so the docs cannot drift.

A page writes a marker such as ``<!-- eat-bench:reward-presets -->``; the hook replaces it
with a table built from the code at build time (``mkdocs build --strict`` runs it).
"""

from __future__ import annotations

from typing import Any


def _reward_presets() -> str:
    from eat_bench.rewards import REWARD_PRESETS

    rows = ["| preset | family | formula | invalid penalty | queue weight |", "|---|---|---|---|---|"]
    for preset in REWARD_PRESETS.values():
        rows.append(
            f"| `{preset.name}` | `{type(preset).__name__}` | {preset.formula} | {preset.invalid_penalty:g} "
            f"| {preset.queue_weight:g} |"
        )
    return "\n".join(rows)


def _layout(name: str) -> str:
    from eat_bench.envs import observation

    return getattr(observation, name).markdown()


MARKERS = {
    "<!-- eat-bench:reward-presets -->": _reward_presets,
    "<!-- eat-bench:task-columns -->": lambda: _layout("TASK_COLUMNS"),
    "<!-- eat-bench:server-columns -->": lambda: _layout("SERVER_COLUMNS"),
    "<!-- eat-bench:global-columns -->": lambda: _layout("GLOBAL_COLUMNS"),
    "<!-- eat-bench:site-task-columns -->": lambda: _layout("SITE_TASK_COLUMNS"),
    "<!-- eat-bench:site-server-columns -->": lambda: _layout("SITE_SERVER_COLUMNS"),
    "<!-- eat-bench:site-columns -->": lambda: _layout("SITE_COLUMNS"),
    "<!-- eat-bench:site-global-columns -->": lambda: _layout("SITE_GLOBAL_COLUMNS"),
}


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    for marker, build in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, build())
    return markdown
