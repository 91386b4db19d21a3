"""Arrival processes and request generation.

Every process is a frozen dataclass that draws a whole episode's arrival times at reset
from a ``numpy.random.Generator`` (vectorised, reproducible, nothing drawn in ``step``).
Processes: :class:`PoissonArrivals`, :class:`SlottedBernoulliArrivals` (the paper's
per-tick coin flip), :class:`DiurnalArrivals` (cosine-varying rate),
:class:`BurstyArrivals` (two-state Markov-modulated Poisson),
:class:`ReplayArrivals` (times read from a CSV file) and :class:`FixedArrivals` (given
times, for hand-made episodes).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from eat_bench.sim.checks import is_int, is_real

__all__ = [
    "ArrivalProcess",
    "PoissonArrivals",
    "SlottedBernoulliArrivals",
    "DiurnalArrivals",
    "BurstyArrivals",
    "ReplayArrivals",
    "FixedArrivals",
    "RequestClass",
    "StreamSpec",
    "RequestBatch",
    "generate_requests",
]


@runtime_checkable
class ArrivalProcess(Protocol):
    """Draws arrival times; ``mean_rate`` is in requests per second."""

    @property
    def mean_rate(self) -> float: ...

    def with_rate(self, rate: float) -> ArrivalProcess: ...

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray: ...


def _check_rate(name: str, rate: float) -> None:
    if not (is_real(rate) and rate > 0 and math.isfinite(1.0 / rate)):
        raise ValueError(f"{name}: rate must be a positive finite number of requests/s, got {rate!r}")


def _check_positive(name: str, field: str, value: float) -> None:
    if not (is_real(value) and value > 0):
        raise ValueError(f"{name}: {field} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class PoissonArrivals:
    """Poisson arrivals: exponential gaps with mean ``1 / rate`` seconds."""

    rate: float

    def __post_init__(self) -> None:
        _check_rate("PoissonArrivals", self.rate)

    @property
    def mean_rate(self) -> float:
        return self.rate

    def with_rate(self, rate: float) -> PoissonArrivals:
        return replace(self, rate=rate)

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return np.cumsum(rng.exponential(1.0 / self.rate, size=count))


@dataclass(frozen=True)
class SlottedBernoulliArrivals:
    """The paper's arrivals: one coin flip per ``slot_s`` slot with p = rate * slot_s.

    Arrival times fall on slot ends (multiples of ``slot_s``), so a fixed-tick simulator
    sees them exactly at tick boundaries. Drawn as geometric gaps, which is the same
    distribution as flipping a coin every slot.
    """

    rate: float
    slot_s: float = 0.1

    def __post_init__(self) -> None:
        _check_rate("SlottedBernoulliArrivals", self.rate)
        _check_positive("SlottedBernoulliArrivals", "slot_s", self.slot_s)
        if not 0 < self.rate * self.slot_s <= 1:
            raise ValueError(
                f"SlottedBernoulliArrivals: rate * slot_s must lie in (0, 1], got {self.rate} * {self.slot_s}"
            )

    @property
    def mean_rate(self) -> float:
        return self.rate

    def with_rate(self, rate: float) -> SlottedBernoulliArrivals:
        return replace(self, rate=rate)

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray:
        slots = np.cumsum(rng.geometric(self.rate * self.slot_s, size=count))
        return slots * self.slot_s


@dataclass(frozen=True)
class DiurnalArrivals:
    """Poisson arrivals whose rate follows a cosine day:
    ``rate(t) = mean_rate * (1 + amplitude * cos(2 pi (t - peak_s) / period_s))``.

    Drawn by thinning a Poisson process of the peak rate (Lewis and Shedler).
    """

    rate: float
    amplitude: float = 0.5
    period_s: float = 600.0
    peak_s: float = 0.0

    def __post_init__(self) -> None:
        _check_rate("DiurnalArrivals", self.rate)
        if not (is_real(self.amplitude) and 0 <= self.amplitude <= 1):
            raise ValueError(f"DiurnalArrivals: amplitude must lie in [0, 1], got {self.amplitude!r}")
        _check_positive("DiurnalArrivals", "period_s", self.period_s)
        if not is_real(self.peak_s):
            raise ValueError(f"DiurnalArrivals: peak_s must be a finite number of seconds, got {self.peak_s!r}")

    @property
    def mean_rate(self) -> float:
        return self.rate

    def with_rate(self, rate: float) -> DiurnalArrivals:
        return replace(self, rate=rate)

    def rate_at(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.rate * (1 + self.amplitude * np.cos(2 * np.pi * (np.asarray(t) - self.peak_s) / self.period_s))

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray:
        peak = self.rate * (1 + self.amplitude)
        accepted: list[np.ndarray] = []
        start, have = 0.0, 0
        while have < count:
            batch = max(16, int(2 * (count - have) * (1 + self.amplitude)))
            times = start + np.cumsum(rng.exponential(1.0 / peak, size=batch))
            keep = times[rng.random(batch) * peak <= self.rate_at(times)]
            accepted.append(keep)
            have += keep.size
            start = float(times[-1])
        return np.concatenate(accepted)[:count]


@dataclass(frozen=True)
class BurstyArrivals:
    """Two-state Markov-modulated Poisson process: calm and burst phases.

    The phase lasts an exponential time with mean ``calm_s`` / ``burst_s``; in a burst
    the rate is ``burst_factor`` times the calm rate. ``rate`` is the long-run mean.
    """

    rate: float
    burst_factor: float = 6.0
    calm_s: float = 120.0
    burst_s: float = 20.0

    def __post_init__(self) -> None:
        _check_rate("BurstyArrivals", self.rate)
        if not (is_real(self.burst_factor) and self.burst_factor >= 1):
            raise ValueError(f"BurstyArrivals: burst_factor must be a finite number >= 1, got {self.burst_factor!r}")
        _check_positive("BurstyArrivals", "calm_s", self.calm_s)
        _check_positive("BurstyArrivals", "burst_s", self.burst_s)

    @property
    def mean_rate(self) -> float:
        return self.rate

    @property
    def calm_rate(self) -> float:
        share_burst = self.burst_s / (self.calm_s + self.burst_s)
        return self.rate / (1 - share_burst + share_burst * self.burst_factor)

    def with_rate(self, rate: float) -> BurstyArrivals:
        return replace(self, rate=rate)

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray:
        rates = (self.calm_rate, self.calm_rate * self.burst_factor)
        dwell = (self.calm_s, self.burst_s)
        out = np.empty(count)
        have, now, phase = 0, 0.0, 0
        while have < count:
            end = now + rng.exponential(dwell[phase])
            # Arrivals in [now, end): a Poisson count placed uniformly, of which the
            # earliest are kept when the episode needs fewer.
            n = int(rng.poisson(rates[phase] * (end - now)))
            times = np.sort(rng.uniform(now, end, size=n))[: count - have]
            out[have : have + times.size] = times
            have += times.size
            now, phase = end, 1 - phase
        return out


def _read_replay(path: str) -> tuple[float, ...]:
    """The file's arrival times, cached until the file changes (size or mtime)."""
    stat = os.stat(path)
    return _read_replay_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_replay_cached(path: str, mtime_ns: int, size: int) -> tuple[float, ...]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a BOM is not part of the header
            return _parse_replay(path, csv.DictReader(handle))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _parse_replay(path: str, reader: csv.DictReader) -> tuple[float, ...]:
    header = reader.fieldnames
    if header is None or "time_s" not in header:
        raise ValueError(f"{path}: row 1: missing column 'time_s' (found {header})")
    if header.count("time_s") > 1:
        raise ValueError(f"{path}: row 1: column 'time_s' appears more than once")
    times: list[float] = []
    previous = 0.0
    for row_number, row in enumerate(reader, start=2):
        if None in row:
            raise ValueError(f"{path}: row {row_number}: more cells than the header's {len(header)}")
        try:
            value = float(row["time_s"])
        except (TypeError, ValueError):
            raise ValueError(f"{path}: row {row_number}: column 'time_s': not a number: {row['time_s']!r}") from None
        if not math.isfinite(value) or value < previous:
            raise ValueError(
                f"{path}: row {row_number}: column 'time_s': must be finite and non-decreasing, got {value}"
            )
        times.append(value)
        previous = value
    if not times:
        raise ValueError(f"{path}: no arrival rows")
    return tuple(times)


@dataclass(frozen=True)
class ReplayArrivals:
    """Arrival times replayed from a CSV file with a ``time_s`` column (seconds, sorted).

    ``rate_scale`` compresses time (2.0 plays the trace twice as fast). When an episode
    needs more arrivals than the file holds, the trace repeats, shifted by its length.
    """

    path: str
    rate_scale: float = 1.0

    def __post_init__(self) -> None:
        if not os.path.isfile(self.path):
            raise ValueError(f"ReplayArrivals: no such arrival trace file: {self.path}")
        _check_rate("ReplayArrivals(rate_scale)", self.rate_scale)
        _read_replay(str(Path(self.path).resolve()))

    def _times(self) -> np.ndarray:
        return np.asarray(_read_replay(str(Path(self.path).resolve())))

    @property
    def mean_rate(self) -> float:
        times = self._times()
        span = float(times[-1]) if times[-1] > 0 else 1.0
        return self.rate_scale * times.size / span

    def with_rate(self, rate: float) -> ReplayArrivals:
        _check_rate("ReplayArrivals", rate)
        return replace(self, rate_scale=self.rate_scale * rate / self.mean_rate)

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray:
        times = self._times()
        span = float(times[-1]) if times[-1] > 0 else 1.0
        reps = -(-count // times.size)
        tiled = np.concatenate([times + i * span for i in range(reps)])[:count]
        return tiled / self.rate_scale


@dataclass(frozen=True)
class FixedArrivals:
    """Arrivals at exactly the given times (seconds, sorted): for hand-made episodes.

    No randomness. An episode that needs more arrivals than given gets the rest at
    ``pad_s`` (default 1e9 s: after any time limit, i.e. never within an episode).
    """

    times: tuple[float, ...]
    pad_s: float = 1e9

    def __post_init__(self) -> None:
        times = self.times
        if not all(is_real(t) and t >= 0 for t in times) or any(b < a for a, b in zip(times, times[1:])):
            raise ValueError(f"FixedArrivals: times must be finite, non-negative and sorted, got {times}")
        if not (is_real(self.pad_s) and self.pad_s >= (times[-1] if times else 0.0)):
            raise ValueError(
                f"FixedArrivals: pad_s must be a finite time at or after the last given time, got {self.pad_s!r}"
            )

    @property
    def mean_rate(self) -> float:
        span = self.times[-1] if self.times and self.times[-1] > 0 else 1.0
        return max(len(self.times), 1) / span

    def with_rate(self, rate: float) -> FixedArrivals:
        return self

    def sample_times(self, rng: np.random.Generator, count: int) -> np.ndarray:
        out = self.pad_s + np.arange(count, dtype=float)
        n = min(count, len(self.times))
        out[:n] = self.times[:n]
        return out


@dataclass(frozen=True)
class RequestClass:
    """A kind of request: model, image size, SLO, and its share of a stream's arrivals."""

    model: str
    width: int
    height: int
    slo_s: float
    weight: float = 1.0

    def __post_init__(self) -> None:
        for field in ("width", "height"):
            value = getattr(self, field)
            if not is_int(value) or value <= 0:
                raise ValueError(f"RequestClass {self.model}: {field} must be a positive integer, got {value!r}")
        _check_positive(f"RequestClass {self.model}", "slo_s", self.slo_s)
        _check_positive(f"RequestClass {self.model}", "weight", self.weight)

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class StreamSpec:
    """One site's request stream: where requests originate, when, and which kinds."""

    site: int
    arrivals: ArrivalProcess
    classes: tuple[int, ...]
    """Indices into the scenario's request classes that this stream draws from."""


@dataclass(frozen=True)
class RequestBatch:
    """An episode's requests, sorted by arrival time (arrays of equal length)."""

    arrival_s: np.ndarray
    class_index: np.ndarray
    site: np.ndarray
    degree: np.ndarray
    """Degree each task demands; 0 where the scheduler chooses."""

    def __len__(self) -> int:
        return int(self.arrival_s.size)


def generate_requests(
    rng: np.random.Generator,
    streams: tuple[StreamSpec, ...],
    class_weights: tuple[float, ...],
    num_tasks: int,
    initial_queue: int = 0,
    task_degrees: tuple[int, ...] | None = None,
) -> RequestBatch:
    """Draw an episode of ``num_tasks`` requests from the superposed site streams.

    The first ``initial_queue`` tasks arrive at time 0 (the paper's full starting queue),
    spread over the streams in proportion to their rates. ``task_degrees``, when given,
    makes each task demand a degree drawn uniformly from it (the paper's setting).
    Called at every reset, so single-stream and single-class cases skip the merging.
    """
    if num_tasks <= 0:
        raise ValueError(f"num_tasks must be positive, got {num_tasks}")
    if not 0 <= initial_queue <= num_tasks:
        raise ValueError(f"initial_queue must lie in 0..num_tasks ({num_tasks}), got {initial_queue}")
    if not streams:
        raise ValueError("generate_requests needs at least one stream")
    later = max(num_tasks - initial_queue, 0)
    if len(streams) == 1:
        times = streams[0].arrivals.sample_times(rng, later) if later else np.empty(0)
        stream_of = np.zeros(num_tasks, dtype=np.int64)
    else:
        rates = np.array([stream.arrivals.mean_rate for stream in streams])
        all_times = (
            np.concatenate([stream.arrivals.sample_times(rng, later) for stream in streams]) if later else np.empty(0)
        )
        all_origin = np.repeat(np.arange(len(streams)), later)
        order = np.argsort(all_times, kind="stable")[:later]
        times = all_times[order]
        first = np.searchsorted(np.cumsum(rates / rates.sum()), rng.random(initial_queue), side="right")
        stream_of = np.concatenate([np.minimum(first, len(streams) - 1), all_origin[order]])
    arrival = np.concatenate([np.zeros(initial_queue), times]) if initial_queue else times
    class_index = np.empty(num_tasks, dtype=np.int64)
    for index, stream in enumerate(streams):
        chosen = stream_of == index if len(streams) > 1 else slice(None)
        allowed = stream.classes
        if len(allowed) == 1:
            class_index[chosen] = allowed[0]
            continue
        count = int(np.count_nonzero(chosen)) if len(streams) > 1 else num_tasks
        cumulative = np.cumsum([class_weights[c] for c in allowed])
        picks = np.searchsorted(cumulative / cumulative[-1], rng.random(count), side="right")
        class_index[chosen] = np.asarray(allowed)[np.minimum(picks, len(allowed) - 1)]
    site = np.array([stream.site for stream in streams], dtype=np.int64)[stream_of]
    if task_degrees:
        degree = np.asarray(task_degrees, dtype=np.int64)[rng.integers(len(task_degrees), size=num_tasks)]
    else:
        degree = np.zeros(num_tasks, dtype=np.int64)
    return RequestBatch(arrival_s=arrival, class_index=class_index, site=site, degree=degree)
