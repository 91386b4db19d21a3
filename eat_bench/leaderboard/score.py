"""The leaderboard's statistics: normalised scores, the interquartile mean, stratified
bootstrap intervals and the probability of improvement.

These follow Agarwal et al. (2021), "Deep Reinforcement Learning at the Edge of the
Statistical Precipice" (NeurIPS), whose reference implementation is ``rliable``. That
package pins old dependencies, so this is a small numpy re-implementation, cross-checked
against rliable in the tests where it installs. A *stratum* here is one scenario; the
samples inside it are its evaluation episodes. Resampling stays inside each scenario so
that every bootstrap replicate has the evaluation set's mix of scenarios.

>>> iqm([1.0, 2.0, 3.0, 100.0])
2.5
>>> normalise([0.0, 5.0, 10.0], random_mean=0.0, reference_mean=10.0).tolist()
[0.0, 0.5, 1.0]
>>> probability_of_improvement({"a": [3.0, 4.0]}, {"a": [1.0, 2.0]}, reps=10)
Interval(point=1.0, low=1.0, high=1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Interval",
    "iqm",
    "normalise",
    "bootstrap_replicates",
    "stratified_bootstrap",
    "probability_of_improvement",
    "pairwise_improvement",
]

Statistic = Callable[[np.ndarray], float]

# Comparisons held in memory at once when the probability of improvement is bootstrapped
# (replicates x n x m booleans); larger strata are processed in chunks of replicates.
_PAIR_BUDGET = 4_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a (percentile bootstrap) confidence interval."""

    point: float
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def _trimmed_rows(samples: np.ndarray) -> np.ndarray:
    """The 25%-trimmed mean of each row of a 2-D array (the same cut as scipy's trim_mean)."""
    n = samples.shape[1]
    cut = int(0.25 * n)
    ordered = np.sort(samples, axis=1)
    return ordered[:, cut : n - cut].mean(axis=1)


def iqm(values: ArrayLike) -> float:
    """Interquartile mean: the mean of the middle half of the flattened values.

    The lowest and highest ``int(0.25 * n)`` values are dropped, exactly as
    ``scipy.stats.trim_mean(values, 0.25, axis=None)`` (and so rliable) does. It is robust
    to a few outlying episodes yet uses half the data, unlike the median.

    >>> iqm([4.0, 1.0, 3.0, 2.0, 1000.0, -1000.0, 2.5, 3.5])
    2.75
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("iqm of no values")
    return float(_trimmed_rows(x[None, :])[0])


def normalise(values: ArrayLike, random_mean: float, reference_mean: float) -> np.ndarray:
    """Scores on the scale where the random agent's mean is 0 and the reference's is 1:
    ``(x - random_mean) / (reference_mean - random_mean)``.

    Raises ValueError when the two means coincide (the scale is undefined) or are not finite.
    """
    random_mean, reference_mean = float(random_mean), float(reference_mean)
    if not (math.isfinite(random_mean) and math.isfinite(reference_mean)):
        raise ValueError(f"normalisation needs finite means, got random={random_mean}, reference={reference_mean}")
    span = reference_mean - random_mean
    if span == 0.0:
        raise ValueError(
            f"cannot normalise: the reference mean equals the random mean ({reference_mean}), so the scale is undefined"
        )
    return (np.asarray(values, dtype=np.float64) - random_mean) / span


def _strata(scores_by_scenario: Mapping[str, ArrayLike], what: str = "scores") -> dict[str, np.ndarray]:
    """Validated 1-D float arrays by scenario, in sorted scenario order (so that the random
    draws do not depend on the mapping's insertion order)."""
    if not scores_by_scenario:
        raise ValueError(f"no scenarios in {what}")
    out: dict[str, np.ndarray] = {}
    for key in sorted(scores_by_scenario):
        x = np.asarray(scores_by_scenario[key], dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"{what}[{key!r}] must be 1-D (one score per episode), got shape {x.shape}")
        if x.size == 0:
            raise ValueError(f"{what}[{key!r}] is empty")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what}[{key!r}] has non-finite scores")
        out[key] = x
    return out


def _check(reps: int, confidence: float) -> None:
    if not isinstance(reps, int | np.integer) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _rowwise(statistic: Statistic, samples: np.ndarray) -> np.ndarray:
    """The statistic of each row; vectorised for iqm and the mean, a loop otherwise."""
    if statistic is iqm:
        return _trimmed_rows(samples)
    if statistic is np.mean:
        return samples.mean(axis=1)
    return np.array([float(statistic(row)) for row in samples], dtype=np.float64)


def _percentile_interval(point: float, replicates: np.ndarray, confidence: float) -> Interval:
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(replicates, [alpha, 100.0 - alpha])
    return Interval(float(point), float(low), float(high))


def bootstrap_replicates(
    scores_by_scenario: Mapping[str, ArrayLike], statistic: Statistic = iqm, reps: int = 2000, seed: int = 0
) -> np.ndarray:
    """The statistic on ``reps`` stratified resamples: per scenario, its episodes drawn
    with replacement (as many as it has), then all scenarios pooled.

    Index matrices are drawn at once per scenario, in sorted scenario order, from
    ``numpy.random.default_rng(seed)``, so a seed fixes the result.
    """
    strata = _strata(scores_by_scenario)
    _check(reps, 0.5)
    rng = np.random.default_rng(seed)
    parts = [x[rng.integers(0, x.size, size=(reps, x.size))] for x in strata.values()]
    return _rowwise(statistic, np.concatenate(parts, axis=1))


def stratified_bootstrap(
    scores_by_scenario: Mapping[str, ArrayLike],
    statistic: Statistic = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The statistic of all scores pooled, with a percentile interval from a stratified
    bootstrap (see :func:`bootstrap_replicates`).

    >>> stratified_bootstrap({"a": [0.0, 0.0], "b": [1.0, 1.0]}, reps=50)
    Interval(point=0.5, low=0.5, high=0.5)
    """
    _check(reps, confidence)
    strata = _strata(scores_by_scenario)
    point = float(statistic(np.concatenate(list(strata.values()))))
    replicates = bootstrap_replicates(strata, statistic, reps, seed)
    return _percentile_interval(point, replicates, confidence)


def _u_fraction(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + P(X = Y) / 2 over all pairs: the Mann-Whitney U of x over y, / (n m)."""
    ys = np.sort(y)
    below = np.searchsorted(ys, x, side="left")
    not_above = np.searchsorted(ys, x, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (x.size * y.size))


def _u_fraction_rows(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """:func:`_u_fraction` for each pair of rows of (reps, n) and (reps, m), in chunks."""
    reps, n = xs.shape
    m = ys.shape[1]
    out = np.empty(reps, dtype=np.float64)
    chunk = max(1, _PAIR_BUDGET // (n * m))
    for start in range(0, reps, chunk):
        a = xs[start : start + chunk, :, None]
        b = ys[start : start + chunk, None, :]
        out[start : start + chunk] = ((a > b).sum(axis=(1, 2)) + 0.5 * (a == b).sum(axis=(1, 2))) / (n * m)
    return out


def pairwise_improvement(x_by_scenario: Mapping[str, ArrayLike], y_by_scenario: Mapping[str, ArrayLike]) -> float:
    """The mean over scenarios of P(X > Y) + P(X = Y) / 2, X and Y drawn from the two
    entries' episodes of that scenario (no interval).

    >>> pairwise_improvement({"a": [1.0, 2.0, 3.0]}, {"a": [2.0]})
    0.5
    """
    xs, ys = _paired(x_by_scenario, y_by_scenario)
    return float(np.mean([_u_fraction(xs[k], ys[k]) for k in xs]))


def _paired(x_by_scenario: Mapping[str, ArrayLike], y_by_scenario: Mapping[str, ArrayLike]) -> tuple[dict, dict]:
    xs = _strata(x_by_scenario, "x")
    ys = _strata(y_by_scenario, "y")
    if xs.keys() != ys.keys():
        only_x = sorted(set(xs) - set(ys))
        only_y = sorted(set(ys) - set(xs))
        raise ValueError(f"the two entries' scenarios differ: only in x {only_x}, only in y {only_y}")
    return xs, ys


def probability_of_improvement(
    x_by_scenario: Mapping[str, ArrayLike],
    y_by_scenario: Mapping[str, ArrayLike],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """How likely X beats Y on a scenario's episode: :func:`pairwise_improvement`, with a
    percentile interval from a bootstrap that resamples X's and Y's episodes independently
    within each scenario. 0.5 means neither is better; the scenarios must match.
    """
    _check(reps, confidence)
    xs, ys = _paired(x_by_scenario, y_by_scenario)
    rng = np.random.default_rng(seed)
    per_scenario: list[np.ndarray] = []
    for key in xs:
        x, y = xs[key], ys[key]
        xi = rng.integers(0, x.size, size=(reps, x.size))
        yi = rng.integers(0, y.size, size=(reps, y.size))
        per_scenario.append(_u_fraction_rows(x[xi], y[yi]))
    replicates = np.mean(per_scenario, axis=0)
    point = float(np.mean([_u_fraction(xs[k], ys[k]) for k in xs]))
    return _percentile_interval(point, replicates, confidence)
