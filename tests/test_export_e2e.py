"""`edgeppg export` end to end on a tiny student: artifacts, manifest/parity keys, gates, determinism, QAT.

One tiny s2k checkpoint and ~100 synthetic windows; each export is a few seconds plus TF's import.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytest.importorskip("onnxruntime")

from edgeppg.config import ExportConfig  # noqa: E402
from edgeppg.errors import CheckFailed  # noqa: E402
from edgeppg.export import export_student  # noqa: E402
from edgeppg.export.pipeline import FILES  # noqa: E402
from edgeppg.models.student import build_student, student_spec  # noqa: E402
from edgeppg.train.checkpoint import save_checkpoint  # noqa: E402

CFG = ExportConfig(calib_windows=16, heldout_windows=24, allow_degradation=True, qat_steps=4, qat_batch=8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from edgeppg.data.synth import synth_pairs

    root = tmp_path_factory.mktemp("export")
    _ecg, ppg = synth_pairs(72, seed=3)
    data = {"train": ppg.subset(np.arange(48)), "test": ppg.subset(np.arange(48, 72))}
    torch.manual_seed(0)
    m = build_student(student_spec("s2k"))
    m.train()
    with torch.no_grad():  # a few forward passes give BN real running statistics
        from edgeppg.data.signal import preprocess

        x = torch.from_numpy(preprocess(data["train"], 64.0).x)
        for _ in range(5):
            m(x)
    m.eval()
    ckpt = save_checkpoint(root / "student.safetensors", m)
    return root, ckpt, data


def test_export_writes_everything_and_is_deterministic(setup):
    root, ckpt, data = setup
    res = export_student(ckpt, root / "a", CFG, data=data)
    out = root / "a"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + (".edgeppg", "firmware"))  # + marker, C library
    assert (out / "firmware" / "src" / "edgeppg.h").is_file() and (out / "firmware" / "MANIFEST.json").is_file()
    man = json.loads((out / "manifest.json").read_text())
    par = json.loads((out / "parity.json").read_text())
    assert man["schema"] == "edgeppg.manifest/1" and man["allow_degradation"] is True
    assert man["model"]["name"] == "s2k" and man["model"]["params"] > 0 and man["model"]["macs"] > 0
    assert man["model"]["source_checkpoint_sha256"] == json.loads(ckpt.with_suffix(".json").read_text())["weights_sha256"]
    i = man["input"]
    assert (i["shape"], i["dtype"], i["polarity"], i["normalisation"]["kind"]) == ([1, 512, 1], "int8", "pulse-up", "zscore")
    assert [o["name"] for o in man["outputs"]] == ["rhythm", "hr", "rr"]
    assert sorted(o["index"] for o in man["outputs"]) == [0, 1, 2]
    assert man["outputs"][1]["decode"] == {"kind": "affine", "mul": 50.0, "add": 100.0}
    assert set(man["artifacts"]) == set(FILES) - {"manifest.json"}
    assert man["calibration"]["windows"] == 16 and len(man["calibration"]["ids_sha256"]) == 64
    for key in ("onnx_fp32_max_abs_diff", "torch_fp32", "onnx_int8", "int8_tflite", "tflite_ops", "tflm_vs_litert_ref_max_lsb"):
        assert key in par, key
    for key in ("torch_fp32", "onnx_int8", "int8_tflite"):
        assert set(par[key]) == {"rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm"}
    assert par["onnx_fp32_max_abs_diff"] <= 1e-4
    assert not {"TRANSPOSE", "GATHER", "QUANTIZE", "DEQUANTIZE", "DELEGATE"} & set(par["tflite_ops"])
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED"} <= set(par["tflite_ops"])
    assert par["tflm_vs_litert_ref_mismatch"]["unexplained"] == []
    assert par["tflm_arena_bytes"] > 0 and res.parity == par

    # the index recorded for each head really is that head's tensor in the TFLite output list
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(out / "student_int8.tflite"))
    outs = it.get_output_details()
    for o in man["outputs"]:
        assert outs[o["index"]]["shape"].tolist() == [1, o["n_out"]]
        assert outs[o["index"]]["quantization"] == pytest.approx((o["scale"], o["zero_point"]))

    export_student(ckpt, root / "b", CFG, data=data)  # same checkpoint again -> same bytes
    for f in FILES:
        assert (root / "a" / f).read_bytes() == (root / "b" / f).read_bytes(), f
    assert (root / "a" / "firmware" / "MANIFEST.json").read_bytes() == (root / "b" / "firmware" / "MANIFEST.json").read_bytes()


def test_tolerance_failure_writes_nothing(setup):
    root, ckpt, data = setup
    cfg = dataclasses.replace(CFG, allow_degradation=False, max_hr_mae_increase_bpm=-1.0)  # impossible on purpose
    with pytest.raises(CheckFailed, match=r"HR MAE is .* worse than fp32"):
        export_student(ckpt, root / "fail", cfg, data=data)
    assert not (root / "fail").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".fail")]


def test_qat_fallback_runs_and_exports(setup):
    root, ckpt, data = setup
    cfg = dataclasses.replace(CFG, qat=True, max_f1_drop=-1.0)  # PTQ "fails", QAT runs, degradation allowed
    res = export_student(ckpt, root / "qat", cfg, data=data)
    qat = res.manifest["quantization"]["qat"]
    assert qat["applied"] and qat["steps"] == 4 and qat["ptq_degradations"]
    assert res.parity["onnx_fp32_max_abs_diff"] <= 1e-4  # ONNX matches the fine-tuned float weights
    assert res.manifest["degradations"] and res.parity["tflm_vs_litert_ref_mismatch"]["unexplained"] == []
    assert (root / "qat" / "student_int8.tflite").stat().st_size > 0
