"""Regenerate the shipped GPU profile traces in ``eat_bench/traces`` from published figures.

Usage::

    python scripts/build_traces.py            # rewrite the three CSVs
    python scripts/build_traces.py --check    # exit 1 if a shipped CSV differs from a rebuild
    python scripts/build_traces.py --out DIR  # write somewhere else

Every number below is a published figure (cited next to it) or a rule stated in
``eat_bench/traces/DATASHEET.md``; rows are written with ``write_trace`` (validated, atomic).
Per-GPU figures come from the GPU registry, ``eat_bench/sim/gpus.py`` (one entry per GPU
kind, each figure with its source); the figures shared by every GPU are constants here.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eat_bench.sim.gpus import GPUS, Figure, GpuKind, get_gpu  # noqa: E402
from eat_bench.sim.profiles import ProfileRow, write_trace  # noqa: E402

DEGREES: tuple[int, ...] = (1, 2, 4, 8)

# --- EAT paper (arXiv 2507.10026), simulator constants in the authors' code (zzf1955/EAT):
# seconds per denoising step and reload seconds per parallel degree; SD v1.4, 512x512.
EAT_SRC = "EAT paper (arXiv 2507.10026) code zzf1955/EAT simulator constants"
EAT_STEP_S = {1: 0.315, 2: 0.15625, 4: 0.14, 8: 0.1}
EAT_LOAD_S = {1: 24.0, 2: 24.0, 4: 32.0, 8: 30.0}

# --- DistriFusion (Li et al., "DistriFusion: Distributed Parallel Inference for
# High-Resolution Diffusion Models", CVPR 2024): SDXL, DDIM, A100 GPUs (NVLink), CFG 5.
DF_TABLE1 = "DistriFusion (Li et al. CVPR 2024) Table 1"
DF_FIG6 = "DistriFusion (Li et al. CVPR 2024) Figure 6"
# 50-step latency (s), keyed (side, degree); 1024 from Table 1, 2048/3840 from Figure 6.
DF_LATENCY_50 = {
    (1024, 1): 5.02, (1024, 2): 3.35, (1024, 4): 2.26, (1024, 8): 1.77,
    (2048, 1): 23.7, (2048, 2): 13.3, (2048, 4): 7.60, (2048, 8): 4.81,
    (3840, 1): 140.0, (3840, 2): 76.6, (3840, 4): 41.3, (3840, 8): 22.9,
}  # fmt: skip
# 25-step latency (s), Table 1.
DF_LATENCY_25 = {(1024, 1): 2.52, (1024, 8): 0.93}
# Published speed-ups over one A100 for SDXL 1024x1024, 50 steps (Table 1 / abstract).
DF_SPEEDUP = {1: 1.0, 2: 1.5, 4: 2.2, 8: 2.8}

# --- Single-GPU figures: per GPU in the registry (eat_bench/sim/gpus.py). DistriFusion ran on
# A100s, so the A100 is the reference that ratios of other GPUs' figures are taken against.
REFERENCE_GPU = "A100"
ASSUMED_STEPS_PER_IMAGE = 20  # AUTOMATIC1111 webui default, for sources that state neither steps nor size

# --- Resolution rule: latency grows as (pixels)^RES_EXPONENT, the exponent fitted to
# DistriFusion's single-A100 SDXL latencies at 1024^2 and 2048^2 (Figure 6 / Table 1).
RES_EXPONENT = math.log(DF_LATENCY_50[(2048, 1)] / DF_LATENCY_50[(1024, 1)]) / math.log(4.0)

# --- Cold start.
COLD_BASE_S = EAT_LOAD_S[1]  # EAT: 1-GPU reload of SD1.4 (same size as SD1.5)
COLD_DEGREE_FACTOR = {k: EAT_LOAD_S[k] / EAT_LOAD_S[1] for k in DEGREES}
# Parameter counts in millions (SDXL paper, Podell et al. 2023, Table 1; shared 84M VAE):
# SD1.5 = 860 UNet + 123 text encoder + 84 VAE; SDXL = 2600 UNet + 817 text encoders + 84 VAE.
PARAMS_M = {"sd15": 860 + 123 + 84, "sdxl": 2600 + 817 + 84}
SDXL_LOAD_RATIO = PARAMS_M["sdxl"] / PARAMS_M["sd15"]

EDGE_GPUS: tuple[str, ...] = tuple(gpu.name for gpu in GPUS if gpu.in_edge_mixed)
EDGE_CLASSES: tuple[tuple[str, int], ...] = (("sd15", 512), ("sd15", 768), ("sdxl", 1024))


def sig(x: float, digits: int = 6) -> float:
    """Round to ``digits`` significant digits (keeps the CSVs short and stable)."""
    return float(f"{x:.{digits}g}")


def load_s(gpu: str, model: str, degree: int) -> tuple[float, str]:
    """Cold-start seconds (to 0.1 s) and a note stating the rule (DATASHEET.md, 'Cold start')."""
    cold = get_gpu(gpu).sd15_cold_load_s
    if cold is not None:
        base, why = cold.value, f"{gpu} SD1.5 {cold.value:g} s ({cold.source})"
    else:
        base, why = COLD_BASE_S, f"EAT 1-GPU reload {COLD_BASE_S:g} s"
    if model == "sdxl":
        base *= SDXL_LOAD_RATIO
        why += f" x params {PARAMS_M['sdxl']}M/{PARAMS_M['sd15']}M"
    factor = COLD_DEGREE_FACTOR[degree]
    if factor != 1.0:
        why += f" x EAT degree factor {EAT_LOAD_S[degree]:g}/{EAT_LOAD_S[1]:g}"
    return round(base * factor, 1), "load: " + why


# ----------------------------------------------------------------------------- eat-paper
def eat_paper_rows() -> list[ProfileRow]:
    """The paper's constants: one unnamed GPU, SD1.4 at 512x512, degrees 1-8."""
    return [
        ProfileRow(
            gpu="paper-gpu", model="sd14", width=512, height=512, degree=k,
            step_s=EAT_STEP_S[k], overhead_s=0.0, load_s=EAT_LOAD_S[k], kind="published",
            source=EAT_SRC, note="per-step and reload constants as published; no fixed overhead",
        )
        for k in DEGREES
    ]  # fmt: skip


# ----------------------------------------------------------------------------- a100-distrifusion
def distrifusion_a100() -> dict[tuple[int, int], tuple[float, float, str, str, str]]:
    """(side, degree) -> (step_s, overhead_s, kind, source, note) for SDXL on A100."""
    out: dict[tuple[int, int], tuple[float, float, str, str, str]] = {}
    overhead_1024: dict[int, float] = {}
    for k in (1, 8):  # two step counts: solve latency = overhead + steps * step exactly
        l50, l25 = DF_LATENCY_50[(1024, k)], DF_LATENCY_25[(1024, k)]
        step = (l50 - l25) / 25.0
        overhead_1024[k] = l50 - 50.0 * step
        note = f"solved from 50-step {l50:g} s and 25-step {l25:g} s latencies"
        out[(1024, k)] = (step, overhead_1024[k], "published", DF_TABLE1, note)
    for k in (2, 4):  # overhead interpolated linearly in log2(degree) between degrees 1 and 8
        t = math.log2(k) / 3.0
        overhead_1024[k] = overhead_1024[1] + t * (overhead_1024[8] - overhead_1024[1])
        l50 = DF_LATENCY_50[(1024, k)]
        note = f"50-step {l50:g} s; overhead interpolated in log2(degree) between degrees 1 and 8"
        out[(1024, k)] = ((l50 - overhead_1024[k]) / 50.0, overhead_1024[k], "derived", DF_TABLE1, note)
    for side in (2048, 3840):  # overhead scaled by pixel count from 1024 at the same degree
        scale = (side / 1024) ** 2
        for k in DEGREES:
            overhead = overhead_1024[k] * scale
            l50 = DF_LATENCY_50[(side, k)]
            note = f"50-step {l50:g} s; overhead = 1024x1024 overhead x pixel ratio {scale:g}"
            out[(side, k)] = ((l50 - overhead) / 50.0, overhead, "derived", DF_FIG6, note)
    return out


def a100_distrifusion_rows() -> list[ProfileRow]:
    """SDXL on A100 at 1024/2048/3840 squared, degrees 1-8, from DistriFusion."""
    rows = []
    for (side, k), (step, overhead, kind, source, note) in sorted(distrifusion_a100().items()):
        load, load_note = load_s("A100", "sdxl", k)
        rows.append(
            ProfileRow(
                gpu="A100", model="sdxl", width=side, height=side, degree=k,
                step_s=sig(step), overhead_s=sig(overhead), load_s=load, kind=kind,
                source=source, note=f"{note}; {load_note}",
            )
        )  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- edge-mixed
def _ratio_figure(gpu: GpuKind, ref: GpuKind, field: str) -> tuple[Figure, Figure] | None:
    """``gpu``'s and the reference GPU's figure ``field`` when both exist and share a source, else None."""
    mine, theirs = getattr(gpu, field), getattr(ref, field)
    if mine is None or theirs is None:
        return None
    if mine.source != theirs.source:
        raise ValueError(f"{gpu.name}.{field} and {ref.name}.{field} must come from the same source for a ratio")
    return mine, theirs


def sd15_512_row(gpu: GpuKind, ref_step: float | None) -> tuple[float, float, str, str, str]:
    """(step_s, overhead_s, kind, source, note) for SD1.5 512x512 at degree 1: the first rule whose figures exist."""
    ref = get_gpu(REFERENCE_GPU)
    if gpu.sd15_it_s is not None:  # overhead 0: the diffusers table times the denoising loop only
        its = gpu.sd15_it_s.value
        return 1.0 / its, 0.0, "published", gpu.sd15_it_s.source, f"step = 1/{its:g} it/s"
    pair = _ratio_figure(gpu, ref, "sd15_50_steps_s")
    if pair is not None and ref_step is not None:
        mine, theirs = pair
        note = f"{ref.name} step (diffusers) x {gpu.name}/{ref.name} 50-step latency {mine.value:g}/{theirs.value:g}"
        return ref_step * (mine.value / theirs.value), 0.0, "derived", mine.source, note
    if gpu.sd15_image_s is not None:
        per_image = gpu.sd15_image_s.value
        note = f"{per_image:g} s per image / {ASSUMED_STEPS_PER_IMAGE} assumed steps at assumed 512x512"
        return per_image / ASSUMED_STEPS_PER_IMAGE, 0.0, "derived", gpu.sd15_image_s.source, note
    raise ValueError(f"GPU {gpu.name!r} is in edge-mixed but has no SD1.5 figure in eat_bench/sim/gpus.py")


def sdxl_1024_row(
    gpu: GpuKind, sd15: tuple[float, float, str, str, str], ref_sd15_step: float
) -> tuple[float, float, str, str, str]:
    """(step_s, overhead_s, kind, source, note) for SDXL 1024x1024 at degree 1: the first rule that applies."""
    ref = get_gpu(REFERENCE_GPU)
    df = distrifusion_a100()
    ref_step, ref_over, _, _, ref_note = df[(1024, 1)]
    if gpu.name == REFERENCE_GPU:
        return ref_step, ref_over, "published", DF_TABLE1, ref_note
    pair = _ratio_figure(gpu, ref, "sdxl_30_steps_s")
    if pair is not None:
        mine, theirs = pair
        r = mine.value / theirs.value
        note = (
            f"{ref.name} SDXL row (DistriFusion) x {gpu.name}/{ref.name} 30-step latency "
            f"{mine.value:g}/{theirs.value:g}"
        )
        return ref_step * r, ref_over * r, "derived", mine.source, note
    if gpu.sdxl_image_s is not None:
        per_image = gpu.sdxl_image_s.value
        note = f"{per_image:g} s per image / {ASSUMED_STEPS_PER_IMAGE} assumed steps at assumed 1024x1024"
        return per_image / ASSUMED_STEPS_PER_IMAGE, 0.0, "derived", gpu.sdxl_image_s.source, note
    # Otherwise the reference's SDXL row x this GPU's SD1.5 step ratio to the reference.
    r = sd15[0] / ref_sd15_step
    note = f"{ref.name} SDXL row x {gpu.name}/{ref.name} SD1.5 step ratio {r:.4f}"
    return ref_step * r, ref_over * r, "derived", f"{sd15[3]}; {DF_TABLE1}", note


def edge_single_gpu() -> dict[tuple[str, str, int], tuple[float, float, str, str, str]]:
    """(gpu, model, side) -> (step_s, overhead_s, kind, source, note) at degree 1."""
    out: dict[tuple[str, str, int], tuple[float, float, str, str, str]] = {}
    ref_sd15 = sd15_512_row(get_gpu(REFERENCE_GPU), ref_step=None)  # the reference's own figure
    f768 = (768 * 768 / (512 * 512)) ** RES_EXPONENT
    for name in EDGE_GPUS:
        gpu = get_gpu(name)
        sd15 = sd15_512_row(gpu, ref_sd15[0])
        out[(name, "sd15", 512)] = sd15
        out[(name, "sdxl", 1024)] = sdxl_1024_row(gpu, sd15, ref_sd15[0])
        # SD1.5 768: the 512 row x (pixel ratio)^RES_EXPONENT.
        step, over, _, source, _ = sd15
        out[(name, "sd15", 768)] = (
            step * f768, over * f768, "derived", f"{source}; {DF_FIG6}",
            f"512x512 row x 2.25^{RES_EXPONENT:.4f} = x{f768:.4f} (pixel-count rule)",
        )  # fmt: skip
    return out


def edge_mixed_rows() -> list[ProfileRow]:
    """6 GPUs x (sd15 512, sd15 768, sdxl 1024) x degrees 1, 2, 4, 8 = 72 rows."""
    single = edge_single_gpu()
    df = distrifusion_a100()
    rows = []
    for gpu in EDGE_GPUS:
        for model, side in EDGE_CLASSES:
            step1, over1, kind1, source1, note1 = single[(gpu, model, side)]
            for k in DEGREES:
                if k == 1:
                    step, over, kind, source, note = step1, over1, kind1, source1, note1
                elif (gpu, model, side) == ("A100", "sdxl", 1024):
                    step, over, kind, source, note = df[(1024, k)]  # DistriFusion's own rows
                else:
                    s = DF_SPEEDUP[k]
                    step, over, kind = step1 / s, over1 / s, "derived"
                    source = f"{source1}; {DF_TABLE1}"
                    note = f"degree-1 row / DistriFusion speed-up {s:g} at degree {k}"
                load, load_note = load_s(gpu, model, k)
                rows.append(
                    ProfileRow(
                        gpu=gpu, model=model, width=side, height=side, degree=k,
                        step_s=sig(step), overhead_s=sig(over), load_s=load, kind=kind,
                        source=source, note=f"{note}; {load_note}",
                    )
                )  # fmt: skip
    return rows


def build_all() -> dict[str, list[ProfileRow]]:
    """Trace name -> rows, for every shipped trace."""
    return {
        "eat-paper": eat_paper_rows(),
        "a100-distrifusion": a100_distrifusion_rows(),
        "edge-mixed": edge_mixed_rows(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "eat_bench" / "traces")
    parser.add_argument("--check", action="store_true", help="compare with the shipped CSVs; write nothing")
    args = parser.parse_args(argv)
    traces = build_all()
    if args.check:
        stale = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, rows in traces.items():
                fresh = Path(tmp) / f"{name}.csv"
                write_trace(fresh, rows, name=name)
                shipped = args.out / f"{name}.csv"
                if not shipped.is_file() or shipped.read_bytes() != fresh.read_bytes():
                    stale.append(str(shipped))
        for path in stale:
            print(f"stale: {path} (run python scripts/build_traces.py)")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in traces.items():
        write_trace(args.out / f"{name}.csv", rows, name=name)
        print(f"wrote {args.out / (name + '.csv')}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
