"""Inference helpers shared by every stage: raw outputs, targets, and the one validation score.

`val_score` (what fit() maximises by default) is defined once here:
    val_score = rhythm_macro_f1 - hr_mae_bpm / 20
i.e. 1 BPM of HR error costs as much as 0.05 macro-F1; a term whose metric is missing/NaN (e.g. no rhythm
labels in HR-only real ECG) is left out.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from edgeppg.data.windows import Windows
from edgeppg.metrics import decode_outputs, task_metrics
from edgeppg.models.heads import HeadSpec

HR_MAE_PER_F1 = 20.0  # BPM of HR MAE that cost one unit of macro-F1 in val_score


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Raw head outputs for x (N, C, T) in eval mode without gradients; the model's mode is restored."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chunks: dict[str, list[np.ndarray]] = {}
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i: i + batch_size], dtype=np.float32)).to(device)
                for k, v in model(xb).items():
                    chunks.setdefault(k, []).append(v.float().cpu().numpy())
    finally:
        model.train(was_training)
    return {k: np.concatenate(v) for k, v in chunks.items()}


def val_score(metrics: dict[str, float]) -> float:
    """The combined score (module docstring); -inf when neither term is available."""
    terms = []
    f1 = metrics.get("rhythm_macro_f1")
    if f1 is not None and math.isfinite(f1):
        terms.append(f1)
    hr = metrics.get("hr_mae_bpm")
    if hr is not None and math.isfinite(hr):
        terms.append(-hr / HR_MAE_PER_F1)
    return float(sum(terms)) if terms else float("-inf")


def evaluate_windows(model: nn.Module, heads: tuple[HeadSpec, ...], windows: Windows,
                     batch_size: int = 256) -> dict[str, float]:
    """task_metrics on decoded predictions, plus "val_score"."""
    raw = predict(model, windows.x, batch_size)
    m = task_metrics(decode_outputs(heads, raw), windows)
    m["val_score"] = val_score(m)
    return m


def make_targets(windows: Windows, heads: tuple[HeadSpec, ...]) -> dict[str, np.ndarray]:
    """Training targets per head (keys documented in edgeppg.train.objectives)."""
    hr_valid = windows.hr_valid & np.isfinite(windows.hr_bpm)
    values = {"hr": windows.hr_bpm, "rr": windows.rr_bpm}
    out: dict[str, np.ndarray] = {"hr_valid": hr_valid}
    for h in heads:
        if h.kind == "classes":
            out[h.name] = windows.rhythm.astype(np.int64) if h.name == "rhythm" else np.full(len(windows), -1, np.int64)
            continue
        v = np.asarray(values.get(h.name, np.full(len(windows), np.nan)), np.float64)
        # HR and RR are only meaningful where the beats (and hence the pulse) are readable
        valid = np.isfinite(v) & hr_valid
        if h.kind == "regression":
            out[f"{h.name}_z"] = np.where(valid, h.encode(np.nan_to_num(v)), 0.0).astype(np.float32)
        else:
            centers = np.asarray(h.centers)
            idx = np.abs(np.nan_to_num(v)[:, None] - centers[None, :]).argmin(axis=1)
            out[f"{h.name}_bin"] = np.where(valid, idx, -1).astype(np.int64)
        out[f"{h.name}_valid"] = valid
    return out


def train_arrays(windows: Windows, heads: tuple[HeadSpec, ...]) -> dict[str, np.ndarray]:
    """The dict fit() takes: "x" plus make_targets."""
    return {"x": windows.x, **make_targets(windows, heads)}
