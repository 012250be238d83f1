"""Subprocess that runs one published PPG HR model (see estimators.py): `python -m edgeppg.realppg._peer_worker
NAME IN.npz OUT.npz`. Started with TF_USE_LEGACY_KERAS=1 and the peers folder in EDGEPPG_PEERS."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
from scipy import signal as sps


def _resample(x: np.ndarray, fs: float, fs_out: float) -> np.ndarray:
    if abs(fs - fs_out) < 1e-9:
        return x.astype(np.float64)
    y = x
    if fs_out < fs:
        y = sps.sosfiltfilt(sps.butter(8, 0.45 * fs_out, btype="low", fs=fs, output="sos"), x)
    t_out = np.arange(int(np.floor(x.size / fs * fs_out))) / fs_out
    return np.interp(t_out, np.arange(x.size) / fs, y)


def _seed(tf) -> None:
    random.seed(0)
    np.random.seed(0)
    tf.random.set_seed(0)


def run_kid_ppg(x: np.ndarray, fs: float, starts: np.ndarray, window_s: float) -> np.ndarray:
    import tensorflow as tf
    _seed(tf)
    from kid_ppg.kid_ppg import KID_PPG

    f32 = 32.0
    y = _resample(x, fs, f32)
    y = sps.sosfiltfilt(sps.butter(4, [0.5, 3.5], btype="band", fs=f32, output="sos"), y - np.mean(y))
    w = int(round(8.0 * f32))

    def win(s):
        a = int(round(max(s, 0.0) * f32))
        seg = y[a:a + w]
        return seg if seg.size == w else None

    pairs, idx = [], []
    for i, s in enumerate(starts):
        cur, prev = win(s), win(s - 2.0)
        if cur is None:
            continue
        pairs.append(np.stack([prev if prev is not None and s >= 2.0 else cur, cur], axis=-1))
        idx.append(i)
    out = np.full(len(starts), np.nan)
    if pairs:
        model = KID_PPG()
        m, _ = model.predict(np.asarray(pairs, np.float32))
        out[idx] = np.asarray(m, np.float64).reshape(-1)
    return out


def run_beliefppg(x: np.ndarray, fs: float, starts: np.ndarray, window_s: float) -> np.ndarray:
    import tensorflow as tf
    _seed(tf)
    from beliefppg.inference.inference import infer_hr_uncertainty

    f64, ctx_s, stride_s = 64, 12.0, 2.0  # 7 frames of 8 s, 2 s apart: frame k ends 12 s after frame k-6 starts
    y = _resample(x, fs, float(f64))
    pad = int(ctx_s * f64)
    if y.size <= pad + 8 * f64:
        return np.full(len(starts), np.nan)
    y = np.concatenate([y[pad:0:-1], y])  # time-reversed first 12 s as context for the first windows
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        hr, _, _ = infer_hr_uncertainty(y[:, None], f64, batch_size=256)
    hr = np.asarray(hr, np.float64).reshape(-1)
    out = np.full(len(starts), np.nan)
    for i, s in enumerate(starts):
        k = int(round(s / stride_s))  # output k = frame k + 6 of the padded signal = window starting at s
        if abs(k * stride_s - s) < 0.25 and 0 <= k < hr.size:
            out[i] = hr[k]
    return out


def main(argv: list[str]) -> int:
    name, inp, outp = argv
    sys.path.insert(0, os.environ["EDGEPPG_PEERS"])
    with np.load(inp, allow_pickle=False) as z:
        x, fs, starts, window_s = z["signal"], float(z["fs"]), z["starts"], float(z["window"])
    fn = {"kid-ppg": run_kid_ppg, "beliefppg": run_beliefppg}[name]
    hr = fn(x, fs, starts, window_s)
    np.savez(outp, hr=hr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
