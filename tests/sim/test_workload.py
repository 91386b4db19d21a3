"""Tests for eat_bench.sim.workload: arrival processes and request generation."""

from __future__ import annotations

import numpy as np
import pytest

from eat_bench.sim.workload import (
    ArrivalProcess,
    BurstyArrivals,
    DiurnalArrivals,
    FixedArrivals,
    PoissonArrivals,
    ReplayArrivals,
    RequestBatch,
    RequestClass,
    SlottedBernoulliArrivals,
    StreamSpec,
    generate_requests,
)

N = 100_000


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


PROCESSES = [
    PoissonArrivals(2.0),
    SlottedBernoulliArrivals(2.0, slot_s=0.1),
    DiurnalArrivals(2.0, amplitude=0.5, period_s=50.0),
    BurstyArrivals(2.0, burst_factor=6.0, calm_s=2.0, burst_s=0.5),
]


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_seeded_reproducible_sorted_and_sized(process):
    a = process.sample_times(rng(1), 500)
    b = process.sample_times(rng(1), 500)
    c = process.sample_times(rng(2), 500)
    assert a.shape == (500,)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (np.diff(a) >= 0).all()
    assert (a >= 0).all()
    assert isinstance(process, ArrivalProcess)
    assert process.mean_rate == 2.0


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_mean_rate_large_sample(process):
    times = process.sample_times(rng(3), N)
    # Poisson-like: relative error ~ 1/sqrt(N) = 0.3%; the modulated ones vary more.
    assert N / times[-1] == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_with_rate(process):
    faster = process.with_rate(4.0)
    assert faster.mean_rate == 4.0
    assert type(faster) is type(process)
    assert process.mean_rate == 2.0  # frozen: the original is unchanged
    times = faster.sample_times(rng(4), N)
    assert N / times[-1] == pytest.approx(4.0, rel=0.03)


def test_poisson_gaps_are_exponential():
    gaps = np.diff(np.concatenate([[0.0], PoissonArrivals(5.0).sample_times(rng(5), N)]))
    assert gaps.mean() == pytest.approx(0.2, rel=0.02)
    assert gaps.std() == pytest.approx(0.2, rel=0.02)  # exponential: std = mean


def test_slotted_times_are_slot_multiples():
    process = SlottedBernoulliArrivals(0.15, slot_s=0.1)
    times = process.sample_times(rng(6), 10_000)
    slots = np.round(times / 0.1)
    assert np.array_equal(slots * 0.1, times)
    assert (slots >= 1).all()
    assert (np.diff(slots) >= 1).all()  # at most one arrival per slot
    # p = rate * slot per slot: mean gap of 1 / p slots
    assert np.diff(slots).mean() == pytest.approx(1 / 0.015, rel=0.05)


def test_slotted_p_one_is_every_slot():
    times = SlottedBernoulliArrivals(4.0, slot_s=0.25).sample_times(rng(7), 5)
    assert times.tolist() == [0.25, 0.5, 0.75, 1.0, 1.25]


@pytest.mark.parametrize(
    "make",
    [
        lambda: PoissonArrivals(0.0),
        lambda: PoissonArrivals(-1.0),
        lambda: PoissonArrivals(float("nan")),
        lambda: PoissonArrivals(float("inf")),
        lambda: SlottedBernoulliArrivals(11.0, slot_s=0.1),
        lambda: DiurnalArrivals(1.0, amplitude=1.5),
        lambda: DiurnalArrivals(1.0, period_s=0.0),
        lambda: BurstyArrivals(1.0, burst_factor=0.5),
        lambda: BurstyArrivals(1.0, calm_s=0.0),
        lambda: BurstyArrivals(-2.0),
        lambda: PoissonArrivals(True),
        lambda: PoissonArrivals(1e-320),  # its mean gap overflows
        lambda: SlottedBernoulliArrivals(1.0, slot_s=float("nan")),
        lambda: DiurnalArrivals(1.0, peak_s=float("nan")),  # used to loop forever in sample_times
        lambda: DiurnalArrivals(1.0, peak_s="noon"),
        lambda: BurstyArrivals(1.0, burst_s=float("inf")),
        lambda: FixedArrivals((0.0, float("nan"), 1.0)),
        lambda: FixedArrivals((5.0, 10.0), pad_s=1.0),  # padding before the last time: unsorted
        lambda: FixedArrivals((1.0,), pad_s=float("nan")),
        lambda: RequestClass("sd15", 512, 512, slo_s=float("inf")),
        lambda: RequestClass("sd15", True, 512, slo_s=5.0),
    ],
)
def test_invalid_parameters(make):
    with pytest.raises(ValueError):
        make()


def test_bursty_keeps_the_earliest_arrivals_of_a_phase():
    """With burst_factor 1 the process is Poisson whatever the phases: the first of 5
    arrivals at 10/s comes after about 0.1 s, even in phases of 1000 s (it used to be
    spread uniformly over the whole phase)."""
    process = BurstyArrivals(10.0, burst_factor=1.0, calm_s=1000.0, burst_s=1000.0)
    firsts = [process.sample_times(np.random.default_rng(seed), 5)[0] for seed in range(400)]
    assert np.mean(firsts) == pytest.approx(0.1, rel=0.2)
    times = process.sample_times(np.random.default_rng(0), 5000)
    assert np.all(np.diff(times) >= 0) and np.mean(np.diff(times)) == pytest.approx(0.1, rel=0.1)


def test_diurnal_rate_shape():
    process = DiurnalArrivals(5.0, amplitude=0.5, period_s=40.0, peak_s=10.0)
    assert process.rate_at(10.0) == pytest.approx(7.5)
    assert process.rate_at(30.0) == pytest.approx(2.5)
    times = process.sample_times(rng(8), N)
    phase = 2 * np.pi * (times - 10.0) / 40.0
    # Under density proportional to 1 + a cos(phase), E[cos(phase)] = a / 2 and E[sin] = 0.
    assert np.cos(phase).mean() == pytest.approx(0.25, abs=0.01)
    assert np.sin(phase).mean() == pytest.approx(0.0, abs=0.01)
    # Peak quarter of the cycle holds about (1 + a * 2 sqrt(2)/pi) / 4 of arrivals... check ratio.
    frac = ((times - 10.0) % 40.0) / 40.0
    near_peak = np.mean((frac < 0.125) | (frac >= 0.875))
    near_trough = np.mean((frac >= 0.375) & (frac < 0.625))
    expected_ratio = (1 + 0.5 * 2 * np.sqrt(2) / np.pi) / (1 - 0.5 * 2 * np.sqrt(2) / np.pi)
    assert near_peak / near_trough == pytest.approx(expected_ratio, rel=0.05)


def test_diurnal_zero_amplitude_is_poisson_rate():
    times = DiurnalArrivals(3.0, amplitude=0.0).sample_times(rng(9), N)
    assert N / times[-1] == pytest.approx(3.0, rel=0.02)


def test_bursty_calm_rate_and_overdispersion():
    b = BurstyArrivals(1.0, burst_factor=6.0, calm_s=120.0, burst_s=20.0)
    assert b.calm_rate == pytest.approx(7 / 12)
    fast = BurstyArrivals(5.0, burst_factor=6.0, calm_s=5.0, burst_s=2.0)
    times = fast.sample_times(rng(10), N)
    counts = np.bincount(times.astype(int))[:-1]
    dispersion = counts.var() / counts.mean()
    poisson = PoissonArrivals(5.0).sample_times(rng(10), N)
    pcounts = np.bincount(poisson.astype(int))[:-1]
    assert pcounts.var() / pcounts.mean() == pytest.approx(1.0, abs=0.1)
    assert dispersion > 2.0  # bursts make counts far more variable than Poisson


# ----------------------------------------------------------------------------- replay
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_replay_reads_and_repeats(tmp_path):
    path = write(tmp_path, "arr.csv", "time_s,other\n1.0,a\n2.0,b\n4.0,c\n")
    r = ReplayArrivals(path)
    assert r.mean_rate == 3 / 4.0
    assert r.sample_times(rng(0), 2).tolist() == [1.0, 2.0]
    assert r.sample_times(rng(0), 7).tolist() == [1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0]
    fast = ReplayArrivals(path, rate_scale=2.0)
    assert fast.sample_times(rng(0), 3).tolist() == [0.5, 1.0, 2.0]
    assert fast.mean_rate == 1.5
    scaled = r.with_rate(3.0)
    assert scaled.mean_rate == pytest.approx(3.0)
    assert scaled.sample_times(rng(0), 3).tolist() == pytest.approx([0.25, 0.5, 1.0])
    # Replay ignores the generator.
    assert np.array_equal(r.sample_times(rng(1), 5), r.sample_times(rng(2), 5))


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("time_s\n1.0\nabc\n", ["row 3", "column 'time_s'", "not a number"]),
        ("time_s\n1.0\n3.0\n2.0\n", ["row 4", "column 'time_s'", "non-decreasing"]),
        ("time_s\n-1.0\n", ["row 2", "column 'time_s'"]),
        ("time_s\n1.0\nnan\n", ["row 3", "column 'time_s'"]),
        ("time_s\n1.0\ninf\n", ["row 3", "column 'time_s'"]),
        ("t\n1.0\n", ["row 1", "missing column 'time_s'"]),
        ("time_s\n", ["no arrival rows"]),
        ("", ["row 1", "missing column 'time_s'"]),
        ("time_s,time_s\n1.0,2.0\n", ["row 1", "more than once"]),
        ("time_s\n1.0\n2.0,3.0\n", ["row 3", "more cells"]),
    ],
)
def test_replay_bad_files(tmp_path, text, fragments):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ValueError) as err:
        ReplayArrivals(path)
    message = str(err.value)
    assert path in message
    for fragment in fragments:
        assert fragment in message


def test_replay_encodings(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("time_s\n1.0\n2.0\n".encode("utf-8-sig"))
    assert ReplayArrivals(str(bom)).sample_times(np.random.default_rng(0), 2).tolist() == [1.0, 2.0]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"time_s\n1.0\n# caf\xe9\n")
    with pytest.raises(ValueError, match="latin.csv: not UTF-8"):
        ReplayArrivals(str(latin))


def test_replay_missing_file_and_bad_scale(tmp_path):
    with pytest.raises(ValueError, match="no such arrival trace file"):
        ReplayArrivals(str(tmp_path / "nope.csv"))
    path = write(tmp_path, "ok.csv", "time_s\n1\n")
    with pytest.raises(ValueError):
        ReplayArrivals(path, rate_scale=0.0)
    with pytest.raises(ValueError):
        ReplayArrivals(path).with_rate(-1.0)


# ----------------------------------------------------------------------------- requests
CLASSES = (
    RequestClass("a", 512, 512, 5.0, weight=0.5),
    RequestClass("b", 768, 768, 10.0, weight=0.25),
    RequestClass("c", 1024, 1024, 20.0, weight=0.25),
)
WEIGHTS = tuple(c.weight for c in CLASSES)


def test_request_class_validation():
    assert RequestClass("a", 3, 4, 1.0).pixels == 12
    for kw in (dict(width=0), dict(height=-1), dict(slo_s=0.0), dict(weight=0.0)):
        args = dict(model="a", width=1, height=1, slo_s=1.0) | kw
        with pytest.raises(ValueError):
            RequestClass(**args)


def test_generate_requests_initial_queue_and_order():
    streams = (StreamSpec(0, PoissonArrivals(1.0), (0, 1, 2)), StreamSpec(1, PoissonArrivals(3.0), (0,)))
    batch = generate_requests(rng(0), streams, WEIGHTS, num_tasks=50, initial_queue=10)
    assert isinstance(batch, RequestBatch) and len(batch) == 50
    assert (batch.arrival_s[:10] == 0.0).all()
    assert (batch.arrival_s[10:] > 0.0).all()
    assert (np.diff(batch.arrival_s) >= 0).all()
    assert set(batch.site.tolist()) <= {0, 1}
    assert (batch.class_index[batch.site == 1] == 0).all()  # site 1 draws only class 0
    assert (batch.degree == 0).all()
    again = generate_requests(rng(0), streams, WEIGHTS, num_tasks=50, initial_queue=10)
    for field in ("arrival_s", "class_index", "site", "degree"):
        assert np.array_equal(getattr(batch, field), getattr(again, field))


def test_generate_requests_all_initial():
    streams = (StreamSpec(0, PoissonArrivals(1.0), (0,)),)
    batch = generate_requests(rng(0), streams, WEIGHTS, num_tasks=5, initial_queue=5)
    assert batch.arrival_s.tolist() == [0.0] * 5


def test_generate_requests_stream_and_class_mix():
    n = 40_000
    streams = (StreamSpec(0, PoissonArrivals(1.0), (0, 1, 2)), StreamSpec(1, PoissonArrivals(3.0), (0, 1, 2)))
    batch = generate_requests(rng(1), streams, WEIGHTS, num_tasks=n, initial_queue=4000)
    share_site1 = np.mean(batch.site == 1)
    assert share_site1 == pytest.approx(0.75, abs=5 * np.sqrt(0.75 * 0.25 / n))
    mix = np.bincount(batch.class_index, minlength=3) / n
    for p, expected in zip(mix, (0.5, 0.25, 0.25)):
        assert p == pytest.approx(expected, abs=5 * np.sqrt(expected * (1 - expected) / n))
    # Superposed stream: total rate 4/s.
    later = batch.arrival_s[4000:]
    assert (n - 4000) / later[-1] == pytest.approx(4.0, rel=0.03)


def test_generate_requests_degree_draw():
    n = 20_000
    streams = (StreamSpec(0, PoissonArrivals(1.0), (0,)),)
    batch = generate_requests(rng(2), streams, WEIGHTS, num_tasks=n, task_degrees=(1, 2, 4, 8))
    counts = np.bincount(batch.degree, minlength=9)
    assert set(np.flatnonzero(counts).tolist()) == {1, 2, 4, 8}
    for k in (1, 2, 4, 8):
        assert counts[k] / n == pytest.approx(0.25, abs=5 * np.sqrt(0.25 * 0.75 / n))


def test_generate_requests_rejects_a_larger_initial_queue_than_tasks():
    streams = (StreamSpec(0, PoissonArrivals(1.0), (0,)),)
    with pytest.raises(ValueError, match="initial_queue"):
        generate_requests(np.random.default_rng(0), streams, (1.0,), num_tasks=3, initial_queue=5)
    with pytest.raises(ValueError, match="at least one stream"):
        generate_requests(np.random.default_rng(0), (), (1.0,), num_tasks=3)


def test_generate_requests_rejects_no_tasks():
    streams = (StreamSpec(0, PoissonArrivals(1.0), (0,)),)
    with pytest.raises(ValueError):
        generate_requests(rng(0), streams, WEIGHTS, num_tasks=0)
