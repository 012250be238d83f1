"""Generator throughput: pairs per second of synth_pairs (and of preprocess), as printed by `data bench`."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from edgeppg.io import atomic_write_json


def bench_generator(n: int = 2000, seed: int = 0, repeats: int = 1, out: str | Path | None = None,
                    workers: int = 1) -> dict[str, Any]:
    """Time synth_pairs(n) (best of `repeats`), optionally with `workers` processes too, and preprocess of
    the PPG and ECG to 64 Hz; optional JSON."""
    import numpy as np

    from edgeppg.data.signal import preprocess
    from edgeppg.data.synth import GENERATOR, synth_pairs

    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        ecg, ppg = synth_pairs(n, seed)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    preprocess(ppg, 64.0)
    preprocess(ecg, 64.0)
    pre = time.perf_counter() - t0
    res = {
        "generator": GENERATOR, "n": n, "seed": seed, "seconds": round(best, 3), "pairs_per_s": round(n / best, 1),
        "ms_per_pair": round(1000 * best / n, 3), "preprocess_windows_per_s": round(2 * n / pre, 1),
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "processes": 1, "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    if workers > 1:
        t0 = time.perf_counter()
        e2, p2 = synth_pairs(n, seed, workers=workers)
        dt = time.perf_counter() - t0
        res["parallel"] = {"workers": workers, "seconds": round(dt, 3), "pairs_per_s": round(n / dt, 1),
                           "identical": bool(np.array_equal(e2.x, ecg.x) and np.array_equal(p2.x, ppg.x))}
    if out is not None:
        atomic_write_json(out, res)
    return res
