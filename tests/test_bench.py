"""edgeppg.bench: .tflite parsing and generator checks, manifest handling, CLI wiring (fast, no QEMU)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from edgeppg.bench import build as build_mod  # noqa: E402
from edgeppg.firmware.codegen import generate, load_firmware_graph as load_graph  # noqa: E402
from edgeppg.firmware.lower import _widen_interleaved  # noqa: E402
from edgeppg.int8.fixedpoint import activation_range, mbqm, quantize_multiplier  # noqa: E402
from edgeppg.bench.runner import read_export  # noqa: E402
from edgeppg.errors import EdgePPGError  # noqa: E402


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    from tests.fixtures.testmodel import make_test_export
    return make_test_export(tmp_path_factory.mktemp("exp"), preset="s2k", seed=1, n_calib=8)


def test_quantize_multiplier_matches_tflite_definition():
    for real in (0.5, 0.75, 1e-3, 0.3333333333, 1.9, 2.0 ** -20):
        m, s = quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - real) <= real * 2 ** -30
    assert quantize_multiplier(0.0) == (0, 0)
    # a mantissa tie: TfLiteRound (std::round) goes away from zero; Python's round() would give 2^30
    assert quantize_multiplier((2 ** 31 + 1) / 2 ** 32) == ((1 << 30) + 1, 0)
    assert activation_range("RELU6", np.float32(6 / 255), -128) == (-128, 127)
    assert activation_range("RELU", np.float32(0.1), -5) == (-5, 127)


def test_mbqm_rounding_matches_tflite():
    # SaturatingRoundingDoublingHighMul rounds ties up (gemmlowp), RoundingDivideByPOT ties away from zero
    m, s = quantize_multiplier(0.5)
    assert (m, s) == (1 << 30, 0)
    assert [mbqm(x, m, s) for x in (3, -3, 5, -5, 4)] == [2, -1, 3, -2, 2]
    assert [mbqm(x, 1 << 30, -1) for x in (6, -6, 2, -2)] == [2, -2, 1, -1]


def test_parser_and_generator_cover_the_student_ops(small_export):
    g = load_graph(small_export / "student_int8.tflite")
    kinds = {op.kind for op in g.ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "PAD"} <= kinds
    gen = generate(small_export / "student_int8.tflite")
    from edgeppg.models.student import student_spec
    assert gen.macs == student_spec("s2k").macs()
    assert gen.input_bytes == 512 and sorted(gen.output_bytes) == [1, 1, 5]
    assert "static int8_t arena[" in gen.c and "malloc" not in gen.c
    assert gen.arena_bytes < 8 * 1024


def test_widened_weights_layout():
    w = np.arange(2 * 5, dtype=np.int8).reshape(2, 5)  # K = 5 -> padded to 8
    got = _widen_interleaved(w, quads=False).tolist()
    # group 0: ch0 (0,2)(1,3), ch1 (5,7)(6,8); group 1: ch0 (4,0)(0,0), ch1 (9,0)(0,0)
    assert got == [0, 2, 1, 3, 5, 7, 6, 8, 4, 0, 0, 0, 9, 0, 0, 0]


def test_unsupported_op_is_rejected_by_name(tmp_path):
    import tensorflow as tf
    from tests.fixtures.testmodel import convert_int8
    x = tf.keras.Input((16,))
    m = tf.keras.Model(x, tf.keras.layers.Dense(4, activation="tanh")(x))
    (tmp_path / "m.tflite").write_bytes(convert_int8(m, np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)))
    with pytest.raises(EdgePPGError, match="TANH"):
        load_graph(tmp_path / "m.tflite")


def test_manifest_sha256_mismatch_is_reported(small_export, tmp_path):
    d = tmp_path / "exp"
    shutil.copytree(small_export, d)
    m = json.loads((d / "manifest.json").read_text())
    m["artifacts"]["student_int8.tflite"]["sha256"] = "0" * 64
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(EdgePPGError, match="sha256"):
        read_export(d)
    assert read_export(small_export)[0].name == "student_int8.tflite"


def test_missing_toolchain_names_the_apt_package(monkeypatch):
    monkeypatch.setattr(build_mod.shutil, "which", lambda name: None)
    with pytest.raises(EdgePPGError, match=r"apt-get install -y .*gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"):
        build_mod.require_tools(*build_mod.tools_for("qemu-m4"))


def test_cli_bench_host(small_export, tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    from edgeppg.cli.main import main
    assert main(["bench", str(small_export), "--target", "host", "--out", str(tmp_path), "--windows", "5"]) == 0
    r = json.loads((tmp_path / "bench.json").read_text())
    assert r["target"] == "host" and r["bitexact_vs_tflm"] is True and r["windows"] == 5
    assert main(["bench", str(tmp_path / "nope"), "--target", "host", "--out", str(tmp_path)]) == 2
