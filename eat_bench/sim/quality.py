"""Image quality as a function of the number of denoising steps.

Two models, chosen by name with :func:`get_quality_model`:

* ``paper``: the EAT paper's reward curve (SEED_MODEL.md), model-independent.
* ``published``: a per-model curve fitted to published CLIP-score and FID figures.

Calls are cheap (a tuple index for common step counts); :meth:`QualityModel.table` gives a
whole curve at once for callers that cache. Steps must be integers; ``steps <= 0`` gives 0.
"""

from __future__ import annotations

import functools
import math
import operator
from abc import ABC, abstractmethod

__all__ = [
    "QualityModel",
    "PaperQuality",
    "PublishedQuality",
    "QUALITY_MODELS",
    "get_quality_model",
]

QUALITY_MODELS: tuple[str, ...] = ("paper", "published")


def _as_steps(steps: int) -> int:
    """``steps`` as a Python int (numpy integers accepted); ValueError for non-integers."""
    try:
        return operator.index(steps)
    except TypeError:
        raise ValueError(f"steps must be an integer, got {steps!r}") from None


class QualityModel(ABC):
    """Quality of an image after ``steps`` denoising steps, per diffusion model."""

    name: str = ""

    @abstractmethod
    def quality(self, model: str, steps: int) -> float:
        """Quality on the model's own raw scale."""

    @abstractmethod
    def max_quality(self, model: str) -> float:
        """The largest quality this model reaches (its supremum over steps), > 0."""

    def quality_at(self, model: str, steps: float) -> float:
        """Quality after a real (unrounded) number of steps, as the EAT paper's simulator
        takes it; integers give :meth:`quality`'s value. ValueError for a negative or
        non-finite count."""
        s = float(steps)
        if not (math.isfinite(s) and s >= 0):
            raise ValueError(f"steps must be a finite number >= 0, got {steps!r}")
        return self._formula_at(model, s)

    @abstractmethod
    def _formula_at(self, model: str, steps: float) -> float:
        """The curve at a real step count ``steps >= 0``."""

    def normalized(self, model: str, steps: int) -> float:
        """``quality / max_quality``, in [0, 1]."""
        return self.quality(model, steps) / self.max_quality(model)

    def table(self, model: str, max_steps: int) -> tuple[float, ...]:
        """``quality(model, s)`` for ``s = 0 .. max_steps`` (index = steps)."""
        n = _as_steps(max_steps)
        if n < 0:
            raise ValueError(f"max_steps must be >= 0, got {max_steps}")
        return tuple(self.quality(model, s) for s in range(n + 1))

    def normalized_table(self, model: str, max_steps: int) -> tuple[float, ...]:
        """``normalized(model, s)`` for ``s = 0 .. max_steps`` (index = steps)."""
        top = self.max_quality(model)
        return tuple(q / top for q in self.table(model, max_steps))


class PaperQuality(QualityModel):
    """The EAT paper's quality curve (SEED_MODEL.md), the same for every model.

    ``q(s) = 0`` for ``s < 5``; ``q(s) = 0.16 * ln(s) / ln(6) - 0.02`` for ``5 <= s <= 30``;
    ``q(s) = cap`` for ``s > 30`` with ``cap = 0.27`` (``variant="simulation"``) or ``0.25``
    (``variant="real"``). The curve is not monotone: ``q(30) = 0.28372 > cap``, as in the
    paper. ``max_quality`` is therefore ``q(30)``, so that ``normalized`` stays in [0, 1].
    """

    name = "paper"
    VARIANTS: tuple[str, ...] = ("simulation", "real")
    _CAPS = {"simulation": 0.27, "real": 0.25}

    def __init__(self, variant: str = "simulation") -> None:
        if variant not in self._CAPS:
            raise ValueError(f"PaperQuality variant must be one of {', '.join(self.VARIANTS)}, got {variant!r}")
        self.variant = variant
        self.cap = self._CAPS[variant]
        self._table = tuple(self._formula(s) for s in range(31))  # s = 0 .. 30
        self._max = max(max(self._table), self.cap)

    @staticmethod
    def _formula(s: int) -> float:
        if s < 5:
            return 0.0
        return 0.16 * math.log(s) / math.log(6) - 0.02

    def quality(self, model: str, steps: int) -> float:
        """q(steps); ``model`` is ignored (the paper's curve is model-independent)."""
        s = _as_steps(steps)
        if s <= 30:
            return self._table[s] if s >= 0 else 0.0
        return self.cap

    def _formula_at(self, model: str, steps: float) -> float:
        return self._formula(steps) if steps <= 30 else self.cap

    def max_quality(self, model: str) -> float:
        """``q(30) = 0.16 * ln(30) / ln(6) - 0.02 = 0.283719...`` (above either cap)."""
        return self._max

    def __repr__(self) -> str:
        return f"PaperQuality(variant={self.variant!r})"


class PublishedQuality(QualityModel):
    """Per-model saturating curves fitted to published figures.

    Form: ``q(s) = max(0, q_inf - c * s**(-p))`` for ``s >= 1`` and ``q(s) = 0`` for
    ``s <= 0`` (monotone non-decreasing; ``max_quality = q_inf``, approached, not reached).
    The raw scale is the CLIP score (ViT-g/14, 100 x cosine) as DeepCache reports it.

    * Shape ``p``: the DDIM FID-vs-steps figures on CIFAR-10 (DDIM paper, via DeepCache
      Table 6: FID 13.36 / 6.84 / 4.67 at 10 / 20 / 50 steps) fitted exactly by
      ``FID(s) = F_inf + a * s**(-p)``: ``p = 1.7703024``, ``F_inf = 4.1360``, ``a = 543.53``.
      Check: DPM-Solver's 4.70 / 2.87 at 10 / 20 steps with this ``p`` imply F_inf = 2.11 > 0.
    * Level ``q_inf``, ``c``: SD1.5 CLIP scores (DeepCache, arXiv 2312.00858, Table 3, PLMS)
      averaged over PartiPrompts and COCO2017: 29.66 at 25 steps and 29.905 at 50 steps,
      matched exactly: ``q_inf = 30.0066069``, ``c = 103.422185``.
    * Tolerance: the curve reproduces each benchmark's CLIP(25)/CLIP(50) ratio within 0.005
      (Parti 0.99390, COCO 0.98977, curve 0.99181) and each raw score within 0.5 points.
    * ``q(s) = 0`` below s = 2.01 (one or two steps); below 10 steps the curve extrapolates.
    * ``sd14`` uses the ``sd15`` curve (same architecture). ``sdxl`` uses the same curve
      too: no published SDXL quality-vs-steps figure is in the data (DistriFusion's FID
      24.0 / 23.9 at 50 / 25 steps is against the 1-GPU output, a fidelity measure).
    """

    name = "published"
    # model -> (q_inf, c, p)
    CONSTANTS: dict[str, tuple[float, float, float]] = {
        "sd15": (30.006606859768436, 103.42218487221504, 1.7703024016097264),
        "sdxl": (30.006606859768436, 103.42218487221504, 1.7703024016097264),
    }
    ALIASES: dict[str, str] = {"sd14": "sd15"}
    _TABLE_STEPS = 256

    def __init__(self) -> None:
        self._tables = {m: tuple(self._formula(m, s) for s in range(self._TABLE_STEPS + 1)) for m in self.CONSTANTS}
        for alias, target in self.ALIASES.items():
            self._tables[alias] = self._tables[target]

    def models(self) -> tuple[str, ...]:
        """Model names accepted (aliases included)."""
        return tuple(self._tables)

    def _resolve(self, model: str) -> str:
        model = self.ALIASES.get(model, model)
        if model not in self.CONSTANTS:
            raise ValueError(f"PublishedQuality has no curve for model {model!r}; models: {', '.join(self.models())}")
        return model

    def _formula(self, model: str, s: int) -> float:
        if s <= 0:
            return 0.0
        q_inf, c, p = self.CONSTANTS[model]
        return max(0.0, q_inf - c * s ** (-p))

    def quality(self, model: str, steps: int) -> float:
        """CLIP-score-scale quality after ``steps`` steps."""
        s = _as_steps(steps)
        table = self._tables.get(model)
        if table is None:
            table = self._tables[self._resolve(model)]
        if s <= self._TABLE_STEPS:
            return table[s] if s >= 0 else 0.0
        return self._formula(self._resolve(model), s)

    def _formula_at(self, model: str, steps: float) -> float:
        return self._formula(self._resolve(model), steps)

    def max_quality(self, model: str) -> float:
        """``q_inf`` of the model's curve."""
        return self.CONSTANTS[self._resolve(model)][0]

    def __repr__(self) -> str:
        return "PublishedQuality()"


@functools.cache
def get_quality_model(name: str) -> QualityModel:
    """The quality model called ``name`` (shared instance); ValueError listing the names."""
    if name == "paper":
        return PaperQuality()
    if name == "published":
        return PublishedQuality()
    raise ValueError(f"unknown quality model {name!r}; available: {', '.join(QUALITY_MODELS)}")
