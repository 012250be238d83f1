"""Scoring on the real-PPG sources: one row format for reference estimators and edgeppg's own models.

A row: {"estimator", "source", "group", "derived_from", "n", "n_ref", "n_covered", "coverage", "hr_mae_bpm",
"within_5bpm", "bias_bpm", "seconds"} plus "classes" (rhythm-class counts over all windows) where the predictor
gives them. Per estimator, an "all" row pools the windows of the ORIGINAL sources and an "all-derived" row those
of the derived (degraded) ones.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from edgeppg.realppg.estimators import available_estimators, estimate_windows
from edgeppg.realppg.sources import RealSource

ALL_ORIGINAL = "all"
ALL_DERIVED = "all-derived"


def score(ref_hr: np.ndarray, pred_hr: np.ndarray, classes: Sequence[str] | None = None) -> dict:
    """n_ref: windows with a reference; coverage: share of those where the predictor gives an HR; hr_mae_bpm,
    bias_bpm and within_5bpm (|err| <= 5) over the covered windows (NaN when none)."""
    ref = np.asarray(ref_hr, np.float64).reshape(-1)
    pred = np.asarray(pred_hr, np.float64).reshape(-1)
    if ref.shape != pred.shape:
        raise ValueError(f"ref_hr has {ref.size} windows, pred_hr {pred.size}")
    has_ref = np.isfinite(ref)
    cov = has_ref & np.isfinite(pred)
    n_ref, n_cov = int(has_ref.sum()), int(cov.sum())
    err = pred[cov] - ref[cov]
    out = {"n": int(ref.size), "n_ref": n_ref, "n_covered": n_cov,
           "coverage": n_cov / n_ref if n_ref else float("nan"),
           "hr_mae_bpm": float(np.mean(np.abs(err))) if n_cov else float("nan"),
           "bias_bpm": float(np.mean(err)) if n_cov else float("nan"),
           "within_5bpm": float(np.mean(np.abs(err) <= 5.0)) if n_cov else float("nan")}
    if classes is not None:
        if len(classes) != ref.size:
            raise ValueError(f"classes has {len(classes)} entries for {ref.size} windows")
        out["classes"] = dict(sorted(Counter(str(c) for c in classes).items()))
    return out


def _row(name: str, src_name: str, group: str, derived_from, ref, pred, seconds: float, classes=None) -> dict:
    return {"estimator": name, "source": src_name, "group": group, "derived_from": derived_from,
            **score(ref, pred, classes), "seconds": round(float(seconds), 3)}


def _pooled(name: str, parts: list[tuple[RealSource, np.ndarray, float, list | None]], label: str) -> dict | None:
    if not parts:
        return None
    ref = np.concatenate([s.ref_hr for s, _, _, _ in parts])
    pred = np.concatenate([p for _, p, _, _ in parts])
    cls = None
    if all(c is not None for _, _, _, c in parts):
        cls = [x for _, _, _, c in parts for x in c]
    groups = sorted({s.group for s, _, _, _ in parts})
    return _row(name, label, "+".join(groups), None, ref, pred, sum(t for _, _, t, _ in parts), cls)


def _rows_for(name: str, runs: list[tuple[RealSource, np.ndarray, float, list | None]]) -> list[dict]:
    rows = [_row(name, s.name, s.group, s.derived_from, s.ref_hr, p, dt, c) for s, p, dt, c in runs]
    for label, derived in ((ALL_ORIGINAL, False), (ALL_DERIVED, True)):
        r = _pooled(name, [x for x in runs if bool(x[0].derived_from) == derived], label)
        if r is not None:
            rows.append(r)
    return rows


def _fit(pred, cls, n: int):
    """A predictor may stop early (or run on) at the recording's end: pad with NaN / "none", or cut."""
    pred = np.asarray(pred, np.float64).reshape(-1)
    pred = np.concatenate([pred, np.full(max(0, n - pred.size), np.nan)])[:n]
    if cls is not None:
        cls = (list(cls) + ["none"] * n)[:n]
    return pred, cls


def score_predictor(name: str, fn: Callable, sources: Sequence[RealSource]) -> list[dict]:
    """Rows for any predictor on the sources' window grids (per source, then "all" / "all-derived").

    fn(signal, fs_hz, hop_s) -> pred_hr (N,) for the windows [i*hop_s, i*hop_s + window_s), or a tuple
    (pred_hr, classes) with one rhythm-class name per window (counted in the rows' "classes")."""
    runs = []
    for s in sources:
        t0 = time.perf_counter()
        res = fn(s.signal, s.fs_hz, s.hop_s)
        dt = time.perf_counter() - t0
        pred, cls = _fit(*(res if isinstance(res, tuple) else (res, None)), s.n_windows)
        runs.append((s, pred, dt, cls))
    return _rows_for(name, runs)


def estimator_table(sources: Sequence[RealSource], names: Sequence[str] | None = None) -> list[dict]:
    """Rows per (estimator, source) plus the pooled rows, for every available estimator (or `names`).
    A missing estimator gives one row {"estimator", "source": "all", "skipped": reason}."""
    avail = available_estimators()
    rows = []
    for name in (names or list(avail)):
        if name not in avail:
            raise KeyError(f"unknown estimator {name!r}; known: {', '.join(avail)}")
        fn, reason = avail[name]
        if fn is None:
            rows.append({"estimator": name, "source": ALL_ORIGINAL, "skipped": reason})
            continue
        runs = []
        for s in sources:
            t0 = time.perf_counter()
            pred = estimate_windows(name, s.signal, s.fs_hz, s.starts_s(), s.window_s)
            runs.append((s, _fit(pred, None, s.n_windows)[0], time.perf_counter() - t0, None))
        rows.extend(_rows_for(name, runs))
    return rows


def format_rows(rows: list[dict]) -> str:
    out = [f"{'estimator':16} {'source':30} {'n':>5} {'n_ref':>5} {'cover':>6} {'MAE':>6} {'<=5':>5} {'sec':>6}"]
    for r in rows:
        if r.get("skipped"):
            out.append(f"{r['estimator']:16} {'(skipped)':30} {r['skipped']}")
            continue
        f = (lambda v, fmt: format(v, fmt) if v == v else "-")
        line = (f"{r['estimator']:16} {r['source']:30} {r['n']:5d} {r['n_ref']:5d} {f(r['coverage'], '6.0%'):>6} "
                f"{f(r['hr_mae_bpm'], '6.2f'):>6} {f(r['within_5bpm'], '5.0%'):>5} {r['seconds']:6.1f}")
        if r.get("classes"):
            line += "  " + ", ".join(f"{k}:{v}" for k, v in r["classes"].items())
        out.append(line)
    return "\n".join(out)
