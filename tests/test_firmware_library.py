"""The C library `edgeppg.firmware.library` writes into an export's firmware/ (issue 16), compiled on the host
with gcc + ASan/UBSan, portable kernels and the DSP path with its intrinsics emulated:

- a given int8 window through `eppg_infer` comes out bit-exact with TFLM (`edgeppg.int8.tflm`);
- `eppg_push` streaming over a recording equals window-wise `edgeppg predict` (TFLM runtime): the same
  windows, the same int8 model inputs and outputs, the same rhythm, HR/RR, probabilities, SQI and gate.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _bandpass_export(root: Path, hr_bins: bool = False) -> Path:
    """A random s2k through the real exporter with the shipped student's band-pass preprocessing (input spec);
    hr_bins: its HR head is a softmax over 64 bins (distill hr_mode = "bins", the default student's)."""
    import torch

    from edgeppg.models.heads import hr_bins_head

    from edgeppg.config import ExportConfig
    from edgeppg.export import export_student
    from edgeppg.models.student import build_student, student_spec
    from edgeppg.train.checkpoint import save_checkpoint
    from tests.fixtures.toy import toy_windows

    inp = json.loads((REPO / "models" / "ppg-student-s12k.json").read_text())["input"]
    assert inp["preprocessing"]["kind"] == "bandpass-zscore"
    raw = lambda w: w.with_x((w.x * 30 + 1000).astype(np.float32), normalised=False)  # noqa: E731
    torch.manual_seed(0)
    spec = student_spec("s2k")
    if hr_bins:
        spec = student_spec("s2k", heads=tuple(hr_bins_head() if h.name == "hr" else h for h in spec.heads))
    ck = save_checkpoint(root / "s2k.safetensors", build_student(spec).eval(), input_spec=inp)
    export_student(ck, root / "export", ExportConfig(calib_windows=32, allow_degradation=True),
                   data={"train": raw(toy_windows(64, 1)), "test": raw(toy_windows(24, 2))})
    return root / "export"


@pytest.fixture(scope="module", params=["zscore", "bandpass", "bandpass-hrbins"])
def lib_export(real_export_cached, tmp_path_factory, request):
    from edgeppg.firmware.library import write_library

    root = tmp_path_factory.mktemp("libexp")
    if request.param.startswith("bandpass"):
        d = _bandpass_export(root, hr_bins=request.param.endswith("hrbins"))
    else:
        d = root / "export"
        shutil.copytree(real_export_cached, d)
    write_library(d)
    pre = json.loads((d / "manifest.json").read_text())["input"]["preprocessing"]["kind"]
    assert pre == {"zscore": "zscore", "bandpass": "bandpass-zscore", "bandpass-hrbins": "bandpass-zscore"}[request.param]
    return d


def _compile(fw: Path, out: Path, opt: int) -> Path:
    src = fw / "src"
    exe = out / f"lib_main_opt{opt}"
    subprocess.run(["gcc", "-std=c11", "-O1", "-g", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror",
                    "-Wno-unused-parameter", f"-DEPPG_OPT={opt}", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-I", str(src), *map(str, sorted(src.glob("*.c"))),
                    str(REPO / "tests" / "c_src" / "lib_main.c"), "-lm", "-o", str(exe)], check=True)
    return exe


@pytest.fixture(scope="module", params=[0, 1], ids=["portable", "dsp-emulated"])
def exe(lib_export, tmp_path_factory, request):
    return _compile(lib_export / "firmware", tmp_path_factory.mktemp("libbuild"), request.param)


def test_library_files_are_listed_with_hashes_and_export_artifacts_untouched(lib_export):
    from edgeppg.io import sha256_file
    from edgeppg.verify.artifacts import verify_artifacts

    listing = json.loads((lib_export / "firmware" / "MANIFEST.json").read_text())
    for rel, h in listing["files"].items():
        assert sha256_file(lib_export / "firmware" / rel) == h
    ed = verify_artifacts(lib_export)  # every artifact the manifest lists still has its sha256
    assert listing["manifest_sha256"] == ed.manifest_sha256 and "firmware/MANIFEST.json" not in ed.manifest["artifacts"]
    h = (lib_export / "firmware" / "src" / "edgeppg.h").read_text()
    man = json.loads((lib_export / "manifest.json").read_text())
    hr = next(o for o in man["outputs"] if o["name"] == "hr")
    if hr["kind"] == "bins":
        assert f"#define EPPG_HR_BINS {hr['n_out']}u" in h
        c = (lib_export / "firmware" / "src" / "eppg_consts.c").read_text()
        assert f"eppg_hr_centers[{hr['n_out']}] = {{" + ", ".join(map(repr, map(float, hr["decode"]["centers_bpm"]))) in c
    else:
        assert f"#define EPPG_HR_MUL {float(hr['decode']['mul'])!r}" in h
        assert f"#define EPPG_HR_ADD {float(hr['decode']['add'])!r}" in h
    assert "malloc(" not in "".join(p.read_text() for p in (lib_export / "firmware" / "src").glob("*.c"))


def test_eppg_infer_bitexact_with_tflm(lib_export, exe, tmp_path):
    from edgeppg.int8.fixedpoint import quantize
    from edgeppg.int8.tflm import tflm_outputs
    from edgeppg.io import load_npz

    man = json.loads((lib_export / "manifest.json").read_text())
    held = load_npz(lib_export / "heldout.npz")["x"]
    xq = quantize(held.reshape(len(held), -1), man["input"]["scale"], man["input"]["zero_point"])
    rnd = np.random.default_rng(5).integers(-128, 128, size=(8, xq.shape[1]), dtype=np.int8)
    xs = np.concatenate([xq, rnd])
    (tmp_path / "in.bin").write_bytes(xs.tobytes())
    subprocess.run([str(exe), "infer", str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    ref = tflm_outputs(lib_export / "student_int8.tflite", xs.reshape(len(xs), *man["input"]["shape"][1:]), 3)
    sizes = [r.size for r in ref[0]]
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(xs), sum(sizes))
    for i, want in enumerate(ref):
        assert np.array_equal(got[i], np.concatenate([w.reshape(-1) for w in want])), i


def _recording(fs: float, seconds: float) -> np.ndarray:
    """A pulse-like recording with a flat stretch, a clipped stretch and noise: every gate reason can occur."""
    rng = np.random.default_rng(2)
    t = np.arange(int(seconds * fs)) / fs
    hr = 70 + 30 * np.sin(2 * np.pi * t / 40)
    ph = 2 * np.pi * np.cumsum(hr / 60) / fs
    x = 1000 + 40 * np.sin(ph) + 15 * np.sin(2 * ph + 1) + 8 * np.sin(2 * np.pi * 0.25 * t)
    x += rng.normal(0, 2, len(t))
    n = len(t)
    x[int(0.30 * n):int(0.45 * n)] = 1000.0  # flat
    seg = slice(int(0.55 * n), int(0.70 * n))
    x[seg] = np.clip(x[seg] * 3 - 2000, 950, 1050)  # clipped
    x[int(0.80 * n):] += rng.normal(0, 60, n - int(0.80 * n))  # noisy
    return x.astype(np.float32)


@pytest.mark.parametrize("chunk", [1, 37, 128])
def test_eppg_push_streaming_equals_windowwise_predict(lib_export, exe, tmp_path, chunk):
    from edgeppg.infer import load_predictor

    p = load_predictor(lib_export, runtime="tflm")
    fs = p.pre.fs_hz
    x = _recording(fs, 90)
    wp = p.predict_recording(x, fs, hop_s=2.0)
    (tmp_path / "rec.bin").write_bytes(x.tobytes())
    subprocess.run([str(exe), "push", str(tmp_path / "rec.bin"), str(chunk), str(tmp_path / "res.bin")], check=True)
    nc, n = len(wp.rhythm_labels), p.pre.samples
    dt = np.dtype([("i", "<u4"), ("hr", "<f4"), ("rr", "<f4"), ("sqi", "<f4"), ("valid", "u1"), ("rhythm", "u1"),
                   ("reason", "u1"), ("pad", "u1"), ("logits", "i1", nc), ("probs", "<f4", nc), ("q", "i1", n)])
    c = np.frombuffer((tmp_path / "res.bin").read_bytes(), dt)
    assert len(c) == len(wp) > 20
    assert np.array_equal(c["i"], np.arange(len(wp)))
    assert np.array_equal(c["q"], wp.model_input_q.reshape(len(wp), -1))  # same preprocessing, byte for byte
    assert np.array_equal(c["logits"], wp.raw_outputs["rhythm"])
    assert np.array_equal(c["rhythm"], wp.rhythm)
    np.testing.assert_allclose(c["hr"], wp.hr_raw, rtol=0, atol=1e-4)
    np.testing.assert_allclose(c["rr"], wp.rr_raw, rtol=0, atol=1e-4)
    np.testing.assert_allclose(c["probs"], wp.rhythm_prob, rtol=0, atol=1e-6)
    np.testing.assert_allclose(c["sqi"], wp.sqi, rtol=0, atol=1e-4)
    assert np.array_equal(c["valid"].astype(bool), wp.withheld == "")
    names = ["ok", "low_sqi", "noise_class", "clipped", "flat"]
    assert [names[r] for r in c["reason"]] == [w or "ok" for w in wp.withheld]
    assert {"flat", "clipped"} <= set(wp.withheld)  # the recording exercises the signal checks


def test_export_hook_skips_a_model_the_library_cannot_run(tmp_path, monkeypatch):
    """An unsupported model (op, decode, channels) costs the export one log line and no firmware/, never a failure."""
    from edgeppg.errors import EdgePPGError
    from edgeppg.firmware import library

    (tmp_path / "firmware").mkdir()  # a half-written folder from the failed attempt is removed
    monkeypatch.setattr(library, "write_library", lambda d: (_ for _ in ()).throw(EdgePPGError("op 3 is GATHER")))
    said = []
    assert library.write_for_export(tmp_path, said.append) is None
    assert said == ["firmware/: not written (op 3 is GATHER)"] and not (tmp_path / "firmware").exists()
