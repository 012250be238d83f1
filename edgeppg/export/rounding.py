"""Why TFLM and LiteRT's reference kernels can disagree by 1 LSB, proven per window.

Measured here: the tflite-micro wheel requantizes with gemmlowp's *double* rounding
(SaturatingRoundingDoublingHighMul then RoundingDivideByPOT) while ai-edge-litert's reference kernels
use *single* rounding (one round of acc * multiplier >> shift). They differ only when the first rounding
lands on a tie, e.g. 15.4992 -> 15.5 -> 16 instead of 15. For a window whose outputs differ, this module
finds the FIRST op whose output differs (every op output exposed as a model output), recomputes that op's
int32 accumulators exactly from its (still identical) int8 input, and checks that TFLM equals the
double-rounded and LiteRT the single-rounded value at every differing element. Anything else is a real
mismatch.
"""

from __future__ import annotations

import math

import numpy as np

_ACC_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = q * 2^(shift - 31), q in [2^30, 2^31)."""
    if real == 0:
        return 0, 0
    mant, shift = math.frexp(real)
    q = int(round(mant * (1 << 31)))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def requant_double(acc: int, q: int, shift: int) -> int:
    """gemmlowp: SaturatingRoundingDoublingHighMul(acc << left, q) then RoundingDivideByPOT(., right)."""
    left, right = max(shift, 0), max(-shift, 0)
    ab = (acc * (1 << left)) * q
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    v = ab + nudge
    v = -((-v) >> 31) if v < 0 else v >> 31  # C++ division truncates toward zero
    if right == 0:
        return v
    mask = (1 << right) - 1
    rem, thr = v & mask, (mask >> 1) + (1 if v < 0 else 0)
    return (v >> right) + (1 if rem > thr else 0)


def requant_single(acc: int, q: int, shift: int) -> int:
    """TFLITE_SINGLE_ROUNDING: (acc * q + 2^(total-1)) >> total with total = 31 - shift."""
    total = 31 - shift
    return (acc * q + (1 << (total - 1))) >> total


def _expose_all(blob: bytes) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils as fu

    m = fu.read_model_from_bytearray(bytearray(blob))
    sg = m.subgraphs[0]
    orig = [int(i) for i in sg.outputs]
    extra = [int(op.outputs[0]) for op in sg.operators if int(op.outputs[0]) not in orig]
    sg.outputs = np.array(orig + extra, dtype=np.int32)
    return bytes(fu.convert_object_to_bytearray(m)), m


def _accumulators(op_name: str, opts, x: np.ndarray, w: np.ndarray, b: np.ndarray, x_zp: int) -> np.ndarray:
    """int64 accumulators (before requantization) in the op's output layout."""
    xi = x.astype(np.int64) - x_zp
    if op_name == "FULLY_CONNECTED":
        acc = xi.reshape(1, -1) @ w.astype(np.int64).T
        return acc + b.astype(np.int64)
    _, h, t, c = xi.shape
    if h != 1 or opts.padding != 1:  # 1 = VALID; the twin pads explicitly, so anything else is not ours
        raise ValueError("only VALID 1xk convolutions are recomputed")
    s = int(opts.strideW)
    k = w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(xi[0, 0], k, axis=0)[::s]  # (T_out, C, k)
    if op_name == "CONV_2D":  # w (O, 1, k, C)
        acc = np.einsum("tck,okc->to", win, w[:, 0].astype(np.int64))
    else:  # DEPTHWISE_CONV_2D w (1, 1, k, C*mult); depth multiplier 1 in the student
        acc = np.einsum("tck,kc->tc", win, w[0, 0].astype(np.int64))
    return (acc + b.astype(np.int64))[None, None]


def explain(blob: bytes, x1: np.ndarray) -> dict:
    """For one int8 input (1, T, C): {"explained": bool, "op": first diverging op, "elements": n, ...}."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    blob2, m = _expose_all(blob)
    ref = Interpreter(model_content=blob2, experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x1)
    ref.invoke()
    tm = runtime.Interpreter.from_bytes(blob2, arena_size=max(1 << 20, 20 * len(blob2)))
    tm.set_input(x1, 0)
    tm.invoke()
    outs = ref.get_output_details()
    pos = {d["index"]: i for i, d in enumerate(outs)}
    details = {d["index"]: d for d in ref.get_tensor_details()}
    for op_i, op in enumerate(ref._get_ops_details()):
        o = int(op["outputs"][0])
        a, t = ref.get_tensor(o), np.asarray(tm.get_output(pos[o])).reshape(ref.get_tensor(o).shape)
        bad = np.argwhere(a != t)
        if not len(bad):
            continue
        res = {"explained": False, "op": op["op_name"], "op_index": op_i, "elements": int(len(bad)),
               "max_lsb": int(np.abs(a.astype(int) - t.astype(int)).max())}
        if op["op_name"] not in _ACC_OPS:
            return res
        xi, wi, bi = (int(v) for v in op["inputs"][:3])
        xq, oq, wq = details[xi]["quantization_parameters"], details[o]["quantization_parameters"], \
            details[wi]["quantization_parameters"]
        opts = m.subgraphs[0].operators[op_i].builtinOptions
        try:
            acc = _accumulators(op["op_name"], opts, ref.get_tensor(xi), ref.get_tensor(wi), ref.get_tensor(bi),
                                int(xq["zero_points"][0]))
        except ValueError:
            return res
        out_zp, out_s, in_s = int(oq["zero_points"][0]), float(oq["scales"][0]), float(xq["scales"][0])
        w_scales = np.asarray(wq["scales"], np.float64)
        ok = True
        for idx in map(tuple, bad):
            ch = idx[-1] if len(w_scales) > 1 else 0
            q, shift = quantize_multiplier(in_s * float(w_scales[ch]) / out_s)
            av = int(acc[idx])
            clamp = lambda v: int(np.clip(v + out_zp, -128, 127))  # noqa: E731 - fused ReLU clamps at zp; only ties matter here
            ok &= clamp(requant_double(av, q, shift)) == int(t[idx]) and clamp(requant_single(av, q, shift)) == int(a[idx])
        res["explained"] = bool(ok)
        res["cause"] = "TFLM double rounding vs LiteRT single rounding at a requantization tie" if ok else "unexplained"
        return res
    return {"explained": True, "op": None, "elements": 0, "max_lsb": 0}
