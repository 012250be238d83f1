"""Export building blocks: BN folding, Keras twin parity, C array, requantization rounding, data split."""

import numpy as np
import pytest
import torch

from edgeppg.export.c_array import c_identifier, model_data_c, model_data_h
from edgeppg.export.fold import fold_student
from edgeppg.int8.fixedpoint import mbqm, mbqm_single, quantize_multiplier
from edgeppg.export.tflite import TensorQ, dequantize, quantize_input
from edgeppg.models.student import build_student, student_spec


def _student(preset="s2k", seed=0):
    torch.manual_seed(seed)
    m = build_student(student_spec(preset))
    for mod in m.modules():  # non-trivial BN statistics so folding is actually exercised
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.running_mean.uniform_(-0.3, 0.3)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m.eval()


@pytest.mark.parametrize("preset", ["s2k", "s4k"])
def test_fold_matches_student(preset):
    m = _student(preset)
    x = torch.randn(4, 1, 512)
    with torch.no_grad():
        a, b = m(x), fold_student(m)(x)
    assert list(b) == [h.name for h in m.spec.heads]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_keras_twin_fp32_parity_with_torch():
    pytest.importorskip("tensorflow")
    from edgeppg.export.keras_twin import keras_predict, keras_twin, load_torch_weights

    m = _student("s4k")  # s4k has a residual block, strided dws and a k=3 block
    km = keras_twin(m.spec)
    load_torch_weights(km, m)
    x = np.random.default_rng(0).standard_normal((3, 1, 512)).astype(np.float32)
    k = keras_predict(km, x, m.spec)
    with torch.no_grad():
        t = m(torch.from_numpy(x))
    for name in t:
        assert np.abs(k[name] - t[name].numpy()).max() < 1e-4, name


def test_c_identifier_sanitises():
    assert c_identifier("s12k") == "s12k"
    assert c_identifier("12k-v2.final") == "m_12k_v2_final"
    assert c_identifier("My Model!") == "my_model"


def test_model_data_files():
    blob = bytes(range(40))
    in_q = TensorQ("ppg", 0, (1, 512, 1), "int8", 0.0331, 8)
    outs = [TensorQ("rhythm", 1, (1, 5), "int8", 0.1, -3), TensorQ("hr", 0, (1, 1), "int8", 0.02, -128)]
    h = model_data_h("s2k", len(blob), in_q, outs)
    c = model_data_c("s2k", blob)
    assert "extern const unsigned char s2k_tflite[];" in h and "extern const unsigned int s2k_tflite_len;" in h
    assert "#define S2K_INPUT_SCALE 0.0331f" in h and "#define S2K_INPUT_ZERO_POINT (8)" in h
    assert "#define S2K_OUTPUT_RHYTHM_INDEX 1" in h and "#define S2K_OUTPUT_HR_ZERO_POINT (-128)" in h
    assert "aligned(16)" in c and "const unsigned int s2k_tflite_len = 40u;" in c
    body = c.split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(v, 16) for v in body.replace("\n", "").split(",")) == blob


def test_requantization_rounding_modes():
    # the tie measured in a real export: acc 5158, multiplier 1651956480 * 2^-39 (exact 15.4992)
    q, shift = 1651956480, -8
    assert quantize_multiplier(q / 2 ** 39) == (q, shift)
    assert mbqm_single(5158, q, shift) == 15
    assert mbqm(5158, q, shift) == 16
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(2000):  # single rounding is exact; double rounding is off by <= 1, rarely
        real, acc = float(rng.uniform(1e-4, 5e-3)), int(rng.integers(-50000, 50000))
        q, shift = quantize_multiplier(real)
        exact = acc * q / 2 ** (31 - shift)
        if abs(exact - np.floor(exact) - 0.5) > 1e-6:
            assert mbqm_single(acc, q, shift) == int(np.floor(exact + 0.5))
        d = abs(mbqm(acc, q, shift) - mbqm_single(acc, q, shift))
        assert d <= 1
        differ += d
    assert differ < 40  # 2000 draws at typical right shifts >= 8: ties are rare


def test_quantize_input_rounds_half_away_and_saturates():
    q = TensorQ("ppg", 0, (1, 4, 1), "int8", 0.5, 1)
    x = np.array([[[0.25, -0.25, 100.0, -100.0]]], np.float32)
    assert quantize_input(x, q)[0, :, 0].tolist() == [2, 0, 127, -128]
    assert dequantize(np.array([3], np.int8), q).tolist() == [1.0]


def test_export_finds_its_exporter_by_the_checkpoint_arch(tmp_path, monkeypatch):
    """export.pipeline.ARCHS is the seam for model families: a checkpoint whose arch has no entry is refused by name."""
    from edgeppg.config import ExportConfig
    from edgeppg.errors import EdgePPGError
    from edgeppg.export import pipeline
    from edgeppg.train.checkpoint import save_checkpoint

    assert set(pipeline.ARCHS) == {"student"} and pipeline.ARCHS["student"].fold is fold_student
    ckpt = save_checkpoint(tmp_path / "s.safetensors", _student())
    monkeypatch.setattr(pipeline, "ARCHS", {"other": pipeline.ARCHS["student"]})
    with pytest.raises(EdgePPGError, match="'student' checkpoint; export knows 'other'"):
        pipeline.export_student(ckpt, tmp_path / "out", ExportConfig())
    assert not (tmp_path / "out").exists()
