"""The windows contract every stage exchanges (docs/design.md §1).

A `Windows` holds N equally long windows of one modality at one sampling rate:
  x         float32 (N, C, T)   signal, already normalised if `normalised` is True
  fs_hz     float               sampling rate of x
  rhythm    int64 (N,)          index into RHYTHM_LABELS, -1 = unknown
  hr_bpm    float32 (N,)        heart rate from the labelled beats (NaN when unknown)
  hr_valid  bool (N,)           False for noise / unreadable / unlabelled windows
  rr_bpm    float32 (N,)        respiratory rate, breaths/min (NaN when unknown)
  beat_idx  int32 (sum beats)   beat sample indices into each window (ragged, CSR with beat_ptr)
  beat_ptr  int64 (N+1,)        window i's beats are beat_idx[beat_ptr[i]:beat_ptr[i+1]]
  window_id int64 (N,)          stable id (e.g. generator index) used to record calibration/test sets
  record_id int64 (N,)          which recording a window came from (split by record, never by window)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.io import load_npz, save_npz

RHYTHM_LABELS: tuple[str, ...] = ("normal", "brady", "tachy", "af", "noise")
SCHEMA = "edgeppg.windows/1"


@dataclass
class Windows:
    x: np.ndarray
    fs_hz: float
    rhythm: np.ndarray
    hr_bpm: np.ndarray
    hr_valid: np.ndarray
    rr_bpm: np.ndarray
    beat_idx: np.ndarray
    beat_ptr: np.ndarray
    window_id: np.ndarray
    record_id: np.ndarray
    modality: str = "ppg"  # "ppg" | "ecg"
    normalised: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.x = np.asarray(self.x, dtype=np.float32)
        if self.x.ndim != 3:
            raise EdgePPGError(f"windows must be (N, C, T), got shape {self.x.shape}")
        n = self.x.shape[0]
        self.rhythm = np.asarray(self.rhythm, dtype=np.int64)
        self.hr_bpm = np.asarray(self.hr_bpm, dtype=np.float32)
        self.hr_valid = np.asarray(self.hr_valid, dtype=bool)
        self.rr_bpm = np.asarray(self.rr_bpm, dtype=np.float32)
        self.beat_idx = np.asarray(self.beat_idx, dtype=np.int32)
        self.beat_ptr = np.asarray(self.beat_ptr, dtype=np.int64)
        self.window_id = np.asarray(self.window_id, dtype=np.int64)
        self.record_id = np.asarray(self.record_id, dtype=np.int64)
        for name in ("rhythm", "hr_bpm", "hr_valid", "rr_bpm", "window_id", "record_id"):
            if getattr(self, name).shape != (n,):
                raise EdgePPGError(f"windows field {name} must have shape ({n},), got {getattr(self, name).shape}")
        if self.beat_ptr.shape != (n + 1,):
            raise EdgePPGError(f"beat_ptr must have shape ({n + 1},), got {self.beat_ptr.shape}")
        if not (self.fs_hz > 0):
            raise EdgePPGError(f"sampling rate must be > 0 Hz, got {self.fs_hz}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def channels(self) -> int:
        return int(self.x.shape[1])

    @property
    def samples(self) -> int:
        return int(self.x.shape[2])

    @property
    def window_s(self) -> float:
        return self.samples / self.fs_hz

    def beats(self, i: int) -> np.ndarray:
        return self.beat_idx[self.beat_ptr[i]: self.beat_ptr[i + 1]]

    def subset(self, idx) -> "Windows":
        """Windows at positions `idx` (bool mask or int indices), beats carried along."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        counts = self.beat_ptr[idx + 1] - self.beat_ptr[idx]
        parts = [self.beat_idx[self.beat_ptr[i]: self.beat_ptr[i + 1]] for i in idx]
        beat_idx = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        beat_ptr = np.concatenate([[0], np.cumsum(counts)])
        return dataclasses.replace(
            self, x=self.x[idx], rhythm=self.rhythm[idx], hr_bpm=self.hr_bpm[idx], hr_valid=self.hr_valid[idx],
            rr_bpm=self.rr_bpm[idx], beat_idx=beat_idx, beat_ptr=beat_ptr, window_id=self.window_id[idx],
            record_id=self.record_id[idx], meta=dict(self.meta),
        )

    def with_x(self, x: np.ndarray, fs_hz: float | None = None, normalised: bool | None = None) -> "Windows":
        """Same labels, new signal (e.g. after resampling: beat indices are rescaled to the new rate)."""
        fs_new = self.fs_hz if fs_hz is None else fs_hz
        scale = fs_new / self.fs_hz
        beat_idx = np.round(self.beat_idx * scale).astype(np.int32) if scale != 1 else self.beat_idx
        return dataclasses.replace(
            self, x=x, fs_hz=fs_new, beat_idx=beat_idx,
            normalised=self.normalised if normalised is None else normalised, meta=dict(self.meta),
        )

    @staticmethod
    def concat(parts: list["Windows"]) -> "Windows":
        if not parts:
            raise EdgePPGError("no windows to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if p.fs_hz != first.fs_hz or p.x.shape[1:] != first.x.shape[1:]:
                raise EdgePPGError(
                    f"cannot concatenate windows of {p.fs_hz} Hz {p.x.shape[1:]} with {first.fs_hz} Hz {first.x.shape[1:]}"
                )
        ptrs, off = [np.zeros(1, np.int64)], 0
        for p in parts:
            ptrs.append(p.beat_ptr[1:] + off)
            off += int(p.beat_ptr[-1])
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return Windows(
            x=cat("x"), fs_hz=first.fs_hz, rhythm=cat("rhythm"), hr_bpm=cat("hr_bpm"), hr_valid=cat("hr_valid"),
            rr_bpm=cat("rr_bpm"), beat_idx=cat("beat_idx"), beat_ptr=np.concatenate(ptrs), window_id=cat("window_id"),
            record_id=cat("record_id"), modality=first.modality, normalised=first.normalised, meta=dict(first.meta),
        )


_ARRAYS = ("x", "rhythm", "hr_bpm", "hr_valid", "rr_bpm", "beat_idx", "beat_ptr", "window_id", "record_id")


def save_windows(path: str | Path, w: Windows) -> Path:
    """One .npz (deterministic bytes, atomic) holding the arrays plus a JSON header."""
    header = {"schema": SCHEMA, "fs_hz": float(w.fs_hz), "modality": w.modality, "normalised": bool(w.normalised),
              "meta": w.meta}
    arrays = {k: getattr(w, k) for k in _ARRAYS}
    arrays["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    return save_npz(path, arrays)


def load_windows(path: str | Path) -> Windows:
    path = Path(path)
    if not path.is_file():
        raise EdgePPGError(f"windows file {path} not found; create one with `edgeppg data synth --out DIR`")
    try:
        z = load_npz(path)
        header = json.loads(bytes(z.pop("header")).decode())
    except Exception as exc:  # noqa: BLE001 - any decode failure is a user-facing "corrupt file"
        raise EdgePPGError(f"{path} is not a readable edgeppg windows file ({exc.__class__.__name__}); regenerate it") from None
    if header.get("schema") != SCHEMA:
        raise EdgePPGError(f"{path} has schema {header.get('schema')!r}, expected {SCHEMA!r}")
    missing = [k for k in _ARRAYS if k not in z]
    if missing:
        raise EdgePPGError(f"{path} lacks arrays {missing}; regenerate it")
    return Windows(**{k: z[k] for k in _ARRAYS}, fs_hz=header["fs_hz"], modality=header["modality"],
                   normalised=header["normalised"], meta=header.get("meta", {}))
