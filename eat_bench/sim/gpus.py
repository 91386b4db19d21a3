"""The GPU registry: every GPU kind eat-bench knows, in one place.

A trace row's ``gpu`` must be a name listed here (:data:`eat_bench.sim.profiles.KNOWN_GPUS`
is derived from :data:`GPUS`). Each :class:`GpuKind` also carries the published per-GPU
figures that ``scripts/build_traces.py`` turns into the shipped traces, each with the
source it is cited from (the text that lands in the trace's ``source`` column); figures
shared by all GPUs (DistriFusion's speed-ups, the EAT paper's constants) stay in the
script. ``docs/contributing.md`` ("Add a GPU kind") lists the steps to add one.

Pure Python: importing this module imports nothing outside the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Figure",
    "GpuKind",
    "GPUS",
    "GPUS_BY_NAME",
    "get_gpu",
    "match_device_name",
    "DIFFUSERS_TORCH2_SRC",
    "SD_BENCHMARKS_SRC",
    "SAI_TENSORRT_SRC",
    "JETSON_PLAYGROUND_SRC",
    "DIFFUSERS_2852_SRC",
]

# Citations, as written into the traces' ``source`` column (full references: DATASHEET.md, "Sources").
DIFFUSERS_TORCH2_SRC = "diffusers docs optimization/torch2.0 (SD1.5 fp16 batch 1; eager it/s)"
SD_BENCHMARKS_SRC = "alexeigor/sd-benchmarks README (SD1.5 512x512 50 steps; PyTorch 2.0)"
SAI_TENSORRT_SRC = "stabilityai/stable-diffusion-xl-1.0-tensorrt model card (30 steps 1024x1024; baseline)"
JETSON_PLAYGROUND_SRC = "NVIDIA-AI-IOT jetson-generative-ai-playground benchmarks (seconds per image)"
DIFFUSERS_2852_SRC = "diffusers issue 2852"


@dataclass(frozen=True)
class Figure:
    """One published number and where it comes from (``source`` is the trace's citation text)."""

    value: float
    source: str

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise ValueError(f"Figure.value must be > 0, got {self.value!r}")
        if not self.source.strip():
            raise ValueError("Figure.source is empty: cite where the number comes from")


@dataclass(frozen=True)
class GpuKind:
    """A GPU kind: its trace name, a one-line description, and its published speed figures.

    Every figure is optional; ``scripts/build_traces.py`` uses the first rule whose figures
    exist (DATASHEET.md, trace ``edge-mixed``). The figures:

    * ``sd15_it_s``: SD 1.5, 512x512, fp16, batch 1, denoising iterations per second.
    * ``sd15_50_steps_s``: seconds for a 50-step SD 1.5 512x512 image (a ratio to the
      A100's figure from the same source gives the step time).
    * ``sdxl_30_steps_s``: seconds for a 30-step SDXL 1024x1024 image (ratio to the A100's).
    * ``sd15_image_s`` / ``sdxl_image_s``: seconds per image when the source states
      neither steps nor resolution (the script assumes 20 steps).
    * ``sd15_cold_load_s``: seconds of a first SD 1.5 load on this GPU; without it the
      cold start is the EAT paper's 24 s.

    ``in_edge_mixed`` puts the GPU into the ``edge-mixed`` trace (it then needs an SD 1.5
    figure). ``device_pattern`` is a substring of the device name that CUDA reports
    (``torch.cuda.get_device_name``), for telling which kind a recording ran on.
    """

    name: str
    description: str
    sd15_it_s: Figure | None = None
    sd15_50_steps_s: Figure | None = None
    sdxl_30_steps_s: Figure | None = None
    sd15_image_s: Figure | None = None
    sdxl_image_s: Figure | None = None
    sd15_cold_load_s: Figure | None = None
    in_edge_mixed: bool = False
    device_pattern: str | None = None

    def __post_init__(self) -> None:
        if not self.name or "," in self.name or self.name != self.name.strip():
            raise ValueError(f"GpuKind.name must be a non-empty CSV-safe name, got {self.name!r}")
        if not self.description.strip():
            raise ValueError(f"GpuKind {self.name!r}: the description is empty")


GPUS: tuple[GpuKind, ...] = (
    GpuKind(
        "T4",
        "NVIDIA T4: Turing, 16 GB GDDR6, 70 W data-centre inference card",
        sd15_it_s=Figure(6.9, DIFFUSERS_TORCH2_SRC),
        sd15_cold_load_s=Figure(40.0, DIFFUSERS_2852_SRC),  # first load of SD 1.5 on a T4
        in_edge_mixed=True,
        device_pattern="T4",
    ),
    GpuKind(
        "V100",
        "NVIDIA V100: Volta, 16/32 GB HBM2",
        sd15_it_s=Figure(18.99, DIFFUSERS_TORCH2_SRC),  # not in any shipped trace
        device_pattern="V100",
    ),
    GpuKind("A10", "NVIDIA A10: Ampere, 24 GB GDDR6, 150 W", device_pattern="A10"),
    GpuKind(
        "RTX3090",
        "NVIDIA GeForce RTX 3090: Ampere, 24 GB GDDR6X, consumer card",
        sd15_it_s=Figure(22.56, DIFFUSERS_TORCH2_SRC),
        in_edge_mixed=True,
        device_pattern="3090",
    ),
    GpuKind(
        "RTX4090",
        "NVIDIA GeForce RTX 4090: Ada Lovelace, 24 GB GDDR6X, consumer card",
        sd15_it_s=Figure(40.5, DIFFUSERS_TORCH2_SRC),
        in_edge_mixed=True,
        device_pattern="4090",
    ),
    GpuKind(
        "A100",
        "NVIDIA A100: Ampere, 40/80 GB HBM2e, NVLink",
        sd15_it_s=Figure(21.66, DIFFUSERS_TORCH2_SRC),
        sd15_50_steps_s=Figure(1.96, SD_BENCHMARKS_SRC),  # A100-40GB
        sdxl_30_steps_s=Figure(3.704, SAI_TENSORRT_SRC),
        in_edge_mixed=True,
        device_pattern="A100",
    ),
    GpuKind(
        "H100",
        "NVIDIA H100: Hopper, 80 GB HBM3 (SXM) or HBM2e (PCIe)",
        sd15_50_steps_s=Figure(1.44, SD_BENCHMARKS_SRC),  # H100-PCIe
        sdxl_30_steps_s=Figure(2.496, SAI_TENSORRT_SRC),
        in_edge_mixed=True,
        device_pattern="H100",
    ),
    GpuKind("H200", "NVIDIA H200: Hopper, 141 GB HBM3e", device_pattern="H200"),
    GpuKind(
        "Jetson-AGX-Orin",
        "NVIDIA Jetson AGX Orin: embedded Ampere iGPU, 32/64 GB shared LPDDR5",
        sd15_image_s=Figure(2.2, JETSON_PLAYGROUND_SRC),
        sdxl_image_s=Figure(23.1, JETSON_PLAYGROUND_SRC),
        in_edge_mixed=True,
        device_pattern="Orin",
    ),
    GpuKind("paper-gpu", "the GPU of the EAT paper's testbed (arXiv 2507.10026); the authors do not name it"),
    GpuKind(
        "CPU",
        "a host CPU (no GPU): eat-bench profile / live on the tiny model; see the row's note for the processor",
    ),
)
"""Every GPU kind, in the order listings and the ``edge-mixed`` trace use."""

GPUS_BY_NAME: dict[str, GpuKind] = {gpu.name: gpu for gpu in GPUS}
if len(GPUS_BY_NAME) != len(GPUS):
    raise RuntimeError("eat_bench.sim.gpus.GPUS lists a GPU name twice")


def get_gpu(name: str) -> GpuKind:
    """The registry entry for ``name``; ``KeyError`` listing the known names if absent."""
    try:
        return GPUS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown GPU {name!r}; known GPUs: {', '.join(GPUS_BY_NAME)}") from None


def match_device_name(device_name: str) -> str | None:
    """The GPU kind whose ``device_pattern`` occurs in ``device_name`` (case-insensitive), else None.

    Longer patterns are tried first, so ``"NVIDIA A100-SXM4-80GB"`` is an A100, not an A10.
    """
    candidates = sorted((g for g in GPUS if g.device_pattern), key=lambda g: -len(g.device_pattern or ""))
    for gpu in candidates:
        if (gpu.device_pattern or "").lower() in device_name.lower():
            return gpu.name
    return None
