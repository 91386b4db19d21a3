"""The trace recorder on the CPU with the tiny configs: valid traces, sane timings, clear errors."""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from eat_bench.cli import main  # noqa: E402
from eat_bench.profiling import ProfileError, require_profile_extra  # noqa: E402
from eat_bench.profiling.recorder import (  # noqa: E402
    RecordSpec,
    parse_resolutions,
    profile_to_csv,
    record_trace,
    trace_gpu_name,
)
from eat_bench.sim.profiles import load_trace  # noqa: E402

torch.set_num_threads(1)

FAST = dict(steps=3, repeats=3, warmup=1, load_repeats=1, threads=1)


@pytest.fixture(scope="module")
def tiny_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "cpu.csv"
    spec = RecordSpec(models=("tiny",), resolutions=((64, 64), (160, 160)), degrees=(1, 2), **FAST)
    profile_to_csv(spec, path, progress=False)
    return path


def test_recorded_trace_is_valid_and_measured(tiny_trace):
    trace = load_trace(tiny_trace)
    measured = [r for r in trace.rows if r.kind == "measured"]
    assert [(r.gpu, r.model, r.width, r.degree) for r in measured] == [("CPU", "tiny", 64, 1), ("CPU", "tiny", 160, 1)]
    for row in measured:
        assert row.step_s > 0 and row.overhead_s > 0 and row.load_s > 0
        for needle in ("device ", "dtype float32", "torch ", "diffusers ", "date ", "random weights", "min ", "max "):
            assert needle in row.note
    small, large = measured
    assert large.step_s > small.step_s  # 6.25x the latent pixels
    assert large.overhead_s > small.overhead_s  # the VAE decode grows with the image
    assert small.load_s == large.load_s  # one cold start per model


def test_derived_degree_rows_follow_distrifusion(tiny_trace):
    trace = load_trace(tiny_trace)
    one = trace.lookup("CPU", "tiny", 64, 64, 1)
    two = trace.lookup("CPU", "tiny", 64, 64, 2)
    assert two.kind == "derived"
    assert two.step_s == pytest.approx(one.step_s / 1.5, rel=1e-5)
    assert two.load_s == pytest.approx(one.load_s, rel=1e-5)


def test_env_loads_the_recorded_trace(tiny_trace, tmp_path):
    import gymnasium as gym

    import eat_bench  # noqa: F401
    from eat_bench.envs.single_agent import EatEdgeEnv
    from eat_bench.profiling.live import LiveSpec, live_scenario

    env = EatEdgeEnv(
        live_scenario(LiveSpec(trace=str(tiny_trace), tasks=5, step_levels=(2, 4)), load_trace(tiny_trace))
    )
    env.reset(seed=0)
    _, _, terminated, _, _ = env.step(env.action_space.sample())
    assert env.sim.config.servers[0].gpu == "CPU"
    # Merged into a shipped trace, the recording is usable by every registered scenario.
    merged = tmp_path / "merged.csv"
    rows = record_trace(RecordSpec(models=("tiny",), resolutions=((64, 64),), **FAST), progress=False)
    from eat_bench.profiling.recorder import merge_rows
    from eat_bench.sim.profiles import write_trace

    write_trace(merged, merge_rows(rows, "edge-mixed"))
    gym.make("EAT-Edge-v0", trace=str(merged)).reset(seed=0)
    assert load_trace(merged).rows[0].key == ("CPU", "tiny", 64, 64, 1)


def test_tiny_xl_has_text_time_conditioning():
    rows = record_trace(RecordSpec(models=("tiny-xl",), resolutions=((64, 64),), **FAST), progress=False)
    assert len(rows) == 1 and rows[0].model == "tiny-xl" and rows[0].step_s > 0


def test_parse_resolutions():
    assert parse_resolutions("512, 768x512,512") == ((512, 512), (768, 512))
    with pytest.raises(ProfileError, match="WIDTHxHEIGHT"):
        parse_resolutions("big")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(models=("sd3",)), "unknown model 'sd3'; known models: sd15, sdxl, tiny"),
        (dict(resolutions=((60, 60),)), "multiples of 8"),
        (dict(steps=0), "--steps must be an integer >= 1"),
        (dict(gpu_name="GTX480"), "unknown GPU 'GTX480'"),
        (dict(degrees=(1, 3)), "--degrees: 3"),
        (dict(degrees=(1, 2), parallel="measure"), "not implemented"),
        (dict(weights="/no/such/dir"), "no such folder"),
    ],
)
def test_bad_input_is_a_clear_error(changes, message):
    spec = dict(models=("tiny",), resolutions=((64, 64),))
    spec.update(changes)
    with pytest.raises(ProfileError, match=message):
        RecordSpec(**spec).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ProfileError, match="CUDA is not available"):
        RecordSpec(models=("tiny",), resolutions=((64, 64),), device="cuda").validate()


def test_unknown_gpu_names_itself_and_the_fix():
    assert trace_gpu_name("cpu", "AMD EPYC") == "CPU"
    assert trace_gpu_name("cuda", "NVIDIA H100 80GB HBM3") == "H100"
    assert trace_gpu_name("cuda", "NVIDIA A100-SXM4-80GB") == "A100"
    with pytest.raises(ProfileError, match=r"'Fancy GPU 9000'.*--gpu-name.*KNOWN_GPUS"):
        trace_gpu_name("cuda", "Fancy GPU 9000")


def test_cli_profile_writes_a_trace(tmp_path, capsys):
    out = tmp_path / "cpu.csv"
    args = ["profile", "--model", "tiny", "--resolutions", "64", "--steps", "2", "--repeats", "2", "--warmup", "1"]
    assert main([*args, "--load-repeats", "1", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    assert load_trace(out).rows[0].kind == "measured"
    assert "wrote 1 rows" in capsys.readouterr().out
    assert main(["profile", "--model", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_missing_profile_extra_says_how_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "diffusers" else real(name, *a))
    with pytest.raises(ProfileError, match=r'pip install -e "\.\[profile\]"'):
        require_profile_extra()
    assert main(["profile", "--model", "tiny", "--out", "x.csv"]) == 2
    assert "missing: diffusers" in capsys.readouterr().err
