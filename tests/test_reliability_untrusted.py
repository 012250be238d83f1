"""Untrusted files: pickle payloads never execute, tampered artifacts are refused."""

import io
import os
import pickle
import zipfile

import pytest
import torch

from edgeppg.cli.main import main
from edgeppg.errors import EdgePPGError
from edgeppg.models.student import build_student, student_spec
from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint


class _Payload:
    """Unpickling this runs os.system: the exploit a malicious .pt/.pkl checkpoint carries."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _good(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "good.safetensors", build_student(student_spec("s2k")))


@pytest.mark.parametrize("wrap", ["raw_pickle", "torch_zip"])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, wrap):
    marker = tmp_path / "PWNED"
    good = _good(tmp_path)
    evil = tmp_path / "evil.safetensors"
    blob = pickle.dumps(_Payload(marker), protocol=2)
    if wrap == "torch_zip":  # the layout torch.save writes: a zip holding data.pkl
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("archive/data.pkl", blob)
        blob = buf.getvalue()
    evil.write_bytes(blob)
    evil.with_suffix(".json").write_bytes(good.with_suffix(".json").read_bytes())
    with pytest.raises(EdgePPGError, match="safetensors"):
        load_checkpoint(evil)
    assert not marker.exists(), "the payload executed"


def test_payload_file_through_cli_exits_2_and_writes_nothing(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    out = tmp_path / "out"
    code = main(["export", "--student", str(evil), "--out", str(out)])
    assert code == 2
    assert not marker.exists()
    assert not out.exists()
    assert "pickle" in capsys.readouterr().err
