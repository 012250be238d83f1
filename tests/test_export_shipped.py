"""Export of a shipped student with no corpus (issue 17): the calibration and held-out windows ship beside the
checkpoint (`<name>.calib.npz`, sha256 in the sidecar), and the no-data route writes the same bytes as
`--data CORPUS`. Names of shipped students resolve like their paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytest.importorskip("onnxruntime")

from edgeppg.cli.main import main  # noqa: E402
from edgeppg.config import ExportConfig  # noqa: E402
from edgeppg.errors import EdgePPGError  # noqa: E402
from edgeppg.export import export_student  # noqa: E402
from edgeppg.export.data import export_data, resolve_student, save_export_windows, windows_file  # noqa: E402
from edgeppg.export.pipeline import FILES  # noqa: E402
from edgeppg.models.registry import MODELS_DIR  # noqa: E402
from edgeppg.models.student import build_student, student_spec  # noqa: E402
from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402

CFG = ExportConfig(calib_windows=16, heldout_windows=24, allow_degradation=True)
SHIPPED = MODELS_DIR / "ppg-student-s12k.safetensors"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny corpus and an s2k student that records it the way a distilled (then shipped) one does."""
    from edgeppg.data.corpus import build_corpus

    root = tmp_path_factory.mktemp("shipped")
    info = build_corpus(root / "corpus", 96, seed=3, n_records=12)
    torch.manual_seed(0)
    m = build_student(student_spec("s2k")).eval()
    data_rec = {"corpus_sha256": info["sha256"]["ppg.npz"], "split_seed": 1, "val_frac": 0.15, "test_frac": 0.15}
    ckpt = save_checkpoint(root / "model" / "tiny-student.safetensors", m, extra={"data": data_rec})
    return root, ckpt


def test_no_data_export_is_byte_identical_to_the_corpus_route(tiny):
    root, ckpt = tiny
    export_student(ckpt, root / "with-data", CFG, data=root / "corpus")
    c = load_checkpoint(ckpt)
    rec = save_export_windows(windows_file(ckpt), export_data(root / "corpus", c.meta, c.model.spec, CFG), CFG)
    side = ckpt.with_suffix(".json")
    side.write_text(json.dumps({**json.loads(side.read_text()), "export_windows": rec}))
    shutil.rmtree(root / "corpus")  # the corpus is gone: only the shipped windows can feed the export
    export_student(ckpt, root / "no-data", CFG)
    for f in FILES:
        assert (root / "with-data" / f).read_bytes() == (root / "no-data" / f).read_bytes(), f

    # --qat is harmless while post-training int8 meets the tolerances (the default preset turns it on) ...
    loose = ExportConfig(calib_windows=16, heldout_windows=24, qat=True, max_f1_drop=1.0, max_hr_mae_increase_bpm=1e6)
    export_student(ckpt, root / "no-data-qat", loose)
    assert (root / "no-data-qat" / "student_int8.tflite").read_bytes() == (root / "no-data" / "student_int8.tflite").read_bytes()
    # ... and refused, naming the way out, only when it would need the training split that is not shipped
    tight = ExportConfig(calib_windows=16, heldout_windows=24, qat=True, max_f1_drop=-1.0)
    with pytest.raises(EdgePPGError, match="missed a tolerance .*not shipped with tiny-student.safetensors"):
        export_student(ckpt, root / "no-data-qat2", tight)
    assert not (root / "no-data-qat2").exists()
    # other calibration settings cannot be derived from the shipped draw: refused with the way out
    with pytest.raises(EdgePPGError, match="calib_seed=7 pass its training corpus with --data"):
        export_student(ckpt, root / "other", ExportConfig(calib_windows=16, heldout_windows=24, calib_seed=7))
    # a modified windows file is refused by its sha256
    p = windows_file(ckpt)
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 1
    p.write_bytes(bytes(b))
    with pytest.raises(EdgePPGError, match="does not match the sha256"):
        export_student(ckpt, root / "tampered", CFG)


def test_shipped_student_windows_are_recorded():
    meta = json.loads(SHIPPED.with_suffix(".json").read_text())
    rec = meta["export_windows"]
    from edgeppg.io import sha256_file

    assert rec["file"] == "ppg-student-s12k.calib.npz"
    assert sha256_file(MODELS_DIR / rec["file"]) == rec["sha256"]
    d = ExportConfig()
    assert (rec["calib_windows"], rec["calib_seed"], rec["heldout_windows"]) == (d.calib_windows, d.calib_seed, d.heldout_windows)


@pytest.mark.slow
def test_cli_exports_the_shipped_student_by_name_with_no_data(tmp_path, capsys):
    """~10 s: the command .ci/run and the README use."""
    assert main(["export", "--student", "ppg-student-s12k", "--out", str(tmp_path / "x")]) == 0
    man = json.loads((tmp_path / "x" / "manifest.json").read_text())
    side = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert man["data"]["corpus_sha256"] == side["data"]["corpus_sha256"]
    assert (man["calibration"]["windows"], man["heldout"]["windows"]) == (256, 500)
    assert json.loads((tmp_path / "x" / "parity.json").read_text())["passed"] is True


def test_student_names_resolve_and_unknown_ones_list_the_shipped(tmp_path):
    assert resolve_student("ppg-student-s12k") == SHIPPED
    with pytest.raises(EdgePPGError, match=r"did you mean ppg-student-s12k\? .*shipped student name: ppg-student-s12k$"):
        resolve_student("ppg-student-s5k")
    with pytest.raises(EdgePPGError, match="is a folder"):
        resolve_student(tmp_path)
