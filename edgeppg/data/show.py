"""Inspect a corpus directory or a windows file: text summary and a PNG of a few labelled windows."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS, Windows, load_windows
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_write_bytes


def _load(path: Path) -> tuple[list[Windows], dict | None]:
    from edgeppg.data.corpus import load_corpus

    if path.is_dir() and (path / "corpus.json").is_file():
        ecg, ppg, info = load_corpus(path)
        return [ecg, ppg], info
    if path.is_dir() and (path / "windows.npz").is_file():
        return [load_windows(path / "windows.npz")], None
    if path.is_file():
        return [load_windows(path)], None
    raise EdgePPGError(f"{path} is neither a corpus directory nor a windows .npz; "
                       "create one with `edgeppg data synth --out DIR` or `edgeppg data import`")


def _pick(w: Windows, k: int) -> list[int]:
    """One window per class present (first occurrence), then fill up to k in order."""
    chosen = [int(np.flatnonzero(w.rhythm == c)[0]) for c in range(-1, len(RHYTHM_LABELS)) if (w.rhythm == c).any()]
    rest = [i for i in range(len(w)) if i not in chosen]
    return (chosen + rest)[:k]


def render_png(parts: list[Windows], rows: int = 5) -> bytes:
    """Grid: one row per chosen window, one column per modality; beat marks as dots, labels in titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = _pick(parts[0], rows)
    fig, axes = plt.subplots(len(idx), len(parts), figsize=(6 * len(parts), 1.8 * len(idx) + 0.4), squeeze=False)
    for col, w in enumerate(parts):
        for row, i in enumerate(idx):
            ax = axes[row][col]
            x = w.x[i, 0]
            t = np.arange(x.size) / w.fs_hz
            ax.plot(t, x, lw=0.7, color="tab:blue" if w.modality == "ppg" else "tab:red")
            b = w.beats(i)
            b = b[(b >= 0) & (b < x.size)]
            ax.plot(b / w.fs_hz, x[b], "k.", ms=4)
            lab = RHYTHM_LABELS[w.rhythm[i]] if w.rhythm[i] >= 0 else "unknown"
            hr = f"{w.hr_bpm[i]:.1f} BPM" if np.isfinite(w.hr_bpm[i]) else "HR ?"
            ax.set_title(f"{w.modality} #{w.window_id[i]} rec {w.record_id[i]}: {lab}, {hr}"
                         f"{'' if w.hr_valid[i] else ' (invalid)'}", fontsize=8)
            ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("s", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def show(path: str | Path, png: str | Path | None = None, rows: int = 5) -> tuple[str, Path]:
    """Summary text and the PNG path written (default: DIR/show.png, or FILE's sibling <stem>_show.png)."""
    from edgeppg.data.corpus import format_summary, summarise

    path = Path(path)
    parts, info = _load(path)
    if len(parts[0]) == 0:
        raise EdgePPGError(f"{path} holds no windows")
    if info is not None:
        text = format_summary(info)
    else:
        s = summarise(parts[0])
        text = (f"windows: {s['windows']} {s['modality']}, {s['records']} records, {s['window_s']:g} s at {s['fs_hz']:g} Hz\n"
                "classes: " + ", ".join(f"{k} {v}" for k, v in s["class_counts"].items()))
        if s["hr_bpm"]:
            text += f"\nHR (valid windows): {s['hr_bpm']['min']:.1f}-{s['hr_bpm']['max']:.1f} BPM; {s['hr_valid']} valid"
    if png is None:
        png = path / "show.png" if path.is_dir() else path.with_name(f"{path.stem}_show.png")
    png = Path(png)
    atomic_write_bytes(png, render_png(parts, rows))
    return text, png
