"""ONNX Runtime on the host, the window layout helper, and one latency protocol for every runtime.

LiteRT and TFLM live in `edgeppg.int8` (one runner each).

Every runtime runs single-threaded, one window per call, as a microcontroller would; latency is the
median and p90 of wall-clock per-call times after warm-up calls are discarded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgeppg.errors import EdgePPGError


def nct_to_model(x: np.ndarray, shape: list[int]) -> np.ndarray:
    """Windows are (N, C, T); a TFLite model may want (N, T, C). Pick the layout from its input shape."""
    shape = [int(s) for s in shape]
    n, c, t = x.shape
    if shape[1:] == [c, t]:
        return x
    if shape[1:] == [t, c]:
        return np.ascontiguousarray(x.transpose(0, 2, 1))
    raise EdgePPGError(f"held-out windows of shape (C={c}, T={t}) do not fit the model input {shape}; "
                       "the export's heldout.npz and model disagree — re-run `edgeppg export`")


class OrtRunner:
    """ONNX Runtime on the int8 (QDQ) ONNX model, float input in the model's own layout."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self._s.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = [d if isinstance(d, int) else 1 for d in inp.shape]

    def prepare(self, x_nct: np.ndarray) -> np.ndarray:
        return nct_to_model(x_nct, self.input_shape).astype(np.float32)

    def run_one(self, x: np.ndarray) -> list[np.ndarray]:
        return self._s.run(None, {self.input_name: x})


@dataclass(frozen=True)
class Latency:
    median: float  # microseconds
    p90: float
    runs: int
    warmup: int

    def to_json(self) -> dict:
        return {"median": round(self.median, 2), "p90": round(self.p90, 2), "runs": self.runs, "warmup": self.warmup}


def time_calls(fn: Callable[[], object], runs: int, warmup: int) -> Latency:
    """Per-call wall time in µs; warm-up calls (caches, lazy init) are run and discarded."""
    for _ in range(warmup):
        fn()
    ts = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        ts[i] = (time.perf_counter_ns() - t0) / 1e3
    return Latency(float(np.median(ts)), float(np.percentile(ts, 90)), runs, warmup)
