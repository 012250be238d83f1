"""TFLite's int8 arithmetic, bit for bit: the exporter, verify and the firmware generator must agree exactly
(docs/design.md §6: it lives here once).

Everything here follows the TFLite/TFLM C++ reference (tensorflow/lite/kernels/internal/quantization_util.cc,
common.h and gemmlowp's fixedpoint.h), which TFLM builds with the default *double* rounding:
MultiplyByQuantizedMultiplier = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x << left, m), right).
`mbqm_single` is the TFLITE_SINGLE_ROUNDING variant (one rounding of x * m >> (31 - shift)), which LiteRT's
reference kernels use; the two differ only when the first rounding of the double path lands on a tie.
"""

from __future__ import annotations

import math

import numpy as np

from edgeppg.errors import EdgePPGError

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 exactly as TFLite's QUANTIZE does: float32 division, round half away from zero, clamp."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q).astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def tflite_round(x: float) -> int:
    """TfLiteRound = std::round: half away from zero (Python's round() is half to even, which would differ)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = m * 2^(shift - 31) with m in [2^30, 2^31); TfLiteRound on frexp's mantissa."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = tflite_round(q * (1 << 31))
    if m == (1 << 31):
        m //= 2
        shift += 1
    if shift < -31:  # every bit would be shifted out: TFLite flushes to zero
        return 0, 0
    return int(m), int(shift)


def activation_range(act: str, scale: np.float32, zp: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (float32 division, as in the C++)."""
    def q(f):
        return zp + tflite_round(float(np.float32(f) / np.float32(scale)))
    lo, hi = -128, 127
    if act == "RELU":
        return max(lo, q(0.0)), hi
    if act == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    if act == "NONE":
        return lo, hi
    raise EdgePPGError(f"unsupported fused activation {act}")


def wrap_int32(x: int) -> int:
    """Two's-complement int32 wrap of a Python int (what a C int32_t holds after the same operation)."""
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul for int32 (division truncates toward zero, as in C++)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) >> 31
    return wrap_int32(q if ab + nudge >= 0 else -q)


def rdbp(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero."""
    mask = (1 << exponent) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if rem > thr else 0)


def mbqm(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier, double rounding (TFLM's build): RDBP(SRDHM(x << left, m), right)."""
    left, right = (shift, 0) if shift > 0 else (0, -shift)
    return rdbp(srdhm(wrap_int32(x << left), m), right)


def mbqm_single(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier under TFLITE_SINGLE_ROUNDING: (x * m + 2^(total-1)) >> total, total = 31 - shift."""
    total = 31 - shift
    return (x * m + (1 << (total - 1))) >> total
