"""The paired corpus on disk: DIR/ecg.npz, DIR/ppg.npz (windows contract) and DIR/corpus.json (summary).

Writes are all-or-nothing: a new DIR is assembled in a hidden sibling temp dir and renamed into place;
an existing DIR gets each file atomically with corpus.json (which records the npz sha256s) written last,
so a reader never sees a corpus.json that points at missing or stale arrays.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS, Windows, load_windows, save_windows
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_write_json, sha256_file

CORPUS_SCHEMA = "edgeppg.corpus/1"
FILES = ("ecg.npz", "ppg.npz")


def summarise(w: Windows) -> dict[str, Any]:
    """Counts per class, HR range over valid windows, shape and rate: what `data synth`/`show` print."""
    counts = {name: int(np.sum(w.rhythm == k)) for k, name in enumerate(RHYTHM_LABELS)}
    unknown = int(np.sum(w.rhythm < 0))
    if unknown:
        counts["unknown"] = unknown
    hr = w.hr_bpm[w.hr_valid & np.isfinite(w.hr_bpm)]
    rr = w.rr_bpm[np.isfinite(w.rr_bpm)]
    return {
        "windows": len(w), "modality": w.modality, "fs_hz": float(w.fs_hz), "window_s": float(w.window_s),
        "channels": w.channels, "samples": w.samples, "records": int(np.unique(w.record_id).size),
        "class_counts": counts, "hr_valid": int(w.hr_valid.sum()),
        "hr_bpm": {"min": float(hr.min()), "max": float(hr.max()), "mean": float(hr.mean())} if hr.size else None,
        "rr_bpm": {"min": float(rr.min()), "max": float(rr.max())} if rr.size else None,
        "beats": int(w.beat_ptr[-1]),
    }


def write_corpus(out_dir: str | Path, ecg: Windows, ppg: Windows, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the pair and a corpus.json summary; returns the summary dict (what corpus.json holds)."""
    out_dir = Path(out_dir)
    if len(ecg) != len(ppg) or not np.array_equal(ecg.window_id, ppg.window_id):
        raise EdgePPGError("ECG and PPG windows are not paired (different counts or window ids)")
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgePPGError(f"output {out_dir} exists and is not a directory; choose another --out")
    summary = {"schema": CORPUS_SCHEMA, **(info or {}), "ecg": summarise(ecg), "ppg": summarise(ppg)}
    if not out_dir.exists():
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the renamed corpus should look like any new dir
        try:
            _write_files(tmp, ecg, ppg, summary)
            os.replace(tmp, out_dir)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    else:
        _write_files(out_dir, ecg, ppg, summary)
    return summary


def _write_files(d: Path, ecg: Windows, ppg: Windows, summary: dict) -> None:
    stale = d / "corpus.json"
    if stale.exists():
        stale.unlink()  # until the new corpus.json lands the directory is visibly "not a corpus"
    save_windows(d / "ecg.npz", ecg)
    save_windows(d / "ppg.npz", ppg)
    summary["sha256"] = {f: sha256_file(d / f) for f in FILES}
    atomic_write_json(d / "corpus.json", summary)


def not_a_corpus(d: Path) -> str:
    """Why folder `d` is no corpus, and a fix that never writes into a folder the user already filled."""
    d = Path(d)
    if (d / "windows.npz").is_file():
        return (f"{d} holds an imported recording (windows.npz from `edgeppg data import`), not a paired synthetic "
                f"corpus; training takes a corpus folder (`edgeppg data synth --out NEW_FOLDER`), while windows.npz "
                f"goes to `edgeppg predict MODEL RECORDING` or `edgeppg data show {d / 'windows.npz'}`")
    if d.is_dir() and any(d.iterdir()):
        return (f"{d} is not a corpus directory (no corpus.json); create one in a new folder with "
                f"`edgeppg data synth --out NEW_FOLDER` and pass that")
    return f"{d} is not a corpus directory (no corpus.json); create one with `edgeppg data synth --out {d}`"


def load_corpus(path: str | Path, verify: bool = True) -> tuple[Windows, Windows, dict[str, Any]]:
    """(ecg, ppg, info) from a corpus directory written by write_corpus; checks the recorded sha256s."""
    d = Path(path)
    meta = d / "corpus.json"
    if not d.is_dir() or not meta.is_file():
        raise EdgePPGError(not_a_corpus(d))
    try:
        info = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EdgePPGError(f"{meta} is not valid JSON ({exc.__class__.__name__}); regenerate the corpus") from None
    if verify:
        for f, digest in (info.get("sha256") or {}).items():
            if not (d / f).is_file() or sha256_file(d / f) != digest:
                raise EdgePPGError(f"{d / f} is missing or does not match corpus.json's sha256; regenerate the corpus")
    return load_windows(d / "ecg.npz"), load_windows(d / "ppg.npz"), info


def build_corpus(out_dir: str | Path, n: int, seed: int, window_s: float = 8.0, fs_ecg: float = 250.0,
                 fs_ppg: float = 64.0, n_records: int | None = None,
                 progress: Callable[[int, int], None] | None = None, workers: int = 1,
                 sensor_domain: bool = True) -> dict[str, Any]:
    """Generate n synthetic pairs and write them to out_dir; returns the corpus.json summary."""
    from edgeppg.data.synth import GENERATOR, HR_RANGES, synth_pairs

    t0 = time.perf_counter()
    ecg, ppg = synth_pairs(n, seed, window_s=window_s, fs_ecg=fs_ecg, fs_ppg=fs_ppg, n_records=n_records,
                           progress=progress, workers=workers, sensor_domain=sensor_domain)
    seconds = time.perf_counter() - t0
    info = {
        "generator": GENERATOR, "seconds": round(seconds, 3), "pairs_per_s": round(n / seconds, 1),
        "config": {"n": n, "seed": seed, "window_s": window_s, "fs_ecg_hz": fs_ecg, "fs_ppg_hz": fs_ppg,
                   "n_records": n_records, "sensor_domain": bool(sensor_domain)},
        "hr_ranges_drawn_bpm": {RHYTHM_LABELS[k]: list(v) for k, v in HR_RANGES.items()},
        "labels": list(RHYTHM_LABELS),
    }
    return write_corpus(out_dir, ecg, ppg, info)


def format_summary(info: dict[str, Any]) -> str:
    """Human lines for a corpus.json summary (class counts, HR range, seconds taken)."""
    p = info["ppg"]
    lines = [f"windows: {p['windows']} pairs, {p['records']} records, {p['window_s']:g} s "
             f"(ECG {info['ecg']['fs_hz']:g} Hz, PPG {p['fs_hz']:g} Hz)"]
    cc = p["class_counts"]  # corpus.json sorts keys; print in label order
    lines.append("classes: " + ", ".join(f"{k} {cc[k]}" for k in [*RHYTHM_LABELS, "unknown"] if k in cc))
    if p["hr_bpm"]:
        lines.append(f"HR (valid windows): {p['hr_bpm']['min']:.1f}-{p['hr_bpm']['max']:.1f} BPM, "
                     f"mean {p['hr_bpm']['mean']:.1f}; {p['hr_valid']} valid")
    if p.get("rr_bpm"):
        lines.append(f"respiration: {p['rr_bpm']['min']:.1f}-{p['rr_bpm']['max']:.1f} breaths/min")
    if "seconds" in info:
        lines.append(f"seconds taken: {info['seconds']:.2f} ({info.get('pairs_per_s', 0):.0f} pairs/s)")
    return "\n".join(lines)
