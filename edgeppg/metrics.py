"""Task metrics computed the same way for every backend (torch, ONNX, TFLite, TFLM, firmware)."""

from __future__ import annotations

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS, Windows


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(RHYTHM_LABELS)) -> float:
    """Macro-F1 over the classes present in y_true or y_pred (sklearn's convention for labels=None)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    keep = y_true >= 0
    y_true, y_pred = y_true[keep], y_pred[keep]
    f1s = []
    for c in range(n_classes):
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else float("nan")


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(RHYTHM_LABELS)) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        if t >= 0:
            m[t, p] += 1
    return m


def mae(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if mask is not None:
        ok &= np.asarray(mask, bool)
    return float(np.mean(np.abs(a[ok] - b[ok]))) if ok.any() else float("nan")


def task_metrics(decoded: dict[str, np.ndarray], w: Windows) -> dict[str, float]:
    """decoded: {"rhythm": class idx, "hr": bpm, "rr": breaths/min} -> the fixed metric keys."""
    out: dict[str, float] = {}
    if "rhythm" in decoded:
        out["rhythm_macro_f1"] = macro_f1(w.rhythm, decoded["rhythm"])
        out["rhythm_accuracy"] = float(np.mean(decoded["rhythm"][w.rhythm >= 0] == w.rhythm[w.rhythm >= 0]))
    if "hr" in decoded:
        out["hr_mae_bpm"] = mae(decoded["hr"], w.hr_bpm, w.hr_valid)
    if "rr" in decoded:
        out["rr_mae_bpm"] = mae(decoded["rr"], w.rr_bpm, w.hr_valid)
    return out


def decode_outputs(heads, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {h.name: h.decode(raw[h.name]) for h in heads if h.name in raw}
