"""Figures a person would rather look at than read (matplotlib Agg, PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeppg.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # headless: CI and servers have no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return path


def bland_altman(pred: np.ndarray, true: np.ndarray, path: Path, unit: str = "BPM", what: str = "HR",
                 title: str | None = None) -> Path:
    plt = _plt()
    mean, diff = (pred + true) / 2, pred - true
    bias, sd = float(np.mean(diff)), float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(mean, diff, s=10, alpha=0.6)
    ax.axhline(bias, color="k", label=f"bias {bias:+.2f} {unit}")
    for s in (-1.96, 1.96):
        ax.axhline(bias + s * sd, color="r", ls="--")
    ax.plot([], [], "r--", label=f"95% limits ±{1.96 * sd:.2f} {unit}")
    ax.set_xlabel(f"mean of predicted and true {what} ({unit})")
    ax.set_ylabel(f"predicted − true {what} ({unit})")
    ax.set_title(f"{what} Bland–Altman, {title or 'TFLM int8'} (n={len(diff)})", fontsize=9 if title else None)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def scatter(pairs: dict[str, tuple[np.ndarray, np.ndarray, str]], path: Path) -> Path:
    """pairs: {title: (pred, true, unit)} -> one predicted-vs-true panel each, identity line drawn."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.5 * len(pairs), 4), squeeze=False)
    for ax, (title, (pred, true, unit)) in zip(axes[0], pairs.items()):
        ax.scatter(true, pred, s=10, alpha=0.6)
        lo, hi = float(np.nanmin([true.min(), pred.min()])), float(np.nanmax([true.max(), pred.max()]))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        mae = float(np.mean(np.abs(pred - true)))
        ax.set_title(f"{title}: MAE {mae:.2f} {unit} (n={len(true)})")
        ax.set_xlabel(f"true ({unit})")
        ax.set_ylabel(f"predicted ({unit})")
    return _save(fig, path)


def confusion_matrix(cm: np.ndarray, labels: list[str], path: Path, f1: float) -> Path:
    plt = _plt()
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"rhythm, TFLM int8: macro-F1 {f1:.3f}")
    return _save(fig, path)


def _label_ticks_without_overlap(fig, ax, ticks: list[float]) -> None:
    """Label each model's size on the log axis, skipping any label that would overlap the one before it (student
    fp32 and int8 sit close: 14.5/16.7 KiB or 26.3/45.8 KiB beside a 1 MiB teacher); the legend carries every size."""
    ax.set_xticks(ticks, [f"{t:.1f}" for t in ticks])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    keep, last = [], None
    for t, label in zip(ticks, ax.get_xticklabels()):
        box = label.get_window_extent(renderer)
        if last is None or box.x0 > last.x1 + 4:
            keep.append(t)
            last = box
    ax.set_xticks(keep, [f"{t:.1f}" for t in keep])


def size_accuracy_figure(points: list[dict[str, Any]]):
    """points: {label, bytes, rhythm_macro_f1, hr_mae_bpm} -> F1 and HR MAE against model size (log x, KiB)."""
    plt = _plt()
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key, ylab in ((axes[0], "rhythm_macro_f1", "rhythm macro-F1 (higher is better)"),
                          (axes[1], "hr_mae_bpm", "HR MAE, BPM (lower is better)")):
        for i, p in enumerate(points):
            v = p.get(key)
            if v is None or not np.isfinite(v):
                continue
            kib = p["bytes"] / 1024
            ax.scatter([kib], [v], s=60, color=colors[i % len(colors)], label=f"{p['label']} ({kib:.1f} KiB)")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.margins(x=0.3, y=0.3)
        ax.set_xlabel("model size (KiB, log scale)")
        ax.set_ylabel(ylab)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    for ax in axes:  # log ticks may all fall outside the range: label the models' own sizes
        _label_ticks_without_overlap(fig, ax, sorted({p["bytes"] / 1024 for p in points}))
    fig.suptitle("size vs accuracy on the held-out windows (teacher / student fp32: 4 B per parameter; int8: .tflite bytes)",
                 fontsize=9)
    return fig


def size_accuracy(points: list[dict[str, Any]], path: Path) -> Path:
    return _save(size_accuracy_figure(points), path)
