"""Signal-quality gate: windows the model should not trust get HR flagged invalid, not guessed.

A window is trusted when (a) the model does not call it `noise` and (b) its signal quality index (SQI)
reaches a threshold. The SQI is device-repeatable (one window, no future samples): the highest normalised
autocorrelation of the window at lags of plausible heart periods (35-220 BPM). A clean pulse train scores
~0.7-0.95; motion artefact, flat lines and clipped signals score low. Flat and clipped windows are
reported with their own reason so a wearer/integrator knows *why*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS

NOISE = RHYTHM_LABELS.index("noise")
HR_LAG_BPM = (35.0, 220.0)


@dataclass(frozen=True)
class QualityConfig:
    min_sqi: float = 0.2  # a floor: AF is irregular by nature (median SQI ~0.5), the noise class does most gating
    max_clipped_frac: float = 0.05  # samples stuck at the window's min or max
    flat_std: float = 1e-6


def sqi(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """(N, C, T) or (N, T) windows -> (N,) autocorrelation SQI in [0, 1] (first channel)."""
    x = np.asarray(x, np.float64)
    if x.ndim == 3:
        x = x[:, 0]
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    spec = np.fft.rfft(x, 2 * n)  # zero-padded so the autocorrelation is linear, not circular
    ac = np.fft.irfft(spec * np.conj(spec), 2 * n)[:, :n]
    energy = ac[:, :1]
    lo = max(1, int(np.floor(fs_hz * 60.0 / HR_LAG_BPM[1])))
    hi = min(n - 1, int(np.ceil(fs_hz * 60.0 / HR_LAG_BPM[0])))
    # unbiased normalisation: lag k sums n-k products
    norm = ac[:, lo:hi + 1] / np.maximum(energy, 1e-12) * (n / (n - np.arange(lo, hi + 1)))
    return np.clip(norm.max(axis=1), 0.0, 1.0)


def clipped_fraction(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim == 3:
        x = x[:, 0]
    span = x.max(axis=1, keepdims=True) - x.min(axis=1, keepdims=True)
    tol = 1e-6 * np.maximum(span, 1e-12)
    at_edge = (x >= x.max(axis=1, keepdims=True) - tol) | (x <= x.min(axis=1, keepdims=True) + tol)
    return at_edge.mean(axis=1)


@dataclass
class Gate:
    trusted: np.ndarray  # bool (N,)
    reason: np.ndarray  # str (N,): "ok" | "noise_class" | "low_sqi" | "flat" | "clipped"
    sqi: np.ndarray
    quality: np.ndarray | None = None  # str (N,): the signal's own reason, without the model: "ok" | "low_sqi" | "flat" | "clipped"

    def counts(self) -> dict[str, int]:
        vals, cnt = np.unique(self.reason, return_counts=True)
        return {str(v): int(c) for v, c in zip(vals, cnt)}


def gate(x_raw: np.ndarray, fs_hz: float, rhythm_pred: np.ndarray | None = None,
         cfg: QualityConfig = QualityConfig(), x_model: np.ndarray | None = None, noise_class: int = NOISE) -> Gate:
    """Decide per window whether its HR may be reported. THE gate: predict, eval and the reports all use it.

    x_raw: the windows at the model rate before any filtering/z-scoring (flat and clipped are read there: a
    band-pass would smooth a saturated plateau away). x_model: the model's input for the same windows
    (preprocessed); when given, the SQI is read on it (what the model sees: band-passed if the preprocessing
    band-passes; SQI is scale-free, so z-scoring does not change it), else on x_raw.
    rhythm_pred: the model's class per window; for an int8 model the argmax of the int8 logits, exactly as
    the firmware's gate (`argmax == noise_class` -> HR invalid).
    Reason precedence: flat > clipped > noise_class > low_sqi.
    """
    x = np.asarray(x_raw, np.float64)
    x2 = x[:, 0] if x.ndim == 3 else x
    q = sqi(x2 if x_model is None else x_model, fs_hz)
    quality = np.full(len(x2), "ok", dtype=object)
    quality[q < cfg.min_sqi] = "low_sqi"
    clipped = clipped_fraction(x2) > cfg.max_clipped_frac
    flat = x2.std(axis=1) < cfg.flat_std
    reason = quality.copy()
    if rhythm_pred is not None:
        reason[np.asarray(rhythm_pred) == noise_class] = "noise_class"
    for r in (reason, quality):
        r[clipped] = "clipped"
        r[flat] = "flat"
    return Gate(trusted=reason == "ok", reason=reason.astype(str), sqi=q, quality=quality.astype(str))


def apply_gate(decoded: dict[str, np.ndarray], g: Gate) -> dict[str, np.ndarray]:
    """HR/RR of untrusted windows become NaN with an explicit hr_valid flag (never a guessed number)."""
    out = dict(decoded)
    out["hr_valid"] = g.trusted.copy()
    for k in ("hr", "rr"):
        if k in out:
            v = np.asarray(out[k], np.float64).copy()
            v[~g.trusted] = np.nan
            out[k] = v
    return out
