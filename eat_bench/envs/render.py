"""Rendering: an ANSI table of the queue and servers, and a Gantt chart of the servers.

matplotlib is imported only here, and only when an ``rgb_array`` frame is asked for.
"""

from __future__ import annotations

import numpy as np

from eat_bench.sim.engine import Simulator

__all__ = ["render_ansi", "render_gantt"]


def render_ansi(sim: Simulator, visible: int) -> str:
    """The clock, the visible queue and each server's state, as a text table."""
    cfg = sim.config
    lines = [f"t = {sim.now:9.2f} s   queued {len(sim.queue)}   dispatched {len(sim.records)}/{cfg.num_tasks}"]
    lines.append("queue: slot task  model  size       site  waited_s  slo_s  degree")
    for slot, task in enumerate(sim.queue[:visible]):
        c = cfg.classes[sim.task_class[task]]
        lines.append(
            f"       {slot:4d} {task:4d}  {c.model:5s}  {c.width}x{c.height:<5d} {sim.task_site[task]:4d}  "
            f"{sim.now - sim.task_arrival[task]:8.2f}  {c.slo_s:5.1f}  {sim.task_degree[task] or '-'}"
        )
    lines.append("servers: id  site  gpu              state   busy_s  warm")
    for spec in cfg.servers:
        i = spec.server_id
        remaining = max(0.0, float(sim.busy_until[i]) - sim.now)
        model = int(sim.warm_model[i])
        warm = f"{sim.models[model]} x{int(sim.group_size[i])}" if model >= 0 else "-"
        state = "busy" if remaining > 0 else "free"
        lines.append(f"         {i:3d}  {spec.site:4d}  {spec.gpu:15s}  {state:6s}  {remaining:6.2f}  {warm}")
    return "\n".join(lines) + "\n"


def render_gantt(sim: Simulator, width_px: int = 800, height_px: int = 400) -> np.ndarray:
    """A Gantt chart (server x time) of every dispatch so far, as an RGB array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    for record in sim.records:
        model = sim.models.index(record.model)
        busy = record.cold_start_s + record.compute_s
        for server in record.servers:
            if record.cold_start_s > 0:
                axes.broken_barh([(record.start_s, record.cold_start_s)], (server - 0.4, 0.8), color="#bbbbbb")
            axes.broken_barh(
                [(record.start_s + record.cold_start_s, busy - record.cold_start_s)],
                (server - 0.4, 0.8),
                color=colours[model % len(colours)],
            )
    from matplotlib.patches import Patch

    handles = [Patch(color=colours[i % len(colours)], label=model) for i, model in enumerate(sim.models)]
    handles.append(Patch(color="#bbbbbb", label="cold start"))
    axes.legend(handles=handles, loc="upper left", fontsize="small", ncols=len(handles))
    axes.axvline(sim.now, color="black", linewidth=0.8)
    axes.set_xlabel("simulated time (s)")
    axes.set_ylabel("server")
    axes.set_ylim(-0.6, sim.num_servers + 0.6)  # room for the legend above the top server
    if sim.num_servers <= 16:
        axes.set_yticks(range(sim.num_servers))
    axes.set_xlim(0, max(sim.now, 1e-3) * 1.02)
    axes.set_title(f"t = {sim.now:.1f} s: {len(sim.records)} dispatches")
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
