"""TFLite int8 affine quantization, in one place: the exporter, verify and the firmware bench must agree bit for bit."""

from __future__ import annotations

import numpy as np


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 exactly as TFLite's QUANTIZE does: float32 division, round half away from zero, clamp."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q).astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
