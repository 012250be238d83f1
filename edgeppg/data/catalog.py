"""Real ECG/PPG recordings that ship inside PyPI packages (installed with --no-deps, see requirements-real.txt).

Files are read in place from the installed package (in the `real-data` folder of the venv, else located with importlib.util.find_spec, which does not
import the package: heartpy, for one, fails to import with setuptools >= 81) and never copied into this
repo. None carries rhythm labels; ECG recordings get HR labels from detected R-peaks, kept only for
windows whose RR series is plausible. `catalog_table()` says which recording has which labels.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal as sps

from edgeppg.data.readers import HR_PLAUSIBLE, windows_from_signal
from edgeppg.data.signal import preprocess
from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError

REAL_RECORD_BASE = 100_000  # record ids of real recordings start here (synthetic records count from 0)


@dataclass(frozen=True)
class Recording:
    name: str
    package: str
    relpath: str  # inside the package directory
    modality: str  # "ecg" | "ppg"
    kind: str  # how to read it: "npy", "opensignals", "csv", "csv_timer_ms", "csv_datetime"
    fs_hz: float | None  # None: derived from the file's time column
    license: str
    what: str

    @property
    def labels(self) -> str:
        return "hr (auto from R-peaks)" if self.modality == "ecg" else "none"


CATALOG: tuple[Recording, ...] = (
    Recording("systole/task1_ecg", "systole", "datasets/Task1_ECG.npy", "ecg", "npy", 1000.0, "GPL-3.0",
              "25 min ECG, healthy adult during an emotional task"),
    Recording("systole/ppg", "systole", "datasets/ppg.npy", "ppg", "npy", 75.0, "GPL-3.0",
              "5.5 min finger PPG at rest"),
    Recording("pyhrv/sample_ecg", "pyhrv", "files/SampleECG.txt", "ecg", "opensignals", 1000.0, "BSD-3-Clause",
              "22 s BITalino ECG"),
    Recording("heartpy/data", "heartpy", "data/data.csv", "ppg", "csv", 100.0, "GPL-3.0", "25 s PPG"),
    Recording("heartpy/data2", "heartpy", "data/data2.csv", "ppg", "csv_timer_ms", None, "GPL-3.0",
              "2 min PPG with a millisecond timer column"),
    Recording("heartpy/data3", "heartpy", "data/data3.csv", "ppg", "csv_datetime", None, "GPL-3.0",
              "11 min PPG with datetime stamps"),
)


def real_data_dirs() -> list[Path]:
    """Where `make setup` puts the data-only packages: a --target folder outside site-packages, so their
    deliberately missing dependencies never show up in `pip check`. EDGEPPG_REAL_DATA overrides."""
    env = os.environ.get("EDGEPPG_REAL_DATA")
    return [Path(p) for p in env.split(os.pathsep)] if env else [Path(sys.prefix) / "real-data"]


def package_dir(package: str) -> Path | None:
    """Installed package directory without importing it; None when not installed."""
    for base in real_data_dirs():
        if (base / package).is_dir():
            return base / package
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def recording_path(rec: Recording) -> Path | None:
    d = package_dir(rec.package)
    if d is None:
        return None
    p = d / rec.relpath
    return p if p.is_file() else None


def _read_csv_columns(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    rows = [ln.split(",") for ln in lines if ln.strip()]
    try:
        float(rows[0][-1])
        return [], rows
    except ValueError:
        return rows[0], rows[1:]


def load_signal(rec: Recording) -> tuple[np.ndarray, float]:
    """(1-D float64 signal, sampling rate) read from the installed package."""
    path = recording_path(rec)
    if path is None:
        raise EdgePPGError(f"{rec.name} is not installed; run `make setup` (installs requirements-real.txt)")
    if rec.kind == "npy":
        x = np.load(path, allow_pickle=False, mmap_mode="r")
        return np.asarray(x, np.float64).reshape(-1), float(rec.fs_hz)
    if rec.kind == "opensignals":
        header = next(ln for ln in path.read_text().splitlines() if ln.startswith("# {"))
        dev = next(iter(json.loads(header[2:]).values()))
        col = dev["column"].index(dev["label"][0])
        x = np.loadtxt(path, comments="#", usecols=col)
        return x.astype(np.float64), float(dev.get("sampling rate", rec.fs_hz))
    _, rows = _read_csv_columns(path)
    if rec.kind == "csv":
        return np.array([float(r[0]) for r in rows]), float(rec.fs_hz)
    y = np.array([float(r[1]) for r in rows])
    if rec.kind == "csv_timer_ms":
        t = np.array([float(r[0]) for r in rows]) / 1000.0
    else:  # datetime stamps have repeats (logger buffering): rate = samples / elapsed time
        t = np.array([r[0].strip() for r in rows], dtype="datetime64[us]").astype(np.int64) / 1e6
    fs = (len(t) - 1) / float(t[-1] - t[0])
    # resample the (slightly irregular) stream onto a uniform grid at its mean rate
    tu = t[0] + np.arange(len(t)) / fs
    return np.interp(tu, t, y), round(fs, 3)


def detect_r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak samples for auto-labelling (offline: zero-phase band-pass is fine here, models never see it).

    5-20 Hz band-pass, polarity from the larger of the two tails, peaks >= 0.25 s apart above 40 % of a
    robust amplitude, refined to the extremum of the band-passed signal within +-40 ms.
    """
    b, a = sps.butter(3, [5.0 / (fs / 2), min(20.0 / (fs / 2), 0.95)], btype="band")
    y = sps.filtfilt(b, a, np.asarray(x, np.float64))
    if np.abs(np.percentile(y, 0.5)) > np.abs(np.percentile(y, 99.5)):
        y = -y  # inverted lead
    thr = 0.4 * np.percentile(y, 99.5)
    peaks, _ = sps.find_peaks(y, height=thr, distance=max(1, int(0.25 * fs)))
    return peaks.astype(np.int64)


def plausible_rr(beats: np.ndarray, fs: float) -> bool:
    """A window's beats are trusted when every RR is physiological and no beat looks missed or doubled."""
    if beats.size < 3:
        return False
    rr = np.diff(beats) / fs
    lo, hi = 60.0 / HR_PLAUSIBLE[1], 60.0 / HR_PLAUSIBLE[0]
    if rr.min() < max(lo, 0.3) or rr.max() > min(hi, 2.0):
        return False
    return bool(np.max(np.abs(rr - np.median(rr))) / np.median(rr) < 0.3)


def recording_windows(rec: Recording, window_s: float = 8.0, hop_s: float | None = None,
                      record_id: int | None = None) -> Windows:
    """Raw windows of one catalog recording; ECG gets beats + HR where its RR series is plausible."""
    x, fs = load_signal(rec)
    rid = REAL_RECORD_BASE + CATALOG.index(rec) if record_id is None else record_id
    beats = detect_r_peaks(x, fs) if rec.modality == "ecg" else None
    w = windows_from_signal(x, fs, window_s, hop_s, beats=beats, modality=rec.modality, record_id=rid,
                            name=rec.name, meta={"source": "catalog", "recording": rec.name, "license": rec.license,
                                                 "labels": rec.labels})
    if beats is not None:
        ok = np.array([plausible_rr(w.beats(i), fs) for i in range(len(w))], bool)
        w.hr_valid &= ok
        w.hr_bpm[~w.hr_valid] = np.nan
    w.window_id = rid * 100_000 + w.window_id  # unique across recordings
    return w


def catalog_table(with_stats: bool = True) -> list[dict]:
    """One row per catalog recording: installed?, where, modality, rate, length, labels, license."""
    rows = []
    for rec in CATALOG:
        path = recording_path(rec)
        row = {"name": rec.name, "package": rec.package, "installed": path is not None, "modality": rec.modality,
               "labels": rec.labels, "license": rec.license, "what": rec.what, "path": str(path) if path else None,
               "fs_hz": rec.fs_hz, "seconds": None}
        if path is not None and with_stats:
            try:
                x, fs = load_signal(rec)
                row["fs_hz"], row["seconds"] = fs, round(x.size / fs, 1)
            except Exception as exc:  # noqa: BLE001 - a broken install is reported, not fatal
                row["error"] = f"{exc.__class__.__name__}: {exc}"
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    out = [f"{'recording':20} {'installed':9} {'mod':4} {'fs_hz':>8} {'seconds':>8}  labels / license"]
    for r in rows:
        fs = f"{r['fs_hz']:.1f}" if r["fs_hz"] else "?"
        sec = f"{r['seconds']:.0f}" if r["seconds"] else "-"
        out.append(f"{r['name']:20} {'yes' if r['installed'] else 'no':9} {r['modality']:4} {fs:>8} {sec:>8}  "
                   f"{r['labels']} / {r['license']}" + (f"  ERROR {r['error']}" if r.get("error") else ""))
    missing = sorted({r["package"] for r in rows if not r["installed"]})
    if missing:
        out.append(f"not installed: {', '.join(missing)} (make setup installs requirements-real.txt)")
    return "\n".join(out)


def real_ecg_windows(fs_hz: float = 64.0, window_s: float = 8.0, hop_s: float | None = None,
                     only_valid: bool = True) -> Windows | None:
    """All installed real ECG recordings as z-scored windows at fs_hz with auto-labelled HR (rhythm -1).

    None when no ECG recording is installed. only_valid keeps just the windows with trusted HR.
    """
    parts = []
    for rec in CATALOG:
        if rec.modality != "ecg" or recording_path(rec) is None:
            continue
        w = recording_windows(rec, window_s, hop_s)
        if only_valid:
            w = w.subset(w.hr_valid)
        if len(w):
            parts.append(preprocess(w, fs_hz))
    if not parts:
        return None
    out = Windows.concat(parts)
    out.meta = {"source": "catalog", "recordings": sorted({p.meta["recording"] for p in parts}),
                "labels": "hr (auto from R-peaks); rhythm unknown"}
    return out
