"""Type checks shared by the specs' validation (workloads, scenarios): numpy numbers
count, bools do not."""

from __future__ import annotations

import math
import numbers

__all__ = ["is_int", "is_real"]


def is_int(value: object) -> bool:
    """An integer, Python or numpy (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A finite real number, Python or numpy (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
