"""firmware_harness defects found while measuring it (issue 16), each caught here:

- the arena plan reuses the input buffer (op3's PAD wrote over it), so only the first of `infer N W`'s runs
  saw the loaded window: every run must see it, so `infer 3 2` must print TFLM's outputs for that window;
- `bench/runner.py` zipped firmware outputs with TFLM's without checking their count;
- `bench --target host` built only the portable kernels: both paths are checked against TFLM;
- the tick sum of `infer` was a uint32 (wrapped above ~168 M instructions per batch).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from edgeppg.bench.build import build  # noqa: E402
from edgeppg.bench.protocol import Harness  # noqa: E402
from edgeppg.errors import CheckFailed  # noqa: E402
from edgeppg.firmware.codegen import write_model  # noqa: E402
from edgeppg.int8.tflm import tflm_outputs  # noqa: E402

pytestmark = [pytest.mark.toolchain,
              pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                                 reason="gcc/make not installed")]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from tests.fixtures.testmodel import make_test_export
    return make_test_export(tmp_path_factory.mktemp("export"), preset="s5k", seed=3, n_test=6)


@pytest.fixture(scope="module")
def model_dir(export_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    write_model(export_dir / "student_int8.tflite", d)
    return d


@pytest.mark.parametrize("opt", [False, True])
def test_every_timed_run_sees_the_loaded_window(export_dir, model_dir, tmp_path, opt):
    exe = build(model_dir, "host-asan", tmp_path, opt=opt)
    rng = np.random.default_rng(11)
    xs = rng.integers(-128, 128, size=(3, 512, 1), dtype=np.int8)
    ref = tflm_outputs(export_dir / "student_int8.tflite", xs, 3)
    with Harness([str(exe)]) as h:
        for x, want in zip(xs, ref):
            h.load(x)
            for runs, warm in ((3, 2), (1, 0), (2, 5)):  # the outputs printed are the last timed run's
                _, got = h.infer(runs, warm)
                assert len(got) == len(want)
                assert all(np.array_equal(a, b) for a, b in zip(got, want)), (runs, warm)
            h.layers()  # layer-by-layer timing runs the model too; the window must survive it as well
            _, got = h.infer(1, 0)
            assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_tick_sum_is_64_bit(model_dir, tmp_path):
    """EPPG_HOST_FAKE_TICK: the host timer advances by a fixed step per read, so each run is 3e9 ticks and
    3 runs sum to 9e9 (> 2^32)."""
    exe = build(model_dir, "host", tmp_path)
    with Harness([str(exe)], env={"EPPG_HOST_FAKE_TICK": "3000000000"}) as h:
        h.load(np.zeros((512, 1), np.int8))
        t, _ = h.infer(3, 1)
    assert (t["min"], t["max"], t["total"]) == (3_000_000_000, 3_000_000_000, 9_000_000_000)


def test_bench_host_checks_both_kernel_paths(export_dir, tmp_path):
    from edgeppg.bench.runner import run_bench

    r = run_bench(export_dir, "host", tmp_path, windows=4)
    assert r["bitexact_vs_tflm"] is True
    assert r["details"]["host_paths_checked"] == {"portable": 0, "opt-emulated": 0}  # mismatched windows per path


def test_bench_fails_when_firmware_prints_fewer_outputs(export_dir, tmp_path, monkeypatch):
    from edgeppg.bench import runner

    real = Harness.infer

    def drop_last(self, runs=1, warmup=0):
        timing, outs = real(self, runs, warmup)
        return timing, outs[:-1]

    monkeypatch.setattr(Harness, "infer", drop_last)
    with pytest.raises(CheckFailed, match="differ from TFLM"):
        runner.run_bench(export_dir, "host", tmp_path, windows=2)
