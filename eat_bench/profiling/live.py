"""``eat-bench live``: an emulated edge cluster on one machine, and the simulator's measured fidelity.

How it works (and what it does not claim):

* **Cluster and workload.** One site of ``servers`` servers of one GPU kind of a recorded trace
  (the trace's GPU name: ``CPU`` for a CPU trace). The request classes are the trace's degree-1
  (model, resolution) rows whose model this package can build (:data:`~eat_bench.profiling.models.MODELS`).
  Arrivals are the scenario's seeded Poisson stream, its rate set so that the predicted load is
  ``load`` (default 0.7) of the cluster: times are real seconds on this machine.
* **Servers.** Each server is a worker process (``multiprocessing``: forked by a forkserver that
  imported torch and diffusers once, or spawned where there is no forkserver) holding a real
  model and running real denoising steps (:class:`~eat_bench.profiling.models.DiffusionWorkload`:
  text encoding, UNet steps with guidance, VAE decode) at the task's resolution and steps. Torch
  uses ``threads`` intra-op threads per worker (default 1: several workers sharing a few cores
  oversubscribe badly otherwise). A worker starts by loading and running each model once
  (process start-up, not part of any task), then holds nothing: the first task on it, and every
  task the simulator marks cold (its warm group changed), loads the weights from disk for real.
* **Scheduler.** The agent (a heuristic such as ``greedy``) is asked through the same Agent
  protocol (``act(obs, info)`` on an :class:`~eat_bench.envs.single_agent.EatEdgeEnv`) at the
  same decision points as in the simulator: whenever a queued task fits a free server. The
  env's simulator is the scheduler's view of the cluster, but its clock is the wall clock and
  its completions are the workers' (a dispatched task's completion is held until its worker
  reports; this module reaches into the simulator's completion heap for that).
* **Prediction.** A fresh simulator with the same trace and seed (so the same arrival times)
  replays the live run's decisions (task, degree, steps) in the live order, each at the first
  moment it is feasible in simulated time. Its response time per task is the prediction;
  MAPE and the p95 absolute percentage error are over the tasks that completed.
* **Faults.** A worker that dies (e.g. SIGKILL) is noticed through its process sentinel; its
  task is reported ``failed`` and the server stays out of service. A task past ``task_timeout_s``
  kills its worker and fails the same way. The run ends when every task is done or failed.

Only degree 1 runs live (gangs would need patch-parallel workers); the simulator is asked the
same, so the comparison is like for like.
"""

from __future__ import annotations

import csv
import math
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from eat_bench.profiling import ProfileError
from eat_bench.scenarios.spec import ClusterSpec, ScenarioSpec, SiteSpec, WorkloadSpec
from eat_bench.sim.engine import Simulator
from eat_bench.sim.profiles import ProfileTrace, load_trace
from eat_bench.sim.workload import PoissonArrivals, RequestClass, StreamSpec

__all__ = [
    "LiveSpec",
    "LiveResult",
    "TaskOutcome",
    "live_scenario",
    "resolve_trace",
    "run_live",
    "write_report",
    "REPORT_COLUMNS",
]

REPORT_COLUMNS: tuple[str, ...] = (
    "task_id",
    "status",
    "model",
    "width",
    "height",
    "steps",
    "degree",
    "server",
    "arrival_s",
    "measured_start_s",
    "measured_finish_s",
    "measured_response_s",
    "measured_wait_s",
    "measured_service_s",
    "measured_cold",
    "measured_load_s",
    "measured_overhead_s",
    "measured_steps_s",
    "measured_ipc_s",
    "predicted_start_s",
    "predicted_response_s",
    "predicted_wait_s",
    "predicted_service_s",
    "predicted_cold",
    "predicted_load_s",
    "predicted_overhead_s",
    "predicted_steps_s",
    "ape",
    "error",
)


@dataclass(frozen=True)
class LiveSpec:
    """One live run. ``trace``: a CSV path or the name of a trace in ``eat_bench/traces``."""

    trace: str
    servers: int = 2
    tasks: int = 12
    agent: str = "greedy"
    seed: int = 0
    load: float = 0.7
    step_levels: tuple[int, ...] = (10, 20)
    gpu: str | None = None
    """The trace's GPU kind to emulate (default: its first GPU)."""
    device: str = "cpu"
    threads: int = 1
    task_timeout_s: float = 120.0
    reward: str = "balanced"
    start_timeout_s: float = 180.0

    def validate(self) -> None:
        """Raise :class:`ProfileError` naming the bad field."""
        for name, low in (("servers", 1), ("tasks", 1), ("threads", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ProfileError(f"--{name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ProfileError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if not (isinstance(self.load, (int, float)) and 0 < self.load and math.isfinite(self.load)):
            raise ProfileError(f"--load must be a positive number (target utilisation), got {self.load!r}")
        if not self.step_levels or any(not isinstance(s, int) or s < 1 for s in self.step_levels):
            raise ProfileError(f"--step-levels must be positive integers, got {self.step_levels!r}")
        if not self.task_timeout_s > 0:
            raise ProfileError(f"task_timeout_s must be > 0, got {self.task_timeout_s!r}")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ProfileError(f"--device must be 'cpu' or 'cuda' (or 'cuda:N'), got {self.device!r}")


@dataclass(frozen=True)
class TaskOutcome:
    """One task of a live run: what was measured and what the simulator predicted."""

    row: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.row["status"] == "ok"


@dataclass(frozen=True)
class LiveResult:
    """Per-task outcomes and the aggregate fidelity figures of a live run."""

    tasks: tuple[TaskOutcome, ...]
    summary: dict[str, Any] = field(hash=False)


def resolve_trace(trace: str) -> ProfileTrace:
    """Load ``trace``: a CSV path, a shipped name, or the stem of a CSV in ``eat_bench/traces``."""
    candidate = Path(__file__).resolve().parent.parent / "traces" / f"{trace}.csv"
    try:
        if not Path(trace).is_file() and candidate.is_file():
            return load_trace(candidate)
        return load_trace(trace)
    except ValueError as err:
        raise ProfileError(f"--trace: {err}") from None


def live_scenario(spec: LiveSpec, trace: ProfileTrace) -> ScenarioSpec:
    """The emulated cluster and workload of ``spec`` as a scenario on ``trace`` (see module doc)."""
    from eat_bench.profiling.models import MODELS

    gpus = trace.gpus()
    gpu = spec.gpu or gpus[0]
    if gpu not in gpus:
        raise ProfileError(f"--gpu: trace {trace.name!r} has no rows for {gpu!r}; its GPUs: {', '.join(gpus)}")
    rows = [r for r in trace.rows if r.gpu == gpu and r.degree == 1 and r.model in MODELS]
    if not rows:
        raise ProfileError(
            f"--trace: {trace.name!r} has no degree-1 rows for {gpu!r} with a model this machine can run "
            f"({', '.join(MODELS)}); record one with `eat-bench profile`"
        )
    mean_steps = statistics.fmean(spec.step_levels)
    services = [r.overhead_s + mean_steps * r.step_s for r in rows]
    mean_service = statistics.fmean(services)
    rate = spec.load * spec.servers / mean_service
    classes = tuple(
        RequestClass(
            r.model, r.width, r.height, slo_s=3.0 * (r.load_s + r.overhead_s + max(spec.step_levels) * r.step_s)
        )
        for r in rows
    )
    scenario = ScenarioSpec(
        id="EAT-Live",
        description=f"live emulation: {spec.servers} x {gpu}, {len(classes)} request classes from {trace.name}",
        cluster=ClusterSpec(sites=(SiteSpec("live", (gpu,) * spec.servers),)),
        workload=WorkloadSpec(
            classes=classes,
            streams=(StreamSpec(site=0, arrivals=PoissonArrivals(rate), classes=tuple(range(len(classes)))),),
            num_tasks=spec.tasks,
        ),
        trace=trace.path,
        quality="paper",
        reward=spec.reward,
        degrees=(1,),
        max_steps=max(spec.step_levels),
        step_levels=tuple(sorted(set(spec.step_levels))),
        time_limit_s=1e9,
        time_scale_s=mean_service,
    )
    scenario.validate()
    return scenario


# ----------------------------------------------------------------------------- workers
def _worker_main(conn: Connection, weights: dict[str, str], device: str, threads: int) -> None:
    """A server: load on cold dispatches, run requests, report per-phase times (perf_counter clock)."""
    import torch

    torch.set_num_threads(threads)
    from eat_bench.profiling.models import DiffusionWorkload, get_model

    # Process start-up: touch every model once so that one-off initialisation is not billed to a task.
    for model, folder in weights.items():
        work = DiffusionWorkload(get_model(model), device)
        work.load(folder)
        work.run(work.prepare(64, 64, 0), 1)
        work.unload()
    work, current = None, None
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "stop":
            return
        _, task, model, width, height, steps, cold, seed = message
        received = time.perf_counter()
        load_s = 0.0
        if cold or current != model or work is None:
            work = DiffusionWorkload(get_model(model), device)
            load_s = work.load(weights[model])
            current = model
        phases = work.run(work.prepare(width, height, seed), steps)
        conn.send(("done", task, received, load_s, phases, time.perf_counter()))


@dataclass
class _Worker:
    index: int
    process: Any
    conn: Connection
    alive: bool = True
    task: int | None = None
    deadline: float = math.inf


class _HeldCompletions:
    """Hold a dispatched task's completion in the simulator until its worker reports.

    A held completion is rescheduled to ``inf`` (:meth:`Simulator.reschedule_completion`);
    releasing sets the real finish time; a failed task is never released, so its server stays
    busy (out of service) in the scheduler's view.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def hold(self, task: int) -> None:
        self.sim.reschedule_completion(task, math.inf)

    def release(self, task: int, t: float) -> None:
        self.sim.reschedule_completion(task, t)


def _start_workers(count: int, weights: dict[str, str], device: str, threads: int, timeout_s: float) -> list[_Worker]:
    # A fresh interpreter per worker (never a fork of this process and its thread pools): the forkserver
    # imports torch and diffusers once and forks clean workers from itself; spawn where there is none.
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["eat_bench.profiling.models"])
    else:
        ctx = mp.get_context("spawn")
    workers = []
    for i in range(count):
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker_main, args=(child, weights, device, threads), daemon=True)
        process.start()
        child.close()
        workers.append(_Worker(i, process, parent))
    deadline = time.perf_counter() + timeout_s
    for w in workers:
        remaining = deadline - time.perf_counter()
        if not w.conn.poll(max(remaining, 0.0)):
            _stop_workers(workers)
            raise ProfileError(f"live: worker {w.index} did not start within {timeout_s:.0f} s")
        try:
            w.conn.recv()
        except EOFError:
            _stop_workers(workers)
            raise ProfileError(f"live: worker {w.index} died while starting (exit code {w.process.exitcode})") from None
    return workers


def _stop_workers(workers: Sequence[_Worker]) -> None:
    for w in workers:
        if w.process.is_alive():
            try:
                w.conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
    for w in workers:
        w.process.join(timeout=5)
        if w.process.is_alive():
            w.process.kill()
            w.process.join(timeout=5)
        w.conn.close()


# ----------------------------------------------------------------------------- the run
def run_live(
    spec: LiveSpec,
    out_dir: str | os.PathLike[str] | None = None,
    on_dispatch: Callable[[int, int], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> LiveResult:
    """Run the emulated cluster, replay its decisions in the simulator, compare per task.

    ``on_dispatch(task_id, worker_pid)`` is called right after a task is sent to its worker
    (fault injection in tests). With ``out_dir``, writes ``live_report.csv``,
    ``live_summary.csv`` and ``live_fidelity.png`` there.
    """
    spec.validate()
    from eat_bench.baselines.heuristics import make_heuristic
    from eat_bench.envs.single_agent import EatEdgeEnv
    from eat_bench.profiling.models import get_model, save_random_weights

    trace = resolve_trace(spec.trace)
    scenario = live_scenario(spec, trace)
    env = EatEdgeEnv(scenario)
    try:
        agent = make_heuristic(spec.agent, env)
    except ValueError as err:
        raise ProfileError(f"--agent: {err}") from None
    models = tuple(dict.fromkeys(c.model for c in scenario.workload.classes))
    with tempfile.TemporaryDirectory(prefix="eat-bench-live-") as tmp:
        weights = {m: str(save_random_weights(get_model(m), Path(tmp) / m, spec.seed)) for m in models}
        if echo:
            echo(f"live: starting {spec.servers} worker(s) ({', '.join(models)}; torch threads {spec.threads} each)")
        workers = _start_workers(spec.servers, weights, spec.device, spec.threads, spec.start_timeout_s)
        try:
            live = _drive(env, agent, workers, spec, on_dispatch, echo)
        finally:
            _stop_workers(workers)
    outcomes = _compare(scenario, spec.seed, env.sim, live)
    result = LiveResult(tasks=outcomes, summary=_summarise(outcomes, spec, trace))
    if out_dir is not None:
        write_report(result, out_dir)
    return result


def _drive(env: Any, agent: Any, workers: list[_Worker], spec: LiveSpec, on_dispatch: Any, echo: Any) -> dict[str, Any]:
    """The live loop; returns per-task measurements, failures and the decision order."""
    sim: Simulator = env.sim
    sim.reset(spec.seed)
    env.encoder.reset()
    agent.reset(spec.seed)
    held = _HeldCompletions(sim)
    by_conn = {w.conn: w for w in workers}
    by_sentinel = {w.process.sentinel: w for w in workers}
    n = len(sim.task_arrival)
    measured: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    order: list[tuple[int, int, int]] = []
    dispatched_at: dict[int, float] = {}
    t0 = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - t0

    def fail(worker: _Worker, reason: str) -> None:
        worker.alive = False
        if worker.task is not None:
            failed[worker.task] = reason
            if echo:
                echo(f"live: task {worker.task} failed on server {worker.index}: {reason}")
            worker.task = None

    while len(measured) + len(failed) < n:
        sim.advance_to(max(clock(), sim.now))
        # Decision points: the same rule as the simulator's (a queued task fits a free server).
        while sim.can_decide():
            action = agent.act(env.encoder.encode(), {"time_s": sim.now})
            decision = env.decoder.decode(action)
            if decision is None:
                break
            slot, degree, steps = decision
            record = sim.dispatch(slot, degree, steps)
            if type(record) is str:
                env.invalid_actions += 1
                break
            held.hold(record.task_id)
            worker = workers[record.servers[0]]
            order.append((record.task_id, record.degree, record.steps))
            dispatched_at[record.task_id] = clock()
            worker.task = record.task_id
            worker.deadline = dispatched_at[record.task_id] + spec.task_timeout_s
            try:
                worker.conn.send(
                    ("run", record.task_id, record.model, record.width, record.height, record.steps,
                     record.cold_start, spec.seed + record.task_id)
                )  # fmt: skip
            except (BrokenPipeError, OSError):
                fail(worker, "worker connection closed")
            if on_dispatch is not None and worker.alive:
                on_dispatch(record.task_id, worker.process.pid)
        if not any(w.alive for w in workers):
            for task in range(n):
                if task not in measured and task not in failed:
                    failed[task] = "no live server left"
            break
        # Wait for a worker message, a worker death, the next arrival or a deadline.
        now = clock()
        next_arrival = sim.task_arrival[sim.num_arrived] if sim.num_arrived < n else math.inf
        deadline = min([w.deadline for w in workers if w.alive and w.task is not None], default=math.inf)
        timeout = min(max(next_arrival - now, 0.0), max(deadline - now, 0.0), 1.0)
        alive = [w for w in workers if w.alive]
        ready = wait([w.conn for w in alive] + [w.process.sentinel for w in alive], timeout)
        for item in ready:
            worker = by_conn.get(item) or by_sentinel.get(item)
            if worker is None or not worker.alive:
                continue
            if item is worker.conn:
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    fail(worker, f"worker died (exit code {worker.process.exitcode})")
                    continue
                _, task, received, load_s, phases, finished = message
                start = dispatched_at[task]
                measured[task] = {
                    "start": start,
                    "finish": finished - t0,
                    "ipc": received - t0 - start,
                    "load": load_s,
                    "overhead": phases["text_s"] + phases["decode_s"],
                    "steps": phases["steps_s"],
                    "server": worker.index,
                }
                worker.task, worker.deadline = None, math.inf
                held.release(task, max(finished - t0, sim.now))
            else:
                worker.process.join(timeout=1)
                fail(worker, f"worker died (exit code {worker.process.exitcode})")
        for worker in workers:
            if worker.alive and worker.task is not None and clock() > worker.deadline:
                worker.process.kill()
                worker.process.join(timeout=5)
                fail(worker, f"timed out after {spec.task_timeout_s:.0f} s")
    return {"measured": measured, "failed": failed, "order": order}


def _compare(scenario: ScenarioSpec, seed: int, live_sim: Simulator, live: dict[str, Any]) -> tuple[TaskOutcome, ...]:
    """Replay the live decisions in a fresh simulator; one outcome per task."""
    replay = Simulator(scenario.sim_config())
    replay.reset(seed)
    predicted = {}
    for task, degree, steps in live["order"]:
        while True:
            record = replay.dispatch_task(task, degree, steps) if task < replay.num_arrived else "not arrived"
            if type(record) is not str:
                predicted[task] = record
                break
            target = replay.next_event_time()
            if target == math.inf:
                raise RuntimeError(f"live replay: task {task} can never be dispatched ({record})")
            replay.advance_to(target)
    trace = scenario.sim_config().trace
    gpu = scenario.cluster.sites[0].gpus[0]
    classes = scenario.workload.classes
    outcomes = []
    for task in range(len(live_sim.task_arrival)):
        c = classes[live_sim.task_class[task]]
        arrival = live_sim.task_arrival[task]
        row: dict[str, Any] = {k: "" for k in REPORT_COLUMNS}
        row.update(task_id=task, model=c.model, width=c.width, height=c.height, arrival_s=arrival)
        rec = predicted.get(task)
        if rec is not None:
            profile = trace.lookup(gpu, c.model, c.width, c.height, rec.degree)
            row.update(
                steps=rec.steps,
                degree=rec.degree,
                predicted_start_s=rec.start_s,
                predicted_response_s=rec.response_s,
                predicted_wait_s=rec.wait_s,
                predicted_service_s=rec.service_s,
                predicted_cold=int(rec.cold_start),
                predicted_load_s=rec.cold_start_s,
                predicted_overhead_s=profile.overhead_s,
                predicted_steps_s=rec.steps * profile.step_s,
            )
        m = live["measured"].get(task)
        if m is not None:
            response = m["finish"] - arrival
            row.update(
                status="ok",
                server=m["server"],
                measured_start_s=m["start"],
                measured_finish_s=m["finish"],
                measured_response_s=response,
                measured_wait_s=m["start"] - arrival,
                measured_service_s=m["finish"] - m["start"],
                measured_cold=int(m["load"] > 0),
                measured_load_s=m["load"],
                measured_overhead_s=m["overhead"],
                measured_steps_s=m["steps"],
                measured_ipc_s=m["ipc"],
            )
            if rec is not None:
                row["ape"] = abs(rec.response_s - response) / response
        else:
            row.update(status="failed", error=live["failed"].get(task, "not run"))
        outcomes.append(TaskOutcome(row))
    return tuple(outcomes)


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), without numpy."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _summarise(outcomes: Sequence[TaskOutcome], spec: LiveSpec, trace: ProfileTrace) -> dict[str, Any]:
    ok = [o.row for o in outcomes if o.ok and o.row["ape"] != ""]
    apes = [r["ape"] for r in ok]
    service_apes = [abs(r["predicted_service_s"] - r["measured_service_s"]) / r["measured_service_s"] for r in ok]

    def mean_diff(measured: str, predicted: str) -> float:
        return statistics.fmean(r[measured] - r[predicted] for r in ok) if ok else math.nan

    parts = {
        "wait": mean_diff("measured_wait_s", "predicted_wait_s"),
        "load": mean_diff("measured_load_s", "predicted_load_s"),
        "overhead": mean_diff("measured_overhead_s", "predicted_overhead_s"),
        "steps": mean_diff("measured_steps_s", "predicted_steps_s"),
        "ipc": statistics.fmean(r["measured_ipc_s"] for r in ok) if ok else math.nan,
    }
    finite = {k: v for k, v in parts.items() if math.isfinite(v)}
    dominant = max(finite, key=lambda k: abs(finite[k])) if finite else ""
    return {
        "trace": trace.name,
        "agent": spec.agent,
        "servers": spec.servers,
        "seed": spec.seed,
        "tasks": len(outcomes),
        "completed": sum(o.ok for o in outcomes),
        "failed": sum(not o.ok for o in outcomes),
        "mape_pct": 100.0 * statistics.fmean(apes) if apes else math.nan,
        "p95_ape_pct": 100.0 * _percentile(apes, 95) if apes else math.nan,
        "service_mape_pct": 100.0 * statistics.fmean(service_apes) if service_apes else math.nan,
        "mean_measured_response_s": statistics.fmean(r["measured_response_s"] for r in ok) if ok else math.nan,
        "mean_predicted_response_s": statistics.fmean(r["predicted_response_s"] for r in ok) if ok else math.nan,
        "cold_mismatches": sum(r["measured_cold"] != r["predicted_cold"] for r in ok),
        **{f"mean_{k}_error_s": v for k, v in parts.items()},
        "dominant_error": dominant,
    }


# ----------------------------------------------------------------------------- outputs
def _atomic_csv(path: Path, header: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(header), lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _figure(result: LiveResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        import seaborn as sns
    except ImportError:  # the plot extra is optional: plain matplotlib then
        sns = None

    ok = [o.row for o in result.tasks if o.ok and o.row["ape"] != ""]
    fig, ax = plt.subplots(figsize=(5, 5))
    if ok:
        data = {
            "measured response (s)": [r["measured_response_s"] for r in ok],
            "predicted response (s)": [r["predicted_response_s"] for r in ok],
            "model": [f"{r['model']} {r['width']}x{r['height']}" for r in ok],
        }
        if sns is not None:
            sns.scatterplot(data=data, x="measured response (s)", y="predicted response (s)", hue="model", ax=ax)
        else:
            ax.scatter(data["measured response (s)"], data["predicted response (s)"])
            ax.set_xlabel("measured response (s)")
            ax.set_ylabel("predicted response (s)")
        top = max(max(data["measured response (s)"]), max(data["predicted response (s)"])) * 1.05
        ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
    s = result.summary
    ax.set_title(
        f"{s['agent']}, {s['servers']} workers, {s['completed']}/{s['tasks']} tasks\n"
        f"MAPE {s['mape_pct']:.1f}%, p95 APE {s['p95_ape_pct']:.1f}%"
    )
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        plt.close(fig)


def write_report(result: LiveResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``live_report.csv`` (per task), ``live_summary.csv`` (one row) and ``live_fidelity.png``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": folder / "live_report.csv",
        "summary": folder / "live_summary.csv",
        "figure": folder / "live_fidelity.png",
    }
    _atomic_csv(paths["report"], REPORT_COLUMNS, [o.row for o in result.tasks])
    _atomic_csv(paths["summary"], tuple(result.summary), [result.summary])
    _figure(result, paths["figure"])
    return paths
