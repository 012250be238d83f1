"""Labelled real PPG recordings for the real-PPG benchmark, read from data-only PyPI packages.

Sources (installed by `make setup` with `pip install --no-deps --target .venv/real-data`, see
requirements-real.txt; files are read in place, never copied into the repo):

- ``dalia-s6-stairs``: PPG-DaLiA subject S6 on stairs, shipped in the ``kid-ppg`` wheel. Wrist BVP + 3-axis
  accelerometer at 32 Hz stored as 215 overlapping 8 s windows (2 s hop); the continuous recording is
  rebuilt from them (consecutive windows overlap exactly). Reference HR = the dataset's ECG-derived labels.
- ``heartpy/data``, ``heartpy/data2``, ``heartpy/data3``, ``systole/ppg``: finger PPG without labels.
  Reference HR per window = agreement of two independent classical detectors run offline on the whole
  recording (see `label_by_agreement`); a window whose two HRs differ by more than 3 BPM, or where either
  detector finds no plausible beat series, gets NaN and is counted in ``excluded``.
- Derived rows (``<name>@<fs>hz-q10-inv``): each original resampled down (anti-aliased) to 20-25 Hz,
  quantised to 10 bits over the recording's range and inverted onto a DC offset, as a raw light-intensity
  sensor would deliver it. Same window grid and ``ref_hr`` as the original.

Labelled sources are cached (npz + json, written atomically) under ``$EDGEPPG_CACHE/realppg``, else
``$XDG_CACHE_HOME/edgeppg/realppg``, else ``~/.cache/edgeppg/realppg``, keyed by a hash of the source file and
``LABEL_VERSION``.

Never used here (reserved for a sealed evaluation): pyphysio, e2epyppg, biosignalsnotebooks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import signal as sps

from edgeppg.data import readers
from edgeppg.data.catalog import CATALOG, load_signal, package_dir, recording_path
from edgeppg.errors import EdgePPGError

LABEL_VERSION = "realppg-label-2"  # bump when the labelling or the derived degradation changes
WINDOW_S = 8.0
HOP_S = 2.0
AGREE_BPM = 3.0
HR_RANGE = (30.0, 220.0)

DALIA_PACKAGE = "kid_ppg"
DALIA_RELPATH = "demo/demo_data/PPGDalia_S6_stairs.pkl"
DALIA_FS = 32.0
NOT_INSTALLED = "not installed: run make setup"

AGREEMENT_LABELLING = ("agreement of 2 offline detectors on the whole recording (A: systolic peaks of a zero-phase "
                       "0.5-8 Hz band-pass with an autocorrelation-period refractory; B: steepest-upslope points of a "
                       "0.5-5 Hz band-pass with a slope threshold), mean of the two when "
                       f"within {AGREE_BPM:g} BPM")


@dataclass(frozen=True, eq=False)
class RealSource:
    name: str            # e.g. "dalia-s6-stairs", "heartpy/data2", "heartpy/data2@25hz-q10-inv"
    group: str           # "wrist" | "finger"
    signal: np.ndarray   # 1-D float64 raw recording at fs_hz, continuous
    fs_hz: float
    window_s: float
    hop_s: float
    ref_hr: np.ndarray   # (N,) reference HR of window i = [i*hop_s, i*hop_s + window_s); NaN = none
    excluded: dict       # reason -> number of windows without a reference
    labelling: str
    license: str
    derived_from: str | None
    acc: np.ndarray | None = field(default=None)  # (3, len(signal)) accelerometer where the source has one

    @property
    def n_windows(self) -> int:
        return int(self.ref_hr.size)

    @property
    def seconds(self) -> float:
        return self.signal.size / self.fs_hz

    def starts_s(self) -> np.ndarray:
        return np.arange(self.n_windows) * self.hop_s

    def window(self, i: int) -> np.ndarray:
        s = int(round(i * self.hop_s * self.fs_hz))
        return self.signal[s:s + int(round(self.window_s * self.fs_hz))]


def n_windows(n_samples: int, fs_hz: float, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> int:
    w, h = int(round(window_s * fs_hz)), hop_s * fs_hz
    return 0 if n_samples < w else int(np.floor((n_samples - w) / h + 1e-9)) + 1


# ------------------------------------------------------------------ labelling (offline, zero-phase is fine)

def _band(x: np.ndarray, fs: float, lo: float, hi: float, order: int = 3) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    sos = sps.butter(order, [lo, hi], btype="band", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, np.asarray(x, np.float64) - np.median(x))


def _skew(y: np.ndarray) -> float:
    y = y - y.mean()
    s = y.std()
    return float(np.mean(y ** 3) / s ** 3) if s > 0 else 0.0


def _robust_amp(y: np.ndarray, fs: float, span_s: float = 10.0) -> np.ndarray:
    """Local amplitude (95th - 5th percentile over span_s blocks), per sample."""
    n = y.size
    blk = max(1, int(span_s * fs))
    amp = np.empty(n)
    for s in range(0, n, blk):
        seg = y[max(0, s - blk // 2): s + blk + blk // 2]
        amp[s:s + blk] = np.percentile(seg, 95) - np.percentile(seg, 5)
    return amp


def _local_period(y: np.ndarray, fs: float, centers: np.ndarray, span_s: float = 16.0) -> np.ndarray:
    """Beat period (s) around each centre: the highest autocorrelation peak at lags 0.27-2 s over span_s."""
    out = np.full(centers.size, np.nan)
    h, lo, hi = int(span_s * fs / 2), int(0.27 * fs), int(2.0 * fs)
    for k, c in enumerate(centers):
        seg = y[max(0, c - h): c + h]
        seg = seg - seg.mean()
        ac = np.correlate(seg, seg, "full")[seg.size - 1:]
        if seg.size <= hi or ac[0] <= 0:
            continue
        pk, _ = sps.find_peaks(ac[:hi + 1])
        pk = pk[pk >= lo]
        if pk.size:
            out[k] = pk[np.argmax(ac[pk])] / fs
    return out


def detect_systolic_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """Detector A: peaks of a zero-phase 0.5-8 Hz band-pass (polarity from its skew: systolic peaks are
    sharper than troughs). Taken highest first, each one blocks 0.6 x the local beat period (autocorrelation
    over 16 s around its 4 s block) on either side, which drops dicrotic / reflected waves."""
    y = _band(x, fs, 0.5, 8.0)
    if _skew(y) < 0:
        y = -y
    blk = max(1, int(4 * fs))
    per = _local_period(y, fs, np.arange(blk // 2, y.size, blk))
    if not np.isfinite(per).any():
        return np.zeros(0, np.int64)
    per = np.where(np.isfinite(per), per, np.nanmedian(per))
    cand, _ = sps.find_peaks(y)
    mind = (0.6 * per[np.clip(cand // blk, 0, per.size - 1)] * fs).astype(np.int64)
    taken = np.zeros(y.size, bool)
    for k in np.argsort(-y[cand], kind="stable"):
        c, d = cand[k], mind[k]
        if not taken[max(0, c - d): c + d + 1].any():
            taken[c] = True
    return np.flatnonzero(taken).astype(np.int64)


def detect_max_upslope(x: np.ndarray, fs: float) -> np.ndarray:
    """Detector B (other fiducial point, filter and rejection logic): local maxima of the first derivative of
    a zero-phase 0.5-5 Hz band-pass (the steepest point of each upstroke; polarity from the derivative's skew,
    the upstroke being faster than the decay). A candidate counts when its slope is >= 50 % of the 80th
    percentile of candidate slopes within +-10 s (dicrotic upstrokes are far flatter); of two within 0.3 s
    the steeper one is kept."""
    y = _band(x, fs, 0.5, 5.0, order=2)
    d = np.gradient(y) * fs
    if _skew(d) < 0:
        d = -d
    cand, _ = sps.find_peaks(d, height=0.0)
    blk = max(1, int(10 * fs))
    keep = np.zeros(cand.size, bool)
    for s in range(0, d.size, blk):
        ctx = (cand >= s - blk // 2) & (cand < s + blk + blk // 2)
        if ctx.any():
            keep |= (cand >= s) & (cand < s + blk) & (d[cand] >= 0.5 * np.percentile(d[cand[ctx]], 80))
    out: list[int] = []
    for c in cand[keep]:
        if out and c - out[-1] < int(0.3 * fs):
            if d[c] > d[out[-1]]:
                out[-1] = int(c)
            continue
        out.append(int(c))
    return np.asarray(out, np.int64)


def window_hr(beats: np.ndarray, fs: float, n: int, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> np.ndarray:
    """HR per window from beat samples: 60 / mean RR of the beats inside the window, NaN unless >= 4 beats,
    every RR within 0.27-2 s and none more than 30 % off the median (missed or extra beats)."""
    b = np.sort(np.asarray(beats, np.int64))
    out = np.full(n, np.nan)
    w = window_s * fs
    for i in range(n):
        s = i * hop_s * fs
        lo, hi = np.searchsorted(b, [s, s + w])
        wb = b[lo:hi]
        if wb.size < 4:
            continue
        rr = np.diff(wb) / fs
        med = np.median(rr)
        if rr.min() < 0.27 or rr.max() > 2.0 or np.max(np.abs(rr - med)) / med > 0.3:
            continue
        hr = 60.0 / rr.mean()
        if HR_RANGE[0] <= hr <= HR_RANGE[1]:
            out[i] = hr
    return out


def agree(hr_a: np.ndarray, hr_b: np.ndarray, tol_bpm: float = AGREE_BPM) -> tuple[np.ndarray, dict]:
    """The agreement rule: mean of the two where both exist and differ by <= tol_bpm, else NaN (counted)."""
    a, b = np.asarray(hr_a, float), np.asarray(hr_b, float)
    ref = np.full(a.shape, np.nan)
    fa, fb = np.isfinite(a), np.isfinite(b)
    both = fa & fb
    ok = both & (np.abs(a - b) <= tol_bpm)
    ref[ok] = 0.5 * (a[ok] + b[ok])
    excluded = {}
    for reason, mask in ((f"detectors disagree >{tol_bpm:g} BPM", both & ~ok),
                         ("detector A: no plausible beats", ~fa & fb),
                         ("detector B: no plausible beats", fa & ~fb),
                         ("neither detector: no plausible beats", ~fa & ~fb)):
        if mask.any():
            excluded[reason] = int(mask.sum())
    return ref, excluded


def label_by_agreement(x: np.ndarray, fs: float, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                       tol_bpm: float = AGREE_BPM) -> tuple[np.ndarray, dict]:
    """Reference HR per window of an unlabelled PPG recording (see `agree`)."""
    n = n_windows(x.size, fs, window_s, hop_s)
    hr_a = window_hr(detect_systolic_peaks(x, fs), fs, n, window_s, hop_s)
    hr_b = window_hr(detect_max_upslope(x, fs), fs, n, window_s, hop_s)
    return agree(hr_a, hr_b, tol_bpm)


# ------------------------------------------------------------------ derived rows

def degrade(x: np.ndarray, fs: float, fs_out: float, bits: int = 10, invert: bool = True,
            dc_offset: float = 30000.0) -> np.ndarray:
    """Resample down to fs_out (8th-order anti-alias low-pass at 0.4 fs_out, then interpolation onto the
    exact fs_out grid), quantise to `bits` over the recording's range, invert onto a DC offset (raw light
    intensity: pulses point down). Covers the same time span as x."""
    x = np.asarray(x, np.float64)
    y = x
    if fs_out < fs:
        sos = sps.butter(8, 0.4 * fs_out, btype="low", fs=fs, output="sos")
        y = sps.sosfiltfilt(sos, x)
    t_in = np.arange(x.size) / fs
    t_out = np.arange(int(np.floor(x.size / fs * fs_out))) / fs_out
    y = np.interp(t_out, t_in, y)
    lo, hi = float(y.min()), float(y.max())
    levels = 2 ** bits - 1
    code = np.round((y - lo) / (hi - lo) * levels) if hi > lo else np.zeros_like(y)
    if invert:
        code = levels - code
    return code + (dc_offset if invert else 0.0)


def derived_source(src: RealSource, fs_out: float, bits: int = 10) -> RealSource:
    y = degrade(src.signal, src.fs_hz, fs_out, bits)
    n = min(src.n_windows, n_windows(y.size, fs_out, src.window_s, src.hop_s))
    return replace(src, name=f"{src.name}@{fs_out:g}hz-q{bits}-inv", signal=y, fs_hz=float(fs_out),
                   ref_hr=src.ref_hr[:n].copy(), derived_from=src.name, acc=None,
                   labelling=f"same windows and reference as {src.name}; signal resampled to {fs_out:g} Hz "
                             f"(anti-aliased), {bits}-bit quantised over its range, inverted + DC offset")


# ------------------------------------------------------------------ reading the originals

class _DataUnpickler(readers._SafeUnpickler):
    """The project's restricted unpickler plus numpy's `_frombuffer` (pickle protocol 5 stores arrays as raw
    bytes + dtype + shape: data only, nothing executed). The kid-ppg demo pickle needs it; readers.py refuses it."""

    def find_class(self, module, name):
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            from numpy._core.numeric import _frombuffer
            return _frombuffer
        return super().find_class(module, name)


def _load_pickle(path: Path):
    try:
        return readers.safe_load_pickle(path)
    except pickle.UnpicklingError:
        with open(path, "rb") as fh:
            return _DataUnpickler(io.BufferedReader(fh), encoding="latin1").load()


def dalia_path() -> Path | None:
    d = package_dir(DALIA_PACKAGE)
    p = d / DALIA_RELPATH if d is not None else None
    return p if p is not None and p.is_file() else None


def load_dalia(path: Path) -> RealSource:
    """kid-ppg's PPG-DaLiA S6 stairs pickle: X (215, 4, 256) = [BVP, acc x, y, z] windows at 32 Hz, 2 s hop;
    y (215, 1) ECG-derived HR."""
    try:
        d = _load_pickle(path)
        X = np.asarray(d["X"], np.float64)
        y = np.asarray(d["y"], np.float64).reshape(-1)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise EdgePPGError(f"{path}: not the kid-ppg PPG-DaLiA demo pickle ({exc.__class__.__name__}: {exc})") from None
    w, hop = X.shape[2], int(round(HOP_S * DALIA_FS))
    if X.ndim != 3 or X.shape[1] < 4 or w != int(WINDOW_S * DALIA_FS) or len(y) != len(X):
        raise EdgePPGError(f"{path}: unexpected layout X{X.shape} y{y.shape}; expected (N, 4, 256) and (N, 1)")
    if len(X) > 1 and not np.allclose(X[1:, :, : w - hop], X[:-1, :, hop:]):
        raise EdgePPGError(f"{path}: windows do not overlap by {w - hop} samples; cannot rebuild the recording")
    cont = np.concatenate([X[0], *X[1:, :, w - hop:]], axis=1) if len(X) > 1 else X[0]
    ref = np.where((y >= HR_RANGE[0]) & (y <= HR_RANGE[1]), y, np.nan)
    excl = {"label outside 30-220 BPM": int(np.isnan(ref).sum())} if np.isnan(ref).any() else {}
    return RealSource(name="dalia-s6-stairs", group="wrist", signal=cont[0].copy(), fs_hz=DALIA_FS,
                      window_s=WINDOW_S, hop_s=HOP_S, ref_hr=ref, excluded=excl,
                      labelling="PPG-DaLiA ECG-derived HR per 8 s window (dataset labels, shipped in kid-ppg 0.0.4)",
                      license="GPL-3.0 (kid-ppg wheel); PPG-DaLiA data: non-commercial research use",
                      derived_from=None, acc=cont[1:4].copy())


@dataclass(frozen=True)
class _Spec:
    name: str
    package: str
    group: str
    derived_fs: float


SPECS: tuple[_Spec, ...] = (
    _Spec("dalia-s6-stairs", DALIA_PACKAGE, "wrist", 20.0),
    _Spec("heartpy/data", "heartpy", "finger", 25.0),
    _Spec("heartpy/data2", "heartpy", "finger", 25.0),
    _Spec("heartpy/data3", "heartpy", "finger", 25.0),
    _Spec("systole/ppg", "systole", "finger", 25.0),
)


def _spec_path(spec: _Spec) -> Path | None:
    if spec.name == "dalia-s6-stairs":
        return dalia_path()
    return recording_path(next(r for r in CATALOG if r.name == spec.name))


def _load_original(spec: _Spec) -> RealSource:
    if spec.name == "dalia-s6-stairs":
        return load_dalia(dalia_path())
    rec = next(r for r in CATALOG if r.name == spec.name)
    x, fs = load_signal(rec)
    x = np.ascontiguousarray(x, np.float64)
    ref, excl = label_by_agreement(x, fs)
    return RealSource(name=spec.name, group=spec.group, signal=x, fs_hz=float(fs), window_s=WINDOW_S, hop_s=HOP_S,
                      ref_hr=ref, excluded=excl, labelling=AGREEMENT_LABELLING, license=rec.license,
                      derived_from=None)


# ------------------------------------------------------------------ cache

def cache_root() -> Path:
    env = os.environ.get("EDGEPPG_CACHE")
    if env:
        return Path(env) / "realppg"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgeppg" / "realppg"


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(spec_name: str, path: Path) -> str:
    h = hashlib.sha256(f"{LABEL_VERSION}|{spec_name}|{_file_hash(path)}".encode())
    return h.hexdigest()[:20]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_META_FIELDS = ("name", "group", "fs_hz", "window_s", "hop_s", "excluded", "labelling", "license", "derived_from")


def save_cached(sources: list[RealSource], base: Path) -> None:
    """base.npz (arrays) then base.json (metadata; its presence marks a complete entry), both atomic."""
    arrays = {}
    for k, s in enumerate(sources):
        arrays[f"signal_{k}"], arrays[f"ref_{k}"] = s.signal, s.ref_hr
        if s.acc is not None:
            arrays[f"acc_{k}"] = s.acc
    _atomic_write(base.with_suffix(".npz"), lambda fh: np.savez(fh, **arrays))
    meta = {"version": LABEL_VERSION, "sources": [{f: getattr(s, f) for f in _META_FIELDS} for s in sources]}
    _atomic_write(base.with_suffix(".json"), lambda fh: fh.write(json.dumps(meta, indent=1).encode()))


def load_cached(base: Path) -> list[RealSource] | None:
    js, nz = base.with_suffix(".json"), base.with_suffix(".npz")
    if not (js.is_file() and nz.is_file()):
        return None
    try:
        meta = json.loads(js.read_text())
        if meta.get("version") != LABEL_VERSION:
            return None
        out = []
        with np.load(nz, allow_pickle=False) as z:
            for k, m in enumerate(meta["sources"]):
                acc = z[f"acc_{k}"] if f"acc_{k}" in z.files else None
                out.append(RealSource(signal=z[f"signal_{k}"], ref_hr=z[f"ref_{k}"], acc=acc,
                                      **{f: m[f] for f in _META_FIELDS}))
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged entry is rebuilt


# ------------------------------------------------------------------ public API

def real_sources(*, derived: bool = True, cache_dir: Path | None = None) -> list[RealSource]:
    """Every installed labelled real PPG source (originals, then their derived rows when derived=True).

    Sources whose package is missing are skipped (`sources_table` lists them as not installed)."""
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    out: list[RealSource] = []
    for spec in SPECS:
        path = _spec_path(spec)
        if path is None:
            continue
        base = root / f"{_safe(spec.name)}-{cache_key(spec.name, path)}"
        group = load_cached(base)
        if group is None:
            orig = _load_original(spec)
            group = [orig, derived_source(orig, spec.derived_fs)]
            try:
                save_cached(group, base)
            except OSError:
                pass  # a read-only cache only costs the labelling time again
        out.extend(group if derived else [s for s in group if s.derived_from is None])
    return out


def sources_table(sources) -> list[dict]:
    """One row per source (plus one per known source that is not installed)."""
    rows = []
    for s in sources:
        n_ref = int(np.isfinite(s.ref_hr).sum())
        rows.append({"name": s.name, "group": s.group, "fs_hz": round(float(s.fs_hz), 3),
                     "seconds": round(s.seconds, 1), "n_windows": s.n_windows, "n_ref": n_ref,
                     "excluded": dict(s.excluded), "license": s.license, "labelling": s.labelling,
                     "derived_from": s.derived_from, "status": "ok"})
    have = {s.name for s in sources} | {s.derived_from for s in sources if s.derived_from}
    for spec in SPECS:
        if spec.name not in have and _spec_path(spec) is None:
            rows.append({"name": spec.name, "group": spec.group, "fs_hz": None, "seconds": None, "n_windows": 0,
                         "n_ref": 0, "excluded": {}, "license": None, "labelling": None, "derived_from": None,
                         "status": f"{NOT_INSTALLED} (package {spec.package})"})
    return rows


def format_sources_table(rows: list[dict]) -> str:
    out = [f"{'source':34} {'group':6} {'fs_hz':>7} {'sec':>6} {'n':>5} {'n_ref':>5}  excluded / licence"]
    for r in rows:
        if r["status"] != "ok":
            out.append(f"{r['name']:34} {r['group']:6} {'-':>7} {'-':>6} {'-':>5} {'-':>5}  {r['status']}")
            continue
        ex = ", ".join(f"{k}: {v}" for k, v in r["excluded"].items()) or "-"
        out.append(f"{r['name']:34} {r['group']:6} {r['fs_hz']:7.2f} {r['seconds']:6.0f} {r['n_windows']:5d} "
                   f"{r['n_ref']:5d}  {ex} / {r['license']}")
    return "\n".join(out)
