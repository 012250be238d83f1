import pickle

import pytest
import torch

from edgeppg.errors import EdgePPGError
from edgeppg.models.student import build_student, student_spec
from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint


def _model():
    torch.manual_seed(0)
    return build_student(student_spec("s2k"))


def test_roundtrip_rebuilds_from_file_alone(tmp_path):
    m = _model()
    p = save_checkpoint(tmp_path / "s.safetensors", m, metrics={"x": 1.0}, parent_sha256="ab" * 32)
    ck = load_checkpoint(p)
    x = torch.randn(2, 1, 512)
    for k, v in m.eval()(x).items():
        torch.testing.assert_close(ck.model(x)[k], v)
    assert ck.meta["parent_sha256"] == "ab" * 32


def test_tampered_truncated_pickle_and_wrong_arch_refused(tmp_path):
    p = save_checkpoint(tmp_path / "s.safetensors", _model())
    blob = p.read_bytes()
    p.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(EdgePPGError, match="does not match its sidecar"):
        load_checkpoint(p)
    p.write_bytes(blob[:5])
    with pytest.raises(EdgePPGError, match="truncated"):
        load_checkpoint(p)
    p.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(EdgePPGError, match="pickle"):
        load_checkpoint(p)
    p.write_bytes(blob)
    with pytest.raises(EdgePPGError, match="expected 'resnet1d'"):
        load_checkpoint(p, expect_arch="resnet1d")


def test_same_weights_give_byte_identical_files(tmp_path):
    m = _model()
    a = save_checkpoint(tmp_path / "a.safetensors", m).read_bytes()
    for i in range(5):  # metadata order used to vary between writes
        assert save_checkpoint(tmp_path / f"b{i}.safetensors", m).read_bytes() == a
