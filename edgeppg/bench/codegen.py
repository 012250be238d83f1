"""Generate `model_gen.c/.h` for firmware_harness from an int8 .tflite.

Emits weights, int32 biases, per-channel multipliers/shifts (TFLM Prepare() arithmetic, see graph.py),
a layer table and a static arena plan with buffer reuse: RESHAPE/EXPAND_DIMS/SQUEEZE cost nothing
(they share their input's bytes) and activations whose lifetimes do not overlap share memory.
The optimized (EPPG_OPT) data -- widened, interleaved weights, offset-folded biases, ADD lookup
tables -- is emitted under `#if EPPG_OPT` so the portable build carries none of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeppg.bench.graph import (Graph, Op, Tensor, activation_range, fused_act, is_alias, load_graph,
                                 quantize_multiplier)
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_write_text
from edgeppg.names import c_safe, check_model_name

ARENA_ALIGN = 8  # word loads and LDRD stay aligned


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
class Generated:
    c: str
    h: str
    macs: int
    arena_bytes: int
    input_bytes: int
    output_bytes: list[int]
    layers: list[dict] = field(default_factory=list)
    op_counts: dict = field(default_factory=dict)


class _Emitter:
    """Collects const arrays; `opt=True` arrays go under #if EPPG_OPT."""

    def __init__(self):
        self.arrays: list[tuple[str, bool]] = []
        self.n = 0

    def array(self, ctype: str, stem: str, values, opt: bool = False, per_line: int = 24) -> str:
        name = f"{stem}_{self.n}"
        self.n += 1
        vals = [int(v) for v in np.asarray(values).reshape(-1)]
        lines = [", ".join(str(v) for v in vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
        body = ",\n    ".join(lines) if lines else "0"
        align = " __attribute__((aligned(4)))" if ctype in ("int16_t", "int8_t") else ""
        self.arrays.append((f"static const {ctype} {name}[{max(len(vals), 1)}]{align} = {{\n    {body}\n}};", opt))
        return name


def _f32(x) -> float:
    return float(np.float32(x))


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


# ---- exact int32 helpers for the ADD lookup tables (same arithmetic as eppg_kernels.c) ----

def _i32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _srdhm(a: int, b: int) -> int:
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) >> 31  # truncation toward zero
    return _i32(q if ab + nudge >= 0 else -q)


def _rdbp(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def mbqm(x: int, m: int, shift: int) -> int:
    ls, rs = (shift, 0) if shift > 0 else (0, -shift)
    return _rdbp(_srdhm(_i32(x << ls), m), rs)


def _alias_roots(g: Graph) -> dict[int, int]:
    root = {}
    for op in g.ops:
        if is_alias(op):
            src = op.inputs[0]
            root[op.outputs[0]] = root.get(src, src)
    return root


def generate(tflite_path: str | os.PathLike, model_name: str | None = None,
             gate: tuple[int, int] | None = None) -> Generated:
    g = load_graph(tflite_path)
    T = g.tensors
    root = _alias_roots(g)

    def buf(ti: int) -> int:
        return root.get(ti, ti)

    em = _Emitter()
    layers: list[Layer] = []
    scratch_words = 0
    dw_scratch_words = 0
    op_counts: dict[str, int] = {}
    for op in g.ops:
        op_counts[op.kind] = op_counts.get(op.kind, 0) + 1
        if is_alias(op):
            continue
        name = f"op{op.index}_{op.kind.lower()}"
        tin, tout = T[op.inputs[0]], T[op.outputs[0]]
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            tw = T[op.inputs[1]]
            tb = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
            if tw.data is None:
                raise EdgePPGError(f"{name}: non-constant weights are not supported")
            _check_symmetric(tw, name)
            axis, in_len, k, stride, dil = _conv_axis(tin.shape, tw.shape, op, name)
            out_len = tout.shape[2] if axis == "W" else tout.shape[1]
            in_ch, out_ch = tin.shape[3], tout.shape[3]
            pad = _pad_left(op.options.get("padding", 1), in_len, out_len, k, stride, dil)
            act_min, act_max = activation_range(fused_act(op), tout.s, tout.zp)
            mults, shifts = _per_channel_mults(tin, tw, tout, out_ch)
            bias = tb.data.astype(np.int64) if tb is not None and tb.data is not None else np.zeros(out_ch, np.int64)
            if tb is not None and tb.dtype != "int32":
                raise EdgePPGError(f"{name}: bias is {tb.dtype}; int8 convs need int32 bias")
            common = dict(in_len=in_len, in_ch=in_ch, out_len=out_len, out_ch=out_ch, kernel=k, stride=stride,
                          dilation=dil, pad_left=pad, in_offset=-tin.zp, out_offset=tout.zp, act_min=act_min,
                          act_max=act_max,
                          bias=em.array("int32_t", "bias", bias) if tb is not None else "0",
                          mult=em.array("int32_t", "mult", mults), shift=em.array("int32_t", "shift", shifts))
            pad_free = pad == 0 and dil == 1 and (in_len - k) // stride + 1 == out_len
            if op.kind == "CONV_2D":
                w = tw.data.reshape(out_ch, k, in_ch)  # OHWI with the unit axis dropped
                fields = dict(common, w=em.array("int8_t", "w", w))
                if pad_free:
                    w2 = w.reshape(out_ch, k * in_ch)
                    fold = bias + (-tin.zp) * w2.astype(np.int64).sum(axis=1)
                    fast = _fast_rq(fold, w2, shifts)
                    scale = 2 if fast else 1  # fast layers store weights and bias doubled (see rq_fast)
                    fields["w16"] = "EPPG_OPT_DATA(" + em.array("int16_t", "w16", _widen_interleaved(
                        w2.astype(np.int16) * scale, quads=bool(fast)), opt=True) + ")"
                    fields["bias_fold"] = "EPPG_OPT_DATA(" + em.array("int32_t", "bfold", _wrap32(fold * scale),
                                                                      opt=True) + ")"
                    fields["scratch"] = "EPPG_OPT_DATA(conv_scratch)"
                    fields["fast_rq"] = fast
                    if fast:
                        fields["rqp"] = "EPPG_OPT_DATA(" + em.array("int32_t", "rqp", _rq_params(
                            mults, shifts, tout.zp), opt=True) + ")"
                    fields["k_padded"] = (k * in_ch + 3) // 4 * 4
                    scratch_words = max(scratch_words, fields["k_padded"])
                layers.append(Layer("CONV", name, "eppg_conv_t", fields, [buf(op.inputs[0])], buf(op.outputs[0]),
                                    out_len * out_ch * k * in_ch))
            else:
                dm = op.options.get("depthMultiplier", 0) or out_ch // in_ch
                if out_ch != in_ch * dm:
                    raise EdgePPGError(f"{name}: depthwise out channels {out_ch} != in {in_ch} x multiplier {dm}")
                w = tw.data.reshape(k, out_ch)
                fields = dict(common, depth_mult=dm, w=em.array("int8_t", "w", w))
                if dil == 1 and dm == 1:  # any padding: dw_opt writes it into its scratch rows as the zero point
                    fold = bias + (-tin.zp) * w.astype(np.int64).sum(axis=0)
                    fast = _fast_rq(fold, w.T, shifts)
                    scale = 2 if fast else 1
                    fields["bias_fold"] = "EPPG_OPT_DATA(" + em.array("int32_t", "bfold", _wrap32(fold * scale),
                                                                      opt=True) + ")"
                    fields["fast_rq"] = fast
                    fields["w16"] = "EPPG_OPT_DATA(" + em.array("uint32_t", "dww16", _dw_tap_pairs(w.astype(np.int64) * scale),
                                                                opt=True) + ")"
                    if fast:
                        fields["rqp"] = "EPPG_OPT_DATA(" + em.array("int32_t", "rqp", _rq_params(
                            mults, shifts, tout.zp), opt=True) + ")"
                    np_ = (k + 1) // 2
                    fields["scratch"] = "EPPG_OPT_DATA(dw_scratch)"
                    fields["row_words"] = ((out_len - 1) * stride + 2 * np_ + 1) // 2
                    dw_scratch_words = max(dw_scratch_words, 4 * fields["row_words"])
                layers.append(Layer("DW", name, "eppg_dw_t", fields, [buf(op.inputs[0])], buf(op.outputs[0]),
                                    out_len * out_ch * k))
        elif op.kind == "FULLY_CONNECTED":
            tw = T[op.inputs[1]]
            tb = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
            if tw.data is None or op.options.get("weightsFormat", 0) != 0:
                raise EdgePPGError(f"{name}: only constant, default-format weights are supported")
            _check_symmetric(tw, name)
            out_n, in_n = tw.shape
            batches = int(np.prod(tin.shape)) // in_n
            per_channel = len(tw.scale) > 1
            mults, shifts = _per_channel_mults(tin, tw, tout, out_n if per_channel else 1)
            act_min, act_max = activation_range(fused_act(op), tout.s, tout.zp)
            fields = dict(batches=batches, in_n=in_n, out_n=out_n, per_channel=int(per_channel), in_offset=-tin.zp,
                          out_offset=tout.zp, act_min=act_min, act_max=act_max, w=em.array("int8_t", "w", tw.data),
                          bias=em.array("int32_t", "bias", tb.data) if tb is not None and tb.data is not None else "0",
                          mult=em.array("int32_t", "mult", mults), shift=em.array("int32_t", "shift", shifts))
            layers.append(Layer("FC", name, "eppg_fc_t", fields, [buf(op.inputs[0])], buf(op.outputs[0]),
                                batches * in_n * out_n))
        elif op.kind == "ADD":
            t1, t2 = T[op.inputs[0]], T[op.inputs[1]]
            if t1.shape != t2.shape or int(np.prod(t1.shape)) != int(np.prod(tout.shape)):
                raise EdgePPGError(f"{name}: broadcasting ADD ({list(t1.shape)} + {list(t2.shape)}) is not supported")
            left_shift = 20
            twice_max = 2.0 * float(max(t1.s, t2.s))
            m1, s1 = quantize_multiplier(float(t1.s) / twice_max)
            m2, s2 = quantize_multiplier(float(t2.s) / twice_max)
            mo, so = quantize_multiplier(twice_max / ((1 << left_shift) * float(tout.s)))
            act_min, act_max = activation_range(fused_act(op), tout.s, tout.zp)
            codes = range(-128, 128)
            lut1 = [mbqm(_i32((c - t1.zp) << left_shift), m1, s1) for c in codes]
            lut2 = [mbqm(_i32((c - t2.zp) << left_shift), m2, s2) for c in codes]
            fast = int(1 <= -so <= 23 and max(map(abs, lut1)) + max(map(abs, lut2)) < (1 << 30))
            if fast:  # stored doubled for rq_fast
                lut1, lut2 = [2 * v for v in lut1], [2 * v for v in lut2]
            fields = dict(n=int(np.prod(tout.shape)), in1_offset=-t1.zp, in2_offset=-t2.zp, left_shift=left_shift,
                          in1_mult=m1, in1_shift=s1, in2_mult=m2, in2_shift=s2, out_mult=mo, out_shift=so,
                          out_offset=tout.zp, act_min=act_min, act_max=act_max,
                          lut1="EPPG_OPT_DATA(" + em.array("int32_t", "lut", lut1, opt=True) + ")",
                          lut2="EPPG_OPT_DATA(" + em.array("int32_t", "lut", lut2, opt=True) + ")", fast_rq=fast,
                          rqp=("EPPG_OPT_DATA(" + em.array("int32_t", "rqp", _rq_params([mo], [so], tout.zp), opt=True)
                               + ")") if fast else "0")
            layers.append(Layer("ADD", name, "eppg_add_t", fields, [buf(op.inputs[0]), buf(op.inputs[1])],
                                buf(op.outputs[0])))
        elif op.kind in ("PAD", "PADV2"):
            pads = T[op.inputs[1]].data
            if pads is None:
                raise EdgePPGError(f"{name}: paddings must be constant")
            pads = pads.reshape(-1, 2).astype(np.int64)
            rank = len(tin.shape)
            if rank > 4 or pads.min() < 0:
                raise EdgePPGError(f"{name}: PAD of rank {rank} or with negative padding is not supported")
            value = tout.zp
            if op.kind == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
                cv = T[op.inputs[2]].data
                if cv is None:
                    raise EdgePPGError(f"{name}: PADV2 constant value must be constant")
                value = int(cv.reshape(-1)[0])
            ind = [1] * (4 - rank) + list(tin.shape)
            outd = [1] * (4 - rank) + list(tout.shape)
            before = [0] * (4 - rank) + [int(p) for p in pads[:, 0]]
            fields = dict(in_dims="{" + ", ".join(map(str, ind)) + "}", out_dims="{" + ", ".join(map(str, outd)) + "}",
                          before="{" + ", ".join(map(str, before)) + "}", value=value)
            layers.append(Layer("PAD", name, "eppg_pad_t", fields, [buf(op.inputs[0])], buf(op.outputs[0])))
        elif op.kind == "MEAN":
            axes = T[op.inputs[1]].data
            if axes is None:
                raise EdgePPGError(f"{name}: MEAN axes must be constant")
            rank = len(tin.shape)
            axes = sorted({int(a) % rank for a in axes.reshape(-1)})
            if axes != list(range(axes[0], axes[-1] + 1)):
                raise EdgePPGError(f"{name}: MEAN over non-contiguous axes {axes} is not supported")
            dims = list(tin.shape)
            outer = int(np.prod(dims[:axes[0]]))
            reduce = int(np.prod(dims[axes[0]:axes[-1] + 1]))
            inner = int(np.prod(dims[axes[-1] + 1:]))
            m, s = _mean_multiplier(float(tin.s) / float(tout.s), reduce)
            fields = dict(outer=outer, reduce=reduce, inner=inner, in_zp=tin.zp, out_zp=tout.zp, mult=m, shift=s)
            layers.append(Layer("MEAN", name, "eppg_mean_t", fields, [buf(op.inputs[0])], buf(op.outputs[0])))
        elif op.kind in ("QUANTIZE", "RELU", "RELU6"):
            m, s = quantize_multiplier(float(tin.s) / float(tout.s))
            act = {"QUANTIZE": "NONE", "RELU": "RELU", "RELU6": "RELU6"}[op.kind]
            act_min, act_max = activation_range(act, tout.s, tout.zp)
            fields = dict(n=int(np.prod(tout.shape)), in_zp=tin.zp, out_zp=tout.zp, mult=m, shift=s,
                          act_min=act_min, act_max=act_max)
            layers.append(Layer("REQUANT", name, "eppg_requant_t", fields, [buf(op.inputs[0])], buf(op.outputs[0])))
        else:  # load_graph already rejected anything else
            raise EdgePPGError(f"{name}: no lowering for {op.kind}")

    # ---- arena plan: lifetimes over the layer sequence, greedy first-fit by size ----
    n_layers = len(layers)
    in_buf = buf(g.inputs[0])
    if len(g.inputs) != 1:
        raise EdgePPGError(f"model has {len(g.inputs)} inputs; the harness feeds exactly one")
    out_bufs = [buf(o) for o in g.outputs]
    life: dict[int, list[int]] = {in_buf: [-1, -1]}
    for i, L in enumerate(layers):
        for b in L.inputs:
            if b not in life:
                raise EdgePPGError(f"{L.name}: reads a tensor no earlier layer wrote")
            life[b][1] = max(life[b][1], i)
        life.setdefault(L.output, [i, i])
    for b in out_bufs:
        life[b][1] = n_layers  # outputs stay readable after invoke
    size = {b: _align(T[b].nbytes) for b in life}
    offsets: dict[int, int] = {}
    for b in sorted(life, key=lambda b: (-size[b], life[b][0])):
        lo, hi = life[b]
        busy = sorted((offsets[o], offsets[o] + size[o]) for o in offsets
                      if not (life[o][1] < lo or life[o][0] > hi))
        off = 0
        for s, e in busy:
            if off + size[b] <= s:
                break
            off = max(off, e)
        offsets[b] = off
    # + slack: conv_opt reads each receptive field rounded up to 4 bytes (the extra taps weigh zero)
    arena = max((offsets[b] + size[b] for b in offsets), default=0) + 4

    macs = sum(L.macs for L in layers)
    name = check_model_name(model_name, "manifest model.name") if model_name else c_safe(Path(tflite_path).stem)
    tin = T[g.inputs[0]]
    out_bytes = [T[o].nbytes for o in g.outputs]
    return Generated(_emit_c(em, layers, offsets, arena, name, macs, in_buf, tin.nbytes, out_bufs, out_bytes,
                             scratch_words, dw_scratch_words),
                     _emit_h(name, macs, arena, tin.nbytes, out_bytes, len(layers), gate), macs, arena, tin.nbytes, out_bytes,
                     [dict(name=L.name, kind=L.kind, macs=L.macs, out_bytes=T[L.output].nbytes) for L in layers],
                     op_counts)


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


def _align(n: int) -> int:
    return (n + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN


def _c_str(s: str) -> str:
    return '"' + c_safe(s) + '"'


def _gate_defines(gate: tuple[int, int] | None) -> str:
    """Signal-quality gate in firmware: HR is reported valid only when the rhythm head's argmax is not noise."""
    if gate is None:
        return ""
    return f"#define EPPG_GATE_OUTPUT {gate[0]}u /* rhythm logits: output tensor index */\n" \
           f"#define EPPG_GATE_NOISE_CLASS {gate[1]}u /* HR invalid when argmax == noise */\n"


def _emit_h(name, macs, arena, in_bytes, out_bytes, n_layers, gate=None) -> str:
    return f"""/* Generated by edgeppg.bench.codegen from {c_safe(name)}.tflite -- do not edit. */
#ifndef EPPG_MODEL_GEN_H
#define EPPG_MODEL_GEN_H

#include "eppg_runtime.h"

#define EPPG_MODEL_NAME {_c_str(name)}
#define EPPG_MODEL_MACS {macs}u
#define EPPG_ARENA_BYTES {arena}u
#define EPPG_INPUT_BYTES {in_bytes}u
#define EPPG_NUM_OUTPUTS {len(out_bytes)}u
#define EPPG_MAX_OUTPUT_BYTES {max(out_bytes)}u
#define EPPG_NUM_LAYERS {n_layers}u
{_gate_defines(gate)}
#endif
"""


def _emit_c(em, layers, offsets, arena, name, macs, in_buf, in_bytes, out_bufs, out_bytes, scratch_words,
            dw_scratch_words=0) -> str:
    out = [f"/* Generated by edgeppg.bench.codegen from {c_safe(name)}.tflite -- do not edit.",
           f" * {len(layers)} layers, {macs} MACs, arena {arena} bytes. */",
           '#include "model_gen.h"', "",
           "#if EPPG_OPT", "#define EPPG_OPT_DATA(x) (x)",
           f"static uint32_t conv_scratch[{max(scratch_words, 1)}]; /* widened input rows for conv_opt */",
           *([f"static uint32_t dw_scratch[{dw_scratch_words}]; /* 4 channels' padded int16 rows for dw_opt */"]
             if dw_scratch_words else []),
           "#else", "#define EPPG_OPT_DATA(x) 0", "#endif", ""]
    for text, opt in em.arrays:
        out += (["#if EPPG_OPT", text, "#endif"] if opt else [text])
    out.append("")
    for i, L in enumerate(layers):
        body = ",\n    ".join(f".{k} = {v}" for k, v in L.fields.items())
        out.append(f"static const {L.ctype} p{i} = {{\n    {body}\n}};")
    out += ["", f"static int8_t arena[{max(arena, 8)}] __attribute__((aligned({ARENA_ALIGN})));", "",
            "static const eppg_layer_t layers[] = {"]
    for i, L in enumerate(layers):
        in1 = offsets[L.inputs[1]] if len(L.inputs) > 1 else 0
        out.append(f"    {{EPPG_L_{L.kind}, &p{i}, {offsets[L.inputs[0]]}u, {in1}u, {offsets[L.output]}u, "
                   f"{L.macs}u, \"{L.name}\"}},")
    out += ["};", "",
            "static const uint32_t output_offsets[] = {" + ", ".join(f"{offsets[b]}u" for b in out_bufs) + "};",
            "static const uint32_t output_bytes[] = {" + ", ".join(f"{n}u" for n in out_bytes) + "};", "",
            "const eppg_model_t eppg_model = {",
            f"    .name = EPPG_MODEL_NAME, .macs = EPPG_MODEL_MACS, .arena_bytes = EPPG_ARENA_BYTES,",
            f"    .input_bytes = EPPG_INPUT_BYTES, .num_layers = EPPG_NUM_LAYERS, .num_outputs = EPPG_NUM_OUTPUTS,",
            f"    .layers = layers, .arena = arena, .input_offset = {offsets[in_buf]}u,",
            "    .output_offsets = output_offsets, .output_bytes = output_bytes,", "};", ""]
    return "\n".join(out)


def write_model(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, model_name: str | None = None,
                gate: tuple[int, int] | None = None) -> Generated:
    """gate: (rhythm output index, noise class index) from the manifest, or None for no quality gate."""
    gen = generate(tflite_path, model_name, gate)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "model_gen.c", gen.c)
    atomic_write_text(out_dir / "model_gen.h", gen.h)
    return gen
