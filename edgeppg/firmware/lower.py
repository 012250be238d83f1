"""One lowering per TFLite op kind: a graph op -> one C layer (an `eppg_*_t` parameter struct + its const arrays).

Every number the C kernels need is computed here with TFLM's Prepare() arithmetic (`edgeppg.int8.fixedpoint`),
so the generated model is bit-exact with the TFLM interpreter. Adding an op kind = a function here, its entry in
LOWERINGS, and its C kernel in firmware_harness (enum, struct, dispatch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.firmware.emit import CArrays
from edgeppg.int8.fixedpoint import activation_range, mbqm, quantize_multiplier, wrap_int32
from edgeppg.int8.flatbuffer import Op, Tensor

ALIAS_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")  # same bytes, new shape: no code, shared buffer


@dataclass
class Layer:
    kind: str  # C enum suffix: CONV, DW, FC, ADD, PAD, MEAN, REQUANT
    name: str
    ctype: str
    fields: dict  # C field -> literal or symbol
    inputs: list[int]  # buffer tensor ids (after aliasing)
    output: int
    macs: int = 0


@dataclass
class Lowering:
    """What every lowering shares: the tensors, the alias map, the const arrays, the optimized kernels' scratch."""

    tensors: list[Tensor]
    root: dict[int, int]  # aliased tensor -> the tensor whose bytes it shares
    em: CArrays = field(default_factory=CArrays)
    scratch_words: int = 0  # conv_opt's widened input rows
    dw_scratch_words: int = 0  # dw_opt's padded int16 rows

    def buf(self, ti: int) -> int:
        return self.root.get(ti, ti)


# ---- helpers: geometry, multipliers, packed layouts for the optimized kernels ----

def _conv_axis(in_shape, f_shape, op: Op, name: str):
    """Which of H/W is time for a 4-D conv: Keras Conv1D expands to H=1; other exporters use W=1."""
    if len(in_shape) != 4:
        raise EdgePPGError(f"{name}: expected a 4-D input, got shape {list(in_shape)}")
    kh, kw = f_shape[1], f_shape[2]
    if in_shape[1] == 1 and kh == 1:
        return "W", in_shape[2], kw, op.options.get("strideW", 1), op.options.get("dilationWFactor", 1)
    if in_shape[2] == 1 and kw == 1:
        return "H", in_shape[1], kh, op.options.get("strideH", 1), op.options.get("dilationHFactor", 1)
    raise EdgePPGError(f"{name}: only 1-D (1xk) convolutions are supported, got input {list(in_shape)} "
                       f"filter {list(f_shape)}")


def _pad_left(padding: int, in_len: int, out_len: int, k: int, stride: int, dil: int) -> int:
    if padding == 1:  # VALID
        return 0
    eff = (k - 1) * dil + 1
    total = max((out_len - 1) * stride + eff - in_len, 0)
    return total // 2


def _per_channel_mults(t_in: Tensor, t_w: Tensor, t_out: Tensor, n: int):
    ws = t_w.scale if len(t_w.scale) == n else np.repeat(t_w.scale[:1], n)
    mults, shifts = [], []
    for s in ws:
        real = (float(t_in.s) * float(np.float32(s))) / float(t_out.s)  # (in*w)/out in double, as TFLM
        m, sh = quantize_multiplier(real)
        mults.append(m)
        shifts.append(sh)
    return mults, shifts


def _check_symmetric(t: Tensor, name: str):
    if t.zero_point.size and np.any(t.zero_point != 0):
        raise EdgePPGError(f"{name}: weights {t.name!r} have non-zero zero points; int8 weights must be symmetric")


def _widen_interleaved(w2d: np.ndarray, quads: bool) -> np.ndarray:
    """[OC][K] int8 -> int16 stream for conv_opt. K is zero-padded to a multiple of 4. Channels go in
    blocks (of 4 when `quads`, then 2, then 1); per block and group of 4 taps, each channel j gives two
    words in SXTB16 order: (w0, w2), (w1, w3)."""
    oc, k = w2d.shape
    kp = (k + 3) // 4 * 4
    w = np.zeros((oc, kp), np.int16)
    w[:, :k] = w2d
    g = w.reshape(oc, kp // 4, 4)[:, :, [0, 2, 1, 3]]  # (oc, groups, 4)
    blocks, o = [], 0
    for size in ((4, 2, 1) if quads else (2, 1)):
        while oc - o >= size:
            blocks.append(np.concatenate([g[o + j] for j in range(size)], axis=1).reshape(-1))
            o += size
    return np.concatenate(blocks) if blocks else np.zeros(0, np.int16)


def _dw_tap_pairs(w: np.ndarray) -> np.ndarray:
    """[K][C] depthwise taps -> per channel ceil(K/2) words, low half w[2j], high half w[2j+1] (zero-padded)."""
    k, c = w.shape
    kp = (k + 1) // 2 * 2
    wp = np.zeros((kp, c), np.int64)
    wp[:k] = w
    lo = wp[0::2].T & 0xFFFF  # (c, kp/2)
    hi = wp[1::2].T & 0xFFFF
    return (lo | (hi << 16)).reshape(-1)


def _rq_params(mults, shifts, out_offset) -> list[int]:
    """{mult, rs, 2^(rs-1) + (off << rs)} per channel for rq_fast."""
    out = []
    for m, sh in zip(mults, shifts):
        rs = -sh
        out += [m, rs, (1 << (rs - 1)) + out_offset * (1 << rs)]
    return out


def _fast_rq(bias_fold, w2d, shifts) -> int:
    """1 when every possible accumulator satisfies |acc| < 2^30 and every channel has rs in 1..23:
    then SRDHM(acc, m) == SMMULR(2*acc, m) exactly, the rounding needs no e == 0 special case, and the
    output offset folds into the rounding constant."""
    if max(shifts) > -1 or min(shifts) < -23:  # rs in 1..23 keeps (off << rs) inside int32
        return 0
    bound = np.abs(np.asarray(bias_fold, np.int64)) + 128 * np.abs(np.asarray(w2d, np.int64)).sum(axis=1)
    return int(bound.max() < (1 << 30))


def _mean_multiplier(real: float, n: int) -> tuple[int, int]:
    """TFLM QuantizedMeanOrSum: fold 1/n into the in/out multiplier, shift limited to 32 and 31+shift."""
    m, s = quantize_multiplier(real)
    k = min(n.bit_length() - 1, 32, 31 + s)
    return int((m << k) // n), s - k


def _wrap32(a: np.ndarray) -> np.ndarray:
    return ((np.asarray(a, dtype=np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def _const(cx: Lowering, ti: int, name: str, what: str) -> np.ndarray:
    """A constant input's data; lowerings bake these into the C tables, so a run-time value is refused."""
    data = cx.tensors[ti].data
    if data is None:
        raise EdgePPGError(f"{name}: {what} must be constant")
    return data


def _bias_tensor(cx: Lowering, op: Op) -> Tensor | None:
    return cx.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None


# ---- the lowerings ----

def _conv(cx: Lowering, op: Op, name: str) -> Layer:
    """CONV_2D and DEPTHWISE_CONV_2D over one (time) axis; pad-free convs also get conv_opt/dw_opt data."""
    T, em = cx.tensors, cx.em
    tin, tout = T[op.inputs[0]], T[op.outputs[0]]
    tw, tb = T[op.inputs[1]], _bias_tensor(cx, op)
    if tw.data is None:
        raise EdgePPGError(f"{name}: non-constant weights are not supported")
    _check_symmetric(tw, name)
    axis, in_len, k, stride, dil = _conv_axis(tin.shape, tw.shape, op, name)
    out_len = tout.shape[2] if axis == "W" else tout.shape[1]
    in_ch, out_ch = tin.shape[3], tout.shape[3]
    pad = _pad_left(op.options.get("padding", 1), in_len, out_len, k, stride, dil)
    act_min, act_max = activation_range(op.fused_activation, tout.s, tout.zp)
    mults, shifts = _per_channel_mults(tin, tw, tout, out_ch)
    bias = tb.data.astype(np.int64) if tb is not None and tb.data is not None else np.zeros(out_ch, np.int64)
    if tb is not None and tb.dtype != "int32":
        raise EdgePPGError(f"{name}: bias is {tb.dtype}; int8 convs need int32 bias")
    common = dict(in_len=in_len, in_ch=in_ch, out_len=out_len, out_ch=out_ch, kernel=k, stride=stride,
                  dilation=dil, pad_left=pad, in_offset=-tin.zp, out_offset=tout.zp, act_min=act_min,
                  act_max=act_max,
                  bias=em.array("int32_t", "bias", bias) if tb is not None else "0",
                  mult=em.array("int32_t", "mult", mults), shift=em.array("int32_t", "shift", shifts))
    ins, out = [cx.buf(op.inputs[0])], cx.buf(op.outputs[0])
    if op.kind == "CONV_2D":
        w = tw.data.reshape(out_ch, k, in_ch)  # OHWI with the unit axis dropped
        fields = dict(common, w=em.array("int8_t", "w", w))
        if pad == 0 and dil == 1 and (in_len - k) // stride + 1 == out_len:
            w2 = w.reshape(out_ch, k * in_ch)
            fold = bias + (-tin.zp) * w2.astype(np.int64).sum(axis=1)
            fast = _fast_rq(fold, w2, shifts)
            scale = 2 if fast else 1  # fast layers store weights and bias doubled (see rq_fast)
            fields["w16"] = em.opt_array("int16_t", "w16", _widen_interleaved(w2.astype(np.int16) * scale,
                                                                              quads=bool(fast)))
            fields["bias_fold"] = em.opt_array("int32_t", "bfold", _wrap32(fold * scale))
            fields["scratch"] = "EPPG_OPT_DATA(conv_scratch)"
            fields["fast_rq"] = fast
            if fast:
                fields["rqp"] = em.opt_array("int32_t", "rqp", _rq_params(mults, shifts, tout.zp))
            fields["k_padded"] = (k * in_ch + 3) // 4 * 4
            cx.scratch_words = max(cx.scratch_words, fields["k_padded"])
        return Layer("CONV", name, "eppg_conv_t", fields, ins, out, out_len * out_ch * k * in_ch)
    dm = op.options.get("depthMultiplier", 0) or out_ch // in_ch
    if out_ch != in_ch * dm:
        raise EdgePPGError(f"{name}: depthwise out channels {out_ch} != in {in_ch} x multiplier {dm}")
    w = tw.data.reshape(k, out_ch)
    fields = dict(common, depth_mult=dm, w=em.array("int8_t", "w", w))
    if dil == 1 and dm == 1:  # any padding: dw_opt writes it into its scratch rows as the zero point
        fold = bias + (-tin.zp) * w.astype(np.int64).sum(axis=0)
        fast = _fast_rq(fold, w.T, shifts)
        scale = 2 if fast else 1
        fields["bias_fold"] = em.opt_array("int32_t", "bfold", _wrap32(fold * scale))
        fields["fast_rq"] = fast
        fields["w16"] = em.opt_array("uint32_t", "dww16", _dw_tap_pairs(w.astype(np.int64) * scale))
        if fast:
            fields["rqp"] = em.opt_array("int32_t", "rqp", _rq_params(mults, shifts, tout.zp))
        np_ = (k + 1) // 2
        fields["scratch"] = "EPPG_OPT_DATA(dw_scratch)"
        fields["row_words"] = ((out_len - 1) * stride + 2 * np_ + 1) // 2
        cx.dw_scratch_words = max(cx.dw_scratch_words, 4 * fields["row_words"])
    return Layer("DW", name, "eppg_dw_t", fields, ins, out, out_len * out_ch * k)


def _fully_connected(cx: Lowering, op: Op, name: str) -> Layer:
    T, em = cx.tensors, cx.em
    tin, tout = T[op.inputs[0]], T[op.outputs[0]]
    tw, tb = T[op.inputs[1]], _bias_tensor(cx, op)
    if tw.data is None or op.options.get("weightsFormat", 0) != 0:
        raise EdgePPGError(f"{name}: only constant, default-format weights are supported")
    _check_symmetric(tw, name)
    out_n, in_n = tw.shape
    batches = int(np.prod(tin.shape)) // in_n
    per_channel = len(tw.scale) > 1
    mults, shifts = _per_channel_mults(tin, tw, tout, out_n if per_channel else 1)
    act_min, act_max = activation_range(op.fused_activation, tout.s, tout.zp)
    fields = dict(batches=batches, in_n=in_n, out_n=out_n, per_channel=int(per_channel), in_offset=-tin.zp,
                  out_offset=tout.zp, act_min=act_min, act_max=act_max, w=em.array("int8_t", "w", tw.data),
                  bias=em.array("int32_t", "bias", tb.data) if tb is not None and tb.data is not None else "0",
                  mult=em.array("int32_t", "mult", mults), shift=em.array("int32_t", "shift", shifts))
    return Layer("FC", name, "eppg_fc_t", fields, [cx.buf(op.inputs[0])], cx.buf(op.outputs[0]),
                 batches * in_n * out_n)


def _add(cx: Lowering, op: Op, name: str) -> Layer:
    """Elementwise ADD as TFLM computes it; the optimized build reads both inputs through 256-entry tables."""
    T, em = cx.tensors, cx.em
    t1, t2, tout = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
    if t1.shape != t2.shape or int(np.prod(t1.shape)) != int(np.prod(tout.shape)):
        raise EdgePPGError(f"{name}: broadcasting ADD ({list(t1.shape)} + {list(t2.shape)}) is not supported")
    left_shift = 20
    twice_max = 2.0 * float(max(t1.s, t2.s))
    m1, s1 = quantize_multiplier(float(t1.s) / twice_max)
    m2, s2 = quantize_multiplier(float(t2.s) / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left_shift) * float(tout.s)))
    act_min, act_max = activation_range(op.fused_activation, tout.s, tout.zp)
    codes = range(-128, 128)
    lut1 = [mbqm(wrap_int32((c - t1.zp) << left_shift), m1, s1) for c in codes]
    lut2 = [mbqm(wrap_int32((c - t2.zp) << left_shift), m2, s2) for c in codes]
    fast = int(1 <= -so <= 23 and max(map(abs, lut1)) + max(map(abs, lut2)) < (1 << 30))
    if fast:  # stored doubled for rq_fast
        lut1, lut2 = [2 * v for v in lut1], [2 * v for v in lut2]
    fields = dict(n=int(np.prod(tout.shape)), in1_offset=-t1.zp, in2_offset=-t2.zp, left_shift=left_shift,
                  in1_mult=m1, in1_shift=s1, in2_mult=m2, in2_shift=s2, out_mult=mo, out_shift=so,
                  out_offset=tout.zp, act_min=act_min, act_max=act_max,
                  lut1=em.opt_array("int32_t", "lut", lut1), lut2=em.opt_array("int32_t", "lut", lut2), fast_rq=fast,
                  rqp=em.opt_array("int32_t", "rqp", _rq_params([mo], [so], tout.zp)) if fast else "0")
    return Layer("ADD", name, "eppg_add_t", fields, [cx.buf(op.inputs[0]), cx.buf(op.inputs[1])],
                 cx.buf(op.outputs[0]))


def _pad(cx: Lowering, op: Op, name: str) -> Layer:
    T = cx.tensors
    tin, tout = T[op.inputs[0]], T[op.outputs[0]]
    pads = _const(cx, op.inputs[1], name, "paddings").reshape(-1, 2).astype(np.int64)
    rank = len(tin.shape)
    if rank > 4 or pads.min() < 0:
        raise EdgePPGError(f"{name}: PAD of rank {rank} or with negative padding is not supported")
    value = tout.zp
    if op.kind == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(_const(cx, op.inputs[2], name, "PADV2 constant value").reshape(-1)[0])
    ind = [1] * (4 - rank) + list(tin.shape)
    outd = [1] * (4 - rank) + list(tout.shape)
    before = [0] * (4 - rank) + [int(p) for p in pads[:, 0]]
    fields = dict(in_dims="{" + ", ".join(map(str, ind)) + "}", out_dims="{" + ", ".join(map(str, outd)) + "}",
                  before="{" + ", ".join(map(str, before)) + "}", value=value)
    return Layer("PAD", name, "eppg_pad_t", fields, [cx.buf(op.inputs[0])], cx.buf(op.outputs[0]))


def _mean(cx: Lowering, op: Op, name: str) -> Layer:
    T = cx.tensors
    tin, tout = T[op.inputs[0]], T[op.outputs[0]]
    rank = len(tin.shape)
    axes = sorted({int(a) % rank for a in _const(cx, op.inputs[1], name, "MEAN axes").reshape(-1)})
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise EdgePPGError(f"{name}: MEAN over non-contiguous axes {axes} is not supported")
    dims = list(tin.shape)
    outer = int(np.prod(dims[:axes[0]]))
    reduce = int(np.prod(dims[axes[0]:axes[-1] + 1]))
    inner = int(np.prod(dims[axes[-1] + 1:]))
    m, s = _mean_multiplier(float(tin.s) / float(tout.s), reduce)
    fields = dict(outer=outer, reduce=reduce, inner=inner, in_zp=tin.zp, out_zp=tout.zp, mult=m, shift=s)
    return Layer("MEAN", name, "eppg_mean_t", fields, [cx.buf(op.inputs[0])], cx.buf(op.outputs[0]))


def _requant(cx: Lowering, op: Op, name: str) -> Layer:
    """QUANTIZE (int8 -> int8 rescale), RELU and RELU6: one requantize-and-clamp kernel."""
    tin, tout = cx.tensors[op.inputs[0]], cx.tensors[op.outputs[0]]
    m, s = quantize_multiplier(float(tin.s) / float(tout.s))
    act = {"QUANTIZE": "NONE", "RELU": "RELU", "RELU6": "RELU6"}[op.kind]
    act_min, act_max = activation_range(act, tout.s, tout.zp)
    fields = dict(n=int(np.prod(tout.shape)), in_zp=tin.zp, out_zp=tout.zp, mult=m, shift=s,
                  act_min=act_min, act_max=act_max)
    return Layer("REQUANT", name, "eppg_requant_t", fields, [cx.buf(op.inputs[0])], cx.buf(op.outputs[0]))


LOWERINGS = {"PAD": _pad, "PADV2": _pad, "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "ADD": _add, "MEAN": _mean,
             "FULLY_CONNECTED": _fully_connected, "QUANTIZE": _requant, "RELU": _requant, "RELU6": _requant}
SUPPORTED_OPS = ALIAS_OPS + tuple(LOWERINGS)
