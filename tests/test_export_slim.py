"""The slimmed .tflite is the same model in fewer bytes: proven against the converter's own output.

One s4k export (~50 held-out synthetic windows); `slim_tflite` is intercepted in the pipeline so the test
holds both the converter's bytes and the shipped bytes.
"""

import json
import struct

import numpy as np
import pytest
import torch

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytest.importorskip("onnxruntime")

from edgeppg.config import ExportConfig  # noqa: E402
from edgeppg.errors import EdgePPGError  # noqa: E402
from edgeppg.export import export_student, slim, tflite  # noqa: E402
from edgeppg.export import pipeline as export_pipeline  # noqa: E402
from edgeppg.int8.flatbuffer import op_names, read_model, schema  # noqa: E402
from edgeppg.int8.tflm import allocation_total  # noqa: E402
from edgeppg.models.student import build_student, student_spec  # noqa: E402
from edgeppg.train.checkpoint import save_checkpoint  # noqa: E402

CFG = ExportConfig(calib_windows=16, heldout_windows=50, allow_degradation=True)
N_WINDOWS = 50


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from edgeppg.data.signal import preprocess
    from edgeppg.data.synth import synth_pairs

    root = tmp_path_factory.mktemp("slim")
    _ecg, ppg = synth_pairs(40 + N_WINDOWS, seed=5)
    data = {"train": ppg.subset(np.arange(40)), "test": ppg.subset(np.arange(40, 40 + N_WINDOWS))}
    torch.manual_seed(1)
    m = build_student(student_spec("s4k"))
    m.train()
    with torch.no_grad():  # real BN running statistics
        x = torch.from_numpy(preprocess(data["train"], 64.0).x)
        for _ in range(5):
            m(x)
    m.eval()
    ckpt = save_checkpoint(root / "student.safetensors", m)
    seen = []

    def spy(blob, *a, **k):
        out = slim.slim_tflite(blob, *a, **k)
        seen.append((blob, *out))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(export_pipeline, "slim_tflite", spy)
        res = export_student(ckpt, root / "export", CFG, data=data)
    assert len(seen) == 1
    raw, slim_blob, report = seen[0]
    return root / "export", raw, slim_blob, report, res


def _xq(folder, in_q):
    from edgeppg.data.windows import load_windows

    w = load_windows(folder / "heldout.npz")
    assert len(w) == N_WINDOWS
    return tflite.quantize_input(w.x, in_q)


def test_pipeline_ships_the_slim_model(exported):
    folder, raw, slim_blob, report, res = exported
    assert (folder / "student_int8.tflite").read_bytes() == slim_blob
    man = json.loads((folder / "manifest.json").read_text())
    par = json.loads((folder / "parity.json").read_text())
    assert man["artifacts"]["student_int8.tflite"]["bytes"] == len(slim_blob)
    assert par["tflite_bytes"] == len(slim_blob) and par["tflite_slim"] == report == man["runtime"]["tflite_slim"]
    assert f"{len(slim_blob)}" in (folder / "model_data.h").read_text()
    c = (folder / "model_data.c").read_text()
    assert c.count("0x") == len(slim_blob)
    assert res.parity["tflm_vs_litert_ref_mismatch"]["unexplained"] == []


def test_smaller_and_report_adds_up(exported):
    _f, raw, slim_blob, report, _r = exported
    assert len(slim_blob) < len(raw)
    assert report["bytes_before"] == len(raw) and report["bytes_after"] == len(slim_blob)
    assert report["bytes_before"] - report["bytes_after"] == sum(report["saved"].values())
    assert set(report["saved"]) == {"layout", *slim.ALL_STEPS}
    for item in ("tensor_names", "shared_vectors", "conversion_metadata"):
        assert report["saved"][item] > 0, item
    assert report["saved"]["layout"] > -16 * 64  # 16-byte buffer alignment costs padding, never more than that


def test_deterministic_and_idempotent(exported):
    _f, raw, slim_blob, _rep, _r = exported
    assert slim.slim_tflite(raw)[0] == slim_blob
    again, rep2 = slim.slim_tflite(slim_blob)
    assert again == slim_blob and rep2["bytes_after"] == len(slim_blob)


def test_runtimes_read_the_same_model(exported):
    folder, raw, slim_blob, _rep, res = exported
    assert slim.differences(raw, slim_blob) == []
    assert op_names(slim_blob) == op_names(raw)
    spec = student_spec("s4k")
    in_raw, out_raw = tflite.io_spec(raw, spec)
    in_slim, out_slim = tflite.io_spec(slim_blob, spec)
    assert (in_slim, out_slim) == (in_raw, out_raw)  # same I/O positions, shapes, dtypes, scales, zero points
    xq = _xq(folder, in_raw)
    for run in (tflite.run_tflm, lambda b, x, q: tflite.run_litert(b, x, q, reference=True),
                lambda b, x, q: tflite.run_litert(b, x, q, reference=False)):
        a, b = run(raw, xq, out_raw), run(slim_blob, xq, out_raw)
        for q in out_raw:
            np.testing.assert_array_equal(a[q.name], b[q.name])
    assert allocation_total(slim_blob, xq[:1])[0] <= allocation_total(raw, xq[:1])[0]
    assert res.parity["tflm_arena_bytes"] == allocation_total(raw, xq[:1])[0]


def test_names_signature_and_metadata(exported):
    _f, raw, slim_blob, _rep, _r = exported
    a, b = read_model(raw), read_model(slim_blob)
    sa, sb = a.subgraphs[0], b.subgraphs[0]
    io = {int(i) for i in list(sa.inputs) + list(sa.outputs)}
    for i, (ta, tb) in enumerate(zip(sa.tensors, sb.tensors)):
        assert tb.name == (ta.name if i in io else f"t{i}".encode())
    sig = lambda m: [(s.signatureKey, [(t.name, t.tensorIndex) for t in s.inputs],  # noqa: E731
                      [(t.name, t.tensorIndex) for t in s.outputs]) for s in m.signatureDefs]
    assert sig(b) == sig(a)
    names = lambda m: [x.name for x in m.metadata or []]  # noqa: E731
    assert b"CONVERSION_METADATA" in names(a) and names(b) == [n for n in names(a) if n != b"CONVERSION_METADATA"]
    assert len(b.buffers) < len(a.buffers)


def test_buffer_data_is_16_byte_aligned(exported):
    _f, _raw, slim_blob, _rep, _r = exported
    m = schema().Model.GetRootAs(slim_blob, 0)
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength():
            assert b._tab.Vector(b._tab.Offset(4)) % 16 == 0, i


def test_firmware_generator_unchanged(exported, tmp_path):
    from edgeppg.firmware.codegen import generate

    _f, raw, slim_blob, _rep, _r = exported
    (tmp_path / "raw.tflite").write_bytes(raw)
    (tmp_path / "slim.tflite").write_bytes(slim_blob)
    g_raw, g_slim = generate(tmp_path / "raw.tflite", "m"), generate(tmp_path / "slim.tflite", "m")
    assert (g_slim.c, g_slim.h, g_slim.arena_bytes) == (g_raw.c, g_raw.h, g_raw.arena_bytes)


def test_a_step_that_changes_the_model_is_refused(exported, monkeypatch):
    _f, raw, _s, _rep, _r = exported

    def drop_bias_quant(model):  # what a careless slimming step would do: runtimes read this (XNNPACK does)
        sg = model.subgraphs[0]
        for op in sg.operators:
            if len(op.inputs) > 2 and op.inputs[2] >= 0 and sg.tensors[op.inputs[2]].type == 2:  # INT32 bias
                sg.tensors[op.inputs[2]].quantization = None

    monkeypatch.setattr(slim, "STEPS", slim.STEPS + (("dedupe_buffers", drop_bias_quant),))
    with pytest.raises(EdgePPGError, match="changed what runtimes read.*quantization"):
        slim.slim_tflite(raw)


def test_file_identifier_and_root():
    """_pack writes a TFLite header: root offset, then the "TFL3" file identifier."""
    m = schema().ModelT()
    m.version = 3
    m.buffers = [schema().BufferT()]
    blob = slim._pack(m, share_vectors=True)
    assert blob[4:8] == b"TFL3" and struct.unpack_from("<I", blob, 0)[0] < len(blob)
