"""firmware_harness: bit-exactness with the TFLM interpreter, instruction counts, memory budgets, sanitizers.

One stand-in s12k export (random seeded weights, 100 held-out float windows) is built per session; the
ARM/QEMU tests skip with a reason when the toolchain is missing (CI installs it: `make toolchain`).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")

from edgeppg.bench.build import build, harness_argv, memory_report  # noqa: E402
from edgeppg.firmware.codegen import write_model  # noqa: E402
from edgeppg.bench.protocol import Harness  # noqa: E402
from edgeppg.int8.tflm import tflm_outputs  # noqa: E402
from edgeppg.bench.runner import run_bench  # noqa: E402
from edgeppg.errors import CheckFailed, EdgePPGError  # noqa: E402

HAVE_GCC = shutil.which("gcc") is not None and shutil.which("make") is not None
HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None
HAVE_QEMU = HAVE_ARM and shutil.which("qemu-system-arm") is not None
needs_gcc = pytest.mark.skipif(not HAVE_GCC, reason="gcc/make not installed")
needs_arm = pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc missing: apt-get install gcc-arm-none-eabi "
                                                    "libnewlib-arm-none-eabi (make toolchain)")
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="qemu-system-arm/arm-none-eabi-gcc missing: "
                                                      "apt-get install qemu-system-arm gcc-arm-none-eabi")
pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory):
    from tests.fixtures.testmodel import make_test_export
    return make_test_export(tmp_path_factory.mktemp("export"), preset="s12k", seed=0, n_test=100)


@pytest.fixture(scope="session")
def model_dir(export_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    write_model(export_dir / "student_int8.tflite", d)
    return d


@pytest.fixture(scope="session")
def windows(export_dir):
    rng = np.random.default_rng(7)
    return rng.integers(-128, 128, size=(12, 512, 1), dtype=np.int8)


def _outputs(argv, xs):
    res = []
    with Harness(argv) as h:
        for x in xs:
            h.load(x)
            res.append(h.infer(1, 0)[1])
    return res


@pytest.fixture(scope="session")
def bench_m4(export_dir, tmp_path_factory):
    if not HAVE_QEMU:
        pytest.skip("qemu-system-arm/arm-none-eabi-gcc missing: apt-get install qemu-system-arm gcc-arm-none-eabi")
    out = tmp_path_factory.mktemp("bench_m4")
    return out, run_bench(export_dir, "qemu-m4", out, windows=100)


@needs_gcc
def test_host_bitexact_with_tflm_on_100_heldout_windows(export_dir, tmp_path):
    r = run_bench(export_dir, "host", tmp_path, windows=100)
    assert r["bitexact_vs_tflm"] is True and r["windows"] == 100
    assert r["details"]["windows"]["source"] == "test.npz"
    assert json.loads((tmp_path / "bench.json").read_text())["target"] == "host"
    assert "warning:" not in (tmp_path / "build" / "host" / "build.log").read_text()


@needs_qemu
def test_qemu_m4_bitexact_and_instructions_per_mac(bench_m4):
    out, r = bench_m4
    assert r["bitexact_vs_tflm"] is True and r["windows"] == 100
    assert r["details"]["kernels"] == "dsp"
    assert r["instructions_per_mac"] <= 3.0, r["instructions_per_mac"]
    assert r["details"]["timing"]["identical_across_runs"] is True
    assert set(r) >= {"target", "instructions_per_inference", "macs", "instructions_per_mac", "flash_bytes",
                      "ram_bytes", "stack_bytes", "bitexact_vs_tflm", "windows"}
    assert 0 < r["stack_bytes"] < 4096
    assert "warning:" not in (out / "build" / "qemu-m4" / "build.log").read_text()


@needs_qemu
def test_qemu_m4_instruction_count_identical_on_a_second_run(bench_m4, export_dir, tmp_path):
    _, first = bench_m4
    second = run_bench(export_dir, "qemu-m4", tmp_path, windows=2)  # a fresh build and a fresh QEMU
    assert second["instructions_per_inference"] == first["instructions_per_inference"]
    assert second["instructions_per_mac"] == first["instructions_per_mac"]


@needs_qemu
def test_optimized_path_bitexact_with_portable_on_qemu_m4(model_dir, windows, tmp_path):
    opt = build(model_dir, "qemu-m4", tmp_path / "opt", opt=True)
    port = build(model_dir, "qemu-m4", tmp_path / "port", opt=False)
    a, b = _outputs(harness_argv("qemu-m4", opt), windows), _outputs(harness_argv("qemu-m4", port), windows)
    for x, y in zip(a, b):
        assert all(np.array_equal(u, v) for u, v in zip(x, y))


@needs_gcc
def test_optimized_path_emulated_on_host_matches_tflm(export_dir, model_dir, windows, tmp_path):
    exe = build(model_dir, "host", tmp_path, opt=True)
    ref = tflm_outputs(export_dir / "student_int8.tflite", windows, 3)
    for got, want in zip(_outputs([str(exe)], windows), ref):
        assert all(np.array_equal(u, v) for u, v in zip(got, want))


@needs_qemu
def test_qemu_m33_bitexact(export_dir, tmp_path):
    r = run_bench(export_dir, "qemu-m33", tmp_path, windows=20)
    assert r["bitexact_vs_tflm"] is True
    assert r["instructions_per_mac"] <= 3.0


@needs_gcc
@pytest.mark.parametrize("opt", [False, True])
def test_asan_ubsan_protocol_clean_including_malformed_commands(model_dir, tmp_path, opt):
    exe = build(model_dir, "host-asan", tmp_path, opt=opt)
    script = ("name%profile%bogus verb%db 0g%db load 99999%db load 0%db load x%db 0102%infer 1 0%results%"
              "db load 512%db 0%db zz%" + "db " + "7f" * 300 + "%" + "x" * 400 + "%%"
              "db load 512%" + "".join(f"db {'01' * 128}%" for _ in range(4)) + "db 00%infer 2 1%results%layers%"
              "infer 0 0%infer 1 2 3%infer 99999999999%calib 10%quit%")
    proc = subprocess.run([str(exe)], input=script.encode(), capture_output=True, timeout=60)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    errors = [l for l in out.splitlines() if l.startswith("e-")]
    assert any("unknown command" in l for l in errors)
    assert any("bad hex" in l for l in errors)
    assert any("does not fit" in l for l in errors)
    assert any("exceed" in l for l in errors)
    assert any("longer than" in l for l in errors)
    assert "m-load-done" in out and out.count("m-results-") == 2 and "m-bye" in out


@needs_arm
def test_nrf52840_build_fits_with_75_percent_ram_left(model_dir, tmp_path):
    elf = build(model_dir, "nrf52840", tmp_path)
    mem = memory_report(elf, "nrf52840", stack_used=None)
    assert mem["budget"]["ram_left_fraction"] >= 0.75, mem
    assert mem["budget"]["flash_left_fraction"] > 0.5, mem
    assert "warning:" not in (tmp_path / "build.log").read_text()
    with pytest.raises(EdgePPGError, match="cannot run here"):
        harness_argv("nrf52840", elf)


@needs_arm
def test_over_budget_build_fails_at_link_with_a_clear_message(model_dir, tmp_path):
    with pytest.raises(CheckFailed, match=r"does not fit: region RAM overflowed by \d+ bytes"):
        build(model_dir, "nrf52840", tmp_path, stack_size=300 * 1024)
