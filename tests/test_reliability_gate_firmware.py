"""The signal-quality gate runs in the firmware harness too, and agrees with Python window by window."""

import json
import shutil

import numpy as np

import pytest

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None, reason="gcc/make not installed")


def _first_argmax(exp, idx, n_outputs):
    from edgeppg.int8.tflm import tflm_outputs
    from edgeppg.bench.runner import load_windows, read_export

    tflite, manifest = read_export(exp)
    x, _ = load_windows(exp, manifest, tflite, 1, 0)
    return int(np.argmax(tflm_outputs(tflite, x, n_outputs)[0][idx]))


def test_firmware_gate_matches_python_gate(tmp_path):
    from edgeppg.firmware.codegen import generate
    from edgeppg.bench.runner import run_bench
    from tests.fixtures.testmodel import make_test_export
    from edgeppg.data.windows import RHYTHM_LABELS

    exp = make_test_export(tmp_path / "exp", preset="s2k", seed=3, n_test=60)
    out_bytes = generate(exp / "student_int8.tflite").output_bytes
    manifest = json.loads((exp / "manifest.json").read_text())
    # the stand-in export has no output spec: name the 5-logit tensor as the rhythm head
    idx = out_bytes.index(len(RHYTHM_LABELS))
    # random weights: put "noise" where the model's first window points, so the gate has something to flag
    first = _first_argmax(exp, idx, len(out_bytes))
    labels = [l for l in RHYTHM_LABELS if l != "noise"]
    labels.insert(first, "noise")
    manifest["outputs"] = [{"name": "rhythm", "kind": "classes", "index": idx, "labels": labels}]
    for h in manifest["model"]["student"]["heads"]:  # the spec and the manifest must agree (edited-manifest check)
        if h["name"] == "rhythm":
            h["labels"] = labels
    (exp / "manifest.json").write_text(json.dumps(manifest))
    b = run_bench(exp, "host", tmp_path / "bench", windows=60)
    gate = b["details"]["quality_gate"]
    assert gate["agrees_with_python"] is True
    assert gate["noise_class"] == labels.index("noise")
    assert gate["hr_invalid_windows"] >= 1
