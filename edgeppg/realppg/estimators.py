"""Reference HR estimators for the real-PPG benchmark, scored on the same windows as edgeppg's models.

Per-window estimators, ``estimate(window (T,) raw, fs_hz) -> HR in BPM (NaN: none)``, in ``ESTIMATORS``:

- ``spectral-peak``: 0.5-4 Hz band-pass, Hann-windowed spectrum, peak in 40-200 BPM.
- ``neurokit2-peaks``: neurokit2 ``ppg_clean`` + ``ppg_findpeaks`` (Elgendi), HR = 60 / median RR.
- ``heartpy``: heartpy's 0.7-3.5 Hz band-pass then ``heartpy.process`` (read from .venv/real-data).

Whole-recording peers (published PPG HR models that need context), ``estimate_recording(signal, fs_hz,
starts_s, window_s) -> (N,) HR``, in ``RECORDING_ESTIMATORS``; installed by ``make peers`` into .venv/peers and
run in a subprocess (TF_USE_LEGACY_KERAS=1, fixed seeds) so TensorFlow never loads into the caller:

- ``kid-ppg`` (KID-PPG 0.0.4): 32 Hz, 0.5-3.5 Hz band-pass, no normalisation, pairs (window - 2 s, window);
  the first window is paired with itself. Accelerometer: none (its adaptive filter is skipped = zeros).
- ``beliefppg`` (BeliefPPG 0.3.1): 64 Hz, accelerometer zeros, 7 spectral frames (20 s) of context ending at
  the window; the first 12 s are given context by prepending the time-reversed first 12 s.

Overlap with the labelling detectors (sources.py): none of these is detector A (autocorrelation-refractory
systolic peaks) or B (steepest upslope); spectral-peak and heartpy share the band-pass + peak idea with A.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import types
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import signal as sps

from edgeppg.data.catalog import real_data_dirs

HR_BAND_BPM = (40.0, 200.0)


# ------------------------------------------------------------------ per-window estimators

def spectral_peak(window: np.ndarray, fs_hz: float) -> float:
    x = np.asarray(window, np.float64)
    if x.size < 2 * fs_hz or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return float("nan")
    sos = sps.butter(2, [0.5, min(4.0, 0.45 * fs_hz)], btype="band", fs=fs_hz, output="sos")
    y = sps.sosfiltfilt(sos, x - x.mean()) * np.hanning(x.size)
    nfft = max(4096, 1 << int(np.ceil(np.log2(x.size))))
    p = np.abs(np.fft.rfft(y, nfft)) ** 2
    bpm = np.fft.rfftfreq(nfft, 1.0 / fs_hz) * 60.0
    band = np.flatnonzero((bpm >= HR_BAND_BPM[0]) & (bpm <= HR_BAND_BPM[1]))
    k = band[np.argmax(p[band])]
    if 0 < k < p.size - 1:  # parabolic refinement of the peak bin
        a, b, c = np.log(p[k - 1: k + 2] + 1e-300)
        den = a - 2 * b + c
        k = k + (0.5 * (a - c) / den if den != 0 else 0.0)
    return float(k * fs_hz * 60.0 / nfft)


def neurokit2_peaks(window: np.ndarray, fs_hz: float) -> float:
    import neurokit2 as nk

    x = np.asarray(window, np.float64)
    if not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return float("nan")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clean = nk.ppg_clean(x, sampling_rate=fs_hz)
            peaks = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=fs_hz)["PPG_Peaks"])
    except Exception:  # noqa: BLE001 - a window it cannot handle gives no HR
        return float("nan")
    if peaks.size < 2:
        return float("nan")
    hr = 60.0 / (np.median(np.diff(peaks)) / fs_hz)
    return float(hr) if HR_BAND_BPM[0] / 2 <= hr <= 2 * HR_BAND_BPM[1] else float("nan")


_HEARTPY = None


def _import_heartpy():
    """heartpy from .venv/real-data (appended to sys.path). Its datautils does `from pkg_resources import
    resource_filename` (only for its bundled examples): where setuptools no longer ships pkg_resources a stub
    module stands in for that one import."""
    global _HEARTPY
    if _HEARTPY is not None:
        return _HEARTPY
    for d in real_data_dirs():
        if (d / "heartpy").is_dir() and str(d) not in sys.path:
            sys.path.append(str(d))
    stub = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            stub = types.ModuleType("pkg_resources")
            stub.resource_filename = lambda pkg, name: str(Path(importlib.util.find_spec(pkg).origin).parent / name)
            sys.modules["pkg_resources"] = stub
        import heartpy
    _HEARTPY = heartpy
    return heartpy


def heartpy_bpm(window: np.ndarray, fs_hz: float) -> float:
    hp = _import_heartpy()
    x = np.asarray(window, np.float64)
    if not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return float("nan")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = hp.filter_signal(x, cutoff=[0.7, min(3.5, 0.45 * fs_hz)], sample_rate=fs_hz, order=3,
                                 filtertype="bandpass")
            _, m = hp.process(f, sample_rate=fs_hz)
        hr = float(m["bpm"])
    except Exception:  # noqa: BLE001 - heartpy raises BadSignalWarning & co on windows it rejects
        return float("nan")
    return hr if np.isfinite(hr) and HR_BAND_BPM[0] / 2 <= hr <= 2 * HR_BAND_BPM[1] else float("nan")


ESTIMATORS: dict[str, Callable[[np.ndarray, float], float]] = {
    "spectral-peak": spectral_peak,
    "neurokit2-peaks": neurokit2_peaks,
    "heartpy": heartpy_bpm,
}


# ------------------------------------------------------------------ peers (whole recording, subprocess)

PEERS = {"kid-ppg": "kid_ppg", "beliefppg": "beliefppg"}
PEER_TIMEOUT_S = 900


def peers_dir() -> Path:
    env = os.environ.get("EDGEPPG_PEERS")
    return Path(env) if env else Path(sys.prefix) / "peers"


def _peer_missing(name: str) -> str | None:
    d = peers_dir()
    need = [PEERS[name], "tf_keras", "tensorflow_probability", "tree", "decorator"]
    missing = [m for m in need if not (d / m).is_dir()]
    if missing:
        return f"not installed: run `make peers` (missing in {d}: {', '.join(missing)})"
    try:
        if importlib.util.find_spec("tensorflow") is None:
            return "tensorflow is not installed in this environment"
    except (ImportError, ValueError):
        return "tensorflow is not importable in this environment"
    return None


def _run_peer(name: str, signal: np.ndarray, fs_hz: float, starts_s: np.ndarray, window_s: float) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="edgeppg-peer-") as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, signal=np.asarray(signal, np.float64), fs=float(fs_hz),
                 starts=np.asarray(starts_s, np.float64), window=float(window_s))
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1",
               "PYTHONHASHSEED": "0", "EDGEPPG_PEERS": str(peers_dir())}
        r = subprocess.run([sys.executable, "-m", "edgeppg.realppg._peer_worker", name, str(inp), str(out)],
                           env=env, capture_output=True, text=True, timeout=PEER_TIMEOUT_S)
        if r.returncode != 0 or not out.is_file():
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{name} failed (exit {r.returncode}): {' | '.join(tail)}")
        with np.load(out, allow_pickle=False) as z:
            return np.asarray(z["hr"], np.float64)


def kid_ppg(signal: np.ndarray, fs_hz: float, starts_s: np.ndarray, window_s: float) -> np.ndarray:
    return _run_peer("kid-ppg", signal, fs_hz, starts_s, window_s)


def beliefppg(signal: np.ndarray, fs_hz: float, starts_s: np.ndarray, window_s: float) -> np.ndarray:
    return _run_peer("beliefppg", signal, fs_hz, starts_s, window_s)


RECORDING_ESTIMATORS: dict[str, Callable[[np.ndarray, float, np.ndarray, float], np.ndarray]] = {
    "kid-ppg": kid_ppg,
    "beliefppg": beliefppg,
}


def available_estimators() -> dict[str, tuple[Callable | None, str | None]]:
    """name -> (callable, None) or (None, why it is missing). Per-window callables for ESTIMATORS names,
    whole-recording callables (see `is_recording_estimator`) for the peers."""
    out: dict[str, tuple[Callable | None, str | None]] = {}
    for name, fn in ESTIMATORS.items():
        reason = None
        if name == "heartpy":
            try:
                _import_heartpy()
            except Exception as exc:  # noqa: BLE001
                reason = f"heartpy does not import ({exc.__class__.__name__}: {exc}); run make setup"
        elif name == "neurokit2-peaks" and importlib.util.find_spec("neurokit2") is None:
            reason = "neurokit2 is not installed"
        out[name] = (None, reason) if reason else (fn, None)
    for name, fn in RECORDING_ESTIMATORS.items():
        reason = _peer_missing(name)
        out[name] = (None, reason) if reason else (fn, None)
    return out


def is_recording_estimator(name: str) -> bool:
    return name in RECORDING_ESTIMATORS


def estimate_windows(name: str, signal: np.ndarray, fs_hz: float, starts_s: np.ndarray, window_s: float) -> np.ndarray:
    """Any estimator on a window grid -> (N,) HR (NaN where it gives none)."""
    if name in RECORDING_ESTIMATORS:
        return RECORDING_ESTIMATORS[name](signal, fs_hz, starts_s, window_s)
    fn = ESTIMATORS[name]
    w = int(round(window_s * fs_hz))
    out = np.full(len(starts_s), np.nan)
    for i, s in enumerate(starts_s):
        a = int(round(s * fs_hz))
        seg = signal[a:a + w]
        if seg.size == w:
            out[i] = fn(seg, fs_hz)
    return out
