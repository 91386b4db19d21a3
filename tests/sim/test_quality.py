"""Tests for eat_bench.sim.quality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eat_bench.sim.quality import (
    QUALITY_MODELS,
    PaperQuality,
    PublishedQuality,
    QualityModel,
    get_quality_model,
)


# ----------------------------------------------------------------------------- paper
def test_paper_values_to_the_float() -> None:
    q = PaperQuality()
    assert q.quality("sd14", 0) == 0.0
    assert q.quality("sd14", 4) == 0.0
    assert q.quality("sd14", 5) == 0.16 * math.log(5) / math.log(6) - 0.02
    assert q.quality("sd14", 5) == pytest.approx(0.1237191, abs=1e-7)  # data: 0.1237
    assert q.quality("sd14", 6) == pytest.approx(0.14, abs=1e-15)
    # 0.16*ln(30)/ln(6) - 0.02 = 0.283719; the 0.2844 quoted in shared/data is off by 7e-4.
    assert q.quality("sd14", 30) == pytest.approx(0.2837191, abs=1e-7)
    assert q.quality("sd14", 31) == 0.27
    assert q.quality("sd14", 32) == 0.27
    assert q.quality("sd14", 1000) == 0.27
    assert q.quality("sd14", -3) == 0.0


def test_paper_real_variant_and_model_independence() -> None:
    real = PaperQuality(variant="real")
    assert real.quality("sd15", 31) == 0.25
    assert real.quality("sdxl", 30) == PaperQuality().quality("sd15", 30)
    assert PaperQuality().table("anything", 40) == PaperQuality().table("sdxl", 40)
    with pytest.raises(ValueError, match="simulation, real"):
        PaperQuality(variant="fast")


def test_paper_normalisation() -> None:
    q = PaperQuality()
    top = 0.16 * math.log(30) / math.log(6) - 0.02
    assert q.max_quality("sd14") == top
    assert q.normalized("sd14", 30) == 1.0
    assert q.normalized("sd14", 31) == pytest.approx(0.27 / top)
    assert q.normalized("sd14", 6) == pytest.approx(0.14 / top)
    assert all(0.0 <= v <= 1.0 for v in q.normalized_table("sd14", 64))


def test_steps_must_be_integers() -> None:
    for model in (PaperQuality(), PublishedQuality()):
        assert model.quality("sd15", np.int64(20)) == model.quality("sd15", 20)
        with pytest.raises(ValueError, match="steps must be an integer"):
            model.quality("sd15", 20.5)  # type: ignore[arg-type]


def test_table_index_is_steps() -> None:
    for model in (PaperQuality(), PublishedQuality()):
        table = model.table("sd15", 300)
        assert len(table) == 301
        assert table[0] == 0.0
        assert all(table[s] == model.quality("sd15", s) for s in (1, 5, 6, 25, 30, 31, 256, 257, 300))
        with pytest.raises(ValueError):
            model.table("sd15", -1)


# ----------------------------------------------------------------------------- published
# DDIM paper / DeepCache Table 6: CIFAR-10 FID by DDIM steps.
DDIM_FID = {10: 13.36, 20: 6.84, 50: 4.67}
# DPM-Solver abstract: CIFAR-10 FID by steps.
DPM_FID = {10: 4.70, 20: 2.87}
# DeepCache (arXiv 2312.00858) Table 3: SD1.5 CLIP score (ViT-g/14), PLMS.
CLIP = {"parti": {50: 29.51, 25: 29.33}, "coco": {50: 30.30, 25: 29.99}}


def _fit_exponent() -> float:
    """Solve FID(s) = F + a s^-p through the three DDIM points (bisection on p)."""
    target = (DDIM_FID[10] - DDIM_FID[20]) / (DDIM_FID[20] - DDIM_FID[50])

    def f(p: float) -> float:
        return (10**-p - 20**-p) / (20**-p - 50**-p) - target

    lo, hi = 0.1, 5.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if f(lo) * f(mid) <= 0 else (mid, hi)
    return (lo + hi) / 2


def test_published_constants_rederive_from_figures() -> None:
    p = _fit_exponent()
    a = (DDIM_FID[10] - DDIM_FID[20]) / (10**-p - 20**-p)
    f_inf = DDIM_FID[10] - a * 10**-p
    assert f_inf == pytest.approx(4.1360, abs=1e-4) and a == pytest.approx(543.53, abs=0.01)
    # DPM-Solver's two points with the same exponent imply a positive floor (consistency).
    dpm_floor = (DPM_FID[10] - DPM_FID[20] * 2**p) / (1 - 2**p)
    assert dpm_floor == pytest.approx(2.11, abs=0.01)
    q50 = (CLIP["parti"][50] + CLIP["coco"][50]) / 2
    q25 = (CLIP["parti"][25] + CLIP["coco"][25]) / 2
    c = (q50 - q25) / (25**-p - 50**-p)
    q_inf = q50 + c * 50**-p
    for model in ("sd15", "sdxl"):
        got = PublishedQuality.CONSTANTS[model]
        assert got == pytest.approx((q_inf, c, p), rel=1e-9)


def test_published_matches_clip_figures_within_tolerance() -> None:
    q = PublishedQuality()
    assert q.quality("sd15", 50) == pytest.approx(29.905, abs=1e-6)
    assert q.quality("sd15", 25) == pytest.approx(29.66, abs=1e-6)
    ratio = q.quality("sd15", 25) / q.quality("sd15", 50)
    for bench in CLIP.values():
        assert ratio == pytest.approx(bench[25] / bench[50], abs=0.005)
        for steps, score in bench.items():
            assert q.quality("sd15", steps) == pytest.approx(score, abs=0.5)


def test_published_curve_values() -> None:
    q = PublishedQuality()
    assert q.max_quality("sd15") == pytest.approx(30.0066069, abs=1e-6)
    assert q.quality("sd15", 0) == 0.0 and q.quality("sd15", -5) == 0.0
    assert q.quality("sd15", 1) == 0.0 and q.quality("sd15", 2) == 0.0
    assert q.quality("sd15", 3) > 0.0
    assert q.normalized("sd15", 10) == pytest.approx(0.9415, abs=1e-4)
    assert q.normalized("sd15", 20) == pytest.approx(0.9829, abs=1e-4)
    assert q.quality("sd14", 17) == q.quality("sd15", 17)
    assert q.normalized("sd15", 10**6) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="sd15, sdxl, sd14"):
        q.quality("dalle", 10)
    with pytest.raises(ValueError, match="no curve for model 'dalle'"):
        q.max_quality("dalle")


@given(
    st.sampled_from(["sd14", "sd15", "sdxl"]),
    st.integers(-10, 5000),
    st.integers(0, 5000),
)
def test_published_monotone_and_bounded(model: str, s: int, extra: int) -> None:
    q = get_quality_model("published")
    assert q.quality(model, s) <= q.quality(model, s + extra)
    assert 0.0 <= q.normalized(model, s) <= 1.0
    if s <= 0:
        assert q.quality(model, s) == 0.0


@given(st.integers(-10, 200))
def test_paper_normalized_bounded(s: int) -> None:
    for variant in ("simulation", "real"):
        assert 0.0 <= PaperQuality(variant).normalized("sd14", s) <= 1.0


# ----------------------------------------------------------------------------- registry
def test_registry() -> None:
    assert QUALITY_MODELS == ("paper", "published")
    for name in QUALITY_MODELS:
        model = get_quality_model(name)
        assert isinstance(model, QualityModel) and model.name == name
        assert get_quality_model(name) is model
    assert isinstance(get_quality_model("paper"), PaperQuality)
    assert get_quality_model("paper").variant == "simulation"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="available: paper, published"):
        get_quality_model("clip")
