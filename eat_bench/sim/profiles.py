"""GPU profile traces: the CSV schema, a validating loader, a writer and latency lookup.

A trace is a CSV file with one row per ``(gpu, model, width, height, degree)`` key and the
columns of :data:`TRACE_COLUMNS`. For ``s`` denoising steps on a warm group of ``degree``
GPUs, service seconds are ``overhead_s + s * step_s``; ``load_s`` is the cold-start (model
load) time for such a group. ``kind`` says where ``step_s`` and ``overhead_s`` come from
(``measured`` on real hardware, ``published`` figure, or ``derived`` with a stated rule);
the provenance of ``load_s`` is given in ``note`` and in ``eat_bench/traces/DATASHEET.md``.

Row numbers in error messages count CSV records with the header as row 1, so the first
data row is row 2 (the line number in the file unless a quoted cell spans lines).

Importing this module is cheap: nothing is read until :func:`load_trace` is called.
"""

from __future__ import annotations

import csv
import functools
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from eat_bench.sim.gpus import GPUS

__all__ = [
    "LatencyModel",
    "TRACE_COLUMNS",
    "ROW_KINDS",
    "KNOWN_GPUS",
    "TraceError",
    "ProfileLookupError",
    "ProfileRow",
    "ProfileTrace",
    "available_traces",
    "load_trace",
    "write_trace",
]

TRACE_COLUMNS: tuple[str, ...] = (
    "gpu",
    "model",
    "width",
    "height",
    "degree",
    "step_s",
    "overhead_s",
    "load_s",
    "kind",
    "source",
    "note",
)
ROW_KINDS: tuple[str, ...] = ("measured", "published", "derived")

KNOWN_GPUS: dict[str, str] = {gpu.name: gpu.description for gpu in GPUS}
"""GPU name -> description, from the registry :data:`eat_bench.sim.gpus.GPUS` (add a GPU kind there)."""

_SHIPPED: tuple[str, ...] = ("eat-paper", "a100-distrifusion", "edge-mixed")
_INT_COLUMNS = ("width", "height", "degree")
_POSITIVE_FLOATS = ("step_s",)
_NON_NEGATIVE_FLOATS = ("overhead_s", "load_s")
_REQUIRED_TEXT = ("gpu", "model", "kind", "source")


class TraceError(ValueError):
    """A malformed trace. The message names the file, the row and the column.

    Rows count CSV records with the header as row 1 (first data row = row 2).
    ``path``, ``row`` and ``column`` are kept as attributes (``None`` when not applicable).
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | os.PathLike[str] | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        self.row = row
        self.column = column
        where = []
        if self.path is not None:
            where.append(f"{self.path}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)


class ProfileLookupError(ValueError):
    """A trace has no row for the requested (gpu, model, resolution, degree) key."""


def _value_problem(column: str, value: object) -> str | None:
    """Why ``value`` is not acceptable for ``column``, or ``None`` if it is."""
    if column in _INT_COLUMNS:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
        if value <= 0:
            return f"must be a positive integer, got {value}"
        return None
    if column in _POSITIVE_FLOATS or column in _NON_NEGATIVE_FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if column in _POSITIVE_FLOATS and value <= 0:
            return f"must be > 0 seconds, got {value!r}"
        if value < 0:
            return f"must be >= 0 seconds, got {value!r}"
        return None
    if not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if column in _REQUIRED_TEXT and not value.strip():
        return "is empty"
    if column == "gpu" and value not in KNOWN_GPUS:
        return f"unknown GPU {value!r}; known GPUs: {', '.join(KNOWN_GPUS)}"
    if column == "kind" and value not in ROW_KINDS:
        return f"kind must be one of {', '.join(ROW_KINDS)}, got {value!r}"
    return None


@dataclass(frozen=True)
class ProfileRow:
    """One (gpu, model, resolution, degree) profile.

    Service seconds for ``s`` steps on a warm group = ``overhead_s + s * step_s``;
    ``load_s`` = seconds to (re)load the model on a group of this degree (cold start).
    """

    gpu: str
    model: str
    width: int
    height: int
    degree: int
    step_s: float
    overhead_s: float
    load_s: float
    kind: str
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = _value_problem(f.name, getattr(self, f.name))
            if problem is not None:
                raise ValueError(f"ProfileRow.{f.name} {problem}")
        for name in ("step_s", "overhead_s", "load_s"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def key(self) -> tuple[str, str, int, int, int]:
        """The row's unique key: (gpu, model, width, height, degree)."""
        return (self.gpu, self.model, self.width, self.height, self.degree)

    def service_s(self, steps: int) -> float:
        """Seconds to run ``steps`` denoising steps on a warm group."""
        return self.overhead_s + steps * self.step_s


@dataclass(frozen=True)
class ProfileTrace:
    """A validated set of profile rows with unique keys, indexed for O(1) lookup."""

    name: str
    path: str
    rows: tuple[ProfileRow, ...]
    _index: dict[tuple[str, str, int, int, int], ProfileRow] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str, int, int, int], ProfileRow] = {}
        for i, row in enumerate(self.rows, start=2):
            if not isinstance(row, ProfileRow):
                raise TraceError(f"expected a ProfileRow, got {type(row).__name__}", path=self.path, row=i)
            if row.key in index:
                first = 2 + self.rows.index(index[row.key])
                raise TraceError(
                    f"duplicate key {_fmt_key(row.key)} (first seen in row {first})",
                    path=self.path,
                    row=i,
                    column="degree",
                )
            index[row.key] = row
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "_index", index)

    def gpus(self) -> tuple[str, ...]:
        """GPU names in this trace, in order of first appearance."""
        return tuple(dict.fromkeys(r.gpu for r in self.rows))

    def models(self, gpu: str | None = None) -> tuple[str, ...]:
        """Model names (for one GPU if given), in order of first appearance."""
        return tuple(dict.fromkeys(r.model for r in self.rows if gpu is None or r.gpu == gpu))

    def resolutions(self, gpu: str | None = None, model: str | None = None) -> tuple[tuple[int, int], ...]:
        """Distinct (width, height) pairs, optionally for one GPU and/or model, sorted."""
        return tuple(
            sorted(
                {
                    (r.width, r.height)
                    for r in self.rows
                    if (gpu is None or r.gpu == gpu) and (model is None or r.model == model)
                }
            )
        )

    def degrees(
        self,
        gpu: str | None = None,
        model: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> tuple[int, ...]:
        """Distinct degrees, sorted; arguments left as ``None`` match everything."""
        return tuple(
            sorted(
                {
                    r.degree
                    for r in self.rows
                    if (gpu is None or r.gpu == gpu)
                    and (model is None or r.model == model)
                    and (width is None or r.width == width)
                    and (height is None or r.height == height)
                }
            )
        )

    def has(self, gpu: str, model: str, width: int, height: int, degree: int) -> bool:
        """Whether a row exists for this exact key."""
        return (gpu, model, width, height, degree) in self._index

    def lookup(self, gpu: str, model: str, width: int, height: int, degree: int) -> ProfileRow:
        """The row for this exact key; :class:`ProfileLookupError` (a ValueError) if absent."""
        row = self._index.get((gpu, model, width, height, degree))
        if row is not None:
            return row
        key = _fmt_key((gpu, model, width, height, degree))
        if gpu not in self.gpus():
            detail = f"GPU {gpu!r} is not in this trace; its GPUs: {', '.join(self.gpus())}"
        else:
            groups: dict[tuple[str, int, int], list[int]] = {}
            for r in self.rows:
                if r.gpu == gpu:
                    groups.setdefault((r.model, r.width, r.height), []).append(r.degree)
            listing = "; ".join(
                f"{m} {w}x{h} degrees {','.join(str(d) for d in sorted(ds))}" for (m, w, h), ds in groups.items()
            )
            detail = f"rows for GPU {gpu!r}: {listing}"
        raise ProfileLookupError(f"trace '{self.name}' ({self.path}) has no row for {key}; {detail}")


def _fmt_key(key: tuple[str, str, int, int, int]) -> str:
    gpu, model, width, height, degree = key
    return f"(gpu={gpu!r}, model={model!r}, resolution={width}x{height}, degree={degree})"


# ----------------------------------------------------------------------------- reading
def _parse_cell(column: str, text: str) -> object:
    """Convert one stripped CSV cell; raises ValueError with the problem (no location)."""
    if column in _INT_COLUMNS:
        if text == "":
            raise ValueError("empty value")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"not an integer: {text!r}") from None
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(f"not an integer: {text!r}")
        return int(number)
    if column in _POSITIVE_FLOATS or column in _NON_NEGATIVE_FLOATS:
        if text == "":
            raise ValueError("empty value")
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"not a number: {text!r}") from None
    return text


def _read_rows(path: Path) -> tuple[ProfileRow, ...]:
    """Parse and validate a trace CSV; every problem is a TraceError naming file, row, column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text ({exc.reason})", path=path) from None
    except csv.Error as exc:
        raise TraceError(f"malformed CSV: {exc}", path=path) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise TraceError("empty file: no header row", path=path, row=1)
    header = [cell.strip() for cell in records[0]]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TraceError(f"duplicate column {name!r} in header", path=path, row=1, column=name)
        seen.add(name)
    for name in TRACE_COLUMNS:
        if name not in seen:
            raise TraceError(
                f"missing column {name!r} in header (need {', '.join(TRACE_COLUMNS)})",
                path=path,
                row=1,
                column=name,
            )
    position = {name: header.index(name) for name in TRACE_COLUMNS}
    rows: list[ProfileRow] = []
    first_row: dict[tuple[str, str, int, int, int], int] = {}
    for rownum, record in enumerate(records[1:], start=2):
        if not record or not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) > len(header):
            raise TraceError(
                f"{len(record)} cells but the header has {len(header)} columns",
                path=path,
                row=rownum,
                column=header[-1],
            )
        values: dict[str, object] = {}
        for name in TRACE_COLUMNS:
            i = position[name]
            if i >= len(record):
                raise TraceError("missing value (row has too few cells)", path=path, row=rownum, column=name)
            try:
                value = _parse_cell(name, record[i].strip())
            except ValueError as exc:
                raise TraceError(str(exc), path=path, row=rownum, column=name) from None
            problem = _value_problem(name, value)
            if problem is not None:
                raise TraceError(f"{name} {problem}", path=path, row=rownum, column=name)
            values[name] = value
        row = ProfileRow(**values)  # type: ignore[arg-type]
        if row.key in first_row:
            raise TraceError(
                f"duplicate key {_fmt_key(row.key)} (first seen in row {first_row[row.key]})",
                path=path,
                row=rownum,
                column="degree",
            )
        first_row[row.key] = rownum
        rows.append(row)
    if not rows:
        raise TraceError("empty file: a header but no data rows", path=path, row=2)
    return tuple(rows)


def _shipped_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "traces"


def available_traces() -> tuple[str, ...]:
    """Names of the traces shipped in ``eat_bench/traces``."""
    return _SHIPPED


@functools.cache
def _load_shipped(name: str) -> ProfileTrace:
    path = _shipped_dir() / f"{name}.csv"
    return ProfileTrace(name=name, path=str(path), rows=_read_rows(path))


def load_trace(name_or_path: str | os.PathLike[str]) -> ProfileTrace:
    """Load a shipped trace by name (cached) or a user CSV by path (read each call)."""
    if isinstance(name_or_path, str) and name_or_path in _SHIPPED:
        return _load_shipped(name_or_path)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"load_trace expects a trace name or a path, got {type(name_or_path).__name__}")
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"unknown trace {os.fspath(name_or_path)!r}: not a shipped trace and no such file; "
            f"shipped traces: {', '.join(_SHIPPED)}"
        )
    return ProfileTrace(name=path.stem, path=str(path), rows=_read_rows(path))


# ----------------------------------------------------------------------------- writing
def _fmt_cell(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_trace(
    path: str | os.PathLike[str],
    rows: Iterable[ProfileRow],
    name: str | None = None,
) -> None:
    """Validate ``rows`` and write them atomically as a trace CSV at ``path``.

    The file is written to a temporary file in the same directory, then moved into place
    with ``os.replace``; on any error the target is untouched and no temporary file is
    left. ``name`` (default: the file's stem) is only used in error messages.
    """
    target = Path(path)
    label = f"{target} (trace '{name}')" if name else str(target)
    rows = tuple(rows)
    if not rows:
        raise TraceError("no rows to write", path=label, row=2)
    seen: dict[tuple[str, str, int, int, int], int] = {}
    for rownum, row in enumerate(rows, start=2):
        if not isinstance(row, ProfileRow):
            raise TraceError(f"expected a ProfileRow, got {type(row).__name__}", path=label, row=rownum)
        for column in TRACE_COLUMNS:
            problem = _value_problem(column, getattr(row, column))
            if problem is not None:
                raise TraceError(f"{column} {problem}", path=label, row=rownum, column=column)
        if row.key in seen:
            raise TraceError(
                f"duplicate key {_fmt_key(row.key)} (first seen in row {seen[row.key]})",
                path=label,
                row=rownum,
                column="degree",
            )
        seen[row.key] = rownum
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(TRACE_COLUMNS)
            for row in rows:
                writer.writerow([_fmt_cell(getattr(row, c)) for c in TRACE_COLUMNS])
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; keep an existing file's mode, else 0644.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if target.resolve().parent == _shipped_dir() and target.stem in _SHIPPED:
        _load_shipped.cache_clear()


class LatencyModel:
    """A trace resolved for one cluster: per-server latency tables, fast to index.

    ``step_s[c][k][i]``, ``overhead_s[c][k][i]`` and ``load_s[c][k][i]`` are the trace's
    figures for request class ``c`` (a ``(model, width, height)``) at degree ``k`` on
    server ``i``. A gang runs at the pace of its slowest member: :meth:`service` takes the
    maximum over the group. Built once per env; the simulator reads it at every dispatch.
    """

    def __init__(
        self,
        trace: ProfileTrace,
        gpus: Sequence[str],
        requests: Sequence[tuple[str, int, int]],
        degrees: Sequence[int],
    ) -> None:
        self.trace = trace
        self.degrees = tuple(degrees)
        self.step_s: list[dict[int, list[float]]] = []
        self.overhead_s: list[dict[int, list[float]]] = []
        self.load_s: list[dict[int, list[float]]] = []
        for model, width, height in requests:
            rows = {k: [trace.lookup(gpu, model, width, height, k) for gpu in gpus] for k in self.degrees}
            self.step_s.append({k: [r.step_s for r in rows[k]] for k in self.degrees})
            self.overhead_s.append({k: [r.overhead_s for r in rows[k]] for k in self.degrees})
            self.load_s.append({k: [r.load_s for r in rows[k]] for k in self.degrees})

    def service(self, c: int, degree: int, steps: int, servers: Sequence[int], warm: bool) -> tuple[float, float]:
        """(cold start, compute) seconds of class ``c`` on ``servers`` for ``steps`` steps."""
        step, overhead = self.step_s[c][degree], self.overhead_s[c][degree]
        cold = 0.0 if warm else max(map(self.load_s[c][degree].__getitem__, servers))
        return cold, max(map(overhead.__getitem__, servers)) + steps * max(map(step.__getitem__, servers))
