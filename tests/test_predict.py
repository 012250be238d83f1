"""`edgeppg predict`: the int8 path equals the bench/TFLM path, the manifest's preprocessing re-implemented from
its JSON alone gives byte-identical int8 inputs, the quality gate, and one-line errors with nothing written."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeppg.cli.main import main
from tests.fixtures.toy import cached_toy_export

REPO = Path(__file__).resolve().parents[1]
FS = 64.0  # the recordings below are at the model rate, so the test needs no resampler of its own


@pytest.fixture(scope="session")
def toy_export(request) -> Path:
    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.fixture(scope="module")
def bp_export(toy_export, tmp_path_factory) -> Path:
    """The toy export with a band-pass preprocessing written into its manifest (as export writes it)."""
    from edgeppg.preprocess import Preprocessing

    d = tmp_path_factory.mktemp("bp") / "export"
    shutil.copytree(toy_export, d, ignore=shutil.ignore_patterns("verify", "real"))
    m = json.loads((d / "manifest.json").read_text())
    m["input"]["preprocessing"] = Preprocessing(fs_hz=FS, window_s=8.0, bandpass_hz=(0.5, 4.0)).to_json()
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def pulse_recording(seconds: float = 40.0, fs: float = FS, bpm: float = 72.0, seed: int = 0) -> np.ndarray:
    """Raw-intensity-like PPG as float32 samples (what a device buffer holds): pulses + wander + DC + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    f = bpm / 60.0
    x = np.sin(2 * np.pi * f * t) + 0.35 * np.sin(4 * np.pi * f * t + 0.7)
    x += 2.0 * np.sin(2 * np.pi * 0.07 * t) + 0.05 * rng.standard_normal(t.size) + 500.0
    return x.astype(np.float32)


def write_csv(path: Path, x: np.ndarray, header: str = "ppg") -> Path:
    path.write_text(header + "\n" + "\n".join(repr(float(v)) for v in x) + "\n")
    return path


# ------------------------------------------------------------------ int8 outputs = bench / TFLM path

def test_predict_int8_outputs_equal_the_bench_tflm_path_on_the_same_windows(toy_export):
    from edgeppg.int8.tflm import tflm_outputs
    from edgeppg.infer import load_predictor

    x = pulse_recording()
    lite = load_predictor(toy_export, "litert").predict_recording(x, FS, hop_s=2.0)
    tflm = load_predictor(toy_export, "tflm").predict_recording(x, FS, hop_s=2.0)
    assert len(lite) == len(tflm) == 17 and np.array_equal(lite.model_input_q, tflm.model_input_q)
    m = json.loads((toy_export / "manifest.json").read_text())
    n_out = len(m["outputs"])
    golden = tflm_outputs(toy_export / "student_int8.tflite", lite.model_input_q, n_out)  # what bench compares against
    for o in m["outputs"]:
        ref = np.stack([g[o["index"]] for g in golden])
        assert np.array_equal(tflm.raw_outputs[o["name"]].astype(np.int8), ref), o["name"]
        # LiteRT's optimised kernels may round a requantization tie the other way (export/verify prove <= 1 LSB)
        diff = np.abs(lite.raw_outputs[o["name"]].astype(np.int16) - ref.astype(np.int16))
        assert diff.max() <= 1, o["name"]
    # the gate is the firmware's: withheld as noise exactly where argmax of the int8 logits is the noise class
    rh = next(o for o in m["outputs"] if o["name"] == "rhythm")
    noise = rh["labels"].index("noise")
    argmax = np.stack([g[rh["index"]] for g in golden]).argmax(axis=1)
    assert np.array_equal(tflm.rhythm, argmax)
    assert np.array_equal(tflm.withheld == "noise_class", (argmax == noise) & ~np.isin(tflm.quality, ["flat", "clipped"]))


# ------------------------------------------------------------------ preprocessing from the manifest's JSON alone

def _independent_int8_inputs(manifest: dict, x: np.ndarray, hop_s: float) -> np.ndarray:
    """The manifest's input description, implemented with scalar Python loops (no edgeppg code)."""
    spec = manifest["input"]
    pre = spec["preprocessing"]
    assert pre["kind"] == "bandpass-zscore" and pre["fs_hz"] == FS
    bp = pre["bandpass"]
    sos, zi, pad, eps = bp["sos"], bp["zi_unit"], int(bp["pad_samples"]), float(pre["eps"])
    n = int(round(pre["window_s"] * pre["fs_hz"]))
    hop = int(round(hop_s * pre["fs_hz"]))
    scale, zp = np.float32(spec["scale"]), int(spec["zero_point"])
    out = []
    for s in range(0, len(x) - n + 1, hop):
        w = [float(v) for v in x[s:s + n]]
        seq = [w[k] for k in range(pad, 0, -1)] + w  # mirrored pre-roll x[pad], ..., x[1], then the window
        y = seq
        for (b0, b1, b2, _a0, a1, a2), (zu0, zu1) in zip(sos, zi):  # DF2T biquads, sections in order
            z0, z1 = zu0 * seq[0], zu1 * seq[0]  # steady state for the first pre-roll sample
            nxt = []
            for xt in y:
                yt = b0 * xt + z0
                z0 = b1 * xt - a1 * yt + z1
                z1 = b2 * xt - a2 * yt
                nxt.append(yt)
            y = nxt
        y = y[pad:]
        mean = sum(y) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in y) / n)
        q = []
        for v in y:
            f = np.float32(np.float32((v - mean) / (std + eps)) / scale)  # float32 input, float32 division (TFLite)
            r = math.floor(abs(float(f)) + 0.5)  # round half away from zero
            q.append(max(-128, min(127, int(math.copysign(r, float(f))) + zp)))
        out.append(q)
    return np.array(out, np.int8)


def test_manifest_preprocessing_reimplemented_independently_gives_byte_identical_int8_inputs(bp_export):
    from edgeppg.infer import load_predictor

    x = pulse_recording(seconds=20.0, seed=3)
    wp = load_predictor(bp_export).predict_recording(x, FS, hop_s=2.0)
    ours = _independent_int8_inputs(json.loads((bp_export / "manifest.json").read_text()), x, 2.0)
    assert ours.shape == (len(wp), 512) and wp.preprocessing["kind"] == "bandpass-zscore"
    assert wp.model_input_q.reshape(len(wp), -1).tobytes() == ours.tobytes()


def test_manifest_without_preprocessing_means_zscore_only(toy_export):
    from edgeppg.infer import load_predictor

    x = pulse_recording(seconds=12.0)
    wp = load_predictor(toy_export).predict_recording(x, FS, hop_s=4.0)
    w = x[:512].astype(np.float64)
    z = ((w - w.mean()) / (w.std() + 1e-6)).astype(np.float32)
    assert wp.preprocessing["kind"] == "zscore" and np.array_equal(wp.model_input[0, 0], z)


# ------------------------------------------------------------------ the quality gate

def test_gate_withholds_hr_on_flat_and_clipped_windows_and_gives_reasons(toy_export):
    from edgeppg.infer import load_predictor

    x = pulse_recording(seconds=40.0).astype(np.float64)
    x[int(24 * FS):int(32 * FS)] = 500.0  # sensor off: flat
    seg = x[int(8 * FS):int(16 * FS)]
    x[int(8 * FS):int(16 * FS)] = np.clip(seg, np.percentile(seg, 25), np.percentile(seg, 75))  # saturated ADC
    wp = load_predictor(toy_export).predict_recording(x, FS, hop_s=8.0)  # windows 0-8, 8-16, 16-24, 24-32, 32-40
    assert list(wp.quality[[1, 3]]) == ["clipped", "flat"]
    assert list(wp.withheld[[1, 3]]) == ["clipped", "flat"]
    assert np.isnan(wp.hr_bpm[wp.withheld != ""]).all() and np.isnan(wp.rr[wp.withheld != ""]).all()
    assert np.array_equal(wp.hr_bpm[wp.withheld == ""], wp.hr_raw[wp.withheld == ""])
    assert np.allclose(wp.rhythm_prob.sum(axis=1), 1.0)


# ------------------------------------------------------------------ CLI, files, formats

def test_cli_prints_rows_and_summary_and_writes_csv_and_json(toy_export, tmp_path, capsys):
    rec = write_csv(tmp_path / "rec.csv", pulse_recording(seconds=30.0))
    assert main(["predict", str(toy_export), str(rec), "--fs", "64", "--out", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:4] == ["start_s", "HR_bpm", "withheld", "rhythm"]
    assert out[-2].startswith("12 windows (30 s); HR given on") and out[-1] == f"wrote {tmp_path / 'p.csv'}"
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0].startswith("start_s,hr_bpm,hr_withheld,hr_raw_bpm,rhythm,p_normal") and len(rows) == 13
    assert main(["predict", str(toy_export), str(rec), "--fs", "64", "--runtime", "tflm", "--out", str(tmp_path / "p.json")]) == 0
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["schema"] == "edgeppg.predictions/1" and doc["summary"]["windows"] == 12
    assert doc["model"]["runtime"] == "tflm" and doc["preprocessing"]["kind"] == "zscore"
    assert [r["start_s"] for r in doc["windows"]][:3] == [0.0, 2.0, 4.0]


def test_predict_from_a_checkpoint_uses_its_sidecar_preprocessing(tmp_path, capsys):
    from edgeppg.infer import load_predictor

    ck = sorted((REPO / "models").glob("ppg-student-*.safetensors"))[0]  # the shipped default student
    p = load_predictor(ck)
    wp = p.predict_recording(pulse_recording(seconds=16.0), FS)
    assert p.info["kind"] == "fp32-torch" and len(wp) == 5 and wp.model_input_q is None
    assert wp.rhythm_labels == ("normal", "brady", "tachy", "af", "noise")
    rec = write_csv(tmp_path / "rec.csv", pulse_recording(seconds=16.0))
    assert main(["predict", str(ck), str(rec), "--fs", "64"]) == 0
    assert "fp32-torch" in capsys.readouterr().out


def test_kid_ppg_dalia_layout_is_read_with_its_reference_hr(toy_export, tmp_path):
    """kid-ppg's PPG-DaLiA demo pickle: overlapping 32 Hz windows (protocol-5 arrays) + HR labels per window."""
    from edgeppg.infer import load_predictor

    fs, n = 32.0, 12
    sig = pulse_recording(seconds=8 + 2 * (n - 1), fs=fs).astype(np.float64)
    X = np.stack([np.stack([sig[k * 64:k * 64 + 256]] * 4) for k in range(n)])  # (N, 4, 256): BVP + acc x/y/z
    y = np.linspace(70, 81, n)[:, None]
    p = tmp_path / "PPGDalia_S9_demo.pkl"
    p.write_bytes(pickle.dumps({"X": X, "y": y}, protocol=5))
    wp = load_predictor(toy_export).predict_file(p)
    assert len(wp) == n and np.allclose(wp.ref_hr, y[:, 0]) and wp.recording["fs_hz"] == fs


# ------------------------------------------------------------------ bad input: one line, exit 2, nothing written

def _bad_cases(tmp_path: Path, export: Path) -> dict[str, tuple[list[str], str]]:
    good = write_csv(tmp_path / "good.csv", pulse_recording(seconds=20.0))
    nan = write_csv(tmp_path / "nan.csv", np.where(np.arange(1280) == 300, np.nan, pulse_recording(seconds=20.0)))
    short = write_csv(tmp_path / "short.csv", pulse_recording(seconds=5.0))
    (tmp_path / "rec.xyz").write_text("1\n2\n")
    (tmp_path / "not_export").mkdir()
    tampered = tmp_path / "tampered"
    shutil.copytree(export, tampered, ignore=shutil.ignore_patterns("verify", "real"))
    data = bytearray((tampered / "student_int8.tflite").read_bytes())
    data[300] ^= 1
    (tampered / "student_int8.tflite").write_bytes(bytes(data))
    out = str(tmp_path / "out" / "p.csv")
    e = str(export)
    return {
        "fs zero": ([e, str(good), "--fs", "0", "--out", out], "absurd"),
        "fs missing": ([e, str(good), "--out", out], "pass it with --fs"),
        "NaN samples": ([e, str(nan), "--fs", "64", "--out", out], "NaN/Inf samples (first at 4.69 s)"),
        "too short": ([e, str(short), "--fs", "64", "--out", out], "shorter than one 8 s window"),
        "unknown format": ([e, str(good), "--format", "edf", "--fs", "64", "--out", out], "unknown format 'edf'"),
        "unknown extension": ([e, str(tmp_path / "rec.xyz"), "--fs", "64", "--out", out], "unknown format '.xyz'"),
        "missing recording": ([e, str(tmp_path / "nope.csv"), "--fs", "64", "--out", out], "not found"),
        "missing export": ([str(tmp_path / "no_export"), str(good), "--fs", "64", "--out", out], "not found"),
        "not an export": ([str(tmp_path / "not_export"), str(good), "--fs", "64", "--out", out], "no manifest.json"),
        "tampered export": ([str(tampered), str(good), "--fs", "64", "--out", out], "modified after export"),
        "bad hop": ([e, str(good), "--fs", "64", "--hop-s", "-1", "--out", out], "--hop-s -1"),
        "out in missing folder": ([e, str(good), "--fs", "64", "--out", str(tmp_path / "missing" / "p.csv")],
                                  "does not exist"),
        "out suffix": ([e, str(good), "--fs", "64", "--out", str(tmp_path / "out" / "p.txt")], "must end in .csv or .json"),
    }


def test_bad_inputs_give_one_line_exit_2_and_write_nothing(toy_export, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    for name, (args, needle) in _bad_cases(tmp_path, toy_export).items():
        before = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert main(["predict", *args]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("edgeppg: error: ") and needle in err[0], (name, err)
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before == [], name
    assert not (tmp_path / "missing").exists()


def test_the_same_recording_errors_as_data_import(toy_export, tmp_path, capsys):
    """The reader's errors (not option parsing) are shared: same file, same line from both commands."""
    x = pulse_recording(seconds=20.0)
    cases = [(write_csv(tmp_path / "r.csv", x), ["--fs", "64", "--format", "edf"]),
             (write_csv(tmp_path / "nan.csv", np.where(np.arange(x.size) == 99, np.nan, x)), ["--fs", "64"]),
             (write_csv(tmp_path / "short.csv", x[:300]), ["--fs", "64"]),
             (write_csv(tmp_path / "two.csv", x, header="a"), ["--fs", "64", "--column", "b"])]
    for rec, args in cases:
        assert main(["data", "import", str(rec), "--out", str(tmp_path / "imp"), *args]) == 2
        imp = capsys.readouterr().err
        assert main(["predict", str(toy_export), str(rec), *args]) == 2
        assert capsys.readouterr().err == imp


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_refused_before_any_work(toy_export, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rec = write_csv(tmp_path / "r.csv", pulse_recording(seconds=20.0))
        assert main(["predict", str(toy_export), str(rec), "--fs", "64", "--out", str(ro / "p.csv")]) == 2
        assert "not writable" in capsys.readouterr().err and not any(ro.iterdir())
    finally:
        ro.chmod(0o755)


def test_checkpoint_without_input_spec_is_refused_unless_told(tmp_path, capsys):
    """A training-internal checkpoint does not say how it was preprocessed: never guess z-score silently."""
    import torch

    from edgeppg.infer import load_predictor
    from edgeppg.models.resnet1d import ResNet1d, resnet_config
    from edgeppg.preprocess import Preprocessing
    from edgeppg.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    ck = save_checkpoint(tmp_path / "best.safetensors", ResNet1d(resnet_config("resnet18", width=4)))
    rec = write_csv(tmp_path / "r.csv", pulse_recording(seconds=10.0))
    assert main(["predict", str(ck), str(rec), "--fs", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no input spec" in err[0]
    p = load_predictor(ck, pre=Preprocessing())
    assert p.pre.kind == "bandpass-zscore" and len(p.predict_recording(pulse_recording(seconds=10.0), FS)) == 2
