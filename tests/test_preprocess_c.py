"""The firmware's C preprocessing (firmware_harness/preprocess) against edgeppg/preprocess.py, on real windows.

Same coefficients (from the manifest JSON), same float32 sample buffer; the int8 model inputs must agree
(a 1 LSB difference is allowed only at a rounding tie from numpy's pairwise vs the C loop's sequential sums).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeppg.preprocess import Preprocessing
from edgeppg.int8.fixedpoint import quantize

REPO = Path(__file__).resolve().parents[1]
SCALE, ZP = 0.0625, -3  # a typical int8 input: z-scored windows span about +-8


def _build(tmp: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    exe = tmp / "pre_main"
    src = REPO / "firmware_harness" / "preprocess"
    subprocess.run(["gcc", "-std=c11", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-I", str(src), str(src / "eppg_preprocess.c"),
                    str(REPO / "tests" / "c_src" / "pre_main.c"), "-lm", "-o", str(exe)], check=True)
    return exe


def _run_c(exe: Path, tmp: Path, pre: Preprocessing, windows: np.ndarray) -> np.ndarray:
    d = pre.to_json()
    bp = d.get("bandpass")
    sos = np.asarray(bp["sos"], np.float64) if bp else np.zeros((0, 6))
    zi = np.asarray(bp["zi_unit"], np.float64) if bp else np.zeros((0, 2))
    n_w, n = windows.shape
    blob = struct.pack("<4Idfi", len(sos), bp["pad_samples"] if bp else 0, n, n_w, d["eps"], SCALE, ZP)
    blob += sos.astype("<f8").tobytes() + zi.astype("<f8").tobytes() + windows.astype("<f4").tobytes()
    (tmp / "in.bin").write_bytes(blob)
    subprocess.run([str(exe), str(tmp / "in.bin"), str(tmp / "out.bin")], check=True)
    return np.frombuffer((tmp / "out.bin").read_bytes(), np.int8).reshape(n_w, n)


def _real_windows(pre: Preprocessing, max_per_source: int = 40) -> np.ndarray:
    """Raw float32 windows at the model rate from the installed real sources (synthetic when none is installed)."""
    from edgeppg.data.signal import make_windows, resample
    from edgeppg.realppg.sources import real_sources

    parts = []
    for s in real_sources(derived=True):
        y = resample(s.signal, s.fs_hz, pre.fs_hz) if s.fs_hz != pre.fs_hz else s.signal.astype(np.float32)
        parts.append(make_windows(y, pre.fs_hz, pre.window_s, s.hop_s)[:max_per_source, 0])
    if not parts:
        from edgeppg.data.synth import synth_pairs
        return synth_pairs(100, 3)[1].x[:, 0]
    return np.concatenate(parts)


@pytest.mark.parametrize("bandpass", [(0.5, 4.0), None])
def test_c_preprocessing_matches_python_on_real_windows(tmp_path, bandpass):
    pre = Preprocessing(bandpass_hz=bandpass)
    exe = _build(tmp_path)
    x = _real_windows(pre)
    got = _run_c(exe, tmp_path, pre, x)
    want = quantize(pre.model_input(x[:, None, :])[:, 0], SCALE, ZP)
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert diff.max() <= 1, f"C vs Python differ by up to {diff.max()} LSB"
    assert (diff > 0).mean() < 1e-3, f"{int((diff > 0).sum())} of {diff.size} samples differ by 1 LSB"
    assert len(x) >= 100


def test_raw_intensity_dc_and_polarity_do_not_leak_into_the_input(tmp_path):
    """A finger sensor's raw light intensity (large DC, pulses pointing down) gives the band-passed pulse."""
    pre = Preprocessing()
    exe = _build(tmp_path)
    t = np.arange(512) / 64.0
    pulse = np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 2.4 * t)
    raw = (30000.0 - 40.0 * pulse)[None, :].astype(np.float32)
    got = _run_c(exe, tmp_path, pre, raw)[0].astype(np.float64)
    ref = _run_c(exe, tmp_path, pre, (-pulse)[None, :].astype(np.float32))[0].astype(np.float64)
    assert np.corrcoef(got[64:], ref[64:])[0, 1] > 0.999  # the DC step is gone: same input as without it
