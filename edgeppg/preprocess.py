"""THE model-input preprocessing: one function used by training, export calibration, predict, eval and the
firmware reference, and written into the export manifest so a device repeats it exactly.

Steps, for a recording at any rate:
  1. resample to `fs_hz` (host only: a device samples at fs_hz; polyphase FIR, `edgeppg.data.signal.resample`);
  2. cut windows of `window_s` every `hop_s` (a window is the unit of inference), samples as float32;
  3. per window and channel, when `bandpass_hz` is set: a Butterworth band-pass as a cascade of biquads
     (second-order sections, direct form II transposed, float64), run over the window preceded by a
     mirrored pre-roll of `pad` samples (x[pad], x[pad-1], ..., x[1]), with every section's state started
     at its steady state for the pre-roll's first sample (`sosfilt_zi * x[pad]`), and the pre-roll dropped after;
  4. per window and channel z-score: (y - mean) / (std + eps), population std, float64, cast to float32;
  5. (int8 models) TFLite QUANTIZE with the manifest's input scale and zero point (`edgeppg.int8.fixedpoint.quantize`).

Why per window rather than one filter streaming across windows: the device holds the window anyway, the
filter costs ~10 k flops per inference (nothing next to the network), and a window-local definition
makes training, host evaluation and the device see *bit-identical* inputs. A streaming filter would make
a window's input depend on everything before it, which synthetic training windows cannot reproduce.
The steady-state start removes the DC step of raw-intensity signals; the mirrored pre-roll removes the
slope step, so the filter transient has died out before the window's first sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal as sps

from edgeppg.errors import EdgePPGError

ZSCORE_EPS = 1e-6
KIND_ZSCORE = "zscore"
KIND_BANDPASS = "bandpass-zscore"
DEFAULT_BANDPASS_HZ = (0.5, 4.0)  # 30-240 BPM fundamental; wander and breathing below, sensor hiss above


@dataclass(frozen=True)
class Preprocessing:
    fs_hz: float = 64.0
    window_s: float = 8.0
    bandpass_hz: tuple[float, float] | None = DEFAULT_BANDPASS_HZ  # None: z-score only
    order: int = 2  # Butterworth order per band edge (2 -> 2 biquads)
    pad_s: float = 1.0  # mirrored pre-roll per window
    eps: float = ZSCORE_EPS

    def __post_init__(self):
        if self.bandpass_hz is not None:
            lo, hi = (float(v) for v in self.bandpass_hz)
            object.__setattr__(self, "bandpass_hz", (lo, hi))
            if not (0 < lo < hi < self.fs_hz / 2):
                raise EdgePPGError(f"band-pass {lo:g}-{hi:g} Hz must satisfy 0 < low < high < fs/2 = {self.fs_hz / 2:g} Hz")
            if not 1 <= self.order <= 4:
                raise EdgePPGError(f"band-pass order {self.order} must be 1..4")
            if not 0 < self.pad_samples < self.samples:
                raise EdgePPGError(f"pre-roll {self.pad_s} s must be shorter than the {self.window_s} s window")

    @property
    def kind(self) -> str:
        return KIND_BANDPASS if self.bandpass_hz is not None else KIND_ZSCORE

    @property
    def samples(self) -> int:
        return int(round(self.window_s * self.fs_hz))

    @property
    def pad_samples(self) -> int:
        return int(round(self.pad_s * self.fs_hz))

    # ------------------------------------------------------------ coefficients (what the manifest carries)
    def sos(self) -> np.ndarray:
        """(sections, 6) float64 [b0 b1 b2 1 a1 a2] per biquad."""
        lo, hi = self.bandpass_hz
        return sps.butter(self.order, [lo, hi], btype="bandpass", fs=self.fs_hz, output="sos").astype(np.float64)

    def zi(self) -> np.ndarray:
        """(sections, 2) float64 state of each section at steady state for a unit input."""
        return sps.sosfilt_zi(self.sos()).astype(np.float64)

    # ------------------------------------------------------------ the transform
    def filter_windows(self, x: np.ndarray) -> np.ndarray:
        """(N, C, T) windows at fs_hz -> band-passed float64 windows (step 3 above); identity without a band-pass."""
        x = np.asarray(x, np.float64)
        if self.bandpass_hz is None:
            return x
        p = self.pad_samples
        pre = x[..., p:0:-1]  # x[p], x[p-1], ..., x[1]
        seq = np.concatenate([pre, x], axis=-1)
        sos, zi = self.sos(), self.zi()
        x0 = seq[..., 0]
        y = seq
        for s in range(sos.shape[0]):
            b0, b1, b2, _, a1, a2 = sos[s]
            z0 = zi[s, 0] * x0
            z1 = zi[s, 1] * x0
            out = np.empty_like(y)
            for t in range(y.shape[-1]):  # DF2T, vectorised over windows and channels
                xt = y[..., t]
                yt = b0 * xt + z0
                z0 = b1 * xt - a1 * yt + z1
                z1 = b2 * xt - a2 * yt
                out[..., t] = yt
            y = out
        return y[..., p:]

    def model_input(self, x: np.ndarray) -> np.ndarray:
        """(N, C, T) raw windows already at fs_hz -> float32 model input (steps 3-4)."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise EdgePPGError(f"windows must be (N, C, T), got shape {x.shape}")
        y = self.filter_windows(x)
        mean = y.mean(axis=-1, keepdims=True)
        std = y.std(axis=-1, keepdims=True)
        return ((y - mean) / (std + self.eps)).astype(np.float32)

    def windows_from_recording(self, x: np.ndarray, fs_in: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
        """A raw (L,) or (C, L) recording at fs_in -> (start seconds (N,), model input (N, C, T) float32)."""
        from edgeppg.data.signal import make_windows, resample, window_starts

        x = np.asarray(x, np.float64)
        if x.ndim == 1:
            x = x[None, :]
        y = resample(x, fs_in, self.fs_hz) if float(fs_in) != float(self.fs_hz) else x
        starts = window_starts(y.shape[-1], self.fs_hz, self.window_s, hop_s)
        w = make_windows(y.astype(np.float64), self.fs_hz, self.window_s, hop_s)
        # make_windows returns float32: keep the resampled float32 values, which is what a device's buffer holds
        return starts / self.fs_hz, self.model_input(w)

    # ------------------------------------------------------------ manifest / sidecar
    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "fs_hz": self.fs_hz, "window_s": self.window_s, "eps": self.eps,
                             "samples": "float32 at fs_hz (the device's sample buffer; the host resamples to it first)",
                             "zscore": {"ddof": 0, "per": "window and channel", "precision": "float64"}}
        if self.bandpass_hz is not None:
            d["bandpass"] = {
                "design": f"scipy.signal.butter({self.order}, {list(self.bandpass_hz)}, 'bandpass', fs={self.fs_hz:g}, output='sos')",
                "low_hz": self.bandpass_hz[0], "high_hz": self.bandpass_hz[1], "order": self.order,
                "form": "direct form II transposed biquads, float64, sections in order",
                "sos": self.sos().tolist(), "zi_unit": self.zi().tolist(),
                "pad_samples": self.pad_samples, "pad": "mirrored pre-roll x[pad]..x[1] before x[0], dropped after",
                "init": "state of section s = zi_unit[s] * first pre-roll sample (zi_unit = scipy.signal.sosfilt_zi: cascade gains included)",
                "per": "window and channel (no state carried across windows)"}
        return d

    @classmethod
    def from_json(cls, d: dict | None, *, fs_hz: float | None = None, window_s: float | None = None) -> "Preprocessing":
        """From a manifest/sidecar entry; a missing entry (older files) means the original z-score only."""
        if not d:
            return cls(fs_hz=float(fs_hz or 64.0), window_s=float(window_s or 8.0), bandpass_hz=None)
        if not isinstance(d, dict) or d.get("kind") not in (KIND_ZSCORE, KIND_BANDPASS):
            raise EdgePPGError(f"preprocessing {str(d)[:80]!r} is not one edgeppg knows (kinds: {KIND_ZSCORE}, {KIND_BANDPASS})")
        try:
            bp = d.get("bandpass")
            pre = cls(fs_hz=float(d["fs_hz"]), window_s=float(d["window_s"]), eps=float(d.get("eps", ZSCORE_EPS)),
                      bandpass_hz=(float(bp["low_hz"]), float(bp["high_hz"])) if d["kind"] == KIND_BANDPASS else None,
                      order=int(bp["order"]) if bp else 2,
                      pad_s=(int(bp["pad_samples"]) / float(d["fs_hz"])) if bp else 1.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise EdgePPGError(f"preprocessing entry is malformed ({exc.__class__.__name__}: {exc}); re-export the model") from None
        if pre.bandpass_hz is not None and not np.allclose(pre.sos(), np.asarray(bp.get("sos"), np.float64), rtol=0, atol=1e-12):
            raise EdgePPGError("preprocessing band-pass coefficients do not match its design; the file was edited or is from "
                               "another scipy: re-export the model")
        return pre

    def replace(self, **kw) -> "Preprocessing":
        return dataclasses.replace(self, **kw)



def from_input_spec(spec: dict | None) -> Preprocessing:
    """The preprocessing a checkpoint sidecar's (or manifest's) `input` entry names; z-score only when absent."""
    spec = spec or {}
    return Preprocessing.from_json(spec.get("preprocessing"), fs_hz=spec.get("fs_hz"), window_s=spec.get("window_s"))


def apply(w, pre: Preprocessing):
    """Raw `Windows` (any rate) -> model-input `Windows` at pre.fs_hz; beat indices are rescaled by resampling."""
    from edgeppg.data.signal import resample

    if w.normalised:
        raise EdgePPGError("windows are already normalised; preprocessing needs the raw windows")
    x = resample(w.x, w.fs_hz, pre.fs_hz)
    out = w.with_x(pre.model_input(x), fs_hz=float(pre.fs_hz), normalised=True)
    out.meta = dict(out.meta, preprocessing=pre.to_json())
    return out
