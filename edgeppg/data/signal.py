"""Pure signal functions: resampling, windowing, normalisation and recording validation.

Everything here is a function of its arguments only (no global state, no whole-recording statistics in
the normalisation) so that a microcontroller can repeat exactly what the model saw (docs/design.md §2).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as sps

from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError

# Sampling rates outside this range are almost certainly a unit mistake (kHz vs Hz, period vs rate).
MIN_FS_HZ = 1.0
MAX_FS_HZ = 10_000.0
# The normalisation the export manifest describes: {"kind": "zscore", "eps": ZSCORE_EPS}.
ZSCORE_EPS = 1e-6


def rational_ratio(fs_in: float, fs_out: float, max_den: int = 1000) -> tuple[int, int]:
    """(up, down) with up/down ~= fs_out/fs_in; small integers keep the polyphase filter short."""
    check_fs(fs_in, "input")
    check_fs(fs_out, "output")
    ratio = Fraction(float(fs_out) / float(fs_in)).limit_denominator(max_den)
    if ratio.numerator == 0:
        raise EdgePPGError(f"cannot resample {fs_in} Hz to {fs_out} Hz (ratio too small)")
    return ratio.numerator, ratio.denominator


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along the last axis (scipy.signal.resample_poly, Kaiser FIR).

    The ratio is approximated by a fraction with denominator <= 1000 (250 -> 64 Hz is exactly 32/125).
    Edges are padded by extending the local line, which avoids the ringing zero-padding causes at
    window borders. Output length is ceil(T * up / down). Returns float32.
    """
    x = np.asarray(x)
    if float(fs_in) == float(fs_out):
        return x.astype(np.float32, copy=True)
    up, down = rational_ratio(fs_in, fs_out)
    if x.shape[-1] < 2:
        raise EdgePPGError(f"cannot resample a signal of {x.shape[-1]} samples")
    y = sps.resample_poly(x.astype(np.float64, copy=False), up, down, axis=-1, padtype="line")
    return y.astype(np.float32)


def window_starts(n_samples: int, fs: float, window_s: float, hop_s: float) -> np.ndarray:
    """Start sample of every full window (no partial window at the end)."""
    t = int(round(window_s * fs))
    hop = int(round(hop_s * fs))
    if t < 1 or hop < 1:
        raise EdgePPGError(f"window {window_s} s / hop {hop_s} s at {fs} Hz gives less than one sample")
    if n_samples < t:
        return np.zeros(0, np.int64)
    return np.arange(0, n_samples - t + 1, hop, dtype=np.int64)


def make_windows(signal: np.ndarray, fs: float, window_s: float, hop_s: float) -> np.ndarray:
    """(L,) or (C, L) signal -> (N, C, T) float32 windows of round(window_s*fs) samples every hop.

    Only full windows are returned; a signal shorter than one window gives N = 0.
    """
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise EdgePPGError(f"signal must be (L,) or (C, L), got shape {x.shape}")
    t = int(round(window_s * fs))
    starts = window_starts(x.shape[1], fs, window_s, hop_s)
    if len(starts) == 0:
        return np.zeros((0, x.shape[0], max(t, 0)), np.float32)
    view = np.lib.stride_tricks.sliding_window_view(x, t, axis=1)  # (C, L-T+1, T)
    return np.ascontiguousarray(view[:, starts, :].transpose(1, 0, 2))


def zscore(x: np.ndarray, eps: float = ZSCORE_EPS) -> np.ndarray:
    """Per-window, per-channel standardisation over the last axis: (x - mean) / (std + eps).

    std is the population standard deviation (ddof=0) of that window alone, so a device can compute it
    from the window it holds. Statistics are accumulated in float64; the result is float32.
    """
    x64 = np.asarray(x, dtype=np.float64)
    mean = x64.mean(axis=-1, keepdims=True)
    std = x64.std(axis=-1, keepdims=True)
    return ((x64 - mean) / (std + eps)).astype(np.float32)


def check_fs(fs, what: str = "sampling") -> float:
    """A usable sampling rate or a one-line error saying how to pass one."""
    if fs is None:
        raise EdgePPGError(f"{what} rate is missing; pass it with --fs HZ (e.g. --fs 64)")
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise EdgePPGError(f"{what} rate {fs!r} is not a number; pass it with --fs HZ (e.g. --fs 64)") from None
    if not np.isfinite(fs) or fs < MIN_FS_HZ or fs > MAX_FS_HZ:
        raise EdgePPGError(
            f"{what} rate {fs} Hz is absurd (expected {MIN_FS_HZ:g}..{MAX_FS_HZ:g} Hz); pass the real rate with --fs HZ"
        )
    return fs


def validate_recording(x: np.ndarray, fs, min_seconds: float, name: str = "recording",
                       channels: int | None = None) -> np.ndarray:
    """Check a raw recording before windowing; returns it as float (C, L). One clear line on any problem."""
    fs = check_fs(fs, f"{name}: sampling")
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise EdgePPGError(f"{name}: samples are not numbers (dtype {arr.dtype}); export the signal as numeric values")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise EdgePPGError(f"{name}: expected a 1-D signal or (channels, samples), got shape {np.shape(x)}")
    if channels is not None and arr.shape[0] != channels:
        raise EdgePPGError(f"{name}: has {arr.shape[0]} channels, expected {channels}; select one with --column/--channel")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad)[0][-1])
        raise EdgePPGError(
            f"{name}: contains {int(bad.sum())} NaN/Inf samples (first at {first / fs:.2f} s); "
            "interpolate or cut them out before importing"
        )
    big = float(np.abs(arr).max())
    if big > 1e30:  # windows are float32 (max 3.4e38): larger samples would turn into Inf after this check
        raise EdgePPGError(f"{name}: has samples up to {big:.3g}, beyond the float32 range edgeppg stores windows in; "
                           "rescale the signal before importing")
    seconds = arr.shape[1] / fs
    if seconds < min_seconds:
        raise EdgePPGError(
            f"{name}: is {seconds:.2f} s long ({arr.shape[1]} samples at {fs:g} Hz), shorter than one "
            f"{min_seconds:g} s window; use a longer recording or check --fs"
        )
    flat = np.ptp(arr, axis=1) <= 1e-12 * max(1.0, float(np.abs(arr).max()))
    if flat.any():
        raise EdgePPGError(f"{name}: channel {int(np.argmax(flat))} is a flat line (sensor off?); check the recording")
    return arr


def preprocess(w: Windows, fs_hz: float, eps: float = ZSCORE_EPS) -> Windows:
    """What the model sees: resample to `fs_hz`, then per-window z-score. Beat indices are rescaled."""
    x = resample(w.x, w.fs_hz, fs_hz)
    return w.with_x(zscore(x, eps), fs_hz=float(fs_hz), normalised=True)


def hr_from_beats(beat_idx: np.ndarray, fs: float) -> float:
    """60 / mean RR of consecutive beats = 60 * fs * (n-1) / (last - first); NaN for fewer than 2 beats."""
    b = np.asarray(beat_idx, dtype=np.float64)
    if b.size < 2 or b[-1] <= b[0]:
        return float("nan")
    return float(60.0 * fs * (b.size - 1) / (b[-1] - b[0]))


def hr_per_window(w: Windows) -> np.ndarray:
    """hr_from_beats for every window of `w` (float64, NaN where fewer than 2 beats)."""
    return np.array([hr_from_beats(w.beats(i), w.fs_hz) for i in range(len(w))], dtype=np.float64)
