"""Tests for eat_bench.sim.profiles and the shipped traces."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eat_bench.sim import profiles
from eat_bench.sim.profiles import (
    KNOWN_GPUS,
    ROW_KINDS,
    TRACE_COLUMNS,
    ProfileLookupError,
    ProfileRow,
    ProfileTrace,
    TraceError,
    available_traces,
    load_trace,
    write_trace,
)

ROOT = Path(__file__).resolve().parents[2]
DEGREES = (1, 2, 4, 8)
EDGE_GPUS = ("T4", "RTX3090", "RTX4090", "A100", "H100", "Jetson-AGX-Orin")


def _row(**kw: object) -> ProfileRow:
    base: dict[str, object] = dict(
        gpu="A100", model="sd15", width=512, height=512, degree=1, step_s=0.05,
        overhead_s=0.0, load_s=24.0, kind="measured", source="test", note="",
    )  # fmt: skip
    base.update(kw)
    return ProfileRow(**base)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- schema
def test_public_constants() -> None:
    assert TRACE_COLUMNS == (
        "gpu", "model", "width", "height", "degree", "step_s", "overhead_s", "load_s", "kind", "source", "note",
    )  # fmt: skip
    assert ROW_KINDS == ("measured", "published", "derived")
    for gpu in ("T4", "V100", "A10", "RTX3090", "RTX4090", "A100", "H100", "H200", "Jetson-AGX-Orin", "paper-gpu"):
        assert gpu in KNOWN_GPUS and KNOWN_GPUS[gpu].strip()
    assert issubclass(TraceError, ValueError)
    assert issubclass(ProfileLookupError, ValueError) and not issubclass(ProfileLookupError, KeyError)


def test_row_service_time_and_key() -> None:
    row = _row(step_s=0.1, overhead_s=0.5, degree=2)
    assert row.service_s(20) == pytest.approx(2.5)
    assert row.key == ("A100", "sd15", 512, 512, 2)
    assert isinstance(_row(step_s=1).step_s, float)


@pytest.mark.parametrize(
    ("field", "value"),
    [("step_s", 0.0), ("step_s", math.nan), ("overhead_s", -1.0), ("load_s", math.inf), ("width", 0),
     ("degree", 1.5), ("gpu", "GTX1080"), ("kind", "guess"), ("source", " ")],
)  # fmt: skip
def test_row_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"ProfileRow.{field}"):
        _row(**{field: value})


def test_import_is_cheap_and_core_only() -> None:
    """profiles and quality import no gymnasium/torch/pettingzoo and read no data on import.

    The parent packages are stubbed so that only these two modules are measured
    (``eat_bench/__init__.py`` registers the Gymnasium envs by design).
    """
    code = (
        "import sys, types;"
        f"root = {str(ROOT / 'eat_bench')!r};"
        "pkg = types.ModuleType('eat_bench'); pkg.__path__ = [root]; sys.modules['eat_bench'] = pkg;"
        "sim = types.ModuleType('eat_bench.sim'); sim.__path__ = [root + '/sim']; sys.modules['eat_bench.sim'] = sim;"
        "import eat_bench.sim.profiles as p, eat_bench.sim.quality;"
        "assert p._load_shipped.cache_info().currsize == 0;"
        "bad = [m for m in ('gymnasium', 'torch', 'pettingzoo') if m in sys.modules];"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- shipped traces
def test_available_traces_all_load_and_are_cached() -> None:
    assert available_traces() == ("eat-paper", "a100-distrifusion", "edge-mixed")
    for name in available_traces():
        trace = load_trace(name)
        assert trace.name == name and Path(trace.path).is_file()
        assert load_trace(name) is trace
        for row in trace.rows:
            assert row.kind in ROW_KINDS and row.source.strip()


def test_unknown_trace_name_lists_available() -> None:
    with pytest.raises(ValueError) as err:
        load_trace("no-such-trace")
    for name in available_traces():
        assert name in str(err.value)


def test_eat_paper_constants() -> None:
    trace = load_trace("eat-paper")
    assert trace.gpus() == ("paper-gpu",) and trace.models() == ("sd14",)
    assert trace.degrees() == DEGREES
    expected = {1: (0.315, 24.0), 2: (0.15625, 24.0), 4: (0.14, 32.0), 8: (0.1, 30.0)}
    for k, (step, load) in expected.items():
        row = trace.lookup("paper-gpu", "sd14", 512, 512, k)
        assert (row.step_s, row.overhead_s, row.load_s, row.kind) == (step, 0.0, load, "published")


# DistriFusion (Li et al., CVPR 2024) Table 1 / Figure 6: SDXL, A100, DDIM.
DF_50 = {
    (1024, 1): 5.02, (1024, 2): 3.35, (1024, 4): 2.26, (1024, 8): 1.77,
    (2048, 1): 23.7, (2048, 2): 13.3, (2048, 4): 7.60, (2048, 8): 4.81,
    (3840, 1): 140.0, (3840, 2): 76.6, (3840, 4): 41.3, (3840, 8): 22.9,
}  # fmt: skip
DF_25 = {(1024, 1): 2.52, (1024, 8): 0.93}


def test_a100_distrifusion_reproduces_published_latencies() -> None:
    trace = load_trace("a100-distrifusion")
    assert len(trace.rows) == 12 and trace.gpus() == ("A100",) and trace.models() == ("sdxl",)
    assert trace.resolutions() == ((1024, 1024), (2048, 2048), (3840, 3840))
    for (side, k), latency in DF_50.items():
        row = trace.lookup("A100", "sdxl", side, side, k)
        assert row.service_s(50) == pytest.approx(latency, rel=1e-5)
        assert row.kind == ("published" if (side, k) in DF_25 else "derived")
    for (side, k), latency in DF_25.items():
        assert trace.lookup("A100", "sdxl", side, side, k).service_s(25) == pytest.approx(latency, rel=1e-5)
    one = trace.lookup("A100", "sdxl", 1024, 1024, 1)
    assert (one.step_s, one.overhead_s) == (0.1, 0.02)
    eight = trace.lookup("A100", "sdxl", 1024, 1024, 8)
    assert (eight.step_s, eight.overhead_s) == (0.0336, 0.09)
    # DPM-Solver 10 steps, 1 GPU (DistriFusion Figure 8): 1.01 s; not used in the fit.
    assert one.service_s(10) == pytest.approx(1.01, abs=0.02)


def test_edge_mixed_covers_every_combination() -> None:
    trace = load_trace("edge-mixed")
    assert len(trace.rows) == 72
    assert set(trace.gpus()) == set(EDGE_GPUS)
    for gpu in EDGE_GPUS:
        for model, side in (("sd15", 512), ("sd15", 768), ("sdxl", 1024)):
            for k in DEGREES:
                assert trace.has(gpu, model, side, side, k), (gpu, model, side, k)
                row = trace.lookup(gpu, model, side, side, k)
                if k > 1 and (gpu, model, k) != ("A100", "sdxl", 8):
                    assert row.kind == "derived"


def test_edge_mixed_plausible_single_gpu_figures() -> None:
    trace = load_trace("edge-mixed")

    def step(gpu: str, model: str, side: int, k: int = 1) -> float:
        return trace.lookup(gpu, model, side, side, k).step_s

    # diffusers torch2.0 table (eager it/s): T4 6.9, RTX4090 40.5, RTX3090 22.56, A100 21.66.
    assert step("T4", "sd15", 512) == pytest.approx(0.145, abs=0.001)
    assert step("RTX4090", "sd15", 512) == pytest.approx(0.025, abs=0.001)
    assert step("RTX3090", "sd15", 512) == pytest.approx(1 / 22.56, rel=1e-5)
    assert step("A100", "sd15", 512) == pytest.approx(1 / 21.66, rel=1e-5)
    assert step("H100", "sd15", 512) == pytest.approx(1 / 21.66 * 1.44 / 1.96, rel=1e-5)
    assert step("Jetson-AGX-Orin", "sd15", 512) == pytest.approx(2.2 / 20)
    assert step("A100", "sdxl", 1024) == 0.1
    assert step("H100", "sdxl", 1024) == pytest.approx(0.1 * 2.496 / 3.704, rel=1e-5)
    assert step("T4", "sdxl", 1024) == pytest.approx(0.1 * 21.66 / 6.9, rel=1e-5)
    assert step("Jetson-AGX-Orin", "sdxl", 1024) == pytest.approx(23.1 / 20)
    res_factor = 2.25 ** (math.log(23.7 / 5.02) / math.log(4))
    for gpu in EDGE_GPUS:
        assert step(gpu, "sd15", 768) == pytest.approx(step(gpu, "sd15", 512) * res_factor, rel=1e-5)
        assert step(gpu, "sdxl", 1024) > step(gpu, "sd15", 512)
        for model, side in (("sd15", 512), ("sd15", 768), ("sdxl", 1024)):
            steps = [step(gpu, model, side, k) for k in DEGREES]
            assert steps == sorted(steps, reverse=True), (gpu, model, side)
            if (gpu, model) != ("A100", "sdxl"):
                for k, speedup in ((2, 1.5), (4, 2.2), (8, 2.8)):
                    assert steps[0] / step(gpu, model, side, k) == pytest.approx(speedup, rel=1e-5)
    # A100 SDXL 1024 rows are DistriFusion's own rows.
    df = load_trace("a100-distrifusion")
    for k in DEGREES:
        assert trace.lookup("A100", "sdxl", 1024, 1024, k) == df.lookup("A100", "sdxl", 1024, 1024, k)


def test_edge_mixed_cold_start_rules() -> None:
    trace = load_trace("edge-mixed")
    factor = {1: 1.0, 2: 1.0, 4: 32 / 24, 8: 30 / 24}
    sdxl_ratio = (2600 + 817 + 84) / (860 + 123 + 84)
    for gpu in EDGE_GPUS:
        base = 40.0 if gpu == "T4" else 24.0
        for k in DEGREES:
            for side in (512, 768):
                assert trace.lookup(gpu, "sd15", side, side, k).load_s == pytest.approx(base * factor[k], abs=0.05)
            sdxl = trace.lookup(gpu, "sdxl", 1024, 1024, k).load_s
            assert sdxl == pytest.approx(base * sdxl_ratio * factor[k], abs=0.05)


def test_build_script_regenerates_shipped_csvs() -> None:
    spec = importlib.util.spec_from_file_location("build_traces", ROOT / "scripts" / "build_traces.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
    for name, rows in module.build_all().items():
        assert tuple(rows) == load_trace(name).rows


# ----------------------------------------------------------------------------- lookup
def test_lookup_missing_key_names_trace_key_and_listing() -> None:
    trace = load_trace("edge-mixed")
    assert not trace.has("T4", "sdxl", 2048, 2048, 1)
    with pytest.raises(ProfileLookupError) as err:
        trace.lookup("T4", "sdxl", 2048, 2048, 1)
    msg = str(err.value)
    for part in ("edge-mixed", "'T4'", "'sdxl'", "2048x2048", "degree=1", "sd15 512x512 degrees 1,2,4,8"):
        assert part in msg
    with pytest.raises(ValueError, match="GPU 'H200' is not in this trace; its GPUs: T4, RTX3090"):
        trace.lookup("H200", "sd15", 512, 512, 1)


def test_trace_helpers() -> None:
    trace = load_trace("edge-mixed")
    assert trace.models("T4") == ("sd15", "sdxl")
    assert trace.degrees("T4", "sdxl", 1024, 1024) == DEGREES
    assert trace.resolutions("A100", "sd15") == ((512, 512), (768, 768))


def test_trace_rejects_duplicate_rows_in_memory() -> None:
    with pytest.raises(TraceError, match="row 3, column 'degree': duplicate key"):
        ProfileTrace(name="x", path="mem", rows=(_row(), _row()))


# ----------------------------------------------------------------------------- malformed CSVs
GOOD = ["A100", "sd15", "512", "512", "1", "0.05", "0.0", "24", "measured", "test", ""]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _with(col: str, value: str) -> list[str]:
    cells = list(GOOD)
    cells[TRACE_COLUMNS.index(col)] = value
    if col != "degree":
        cells[TRACE_COLUMNS.index("degree")] = "2"  # distinct key from the first (good) row
    return cells


BAD_CELLS = [
    ("step_s", ""), ("step_s", "fast"), ("step_s", "0"), ("step_s", "-0.1"), ("step_s", "nan"),
    ("overhead_s", "NaN"), ("overhead_s", "-1"), ("load_s", "inf"), ("load_s", "-5"),
    ("load_s", "1e400"), ("width", "512.5"), ("width", "wide"), ("height", "0"),
    ("degree", "-2"), ("degree", ""), ("gpu", "GTX1080"), ("gpu", ""), ("model", ""),
    ("kind", "guessed"), ("source", ""),
]  # fmt: skip


@pytest.mark.parametrize(("column", "value"), BAD_CELLS)
def test_bad_cell_names_file_row_column(tmp_path: Path, column: str, value: str) -> None:
    path = _write_csv(tmp_path / "bad_trace.csv", list(TRACE_COLUMNS), [GOOD, _with(column, value)])
    with pytest.raises(TraceError) as err:
        load_trace(path)
    msg = str(err.value)
    assert "bad_trace.csv" in msg and "row 3" in msg and f"column '{column}'" in msg
    assert (err.value.row, err.value.column) == (3, column)


@pytest.mark.parametrize("missing", TRACE_COLUMNS)
def test_missing_header_column(tmp_path: Path, missing: str) -> None:
    header = [c for c in TRACE_COLUMNS if c != missing]
    rows = [[v for c, v in zip(TRACE_COLUMNS, GOOD) if c != missing]]
    path = _write_csv(tmp_path / "nohdr.csv", header, rows)
    with pytest.raises(TraceError) as err:
        load_trace(str(path))
    msg = str(err.value)
    assert "nohdr.csv" in msg and "row 1" in msg and f"column '{missing}'" in msg and "missing column" in msg


def test_duplicate_key_row(tmp_path: Path) -> None:
    other = list(GOOD)
    other[TRACE_COLUMNS.index("degree")] = "2"
    path = _write_csv(tmp_path / "dup.csv", list(TRACE_COLUMNS), [GOOD, other, list(GOOD)])
    with pytest.raises(TraceError) as err:
        load_trace(path)
    msg = str(err.value)
    assert "dup.csv" in msg and "row 4" in msg and "column 'degree'" in msg and "first seen in row 2" in msg


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TraceError, match=r"empty\.csv, row 1: empty file"):
        load_trace(empty)
    header_only = _write_csv(tmp_path / "hdr.csv", list(TRACE_COLUMNS), [])
    with pytest.raises(TraceError, match=r"hdr\.csv, row 2: empty file: a header but no data rows"):
        load_trace(header_only)


def test_short_and_long_rows(tmp_path: Path) -> None:
    short = _write_csv(tmp_path / "short.csv", list(TRACE_COLUMNS), [GOOD[:7]])
    with pytest.raises(TraceError, match=r"short\.csv, row 2, column 'load_s': missing value"):
        load_trace(short)
    long = _write_csv(tmp_path / "long.csv", list(TRACE_COLUMNS), [GOOD + ["extra"]])
    with pytest.raises(TraceError, match=r"long\.csv, row 2, column 'note': 12 cells"):
        load_trace(long)


def test_user_csv_with_extra_column_and_reordered_header(tmp_path: Path) -> None:
    header = list(reversed(TRACE_COLUMNS)) + ["comment"]
    path = _write_csv(tmp_path / "mine.csv", header, [list(reversed(GOOD)) + ["hi"]])
    trace = load_trace(path)
    assert trace.name == "mine" and trace.rows == (_row(load_s=24.0),)


# ----------------------------------------------------------------------------- writing
def test_write_trace_round_trip_no_temp_files(tmp_path: Path) -> None:
    rows = load_trace("edge-mixed").rows
    target = tmp_path / "copy.csv"
    write_trace(target, rows, name="copy")
    assert os.listdir(tmp_path) == ["copy.csv"]
    again = load_trace(target)
    assert again.rows == rows and again.name == "copy"
    assert target.read_bytes() == Path(load_trace("edge-mixed").path).read_bytes()


def test_write_trace_validates_before_touching_target(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    write_trace(target, [_row()])
    before = target.read_bytes()
    with pytest.raises(TraceError, match=r"t\.csv \(trace 'x'\), row 3, column 'degree': duplicate key"):
        write_trace(target, [_row(), _row()], name="x")
    with pytest.raises(TraceError, match="no rows"):
        write_trace(target, [])
    bad = _row()
    object.__setattr__(bad, "step_s", -1.0)  # bypass the constructor's check
    with pytest.raises(TraceError, match=r"row 2, column 'step_s'"):
        write_trace(target, [bad])
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.csv"]


def test_write_trace_is_atomic_when_replace_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t.csv"
    write_trace(target, [_row()])
    before = target.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(profiles.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_trace(target, [_row(step_s=0.07)])
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.csv"]


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), max_size=20)
_rows = st.builds(
    ProfileRow,
    gpu=st.sampled_from(sorted(KNOWN_GPUS)),
    model=st.sampled_from(["sd15", "sdxl", "x"]),
    width=st.integers(1, 8192),
    height=st.integers(1, 8192),
    degree=st.integers(1, 64),
    step_s=st.floats(min_value=1e-9, max_value=1e6, allow_nan=False),
    overhead_s=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    load_s=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    kind=st.sampled_from(ROW_KINDS),
    source=_text.filter(lambda s: s.strip() != "" and s == s.strip()),
    note=_text.map(str.strip),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(_rows, min_size=1, max_size=8, unique_by=lambda r: r.key))
def test_write_load_round_trip_property(tmp_path_factory: pytest.TempPathFactory, rows: list[ProfileRow]) -> None:
    path = tmp_path_factory.mktemp("rt") / "rt.csv"
    write_trace(path, rows)
    assert load_trace(path).rows == tuple(rows)
