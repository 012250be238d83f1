"""Readers for the recordings users bring: WFDB (+ .atr), PPG-DaLiA subject pickles, CSV, NPZ.

Each returns `Windows` in the common contract, raw (not normalised; `preprocess` does that). Labels a
file does not carry are unknown: rhythm -1, hr_bpm NaN, hr_valid False, rr_bpm NaN, no beats.
Every problem with the input is an EdgePPGError with one line naming the problem and the fix.
"""

from __future__ import annotations

import csv
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgeppg.data.signal import check_fs, hr_from_beats, make_windows, validate_recording, window_starts
from edgeppg.data.synth import BRADY, BRADY_BELOW, NORMAL, TACHY, TACHY_ABOVE
from edgeppg.data.windows import RHYTHM_LABELS, Windows, load_windows
from edgeppg.errors import EdgePPGError

FORMATS = ("csv", "dalia", "npz", "wfdb")
HR_PLAUSIBLE = (25.0, 250.0)  # BPM; outside this a window's beat annotations are not trusted
# WFDB beat annotation symbols (MIT-BIH convention); everything else (rhythm '+', noise '~', ...) is not a beat.
WFDB_BEATS = frozenset("NLRBAaJSVrFejnE/fQ?")
# WFDB rhythm aux notes -> class; "(N" is sinus and becomes normal/brady/tachy by the window's HR.
WFDB_RHYTHMS = {"(N": "sinus", "(SR": "sinus", "(SBR": "brady", "(SINUS BRADY": "brady", "(ST": "tachy",
                "(AFIB": "af", "(AF": "af", "(NOISE": "noise"}
_PPG_NAMES = ("pleth", "ppg", "bvp", "pulse")


def _missing(path: Path, what: str) -> EdgePPGError:
    return EdgePPGError(f"{what} {path} not found; check the path")


@dataclass
class RawRecording:
    """One continuous recording as its file holds it (before windowing) and the labels the file carries.

    `read_signal` returns it validated (same checks and one-line errors as `read_recording`); `windows()`
    cuts it exactly as `read_recording` does. hr_labels are per window of `label_grid` = (window_s, hop_s).
    """
    x: np.ndarray  # (C, L) or (L,) raw samples
    fs_hz: float
    name: str
    modality: str = "ppg"
    meta: dict[str, Any] = field(default_factory=dict)
    record_id: int = 0
    beats: np.ndarray | None = None
    rhythm_spans: list[tuple[int, str]] | None = None
    hr_labels: np.ndarray | None = None
    label_grid: tuple[float, float] | None = None

    def windows(self, window_s: float = 8.0, hop_s: float | None = None) -> Windows:
        return windows_from_signal(self.x, self.fs_hz, window_s, hop_s, beats=self.beats,
                                   rhythm_spans=self.rhythm_spans, hr_labels=self.hr_labels,
                                   modality=self.modality, record_id=self.record_id, meta=self.meta, name=self.name)


def sinus_class(hr: float) -> int:
    """Sinus rhythm -> brady / normal / tachy with the generator's thresholds; -1 when HR is unknown."""
    if not np.isfinite(hr):
        return -1
    return BRADY if hr < BRADY_BELOW else TACHY if hr > TACHY_ABOVE else NORMAL


def windows_from_signal(x: np.ndarray, fs: float, window_s: float = 8.0, hop_s: float | None = None, *,
                        beats: np.ndarray | None = None, rhythm_spans: Sequence[tuple[int, str]] | None = None,
                        hr_labels: np.ndarray | None = None, modality: str = "ppg", record_id: int = 0,
                        meta: dict[str, Any] | None = None, name: str = "recording") -> Windows:
    """A validated (C, L) recording -> Windows, with labels from whatever the source provides.

    beats: sample indices into the recording (HR and beat marks per window).
    rhythm_spans: [(start_sample, label)] where label is a RHYTHM_LABELS name or "sinus"; a window gets a
      rhythm only if one span covers it entirely.
    hr_labels: HR per window (e.g. PPG-DaLiA), overrides the beat-derived HR.
    """
    hop_s = window_s if hop_s is None else hop_s
    x = validate_recording(x, fs, window_s, name)
    xw = make_windows(x, fs, window_s, hop_s)
    starts = window_starts(x.shape[1], fs, window_s, hop_s)
    t = xw.shape[2]
    n = xw.shape[0]
    if hr_labels is not None:
        n = min(n, len(hr_labels))  # labels may stop before the signal does
        xw, starts = xw[:n], starts[:n]
    rhythm = np.full(n, -1, np.int64)
    hr = np.full(n, np.nan, np.float32)
    valid = np.zeros(n, bool)
    counts = np.zeros(n, np.int64)
    parts: list[np.ndarray] = []
    b = np.sort(np.asarray(beats, np.int64)) if beats is not None else None
    span_starts = np.array([s for s, _ in rhythm_spans], np.int64) if rhythm_spans else None
    for i, s in enumerate(starts):
        wb = np.zeros(0, np.int64)
        if b is not None:
            lo, hi = np.searchsorted(b, [s, s + t])
            wb = b[lo:hi] - s
            h = hr_from_beats(wb, fs)
            if np.isfinite(h) and HR_PLAUSIBLE[0] <= h <= HR_PLAUSIBLE[1]:
                hr[i], valid[i] = h, True
        if hr_labels is not None:
            h = float(hr_labels[i])
            ok = np.isfinite(h) and HR_PLAUSIBLE[0] <= h <= HR_PLAUSIBLE[1]
            hr[i], valid[i] = (h, True) if ok else (np.nan, False)
        if span_starts is not None:
            k0 = int(np.searchsorted(span_starts, s, side="right")) - 1
            k1 = int(np.searchsorted(span_starts, s + t - 1, side="right")) - 1
            if k0 >= 0 and k0 == k1:
                lab = rhythm_spans[k0][1]
                if lab == "sinus":
                    rhythm[i] = sinus_class(float(hr[i]) if valid[i] else np.nan)
                elif lab in RHYTHM_LABELS:
                    rhythm[i] = RHYTHM_LABELS.index(lab)
                if lab == "noise":
                    valid[i] = False
        parts.append(wb.astype(np.int32))
        counts[i] = wb.size
    return Windows(
        x=xw, fs_hz=float(fs), rhythm=rhythm, hr_bpm=hr, hr_valid=valid, rr_bpm=np.full(n, np.nan, np.float32),
        beat_idx=np.concatenate(parts) if parts else np.zeros(0, np.int32),
        beat_ptr=np.concatenate([[0], np.cumsum(counts)]), window_id=np.arange(n, dtype=np.int64),
        record_id=np.full(n, record_id, np.int64), modality=modality, normalised=False,
        meta={"window_s": float(window_s), "hop_s": float(hop_s), **(meta or {})},
    )


# ------------------------------------------------------------------ WFDB

def _wfdb_base(path: Path) -> Path:
    base = path.with_suffix("") if path.suffix in (".hea", ".dat", ".atr", ".qrs", ".ecg") else path
    if not base.with_suffix(".hea").is_file():
        raise _missing(base.with_suffix(".hea"), "WFDB header")
    return base


def _pick_channel(names: list[str], channel: int | str | None, modality: str | None) -> int:
    if isinstance(channel, int) or (isinstance(channel, str) and channel.isdigit()):
        k = int(channel)
        if not 0 <= k < len(names):
            raise EdgePPGError(f"channel {k} does not exist; the record has {len(names)}: {', '.join(names)}")
        return k
    if isinstance(channel, str):
        low = [s.lower() for s in names]
        if channel.lower() not in low:
            raise EdgePPGError(f"no channel named {channel!r}; choose one of: {', '.join(names)}")
        return low.index(channel.lower())
    if modality == "ppg":
        for k, s in enumerate(names):
            if any(p in s.lower() for p in _PPG_NAMES):
                return k
    return 0


def read_wfdb(record_path: str | Path, window_s: float = 8.0, hop_s: float | None = None,
              channel: int | str | None = None, ann_ext: str = "atr", modality: str | None = None,
              record_id: int = 0) -> Windows:
    """A WFDB record (+ optional annotation file) -> Windows of one channel (see `load_wfdb`)."""
    return load_wfdb(record_path, channel, ann_ext, modality, record_id).windows(window_s, hop_s)


def load_wfdb(record_path: str | Path, channel: int | str | None = None, ann_ext: str = "atr",
              modality: str | None = None, record_id: int = 0) -> RawRecording:
    """A WFDB record (+ optional annotation file) -> one channel as a RawRecording.

    Beats come from beat-type annotations (HR per window from them); rhythm from '+' annotations' aux
    notes ("(N", "(AFIB", "(SBR", ...; sinus split into normal/brady/tachy by the window's HR). Modality is
    guessed from the channel name (PLETH/PPG/BVP -> ppg, else ecg) unless given.
    """
    import wfdb

    base = _wfdb_base(Path(record_path))
    try:
        rec = wfdb.rdrecord(str(base))
    except Exception as exc:  # noqa: BLE001 - wfdb raises many types for corrupt files
        raise EdgePPGError(f"cannot read WFDB record {base} ({exc.__class__.__name__}: {exc}); check the .hea/.dat pair") from None
    names = list(rec.sig_name or [f"ch{k}" for k in range(rec.n_sig)])
    k = _pick_channel(names, channel, modality)
    mod = modality or ("ppg" if any(p in names[k].lower() for p in _PPG_NAMES) else "ecg")
    x = rec.p_signal[:, k] if rec.p_signal is not None else rec.d_signal[:, k].astype(np.float64)
    fs = check_fs(rec.fs, f"{base.name}: sampling")
    beats, spans = None, None
    ann_file = base.with_suffix("." + ann_ext)
    if ann_file.is_file():
        try:
            ann = wfdb.rdann(str(base), ann_ext)
        except Exception as exc:  # noqa: BLE001
            raise EdgePPGError(f"cannot read annotations {ann_file} ({exc.__class__.__name__}); check the file") from None
        sym = np.asarray(ann.symbol)
        samp = np.asarray(ann.sample, np.int64)
        beats = samp[np.isin(sym, list(WFDB_BEATS))]
        aux = [a.strip().rstrip("\x00") if a else "" for a in (ann.aux_note or [""] * len(sym))]
        # every rhythm annotation starts a span; unrecognised rhythms ("(AFL", "(B", ...) stay unlabelled
        spans = [(int(s), WFDB_RHYTHMS.get(a.upper(), "unknown")) for s, a, y in zip(samp, aux, sym)
                 if y == "+" and a] or None
    return RawRecording(x, fs, str(base), mod, record_id=record_id, beats=beats, rhythm_spans=spans,
                        meta={"source": "wfdb", "path": str(base), "channel": names[k],
                              "beat": "r_peak" if mod == "ecg" else "annotation"})


# ------------------------------------------------------------------ PPG-DaLiA

class _PickledNDArray:
    """Stands for numpy.ndarray inside a pickle: only `_reconstruct` may use it (calling it allocates nothing)."""

    def __new__(cls, *args, **kwargs):
        raise pickle.UnpicklingError("refusing to call numpy.ndarray(...) from a pickle (arrays come via _reconstruct)")


_PICKLE_RECONSTRUCT_BYTES = 1 << 16  # numpy pickles call _reconstruct(ndarray, (0,), b'b'); the data comes in BUILD


def _bounded_reconstruct(reconstruct):
    def rebuild(subtype, shape, dtype):
        if subtype is not _PickledNDArray:
            raise pickle.UnpicklingError("refusing _reconstruct of anything but a plain numpy array")
        try:
            dt = np.dtype(dtype)
            n = int(np.prod(shape, dtype=object)) * max(dt.itemsize, 1)
        except (TypeError, ValueError) as exc:
            raise pickle.UnpicklingError(f"bad array header in pickle ({exc})") from None
        if n > _PICKLE_RECONSTRUCT_BYTES:
            raise pickle.UnpicklingError(f"refusing a pickled array that asks for {n} bytes before its data "
                                         "(a memory bomb, not a numpy pickle)")
        return reconstruct(np.ndarray, shape, dtype)
    return rebuild


class _SafeUnpickler(pickle.Unpickler):
    """Only what numpy arrays and plain containers need; any other class in the pickle is refused."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol-5 arrays: data only
    }
    _BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes",
                 "bytearray", "bool"}

    def find_class(self, module, name):
        if module in ("builtins", "__builtin__") and name in self._BUILTINS:
            import builtins
            return getattr(builtins, name)
        if (module, name) in self._ALLOWED:
            import codecs

            import numpy._core.multiarray as ma
            if module == "_codecs":
                return codecs.encode
            if name == "_frombuffer":
                from numpy._core.numeric import _frombuffer
                return _frombuffer
            return {"ndarray": _PickledNDArray, "dtype": np.dtype, "_reconstruct": _bounded_reconstruct(ma._reconstruct),
                    "scalar": ma.scalar}[name]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays and plain containers)")


def safe_load_pickle(path: Path) -> Any:
    """Load a (Python 2, latin1) data pickle without executing anything but numpy array reconstruction."""
    with open(path, "rb") as fh:
        return _SafeUnpickler(io.BufferedReader(fh), encoding="latin1").load()


def read_dalia(pkl_path: str | Path, window_s: float = 8.0, hop_s: float = 2.0) -> Windows:
    """A PPG-DaLiA subject pickle -> wrist BVP windows with the dataset's HR labels (see `load_dalia`).

    rhythm is unknown (-1), rr_bpm NaN, no beat marks (the dataset's R-peaks are chest-ECG samples, not PPG beats).
    """
    rec = load_dalia(pkl_path)
    if window_s != 8.0 or hop_s != 2.0:
        raise EdgePPGError("PPG-DaLiA labels are defined for 8 s windows every 2 s; use window 8, hop 2")
    return rec.windows(8.0, 2.0)


DALIA_WINDOW_S, DALIA_HOP_S = 8.0, 2.0


def load_dalia(pkl_path: str | Path) -> RawRecording:
    """A PPG-DaLiA pickle -> the wrist BVP recording with its ECG-derived HR labels (8 s windows every 2 s).

    Two layouts: the dataset's subject pickle S*.pkl (data['signal']['wrist']['BVP'] at 64 Hz, data['label'][k]
    = HR of the window starting at k * 2 s), and the kid-ppg demo pickle (X (N, 4, 256) = [BVP, acc x/y/z]
    windows at 32 Hz every 2 s, y (N, 1) their HR), whose windows overlap exactly and are stitched back into
    the recording.
    """
    path = Path(pkl_path)
    if not path.is_file():
        raise _missing(path, "PPG-DaLiA pickle")
    try:
        data = safe_load_pickle(path)
    except pickle.UnpicklingError as exc:
        raise EdgePPGError(f"{path}: {exc}; pass a PPG-DaLiA subject pickle (S*.pkl)") from None
    except Exception as exc:  # noqa: BLE001 - truncated / not a pickle
        raise EdgePPGError(f"{path} is not a readable pickle ({exc.__class__.__name__}); pass a PPG-DaLiA S*.pkl") from None
    if isinstance(data, dict) and "X" in data and "y" in data and "signal" not in data:
        bvp, labels, fs = _stitch_kid_ppg(data, path)
        subject = path.stem
    else:
        try:
            bvp = np.asarray(data["signal"]["wrist"]["BVP"], np.float64).reshape(-1)
            labels = np.asarray(data["label"], np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError):
            raise EdgePPGError(f"{path} lacks data['signal']['wrist']['BVP'] or data['label']; is it a PPG-DaLiA S*.pkl?") from None
        fs = 64.0
        subject = str(data.get("subject", path.stem)) if isinstance(data, dict) else path.stem
    digits = "".join(ch for ch in subject if ch.isdigit())
    return RawRecording(bvp, fs, str(path), "ppg", record_id=int(digits) if digits else 0, hr_labels=labels,
                        label_grid=(DALIA_WINDOW_S, DALIA_HOP_S),
                        meta={"source": "dalia", "path": str(path), "subject": subject, "polarity": "raw"})


def _stitch_kid_ppg(data: dict, path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """kid-ppg's demo layout -> (continuous BVP, HR labels, 32 Hz)."""
    fs = 32.0
    try:
        X = np.asarray(data["X"], np.float64)
        y = np.asarray(data["y"], np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise EdgePPGError(f"{path}: data['X'] / data['y'] are not numeric arrays; is it a PPG-DaLiA pickle?") from None
    w, hop = int(DALIA_WINDOW_S * fs), int(DALIA_HOP_S * fs)
    if X.ndim != 3 or X.shape[0] == 0 or X.shape[2] != w or len(y) != len(X):
        raise EdgePPGError(f"{path}: unexpected layout X{list(X.shape)} y{list(y.shape)}; the kid-ppg PPG-DaLiA pickle "
                           f"holds X (N, 4, {w}) windows at 32 Hz and y (N, 1)")
    if len(X) > 1 and not np.allclose(X[1:, 0, : w - hop], X[:-1, 0, hop:]):
        raise EdgePPGError(f"{path}: consecutive windows do not overlap by {w - hop} samples; cannot rebuild the recording")
    bvp = np.concatenate([X[0, 0], *X[1:, 0, w - hop:]]) if len(X) > 1 else X[0, 0]
    return bvp, y, fs


# ------------------------------------------------------------------ CSV / NPZ

_TIME_NAMES = ("time", "t", "timestamp", "time_s", "seconds", "sec", "elapsed", "elapsed_s")
_TIME_MS_NAMES = ("timer", "time_ms", "timestamp_ms", "ms", "millis", "milliseconds", "elapsed_ms")  # heartpy: timer
_DATETIME_NAMES = ("datetime", "date_time", "timestamp", "time")  # ISO date-time text (heartpy: datetime)
FS_TOLERANCE = 0.02  # a stated --fs this far from the recording's own timestamps is a mistake, not clock drift


def rate_from_times(t: np.ndarray, name: str, ms: bool) -> tuple[float, str] | None:
    """(rate in Hz, how it was found) from a time column, or None when the column cannot give one.

    Samples over the span (robust to logger jitter and repeated stamps); a column named like seconds whose
    rate would be under 1 Hz while milliseconds give a plausible one is read as milliseconds."""
    from edgeppg.data.signal import MAX_FS_HZ, MIN_FS_HZ

    t = np.asarray(t, np.float64)
    if t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0) or t[-1] <= t[0]:
        return None
    unit = "ms" if ms else "s"
    fs = (t.size - 1) / (t[-1] - t[0]) * (1000.0 if ms else 1.0)
    if not ms and fs < MIN_FS_HZ and MIN_FS_HZ <= fs * 1000 <= MAX_FS_HZ:
        fs, unit = fs * 1000, "ms"
    if abs(fs - round(fs)) <= 1e-3 * fs:  # stamps printed with few decimals: 24.9999 Hz is 25 Hz
        fs = float(round(fs))
    return fs, f"time column {name!r} in {unit}: {t.size} samples over {t[-1] - t[0]:g} {unit}"


def reconcile_fs(given: float | None, found: tuple[float, str] | None, path: Path) -> tuple[float | None, str]:
    """The rate to use: --fs must agree with the recording's own rate (within FS_TOLERANCE), else refused."""
    if found is None:
        return given, f"{given:g} Hz, from --fs" if given is not None else ""
    fs, how = found
    if given is not None and abs(given - fs) > FS_TOLERANCE * fs:
        raise EdgePPGError(f"{path.name}: --fs {given:g} contradicts the recording's own rate, {fs:.4g} Hz ({how}); "
                           f"drop --fs to use {fs:.4g} Hz, or fix the file (to change the rate the model sees, "
                           "use --resample HZ)")
    return fs, f"{fs:g} Hz, from {how}"


def _column(names: list[str], column: int | str | None, path: Path, times: set[int] = frozenset()) -> int:
    if column is not None:
        return _pick_channel(names, column, None)
    data_cols = [k for k, s in enumerate(names) if s.lower() not in _TIME_NAMES + _TIME_MS_NAMES and k not in times]
    if len(data_cols) != 1:
        raise EdgePPGError(f"{path} has {len(data_cols)} signal columns ({', '.join(names[k] for k in data_cols)}); "
                           "choose one with --column")
    return data_cols[0]


def read_csv(path: str | Path, fs_hz: float | None = None, column: int | str | None = None,
             window_s: float = 8.0, hop_s: float | None = None, modality: str = "ppg") -> Windows:
    """A CSV (optional header row) -> Windows of one column (see `load_csv`)."""
    return load_csv(path, fs_hz, column, modality).windows(window_s, hop_s)


def load_csv(path: str | Path, fs_hz: float | None = None, column: int | str | None = None,
             modality: str = "ppg") -> RawRecording:
    """A CSV (optional header row) -> one column as a RawRecording. The rate comes from a time column
    (time/t/timestamp/seconds in seconds; timer/time_ms/ms in milliseconds) when there is one, and --fs
    must then agree with it; without a time column, --fs is the rate."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, "CSV file")
    if path.stat().st_size > 1 << 30:
        raise EdgePPGError(f"{path} is over 1 GiB; split the recording before importing")
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgePPGError(f"{path} is not a text CSV ({exc.__class__.__name__}); export the signal as CSV") from None
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as exc:  # e.g. a field over csv's 131,072-character limit
        raise EdgePPGError(f"{path} is not a readable CSV ({str(exc)[:120]}); export one sample per row") from None
    if rows and max(len(r) for r in rows) > 1024:
        raise EdgePPGError(f"{path} has rows of up to {max(len(r) for r in rows)} columns (limit 1024); "
                           "export the signal with one sample per row")
    if not rows:
        raise EdgePPGError(f"{path} is empty; export the signal with one sample per row")

    def numeric(row):
        try:
            [float(c) for c in row]
            return True
        except ValueError:
            return False

    header = None if numeric(rows[0]) else [c.strip() for c in rows[0]]
    body = rows[1:] if header else rows
    ncol = len(body[0]) if body else 0
    names = header or [str(k) for k in range(ncol)]
    stamps = {}  # a date-time column (heartpy's `datetime`): parsed to seconds, so it can give the rate
    if header and body:
        for j, name in enumerate(names):
            if name.lower() in _DATETIME_NAMES and j < len(body[0]) and not numeric([body[0][j]]):
                try:
                    us = np.array([r[j].strip() for r in body], dtype="datetime64[us]").astype(np.int64)
                except (ValueError, IndexError):
                    raise EdgePPGError(f"{path}: column {name!r} holds neither numbers nor ISO date-times "
                                       "(e.g. 2016-11-24 13:58:58.081); fix it or drop the column") from None
                stamps[j] = (us - us[0]) / 1e6
    try:
        arr = np.array([[stamps[j][i] if j in stamps else float(c) if c.strip() else np.nan
                         for j, c in enumerate(r)] for i, r in enumerate(body)], np.float64)
    except ValueError as exc:
        raise EdgePPGError(f"{path} has a non-numeric value ({exc}); keep only numbers below the header") from None
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise EdgePPGError(f"{path} has rows of different lengths or no data rows; fix the CSV")
    k = _column(names, column, path, set(stamps))
    tcols = [j for j, s in enumerate(names) if (s.lower() in _TIME_NAMES + _TIME_MS_NAMES or j in stamps) and j != k]
    found = None
    if tcols:
        j = tcols[0]
        found = rate_from_times(arr[:, j], names[j], ms=names[j].lower() in _TIME_MS_NAMES)
        if found is None and fs_hz is None:
            raise EdgePPGError(f"{path}: time column {names[j]!r} does not increase steadily, so it gives no sampling "
                               "rate; pass the rate with --fs HZ")
    fs_hz, how = reconcile_fs(fs_hz, found, path)
    fs = check_fs(fs_hz, f"{path.name}: sampling")
    return RawRecording(arr[:, k], fs, str(path), modality,
                        meta={"source": "csv", "path": str(path), "column": names[k], "fs_from": how})


_SIGNAL_KEYS = ("x", "signal", "ppg", "bvp", "ecg", "data")


def read_npz(path: str | Path, fs_hz: float | None = None, key: str | None = None, window_s: float = 8.0,
             hop_s: float | None = None, modality: str | None = None) -> Windows:
    """An .npz signal -> Windows (see `load_npz_signal`); an edgeppg windows file is returned as it is."""
    rec = load_npz_signal(path, fs_hz, key, modality)
    return rec if isinstance(rec, Windows) else rec.windows(window_s, hop_s)


def load_npz_signal(path: str | Path, fs_hz: float | None = None, key: str | None = None,
                    modality: str | None = None) -> RawRecording | Windows:
    """An .npz with a 1-D/2-D signal array and the rate in `fs_hz` (or `fs`) unless --fs is given.

    Optional `beats` (or `peaks`): beat sample indices into the signal -> HR per window. An edgeppg
    windows file (from `data import`/`synth`) has no continuous signal: its Windows are returned as they are.
    """
    path = Path(path)
    if not path.is_file():
        raise _missing(path, "NPZ file")
    from edgeppg.io import load_npz as load_bounded_npz

    try:
        d = load_bounded_npz(path)  # sizes checked before anything is inflated
    except EdgePPGError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise EdgePPGError(f"{path} is not a readable .npz ({exc.__class__.__name__}); save it with numpy.savez") from None
    if "header" in d and "beat_ptr" in d:
        return load_windows(path)
    stored = None
    for k in ("fs_hz", "fs"):
        if k in d:
            try:
                stored = float(np.asarray(d[k]).reshape(-1)[0]) if np.asarray(d[k]).size else None
            except (TypeError, ValueError):
                raise EdgePPGError(f"{path}: {k} must be a number, got {str(d[k])[:40]!r}") from None
            if stored is not None:
                stored = (check_fs(stored, f"{path.name}: its {k}"), f"its {k} array")
            break
    fs_hz, how = reconcile_fs(fs_hz, stored, path)
    if key is None:
        cand = [k for k in _SIGNAL_KEYS if k in d] or [k for k in d if k not in ("fs_hz", "fs", "beats", "peaks")]
        if len(cand) != 1 and not any(k in d for k in _SIGNAL_KEYS):
            raise EdgePPGError(f"{path} holds arrays {sorted(d)}; name the signal with --column KEY")
        key = cand[0] if cand else None
    if key not in d:
        raise EdgePPGError(f"{path} has no array {key!r}; arrays: {', '.join(sorted(d))}")
    fs = check_fs(fs_hz, f"{path.name}: sampling")
    beats = d.get("beats", d.get("peaks"))
    mod = modality or ("ecg" if key == "ecg" else "ppg")
    return RawRecording(d[key], fs, str(path), mod, beats=beats,
                        meta={"source": "npz", "path": str(path), "key": key, "fs_from": how})


# ------------------------------------------------------------------ dispatcher

def detect_format(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in (".hea", ".dat", ".atr") or (ext == "" and path.with_suffix(".hea").is_file()):
        return "wfdb"
    return {".pkl": "dalia", ".pickle": "dalia", ".csv": "csv", ".txt": "csv", ".npz": "npz"}.get(ext, "")


def read_recording(path: str | Path, fmt: str | None = None, fs_hz: float | None = None, window_s: float = 8.0,
                   hop_s: float | None = None, column: int | str | None = None, modality: str | None = None) -> Windows:
    """Read any supported recording into Windows; format from `fmt` or the file extension."""
    path, fmt = _resolve_format(path, fmt)
    if fmt == "wfdb":
        return read_wfdb(path, window_s, hop_s, channel=column, modality=modality)
    if fmt == "dalia":
        return read_dalia(path, window_s, 2.0 if hop_s is None else hop_s)
    if fmt == "csv":
        return read_csv(path, fs_hz, column, window_s, hop_s, modality or "ppg")
    return read_npz(path, fs_hz, None if column is None else str(column), window_s, hop_s, modality)


def read_signal(path: str | Path, fmt: str | None = None, fs_hz: float | None = None, min_seconds: float = 8.0,
                column: int | str | None = None, modality: str | None = None) -> RawRecording | Windows:
    """Any recording `read_recording` reads, as one validated continuous RawRecording (x (C, L) float64) with
    the same one-line errors (a recording shorter than `min_seconds` is refused). An edgeppg windows .npz has
    no continuous signal and comes back as its Windows."""
    path, fmt = _resolve_format(path, fmt)
    if fmt == "wfdb":
        rec = load_wfdb(path, channel=column, modality=modality)
    elif fmt == "dalia":
        rec = load_dalia(path)
    elif fmt == "csv":
        rec = load_csv(path, fs_hz, column, modality or "ppg")
    else:
        rec = load_npz_signal(path, fs_hz, None if column is None else str(column), modality)
    if isinstance(rec, RawRecording):
        rec.x = validate_recording(rec.x, rec.fs_hz, min_seconds, rec.name)
    return rec


def _resolve_format(path: str | Path, fmt: str | None) -> tuple[Path, str]:
    path = Path(path)
    fmt = fmt.lower() if fmt else None
    if fmt is not None and fmt not in FORMATS:
        raise EdgePPGError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if fmt != "wfdb" and not path.exists() and not (path.suffix == "" and path.with_suffix(".hea").is_file()):
        raise _missing(path, "recording")
    fmt = fmt or detect_format(path)
    if not fmt:
        raise EdgePPGError(f"unknown format {path.suffix or '(no extension)'!r} for {path}; "
                           f"valid formats: {', '.join(FORMATS)} (pass --format)")
    return path, fmt


def import_recording(path: str | Path, out_dir: str | Path, fmt: str | None = None, fs_hz: float | None = None,
                     column: int | str | None = None, modality: str | None = None, window_s: float = 8.0,
                     hop_s: float | None = None, resample_hz: float | None = None) -> dict[str, Any]:
    """read_recording -> (optionally preprocess) -> out_dir/windows.npz + import.json. Reads and checks
    everything before touching out_dir, so bad input leaves nothing behind."""
    from edgeppg.data.corpus import summarise
    from edgeppg.data.signal import preprocess
    from edgeppg.data.windows import save_windows
    from edgeppg.io import atomic_write_json, sha256_file

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgePPGError(f"output {out_dir} exists and is not a directory; choose another --out")
    w = read_recording(path, fmt=fmt, fs_hz=fs_hz, window_s=window_s, hop_s=hop_s, column=column, modality=modality)
    if len(w) == 0:
        raise EdgePPGError(f"{path} gave no full {window_s:g} s window; use a longer recording or a shorter --window-s")
    if resample_hz is not None:
        w = preprocess(w, check_fs(resample_hz, "target"))
    out = save_windows(out_dir / "windows.npz", w)
    summary = summarise(w)
    info = {"source": str(path), "format": fmt or detect_format(Path(path)), "summary": summary,
            "fs_from": w.meta.get("fs_from") or "the file", "resampled_hz": resample_hz,
            "path": str(out), "sha256": sha256_file(out)}
    atomic_write_json(out_dir / "import.json", info)
    return info
