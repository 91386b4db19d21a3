"""``eat-bench profile``: time real diffusion components on this machine and write a ``measured`` trace.

For each model it (1) writes random weights to a temporary pipeline folder, unless ``weights``
names a local one (never a hub download), (2) times the cold start: loading every component
from that folder onto the device (``load_s``; the files are in the OS page cache after the
first read, as on a server that reloads a model it has on local disk), (3) per resolution, warms
up, then times ``repeats`` runs of ``steps`` UNet steps (CUDA events on a GPU,
``perf_counter`` on the CPU; classifier-free guidance, batch 2) and the fixed overhead
(text encoding and VAE decode). ``step_s`` is the median per-step time over the repeats,
``overhead_s`` the median overhead; the spread (min-max over repeats) goes into ``note``.

Degree > 1 rows are either left out (``parallel="none"``) or ``derived`` from the degree-1
row with DistriFusion's published SDXL speed-ups (as in ``edge-mixed``); measuring patch
parallelism with torch.distributed is not implemented (``parallel="measure"`` says so).
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eat_bench.profiling import ProfileError
from eat_bench.profiling.models import DiffusionWorkload, get_model, has_text_encoders, save_random_weights
from eat_bench.sim.profiles import KNOWN_GPUS, ProfileRow, load_trace, write_trace

__all__ = [
    "RecordSpec",
    "record_trace",
    "profile_to_csv",
    "merge_rows",
    "parse_resolutions",
    "trace_gpu_name",
    "device_description",
    "DTYPES",
    "PARALLEL_MODES",
]

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PARALLEL_MODES = ("none", "derived", "measure")

# DistriFusion (Li et al., CVPR 2024) Table 1: SDXL 1024x1024 speed-ups over one A100, and EAT's
# reload-time factor per degree (arXiv 2507.10026, 24/24/32/30 s); the same rules as edge-mixed
# (eat_bench/traces/DATASHEET.md).
DISTRIFUSION_SPEEDUP = {2: 1.5, 4: 2.2, 8: 2.8}
EAT_LOAD_FACTOR = {2: 1.0, 4: 32 / 24, 8: 30 / 24}
_DERIVED_SOURCE = "eat-bench profile; DistriFusion (Li et al. CVPR 2024) Table 1"

# Substrings of a CUDA device name -> the trace's GPU kind; first match wins (A100 before A10).
_GPU_PATTERNS: tuple[tuple[str, str], ...] = (
    ("H200", "H200"),
    ("H100", "H100"),
    ("A100", "A100"),
    ("A10", "A10"),
    ("V100", "V100"),
    ("T4", "T4"),
    ("4090", "RTX4090"),
    ("3090", "RTX3090"),
    ("Orin", "Jetson-AGX-Orin"),
)


@dataclass(frozen=True)
class RecordSpec:
    """What to record. ``dtype=None`` picks float16 on CUDA and float32 on the CPU."""

    models: tuple[str, ...]
    resolutions: tuple[tuple[int, int], ...]
    steps: int = 20
    device: str = "cpu"
    dtype: str | None = None
    repeats: int = 5
    warmup: int = 2
    load_repeats: int = 3
    weights: str | None = None
    """A local diffusers pipeline folder (one model only); None: random weights."""
    gpu_name: str | None = None
    """The trace's GPU kind; None: from the device name (CPU -> ``CPU``)."""
    degrees: tuple[int, ...] = (1,)
    parallel: str = "derived"
    threads: int | None = None
    """torch intra-op threads (None: torch's default)."""
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`ProfileError` saying which field is wrong and why."""
        if not self.models:
            raise ProfileError("--model: name at least one model")
        for name in self.models:
            try:
                get_model(name)
            except ValueError as err:
                raise ProfileError(f"--model: {err}") from None
        if not self.resolutions:
            raise ProfileError("--resolutions: give at least one resolution")
        for width, height in self.resolutions:
            for name in self.models:
                try:
                    get_model(name).latent_shape(width, height)
                except ValueError as err:
                    raise ProfileError(f"--resolutions: {err}") from None
        for label, value, low in (("steps", self.steps, 1), ("repeats", self.repeats, 1), ("warmup", self.warmup, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ProfileError(f"--{label} must be an integer >= {low}, got {value!r}")
        if isinstance(self.load_repeats, bool) or not isinstance(self.load_repeats, int) or self.load_repeats < 1:
            raise ProfileError(f"--load-repeats must be an integer >= 1, got {self.load_repeats!r}")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ProfileError(f"--device must be 'cpu' or 'cuda' (or 'cuda:N'), got {self.device!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ProfileError(
                f"--device {self.device}: CUDA is not available to torch {torch.__version__} on this machine "
                "(no GPU, or a CPU-only torch build); use --device cpu"
            )
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ProfileError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.weights is not None:
            if len(self.models) != 1:
                raise ProfileError("--weights: give exactly one --model with a weights folder")
            if not Path(self.weights).is_dir():
                raise ProfileError(f"--weights: no such folder {self.weights!r} (a local diffusers pipeline folder)")
        if self.gpu_name is not None and self.gpu_name not in KNOWN_GPUS:
            raise ProfileError(f"--gpu-name: unknown GPU {self.gpu_name!r}; known GPUs: {', '.join(KNOWN_GPUS)}")
        if self.parallel not in PARALLEL_MODES:
            raise ProfileError(f"--parallel must be one of {', '.join(PARALLEL_MODES)}, got {self.parallel!r}")
        for k in self.degrees:
            if k != 1 and k not in DISTRIFUSION_SPEEDUP:
                raise ProfileError(f"--degrees: {k} is not one of 1, 2, 4, 8")
        if any(k > 1 for k in self.degrees):
            if self.parallel == "measure":
                raise ProfileError(
                    "--parallel measure: measured patch-parallel steps (torch.distributed) are not implemented yet; "
                    "use --parallel derived (DistriFusion's published scaling) or --parallel none"
                )
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ProfileError(f"--threads must be a positive integer, got {self.threads!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        if self.dtype is not None:
            return DTYPES[self.dtype]
        return torch.float16 if self.device.startswith("cuda") else torch.float32


def parse_resolutions(text: str) -> tuple[tuple[int, int], ...]:
    """``"512,768x512"`` -> ((512, 512), (768, 512)): a side alone means a square."""
    out = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        parts = item.split("x")
        try:
            sides = [int(p) for p in parts]
        except ValueError:
            raise ProfileError(f"--resolutions: {item!r} is not a side (512) or WIDTHxHEIGHT (768x512)") from None
        if len(sides) not in (1, 2) or any(s <= 0 for s in sides):
            raise ProfileError(f"--resolutions: {item!r} is not a side (512) or WIDTHxHEIGHT (768x512)")
        out.append((sides[0], sides[-1]))
    if not out:
        raise ProfileError(f"--resolutions: no resolution in {text!r}")
    return tuple(dict.fromkeys(out))


def device_description(device: str) -> str:
    """A human-readable name of the device (the CUDA device name, or the CPU model)."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def trace_gpu_name(device: str, description: str, override: str | None = None) -> str:
    """The GPU kind a trace row names: ``override``, ``CPU`` for the CPU, else matched from the name."""
    if override is not None:
        return override
    if not device.startswith("cuda"):
        return "CPU"
    for pattern, kind in _GPU_PATTERNS:
        if pattern.lower() in description.lower() and kind in KNOWN_GPUS:
            return kind
    raise ProfileError(
        f"the GPU {description!r} is not a known GPU kind ({', '.join(KNOWN_GPUS)}); pass --gpu-name with the "
        "closest known kind, or add an entry for it to KNOWN_GPUS in eat_bench/sim/profiles.py"
    )


class _Timer:
    """Elapsed seconds of device work: CUDA events on a GPU, perf_counter after a sync elsewhere."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __enter__(self) -> _Timer:
        if self.cuda:
            self._start, self._end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            self._end.record()
            self._end.synchronize()
            self.seconds = self._start.elapsed_time(self._end) / 1000.0
        else:
            self.seconds = time.perf_counter() - self._t0


def _sig(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def _spread(values: Sequence[float]) -> str:
    return f"median {_sig(statistics.median(values), 4)} min {_sig(min(values), 4)} max {_sig(max(values), 4)} s"


def _versions() -> str:
    import diffusers

    parts = [f"torch {torch.__version__}", f"diffusers {diffusers.__version__}"]
    try:
        import transformers

        parts.append(f"transformers {transformers.__version__}")
    except ImportError:
        pass
    return ", ".join(parts)


def _progress(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr, or a no-op when tqdm is missing or progress is off."""
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc="eat-bench profile", unit="run", leave=False)
        except ImportError:
            pass

    class _Null:
        def update(self, n: int = 1) -> None: ...
        def set_postfix_str(self, s: str) -> None: ...
        def close(self) -> None: ...

    return _Null()


def _record_model(
    spec: RecordSpec,
    model: str,
    weights: Path,
    gpu: str,
    header: str,
    bar: Any,
) -> list[ProfileRow]:
    arch = get_model(model)
    device = torch.device(spec.device)
    work = DiffusionWorkload(arch, spec.device, spec.torch_dtype)
    loads = []
    for _ in range(spec.load_repeats):
        bar.set_postfix_str(f"{model} load")
        loads.append(work.load(weights))
        bar.update()
    load_s = statistics.median(loads)
    text = "text encode + " if work.text_encoders else ""
    rows = []
    for width, height in spec.resolutions:
        bar.set_postfix_str(f"{model} {width}x{height}")
        inputs = work.prepare(width, height, spec.seed)
        cond = work.encode_text(inputs)
        latents = inputs["latents"]
        for i in range(spec.warmup):
            latents = work.step(latents, cond, i, spec.steps)
            work.decode(latents)
            bar.update()
        per_step, overheads = [], []
        for _ in range(spec.repeats):
            latents = inputs["latents"]
            with _Timer(device) as steps_timer:
                for i in range(spec.steps):
                    latents = work.step(latents, cond, i, spec.steps)
            with _Timer(device) as fixed_timer:
                work.encode_text(inputs)
                work.decode(latents)
            per_step.append(steps_timer.seconds / spec.steps)
            overheads.append(fixed_timer.seconds)
            bar.update()
        note = (
            f"{header}; {spec.repeats} repeats x {spec.steps} steps after {spec.warmup} warm-up steps; "
            f"step {_spread(per_step)}; overhead ({text}VAE decode) {_spread(overheads)}; "
            f"load (from_pretrained from local disk, page-cached, to device; {spec.load_repeats} loads) "
            f"{_spread(loads)}"
        )
        rows.append(
            ProfileRow(
                gpu=gpu,
                model=model,
                width=width,
                height=height,
                degree=1,
                step_s=_sig(statistics.median(per_step)),
                overhead_s=_sig(statistics.median(overheads)),
                load_s=_sig(load_s),
                kind="measured",
                source=f"eat-bench profile ({'random weights' if spec.weights is None else 'local weights'})",
                note=note,
            )
        )
    work.unload()
    return rows


def _derived_rows(rows: Sequence[ProfileRow], degrees: Sequence[int]) -> list[ProfileRow]:
    out = []
    for row in rows:
        for k in degrees:
            if k == 1:
                continue
            s = DISTRIFUSION_SPEEDUP[k]
            out.append(
                ProfileRow(
                    gpu=row.gpu,
                    model=row.model,
                    width=row.width,
                    height=row.height,
                    degree=k,
                    step_s=_sig(row.step_s / s),
                    overhead_s=_sig(row.overhead_s / s),
                    load_s=_sig(row.load_s * EAT_LOAD_FACTOR[k]),
                    kind="derived",
                    source=_DERIVED_SOURCE,
                    note=(
                        f"measured degree-1 row / DistriFusion speed-up {s} at degree {k}; "
                        f"load x EAT degree factor {EAT_LOAD_FACTOR[k]:.4g}"
                    ),
                )
            )
    return out


def record_trace(spec: RecordSpec, progress: bool = True) -> tuple[ProfileRow, ...]:
    """Time every (model, resolution) of ``spec`` on its device; the trace rows (degree 1 first)."""
    spec.validate()
    if spec.threads is not None:
        torch.set_num_threads(spec.threads)
    description = device_description(spec.device)
    gpu = trace_gpu_name(spec.device, description, spec.gpu_name)
    dtype_name = str(spec.torch_dtype).removeprefix("torch.")
    header = (
        f"device {description}; dtype {dtype_name}; {_versions()}; torch threads {torch.get_num_threads()}; "
        f"date {datetime.date.today().isoformat()}"
    )
    per_model = spec.load_repeats + len(spec.resolutions) * (spec.warmup + spec.repeats)
    bar = _progress(per_model * len(spec.models), progress)
    rows: list[ProfileRow] = []
    try:
        for model in spec.models:
            torch.manual_seed(spec.seed)
            if spec.weights is not None:
                rows += _record_model(spec, model, Path(spec.weights), gpu, header, bar)
            else:
                with tempfile.TemporaryDirectory(prefix=f"eat-bench-{model}-") as tmp:
                    weights = save_random_weights(get_model(model), tmp, spec.seed)
                    extra = (
                        ""
                        if has_text_encoders(get_model(model)) or not get_model(model).text_encoders
                        else ("; no text encoder (transformers not installed)")
                    )
                    rows += _record_model(spec, model, weights, gpu, header + "; random weights" + extra, bar)
    finally:
        bar.close()
    if spec.parallel == "derived":
        rows += _derived_rows(rows, spec.degrees)
    return tuple(rows)


def merge_rows(measured: Sequence[ProfileRow], base: str | os.PathLike[str]) -> tuple[ProfileRow, ...]:
    """``measured`` then every row of trace ``base`` (a shipped name or a CSV) whose key is not measured."""
    keys = {row.key for row in measured}
    return (*measured, *(row for row in load_trace(base).rows if row.key not in keys))


def profile_to_csv(
    spec: RecordSpec,
    out: str | os.PathLike[str],
    merge_into: str | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> tuple[ProfileRow, ...]:
    """Record ``spec``, optionally merge into a base trace, write ``out`` atomically; the rows written."""
    target = Path(out)
    if target.parent != Path("") and not target.parent.is_dir():
        raise ProfileError(f"--out: folder {str(target.parent)!r} does not exist")
    if merge_into is not None:
        try:
            load_trace(merge_into)
        except ValueError as err:
            raise ProfileError(f"--merge-into: {err}") from None
    rows = record_trace(spec, progress)
    if merge_into is not None:
        rows = merge_rows(rows, merge_into)
    write_trace(target, rows)
    if echo is not None:
        for row in rows:
            if row.kind == "measured":
                echo(
                    f"{row.gpu} {row.model} {row.width}x{row.height}: step {row.step_s * 1e3:.3f} ms, "
                    f"overhead {row.overhead_s * 1e3:.3f} ms, load {row.load_s:.3f} s"
                )
        echo(f"wrote {len(rows)} rows to {target}")
    return rows
