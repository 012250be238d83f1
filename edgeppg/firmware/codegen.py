"""Generate `model_gen.c/.h` for firmware_harness from an int8 .tflite: check, lower each op, plan the arena, emit.

Weights, int32 biases, per-channel multipliers/shifts (TFLM Prepare() arithmetic) and a layer table come from
the per-op lowerings in `lower.py`; RESHAPE/EXPAND_DIMS/SQUEEZE cost nothing (they share their input's bytes);
`arena.py` lets activations whose lifetimes do not overlap share memory. The optimized (EPPG_OPT) data --
widened, interleaved weights, offset-folded biases, ADD lookup tables -- is emitted under `#if EPPG_OPT`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from edgeppg.errors import EdgePPGError
from edgeppg.firmware import arena
from edgeppg.firmware.emit import emit_c, emit_h
from edgeppg.firmware.lower import ALIAS_OPS, LOWERINGS, SUPPORTED_OPS, Layer, Lowering
from edgeppg.int8.flatbuffer import Graph, load_graph
from edgeppg.io import atomic_write_text
from edgeppg.names import c_safe, check_model_name


@dataclass
class Generated:
    c: str
    h: str
    macs: int
    arena_bytes: int  # the generated firmware's static arena (this planner), not TFLM's
    input_bytes: int
    output_bytes: list[int]
    layers: list[dict] = field(default_factory=list)
    op_counts: dict = field(default_factory=dict)


def check_graph(g: Graph, where: str) -> None:
    """What the generator and harness support: one subgraph, known ops, int8 activations and I/O, one input."""
    if g.subgraphs != 1:
        raise EdgePPGError(f"{where}: {g.subgraphs} subgraphs; the firmware generator supports exactly 1")
    for op in g.ops:
        if op.kind not in SUPPORTED_OPS:
            raise EdgePPGError(f"{where}: op {op.index} is {op.kind}, which the firmware generator does not support "
                               f"(supported: {', '.join(SUPPORTED_OPS)})")
    for ti in g.inputs + g.outputs:
        t = g.tensors[ti]
        if t.dtype != "int8":
            raise EdgePPGError(f"{where}: model {'input' if ti in g.inputs else 'output'} {t.name!r} is {t.dtype}; "
                               "the firmware path needs a full-integer model with int8 input and output "
                               "(converter: inference_input_type=inference_output_type=tf.int8)")
    for op in g.ops:
        for ti in op.inputs[:1] + op.outputs:
            if g.tensors[ti].dtype != "int8":
                raise EdgePPGError(f"{where}: op {op.index} ({op.kind}) has a {g.tensors[ti].dtype} activation "
                                   f"{g.tensors[ti].name!r}; only int8 activations are supported")


def load_firmware_graph(tflite_path: str | os.PathLike) -> Graph:
    """The .tflite parsed and checked against what the firmware generator supports (errors name the op)."""
    g = load_graph(tflite_path)
    check_graph(g, str(tflite_path))
    return g


def _alias_roots(g: Graph) -> dict[int, int]:
    root = {}
    for op in g.ops:
        if op.kind in ALIAS_OPS:
            src = op.inputs[0]
            root[op.outputs[0]] = root.get(src, src)
    return root


def generate(tflite_path: str | os.PathLike, model_name: str | None = None,
             gate: tuple[int, int] | None = None) -> Generated:
    g = load_firmware_graph(tflite_path)
    if len(g.inputs) != 1:
        raise EdgePPGError(f"model has {len(g.inputs)} inputs; the harness feeds exactly one")
    T = g.tensors
    cx = Lowering(T, _alias_roots(g))
    layers: list[Layer] = []
    op_counts: dict[str, int] = {}
    for op in g.ops:
        op_counts[op.kind] = op_counts.get(op.kind, 0) + 1
        if op.kind not in ALIAS_OPS:
            layers.append(LOWERINGS[op.kind](cx, op, f"op{op.index}_{op.kind.lower()}"))

    in_buf, out_bufs = cx.buf(g.inputs[0]), [cx.buf(o) for o in g.outputs]
    offsets, arena_bytes = arena.plan(layers, lambda b: T[b].nbytes, in_buf, out_bufs)
    macs = sum(L.macs for L in layers)
    name = check_model_name(model_name, "manifest model.name") if model_name else c_safe(Path(tflite_path).stem)
    in_bytes = T[g.inputs[0]].nbytes
    out_bytes = [T[o].nbytes for o in g.outputs]
    return Generated(emit_c(cx.em, layers, offsets, arena_bytes, name, macs, in_buf, out_bufs, out_bytes,
                            cx.scratch_words, cx.dw_scratch_words),
                     emit_h(name, macs, arena_bytes, in_bytes, out_bytes, len(layers), gate), macs, arena_bytes,
                     in_bytes, out_bytes,
                     [dict(name=L.name, kind=L.kind, macs=L.macs, out_bytes=T[L.output].nbytes) for L in layers],
                     op_counts)


def write_model(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, model_name: str | None = None,
                gate: tuple[int, int] | None = None) -> Generated:
    """gate: (rhythm output index, noise class index) from the manifest, or None for no quality gate."""
    gen = generate(tflite_path, model_name, gate)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "model_gen.c", gen.c)
    atomic_write_text(out_dir / "model_gen.h", gen.h)
    return gen
