"""Why TFLM and LiteRT's reference kernels can disagree by 1 LSB, proven per window.

Measured here: the tflite-micro wheel requantizes with gemmlowp's *double* rounding (`fixedpoint.mbqm`)
while ai-edge-litert's reference kernels use *single* rounding (`fixedpoint.mbqm_single`). They differ only
when the first rounding lands on a tie, e.g. 15.4992 -> 15.5 -> 16 instead of 15. For a window whose outputs
differ, this module finds the FIRST op whose output differs (every op output exposed as a model output),
recomputes that op's int32 accumulators exactly from its (still identical) int8 input, and checks that TFLM
equals the double-rounded and LiteRT the single-rounded value at every differing element. Anything else is
a real mismatch.
"""

from __future__ import annotations

import numpy as np

from edgeppg.int8.fixedpoint import mbqm, mbqm_single, quantize_multiplier
from edgeppg.int8.flatbuffer import Op, load_graph, with_all_outputs
from edgeppg.int8.litert import LiteRTRunner
from edgeppg.int8.tflm import TFLMRunner

_ACC_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def _accumulators(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray, x_zp: int) -> np.ndarray:
    """int64 accumulators (before requantization) in the op's output layout."""
    xi = x.astype(np.int64) - x_zp
    if op.kind == "FULLY_CONNECTED":
        acc = xi.reshape(1, -1) @ w.astype(np.int64).T
        return acc + b.astype(np.int64)
    _, h, t, c = xi.shape
    if h != 1 or op.options.get("padding") != 1:  # 1 = VALID; the twin pads explicitly, so anything else is not ours
        raise ValueError("only VALID 1xk convolutions are recomputed")
    s = int(op.options.get("strideW", 1))
    k = w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(xi[0, 0], k, axis=0)[::s]  # (T_out, C, k)
    if op.kind == "CONV_2D":  # w (O, 1, k, C)
        acc = np.einsum("tck,okc->to", win, w[:, 0].astype(np.int64))
    else:  # DEPTHWISE_CONV_2D w (1, 1, k, C*mult); depth multiplier 1 in the student
        acc = np.einsum("tck,kc->tc", win, w[0, 0].astype(np.int64))
    return (acc + b.astype(np.int64))[None, None]


def explain(blob: bytes, x1: np.ndarray) -> dict:
    """For one int8 input (1, T, C): {"explained": bool, "op": first diverging op, "elements": n, ...}."""
    exposed = with_all_outputs(blob)
    g = load_graph(exposed)
    ref_outs = LiteRTRunner(exposed, reference=True).run_one(x1)
    tm_outs = TFLMRunner(exposed, max(1 << 20, 20 * len(exposed))).run_one(x1)
    pos = {t: i for i, t in enumerate(g.outputs)}
    value = {g.inputs[0]: x1, **{t: ref_outs[i] for t, i in pos.items()}}  # every activation as LiteRT computed it
    for op in g.ops:
        o = op.outputs[0]
        a = ref_outs[pos[o]]
        t = np.asarray(tm_outs[pos[o]]).reshape(a.shape)
        bad = np.argwhere(a != t)
        if not len(bad):
            continue
        res = {"explained": False, "op": op.kind, "op_index": op.index, "elements": int(len(bad)),
               "max_lsb": int(np.abs(a.astype(int) - t.astype(int)).max())}
        if op.kind not in _ACC_OPS:
            return res
        tx, tw, to = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[o]
        has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
        bias = g.tensors[op.inputs[2]].data if has_bias else np.zeros(to.shape[-1], np.int32)
        try:
            acc = _accumulators(op, value[tx.index], tw.data, bias, tx.zp)
        except ValueError:
            return res
        w_scales = np.asarray(tw.scale, np.float64)
        ok = True
        for idx in map(tuple, bad):
            ch = idx[-1] if len(w_scales) > 1 else 0
            q, shift = quantize_multiplier(float(tx.s) * float(w_scales[ch]) / float(to.s))
            av = int(acc[idx])
            clamp = lambda v: int(np.clip(v + to.zp, -128, 127))  # noqa: E731 - fused ReLU clamps at zp; only ties matter here
            ok &= clamp(mbqm(av, q, shift)) == int(t[idx]) and clamp(mbqm_single(av, q, shift)) == int(a[idx])
        res["explained"] = bool(ok)
        res["cause"] = "TFLM double rounding vs LiteRT single rounding at a requantization tie" if ok else "unexplained"
        return res
    return {"explained": True, "op": None, "elements": 0, "max_lsb": 0}
