"""Tests of the leaderboard statistics (eat_bench.leaderboard.score) against hand-computed
values, exact enumerations of tiny bootstraps, scipy, and (where it installs) rliable."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from eat_bench.leaderboard import score
from eat_bench.leaderboard.score import (
    Interval,
    bootstrap_replicates,
    iqm,
    normalise,
    pairwise_improvement,
    probability_of_improvement,
    stratified_bootstrap,
)

# ---------------------------------------------------------------------------- iqm


@pytest.mark.parametrize(
    "values, expected",
    [
        ([5.0], 5.0),  # n = 1: nothing trimmed
        ([1.0, 4.0, 7.0], 4.0),  # n = 3: int(0.75) = 0 trimmed, the mean
        ([1.0, 2.0, 3.0, 100.0], 2.5),  # n = 4: drop 1 and 100
        ([-1000.0, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 1000.0], 2.75),  # n = 8: drop two each side
        ([[9.0, 0.0], [1.0, 2.0]], 1.5),  # flattened: 0, 1, 2, 9 -> mean(1, 2)
        ([3.0, 3.0, 3.0, 3.0, 3.0], 3.0),
    ],
)
def test_iqm_by_hand(values, expected):
    assert iqm(values) == pytest.approx(expected, abs=1e-12)


def test_iqm_ignores_order_and_outliers():
    assert iqm([100.0, 3.0, 1.0, 2.0]) == 2.5
    assert iqm([1.0, 2.0, 3.0, 1e12]) == 2.5


def test_iqm_matches_scipy_trim_mean():
    trim_mean = pytest.importorskip("scipy.stats").trim_mean
    rng = np.random.default_rng(7)
    for n in list(range(1, 41)) + [97, 200]:
        x = rng.standard_t(2, size=n)
        assert iqm(x) == pytest.approx(float(trim_mean(x, 0.25)), rel=1e-12, abs=1e-12), n
    grid = rng.normal(size=(5, 7))
    assert iqm(grid) == pytest.approx(float(trim_mean(grid, 0.25, axis=None)), rel=1e-12)


def test_iqm_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        iqm([])


# ---------------------------------------------------------------------------- normalise


def test_normalise_puts_random_at_0_and_reference_at_1():
    out = normalise([-100.0, -50.0, -40.0, -150.0], random_mean=-100.0, reference_mean=-50.0)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [0.0, 1.0, 1.2, -1.0])


def test_normalise_refuses_an_undefined_scale():
    with pytest.raises(ValueError, match="reference mean equals the random mean"):
        normalise([1.0], random_mean=2.0, reference_mean=2.0)
    with pytest.raises(ValueError, match="finite"):
        normalise([1.0], random_mean=float("nan"), reference_mean=2.0)


# ---------------------------------------------------------------------------- bootstrap


def test_constant_scores_give_a_zero_width_interval():
    interval = stratified_bootstrap({"a": [0.7] * 5, "b": [0.7] * 3}, reps=200)
    assert interval == Interval(0.7, 0.7, 0.7)
    assert interval.width == 0.0


def test_resampling_stays_within_each_scenario():
    # Pooled, half the scores are 0 and half 1; an unstratified bootstrap would vary the
    # mix, a stratified one always draws two of each, so every replicate's mean is 0.5.
    replicates = bootstrap_replicates({"zeros": [0.0, 0.0], "ones": [1.0, 1.0]}, np.mean, reps=500)
    assert set(replicates.tolist()) == {0.5}


def test_two_element_bootstrap_matches_its_enumeration():
    # Resamples of [0, 1]: (0,0), (0,1), (1,0), (1,1), equally likely; means 0, .5, .5, 1.
    replicates = bootstrap_replicates({"a": [0.0, 1.0]}, iqm, reps=4000, seed=3)
    values, counts = np.unique(replicates, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(counts / counts.sum(), [0.25, 0.5, 0.25], atol=0.03)  # ~4 sd
    # 25% of the mass sits on each end, so the 2.5th and 97.5th percentiles are 0 and 1.
    assert stratified_bootstrap({"a": [0.0, 1.0]}, reps=4000, seed=3) == Interval(0.5, 0.0, 1.0)


def test_two_scenario_bootstrap_matches_its_enumeration():
    # Statistic: the pooled mean of a's two and b's two resampled scores. Enumerate all
    # 4 x 4 equally likely (a resample, b resample) pairs for the exact distribution.
    a, b = [0.0, 1.0], [2.0, 4.0]
    exact: dict[float, float] = {}
    for ra in itertools.product(a, repeat=2):
        for rb in itertools.product(b, repeat=2):
            value = (sum(ra) + sum(rb)) / 4
            exact[value] = exact.get(value, 0.0) + 1 / 16
    replicates = bootstrap_replicates({"a": a, "b": b}, np.mean, reps=8000, seed=11)
    values, counts = np.unique(replicates, return_counts=True)
    assert values.tolist() == sorted(exact)
    np.testing.assert_allclose(counts / counts.sum(), [exact[v] for v in values], atol=0.02)
    interval = stratified_bootstrap({"a": a, "b": b}, np.mean, reps=8000, seed=11)
    assert interval.point == pytest.approx(7.0 / 4)
    assert (interval.low, interval.high) == (1.0, 2.5)  # exact 2.5% and 97.5% quantiles: 1/16 mass at each end


def test_interval_contains_the_point_and_is_seeded():
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(size=20), "b": rng.normal(1.0, 2.0, size=20), "c": rng.exponential(size=20)}
    first = stratified_bootstrap(scores, reps=1000, seed=5)
    assert first.low < first.point < first.high
    assert first.point == pytest.approx(iqm(np.concatenate(list(scores.values()))))
    assert stratified_bootstrap(scores, reps=1000, seed=5) == first
    assert stratified_bootstrap(scores, reps=1000, seed=6) != first
    reordered = {k: scores[k] for k in ("c", "a", "b")}
    assert stratified_bootstrap(reordered, reps=1000, seed=5) == first
    narrow = stratified_bootstrap(scores, reps=1000, seed=5, confidence=0.5)
    assert first.low < narrow.low <= narrow.high < first.high


def test_a_custom_statistic_is_applied_per_replicate():
    replicates = bootstrap_replicates({"a": [0.0, 1.0]}, lambda x: float(np.max(x)), reps=2000, seed=1)
    assert set(replicates.tolist()) == {0.0, 1.0}
    assert np.mean(replicates) == pytest.approx(0.75, abs=0.04)  # P(max = 1) = 3/4


@pytest.mark.parametrize(
    "scores, reps, confidence, message",
    [
        ({}, 10, 0.95, "no scenarios"),
        ({"a": []}, 10, 0.95, "empty"),
        ({"a": [[1.0, 2.0]]}, 10, 0.95, "1-D"),
        ({"a": [1.0, float("nan")]}, 10, 0.95, "non-finite"),
        ({"a": [1.0]}, 0, 0.95, "reps"),
        ({"a": [1.0]}, 10, 1.0, "confidence"),
    ],
)
def test_bootstrap_input_errors(scores, reps, confidence, message):
    with pytest.raises(ValueError, match=message):
        stratified_bootstrap(scores, reps=reps, confidence=confidence)


# ---------------------------------------------------------------------------- improvement


@pytest.mark.parametrize(
    "x, y, expected",
    [
        ({"a": [1.0, 2.0, 3.0]}, {"a": [2.0]}, 0.5),  # pairs: 0 + 0.5 (tie) + 1, over 3
        ({"a": [3.0, 4.0]}, {"a": [1.0, 2.0]}, 1.0),
        ({"a": [1.0, 1.0]}, {"a": [1.0]}, 0.5),  # all ties
        ({"a": [3.0, 4.0], "b": [0.0]}, {"a": [1.0, 2.0], "b": [1.0]}, 0.5),  # mean of 1 and 0
        ({"a": [1.0, 5.0]}, {"a": [2.0, 3.0, 4.0]}, 0.5),  # 0 of 3 + 3 of 3, over 6
        ({"a": [2.0, 3.0]}, {"a": [1.0, 2.0, 4.0]}, 3.5 / 6),  # 2: 1 + 0.5; 3: 2
    ],
)
def test_probability_of_improvement_by_hand(x, y, expected):
    assert pairwise_improvement(x, y) == pytest.approx(expected)
    assert probability_of_improvement(x, y, reps=200).point == pytest.approx(expected)


def test_probability_of_improvement_is_mann_whitney_u_over_nm():
    mannwhitneyu = pytest.importorskip("scipy.stats").mannwhitneyu
    rng = np.random.default_rng(2)
    x = {"a": rng.integers(0, 6, 13).astype(float), "b": rng.normal(size=9)}
    y = {"a": rng.integers(0, 6, 8).astype(float), "b": rng.normal(0.5, size=11)}
    expected = np.mean([mannwhitneyu(x[k], y[k]).statistic / (x[k].size * y[k].size) for k in ("a", "b")])
    assert pairwise_improvement(x, y) == pytest.approx(float(expected), rel=1e-12)
    assert pairwise_improvement(x, y) + pairwise_improvement(y, x) == pytest.approx(1.0)


def test_improvement_intervals():
    assert probability_of_improvement({"a": [5.0, 6.0]}, {"a": [1.0, 2.0]}, reps=300) == Interval(1.0, 1.0, 1.0)
    # x = [0, 1] against y = [0.5]: each resample of x scores 0, 0.5 or 1 with
    # probabilities 1/4, 1/2, 1/4 (as its mean), so the 95% interval is [0, 1].
    assert probability_of_improvement({"a": [0.0, 1.0]}, {"a": [0.5]}, reps=4000) == Interval(0.5, 0.0, 1.0)
    rng = np.random.default_rng(4)
    x, y = {"a": rng.normal(1.0, size=25)}, {"a": rng.normal(size=25)}
    interval = probability_of_improvement(x, y, reps=1000, seed=9)
    assert 0.5 < interval.low < interval.point < interval.high <= 1.0
    assert probability_of_improvement(x, y, reps=1000, seed=9) == interval


def test_improvement_chunks_agree(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = {"a": rng.normal(size=30)}, {"a": rng.normal(size=20)}
    whole = probability_of_improvement(x, y, reps=300, seed=2)
    monkeypatch.setattr(score, "_PAIR_BUDGET", 1000)  # one replicate at a time
    assert probability_of_improvement(x, y, reps=300, seed=2) == whole


def test_improvement_needs_the_same_scenarios():
    with pytest.raises(ValueError, match=r"only in x \['b'\], only in y \['c'\]"):
        probability_of_improvement({"a": [1.0], "b": [1.0]}, {"a": [1.0], "c": [1.0]})


# ---------------------------------------------------------------------------- rliable


def test_agrees_with_rliable():
    """rliable resamples runs within each task: our episodes within each scenario."""
    rly = pytest.importorskip("rliable.library")
    metrics = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(12)
    episodes, scenarios = 20, 4
    x = rng.normal(1.0, 0.6, size=(episodes, scenarios))
    y = rng.normal(0.8, 0.6, size=(episodes, scenarios))
    as_dict = lambda m: {f"s{j}": m[:, j] for j in range(scenarios)}
    reps = 20000

    points, cis = rly.get_interval_estimates({"x": x}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=reps)
    ours = stratified_bootstrap(as_dict(x), reps=reps, seed=0)
    assert ours.point == pytest.approx(float(points["x"][0]), rel=1e-12)
    assert ours.low == pytest.approx(float(cis["x"][0, 0]), abs=0.02)
    assert ours.high == pytest.approx(float(cis["x"][1, 0]), abs=0.02)

    points, cis = rly.get_interval_estimates({"x,y": (x, y)}, metrics.probability_of_improvement, reps=reps)
    ours = probability_of_improvement(as_dict(x), as_dict(y), reps=reps, seed=0)
    assert ours.point == pytest.approx(float(np.ravel(points["x,y"])[0]), rel=1e-9)
    low, high = np.ravel(cis["x,y"])[:2]
    assert ours.low == pytest.approx(float(low), abs=0.02)
    assert ours.high == pytest.approx(float(high), abs=0.02)
